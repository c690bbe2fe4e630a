//! `analyze` end to end: corpus → statements → stance → aggregate → outputs, streaming,
//! resumable and shardable.
//!
//! Documents are read and processed in chunks (a bounded number of statements at a time), so
//! memory does not grow with the corpus: each chunk's statements and document records are
//! appended to the shard directory (see [`crate::shard`]) as soon as they are scored, and the
//! aggregator keeps only its actor groups. After a chunk (at most every `checkpoint_secs`), the
//! files are synced and a checkpoint records their lengths and the aggregator, so a run killed
//! at any moment resumes (`resume`) from the last checkpoint: the files are cut back to it,
//! documents before it are read but not processed again, and the outputs come out as from an
//! uninterrupted run. A sharded run stops at its shard directory; a whole run is merged
//! ([`crate::merge`]) into the final files, and its shard directory removed.

use crate::aggregate::Aggregator;
use crate::corpus::{input_fingerprint, CorpusError, CorpusReader, ReadOptions};
use crate::infer::{score_all, Batching};
use crate::lexicon::{ActorTable, Lexicon};
use crate::model::{ModelError, Pair, StanceModel};
use crate::report::{write_atomic, ReportError, RunCounts};
use crate::shard::{Checkpoint, RunSettings, ShardFiles, ShardMeta, ShardSpec, FORMAT};
use crate::statements::{prepare, DocStatements};
use rayon::prelude::*;
use std::io::{BufWriter, Seek, Write};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Corpus(#[from] CorpusError),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Report(#[from] ReportError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A shard directory or checkpoint that cannot be used as it is.
    #[error("{path}: {message}")]
    State { path: PathBuf, message: String },
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> RunError + '_ {
    move |e| RunError::Io {
        path: path.to_path_buf(),
        source: e,
    }
}

#[derive(Debug, Clone)]
pub struct AnalyzeOptions {
    pub inputs: Vec<PathBuf>,
    pub out: PathBuf,
    pub target: String,
    pub skip_bad: bool,
    /// Largest document accepted, in bytes.
    pub max_doc_bytes: usize,
    pub batching: Batching,
    /// Statements scored per chunk (bounds memory).
    pub chunk_statements: usize,
    /// This run's share of the documents; `None` for all of them, merged into `out`.
    pub shard: Option<ShardSpec>,
    /// Continue from the checkpoint in the shard directory, if there is one.
    pub resume: bool,
    /// Least time between checkpoints (0: after every chunk).
    pub checkpoint_secs: f64,
    /// Hash of the actor table and lexicon (for [`RunSettings::data`]).
    pub data_fingerprint: String,
}

impl AnalyzeOptions {
    /// A whole run with the defaults: stop at bad input, batches of 32 within 2,048 tokens,
    /// chunks of 4,096 statements, checkpoints every 30 s, the built-in actor table and lexicon.
    pub fn new(inputs: Vec<PathBuf>, out: PathBuf, target: &str) -> AnalyzeOptions {
        AnalyzeOptions {
            inputs,
            out,
            target: target.to_string(),
            skip_bad: false,
            max_doc_bytes: crate::corpus::DEFAULT_MAX_DOC_BYTES,
            batching: Batching {
                batch_size: 32,
                max_batch_tokens: 2048,
                parallel_batches: false,
            },
            chunk_statements: 4096,
            shard: None,
            resume: false,
            checkpoint_secs: 30.0,
            data_fingerprint: "builtin".into(),
        }
    }
}

/// What a progress display is told.
#[derive(Debug, Clone, Copy)]
pub enum Progress {
    /// Documents read so far, statements found so far.
    Read { documents: usize, statements: usize },
    /// Statements scored (increment).
    Scored(usize),
}

#[derive(Debug, Clone)]
pub struct AnalyzeSummary {
    pub counts: RunCounts,
    pub model: String,
    /// This process's time (a resumed run: since the resume).
    pub seconds: f64,
    pub model_seconds: f64,
    /// Where the outputs are: `out`, or the shard directory for a sharded run.
    pub out: PathBuf,
    /// Documents before the resume point (0 without `--resume`).
    pub resumed_at: u64,
    /// Whether the shard was already complete (`--resume` had nothing to do).
    pub already_complete: bool,
}

impl AnalyzeSummary {
    pub fn statements_per_second(&self) -> f64 {
        self.counts.totals.statements as f64 / self.seconds.max(1e-9)
    }
}

