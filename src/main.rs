//! The `standpoint` command line: a thin layer over the library. Errors go to stderr with exit
//! code 2; results go to files (`analyze`) or stdout (`classify`, `eval`, `statements`).

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use standpoint::infer::{Batching, Threads};
use standpoint::lexicon::{ActorTable, Lexicon};
use standpoint::model::cross::Backend;
use standpoint::model::load::{load, ModelSpec};
use standpoint::model::native::Precision;
use standpoint::model::{DeviceKind, Pair, StanceModel};
use std::io::{BufRead, IsTerminal, Write};
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::process::ExitCode;

/// Who stands where on a target in a news corpus: statements, speakers, stance, per-actor reports.
/// Writes to standard output and returns the error (a closed pipe) instead of panicking as
/// `print!` does; `main` ends quietly with success on a broken pipe.
macro_rules! out {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        write!(std::io::stdout().lock(), $($t)*)
    }};
}

/// [`out!`] with a newline.
macro_rules! outln {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($t)*)
    }};
}

#[derive(Parser)]
#[command(name = "standpoint", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Analyse a corpus: statements.jsonl, documents.jsonl, actors.json and report.md in --out
    /// (or, with --shard, one shard's share for `merge`).
    Analyze(AnalyzeArgs),
    /// Merge the shards of a sharded `analyze` into statements.jsonl, documents.jsonl,
    /// actors.json and report.md: the same files a single run gives.
    Merge(MergeArgs),
    /// Compare two runs (two periods, two models): which actors' stances changed, shifted,
    /// appeared or went.
    Diff(DiffArgs),
    /// Label JSONL {"id","text","target"?} from stdin; writes {"id","label","scores"} to stdout.
    Classify(ClassifyArgs),
    /// Score a model on labelled JSONL {"id","text","target","label"}.
    Eval(EvalArgs),
    /// Print a corpus's statements with their speakers as JSONL, without a stance model (names are
    /// merged within each document; `analyze` also merges them across the corpus).
    Statements(StatementsArgs),
    /// Fine-tune the encoder as a stance cross-encoder on labelled JSONL; writes a model
    /// directory that --model loads.
    Train(TrainArgs),
    /// Re-fit a trained model's calibration (NONE bias and temperature) on labelled JSONL and
    /// rewrite its standpoint.json.
    Calibrate(CalibrateArgs),
    /// Train a frozen-encoder stance head (the v1 default; a baseline) on labelled JSONL.
    TrainHead(TrainHeadArgs),
    /// Measure inference throughput over a grid of backends, precisions, batch sizes and thread
    /// arrangements: statements/s, tokens/s, GFLOP/s, batch latency, peak memory.
    Bench(BenchArgs),
}

#[derive(Args, Clone)]
struct ModelArgs {
    /// `default` (all-MiniLM-L6-v2 + built-in stance head), a hub repo id of a zero-shot NLI
    /// cross-encoder (BERT, DeBERTa-v2/v3, XLM-RoBERTa, ModernBERT), or a local model directory.
    #[arg(long, env = "STANDPOINT_MODEL", default_value = "default")]
    model: String,
    /// Hub revision (branch, tag or commit) of --model.
    #[arg(long, env = "STANDPOINT_REVISION")]
    revision: Option<String>,
    /// Never use the network; use the hub cache only (also HF_HUB_OFFLINE=1).
    #[arg(long)]
    offline: bool,
    /// NLI hypothesis template, `{}` for the target; repeat to average several.
    #[arg(long = "hypothesis")]
    hypotheses: Vec<String>,
    /// Stance head directory (stance-head.safetensors + stance-head.json) for the default encoder.
    #[arg(long, env = "STANDPOINT_HEAD")]
    head: Option<PathBuf>,
    /// Device.
    #[arg(long, value_enum, default_value = "cpu", env = "STANDPOINT_DEVICE")]
    device: DeviceKind,
    /// Forward pass of standpoint cross-encoders (the default model, `train` directories):
    /// `native` (standpoint's CPU code, the default on CPU) or `candle` (candle-transformers'
    /// BertModel, the default on a GPU).
    #[arg(long, value_enum, env = "STANDPOINT_BACKEND")]
    backend: Option<Backend>,
    /// Weight precision of the native backend: f32; bf16 (AMX tiles or AVX512-BF16 dot products
    /// where the CPU has them); or int8 (weights per output channel, activations per row,
    /// integer products on AMX tiles or AVX512-VNNI where the CPU has them, else AVX2 or an exact
    /// integer loop; each
    /// layer's input channels in groups by size, found at load time, each with its own range).
    #[arg(long, value_enum, default_value = "f32", env = "STANDPOINT_PRECISION")]
    precision: Precision,
    /// Statements per batch (sorted by length, padded to the batch's longest).
    #[arg(long, default_value_t = NonZeroUsize::new(32).unwrap(), env = "STANDPOINT_BATCH_SIZE")]
    batch_size: NonZeroUsize,
    /// Most padded tokens per batch (statements × longest): long statements go in smaller
    /// batches, which bounds memory; 0 for no limit.
    #[arg(long, default_value_t = 2048, env = "STANDPOINT_MAX_BATCH_TOKENS")]
    max_batch_tokens: usize,
    /// CPU threads in all (default: all cores).
    #[arg(long, env = "STANDPOINT_THREADS")]
    threads: Option<NonZeroUsize>,
    /// Batches run at once; each gets threads/workers threads (default: one single-threaded
    /// worker per thread on CPU, which is fastest for small models; 1 on a GPU).
    #[arg(long, env = "STANDPOINT_WORKERS")]
    workers: Option<NonZeroUsize>,
}

impl ModelArgs {
    fn spec(&self) -> ModelSpec {
        ModelSpec {
            model: self.model.clone(),
            revision: self.revision.clone(),
            offline: self.offline,
            hypotheses: self.hypotheses.clone(),
            head: self.head.clone(),
            device: self.device,
            backend: self.backend,
            precision: self.precision,
        }
    }

    fn threads(&self) -> Threads {
        let cores = all_cores();
        let workers = if self.device == DeviceKind::Cpu {
            self.workers.map(NonZeroUsize::get)
        } else {
            Some(1)
        };
        Threads::for_cpu(self.threads.map_or(cores, NonZeroUsize::get), workers)
    }

    fn batching(&self) -> Batching {
        Batching {
            batch_size: self.batch_size.get(),
            max_batch_tokens: self.max_batch_tokens,
            parallel_batches: self.threads().workers > 1,
        }
    }
}

