//! `analyze` end to end: corpus → statements → stance → aggregate → outputs, streaming.
//!
//! Documents are read and processed in chunks (a bounded number of statements at a time), so
//! memory does not grow with the corpus: statements go to disk as soon as they are scored, and
//! the aggregator keeps only running sums and a few evidence statements per actor. Actor names
//! are merged across the corpus at the end, so `statements.jsonl` is first written with each
//! document's own names (`statements.jsonl.partial`) and then rewritten, line by line, with the
//! corpus names.

use crate::aggregate::{rename, Aggregated, Aggregator};
use crate::corpus::{CorpusError, CorpusReader};
use crate::infer::{score_all, Batching};
use crate::lexicon::{ActorTable, Lexicon};
use crate::model::{ModelError, Pair, StanceModel};
use crate::report::{actors_json, report_md, write_atomic, ReportError, RunCounts};
use crate::statements::{prepare, DocStatements, Statement};
use rayon::prelude::*;
use std::io::{BufRead, BufWriter, Write};
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
    pub batching: Batching,
    /// Statements scored per chunk (bounds memory).
    pub chunk_statements: usize,
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
    pub seconds: f64,
    pub model_seconds: f64,
    pub out: PathBuf,
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

/// Runs the whole pipeline and writes `statements.jsonl`, `actors.json` and `report.md` in
/// `opts.out`.
pub fn analyze(
    opts: &AnalyzeOptions,
    model: &dyn StanceModel,
    lex: &Lexicon,
    actors: &ActorTable,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<AnalyzeSummary, RunError> {
    let t0 = std::time::Instant::now();
    std::fs::create_dir_all(&opts.out).map_err(|e| RunError::Io {
        path: opts.out.clone(),
        source: std::io::Error::new(
            e.kind(),
            format!("cannot create the output directory ({e}); choose another --out"),
        ),
    })?;
    let partial = opts.out.join("statements.jsonl.partial");
    let mut w = BufWriter::new(std::fs::File::create(&partial).map_err(io(&partial))?);
    let mut reader = CorpusReader::open(&opts.inputs, opts.skip_bad)?;
    let mut agg = Aggregator::new();
    let mut model_seconds = 0.0;
    let (mut n_docs, mut n_statements) = (0usize, 0usize);
    loop {
        // Read a chunk of documents, bounded by statements (and by documents for tiny ones).
        let mut chunk = Vec::new();
        let mut chunk_len = 0usize;
        while chunk_len < opts.chunk_statements && chunk.len() < 4096 {
            match reader.next() {
                None => break,
                Some(doc) => {
                    let doc = doc?;
                    chunk_len += doc.text.len() / 120 + 1; // rough sentences, refined below
                    chunk.push(doc);
                }
            }
        }
        if chunk.is_empty() {
            break;
        }
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
        for d in &docs {
            for s in &d.statements {
                serde_json::to_writer(&mut w, s).expect("plain records serialise");
                w.write_all(b"\n").map_err(io(&partial))?;
            }
            agg.add(d);
        }
    }
    w.flush().map_err(io(&partial))?;
    drop(w);
    let input = reader.stats().clone();
    let result = agg.finish();
    finalize_statements(&partial, &opts.out.join("statements.jsonl"), &result)?;
    let counts = RunCounts {
        input,
        totals: result.totals.clone(),
    };
    let name = model.name();
    write_atomic(
        &opts.out.join("actors.json"),
        actors_json(&opts.target, &name, &counts, &result).as_bytes(),
    )?;
    write_atomic(
        &opts.out.join("report.md"),
        report_md(&opts.target, &name, &counts, &result).as_bytes(),
    )?;
    Ok(AnalyzeSummary {
        counts,
        model: name,
        seconds: t0.elapsed().as_secs_f64(),
        model_seconds,
        out: opts.out.clone(),
    })
}

/// Rewrites the partial statements with corpus-level actor names, then renames into place.
fn finalize_statements(
    partial: &Path,
    final_path: &Path,
    agg: &Aggregated,
) -> Result<(), RunError> {
    let tmp = final_path.with_extension("jsonl.tmp");
    {
        let r = std::io::BufReader::new(std::fs::File::open(partial).map_err(io(partial))?);
        let mut w = BufWriter::new(std::fs::File::create(&tmp).map_err(io(&tmp))?);
        for line in r.lines() {
            let line = line.map_err(io(partial))?;
            let mut s: Statement = serde_json::from_str(&line).expect("written by this run");
            rename(&mut s, &agg.renames);
            serde_json::to_writer(&mut w, &s).expect("plain records serialise");
            w.write_all(b"\n").map_err(io(&tmp))?;
        }
        w.flush().map_err(io(&tmp))?;
    }
    std::fs::rename(&tmp, final_path).map_err(io(final_path))?;
    std::fs::remove_file(partial).map_err(io(partial))?;
    Ok(())
}