/// Scores the statements of a chunk of documents in place.
pub fn score_documents(
    model: &dyn StanceModel,
    docs: &mut [DocStatements],
    target: &str,
    batching: Batching,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<(), ModelError> {
    let texts: Vec<String> = docs
        .iter()
        .flat_map(|d| d.statements.iter().map(|s| s.model_text(&d.doc.text)))
        .collect();
    let pairs: Vec<Pair> = texts.iter().map(|t| Pair { text: t, target }).collect();
    let scores = score_all(model, &pairs, batching, progress)?;
    let mut it = scores.into_iter();
    for d in docs.iter_mut() {
        for s in d.statements.iter_mut() {
            let sc = it.next().expect("one score per statement");
            s.stance = Some(sc.label());
            s.scores = Some(sc);
        }
    }
    Ok(())
}

/// Runs the whole pipeline. Without a shard, writes `statements.jsonl`, `documents.jsonl`,
/// `actors.json` and `report.md` in `opts.out`; with one, the shard directory
/// `opts.out/shard-I-of-N` for [`crate::merge::merge`].
pub fn analyze(
    opts: &AnalyzeOptions,
    model: &dyn StanceModel,
    lex: &Lexicon,
    actors: &ActorTable,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<AnalyzeSummary, RunError> {
    std::fs::create_dir_all(&opts.out).map_err(|e| RunError::Io {
        path: opts.out.clone(),
        source: std::io::Error::new(
            e.kind(),
            format!("cannot create the output directory ({e}); choose another --out"),
        ),
    })?;
    let shard = opts.shard.unwrap_or(ShardSpec::WHOLE);
    let dir = opts.out.join(shard.dir_name());
    let mut summary = run_shard(opts, shard, &dir, model, lex, actors, progress)?;
    if opts.shard.is_none() {
        let m = crate::merge::merge(std::slice::from_ref(&dir), &opts.out)?;
        summary.counts = m.counts;
        std::fs::remove_dir_all(&dir).map_err(io(&dir))?;
    } else {
        summary.out = dir;
    }
    Ok(summary)
}

/// The settings that decide this run's outputs.
fn settings(
    opts: &AnalyzeOptions,
    shard: ShardSpec,
    model: &dyn StanceModel,
) -> Result<RunSettings, RunError> {
    Ok(RunSettings {
        format: FORMAT,
        version: env!("CARGO_PKG_VERSION").to_string(),
        target: opts.target.clone(),
        model: model.name(),
        shard,
        skip_bad: opts.skip_bad,
        max_doc_bytes: opts.max_doc_bytes,
        chunk_statements: opts.chunk_statements,
        batch_size: opts.batching.batch_size,
        max_batch_tokens: opts.batching.max_batch_tokens,
        data: opts.data_fingerprint.clone(),
        inputs: input_fingerprint(&opts.inputs)?,
    })
}

fn read_state<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>, RunError> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| RunError::State {
                path: path.to_path_buf(),
                message: format!("unreadable ({e}); run without --resume to start over"),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io(path)(e)),
    }
}

fn json_bytes<T: serde::Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).expect("plain records serialise")
}

/// Opens a shard stream for appending, cut back to `len` bytes.
fn open_at(path: &Path, len: u64) -> Result<BufWriter<std::fs::File>, RunError> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(false)
        .open(path)
        .map_err(io(path))?;
    let have = f.metadata().map_err(io(path))?.len();
    if have < len {
        return Err(RunError::State {
            path: path.to_path_buf(),
            message: format!(
                "holds {have} bytes, less than the {len} its checkpoint counts; run without --resume to start over"
            ),
        });
    }
    f.set_len(len).map_err(io(path))?;
    f.seek(std::io::SeekFrom::Start(len)).map_err(io(path))?;
    Ok(BufWriter::with_capacity(1 << 20, f))
}

/// Flushes a stream to disk and returns its length.
fn sync(w: &mut BufWriter<std::fs::File>, path: &Path) -> Result<u64, RunError> {
    w.flush().map_err(io(path))?;
    let f = w.get_ref();
    f.sync_data().map_err(io(path))?;
    Ok(f.metadata().map_err(io(path))?.len())
}