#[derive(Args)]
struct AnalyzeArgs {
    #[command(flatten)]
    corpus: CorpusArgs,
    /// Output directory.
    #[arg(long, short, default_value = "out")]
    out: PathBuf,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
    /// Process only shard I of N (0-based): the documents whose position in the input is I
    /// modulo N, into OUT/shard-I-of-N for `standpoint merge`. Without it, taken from a Slurm
    /// job array (SLURM_ARRAY_TASK_ID, SLURM_ARRAY_TASK_COUNT) or a Kubernetes Indexed Job
    /// (JOB_COMPLETION_INDEX with STANDPOINT_SHARD_COUNT) when those are set.
    #[arg(long, value_name = "I/N")]
    shard: Option<String>,
    /// Continue an interrupted run from its last checkpoint (a complete shard is left as it is).
    #[arg(long)]
    resume: bool,
    /// Seconds between checkpoints (0: after every chunk).
    #[arg(long, default_value_t = 30.0, value_name = "SECS")]
    checkpoint_every: f64,
    /// Statements per chunk: what is read, scored and written at a time (bounds memory).
    #[arg(long, default_value_t = NonZeroUsize::new(4096).unwrap())]
    chunk_statements: NonZeroUsize,
    /// Documents shown in full (every statement) in report.html; the others are counted there.
    #[arg(long, default_value_t = standpoint::run::DEFAULT_HTML_DOCUMENTS)]
    html_documents: usize,
    #[command(flatten)]
    model: ModelArgs,
}

#[derive(Args)]
struct DiffArgs {
    /// The earlier (or reference) run's output directory.
    before: PathBuf,
    /// The later (or other) run's output directory.
    after: PathBuf,
    /// Also list the actors whose stance stayed the same.
    #[arg(long)]
    all: bool,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct MergeArgs {
    /// Shard directories (shard-I-of-N), or directories that hold them.
    #[arg(required = true)]
    shards: Vec<PathBuf>,
    /// Output directory.
    #[arg(long, short, default_value = "out")]
    out: PathBuf,
    /// Documents shown in full (every statement) in report.html; the others are counted there.
    #[arg(long, default_value_t = standpoint::run::DEFAULT_HTML_DOCUMENTS)]
    html_documents: usize,
}

#[derive(Args)]
struct ClassifyArgs {
    /// Target for lines without their own "target".
    #[arg(long, default_value = "NATO enlargement")]
    target: String,
    /// Skip bad lines (malformed JSON, missing or wrong-typed fields), label the others, and
    /// name the skipped lines on stderr.
    #[arg(long)]
    skip_bad: bool,
    #[command(flatten)]
    model: ModelArgs,
}

#[derive(Args)]
struct EvalArgs {
    /// Labelled JSONL files ({"id","text","target","label"}); each is scored separately.
    #[arg(long, required = true, num_args = 1..)]
    data: Vec<PathBuf>,
    /// Target for lines without their own "target".
    #[arg(long)]
    target: Option<String>,
    /// Print JSON instead of tables.
    #[arg(long)]
    json: bool,
    /// Show targets with at least this many examples in the table.
    #[arg(long, default_value_t = 20)]
    min_per_target: usize,
    #[command(flatten)]
    model: ModelArgs,
}

#[derive(Args)]
struct TrainHeadArgs {
    /// Labelled training JSONL ({"id","text","target","label"}); a seeded share is held out for
    /// early stopping and the temperature.
    #[arg(long, required = true, num_args = 1..)]
    data: Vec<PathBuf>,
    /// Labelled JSONL scored after training and recorded in the head's metadata (never trained on).
    #[arg(long, num_args = 1..)]
    eval: Vec<PathBuf>,
    /// Directory for stance-head.safetensors and stance-head.json.
    #[arg(long, default_value = "models")]
    out: PathBuf,
    #[arg(long, default_value_t = 40)]
    epochs: usize,
    /// Stop after this many epochs without a better held-out macro-F1.
    #[arg(long, default_value_t = 6)]
    patience: usize,
    #[arg(long, default_value_t = 1e-3)]
    lr: f64,
    #[arg(long, default_value_t = 256)]
    hidden: usize,
    #[arg(long, default_value_t = 0.2)]
    dropout: f32,
    #[arg(long, default_value_t = 64)]
    batch_size: usize,
    #[arg(long, default_value_t = 0.1)]
    held_out: f32,
    #[arg(long, default_value_t = 17)]
    seed: u64,
    /// Synthetic NONE pairs per training row and epoch: a statement paired with a target from
    /// another training file.
    #[arg(long, default_value_t = 0.1)]
    none_pairs: f32,
    /// Norm of the Gaussian noise added to target embeddings in training.
    #[arg(long, default_value_t = 1.0)]
    target_noise: f32,
    /// Weight the loss by inverse class frequency.
    #[arg(long)]
    class_balanced: bool,
    /// CPU threads (default: all cores).
    #[arg(long)]
    threads: Option<NonZeroUsize>,
    /// Hub revision of the encoder.
    #[arg(long)]
    revision: Option<String>,
    #[arg(long)]
    offline: bool,
}

#[derive(Args)]
struct TrainArgs {
    /// Labelled training JSONL ({"id","text","target","label"}); each file is a source for
    /// balancing.
    #[arg(long, required = true, num_args = 1..)]
    train: Vec<PathBuf>,
    /// Labelled development JSONL, scored after every epoch (never trained on); the first one
    /// picks the epoch and calibrates the scores.
    #[arg(long, required = true, num_args = 1..)]
    dev: Vec<PathBuf>,
    /// Output model directory (standpoint.json + delta.safetensors; checkpoints/ per epoch).
    #[arg(long)]
    out: PathBuf,
    /// Start from `default` (the built-in model) or a model directory, instead of the bare base
    /// encoder: fine-tunes the default on your domain.
    #[arg(long)]
    init: Option<String>,
    /// Top encoder layers to train (0: the classifier only; all-MiniLM-L6-v2 has 6).
    #[arg(long, default_value_t = 2)]
    train_layers: usize,
    #[arg(long, default_value_t = 3)]
    epochs: usize,
    /// Peak learning rate of the encoder layers.
    #[arg(long, default_value_t = 5e-5)]
    lr: f64,
    /// Peak learning rate of the classifier.
    #[arg(long, default_value_t = 1e-3)]
    head_lr: f64,
    /// Share of the steps for linear warm-up (then linear decay).
    #[arg(long, default_value_t = 0.1)]
    warmup: f32,
    #[arg(long, default_value_t = 0.01)]
    weight_decay: f64,
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    /// Batches per optimiser step (gradient accumulation).
    #[arg(long, default_value_t = 1)]
    accumulate: usize,
    /// Longest (target, statement) pair in tokens.
    #[arg(long, default_value_t = 128)]
    max_tokens: usize,
    #[arg(long, default_value_t = 0.1)]
    dropout: f32,
    #[arg(long, default_value_t = 17)]
    seed: u64,
    /// Do not weight labels equally within each source.
    #[arg(long)]
    no_class_balance: bool,
    /// Do not weight sources (training files) equally.
    #[arg(long)]
    no_source_balance: bool,
    /// At most this many rows per source (a seeded sample, drawn once before training).
    #[arg(long)]
    max_per_source: Option<usize>,
    /// Synthetic NONE pairs per training row: a statement paired with another file's target.
    #[arg(long, default_value_t = 0.1)]
    none_pairs: f32,
    /// Fit the NONE bias and the temperature on the first --dev file only (default: half on it,
    /// half on the mean of the others).
    #[arg(long)]
    calibrate_on_first: bool,
    /// Development sets, by position in --dev (0 = the first), whose mean macro-F1 picks the
    /// epoch, e.g. `--select 0,1` for the main target and an unseen-topic set.
    #[arg(long, value_delimiter = ',', default_value = "0")]
    select: Vec<usize>,
    /// Rows per epoch, drawn with an equal share per training file from the whole of each file
    /// (a large file is walked through over the epochs, a small one repeated). Default: every
    /// row once per epoch, files balanced by loss weights.
    #[arg(long)]
    rows_per_epoch: Option<usize>,
    /// Precision of the saved delta.
    #[arg(long, value_parser = ["f16", "f32"], default_value = "f16")]
    dtype: String,
    /// Number format of the encoder layers' matrix products while training: f32, or bf16
    /// (operands rounded to bfloat16, sums in f32, on AMX tiles or AVX512-BF16 where the CPU
    /// has them; weights, gradients and the optimiser stay f32). int8 is refused.
    #[arg(long, value_enum, default_value_t = Precision::F32)]
    precision: Precision,
    /// CPU threads (default: all cores).
    #[arg(long)]
    threads: Option<NonZeroUsize>,
    #[arg(long)]
    offline: bool,
}

#[derive(Args)]
struct CalibrateArgs {
    /// A model directory written by `standpoint train`.
    #[arg(long)]
    model: PathBuf,
    /// Labelled development JSONL; the first is the main target (see --calibrate-on-first).
    #[arg(long, required = true, num_args = 1..)]
    dev: Vec<PathBuf>,
    /// Fit on the first --dev file only (default: half on it, half on the mean of the others).
    #[arg(long)]
    calibrate_on_first: bool,
    #[arg(long)]
    offline: bool,
    /// CPU threads (default: all cores).
    #[arg(long)]
    threads: Option<NonZeroUsize>,
}

#[derive(Args)]
struct StatementsArgs {
    #[command(flatten)]
    corpus: CorpusArgs,
}

/// The corpus, the target and the attribution data, shared by `analyze` and `statements`.
#[derive(Args)]
struct CorpusArgs {
    /// .txt files (one article each), .jsonl files (id, text, title?, date?, source?, url?),
    /// directories of them, or - for JSONL on stdin.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// The stance target; repeat for several (each statement is scored against each, and the
    /// reads, segmentation and attribution are shared).
    #[arg(long, default_value = "NATO enlargement", env = "STANDPOINT_TARGET")]
    target: Vec<String>,
    /// Skip bad documents (malformed JSON, missing text, duplicate ids, invalid UTF-8) and count
    /// them instead of stopping.
    #[arg(long)]
    skip_bad: bool,
    /// Largest document accepted (a JSONL line or a .txt file), in bytes; larger ones are bad
    /// input.
    #[arg(long, default_value_t = standpoint::corpus::DEFAULT_MAX_DOC_BYTES)]
    max_doc_bytes: usize,
    /// Actor table (aliases, metonymy); default: the built-in models/actors.toml.
    #[arg(long)]
    actors: Option<PathBuf>,
    /// Attribution word lists; default: the built-in models/lexicon.toml.
    #[arg(long)]
    lexicon: Option<PathBuf>,
}

#[derive(Args)]
struct BenchArgs {
    /// Corpus inputs whose statements are benchmarked (as `analyze` reads them); or --statements.
    inputs: Vec<PathBuf>,
    /// JSONL with a "text" field per line (for example a run's statements.jsonl) instead of a
    /// corpus.
    #[arg(long)]
    statements: Option<PathBuf>,
    /// The stance target paired with every statement.
    #[arg(long, default_value = "NATO enlargement")]
    target: String,
    /// Use at most this many statements (the first ones).
    #[arg(long, default_value_t = 2000)]
    limit: usize,
    /// Batch sizes to try, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "32")]
    batch_sizes: Vec<usize>,
    /// Thread arrangements to try, WORKERSxTHREADS comma-separated (2x1: two single-threaded
    /// workers; 1x2: one worker on two threads). Default: one single-threaded worker per core.
    #[arg(long, value_delimiter = ',')]
    arrangements: Vec<String>,
    /// Precisions to try (native backend), comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "f32")]
    precisions: Vec<Precision>,
    /// Backends to try, comma-separated (bf16 runs on native only).
    #[arg(long, value_delimiter = ',', default_value = "native")]
    backends: Vec<Backend>,
    /// Untimed passes over all statements before timing.
    #[arg(long, default_value_t = 1)]
    warmup: usize,
    /// Timed passes; the figures are medians over them.
    #[arg(long, default_value_t = 5)]
    reps: usize,
    /// Most padded tokens per batch; 0 for no limit (batches of exactly --batch-sizes).
    #[arg(long, default_value_t = 0)]
    max_batch_tokens: usize,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Internal: run one cell of the grid in this process (BACKEND,PRECISION,BATCH,WORKERS,THREADS).
    #[arg(long, hide = true)]
    cell: Option<String>,
    /// Model to load (as for analyze).
    #[arg(long, env = "STANDPOINT_MODEL", default_value = "default")]
    model: String,
    #[arg(long)]
    revision: Option<String>,
    #[arg(long)]
    offline: bool,
    #[arg(long = "hypothesis")]
    hypotheses: Vec<String>,
    #[arg(long)]
    head: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "cpu")]
    device: DeviceKind,
}

