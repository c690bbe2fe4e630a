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
use crate::shard::{
    Checkpoint, RunSettings, ShardFiles, ShardMeta, ShardSpec, StreamState, FORMAT,
};
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
    /// The inputs hold no document at all (every shard of them would be empty).
    #[error("no documents in {inputs} ({files} files read, {skipped} bad lines or documents skipped, {unreadable} unreadable files); give .txt files or .jsonl files with one {{\"id\",\"text\"}} object per line")]
    NoDocuments {
        inputs: String,
        files: usize,
        skipped: usize,
        unreadable: usize,
    },
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
    /// The stance targets (at least one): statements are read, segmented and attributed once
    /// and scored against each.
    pub targets: Vec<String>,
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
    /// Documents shown in full (with every statement) in `report.html`.
    pub html_documents: usize,
}

/// Documents shown in full in `report.html` unless told otherwise (the rest are counted, and
/// are in `documents.jsonl` and `statements.csv`).
pub const DEFAULT_HTML_DOCUMENTS: usize = 200;

impl AnalyzeOptions {
    /// A whole run with the defaults: stop at bad input, batches of 32 within 2,048 tokens,
    /// chunks of 4,096 statements, checkpoints every 30 s, the built-in actor table and lexicon.
    pub fn new(inputs: Vec<PathBuf>, out: PathBuf, target: &str) -> AnalyzeOptions {
        AnalyzeOptions {
            inputs,
            out,
            targets: vec![target.to_string()],
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
            html_documents: DEFAULT_HTML_DOCUMENTS,
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
    /// The merged result of a whole run (per target).
    pub merged: Option<crate::merge::Merged>,
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
        let m = crate::merge::merge(std::slice::from_ref(&dir), &opts.out, opts.html_documents)?;
        summary.counts = m.counts.clone();
        summary.merged = Some(m);
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
        targets: opts.targets.clone(),
        model: model.name(),
        shard,
        skip_bad: opts.skip_bad,
        max_doc_bytes: opts.max_doc_bytes,
        chunk_statements: opts.chunk_statements,
        batch_size: opts.batching.batch_size,
        max_batch_tokens: opts.batching.max_batch_tokens,
        data: opts.data_fingerprint.clone(),
        inputs: input_fingerprint(&opts.inputs)?,
        trust: opts
            .targets
            .iter()
            .map(|t| crate::model::trust_line(model.quality().as_ref(), t))
            .collect(),
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
                    totals: meta.totals.into_iter().next().unwrap_or_default(),
                },
                model: model.name(),
                seconds: t0.elapsed().as_secs_f64(),
                model_seconds: 0.0,
                out: dir.to_path_buf(),
                resumed_at: 0,
                already_complete: true,
                merged: None,
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
    let n_targets = opts.targets.len();
    let (resume_at, prior_secs, mut model_seconds, mut states) = match start {
        Some(cp) if cp.streams.len() == n_targets => (
            cp.next_ordinal,
            cp.seconds,
            cp.model_seconds,
            cp.streams.into_iter().map(Some).collect(),
        ),
        Some(_) => {
            return Err(RunError::State {
                path: files.checkpoint(),
                message: "holds another number of targets; run without --resume to start over"
                    .into(),
            })
        }
        None => (0, 0.0, 0.0, vec![None; n_targets]),
    };
    // Per target: its two streams, cut back to the checkpoint, and its aggregator.
    let mut streams = Vec::with_capacity(n_targets);
    for (t, state) in states.iter_mut().enumerate() {
        let tf = files.target(t, n_targets);
        std::fs::create_dir_all(&tf.dir).map_err(io(&tf.dir))?;
        let state = state.take();
        let (st_len, doc_len) = state
            .as_ref()
            .map_or((0, 0), |s| (s.statements_bytes, s.documents_bytes));
        let agg = state.map_or_else(Aggregator::new, |s| Aggregator::from_partial(s.partial));
        streams.push(TargetStreams {
            statements: open_at(&tf.statements(), st_len)?,
            documents: open_at(&tf.documents(), doc_len)?,
            files: tf,
            agg,
        });
    }
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
        // Segmentation and attribution once, for every target.
        let mut docs: Vec<DocStatements> = chunk
            .into_par_iter()
            .map(|d| prepare(d, &opts.targets[0], lex, actors))
            .collect();
        n_docs += docs.len();
        n_statements += docs.iter().map(|d| d.statements.len()).sum::<usize>() * n_targets;
        progress(Progress::Read {
            documents: n_docs,
            statements: n_statements,
        });
        for d in &docs {
            if d.statements.is_empty() {
                tracing::info!(
                    "document {:?} has no statements (empty or no words)",
                    d.doc.id
                );
            }
        }
        for (target, ts) in opts.targets.iter().zip(&mut streams) {
            for d in &mut docs {
                for s in &mut d.statements {
                    if &s.target != target {
                        s.target = target.clone();
                    }
                }
            }
            let tm = std::time::Instant::now();
            score_documents(model, &mut docs, target, opts.batching, &|n| {
                progress(Progress::Scored(n))
            })?;
            model_seconds += tm.elapsed().as_secs_f64();
            ts.write(&docs, &ordinals)?;
        }
        if last_checkpoint.elapsed().as_secs_f64() >= opts.checkpoint_secs {
            let mut states = Vec::with_capacity(n_targets);
            for ts in &mut streams {
                states.push(StreamState {
                    statements_bytes: sync(&mut ts.statements, &ts.files.statements())?,
                    documents_bytes: sync(&mut ts.documents, &ts.files.documents())?,
                    partial: ts.agg.partial().clone(),
                });
            }
            let cp = Checkpoint {
                settings: settings.clone(),
                next_ordinal,
                streams: states,
                seconds: prior_secs + t0.elapsed().as_secs_f64(),
                model_seconds,
            };
            write_atomic(&files.checkpoint(), &json_bytes(&cp))?;
            last_checkpoint = std::time::Instant::now();
        }
    }
    let mut totals = Vec::with_capacity(n_targets);
    for mut ts in streams {
        sync(&mut ts.statements, &ts.files.statements())?;
        sync(&mut ts.documents, &ts.files.documents())?;
        let partial = ts.agg.into_partial();
        write_atomic(&ts.files.aggregate(), &json_bytes(&partial))?;
        totals.push(partial.totals);
    }
    let input = reader.stats();
    // Every shard reads the whole input, so an empty shard of a non-empty corpus passes here.
    if input.documents == 0 {
        return Err(RunError::NoDocuments {
            inputs: opts
                .inputs
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            files: input.files,
            skipped: input.skipped,
            unreadable: input.files_unreadable,
        });
    }
    let meta = ShardMeta {
        settings,
        input: input.clone(),
        totals: totals.clone(),
        seconds: prior_secs + t0.elapsed().as_secs_f64(),
        model_seconds,
    };
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
            totals: totals.into_iter().next().unwrap_or_default(),
        },
        model: model.name(),
        seconds: t0.elapsed().as_secs_f64(),
        model_seconds,
        out: opts.out.clone(),
        resumed_at: resume_at,
        already_complete: false,
        merged: None,
    })
}

/// One target's output streams and aggregator in a shard.
struct TargetStreams {
    files: ShardFiles,
    statements: BufWriter<std::fs::File>,
    documents: BufWriter<std::fs::File>,
    agg: Aggregator,
}

impl TargetStreams {
    /// Appends a scored chunk: its statements, and each document's entry.
    fn write(&mut self, docs: &[DocStatements], ordinals: &[u64]) -> Result<(), RunError> {
        let (sp, dp) = (self.files.statements(), self.files.documents());
        for (d, &ordinal) in docs.iter().zip(ordinals) {
            for s in &d.statements {
                serde_json::to_writer(&mut self.statements, s).map_err(|e| io(&sp)(e.into()))?;
                self.statements.write_all(b"\n").map_err(io(&sp))?;
            }
            let entry = self.agg.add(d, ordinal);
            serde_json::to_writer(&mut self.documents, &entry).map_err(|e| io(&dp)(e.into()))?;
            self.documents.write_all(b"\n").map_err(io(&dp))?;
        }
        Ok(())
    }
}
