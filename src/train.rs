//! `standpoint train-head`: trains the default model's stance head on labelled stance JSONL.
//!
//! Pipeline: read the files (`{"id", "text", "target", "label"}` per line), embed every distinct
//! text and target with the [`Encoder`] (length-sorted batches on worker threads; text embeddings
//! are cached per data file, keyed by the file's SHA-256 and the encoder's), hold out a
//! deterministic seeded share of the statements for model selection and temperature fitting,
//! train the MLP with AdamW on a class-balanced cross-entropy, keep the epoch with the best
//! held-out macro-F1, fit the temperature by minimising the held-out NLL, write
//! `stance-head.safetensors` + `stance-head.json`, and score any evaluation files (never trained
//! on) into the metadata.

use crate::model::default::{
    head_features, head_logits, sha256_hex, DataFileInfo, Encoder, HeadEncoderInfo, HeadMeta,
    HeadTrainingInfo, SetScores, StanceHead, ENCODER_MAX_TOKENS, ENCODER_REPO, HEAD_FEATURES,
    HEAD_FORMAT, HEAD_META_FILE, HEAD_WEIGHTS_FILE,
};
use crate::model::{Label, ModelError, StanceModel};
use candle_core::{Device, Tensor, Var, D};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Errors of head training.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}: {message}")]
    Parse {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("{0}")]
    Options(String),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("candle: {0}")]
    Candle(#[from] candle_core::Error),
}

/// One labelled stance example.
#[derive(Debug, Clone, PartialEq)]
pub struct StanceExample {
    pub id: String,
    pub text: String,
    pub target: String,
    pub label: Label,
}

#[derive(Deserialize)]
struct RawExample {
    #[serde(default)]
    id: Option<serde_json::Value>,
    text: String,
    target: String,
    label: String,
}

/// Reads stance JSONL: one `{"id", "text", "target", "label"}` object per line (extra fields
/// ignored, blank lines skipped; label FAVOR | AGAINST | NONE). Errors name the file and line.
pub fn read_stance_jsonl(path: &Path) -> Result<Vec<StanceExample>, TrainError> {
    let text = std::fs::read_to_string(path).map_err(|source| TrainError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_stance_jsonl(&text, path)
}

fn parse_stance_jsonl(text: &str, path: &Path) -> Result<Vec<StanceExample>, TrainError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let perr = |message: String| TrainError::Parse {
            path: path.to_path_buf(),
            line: line_no,
            message,
        };
        let raw: RawExample = serde_json::from_str(line).map_err(|e| {
            perr(format!(
                "not a stance record ({{\"id\",\"text\",\"target\",\"label\"}}): {e}"
            ))
        })?;
        let label = match raw.label.trim() {
            "FAVOR" => Label::Favor,
            "AGAINST" => Label::Against,
            "NONE" => Label::None,
            other => {
                return Err(perr(format!(
                    "label {other:?} is not FAVOR, AGAINST or NONE"
                )))
            }
        };
        if raw.text.trim().is_empty() {
            return Err(perr("empty text".into()));
        }
        if raw.target.trim().is_empty() {
            return Err(perr("empty target".into()));
        }
        let id = match raw.id {
            Some(serde_json::Value::String(s)) => s,
            Some(v) => v.to_string(),
            None => format!("{}:{line_no}", path.display()),
        };
        out.push(StanceExample {
            id,
            text: raw.text,
            target: raw.target,
            label,
        });
    }
    Ok(out)
}

/// Options of [`train_head`].
#[derive(Debug, Clone)]
pub struct HeadTrainOptions {
    /// Training files (stance JSONL). A seeded share of their statements is held out.
    pub train: Vec<PathBuf>,
    /// Evaluation files, scored after training and recorded in the metadata; never trained on.
    pub eval: Vec<PathBuf>,
    /// Directory for `stance-head.safetensors` and `stance-head.json` (created if missing).
    pub out_dir: PathBuf,
    /// Share of the training statements held out for early stopping and the temperature.
    pub held_out_fraction: f32,
    pub epochs: usize,
    /// Stop after this many epochs without a better held-out macro-F1.
    pub patience: usize,
    pub lr: f64,
    pub weight_decay: f64,
    pub batch_size: usize,
    pub hidden: usize,
    pub dropout: f32,
    pub seed: u64,
    /// Synthetic NONE pairs per training row and epoch: a statement paired with a target of
    /// another training file, which it is taken not to address (teaches "target not discussed").
    pub none_pairs: f32,
    /// Norm of the Gaussian noise added to each target embedding in training (then renormalised).
    pub target_noise: f32,
    /// Weight the loss by inverse class frequency (labels count equally).
    pub class_balanced: bool,
    /// Texts per encoder batch while embedding.
    pub embed_batch_size: usize,
    /// Encoder worker threads (each runs whole batches single-threaded).
    pub workers: usize,
    /// Where to cache text embeddings per data file; `None` disables the cache.
    pub cache_dir: Option<PathBuf>,
    /// The command line to record in the metadata.
    pub command: String,
}