/// The cell a `bench --cell` child runs, parsed before threads are configured.
fn bench_cell(a: &BenchArgs) -> Result<Option<standpoint::bench::Cell>> {
    let Some(c) = &a.cell else { return Ok(None) };
    let f: Vec<&str> = c.split(',').collect();
    if f.len() != 5 {
        bail!("--cell takes BACKEND,PRECISION,BATCH,WORKERS,THREADS, got {c:?}");
    }
    let num = |s: &str| -> Result<usize> {
        s.parse::<usize>()
            .ok()
            .filter(|&n| n > 0)
            .with_context(|| format!("--cell: {s:?} is not a positive number"))
    };
    Ok(Some(standpoint::bench::Cell {
        backend: f[0].into(),
        precision: f[1].into(),
        batch_size: num(f[2])?,
        max_batch_tokens: a.max_batch_tokens,
        workers: num(f[3])?,
        threads_per_worker: num(f[4])?,
    }))
}

fn parse_arrangement(s: &str) -> Result<(usize, usize)> {
    let (w, t) = s
        .split_once(['x', 'X'])
        .with_context(|| format!("--arrangements: {s:?} is not WORKERSxTHREADS (e.g. 2x1)"))?;
    match (w.trim().parse::<usize>(), t.trim().parse::<usize>()) {
        (Ok(w), Ok(t)) if w > 0 && t > 0 => Ok((w, t)),
        _ => bail!("--arrangements: {s:?} is not WORKERSxTHREADS with positive numbers"),
    }
}