/// Processes one shard into its directory, from its checkpoint when resuming.
fn run_shard(
    opts: &AnalyzeOptions,
    shard: ShardSpec,
    dir: &Path,
    model: &dyn StanceModel,
    lex: &Lexicon,
    actors: &ActorTable,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<AnalyzeSummary, RunError> {
    let t0 = std::time::Instant::now();
    let settings = settings(opts, shard, model)?;
    let files = ShardFiles::new(dir);
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let mismatch = |path: PathBuf, theirs: &RunSettings| -> Result<(), RunError> {
        let diff = settings.differences(theirs, false);
        if diff.is_empty() {
            return Ok(());
        }
        Err(RunError::State {
            path,
            message: format!(
                "was made with other settings ({}); run without --resume to start over, or with the same settings",
                diff.join("; ")
            ),
        })
    };
    let mut start: Option<Checkpoint> = None;
    if opts.resume {
        if settings.inputs.is_none() {
            return Err(RunError::State {
                path: dir.to_path_buf(),
                message: "--resume needs file inputs: standard input cannot be read again".into(),
            });
        }
        if let Some(meta) = read_state::<ShardMeta>(&files.meta())? {
            mismatch(files.meta(), &meta.settings)?;
            tracing::info!("{}: already complete", dir.display());
            return Ok(AnalyzeSummary {
                counts: RunCounts {
                    input: meta.input,
                    totals: meta.totals,
                },
                model: model.name(),
                seconds: t0.elapsed().as_secs_f64(),
                model_seconds: 0.0,
                out: dir.to_path_buf(),
                resumed_at: 0,
                already_complete: true,
            });
        }
        start = read_state::<Checkpoint>(&files.checkpoint())?;
        match &start {
            Some(cp) => {
                mismatch(files.checkpoint(), &cp.settings)?;
                tracing::info!(
                    "{}: resuming at document {}",
                    dir.display(),
                    cp.next_ordinal
                );
            }
            None => tracing::info!(
                "{}: no checkpoint; starting from the beginning",
                dir.display()
            ),
        }
    } else {
        for p in [files.meta(), files.checkpoint(), files.aggregate()] {
            match std::fs::remove_file(&p) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(&p)(e)),
                _ => {}
            }
        }
    }
    let (resume_at, st_len, doc_len, mut agg, prior_secs, mut model_seconds) = match start {
        Some(cp) => (
            cp.next_ordinal,
            cp.statements_bytes,
            cp.documents_bytes,
            Aggregator::from_partial(cp.partial),
            cp.seconds,
            cp.model_seconds,
        ),
        None => (0, 0, 0, Aggregator::new(), 0.0, 0.0),
    };
    let (st_path, doc_path) = (files.statements(), files.documents());
    let mut sw = open_at(&st_path, st_len)?;
    let mut dw = open_at(&doc_path, doc_len)?;
    let mut reader = CorpusReader::open_with(
        &opts.inputs,
        ReadOptions {
            skip_bad: opts.skip_bad,
            max_doc_bytes: opts.max_doc_bytes,
        },
    )?;
    let mut last_checkpoint = std::time::Instant::now();
    let mut next_ordinal = 0u64;
    let (mut n_docs, mut n_statements) = (0usize, 0usize);
    loop {
        // Read a chunk of this shard's documents, bounded by statements (and by documents for
        // tiny ones). The same documents make the same chunks on a resume.
        let mut chunk = Vec::new();
        let mut chunk_len = 0usize;
        while chunk_len < opts.chunk_statements && chunk.len() < 4096 {
            let Some(doc) = reader.next() else { break };
            let doc = doc?;
            let ordinal = next_ordinal;
            next_ordinal += 1;
            if !shard.takes(ordinal) || ordinal < resume_at {
                continue;
            }
            chunk_len += doc.text.len() / 120 + 1; // rough sentences
            chunk.push((ordinal, doc));
        }
        if chunk.is_empty() {
            break;
        }
        let (ordinals, chunk): (Vec<u64>, Vec<_>) = chunk.into_iter().unzip();
        let mut docs: Vec<DocStatements> = chunk
            .into_par_iter()
            .map(|d| prepare(d, &opts.target, lex, actors))
            .collect();
        n_docs += docs.len();
        n_statements += docs.iter().map(|d| d.statements.len()).sum::<usize>();
        progress(Progress::Read {
            documents: n_docs,
            statements: n_statements,
        });
        let tm = std::time::Instant::now();
        score_documents(model, &mut docs, &opts.target, opts.batching, &|n| {
            progress(Progress::Scored(n))
        })?;
        model_seconds += tm.elapsed().as_secs_f64();
        for (d, &ordinal) in docs.iter().zip(&ordinals) {
            if d.statements.is_empty() {
                tracing::info!(
                    "document {:?} has no statements (empty or no words)",
                    d.doc.id
                );
            }
            for s in &d.statements {
                serde_json::to_writer(&mut sw, s).expect("plain records serialise");
                sw.write_all(b"\n").map_err(io(&st_path))?;
            }
            let entry = agg.add(d, ordinal);
            serde_json::to_writer(&mut dw, &entry).expect("plain records serialise");
            dw.write_all(b"\n").map_err(io(&doc_path))?;
        }
        if last_checkpoint.elapsed().as_secs_f64() >= opts.checkpoint_secs {
            let cp = Checkpoint {
                settings: settings.clone(),
                next_ordinal,
                statements_bytes: sync(&mut sw, &st_path)?,
                documents_bytes: sync(&mut dw, &doc_path)?,
                partial: agg.partial().clone(),
                seconds: prior_secs + t0.elapsed().as_secs_f64(),
                model_seconds,
            };
            write_atomic(&files.checkpoint(), &json_bytes(&cp))?;
            last_checkpoint = std::time::Instant::now();
        }
    }
    sync(&mut sw, &st_path)?;
    sync(&mut dw, &doc_path)?;
    drop((sw, dw));
    let input = reader.stats().clone();
    let partial = agg.into_partial();
    let meta = ShardMeta {
        settings,
        input: input.clone(),
        totals: partial.totals.clone(),
        seconds: prior_secs + t0.elapsed().as_secs_f64(),
        model_seconds,
    };
    write_atomic(&files.aggregate(), &json_bytes(&partial))?;
    write_atomic(&files.meta(), &json_bytes(&meta))?;
    match std::fs::remove_file(files.checkpoint()) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(io(&files.checkpoint())(e))
        }
        _ => {}
    }
    Ok(AnalyzeSummary {
        counts: RunCounts {
            input,
            totals: partial.totals,
        },
        model: model.name(),
        seconds: t0.elapsed().as_secs_f64(),
        model_seconds,
        out: opts.out.clone(),
        resumed_at: resume_at,
        already_complete: false,
    })
}