impl Default for HeadTrainOptions {
    fn default() -> Self {
        HeadTrainOptions {
            train: Vec::new(),
            eval: Vec::new(),
            out_dir: PathBuf::from("models"),
            held_out_fraction: 0.1,
            epochs: 40,
            patience: 6,
            lr: 1e-3,
            weight_decay: 0.01,
            batch_size: 64,
            hidden: 256,
            dropout: 0.2,
            seed: 17,
            none_pairs: 0.1,
            target_noise: 1.0,
            class_balanced: false,
            embed_batch_size: 16,
            workers: 2,
            cache_dir: default_cache_dir(),
            command: "standpoint train-head".into(),
        }
    }
}

/// `$STANDPOINT_CACHE`, else `$XDG_CACHE_HOME/standpoint`, else `~/.cache/standpoint`.
pub fn default_cache_dir() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("STANDPOINT_CACHE") {
        return Some(PathBuf::from(p));
    }
    if let Some(p) = std::env::var_os("XDG_CACHE_HOME") {
        return Some(PathBuf::from(p).join("standpoint"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache").join("standpoint"))
}

/// Progress of training, for a progress bar or log.
#[derive(Debug, Clone)]
pub enum TrainEvent<'a> {
    /// Embedding a file's distinct texts: `done` of `total` texts so far.
    Embedding {
        file: &'a Path,
        done: usize,
        total: usize,
    },
    /// Embeddings of a file came from the cache.
    Cached {
        file: &'a Path,
    },
    Epoch(&'a EpochStats),
    Message(&'a str),
}

/// One epoch of training.
#[derive(Debug, Clone, PartialEq)]
pub struct EpochStats {
    pub epoch: usize,
    pub train_loss: f32,
    pub held_out_loss: f32,
    pub held_out: SetScores,
    pub seconds: f32,
}

/// What [`train_head`] did.
#[derive(Debug, Clone)]
pub struct HeadTrainReport {
    pub weights_path: PathBuf,
    pub meta_path: PathBuf,
    pub weights_sha256: String,
    pub epochs: Vec<EpochStats>,
    pub best_epoch: usize,
    pub temperature: f32,
    pub held_out: SetScores,
    /// Scores on the evaluation files, by set name (file stem).
    pub eval: BTreeMap<String, SetScores>,
    pub train_rows: usize,
    pub held_out_rows: usize,
    /// Texts embedded (not from cache) and the seconds it took.
    pub texts_embedded: usize,
    pub embedding_seconds: f32,
    pub training_seconds: f32,
}

/// Scores of predictions against gold labels.
pub fn set_scores(gold: &[Label], pred: &[Label]) -> SetScores {
    let mut confusion = [[0usize; 3]; 3];
    for (g, p) in gold.iter().zip(pred) {
        confusion[g.index()][p.index()] += 1;
    }
    let n = gold.len().min(pred.len());
    let correct: usize = (0..3).map(|i| confusion[i][i]).sum();
    let mut f1 = [0f32; 3];
    let mut present = Vec::new();
    for (c, f) in f1.iter_mut().enumerate() {
        let tp = confusion[c][c] as f32;
        let gold_c: usize = confusion[c].iter().sum();
        let pred_c: usize = (0..3).map(|g| confusion[g][c]).sum();
        if gold_c > 0 {
            present.push(c);
            *f = 2.0 * tp / (gold_c + pred_c) as f32;
        }
    }
    let macro_f1 = if present.is_empty() {
        0.0
    } else {
        present.iter().map(|&c| f1[c]).sum::<f32>() / present.len() as f32
    };
    SetScores {
        rows: n,
        accuracy: if n == 0 {
            0.0
        } else {
            correct as f32 / n as f32
        },
        macro_f1,
        f_avg: (f1[0] + f1[1]) / 2.0,
        f1,
        confusion,
    }
}

/// SplitMix64: small, seeded, reproducible.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    /// SplitMix64's step: the state advances by a constant and the output is a mix of it, so
    /// the `i`-th draw ahead can be computed without the ones before ([`Rng::uniform_ahead`]).
    const STEP: u64 = 0x9E37_79B9_7F4A_7C15;

    fn mix(mut z: u64) -> u64 {
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(Self::STEP);
        Self::mix(self.0)
    }
    pub(crate) fn uniform(&mut self) -> f32 {
        Self::to_unit(self.next_u64())
    }
    fn to_unit(x: u64) -> f32 {
        (x >> 40) as f32 / (1u64 << 24) as f32
    }
    /// The value the `i`-th call of [`Rng::uniform`] from now (counting from 0) would give,
    /// without drawing it; with [`Rng::skip`] this fills long arrays in parallel with exactly
    /// the values a loop of `uniform` calls gives.
    pub(crate) fn uniform_ahead(&self, i: u64) -> f32 {
        Self::to_unit(Self::mix(
            self.0
                .wrapping_add(Self::STEP.wrapping_mul(i.wrapping_add(1))),
        ))
    }
    /// Advances as `n` draws would.
    pub(crate) fn skip(&mut self, n: u64) {
        self.0 = self.0.wrapping_add(Self::STEP.wrapping_mul(n));
    }
    /// Standard normal (Box–Muller).
    pub(crate) fn normal(&mut self) -> f32 {
        let u1 = self.uniform().max(1e-7);
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f32::consts::PI * u2).cos()
    }
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
    pub(crate) fn shuffle<T>(&mut self, xs: &mut [T]) {
        for i in (1..xs.len()).rev() {
            xs.swap(i, self.below(i + 1));
        }
    }
}

/// A deterministic value in [0, 1) for `text` under `seed` (the held-out split).
fn split_value(seed: u64, text: &str) -> f32 {
    let d = sha2::Sha256::digest_with(seed, text);
    (u64::from_le_bytes(d[..8].try_into().unwrap()) >> 40) as f32 / (1u64 << 24) as f32
}

trait DigestWith {
    fn digest_with(seed: u64, text: &str) -> [u8; 32];
}

impl DigestWith for sha2::Sha256 {
    fn digest_with(seed: u64, text: &str) -> [u8; 32] {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        h.update(seed.to_le_bytes());
        h.update(text.as_bytes());
        h.finalize().into()
    }
}

/// A data file read and embedded.
struct EmbeddedFile {
    info: DataFileInfo,
    rows: Vec<StanceExample>,
    /// One embedding per row (statement text).
    text_emb: Vec<Vec<f32>>,
}

/// Reads `path` and embeds its distinct texts, using the cache when it has them.
fn load_and_embed(
    path: &Path,
    encoder: &Encoder,
    opts: &HeadTrainOptions,
    progress: &(dyn Fn(TrainEvent<'_>) + Sync),
    embedded: &mut (usize, f32),
) -> Result<EmbeddedFile, TrainError> {
    let bytes = std::fs::read(path).map_err(|source| TrainError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let sha = sha256_hex(&bytes);
    let text = String::from_utf8(bytes).map_err(|e| TrainError::Parse {
        path: path.to_path_buf(),
        line: 0,
        message: format!("not UTF-8: {e}"),
    })?;
    let rows = parse_stance_jsonl(&text, path)?;
    if rows.is_empty() {
        return Err(TrainError::Options(format!(
            "{}: no stance records",
            path.display()
        )));
    }
    let info = DataFileInfo {
        path: path.display().to_string(),
        sha256: sha.clone(),
        rows: rows.len(),
    };
    // Distinct texts, in first-seen order.
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut distinct: Vec<&str> = Vec::new();
    let row_text: Vec<usize> = rows
        .iter()
        .map(|r| {
            *index.entry(r.text.as_str()).or_insert_with(|| {
                distinct.push(r.text.as_str());
                distinct.len() - 1
            })
        })
        .collect();
    let dim = encoder.dim();
    let cache_path = opts.cache_dir.as_ref().map(|d| {
        d.join(format!(
            "emb-{}-{}-{}.safetensors",
            &encoder.weights_sha256()[..16],
            ENCODER_MAX_TOKENS,
            &sha[..32]
        ))
    });
    let mut embs: Option<Vec<Vec<f32>>> = None;
    if let Some(cp) = &cache_path {
        if cp.exists() {
            if let Ok(mut m) = candle_core::safetensors::load(cp, &Device::Cpu) {
                if let Some(t) = m.remove("text") {
                    if t.dims() == [distinct.len(), dim] {
                        embs = Some(t.to_vec2::<f32>()?);
                        progress(TrainEvent::Cached { file: path });
                    }
                }
            }
        }
    }
    let embs = match embs {
        Some(e) => e,
        None => {
            let t0 = Instant::now();
            let total = distinct.len();
            let done = std::sync::atomic::AtomicUsize::new(0);
            let e = encoder.embed_many(&distinct, opts.embed_batch_size, opts.workers, &|n| {
                let d = done.fetch_add(n, std::sync::atomic::Ordering::Relaxed) + n;
                progress(TrainEvent::Embedding {
                    file: path,
                    done: d,
                    total,
                });
            })?;
            embedded.0 += total;
            embedded.1 += t0.elapsed().as_secs_f32();
            if let Some(cp) = &cache_path {
                let write = || -> Result<(), String> {
                    std::fs::create_dir_all(cp.parent().unwrap()).map_err(|e| e.to_string())?;
                    let t = Tensor::from_vec(e.concat(), (total, dim), &Device::Cpu)
                        .map_err(|e| e.to_string())?;
                    let tmp = cp.with_extension(format!("tmp{}", std::process::id()));
                    candle_core::safetensors::save(&HashMap::from([("text", t)]), &tmp)
                        .map_err(|e| e.to_string())?;
                    std::fs::rename(&tmp, cp).map_err(|e| e.to_string())
                };
                if let Err(msg) = write() {
                    let m = format!("cannot write embedding cache {}: {msg}", cp.display());
                    progress(TrainEvent::Message(&m));
                }
            }
            e
        }
    };
    let text_emb = row_text.iter().map(|&i| embs[i].clone()).collect();
    Ok(EmbeddedFile {
        info,
        rows,
        text_emb,
    })
}

/// Embeddings of the distinct targets of `rows`, and each row's index into them.
fn embed_targets<'a>(
    rows: impl Iterator<Item = &'a StanceExample>,
    encoder: &Encoder,
    opts: &HeadTrainOptions,
) -> Result<(Vec<Vec<f32>>, Vec<u32>), TrainError> {
    let mut index: HashMap<&str, u32> = HashMap::new();
    let mut distinct: Vec<&str> = Vec::new();
    let idx = rows
        .map(|r| {
            *index.entry(r.target.as_str()).or_insert_with(|| {
                distinct.push(r.target.as_str());
                (distinct.len() - 1) as u32
            })
        })
        .collect();
    let embs = encoder.embed_many(&distinct, opts.embed_batch_size, opts.workers, &|_| {})?;
    Ok((embs, idx))
}

fn matrix(rows: &[Vec<f32>], dim: usize) -> candle_core::Result<Tensor> {
    Tensor::from_vec(rows.concat(), (rows.len(), dim), &Device::Cpu)
}

struct Params {
    w1: Var,
    b1: Var,
    w2: Var,
    b2: Var,
}

impl Params {
    /// Kaiming-uniform weights and uniform biases, as torch.nn.Linear, from a seeded RNG.
    fn init(rng: &mut Rng, input: usize, hidden: usize) -> candle_core::Result<Params> {
        let mut uni = |n: usize, bound: f32| -> Vec<f32> {
            (0..n)
                .map(|_| (rng.uniform() * 2.0 - 1.0) * bound)
                .collect()
        };
        let b_in = 1.0 / (input as f32).sqrt();
        let b_h = 1.0 / (hidden as f32).sqrt();
        let dev = Device::Cpu;
        Ok(Params {
            w1: Var::from_vec(uni(hidden * input, b_in), (hidden, input), &dev)?,
            b1: Var::from_vec(uni(hidden, b_in), hidden, &dev)?,
            w2: Var::from_vec(uni(3 * hidden, b_h), (3, hidden), &dev)?,
            b2: Var::from_vec(uni(3, b_h), 3, &dev)?,
        })
    }

    fn vars(&self) -> Vec<Var> {
        vec![
            self.w1.clone(),
            self.b1.clone(),
            self.w2.clone(),
            self.b2.clone(),
        ]
    }

    fn snapshot(&self) -> candle_core::Result<[Tensor; 4]> {
        Ok([
            self.w1.as_tensor().copy()?,
            self.b1.as_tensor().copy()?,
            self.w2.as_tensor().copy()?,
            self.b2.as_tensor().copy()?,
        ])
    }
}

/// One example of a split: row of the split's statement matrix, target index, label index.
type Ex = (u32, u32, u32);

/// The statement embeddings of one split and its examples (real and synthetic).
struct Split {
    u: Tensor,
    ex: Vec<Ex>,
}

impl Split {
    /// Features `(n, 4·dim)`, labels `(n)` of some examples.
    fn batch(&self, v: &Tensor, ex: &[Ex]) -> candle_core::Result<(Tensor, Tensor)> {
        self.batch_noisy(v, ex, None)
    }

    /// As `batch`; with `noise = (rng, s)`, each target embedding gets Gaussian noise of total
    /// norm about `s` and is renormalised (so the head cannot memorise the few training targets).
    fn batch_noisy(
        &self,
        v: &Tensor,
        ex: &[Ex],
        noise: Option<(&mut Rng, f32)>,
    ) -> candle_core::Result<(Tensor, Tensor)> {
        let rows: Vec<u32> = ex.iter().map(|e| e.0).collect();
        let tg: Vec<u32> = ex.iter().map(|e| e.1).collect();
        let y: Vec<u32> = ex.iter().map(|e| e.2).collect();
        let dev = Device::Cpu;
        let u = self
            .u
            .index_select(&Tensor::new(rows.as_slice(), &dev)?, 0)?;
        let mut vv = v.index_select(&Tensor::new(tg.as_slice(), &dev)?, 0)?;
        if let Some((rng, s)) = noise {
            if s > 0.0 {
                let (n, d) = vv.dims2()?;
                let sd = s / (d as f32).sqrt();
                let z: Vec<f32> = (0..n * d).map(|_| rng.normal() * sd).collect();
                let noisy = (vv + Tensor::from_vec(z, (n, d), &dev)?)?;
                let norm = noisy.sqr()?.sum_keepdim(1)?.sqrt()?;
                vv = noisy.broadcast_div(&norm)?;
            }
        }
        Ok((head_features(&u, &vv)?, Tensor::new(y.as_slice(), &dev)?))
    }

    fn labels(&self) -> Vec<u32> {
        self.ex.iter().map(|e| e.2).collect()
    }

    /// Logits of all examples (no dropout), in chunks.
    fn logits(&self, v: &Tensor, w: &[Tensor; 4]) -> candle_core::Result<Tensor> {
        let mut parts = Vec::new();
        for chunk in self.ex.chunks(1024) {
            let (f, _) = self.batch(v, chunk)?;
            parts.push(head_logits(&f, &w[0], &w[1], &w[2], &w[3], None)?);
        }
        Tensor::cat(&parts, 0)
    }
}

/// Adds `round(ratio · n)` synthetic NONE examples to `ex` (whose first `n` entries are the real
/// ones): a random statement paired with a target from another training file (or, with one file,
/// another target of the same file), which it is taken not to address.
fn add_none_pairs(
    ex: &mut Vec<Ex>,
    n: usize,
    ratio: f32,
    others: &[Vec<u32>],
    row_file: &[usize],
    rng: &mut Rng,
) {
    ex.truncate(n);
    if n == 0 || ratio <= 0.0 {
        return;
    }
    let m = (ratio * n as f32).round() as usize;
    let mut tries = 0;
    while ex.len() < n + m && tries < 4 * m {
        tries += 1;
        let (row, tgt, _) = ex[rng.below(n)];
        let cands = &others[row_file[row as usize]];
        if cands.is_empty() {
            continue;
        }
        let t = cands[rng.below(cands.len())];
        if t == tgt {
            continue;
        }
        ex.push((row, t, Label::None.index() as u32));
    }
}

/// Mean weighted cross-entropy of `logits` (n, 3) against `y` (n) with per-class `weights`.
fn weighted_ce(logits: &Tensor, y: &Tensor, weights: &Tensor) -> candle_core::Result<Tensor> {
    let logp = candle_nn::ops::log_softmax(logits, D::Minus1)?;
    let picked = logp.gather(&y.unsqueeze(1)?, 1)?.squeeze(1)?; // (n)
    let w = weights.index_select(y, 0)?; // (n)
    let num = (picked * &w)?.sum_all()?;
    let den = w.sum_all()?;
    num.neg()?.broadcast_div(&den)
}

fn argmax_labels(logits: &Tensor) -> candle_core::Result<Vec<Label>> {
    Ok(logits
        .argmax(D::Minus1)?
        .to_vec1::<u32>()?
        .into_iter()
        .map(|i| Label::ALL[i as usize])
        .collect())
}

/// Mean NLL of `logits / t` against `y`.
pub(crate) fn nll_at(logits: &[Vec<f32>], y: &[u32], t: f32) -> f32 {
    let mut s = 0f64;
    for (l, &c) in logits.iter().zip(y) {
        let m = l.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b / t));
        let lse = l
            .iter()
            .map(|&x| ((x / t - m) as f64).exp())
            .sum::<f64>()
            .ln()
            + m as f64;
        s += lse - (l[c as usize] / t) as f64;
    }
    (s / logits.len().max(1) as f64) as f32
}

/// The temperature minimising the NLL (golden-section search on log T in [1/20, 20]).
pub(crate) fn fit_temperature(logits: &[Vec<f32>], y: &[u32]) -> f32 {
    if logits.is_empty() {
        return 1.0;
    }
    golden_min(|lt| nll_at(logits, y, lt.exp()), (0.05f32).ln(), 20f32.ln()).exp()
}

/// The minimum of a unimodal `f` on [a, b] by golden-section search.
pub(crate) fn golden_min(f: impl Fn(f32) -> f32, mut a: f32, mut b: f32) -> f32 {
    let g = (5f32.sqrt() - 1.0) / 2.0;
    let mut c = b - g * (b - a);
    let mut d = a + g * (b - a);
    let (mut fc, mut fd) = (f(c), f(d));
    for _ in 0..60 {
        if fc < fd {
            b = d;
            d = c;
            fd = fc;
            c = b - g * (b - a);
            fc = f(c);
        } else {
            a = c;
            c = d;
            fc = fd;
            d = a + g * (b - a);
            fd = f(d);
        }
    }
    (a + b) / 2.0
}

pub(crate) fn set_name(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// Trains a stance head on `opts.train` with `encoder` and writes it to `opts.out_dir`.
pub fn train_head(
    opts: &HeadTrainOptions,
    encoder: &Encoder,
    progress: &(dyn Fn(TrainEvent<'_>) + Sync),
) -> Result<HeadTrainReport, TrainError> {
    let t_start = Instant::now();
    if opts.train.is_empty() {
        return Err(TrainError::Options("no training files".into()));
    }
    if !(0.0..1.0).contains(&opts.held_out_fraction) {
        return Err(TrainError::Options(format!(
            "held-out fraction {} is not in [0, 1)",
            opts.held_out_fraction
        )));
    }
    if opts.epochs == 0 || opts.batch_size == 0 || opts.hidden == 0 {
        return Err(TrainError::Options(
            "epochs, batch size and hidden size must be positive".into(),
        ));
    }
    if !(0.0..1.0).contains(&opts.dropout) {
        return Err(TrainError::Options(format!(
            "dropout {} is not in [0, 1)",
            opts.dropout
        )));
    }
    let dim = encoder.dim();
    let mut embedded = (0usize, 0f32);

    // Read and embed the training files.
    let mut files = Vec::new();
    for p in &opts.train {
        files.push(load_and_embed(p, encoder, opts, progress, &mut embedded)?);
    }
    for p in &opts.eval {
        let sha = sha256_hex(&std::fs::read(p).map_err(|source| TrainError::Io {
            path: p.clone(),
            source,
        })?);
        if files.iter().any(|f| f.info.sha256 == sha) {
            return Err(TrainError::Options(format!(
                "evaluation file {} is also a training file",
                p.display()
            )));
        }
    }

    // Split by statement text (the same text under two targets stays on one side).
    let all: Vec<(usize, &StanceExample, &Vec<f32>)> = files
        .iter()
        .enumerate()
        .flat_map(|(fi, f)| f.rows.iter().zip(&f.text_emb).map(move |(r, e)| (fi, r, e)))
        .collect();
    let (targets, tidx_all) = embed_targets(all.iter().map(|(_, r, _)| *r), encoder, opts)?;
    let v = matrix(&targets, dim)?;
    // For the synthetic NONE pairs: per file, the targets of the other files (with one file: all).
    let others: Vec<Vec<u32>> = (0..files.len())
        .map(|fi| {
            let mut own = vec![false; targets.len()];
            let mut any = vec![false; targets.len()];
            for (i, (f, _, _)) in all.iter().enumerate() {
                any[tidx_all[i] as usize] = true;
                if *f == fi {
                    own[tidx_all[i] as usize] = true;
                }
            }
            let o: Vec<u32> = (0..targets.len() as u32)
                .filter(|&t| !own[t as usize])
                .collect();
            if o.is_empty() {
                (0..targets.len() as u32).collect()
            } else {
                o
            }
        })
        .collect();
    let mut train_idx = Vec::new();
    let mut held_idx = Vec::new();
    for (i, (_, r, _)) in all.iter().enumerate() {
        if split_value(opts.seed, &r.text) < opts.held_out_fraction {
            held_idx.push(i);
        } else {
            train_idx.push(i);
        }
    }
    if train_idx.is_empty() {
        return Err(TrainError::Options(
            "no training rows left after the held-out split".into(),
        ));
    }
    if held_idx.is_empty() {
        progress(TrainEvent::Message(
            "no held-out rows: model selection and temperature use the training rows",
        ));
    }
    let mut rng = Rng(opts.seed ^ 0x5354_414e_4345);
    let build = |idx: &[usize], rng: &mut Rng| -> candle_core::Result<(Split, Vec<usize>)> {
        let u: Vec<Vec<f32>> = idx.iter().map(|&i| all[i].2.clone()).collect();
        let ex: Vec<Ex> = idx
            .iter()
            .enumerate()
            .map(|(k, &i)| (k as u32, tidx_all[i], all[i].1.label.index() as u32))
            .collect();
        let row_file: Vec<usize> = idx.iter().map(|&i| all[i].0).collect();
        let mut split = Split {
            u: matrix(&u, dim)?,
            ex,
        };
        let n = split.ex.len();
        add_none_pairs(&mut split.ex, n, opts.none_pairs, &others, &row_file, rng);
        Ok((split, row_file))
    };
    let (mut tr, tr_files) = build(&train_idx, &mut rng)?;
    let n_real = train_idx.len();
    let ho = if held_idx.is_empty() {
        build(&train_idx, &mut rng)?.0
    } else {
        build(&held_idx, &mut rng)?.0
    };
    let y_ho_vec = ho.labels();

    // Class weights: inverse frequency over the labels present (synthetic pairs included).
    let mut counts = [0usize; 3];
    for e in &tr.ex {
        counts[e.2 as usize] += 1;
    }
    let total: usize = counts.iter().sum();
    let present = counts.iter().filter(|&&c| c > 0).count() as f32;
    let class_weights: [f32; 3] = std::array::from_fn(|c| {
        if !opts.class_balanced {
            1.0
        } else if counts[c] == 0 {
            0.0
        } else {
            total as f32 / (present * counts[c] as f32)
        }
    });
    let cw = Tensor::new(&class_weights, &Device::Cpu)?;
    let msg = format!(
        "training rows {} + {} synthetic NONE pairs (FAVOR {}, AGAINST {}, NONE {}), held-out rows {} + {} synthetic, distinct targets {}",
        n_real,
        tr.ex.len() - n_real,
        counts[0],
        counts[1],
        counts[2],
        held_idx.len(),
        ho.ex.len() - if held_idx.is_empty() { n_real } else { held_idx.len() },
        targets.len()
    );
    progress(TrainEvent::Message(&msg));

    // Train.
    let t_train = Instant::now();
    let params = Params::init(&mut rng, 4 * dim, opts.hidden)?;
    let mut opt = AdamW::new(
        params.vars(),
        ParamsAdamW {
            lr: opts.lr,
            weight_decay: opts.weight_decay,
            ..Default::default()
        },
    )?;
    let mut epochs = Vec::new();
    let mut best: Option<(usize, f32, f32, [Tensor; 4])> = None; // epoch, f1, loss, weights
    let keep = 1.0 - opts.dropout;
    for epoch in 1..=opts.epochs {
        let t0 = Instant::now();
        if epoch > 1 {
            // Fresh synthetic pairs each epoch.
            add_none_pairs(
                &mut tr.ex,
                n_real,
                opts.none_pairs,
                &others,
                &tr_files,
                &mut rng,
            );
        }
        let mut order = tr.ex.clone();
        rng.shuffle(&mut order);
        let mut loss_sum = 0f64;
        let mut batches = 0usize;
        for chunk in order.chunks(opts.batch_size) {
            let (f, y) = tr.batch_noisy(&v, chunk, Some((&mut rng, opts.target_noise)))?;
            let mask = if opts.dropout > 0.0 {
                let m: Vec<f32> = (0..chunk.len() * opts.hidden)
                    .map(|_| {
                        if rng.uniform() < keep {
                            1.0 / keep
                        } else {
                            0.0
                        }
                    })
                    .collect();
                Some(Tensor::from_vec(
                    m,
                    (chunk.len(), opts.hidden),
                    &Device::Cpu,
                )?)
            } else {
                None
            };
            let logits = head_logits(
                &f,
                params.w1.as_tensor(),
                params.b1.as_tensor(),
                params.w2.as_tensor(),
                params.b2.as_tensor(),
                mask.as_ref(),
            )?;
            let loss = weighted_ce(&logits, &y, &cw)?;
            opt.backward_step(&loss)?;
            loss_sum += loss.to_scalar::<f32>()? as f64;
            batches += 1;
        }
        let w = params.snapshot()?;
        let logits = ho.logits(&v, &w)?;
        let y_ho = Tensor::new(y_ho_vec.as_slice(), &Device::Cpu)?;
        let held_loss = weighted_ce(&logits, &y_ho, &cw)?.to_scalar::<f32>()?;
        let gold: Vec<Label> = y_ho_vec.iter().map(|&c| Label::ALL[c as usize]).collect();
        let scores = set_scores(&gold, &argmax_labels(&logits)?);
        let stats = EpochStats {
            epoch,
            train_loss: (loss_sum / batches.max(1) as f64) as f32,
            held_out_loss: held_loss,
            held_out: scores,
            seconds: t0.elapsed().as_secs_f32(),
        };
        progress(TrainEvent::Epoch(&stats));
        let f1 = stats.held_out.macro_f1;
        let better = match &best {
            None => true,
            Some((_, bf, bl, _)) => f1 > *bf || (f1 == *bf && held_loss < *bl),
        };
        if better {
            best = Some((epoch, f1, held_loss, w));
        }
        epochs.push(stats);
        if epoch - best.as_ref().map(|b| b.0).unwrap_or(epoch) >= opts.patience {
            break;
        }
    }
    let (best_epoch, _, _, w) = best.expect("at least one epoch ran");

    // Temperature on the held-out logits of the best epoch.
    let logits_ho = ho.logits(&v, &w)?;
    let temperature = fit_temperature(&logits_ho.to_vec2::<f32>()?, &y_ho_vec);
    let gold: Vec<Label> = y_ho_vec.iter().map(|&c| Label::ALL[c as usize]).collect();
    let held_out = set_scores(&gold, &argmax_labels(&logits_ho)?);
    let training_seconds = t_train.elapsed().as_secs_f32();

    // Write the weights, then the metadata with their hash.
    std::fs::create_dir_all(&opts.out_dir).map_err(|source| TrainError::Io {
        path: opts.out_dir.clone(),
        source,
    })?;
    let weights_path = opts.out_dir.join(HEAD_WEIGHTS_FILE);
    let meta_path = opts.out_dir.join(HEAD_META_FILE);
    let [w1, b1, w2, b2] = w;
    let tensors = HashMap::from([
        ("fc1.weight", w1),
        ("fc1.bias", b1),
        ("fc2.weight", w2),
        ("fc2.bias", b2),
    ]);
    candle_core::safetensors::save(&tensors, &weights_path)?;
    let wbytes = std::fs::read(&weights_path).map_err(|source| TrainError::Io {
        path: weights_path.clone(),
        source,
    })?;
    let weights_sha256 = sha256_hex(&wbytes);
    let mut meta = HeadMeta {
        format: HEAD_FORMAT.into(),
        labels: Label::ALL.iter().map(|l| l.as_str().to_string()).collect(),
        features: HEAD_FEATURES.into(),
        embedding_dim: dim,
        hidden: opts.hidden,
        activation: "gelu".into(),
        temperature,
        encoder: HeadEncoderInfo {
            repo: ENCODER_REPO.into(),
            revision: encoder.revision().map(str::to_string),
            weights_sha256: encoder.weights_sha256().to_string(),
            pooling: "mean over the attention mask, L2-normalised".into(),
            max_tokens: ENCODER_MAX_TOKENS,
        },
        weights_sha256: weights_sha256.clone(),
        weights_dtype: "F32".into(),
        training: Some(HeadTrainingInfo {
            command: opts.command.clone(),
            standpoint_version: env!("CARGO_PKG_VERSION").into(),
            data: files.iter().map(|f| f.info.clone()).collect(),
            held_out_fraction: opts.held_out_fraction,
            train_rows: n_real,
            held_out_rows: held_idx.len(),
            none_pairs: opts.none_pairs,
            target_noise: opts.target_noise,
            seed: opts.seed,
            epochs_max: opts.epochs,
            epochs_run: epochs.len(),
            best_epoch,
            learning_rate: opts.lr,
            weight_decay: opts.weight_decay,
            batch_size: opts.batch_size,
            dropout: opts.dropout,
            class_weights,
            seconds: 0.0,
        }),
        scores: BTreeMap::from([("held_out".to_string(), held_out.clone())]),
        eval_data: Vec::new(),
    };
    drop(files);

    // Score the evaluation files with the written head.
    let mut eval = BTreeMap::new();
    if !opts.eval.is_empty() {
        let head = StanceHead::from_bytes(&wbytes, &serde_json::to_string(&meta).unwrap())?;
        for p in &opts.eval {
            let (info, scores) = evaluate_file(p, encoder, &head, opts, progress, &mut embedded)?;
            meta.eval_data.push(info);
            meta.scores.insert(set_name(p), scores.clone());
            eval.insert(set_name(p), scores);
        }
    }
    if let Some(t) = meta.training.as_mut() {
        t.seconds = t_start.elapsed().as_secs_f32();
    }
    let json = serde_json::to_string_pretty(&meta).expect("metadata serialises") + "\n";
    std::fs::write(&meta_path, json).map_err(|source| TrainError::Io {
        path: meta_path.clone(),
        source,
    })?;
    Ok(HeadTrainReport {
        weights_path,
        meta_path,
        weights_sha256,
        epochs,
        best_epoch,
        temperature,
        held_out,
        eval,
        train_rows: n_real,
        held_out_rows: held_idx.len(),
        texts_embedded: embedded.0,
        embedding_seconds: embedded.1,
        training_seconds,
    })
}

/// Scores `head` on one labelled file (embeddings cached like training data).
fn evaluate_file(
    path: &Path,
    encoder: &Encoder,
    head: &StanceHead,
    opts: &HeadTrainOptions,
    progress: &(dyn Fn(TrainEvent<'_>) + Sync),
    embedded: &mut (usize, f32),
) -> Result<(DataFileInfo, SetScores), TrainError> {
    let f = load_and_embed(path, encoder, opts, progress, embedded)?;
    let (targets, tidx) = embed_targets(f.rows.iter(), encoder, opts)?;
    let v: Vec<Vec<f32>> = tidx.iter().map(|&i| targets[i as usize].clone()).collect();
    let scores = head.scores(&f.text_emb, &v)?;
    let gold: Vec<Label> = f.rows.iter().map(|r| r.label).collect();
    let pred: Vec<Label> = scores.iter().map(|s| s.label()).collect();
    Ok((f.info, set_scores(&gold, &pred)))
}

/// Scores a head (with its encoder) on labelled stance files; embeddings are cached as in
/// training. Returns one entry per file, by set name (file stem).
pub fn evaluate_head(
    files: &[PathBuf],
    encoder: &Encoder,
    head: &StanceHead,
    opts: &HeadTrainOptions,
    progress: &(dyn Fn(TrainEvent<'_>) + Sync),
) -> Result<Vec<(String, DataFileInfo, SetScores)>, TrainError> {
    head.check_encoder(encoder.weights_sha256())?;
    let mut embedded = (0, 0.0);
    files
        .iter()
        .map(|p| {
            let (info, s) = evaluate_file(p, encoder, head, opts, progress, &mut embedded)?;
            Ok((set_name(p), info, s))
        })
        .collect()
}

/// Scores any [`StanceModel`] on labelled examples, in batches of `batch_size` (in file order).
pub fn evaluate_model(
    model: &dyn StanceModel,
    rows: &[StanceExample],
    batch_size: usize,
) -> Result<SetScores, ModelError> {
    let mut pred = Vec::with_capacity(rows.len());
    for chunk in rows.chunks(batch_size.max(1)) {
        let pairs: Vec<crate::model::Pair<'_>> = chunk
            .iter()
            .map(|r| crate::model::Pair {
                text: &r.text,
                target: &r.target,
            })
            .collect();
        pred.extend(model.predict(&pairs)?.iter().map(|s| s.label()));
    }
    let gold: Vec<Label> = rows.iter().map(|r| r.label).collect();
    Ok(set_scores(&gold, &pred))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The draws ahead are the draws a loop gives, and skipping lands where the loop ends.
    #[test]
    fn draws_ahead_and_skips_match_drawing_in_order() {
        let mut serial = Rng(17);
        let ahead = Rng(17);
        for i in 0..1000 {
            assert_eq!(
                ahead.uniform_ahead(i).to_bits(),
                serial.uniform().to_bits(),
                "draw {i}"
            );
        }
        let mut skipped = Rng(17);
        skipped.skip(1000);
        assert_eq!(skipped.next_u64(), serial.next_u64());
    }

    #[test]
    fn scores_of_a_small_confusion() {
        use Label::*;
        let gold = [Favor, Favor, Against, Against, None, None];
        let pred = [Favor, Against, Against, Against, None, Favor];
        let s = set_scores(&gold, &pred);
        assert_eq!(s.rows, 6);
        assert!((s.accuracy - 4.0 / 6.0).abs() < 1e-6);
        // FAVOR: tp 1, gold 2, pred 2 -> 0.5; AGAINST: tp 2, gold 2, pred 3 -> 0.8; NONE: 2/3.
        assert!((s.f1[0] - 0.5).abs() < 1e-6);
        assert!((s.f1[1] - 0.8).abs() < 1e-6);
        assert!((s.f1[2] - 2.0 / 3.0).abs() < 1e-6);
        assert!((s.macro_f1 - (0.5 + 0.8 + 2.0 / 3.0) / 3.0).abs() < 1e-6);
        assert!((s.f_avg - 0.65).abs() < 1e-6);
        // A label absent from gold and predictions does not count in macro-F1.
        let s = set_scores(&[Favor, Against], &[Favor, Against]);
        assert_eq!(s.macro_f1, 1.0);
    }

    #[test]
    fn temperature_undoes_a_scaling() {
        // Logits drawn from a calibrated model, then multiplied by 3: the fit should find ~3.
        let mut rng = Rng(5);
        let mut logits = Vec::new();
        let mut y = Vec::new();
        for _ in 0..4000 {
            let l: Vec<f32> = (0..3).map(|_| rng.normal()).collect();
            let p = crate::model::softmax(&l);
            let r = rng.uniform();
            let c = if r < p[0] {
                0
            } else if r < p[0] + p[1] {
                1
            } else {
                2
            };
            logits.push(l.iter().map(|x| x * 3.0).collect::<Vec<f32>>());
            y.push(c);
        }
        let t = fit_temperature(&logits, &y);
        assert!((t - 3.0).abs() < 0.4, "fitted T {t}");
    }

    #[test]
    fn split_is_deterministic_and_seeded() {
        let a = split_value(1, "some text");
        assert_eq!(a, split_value(1, "some text"));
        assert_ne!(a, split_value(2, "some text"));
        let held = (0..1000)
            .filter(|i| split_value(7, &format!("text {i}")) < 0.1)
            .count();
        assert!((60..140).contains(&held), "{held}");
    }
}