/// Reads the texts to benchmark: a JSONL file's "text" fields, or a corpus's statements as the
/// model reads them.
fn bench_texts(a: &BenchArgs) -> Result<Vec<String>> {
    let mut texts = Vec::new();
    if let Some(path) = &a.statements {
        let f = std::fs::File::open(path).with_context(|| format!("{}", path.display()))?;
        for (i, line) in std::io::BufReader::new(f).lines().enumerate() {
            let line = line.with_context(|| format!("{}:{}", path.display(), i + 1))?;
            if line.trim().is_empty() {
                continue;
            }
            let v: serde_json::Value = serde_json::from_str(&line).with_context(|| {
                format!(
                    "{}:{}: not JSON; expected {{\"text\": ...}} per line",
                    path.display(),
                    i + 1
                )
            })?;
            let Some(t) = v.get("text").and_then(|t| t.as_str()) else {
                bail!("{}:{}: no \"text\" string", path.display(), i + 1);
            };
            texts.push(t.to_string());
            if texts.len() >= a.limit {
                break;
            }
        }
    } else {
        if a.inputs.is_empty() {
            bail!("bench needs corpus inputs or --statements FILE.jsonl");
        }
        let lex = Lexicon::builtin();
        let act = ActorTable::builtin();
        let reader = standpoint::corpus::CorpusReader::open(&a.inputs, false)?;
        'docs: for doc in reader {
            let ds = standpoint::statements::prepare(doc?, &a.target, &lex, &act);
            for s in &ds.statements {
                texts.push(s.model_text(&ds.doc.text));
                if texts.len() >= a.limit {
                    break 'docs;
                }
            }
        }
    }
    if texts.is_empty() {
        bail!("nothing to benchmark: the input has no statements");
    }
    Ok(texts)
}

fn bench(a: BenchArgs) -> Result<()> {
    if let Some(cell) = bench_cell(&a)? {
        // Child: one cell, one JSON line on stdout.
        let texts = bench_texts(&a)?;
        let spec = ModelSpec {
            model: a.model.clone(),
            revision: a.revision.clone(),
            offline: a.offline,
            hypotheses: a.hypotheses.clone(),
            head: a.head.clone(),
            device: a.device,
            backend: Some(
                Backend::from_str(&cell.backend, true)
                    .map_err(|e| anyhow::anyhow!("--cell backend: {e}"))?,
            ),
            precision: Precision::from_str(&cell.precision, true)
                .map_err(|e| anyhow::anyhow!("--cell precision: {e}"))?,
        };
        let model = load(&spec)?;
        let pairs: Vec<Pair> = texts
            .iter()
            .map(|t| Pair {
                text: t,
                target: &a.target,
            })
            .collect();
        let batching = Batching {
            batch_size: cell.batch_size,
            max_batch_tokens: cell.max_batch_tokens,
            parallel_batches: cell.workers > 1,
        };
        let m =
            standpoint::bench::measure(model.as_ref(), &pairs, batching, a.warmup, a.reps.max(1))?;
        let r = standpoint::bench::CellResult::new(cell, model.name(), &m);
        outln!("{}", serde_json::to_string(&r)?)?;
        return Ok(());
    }
    // Parent: the statements once, then one child process per cell.
    let texts = bench_texts(&a)?;
    let tmp = tempfile_path("bench-statements.jsonl");
    {
        let mut w = std::io::BufWriter::new(
            std::fs::File::create(&tmp).with_context(|| format!("{}", tmp.display()))?,
        );
        for t in &texts {
            serde_json::to_writer(&mut w, &serde_json::json!({ "text": t }))?;
            w.write_all(b"\n")?;
        }
        w.flush()?;
    }
    let arrangements: Vec<(usize, usize)> = if a.arrangements.is_empty() {
        vec![(all_cores(), 1)]
    } else {
        a.arrangements
            .iter()
            .map(|s| parse_arrangement(s))
            .collect::<Result<_>>()?
    };
    let exe = std::env::current_exe().context("cannot find the standpoint executable")?;
    let mut results = Vec::new();
    let result = (|| -> Result<()> {
        for backend in &a.backends {
            for precision in &a.precisions {
                if *backend == Backend::Candle && *precision != Precision::F32 {
                    continue;
                }
                for &bs in &a.batch_sizes {
                    for &(w, t) in &arrangements {
                        let cell = format!(
                            "{},{},{},{},{}",
                            backend.as_str(),
                            precision.as_str(),
                            bs.max(1),
                            w,
                            t
                        );
                        eprintln!("bench: {cell} ...");
                        let mut cmd = std::process::Command::new(&exe);
                        cmd.arg("bench")
                            .arg("--statements")
                            .arg(&tmp)
                            .args(["--target", &a.target, "--cell", &cell])
                            .args([
                                "--warmup",
                                &a.warmup.to_string(),
                                "--reps",
                                &a.reps.to_string(),
                            ])
                            .args(["--max-batch-tokens", &a.max_batch_tokens.to_string()])
                            .args(["--limit", &texts.len().to_string(), "--model", &a.model])
                            .args(["--device", &format!("{:?}", a.device).to_lowercase()])
                            .stdin(std::process::Stdio::null())
                            .stderr(std::process::Stdio::inherit());
                        if let Some(r) = &a.revision {
                            cmd.args(["--revision", r]);
                        }
                        if a.offline {
                            cmd.arg("--offline");
                        }
                        if let Some(h) = &a.head {
                            cmd.arg("--head").arg(h);
                        }
                        for h in &a.hypotheses {
                            cmd.args(["--hypothesis", h]);
                        }
                        let out = cmd.output().context("cannot run a bench child process")?;
                        if !out.status.success() {
                            bail!("bench cell {cell} failed ({})", out.status);
                        }
                        let line = String::from_utf8_lossy(&out.stdout);
                        let r: standpoint::bench::CellResult = serde_json::from_str(line.trim())
                            .with_context(|| format!("bench cell {cell} printed no result"))?;
                        results.push(r);
                    }
                }
            }
        }
        Ok(())
    })();
    let _ = std::fs::remove_file(&tmp);
    result?;
    if a.json {
        let cpu = std::fs::read_to_string("/proc/cpuinfo").ok().and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        });
        let doc = serde_json::json!({
            "model": results.first().map(|r| r.model.clone()),
            "target": a.target,
            "statements": texts.len(),
            "warmup": a.warmup,
            "reps": a.reps,
            "machine": { "cpu": cpu, "cores": all_cores(), "avx512bf16": standpoint::model::bf16::native_bf16(), "amx_bf16": standpoint::model::bf16::amx_in_use(), "amx_int8": standpoint::model::int8::amx_int8(), "avx512vnni": standpoint::model::int8::vnni(), "int8_avx2": standpoint::model::int8::avx2() },
            "flops": "2 x multiply-adds of the encoder's dense layers and attention over the real tokens; embeddings, normalisation, activations and the classifier not counted",
            "results": results,
        });
        outln!("{}", serde_json::to_string_pretty(&doc)?)?;
    } else {
        if let Some(r) = results.first() {
            outln!("model: {}", r.model)?;
            outln!(
                "{} statements ({} tokens), target {:?}; {} warm-up + {} timed passes; medians; ratio to the first row",
                r.statements, r.tokens, a.target, a.warmup, a.reps
            )?;
        }
        out!("{}", standpoint::bench::table(&results))?;
        outln!("GFLOP/s: 2 x multiply-adds of dense layers and attention over real tokens; padded/s: tokens computed on, padding included (native packs real tokens)")?;
    }
    Ok(())
}

/// A fresh path in the temporary directory for this process.
fn tempfile_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("standpoint-{}-{name}", std::process::id()))
}

/// Every core this process may use.
fn all_cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Threads first: RAYON_NUM_THREADS and the global pool must be set before any thread starts.
    let threads = match &cli.command {
        Command::Analyze(a) => Some(a.model.threads()),
        Command::Classify(a) => Some(a.model.threads()),
        Command::Eval(a) => Some(a.model.threads()),
        Command::Calibrate(a) => Some(Threads::for_cpu(
            a.threads.map_or_else(all_cores, NonZeroUsize::get),
            Some(1),
        )),
        // Training runs one batch at a time: every thread goes to its matrix products.
        Command::Train(a) => Some(Threads::for_cpu(
            a.threads.map_or_else(all_cores, NonZeroUsize::get),
            Some(1),
        )),
        Command::TrainHead(a) => Some(Threads::for_cpu(
            a.threads.map_or_else(all_cores, NonZeroUsize::get),
            None,
        )),
        Command::Statements(_) | Command::Merge(_) | Command::Diff(_) => None,
        Command::Bench(a) => match bench_cell(a) {
            Ok(Some(c)) => Some(Threads {
                workers: c.workers,
                threads_per_worker: c.threads_per_worker,
            }),
            Ok(None) => None,
            Err(e) => {
                eprintln!("error: {e:#}");
                return ExitCode::from(2);
            }
        },
    };
    if let Some(t) = threads {
        let configured = if matches!(cli.command, Command::Train(_)) {
            // SAFETY: nothing before this point in `main` starts a thread (argument parsing and
            // reading the bench grid are single-threaded), so the environment can be changed.
            unsafe { t.configure_for_training() }
        } else {
            // SAFETY: as above.
            unsafe { t.configure() }
        };
        if let Err(e) = configured {
            eprintln!("error: cannot set up threads: {e}");
            return ExitCode::from(2);
        }
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let r = match cli.command {
        Command::Analyze(a) => analyze(a),
        Command::Merge(a) => merge(a),
        Command::Diff(a) => diff(a),
        Command::Classify(a) => classify(a),
        Command::Eval(a) => eval(a),
        Command::Statements(a) => statements(a),
        Command::Train(a) => train(a),
        Command::Calibrate(a) => calibrate(a),
        Command::TrainHead(a) => train_head(a),
        Command::Bench(a) => bench(a),
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // A closed pipe (`standpoint classify | head`) is not an error.
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            // Each cause once: library errors already name their source in their message.
            let mut msg = String::new();
            for cause in e.chain() {
                let c = cause.to_string();
                if !msg.contains(&c) {
                    if !msg.is_empty() {
                        msg.push_str(": ");
                    }
                    msg.push_str(&c);
                }
            }
            eprintln!("error: {msg}");
            ExitCode::from(2)
        }
    }
}

/// The error with the flag that would skip it, when it can be skipped and the flag was not
/// given (the library's messages say what is wrong; which flag to use is the CLI's business).
fn skip_hint(e: &standpoint::corpus::CorpusError, skip_bad: bool) -> Option<anyhow::Error> {
    if skip_bad || !e.skippable() {
        return None;
    }
    let what = if e.is_file() {
        "unreadable and missing files"
    } else {
        "bad lines and documents"
    };
    Some(anyhow::anyhow!(
        "{e}; use --skip-bad to skip {what} and count them"
    ))
}

/// The targets, checked: none empty, none twice.
fn targets(c: &CorpusArgs) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for t in &c.target {
        let t = t.trim();
        if t.is_empty() {
            bail!("--target must not be empty");
        }
        if out.iter().any(|o| o == t) {
            bail!("--target {t:?} is given twice");
        }
        out.push(t.to_string());
    }
    Ok(out)
}

/// A hash of the actor table and lexicon files in use ("builtin" for the built-in ones).
fn data_fingerprint(c: &CorpusArgs) -> Result<String> {
    let mut h = standpoint::shard::FNV_START;
    for p in [&c.actors, &c.lexicon] {
        h = match p {
            Some(p) => standpoint::shard::fnv1a(
                &std::fs::read(p).with_context(|| format!("{}: cannot read", p.display()))?,
                h,
            ),
            None => standpoint::shard::fnv1a(b"builtin", h),
        };
    }
    Ok(format!("{h:016x}"))
}

fn data(c: &CorpusArgs) -> Result<(Lexicon, ActorTable)> {
    let lex = match &c.lexicon {
        Some(p) => Lexicon::load(p)?,
        None => Lexicon::builtin(),
    };
    let act = match &c.actors {
        Some(p) => ActorTable::load(p)?,
        None => ActorTable::builtin(),
    };
    Ok((lex, act))
}

fn load_model(m: &ModelArgs) -> Result<Box<dyn StanceModel>> {
    let t = std::time::Instant::now();
    let model = load(&m.spec()).with_context(|| format!("loading model {:?}", m.model))?;
    tracing::info!(
        "loaded {} in {:.1}s",
        model.name(),
        t.elapsed().as_secs_f64()
    );
    Ok(model)
}

fn bar(quiet: bool) -> ProgressBar {
    let pb = ProgressBar::new(0);
    if quiet || !std::io::stderr().is_terminal() {
        pb.set_draw_target(ProgressDrawTarget::hidden());
    }
    pb.set_style(
        ProgressStyle::with_template(
            "{spinner} {msg} [{bar:30}] {pos}/{len} statements ({per_sec}, {eta})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    pb
}

fn analyze(a: AnalyzeArgs) -> Result<()> {
    let shard = match &a.shard {
        Some(s) => Some(standpoint::shard::ShardSpec::parse(s)?),
        None => standpoint::shard::ShardSpec::from_env(|k| std::env::var(k).ok())?,
    };
    if let (None, Some(s)) = (&a.shard, shard) {
        eprintln!("shard {s} (from the environment)");
    }
    if a.checkpoint_every.is_nan() || a.checkpoint_every < 0.0 {
        bail!("--checkpoint-every must be a number of seconds, 0 or more");
    }
    let (lex, act) = data(&a.corpus)?;
    let model = load_model(&a.model)?;
    let pb = bar(a.quiet);
    let opts = standpoint::run::AnalyzeOptions {
        inputs: a.corpus.inputs.clone(),
        out: a.out.clone(),
        targets: targets(&a.corpus)?,
        skip_bad: a.corpus.skip_bad,
        max_doc_bytes: a.corpus.max_doc_bytes,
        batching: a.model.batching(),
        chunk_statements: a.chunk_statements.get(),
        shard,
        resume: a.resume,
        checkpoint_secs: a.checkpoint_every,
        data_fingerprint: data_fingerprint(&a.corpus)?,
        html_documents: a.html_documents,
    };
    let progress = |p: standpoint::run::Progress| match p {
        standpoint::run::Progress::Read {
            documents,
            statements,
        } => {
            pb.set_length(statements as u64);
            pb.set_message(format!("{documents} documents"));
        }
        standpoint::run::Progress::Scored(n) => pb.inc(n as u64),
    };
    let s = standpoint::run::analyze(&opts, model.as_ref(), &lex, &act, &progress).map_err(
        |e| match &e {
            standpoint::run::RunError::Corpus(c) => skip_hint(c, opts.skip_bad).unwrap_or(e.into()),
            _ => e.into(),
        },
    )?;
    pb.finish_and_clear();
    if s.already_complete {
        eprintln!("{}: already complete; nothing to resume", s.out.display());
    } else if s.resumed_at > 0 {
        eprintln!("resumed after document {}", s.resumed_at);
    }
    print_counts(&s.counts, opts.shard.is_some());
    if let Some(m) = &s.merged {
        print_targets(m);
    }
    let wrote = if opts.shard.is_some() {
        format!(
            "{} (merge the shards with `standpoint merge {}`)",
            s.out.display(),
            a.out.display()
        )
    } else if opts.targets.len() > 1 {
        format!(
            "{} (the stance matrix), targets.json, and per target target-0 ... target-{} with statements.jsonl, documents.jsonl, actors.json, report.md",
            s.out.join("report.md").display(),
            opts.targets.len() - 1
        )
    } else {
        format!(
            "{}, documents.jsonl, actors.json, report.md, report.html, statements.csv, actors.csv, actor-target and actor-actor networks (.graphml, -edges.csv)",
            s.out.join("statements.jsonl").display()
        )
    };
    if s.already_complete {
        return Ok(());
    }
    eprintln!(
        "time: {:.1}s ({:.1} statements/s; model {:.1}s); wrote {wrote}",
        s.seconds,
        s.statements_per_second(),
        s.model_seconds,
    );
    Ok(())
}

/// What went in and what came out, every count accounted for.
fn print_counts(c: &standpoint::report::RunCounts, shard: bool) {
    let t = &c.totals;
    eprintln!(
        "documents in: {} read from {} files ({} bad skipped, {} unreadable files, {} blank lines, {} other files ignored); documents out: {}{} ({} with no statements)",
        c.input.documents + c.input.skipped,
        c.input.files,
        c.input.skipped,
        c.input.files_unreadable,
        c.input.blank_lines,
        c.input.files_ignored,
        t.documents,
        if shard { " in this shard" } else { "" },
        t.empty_documents,
    );
    if shard {
        eprintln!(
            "statements out: {} ({} attributed, {} without speaker); labels FAVOR {} AGAINST {} NONE {}",
            t.statements, t.attributed, t.unattributed, t.favor, t.against, t.none
        );
    } else {
        eprintln!(
            "sentences: {} (plus {} fragments without words); statements out: {} ({} attributed, {} without speaker); labels FAVOR {} AGAINST {} NONE {}; actors: {}",
            t.statements, t.fragments_without_words, t.statements, t.attributed, t.unattributed, t.favor, t.against, t.none, t.actors
        );
    }
}

/// With several targets, each target's labels and actors, and where its files are.
fn print_targets(m: &standpoint::merge::Merged) {
    if m.targets.len() < 2 {
        return;
    }
    for t in &m.targets {
        let c = &t.counts.totals;
        eprintln!(
            "target {:?}: labels FAVOR {} AGAINST {} NONE {}; actors {}; files in {}",
            t.target,
            c.favor,
            c.against,
            c.none,
            t.actors.len(),
            t.dir.display()
        );
    }
}

fn diff(a: DiffArgs) -> Result<()> {
    let d = standpoint::diff::diff_runs(&a.before, &a.after)?;
    let mut out = std::io::stdout().lock();
    if a.json {
        serde_json::to_writer_pretty(&mut out, &d)?;
        writeln!(out)?;
    } else {
        out.write_all(standpoint::diff::diff_text(&d, a.all).as_bytes())?;
    }
    Ok(())
}

fn merge(a: MergeArgs) -> Result<()> {
    let t = std::time::Instant::now();
    let dirs = standpoint::merge::find_shards(&a.shards)?;
    let m = standpoint::merge::merge(&dirs, &a.out, a.html_documents)?;
    print_counts(&m.counts, false);
    print_targets(&m);
    eprintln!(
        "merged {} shards in {:.1}s (the shards took {:.1}s, model {:.1}s); wrote {}, documents.jsonl, actors.json, report.md, report.html, CSV exports and networks",
        m.shards,
        t.elapsed().as_secs_f64(),
        m.seconds,
        m.model_seconds,
        a.out.join("statements.jsonl").display()
    );
    Ok(())
}

fn classify(a: ClassifyArgs) -> Result<()> {
    let model = load_model(&a.model)?;
    struct In {
        id: serde_json::Value,
        text: String,
        target: Option<String>,
    }
    /// One input line, checked as `analyze` checks documents: a JSON object with an "id" (a
    /// string or an integer), a "text" string and an optional "target" string.
    fn parse(line: &str) -> std::result::Result<In, String> {
        const SHAPE: &str = "each line must be one JSON object {\"id\", \"text\", \"target\"?}";
        let v: serde_json::Value =
            serde_json::from_str(line).map_err(|e| format!("malformed JSON: {e} ({SHAPE})"))?;
        let serde_json::Value::Object(mut o) = v else {
            return Err(format!("not a JSON object ({SHAPE})"));
        };
        let id = match o.remove("id") {
            Some(id @ (serde_json::Value::String(_) | serde_json::Value::Number(_))) => id,
            _ => {
                return Err(format!(
                    "missing or wrong-typed field \"id\" (a string or an integer; {SHAPE})"
                ))
            }
        };
        let text = match o.remove("text") {
            Some(serde_json::Value::String(t)) => t,
            _ => {
                return Err(format!(
                    "missing or wrong-typed field \"text\" (a string; {SHAPE})"
                ))
            }
        };
        let target = match o.remove("target") {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(t)) => Some(t),
            Some(_) => return Err(format!("wrong-typed field \"target\" (a string; {SHAPE})")),
        };
        Ok(In { id, text, target })
    }
    /// Lines scored at a time: input streams through in chunks of this size, in order.
    const CHUNK: usize = 4096;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut rows: Vec<In> = Vec::with_capacity(CHUNK);
    let flush = |rows: &mut Vec<In>, out: &mut dyn Write| -> Result<()> {
        let pairs: Vec<Pair> = rows
            .iter()
            .map(|r| Pair {
                text: &r.text,
                target: r.target.as_deref().unwrap_or(&a.target),
            })
            .collect();
        let scores =
            standpoint::infer::score_all(model.as_ref(), &pairs, a.model.batching(), &|_| {})?;
        for (r, s) in rows.iter().zip(scores) {
            let v = serde_json::json!({"id": r.id, "label": s.label(), "scores": s});
            writeln!(out, "{v}")?;
        }
        rows.clear();
        Ok(())
    };
    let (mut labelled, mut skipped) = (0usize, Vec::new());
    for (i, line) in std::io::stdin().lock().lines().enumerate() {
        let line = line.with_context(|| format!("<stdin>:{}: cannot read", i + 1))?;
        if line.trim().is_empty() {
            continue;
        }
        match parse(&line) {
            Ok(r) => rows.push(r),
            Err(m) if a.skip_bad => {
                eprintln!("<stdin>:{}: skipped: {m}", i + 1);
                skipped.push(i + 1);
                continue;
            }
            Err(m) => bail!(
                "<stdin>:{}: {m}; use --skip-bad to skip bad lines and label the rest",
                i + 1
            ),
        }
        if rows.len() == CHUNK {
            labelled += rows.len();
            flush(&mut rows, &mut out)?;
        }
    }
    labelled += rows.len();
    flush(&mut rows, &mut out)?;
    out.flush()?;
    if a.skip_bad {
        eprintln!(
            "classify: {labelled} lines labelled, {} bad lines skipped{}",
            skipped.len(),
            if skipped.is_empty() {
                String::new()
            } else {
                format!(
                    " (lines {})",
                    skipped
                        .iter()
                        .map(|n| n.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        );
    }
    Ok(())
}

fn eval(a: EvalArgs) -> Result<()> {
    let model = load_model(&a.model)?;
    let mut reports = Vec::new();
    for path in &a.data {
        let ex = standpoint::eval::read_examples(path, a.target.as_deref())?;
        if ex.is_empty() {
            bail!("{}: no examples", path.display());
        }
        let pairs: Vec<Pair> = ex
            .iter()
            .map(|e| Pair {
                text: &e.text,
                target: &e.target,
            })
            .collect();
        let pb = bar(false);
        pb.set_length(pairs.len() as u64);
        let t = std::time::Instant::now();
        let scores =
            standpoint::infer::score_all(model.as_ref(), &pairs, a.model.batching(), &|n| {
                pb.inc(n as u64)
            })?;
        pb.finish_and_clear();
        let secs = t.elapsed().as_secs_f64();
        let r =
            standpoint::eval::evaluate(&path.display().to_string(), &model.name(), &ex, &scores);
        if !a.json {
            out!("{}", standpoint::eval::render(&r, a.min_per_target))?;
            outln!(
                "time: {:.1}s ({:.1} examples/s)\n",
                secs,
                ex.len() as f64 / secs
            )?;
        }
        reports.push(r);
    }
    if a.json {
        outln!("{}", serde_json::to_string_pretty(&reports)?)?;
    }
    Ok(())
}

fn train(a: TrainArgs) -> Result<()> {
    use standpoint::finetune::{finetune, FinetuneEvent, FinetuneOptions, InitModel};
    use standpoint::model::cross::{self, BaseModel};
    use standpoint::model::default::{weights_sha256, ENCODER_REPO};
    use std::sync::atomic::{AtomicUsize, Ordering};
    if a.precision == Precision::Int8 {
        anyhow::bail!(
            "--precision int8 is an inference format; train in f32 (the default) or bf16"
        );
    }
    let init = match a.init.as_deref() {
        None => None,
        Some("default") => {
            let (meta, delta) = standpoint::model::load::embedded_default()?;
            Some(InitModel {
                name: "default".into(),
                meta,
                delta,
            })
        }
        Some(dir) => {
            let (meta, delta) = cross::read_dir(std::path::Path::new(dir))
                .with_context(|| format!("--init {dir}: not a standpoint model directory"))?;
            Some(InitModel {
                name: dir.to_string(),
                meta,
                delta,
            })
        }
    };
    let base_repo = init
        .as_ref()
        .map_or(ENCODER_REPO.to_string(), |i| i.meta.base.repo.clone());
    let placeholder = BaseModel {
        repo: base_repo,
        revision: None,
        weights_sha256: String::new(),
    };
    let files = cross::resolve_base(&placeholder, a.offline)?;
    let base = BaseModel {
        revision: files[1]
            .parent()
            .and_then(|d| d.file_name())
            .map(|s| s.to_string_lossy().into_owned()),
        weights_sha256: weights_sha256(&files[1])?,
        ..placeholder
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let opts = FinetuneOptions {
        train: a.train.clone(),
        dev: a.dev.clone(),
        out_dir: a.out.clone(),
        init,
        train_layers: a.train_layers,
        epochs: a.epochs,
        lr: a.lr,
        head_lr: a.head_lr,
        warmup: a.warmup,
        weight_decay: a.weight_decay,
        batch_size: a.batch_size,
        accumulate: a.accumulate,
        max_tokens: a.max_tokens,
        dropout: a.dropout,
        seed: a.seed,
        balance_classes: !a.no_class_balance,
        balance_sources: !a.no_source_balance,
        max_per_source: a.max_per_source,
        none_pairs: a.none_pairs,
        save_f16: a.dtype == "f16",
        calibrate_on_first: a.calibrate_on_first,
        select: a.select.clone(),
        rows_per_epoch: a.rows_per_epoch,
        precision: a.precision,
        command: format!("standpoint {}", args.join(" ")),
    };
    let pb = bar(false);
    pb.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {msg} [{bar:30}] {pos}/{len} ({eta})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let last = AtomicUsize::new(0);
    let progress = |e: FinetuneEvent<'_>| match e {
        FinetuneEvent::Caching { done, total } => {
            pb.set_length(total as u64);
            pb.set_position(done as u64);
            pb.set_message("frozen layers");
            if pb.is_hidden() && (done == total || done >= last.load(Ordering::Relaxed) + 2000) {
                last.store(done, Ordering::Relaxed);
                eprintln!("frozen layers: {done}/{total} pairs");
            }
        }
        FinetuneEvent::Step {
            epoch,
            step,
            steps,
            loss,
            tokens_per_s,
        } => {
            if step == 1 {
                pb.reset();
                pb.set_length(steps as u64);
            }
            pb.set_position(step as u64);
            pb.set_message(format!(
                "epoch {epoch}: loss {loss:.4}, {tokens_per_s:.0} tokens/s"
            ));
            if !pb.is_hidden() {
                return;
            }
            if step == steps || step % 100 == 0 {
                eprintln!(
                    "epoch {epoch} step {step}/{steps}: loss {loss:.4}, {tokens_per_s:.0} tokens/s"
                );
            }
        }
        FinetuneEvent::Epoch(ep) => {
            pb.suspend(|| {
                eprintln!(
                    "epoch {}: train loss {:.4}, {:.0} tokens/s, {:.0}s",
                    ep.epoch, ep.train_loss, ep.tokens_per_s, ep.seconds
                );
                for (name, s) in &ep.dev {
                    eprintln!(
                        "  dev {name}: accuracy {:.3}, macro-F1 {:.3}, F_avg {:.3}",
                        s.accuracy, s.macro_f1, s.f_avg
                    );
                }
            });
        }
        FinetuneEvent::Message(m) => pb.suspend(|| eprintln!("{m}")),
    };
    let r = finetune(&opts, &base, &files, &progress)?;
    pb.finish_and_clear();
    eprintln!(
        "best epoch {}; calibration: NONE bias {:+.1}, temperature {:.3}; wrote {} ({} layers + classifier, {:.1} MB, sha256 {})",
        r.best_epoch,
        r.calibration.none_bias,
        r.calibration.temperature,
        r.out_dir.display(),
        r.trained_layers,
        r.delta_bytes as f64 / 1e6,
        &r.delta_sha256[..12]
    );
    eprintln!(
        "frozen layers {:.0}s; training {:.0}s at {:.0} tokens/s",
        r.cache_seconds, r.train_seconds, r.tokens_per_s
    );
    for c in &r.dev_calibration {
        let s = &r.dev[&c.set];
        eprintln!(
            "dev {}: accuracy {:.3}, macro-F1 {:.3}, F_avg {:.3}; ECE {:.3} -> {:.3}",
            c.set, s.accuracy, s.macro_f1, s.f_avg, c.ece_before, c.ece_after
        );
    }
    Ok(())
}

fn calibrate(a: CalibrateArgs) -> Result<()> {
    use standpoint::model::cross::{self, CrossEncoder, META_FILE};
    let (mut meta, delta) = cross::read_dir(&a.model).with_context(|| {
        format!(
            "--model {}: not a standpoint model directory",
            a.model.display()
        )
    })?;
    let base = cross::resolve_base(&meta.base, a.offline)?;
    let model = CrossEncoder::load(meta.clone(), &delta, &base, &candle_core::Device::Cpu)?;
    let before = meta.calibration;
    let fit = standpoint::finetune::calibrate(&model, &a.dev, a.calibrate_on_first, 32)?;
    meta.calibration = fit.calibration;
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let serde_json::Value::Object(m) = &mut meta.training {
        m.insert(
            "recalibrated".into(),
            serde_json::json!({
                "command": format!("standpoint {}", args.join(" ")),
                "before": before,
                "dev": fit.scores,
                "dev_calibration": fit.sets,
            }),
        );
    }
    let path = a.model.join(META_FILE);
    let tmp = a.model.join(format!("{META_FILE}.partial"));
    std::fs::write(&tmp, serde_json::to_string_pretty(&meta)?)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, &path).with_context(|| format!("cannot write {}", path.display()))?;
    eprintln!(
        "NONE bias {:+.1} -> {:+.1}, temperature {:.3} -> {:.3}; wrote {}",
        before.none_bias,
        fit.calibration.none_bias,
        before.temperature,
        fit.calibration.temperature,
        path.display()
    );
    for c in &fit.sets {
        let s = &fit.scores[&c.set];
        eprintln!(
            "dev {}: accuracy {:.3}, macro-F1 {:.3}, F_avg {:.3}; ECE {:.3} -> {:.3}",
            c.set, s.accuracy, s.macro_f1, s.f_avg, c.ece_before, c.ece_after
        );
    }
    Ok(())
}

fn train_head(a: TrainHeadArgs) -> Result<()> {
    use standpoint::model::default::{Encoder, ENCODER_REPO};
    use standpoint::model::hub;
    use standpoint::train::{train_head, HeadTrainOptions, TrainEvent};
    let files = hub::resolve_files(
        ENCODER_REPO,
        a.revision.as_deref(),
        a.offline,
        &[hub::CONFIG_FILE, hub::WEIGHTS_FILE, hub::TOKENIZER_FILE],
    )
    .context("the default encoder (run models/fetch-encoder.sh without hub access)")?;
    let encoder = Encoder::load(&files[0], &files[1], &files[2], &candle_core::Device::Cpu)?;
    let threads = a.threads.map_or_else(all_cores, NonZeroUsize::get);
    let args: Vec<String> = std::env::args().skip(1).collect();
    let opts = HeadTrainOptions {
        train: a.data.clone(),
        eval: a.eval.clone(),
        out_dir: a.out.clone(),
        held_out_fraction: a.held_out,
        epochs: a.epochs,
        patience: a.patience,
        lr: a.lr,
        batch_size: a.batch_size,
        hidden: a.hidden,
        dropout: a.dropout,
        seed: a.seed,
        none_pairs: a.none_pairs,
        target_noise: a.target_noise,
        class_balanced: a.class_balanced,
        workers: threads,
        command: format!("standpoint {}", args.join(" ")),
        ..HeadTrainOptions::default()
    };
    let progress = |e: TrainEvent<'_>| {
        match e {
        TrainEvent::Embedding { file, done, total } => {
            if done == total || done % 4096 < opts.embed_batch_size {
                eprintln!("embedding {}: {done}/{total}", file.display());
            }
        }
        TrainEvent::Cached { file } => eprintln!("embeddings of {} from the cache", file.display()),
        TrainEvent::Epoch(s) => eprintln!(
            "epoch {:>2}: train loss {:.4}, held-out loss {:.4}, accuracy {:.3}, macro-F1 {:.3}, F_avg {:.3} ({:.1}s)",
            s.epoch, s.train_loss, s.held_out_loss, s.held_out.accuracy, s.held_out.macro_f1, s.held_out.f_avg, s.seconds
        ),
        TrainEvent::Message(m) => eprintln!("{m}"),
    }
    };
    let r = train_head(&opts, &encoder, &progress)?;
    eprintln!(
        "best epoch {} (held-out macro-F1 {:.3}), temperature {:.3}; wrote {} and {}",
        r.best_epoch,
        r.held_out.macro_f1,
        r.temperature,
        r.weights_path.display(),
        r.meta_path.display()
    );
    for (name, s) in &r.eval {
        eprintln!(
            "eval {name}: accuracy {:.3}, macro-F1 {:.3}, F_avg {:.3}",
            s.accuracy, s.macro_f1, s.f_avg
        );
    }
    Ok(())
}

fn statements(a: StatementsArgs) -> Result<()> {
    let (lex, act) = data(&a.corpus)?;
    let reader = standpoint::corpus::CorpusReader::open_with(
        &a.corpus.inputs,
        standpoint::corpus::ReadOptions {
            skip_bad: a.corpus.skip_bad,
            max_doc_bytes: a.corpus.max_doc_bytes,
        },
    )?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for doc in reader {
        let doc = match doc {
            Ok(d) => d,
            Err(e) => return Err(skip_hint(&e, a.corpus.skip_bad).unwrap_or(e.into())),
        };
        let ds = standpoint::statements::prepare(doc, &a.corpus.target[0], &lex, &act);
        for s in &ds.statements {
            serde_json::to_writer(&mut out, s)?;
            out.write_all(b"\n")?;
        }
    }
    out.flush()?;
    Ok(())
}
