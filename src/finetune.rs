//! `standpoint train`: fine-tunes the base encoder as a target-conditioned stance
//! cross-encoder ([`crate::model::cross`]) on labelled stance JSONL.
//!
//! How it trains, in order:
//! 1. Read the training files (each file is a *source*) and the development files
//!    (`{"id", "text", "target", "label"}` per line). Optionally add synthetic NONE pairs: a
//!    training statement paired with a target from another source, which it is taken not to
//!    address.
//! 2. Tokenize every pair as `[CLS] target [SEP] statement [SEP]`, cut at `max_tokens`.
//! 3. The embeddings and the lower `L − train_layers` encoder layers stay frozen, so their output
//!    is computed once per pair (length-sorted batches) and kept in memory; each epoch then runs
//!    only the trainable top layers, forward and backward. With `train_layers = L` everything
//!    but the embeddings is trained.
//! 4. The trainable layers are this module's own differentiable BERT layer ([`TrainLayer`];
//!    candle-transformers' BERT uses a fused layer norm without a backward pass): one candle
//!    operation per layer with a hand-written backward pass ([`crate::train_ops::encoder_layer`]),
//!    checked against candle-transformers' forward, against the same layer composed of separate
//!    operations, and against PyTorch's gradients in the tests. Hidden dropout is drawn from the
//!    seeded generator, so a run is reproducible with `--seed`.
//! 5. Loss: cross-entropy weighted so that, when asked, every source and every label within a
//!    source weigh the same. AdamW (separate learning rates for the encoder layers and the
//!    classifier), linear warm-up then linear decay, gradient accumulation.
//! 6. After each epoch: scores on every development file, a checkpoint in
//!    `OUT/checkpoints/epoch-N`, and the best epoch by macro-F1 on the *first* development file.
//! 7. The best epoch is rounded to the saved precision (f16 by default), re-scored, and
//!    calibrated: the NONE bias that maximises macro-F1 (on the first development file, or by
//!    default half on it and half on the mean of the others), then the temperature that
//!    minimises the negative log-likelihood on the same files. Expected calibration error is
//!    reported before and after.
//! 8. `OUT/standpoint.json` + `OUT/delta.safetensors` are written: a directory `--model` loads.

use crate::eval::expected_calibration_error;
use crate::model::cross::{
    batch_tokenizer, mean_pool, merged_weights, read_bert_config, BaseModel, Calibration,
    CrossMeta, CLASSIFIER, DELTA_FILE, FORMAT, META_FILE,
};
use crate::model::default::{sha256_hex, weights_sha256, SetScores};
use crate::model::native::Precision;
use crate::model::{Label, ModelError};
use crate::train::{
    golden_min, nll_at, read_stance_jsonl, set_name, set_scores, Rng, StanceExample, TrainError,
};
#[cfg(test)]
use crate::train_ops::{attention_qkv, dropout_add, gelu, layer_norm};
use crate::train_ops::{encoder_layer, encoder_layer_params, linear_in as lin, FusedAdamW};
use crate::train_ops::{GradSink, FLAT_ORDER};
use candle_core::backprop::GradStore;
use candle_core::{DType, Device, Tensor, Var, D};
use candle_nn::{Optimizer, ParamsAdamW, VarBuilder};
use candle_transformers::models::bert::{BertModel, Config as BertConfig};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// A model to start from instead of the bare base encoder: its metadata and delta.
#[derive(Debug, Clone)]
pub struct InitModel {
    pub name: String,
    pub meta: CrossMeta,
    pub delta: Vec<u8>,
}

/// Options of [`finetune`].
#[derive(Debug, Clone)]
pub struct FinetuneOptions {
    /// Training files; each one is a source for balancing.
    pub train: Vec<PathBuf>,
    /// Development files: scored after every epoch; the first picks the epoch and calibrates.
    pub dev: Vec<PathBuf>,
    pub out_dir: PathBuf,
    /// Start from this model (e.g. the built-in default) instead of the base encoder.
    pub init: Option<InitModel>,
    /// Top encoder layers to train (0: only the classifier).
    pub train_layers: usize,
    pub epochs: usize,
    /// Peak learning rate of the encoder layers.
    pub lr: f64,
    /// Peak learning rate of the classifier.
    pub head_lr: f64,
    /// Share of the steps spent warming up linearly; then linear decay to 0.
    pub warmup: f32,
    pub weight_decay: f64,
    pub batch_size: usize,
    /// Micro-batches per optimiser step.
    pub accumulate: usize,
    pub max_tokens: usize,
    pub dropout: f32,
    pub seed: u64,
    pub balance_classes: bool,
    pub balance_sources: bool,
    /// At most this many rows per source (a seeded sample, drawn once before training).
    pub max_per_source: Option<usize>,
    /// Synthetic NONE pairs per training row (statement × another source's target).
    pub none_pairs: f32,
    /// Save the delta in f16 (else f32).
    pub save_f16: bool,
    /// Fit the NONE bias and temperature on the first development set only (else on the first
    /// and the others with equal halves of the weight).
    pub calibrate_on_first: bool,
    /// Development sets (indices into `dev`) whose mean macro-F1 picks the epoch.
    pub select: Vec<usize>,
    /// Rows drawn per epoch by balanced sampling: every source gets an equal share, drawn
    /// without replacement from a per-source shuffled order that continues across epochs (so
    /// the whole of a large source is used over the epochs, and a small one is repeated).
    /// `None`: every row once per epoch, balanced by loss weights.
    pub rows_per_epoch: Option<usize>,
    /// Number format of the encoder layers' matrix products: f32, or bf16 operands with f32
    /// sums (mixed precision; weights, gradients and the optimiser stay f32).
    pub precision: Precision,
    /// The command line, recorded in the metadata.
    pub command: String,
}

impl Default for FinetuneOptions {
    fn default() -> Self {
        FinetuneOptions {
            train: Vec::new(),
            dev: Vec::new(),
            out_dir: PathBuf::from("model"),
            init: None,
            train_layers: 2,
            epochs: 3,
            lr: 5e-5,
            head_lr: 1e-3,
            warmup: 0.1,
            weight_decay: 0.01,
            batch_size: 32,
            accumulate: 1,
            max_tokens: 128,
            dropout: 0.1,
            seed: 17,
            balance_classes: true,
            balance_sources: true,
            max_per_source: None,
            none_pairs: 0.1,
            save_f16: true,
            calibrate_on_first: false,
            select: vec![0],
            rows_per_epoch: None,
            precision: Precision::F32,
            command: "standpoint train".into(),
        }
    }
}

/// Progress of [`finetune`].
#[derive(Debug, Clone)]
pub enum FinetuneEvent<'a> {
    /// Running the frozen layers over every pair once.
    Caching {
        done: usize,
        total: usize,
    },
    /// One optimiser step.
    Step {
        epoch: usize,
        step: usize,
        steps: usize,
        /// Mean training loss of the epoch so far.
        loss: f32,
        /// Real (unpadded) tokens per second through the trainable layers.
        tokens_per_s: f32,
    },
    Epoch(&'a FtEpoch),
    Message(&'a str),
}

/// One epoch.
#[derive(Debug, Clone, Serialize)]
pub struct FtEpoch {
    pub epoch: usize,
    pub train_loss: f32,
    pub train_rows: usize,
    pub tokens_per_s: f32,
    pub seconds: f32,
    /// Scores per development set (file stem).
    pub dev: BTreeMap<String, SetScores>,
}

/// Calibration error of one development set.
#[derive(Debug, Clone, Serialize)]
pub struct DevCalibration {
    pub set: String,
    /// Expected calibration error (15 equal-width confidence bins), raw softmax.
    pub ece_before: f32,
    /// The same with the fitted calibration.
    pub ece_after: f32,
    pub nll_before: f32,
    pub nll_after: f32,
}

/// What [`finetune`] did.
#[derive(Debug, Clone, Serialize)]
pub struct FinetuneReport {
    pub out_dir: PathBuf,
    pub delta_sha256: String,
    pub delta_bytes: usize,
    pub trained_layers: usize,
    pub epochs: Vec<FtEpoch>,
    pub best_epoch: usize,
    pub calibration: Calibration,
    /// Scores of the saved model (rounded, calibrated) per development set.
    pub dev: BTreeMap<String, SetScores>,
    pub dev_calibration: Vec<DevCalibration>,
    pub train_rows: usize,
    pub synthetic_none_rows: usize,
    pub cache_seconds: f32,
    pub train_seconds: f32,
    pub tokens_per_s: f32,
}

/// One tokenized pair.
struct Row {
    ids: Vec<u32>,
    types: Vec<u32>,
    label: u32,
    source: usize,
}

/// A trainable BERT layer (post-layer-norm, as in BERT): self-attention, then the feed-forward
/// block, each with a residual connection and layer norm. Weight names follow transformers'
/// `encoder.layer.{i}.…`.
pub(crate) struct TrainLayer {
    /// The 16 parameters as one variable, in the flat order the fused layer operation takes
    /// ([`encoder_layer_params`]): no concatenation per step, and one gradient.
    flat: Var,
    /// Each parameter's name (`encoder.layer.{i}.…`), offset in `flat` and shape, in BERT's
    /// order ([`LAYER_PARAMS`]).
    params: Vec<(String, usize, Vec<usize>)>,
    /// Where the backward pass leaves the parameters' gradient when training
    /// ([`TrainLayer::gradients_to_sink`]); without it, candle's gradient store gets it.
    sink: Option<GradSink>,
    heads: usize,
    /// The feed-forward size.
    intermediate: usize,
    eps: f64,
    /// Number format of the matrix products (f32, or bf16 operands with f32 sums).
    precision: Precision,
}

const LAYER_PARAMS: [&str; 16] = [
    "attention.self.query.weight",
    "attention.self.query.bias",
    "attention.self.key.weight",
    "attention.self.key.bias",
    "attention.self.value.weight",
    "attention.self.value.bias",
    "attention.output.dense.weight",
    "attention.output.dense.bias",
    "attention.output.LayerNorm.weight",
    "attention.output.LayerNorm.bias",
    "intermediate.dense.weight",
    "intermediate.dense.bias",
    "output.dense.weight",
    "output.dense.bias",
    "output.LayerNorm.weight",
    "output.LayerNorm.bias",
];

/// A seeded inverted-dropout mask of `n` factors: each 1/(1 − p) with probability `1 − p`,
/// else 0; `None` without `rng` or with p ≤ 0.
fn dropout_mask(n: usize, p: f32, rng: Option<&mut Rng>) -> Option<Vec<f32>> {
    let rng = rng?;
    if p <= 0.0 {
        return None;
    }
    let scale = 1.0 / (1.0 - p);
    // The same values as `n` calls of `rng.uniform()` in order, drawn on the pool's threads.
    use rayon::prelude::*;
    let from = Rng(rng.0);
    let mask = (0..n as u64)
        .into_par_iter()
        .map(|i| {
            if from.uniform_ahead(i) < p {
                0.0
            } else {
                scale
            }
        })
        .collect();
    rng.skip(n as u64);
    Some(mask)
}

/// Seeded inverted dropout: keeps each value with probability `1 − p`, scaled by `1/(1 − p)`.
fn dropout(x: &Tensor, p: f32, rng: Option<&mut Rng>) -> candle_core::Result<Tensor> {
    match dropout_mask(x.elem_count(), p, rng) {
        None => Ok(x.clone()),
        Some(mask) => x * Tensor::from_vec(mask, x.shape(), x.device())?,
    }
}

impl TrainLayer {
    /// Layer `index` of `weights` (names `encoder.layer.{index}.…`) as trainable variables.
    pub fn new(
        weights: &HashMap<String, Tensor>,
        index: usize,
        cfg: &BertConfig,
        precision: Precision,
    ) -> Result<TrainLayer, ModelError> {
        let mut tensors = Vec::with_capacity(LAYER_PARAMS.len());
        for p in LAYER_PARAMS {
            let name = format!("encoder.layer.{index}.{p}");
            let t = weights.get(&name).ok_or_else(|| ModelError::Config {
                model: "base encoder".into(),
                message: format!("has no tensor {name}: not a BERT encoder"),
            })?;
            tensors.push((name, t.to_dtype(DType::F32)?));
        }
        let refs: Vec<&Tensor> = tensors.iter().map(|(_, t)| t).collect();
        let flat = Var::from_tensor(&encoder_layer_params(&refs)?)?;
        // Offsets in the flat order (query, key and value weights, their biases, the rest).
        let mut offset = vec![0; LAYER_PARAMS.len()];
        let mut at = 0;
        for i in FLAT_ORDER {
            offset[i] = at;
            at += tensors[i].1.elem_count();
        }
        let params = tensors
            .into_iter()
            .zip(offset)
            .map(|((name, t), off)| (name, off, t.dims().to_vec()))
            .collect();
        Ok(TrainLayer {
            flat,
            params,
            sink: None,
            heads: cfg.num_attention_heads,
            intermediate: cfg.intermediate_size,
            eps: cfg.layer_norm_eps,
            precision,
        })
    }

    /// From now on the backward pass adds the parameters' gradient to a sink of this layer's
    /// own instead of candle's gradient store; returns the variable and its sink, for
    /// [`FusedAdamW::with_sinks`].
    fn gradients_to_sink(&mut self) -> (Var, GradSink) {
        let sink = GradSink::default();
        self.sink = Some(sink.clone());
        (self.flat.clone(), sink)
    }

    /// Parameter `i` (in [`LAYER_PARAMS`] order) of a flat tensor laid out as this layer's
    /// parameters: a view, differentiable.
    fn param_of(&self, flat: &Tensor, i: usize) -> candle_core::Result<Tensor> {
        let (_, off, shape) = &self.params[i];
        flat.narrow(0, *off, shape.iter().product())?
            .reshape(shape.as_slice())
    }

    /// Each parameter's name with its part of `flat` (the parameters themselves, or their
    /// gradient), copied.
    fn named(&self, flat: &Tensor) -> candle_core::Result<Vec<(String, Tensor)>> {
        (0..self.params.len())
            .map(|i| Ok((self.params[i].0.clone(), self.param_of(flat, i)?.copy()?)))
            .collect()
    }

    #[cfg(test)]
    fn p(&self, i: usize) -> Tensor {
        self.param_of(self.flat.as_tensor(), i).unwrap()
    }

    /// `x` (b, l, h), `mask` (b, l) with 1 for a token and 0 for padding. Dropout when `rng`
    /// is given. The whole layer is one operation with its own backward pass
    /// ([`crate::train_ops::encoder_layer`]).
    pub fn forward(
        &self,
        x: &Tensor,
        mask: &Tensor,
        p_drop: f32,
        mut rng: Option<&mut Rng>,
    ) -> candle_core::Result<Tensor> {
        let (b, l, h) = x.dims3()?;
        let dropout = [
            dropout_mask(b * l * h, p_drop, rng.as_deref_mut()),
            dropout_mask(b * l * h, p_drop, rng),
        ];
        encoder_layer(
            x,
            self.flat.as_tensor(),
            mask,
            self.heads,
            self.intermediate,
            self.eps,
            self.precision,
            dropout,
            self.sink.clone(),
        )
    }

    /// [`TrainLayer::forward`] composed from the separate fused operations, the tests'
    /// reference for the whole-layer operation.
    #[cfg(test)]
    fn forward_composed(
        &self,
        x: &Tensor,
        mask: &Tensor,
        p_drop: f32,
        mut rng: Option<&mut Rng>,
    ) -> candle_core::Result<Tensor> {
        let (b, l, h) = x.dims3()?;
        let hd = h / self.heads;
        let x2 = x.reshape((b * l, h))?;
        let layer = |x: &Tensor, w: usize, b: usize| lin(x, &self.p(w), &self.p(b), self.precision);
        // Query, key and value as one product with the three weight matrices stacked: the
        // input is read (and rounded, in bf16) once, and the backward pass gives the input's
        // gradient in one product instead of three products and two sums.
        let w_qkv = Tensor::cat(&[self.p(0), self.p(2), self.p(4)], 0)?;
        let b_qkv = Tensor::cat(&[self.p(1), self.p(3), self.p(5)], 0)?;
        let ctx = attention_qkv(
            &lin(&x2, &w_qkv, &b_qkv, self.precision)?,
            mask,
            self.heads,
            1.0 / (hd as f64).sqrt(),
        )?;
        let mask = dropout_mask(b * l * h, p_drop, rng.as_deref_mut());
        let a = dropout_add(&layer(&ctx, 6, 7)?, &x2, mask)?;
        let a = layer_norm(&a, &self.p(8), &self.p(9), self.eps)?;
        let i = gelu(&layer(&a, 10, 11)?)?;
        let mask = dropout_mask(b * l * h, p_drop, rng);
        let o = dropout_add(&layer(&i, 12, 13)?, &a, mask)?;
        layer_norm(&o, &self.p(14), &self.p(15), self.eps)?.reshape((b, l, h))
    }
}

/// The trainable part: top layers and the classifier.
struct Top {
    layers: Vec<TrainLayer>,
    w: Var,
    b: Var,
}

impl Top {
    fn logits(
        &self,
        x: &Tensor,
        mask: &Tensor,
        p_drop: f32,
        mut rng: Option<&mut Rng>,
    ) -> candle_core::Result<Tensor> {
        let mut h = x.clone();
        for layer in &self.layers {
            h = layer.forward(&h, mask, p_drop, rng.as_deref_mut())?;
        }
        let pooled = dropout(&mean_pool(&h, mask)?, p_drop, rng)?;
        lin(
            &pooled,
            self.w.as_tensor(),
            self.b.as_tensor(),
            Precision::F32,
        )
    }

    #[cfg(test)]
    fn encoder_vars(&self) -> Vec<Var> {
        self.layers.iter().map(|l| l.flat.clone()).collect()
    }

    /// Deep copies of every trainable tensor, by name.
    fn snapshot(&self) -> candle_core::Result<Snapshot> {
        let mut out = Vec::new();
        for l in &self.layers {
            out.extend(l.named(l.flat.as_tensor())?);
        }
        out.push((format!("{CLASSIFIER}.weight"), self.w.as_tensor().copy()?));
        out.push((format!("{CLASSIFIER}.bias"), self.b.as_tensor().copy()?));
        Ok(out)
    }

    fn restore(&self, snap: &[(String, Tensor)]) -> candle_core::Result<()> {
        let by_name: HashMap<&str, &Tensor> = snap.iter().map(|(n, t)| (n.as_str(), t)).collect();
        for l in &self.layers {
            let parts: Vec<&Tensor> = l
                .params
                .iter()
                .map(|(n, _, _)| by_name[n.as_str()])
                .collect();
            l.flat.set(&encoder_layer_params(&parts)?)?;
        }
        self.w
            .set(by_name[format!("{CLASSIFIER}.weight").as_str()])?;
        self.b.set(by_name[format!("{CLASSIFIER}.bias").as_str()])?;
        Ok(())
    }
}

/// Named copies of the trainable tensors.
type Snapshot = Vec<(String, Tensor)>;

/// Frozen-part outputs of a set of rows, one (len, h) tensor each.
struct Cache {
    hidden: Vec<Tensor>,
}

/// Pads and stacks cached rows into (b, l, h) plus the 0/1 mask (b, l).
fn assemble(
    cache: &Cache,
    idx: &[usize],
    dev: &Device,
) -> candle_core::Result<(Tensor, Tensor, usize)> {
    let l = idx
        .iter()
        .map(|&i| cache.hidden[i].dims()[0])
        .max()
        .unwrap_or(0);
    let mut rows = Vec::with_capacity(idx.len());
    let mut mask = Vec::with_capacity(idx.len() * l);
    let mut tokens = 0;
    for &i in idx {
        let t = &cache.hidden[i];
        let n = t.dim(0)?;
        tokens += n;
        rows.push(t.pad_with_zeros(0, 0, l - n)?);
        mask.extend((0..l).map(|j| if j < n { 1u32 } else { 0 }));
    }
    let x = Tensor::stack(&rows, 0)?;
    let m = Tensor::from_vec(mask, (idx.len(), l), dev)?;
    Ok((x, m, tokens))
}

/// The indices `0..n` sorted by `len`, cut into consecutive batches of at most `budget` padded
/// tokens (a batch's longest row, its last, times its rows; a row longer than the budget is a
/// batch of its own).
fn token_batches(n: usize, len: impl Fn(usize) -> usize, budget: usize) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| len(i));
    let mut batches = Vec::new();
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && (end + 1 - start) * len(order[end]) <= budget {
            end += 1;
        }
        batches.push(order[start..end].to_vec());
        start = end;
    }
    batches
}

/// Runs the frozen bottom over `rows` once, in length-sorted batches of at most
/// [`BATCH_TOKENS`] padded tokens.
fn build_cache(
    bottom: &BertModel,
    rows: &[Row],
    dev: &Device,
    done_before: usize,
    total: usize,
    progress: &(dyn Fn(FinetuneEvent<'_>) + Sync),
) -> Result<Cache, TrainError> {
    let mut hidden: Vec<Option<Tensor>> = vec![None; rows.len()];
    let mut done = done_before;
    for batch in token_batches(rows.len(), |i| rows[i].ids.len(), BATCH_TOKENS) {
        let batch = batch.as_slice();
        let l = rows[batch[batch.len() - 1]].ids.len();
        let (mut ids, mut types, mut mask) = (Vec::new(), Vec::new(), Vec::new());
        for &i in batch {
            let r = &rows[i];
            ids.extend_from_slice(&r.ids);
            types.extend_from_slice(&r.types);
            mask.extend(std::iter::repeat_n(1u32, r.ids.len()));
            let pad = l - r.ids.len();
            ids.extend(std::iter::repeat_n(0u32, pad));
            types.extend(std::iter::repeat_n(0u32, pad));
            mask.extend(std::iter::repeat_n(0u32, pad));
        }
        let b = batch.len();
        let ids = Tensor::from_vec(ids, (b, l), dev)?;
        let types = Tensor::from_vec(types, (b, l), dev)?;
        let mask = Tensor::from_vec(mask, (b, l), dev)?;
        let out = bottom.forward(&ids, &types, Some(&mask))?;
        for (j, &i) in batch.iter().enumerate() {
            hidden[i] = Some(out.get(j)?.narrow(0, 0, rows[i].ids.len())?.contiguous()?);
        }
        done += b;
        progress(FinetuneEvent::Caching { done, total });
    }
    Ok(Cache {
        hidden: hidden
            .into_iter()
            .map(|h| h.expect("every row cached"))
            .collect(),
    })
}

/// A development set.
struct DevSet {
    name: String,
    rows: Vec<Row>,
    cache: Cache,
}

/// Logits (Label order) of every row of a cached set, in length-sorted batches of at most
/// `budget` padded tokens (a row's logits do not depend on its batch). A budget in tokens, not
/// rows, keeps every activation under glibc's largest mmap threshold (32 MiB): 64 rows of 128
/// tokens made feed-forward activations of 48 MiB, each a fresh `mmap` whose pages the kernel
/// faults in and zeroes, about half of the page faults of a training run.
fn set_logits(
    top: &Top,
    rows_len: usize,
    cache: &Cache,
    dev: &Device,
    budget: usize,
) -> candle_core::Result<Vec<Vec<f32>>> {
    let mut out = vec![Vec::new(); rows_len];
    for chunk in token_batches(rows_len, |i| cache.hidden[i].dims()[0], budget) {
        let (x, m, _) = assemble(cache, &chunk, dev)?;
        let l = top.logits(&x, &m, 0.0, None)?.to_vec2::<f32>()?;
        for (&i, r) in chunk.iter().zip(l) {
            out[i] = r;
        }
    }
    Ok(out)
}

/// Padded tokens per batch when running the frozen part ([`build_cache`]) or scoring development
/// sets ([`set_logits`]).
const BATCH_TOKENS: usize = 4096;

fn argmax3(l: &[f32], none_bias: f32) -> Label {
    let v = [l[0], l[1], l[2] + none_bias];
    let mut best = 2;
    for i in [1, 0] {
        if v[i] > v[best] {
            best = i;
        }
    }
    Label::ALL[best]
}

fn scores_of(logits: &[Vec<f32>], gold: &[u32], none_bias: f32) -> SetScores {
    let gold: Vec<Label> = gold.iter().map(|&c| Label::ALL[c as usize]).collect();
    let pred: Vec<Label> = logits.iter().map(|l| argmax3(l, none_bias)).collect();
    set_scores(&gold, &pred)
}

fn with_bias(logits: &[Vec<f32>], none_bias: f32) -> Vec<Vec<f32>> {
    logits
        .iter()
        .map(|l| vec![l[0], l[1], l[2] + none_bias])
        .collect()
}

fn file_info(path: &Path, rows: usize) -> Result<serde_json::Value, TrainError> {
    let bytes = std::fs::read(path).map_err(|source| TrainError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(serde_json::json!({
        "path": path.display().to_string(),
        "sha256": sha256_hex(&bytes),
        "rows": rows,
    }))
}

fn tokenize(
    tok: &tokenizers::Tokenizer,
    ex: &[StanceExample],
    source: usize,
) -> Result<Vec<Row>, TrainError> {
    let mut rows = Vec::with_capacity(ex.len());
    for chunk in ex.chunks(256) {
        let inputs: Vec<tokenizers::EncodeInput> = chunk
            .iter()
            .map(|e| {
                tokenizers::EncodeInput::Dual(e.target.as_str().into(), e.text.as_str().into())
            })
            .collect();
        let encs = tok
            .encode_batch(inputs, true)
            .map_err(|e| ModelError::Tokenizer(e.to_string()))?;
        for (e, enc) in chunk.iter().zip(encs) {
            let n = enc.get_attention_mask().iter().filter(|&&m| m == 1).count();
            rows.push(Row {
                ids: enc.get_ids()[..n].to_vec(),
                types: enc.get_type_ids()[..n].to_vec(),
                label: e.label.index() as u32,
                source,
            });
        }
    }
    Ok(rows)
}

/// Per-row loss weights: every source (when `sources`) and every label within a source (when
/// `classes`) carry the same total weight; mean weight 1.
/// `n` rows, an equal share from each source (the first `n % sources` get one more), each
/// source read in its shuffled order from where the last epoch stopped, reshuffled on wrapping.
fn draw_balanced(cursors: &mut [(Vec<usize>, usize)], n: usize, rng: &mut Rng) -> Vec<usize> {
    let k = cursors.len().max(1);
    let mut out = Vec::with_capacity(n);
    for (s, (order, pos)) in cursors.iter_mut().enumerate() {
        if order.is_empty() {
            continue;
        }
        let share = n / k + usize::from(s < n % k);
        for _ in 0..share {
            if *pos == order.len() {
                rng.shuffle(order);
                *pos = 0;
            }
            out.push(order[*pos]);
            *pos += 1;
        }
    }
    out
}

fn row_weights(rows: &[Row], idx: &[usize], classes: bool, sources: bool) -> Vec<f32> {
    let mut per_source: HashMap<usize, usize> = HashMap::new();
    let mut per_class: HashMap<(usize, u32), usize> = HashMap::new();
    for &i in idx {
        *per_source.entry(rows[i].source).or_default() += 1;
        *per_class
            .entry((rows[i].source, rows[i].label))
            .or_default() += 1;
    }
    let n_sources = per_source.len() as f32;
    let mut w: Vec<f32> = idx
        .iter()
        .map(|&i| {
            let r = &rows[i];
            let ns = per_source[&r.source] as f32;
            let src = if sources { 1.0 / (n_sources * ns) } else { 1.0 };
            let cls = if classes {
                let classes_here = per_class.keys().filter(|(s, _)| *s == r.source).count() as f32;
                ns / (classes_here * per_class[&(r.source, r.label)] as f32)
            } else {
                1.0
            };
            src * cls
        })
        .collect();
    let mean = w.iter().sum::<f32>() / w.len().max(1) as f32;
    if mean > 0.0 {
        for x in &mut w {
            *x /= mean;
        }
    }
    w
}

/// Weighted mean cross-entropy of `logits` (n, 3) against `y` with per-row weights `w`.
fn weighted_loss(logits: &Tensor, y: &Tensor, w: &Tensor) -> candle_core::Result<Tensor> {
    let logp = candle_nn::ops::log_softmax(logits, D::Minus1)?;
    let picked = logp.gather(&y.unsqueeze(1)?, 1)?.squeeze(1)?;
    (picked * w)?.sum_all()?.neg()? / w.sum_all()?.to_scalar::<f32>()? as f64
}

fn add_grads(acc: &mut GradStore, new: &GradStore, vars: &[Var]) -> candle_core::Result<()> {
    for v in vars {
        if let Some(g) = new.get(v.as_tensor()) {
            let sum = match acc.get(v.as_tensor()) {
                Some(a) => (a + g)?,
                None => g.clone(),
            };
            acc.insert(v.as_tensor(), sum);
        }
    }
    Ok(())
}

fn scale_grads(acc: &mut GradStore, vars: &[Var], s: f64) -> candle_core::Result<()> {
    for v in vars {
        if let Some(g) = acc.get(v.as_tensor()) {
            let scaled = (g * s)?;
            acc.insert(v.as_tensor(), scaled);
        }
    }
    Ok(())
}

/// The most macro-F1 the fitted NONE bias may cost any one development set (0.01 = a point).
pub const BIAS_MAX_LOSS: f32 = 0.01;

/// A fitted calibration and what it does on each development set.
#[derive(Debug, Clone, Serialize)]
pub struct CalibrationFit {
    pub calibration: Calibration,
    /// Scores with the fitted NONE bias, per set.
    pub scores: BTreeMap<String, SetScores>,
    pub sets: Vec<DevCalibration>,
}

/// Fits the NONE bias and the temperature to raw logits (Label order) of labelled sets. The bias
/// (a grid from −4 to 4 in steps of 0.1) maximises macro-F1 on the first set when `first_only`,
/// else half of it plus half the mean over the other sets, among the biases that cost no set
/// more than [`BIAS_MAX_LOSS`] against no bias (a bias that suits the main target but wrecks
/// unseen ones is not wanted); then the temperature minimises the NLL with the same weighting.
pub fn fit_calibration(
    names: &[String],
    logits: &[Vec<Vec<f32>>],
    gold: &[Vec<u32>],
    first_only: bool,
) -> CalibrationFit {
    let n = if first_only { 1 } else { logits.len() };
    let criterion = |b: f32| -> f32 {
        let first = scores_of(&logits[0], &gold[0], b).macro_f1;
        if n == 1 {
            return first;
        }
        let rest: f32 = (1..n)
            .map(|k| scores_of(&logits[k], &gold[k], b).macro_f1)
            .sum::<f32>()
            / (n - 1) as f32;
        (first + rest) / 2.0
    };
    // A bias may not cost any set more than a point of macro-F1 against no bias: a bias that
    // lifts the main target by trading another target away is not taken.
    let base: Vec<f32> = (0..n)
        .map(|k| scores_of(&logits[k], &gold[k], 0.0).macro_f1)
        .collect();
    let harmless = |b: f32| -> bool {
        (0..n).all(|k| scores_of(&logits[k], &gold[k], b).macro_f1 >= base[k] - BIAS_MAX_LOSS)
    };
    let mut none_bias = 0f32;
    let mut best = criterion(0.0);
    for k in -40..=40 {
        let b = k as f32 * 0.1;
        let c = criterion(b);
        if c > best + 1e-6 && harmless(b) {
            best = c;
            none_bias = b;
        }
    }
    // The same weighting for the temperature: half the NLL of the first set, half the mean NLL of
    // the others (golden-section search on log T in [1/20, 20]).
    let biased: Vec<Vec<Vec<f32>>> = logits[..n]
        .iter()
        .map(|l| with_bias(l, none_bias))
        .collect();
    let objective = |t: f32| -> f32 {
        let first = nll_at(&biased[0], &gold[0], t);
        if n == 1 {
            return first;
        }
        let rest = (1..n).map(|k| nll_at(&biased[k], &gold[k], t)).sum::<f32>() / (n - 1) as f32;
        (first + rest) / 2.0
    };
    let temperature = golden_min(|lt| objective(lt.exp()), (0.05f32).ln(), 20f32.ln()).exp();
    let calibration = Calibration {
        temperature,
        none_bias,
    };
    let mut scores = BTreeMap::new();
    let mut sets = Vec::new();
    for ((name, l), y) in names.iter().zip(logits).zip(gold) {
        let g: Vec<Label> = y.iter().map(|&c| Label::ALL[c as usize]).collect();
        let raw: Vec<[f32; 3]> = l
            .iter()
            .map(|x| Calibration::default().probabilities(&[x[0], x[1], x[2]]))
            .collect();
        let cal: Vec<[f32; 3]> = l
            .iter()
            .map(|x| calibration.probabilities(&[x[0], x[1], x[2]]))
            .collect();
        sets.push(DevCalibration {
            set: name.clone(),
            ece_before: expected_calibration_error(&raw, &g) as f32,
            ece_after: expected_calibration_error(&cal, &g) as f32,
            nll_before: nll_at(l, y, 1.0),
            nll_after: nll_at(&with_bias(l, none_bias), y, temperature),
        });
        scores.insert(name.clone(), scores_of(l, y, none_bias));
    }
    CalibrationFit {
        calibration,
        scores,
        sets,
    }
}

/// Re-fits the calibration of a trained model on labelled files, through the inference path
/// (`standpoint calibrate`): the raw logits of every example, then [`fit_calibration`].
pub fn calibrate(
    model: &crate::model::cross::CrossEncoder,
    files: &[PathBuf],
    first_only: bool,
    batch_size: usize,
) -> Result<CalibrationFit, TrainError> {
    let mut names = Vec::new();
    let mut logits = Vec::new();
    let mut gold = Vec::new();
    for path in files {
        let ex = read_stance_jsonl(path)?;
        let mut order: Vec<usize> = (0..ex.len()).collect();
        order.sort_by_key(|&i| ex[i].text.len() + ex[i].target.len());
        let mut l = vec![Vec::new(); ex.len()];
        for chunk in order.chunks(batch_size.max(1)) {
            let pairs: Vec<crate::model::Pair<'_>> = chunk
                .iter()
                .map(|&i| crate::model::Pair {
                    text: &ex[i].text,
                    target: &ex[i].target,
                })
                .collect();
            for (&i, r) in chunk.iter().zip(model.logits(&pairs)?) {
                l[i] = r.to_vec();
            }
        }
        names.push(set_name(path));
        logits.push(l);
        gold.push(ex.iter().map(|e| e.label.index() as u32).collect());
    }
    if names.is_empty() {
        return Err(TrainError::Options("give at least one --dev file".into()));
    }
    Ok(fit_calibration(&names, &logits, &gold, first_only))
}

/// Asks glibc's allocator to keep freed memory for reuse instead of handing it back to the
/// kernel. Training builds hundreds of fresh activation and gradient tensors per step, many of
/// several MiB; with glibc's defaults each is a new `mmap` (or heap growth after a trim), so
/// every step pays page faults and the kernel's zeroing of new pages. Measured on an Intel Xeon
/// (AMX), one thread, 640 rows of one epoch with all six layers, the machine shared with two
/// other training runs: 92 s before, 71 s after (1.3×), the same losses. Memory then stays at the step's peak. Applies to the whole
/// process; elsewhere than glibc it does nothing. Returns whether both settings were taken.
pub fn keep_freed_memory() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // 32 MiB is glibc's largest mmap threshold (DEFAULT_MMAP_THRESHOLD_MAX on 64-bit):
        // blocks below it come from the heap; the trim threshold keeps the heap's top.
        // SAFETY: mallopt only changes glibc's allocation parameters under its own arena
        // lock; it is thread-safe, takes plain integers and leaves every live allocation
        // valid, so the global allocator (malloc/free underneath) keeps working unchanged.
        let mmap = unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20) };
        // SAFETY: as above.
        let trim = unsafe { libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX) };
        mmap == 1 && trim == 1
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

/// Fine-tunes on `opts.train` over the base encoder files `[config.json, model.safetensors,
/// tokenizer.json]` of `base`, and writes the model directory `opts.out_dir`.
pub fn finetune(
    opts: &FinetuneOptions,
    base: &BaseModel,
    base_files: &[PathBuf; 3],
    progress: &(dyn Fn(FinetuneEvent<'_>) + Sync),
) -> Result<FinetuneReport, TrainError> {
    let dev = Device::Cpu;
    let kept = keep_freed_memory();
    tracing::debug!("allocator keeps freed memory: {kept}");
    if opts.train.is_empty() {
        return Err(TrainError::Options("give at least one --train file".into()));
    }
    if opts.dev.is_empty() {
        return Err(TrainError::Options(
            "give at least one --dev file (it picks the epoch and calibrates the scores)".into(),
        ));
    }
    if opts.epochs == 0 || opts.batch_size == 0 || opts.accumulate == 0 {
        return Err(TrainError::Options(
            "--epochs, --batch-size and --accumulate must be at least 1".into(),
        ));
    }
    if opts.select.is_empty() || opts.select.iter().any(|&k| k >= opts.dev.len()) {
        return Err(TrainError::Options(format!(
            "--select names development sets by position (0 to {}); got {:?}",
            opts.dev.len().saturating_sub(1),
            opts.select
        )));
    }
    if opts.rows_per_epoch == Some(0) {
        return Err(TrainError::Options(
            "--rows-per-epoch must be at least 1".into(),
        ));
    }
    if !(0.0..1.0).contains(&opts.dropout) {
        return Err(TrainError::Options("--dropout must be in [0, 1)".into()));
    }
    let sha = weights_sha256(&base_files[1])?;
    if sha != base.weights_sha256 {
        return Err(TrainError::Options(format!(
            "base weights {} have SHA-256 {sha}, expected {}",
            base_files[1].display(),
            base.weights_sha256
        )));
    }
    let cfg = read_bert_config(&base_files[0])?;
    let n_layers = cfg.num_hidden_layers;
    if opts.train_layers > n_layers {
        return Err(TrainError::Options(format!(
            "--train-layers {} but the encoder has {n_layers} layers",
            opts.train_layers
        )));
    }
    let init_layers = match &opts.init {
        Some(init) => {
            if init.meta.base.weights_sha256 != base.weights_sha256 {
                return Err(TrainError::Options(format!(
                    "the starting model {} was trained on other base weights ({})",
                    init.name, init.meta.base.weights_sha256
                )));
            }
            if init.meta.labels != Label::ALL {
                return Err(TrainError::Options(format!(
                    "the starting model {} has labels in another order",
                    init.name
                )));
            }
            init.meta.trained_layers
        }
        None => 0,
    };
    let max_tokens = opts.max_tokens.min(cfg.max_position_embeddings);
    let tok = batch_tokenizer(&base_files[2], max_tokens)?;

    // 1. Data.
    let mut rng = Rng(opts.seed);
    let mut train_rows = Vec::new();
    let mut data_info = Vec::new();
    let mut examples: Vec<Vec<StanceExample>> = Vec::new();
    for path in &opts.train {
        let ex = read_stance_jsonl(path)?;
        data_info.push(file_info(path, ex.len())?);
        examples.push(ex);
    }
    if let Some(m) = opts.max_per_source {
        for ex in examples.iter_mut() {
            if ex.len() > m {
                rng.shuffle(ex);
                ex.truncate(m);
            }
        }
    }
    let n_real: usize = examples.iter().map(Vec::len).sum();
    let mut synthetic = Vec::new();
    if opts.none_pairs > 0.0 && examples.len() > 1 {
        let targets: Vec<Vec<String>> = examples
            .iter()
            .map(|ex| {
                let mut t: Vec<String> = ex.iter().map(|e| e.target.clone()).collect();
                t.sort();
                t.dedup();
                t
            })
            .collect();
        let n = (opts.none_pairs * n_real as f32).round() as usize;
        for k in 0..n {
            let s = rng.below(examples.len());
            if examples[s].is_empty() {
                continue;
            }
            let other = (s + 1 + rng.below(examples.len() - 1)) % examples.len();
            if targets[other].is_empty() {
                continue;
            }
            let e = &examples[s][rng.below(examples[s].len())];
            let t = &targets[other][rng.below(targets[other].len())];
            synthetic.push((
                s,
                StanceExample {
                    id: format!("none-pair-{k}"),
                    text: e.text.clone(),
                    target: t.clone(),
                    label: Label::None,
                },
            ));
        }
    }
    for (s, ex) in examples.iter().enumerate() {
        train_rows.extend(tokenize(&tok, ex, s)?);
    }
    for (s, e) in &synthetic {
        train_rows.extend(tokenize(&tok, std::slice::from_ref(e), *s)?);
    }
    let mut dev_ex = Vec::new();
    for path in &opts.dev {
        let ex = read_stance_jsonl(path)?;
        data_info.push(file_info(path, ex.len())?);
        dev_ex.push((set_name(path), ex));
    }

    // 2. Weights: base, with the starting model's delta laid over it.
    let delta = match &opts.init {
        Some(init) => crate::model::cross::load_delta(&init.delta, &dev)?,
        None => HashMap::new(),
    };
    let weights = merged_weights(&base_files[1], delta, &dev)?;
    let frozen = n_layers - opts.train_layers;
    let mut bottom_cfg = cfg.clone();
    bottom_cfg.num_hidden_layers = frozen;
    let bottom = BertModel::load(
        VarBuilder::from_tensors(weights.clone(), DType::F32, &dev),
        &bottom_cfg,
    )
    .map_err(|e| TrainError::Options(format!("cannot load the base encoder: {e}")))?;

    // 3. Frozen outputs, computed once.
    let t0 = Instant::now();
    let total = train_rows.len() + dev_ex.iter().map(|(_, e)| e.len()).sum::<usize>();
    let msg = format!(
        "running the {frozen} frozen layers over {total} pairs once ({} training rows incl. {} synthetic NONE pairs)",
        train_rows.len(),
        synthetic.len()
    );
    progress(FinetuneEvent::Message(&msg));
    let train_cache = build_cache(&bottom, &train_rows, &dev, 0, total, progress)?;
    let mut dev_sets = Vec::new();
    let mut done = train_rows.len();
    for (name, ex) in &dev_ex {
        let rows = tokenize(&tok, ex, 0)?;
        let cache = build_cache(&bottom, &rows, &dev, done, total, progress)?;
        done += rows.len();
        dev_sets.push(DevSet {
            name: name.clone(),
            rows,
            cache,
        });
    }
    drop(bottom);
    let cache_seconds = t0.elapsed().as_secs_f32();

    // 4. The trainable top.
    let mut layers = (frozen..n_layers)
        .map(|i| TrainLayer::new(&weights, i, &cfg, opts.precision))
        .collect::<Result<Vec<_>, _>>()?;
    // The layers' gradients bypass candle's gradient store (see `GradSink`).
    let enc_vars: Vec<(Var, GradSink)> = layers
        .iter_mut()
        .map(TrainLayer::gradients_to_sink)
        .collect();
    let h = cfg.hidden_size;
    let (w0, b0) = match (
        weights.get(&format!("{CLASSIFIER}.weight")),
        weights.get(&format!("{CLASSIFIER}.bias")),
    ) {
        (Some(w), Some(b)) => (w.clone(), b.clone()),
        _ => {
            let w: Vec<f32> = (0..3 * h).map(|_| rng.normal() * 0.02).collect();
            (
                Tensor::from_vec(w, (3, h), &dev)?,
                Tensor::zeros(3, DType::F32, &dev)?,
            )
        }
    };
    let top = Top {
        layers,
        w: Var::from_tensor(&w0)?,
        b: Var::from_tensor(&b0)?,
    };
    let head_vars = vec![top.w.clone(), top.b.clone()];
    let params = |lr: f64| ParamsAdamW {
        lr,
        weight_decay: opts.weight_decay,
        ..Default::default()
    };
    let mut opt_enc = if enc_vars.is_empty() {
        None
    } else {
        Some(FusedAdamW::with_sinks(enc_vars, params(opts.lr)))
    };
    let mut opt_head = FusedAdamW::new(head_vars.clone(), params(opts.head_lr))?;

    // 5. Epochs.
    let mut by_source: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (i, r) in train_rows.iter().enumerate() {
        by_source.entry(r.source).or_default().push(i);
    }
    let per_epoch = opts.rows_per_epoch.unwrap_or(train_rows.len());
    // Balanced sampling: a shuffled order per source and a cursor that carries over epochs.
    let mut cursors: Vec<(Vec<usize>, usize)> = by_source
        .values()
        .map(|rows| {
            let mut order = rows.clone();
            rng.shuffle(&mut order);
            (order, 0)
        })
        .collect();
    let micro_per_epoch = per_epoch.div_ceil(opts.batch_size);
    let steps_per_epoch = micro_per_epoch.div_ceil(opts.accumulate);
    let total_steps = (steps_per_epoch * opts.epochs).max(1);
    let warmup_steps = ((opts.warmup * total_steps as f32).round() as usize).max(1);
    let lr_at = |step: usize| -> f64 {
        if step < warmup_steps {
            (step + 1) as f64 / warmup_steps as f64
        } else {
            ((total_steps - step) as f64 / (total_steps - warmup_steps).max(1) as f64).max(0.0)
        }
    };
    let mut epochs = Vec::new();
    let mut best: Option<(f32, usize, Snapshot)> = None;
    let mut step = 0usize;
    let train_start = Instant::now();
    let mut train_tokens_all = 0usize;
    for epoch in 1..=opts.epochs {
        let e0 = Instant::now();
        let mut idx: Vec<usize> = match opts.rows_per_epoch {
            None => by_source.values().flatten().copied().collect(),
            Some(n) => draw_balanced(&mut cursors, n, &mut rng),
        };
        rng.shuffle(&mut idx);
        // Length bucketing: sort windows of 50 batches by length, then shuffle the batches.
        let window = opts.batch_size * 50;
        let mut batches: Vec<Vec<usize>> = Vec::new();
        for w in idx.chunks_mut(window) {
            w.sort_by_key(|&i| train_rows[i].ids.len());
            batches.extend(w.chunks(opts.batch_size).map(|c| c.to_vec()));
        }
        rng.shuffle(&mut batches);
        // Sampling already gives every source its equal share.
        let weights_all = row_weights(
            &train_rows,
            &idx,
            opts.balance_classes,
            opts.balance_sources && opts.rows_per_epoch.is_none(),
        );
        let wmap: HashMap<usize, f32> = idx.iter().copied().zip(weights_all).collect();
        let (mut loss_sum, mut loss_n, mut tokens) = (0f64, 0usize, 0usize);
        let mut acc: Option<GradStore> = None;
        let mut in_acc = 0;
        for (bi, batch) in batches.iter().enumerate() {
            let (x, m, ntok) = assemble(&train_cache, batch, &dev)?;
            tokens += ntok;
            let y: Vec<u32> = batch.iter().map(|&i| train_rows[i].label).collect();
            let w: Vec<f32> = batch.iter().map(|&i| wmap[&i]).collect();
            let y = Tensor::from_vec(y, batch.len(), &dev)?;
            let w = Tensor::from_vec(w, batch.len(), &dev)?;
            let logits = top.logits(&x, &m, opts.dropout, Some(&mut rng))?;
            let loss = weighted_loss(&logits, &y, &w)?;
            loss_sum += loss.to_scalar::<f32>()? as f64;
            loss_n += 1;
            let grads = loss.backward()?;
            match acc.as_mut() {
                None => acc = Some(grads),
                Some(a) => add_grads(a, &grads, &head_vars)?,
            }
            in_acc += 1;
            if in_acc == opts.accumulate || bi + 1 == batches.len() {
                let mut g = acc.take().expect("gradients accumulated");
                if in_acc > 1 {
                    scale_grads(&mut g, &head_vars, 1.0 / in_acc as f64)?;
                }
                let f = lr_at(step.min(total_steps - 1));
                if let Some(o) = opt_enc.as_mut() {
                    o.set_sink_scale(1.0 / in_acc as f32);
                    o.set_learning_rate(opts.lr * f);
                    o.step(&g)?;
                }
                opt_head.set_learning_rate(opts.head_lr * f);
                opt_head.step(&g)?;
                step += 1;
                in_acc = 0;
                progress(FinetuneEvent::Step {
                    epoch,
                    step: step - (epoch - 1) * steps_per_epoch,
                    steps: steps_per_epoch,
                    loss: (loss_sum / loss_n as f64) as f32,
                    tokens_per_s: tokens as f32 / e0.elapsed().as_secs_f32().max(1e-3),
                });
            }
        }
        let train_seconds = e0.elapsed().as_secs_f32();
        train_tokens_all += tokens;
        let mut dev_scores = BTreeMap::new();
        let mut select = 0f32;
        for (k, set) in dev_sets.iter().enumerate() {
            let logits = set_logits(&top, set.rows.len(), &set.cache, &dev, BATCH_TOKENS)?;
            let y: Vec<u32> = set.rows.iter().map(|r| r.label).collect();
            let s = scores_of(&logits, &y, 0.0);
            if opts.select.contains(&k) {
                select += s.macro_f1 / opts.select.len() as f32;
            }
            dev_scores.insert(set.name.clone(), s);
        }
        let ep = FtEpoch {
            epoch,
            train_loss: (loss_sum / loss_n.max(1) as f64) as f32,
            train_rows: idx.len(),
            tokens_per_s: tokens as f32 / train_seconds.max(1e-3),
            seconds: e0.elapsed().as_secs_f32(),
            dev: dev_scores,
        };
        progress(FinetuneEvent::Epoch(&ep));
        let snap = top.snapshot()?;
        let ck = opts
            .out_dir
            .join("checkpoints")
            .join(format!("epoch-{epoch}"));
        write_model(
            &ck,
            &snap,
            &weights,
            opts,
            base,
            init_layers,
            Calibration::default(),
            serde_json::json!({"checkpoint_of": opts.command, "epoch": &ep}),
        )?;
        if best.as_ref().is_none_or(|(s, _, _)| select > *s) {
            best = Some((select, epoch, snap));
        }
        epochs.push(ep);
    }
    let train_seconds = train_start.elapsed().as_secs_f32();
    let (_, best_epoch, snap) = best.expect("at least one epoch");

    // 7. Round to the saved precision, re-score, calibrate on the first dev set.
    let dtype = if opts.save_f16 {
        DType::F16
    } else {
        DType::F32
    };
    let rounded: Vec<(String, Tensor)> = snap
        .iter()
        .map(|(n, t)| Ok((n.clone(), t.to_dtype(dtype)?.to_dtype(DType::F32)?)))
        .collect::<candle_core::Result<_>>()?;
    top.restore(&rounded)?;
    let dev_logits: Vec<Vec<Vec<f32>>> = dev_sets
        .iter()
        .map(|s| set_logits(&top, s.rows.len(), &s.cache, &dev, BATCH_TOKENS))
        .collect::<candle_core::Result<_>>()?;
    let names: Vec<String> = dev_sets.iter().map(|s| s.name.clone()).collect();
    let golds: Vec<Vec<u32>> = dev_sets
        .iter()
        .map(|s| s.rows.iter().map(|r| r.label).collect())
        .collect();
    let fit = fit_calibration(&names, &dev_logits, &golds, opts.calibrate_on_first);
    let (calibration, dev_final, dev_calibration) = (fit.calibration, fit.scores, fit.sets);
    let tokens_per_s = train_tokens_all as f32 / train_seconds.max(1e-3);
    let training = serde_json::json!({
        "command": opts.command,
        "standpoint_version": env!("CARGO_PKG_VERSION"),
        "init": opts.init.as_ref().map(|i| i.name.clone()),
        "data": data_info,
        "train_rows": train_rows.len(),
        "synthetic_none_rows": synthetic.len(),
        "options": {
            "train_layers": opts.train_layers, "epochs": opts.epochs, "lr": opts.lr,
            "head_lr": opts.head_lr, "warmup": opts.warmup, "weight_decay": opts.weight_decay,
            "batch_size": opts.batch_size, "accumulate": opts.accumulate,
            "max_tokens": max_tokens, "dropout": opts.dropout, "seed": opts.seed,
            "balance_classes": opts.balance_classes, "balance_sources": opts.balance_sources,
            "max_per_source": opts.max_per_source, "none_pairs": opts.none_pairs,
            "dtype": if opts.save_f16 { "f16" } else { "f32" },
            "precision": opts.precision.as_str(),
        },
        "epochs": epochs,
        "best_epoch": best_epoch,
        "selection": format!(
            "mean macro-F1 on {}",
            opts.select.iter().map(|&k| dev_sets[k].name.as_str()).collect::<Vec<_>>().join(" + ")
        ),
        "rows_per_epoch": opts.rows_per_epoch,
        "calibrated_on": if opts.calibrate_on_first { dev_sets[0].name.clone() } else { dev_sets.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(" + ") },
        "dev": dev_final,
        "dev_calibration": dev_calibration,
        "cache_seconds": cache_seconds,
        "train_seconds": train_seconds,
        "tokens_per_s": tokens_per_s,
    });
    let (delta_sha256, delta_bytes) = write_model(
        &opts.out_dir,
        &rounded,
        &weights,
        opts,
        base,
        init_layers,
        calibration,
        training,
    )?;
    Ok(FinetuneReport {
        out_dir: opts.out_dir.clone(),
        delta_sha256,
        delta_bytes,
        trained_layers: opts.train_layers.max(init_layers),
        epochs,
        best_epoch,
        calibration,
        dev: dev_final,
        dev_calibration,
        train_rows: train_rows.len(),
        synthetic_none_rows: synthetic.len(),
        cache_seconds,
        train_seconds,
        tokens_per_s,
    })
}

/// Writes `standpoint.json` + `delta.safetensors` into `dir`: the trained tensors, plus the
/// layers a starting model had changed that were not trained this time.
#[allow(clippy::too_many_arguments)]
fn write_model(
    dir: &Path,
    trained: &[(String, Tensor)],
    weights: &HashMap<String, Tensor>,
    opts: &FinetuneOptions,
    base: &BaseModel,
    init_layers: usize,
    calibration: Calibration,
    training: serde_json::Value,
) -> Result<(String, usize), TrainError> {
    let io = |path: &Path, source: std::io::Error| TrainError::Io {
        path: path.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let dtype = if opts.save_f16 {
        DType::F16
    } else {
        DType::F32
    };
    let mut out: HashMap<String, Tensor> = HashMap::new();
    let n_layers = weights
        .keys()
        .filter_map(|k| {
            k.strip_prefix("encoder.layer.")?
                .split('.')
                .next()?
                .parse::<usize>()
                .ok()
        })
        .max()
        .map_or(0, |m| m + 1);
    for i in n_layers.saturating_sub(init_layers)..n_layers {
        for p in LAYER_PARAMS {
            let name = format!("encoder.layer.{i}.{p}");
            if let Some(t) = weights.get(&name) {
                out.insert(name, t.to_dtype(dtype)?);
            }
        }
    }
    for (n, t) in trained {
        out.insert(n.clone(), t.to_dtype(dtype)?);
    }
    let delta_path = dir.join(DELTA_FILE);
    let tmp = dir.join(format!("{DELTA_FILE}.partial"));
    candle_core::safetensors::save(&out, &tmp)?;
    std::fs::rename(&tmp, &delta_path).map_err(|e| io(&delta_path, e))?;
    let bytes = std::fs::read(&delta_path).map_err(|e| io(&delta_path, e))?;
    let meta = CrossMeta {
        format: FORMAT.into(),
        base: base.clone(),
        labels: Label::ALL.to_vec(),
        trained_layers: opts.train_layers.max(init_layers),
        max_tokens: opts.max_tokens,
        calibration,
        delta_sha256: sha256_hex(&bytes),
        training,
        quality: None,
    };
    let meta_path = dir.join(META_FILE);
    let text = serde_json::to_string_pretty(&meta).expect("metadata serialises");
    let tmp = dir.join(format!("{META_FILE}.partial"));
    std::fs::write(&tmp, text.as_bytes()).map_err(|e| io(&tmp, e))?;
    std::fs::rename(&tmp, &meta_path).map_err(|e| io(&meta_path, e))?;
    Ok((meta.delta_sha256, bytes.len()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::default::encoder_files_in_cache;
    use crate::train_ops::tests::max_diff;

    /// The base encoder's files (config, weights, tokenizer), its configuration and its weights
    /// on the CPU.
    fn base_encoder() -> (Vec<std::path::PathBuf>, BertConfig, HashMap<String, Tensor>) {
        let files = encoder_files_in_cache().expect("run models/fetch-encoder.sh first");
        let cfg = read_bert_config(&files[0]).unwrap();
        let weights = merged_weights(&files[1], HashMap::new(), &Device::Cpu).unwrap();
        (files.to_vec(), cfg, weights)
    }

    /// The trainable layer computes what candle-transformers' BERT layer computes: the output of
    /// the full 6-layer model equals 5 frozen layers followed by `TrainLayer` 5, with padding.
    #[test]
    fn train_layer_matches_candle_transformers_bert() {
        let (files, cfg, weights) = base_encoder();
        let dev = Device::Cpu;
        let vb = VarBuilder::from_tensors(weights.clone(), DType::F32, &dev);
        let full = BertModel::load(vb.clone(), &cfg).unwrap();
        let mut low_cfg = cfg.clone();
        low_cfg.num_hidden_layers = cfg.num_hidden_layers - 1;
        let low = BertModel::load(vb, &low_cfg).unwrap();
        let layer =
            TrainLayer::new(&weights, cfg.num_hidden_layers - 1, &cfg, Precision::F32).unwrap();
        let tok = batch_tokenizer(&files[2], 64).unwrap();
        let batch = crate::model::cross::encode_pairs(
            &tok,
            &[
                ("NATO enlargement", "The door to membership remains open."),
                ("NATO enlargement", "We demand legally binding guarantees that the alliance will not expand further east."),
            ],
            &dev,
        )
        .unwrap();
        assert_ne!(batch.lens[0], batch.lens[1], "the test needs padding");
        let want = full
            .forward(&batch.ids, &batch.types, Some(&batch.mask))
            .unwrap();
        let x = low
            .forward(&batch.ids, &batch.types, Some(&batch.mask))
            .unwrap();
        let got = layer.forward(&x, &batch.mask, 0.0, None).unwrap();
        for (row, &n) in batch.lens.iter().enumerate() {
            let w = want.get(row).unwrap().narrow(0, 0, n).unwrap();
            let g = got.get(row).unwrap().narrow(0, 0, n).unwrap();
            let diff = max_diff(&w, &g);
            assert!(diff < 1e-4, "row {row}: max difference {diff}");
        }
    }

    /// The whole-layer operation gives what the separate operations give, values and the
    /// gradients of the input and of all 16 parameters, with dropout and padding, in both
    /// training precisions. (Its input is a variable here, so its gradient is computed.)
    #[test]
    fn whole_layer_operation_matches_the_separate_operations() {
        let (_, cfg, weights) = base_encoder();
        let dev = Device::Cpu;
        let (b, l, h) = (2, 9, cfg.hidden_size);
        let mask = Tensor::from_vec(
            vec![1u32, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0],
            (b, l),
            &dev,
        )
        .unwrap();
        let mut r = Rng(5);
        let x0: Vec<f32> = (0..b * l * h).map(|_| r.normal()).collect();
        let probe: Vec<f32> = (0..b * l * h).map(|_| r.normal()).collect();
        let probe = Tensor::from_vec(probe, (b, l, h), &dev).unwrap();
        for (precision, tol) in [(Precision::F32, 1e-5f32), (Precision::Bf16, 1e-5)] {
            let layer = TrainLayer::new(&weights, 2, &cfg, precision).unwrap();
            let x =
                Var::from_tensor(&Tensor::from_vec(x0.clone(), (b, l, h), &dev).unwrap()).unwrap();
            let run = |whole: bool| {
                let mut rng = Rng(11);
                let y = if whole {
                    layer.forward(x.as_tensor(), &mask, 0.1, Some(&mut rng))
                } else {
                    layer.forward_composed(x.as_tensor(), &mask, 0.1, Some(&mut rng))
                }
                .unwrap();
                let grads = (&y * &probe)
                    .unwrap()
                    .sum_all()
                    .unwrap()
                    .backward()
                    .unwrap();
                (y, grads)
            };
            let (ya, ga) = run(true);
            let (yb, gb) = run(false);
            let diff = max_diff;
            let scale = |t: &Tensor| {
                t.abs()
                    .unwrap()
                    .max_all()
                    .unwrap()
                    .to_scalar::<f32>()
                    .unwrap()
                    .max(1.0)
            };
            assert!(
                diff(&ya, &yb) <= tol * scale(&yb),
                "{precision:?}: values differ"
            );
            let mut pairs = vec![(
                "input".to_string(),
                ga.get(x.as_tensor()).unwrap().clone(),
                gb.get(x.as_tensor()).unwrap().clone(),
            )];
            let flat = layer.flat.as_tensor();
            let (fa, fb) = (ga.get(flat).unwrap(), gb.get(flat).unwrap());
            for ((name, a), (_, b)) in layer
                .named(fa)
                .unwrap()
                .into_iter()
                .zip(layer.named(fb).unwrap())
            {
                pairs.push((name, a, b));
            }
            assert_eq!(pairs.len(), 17);
            for (name, a, b) in pairs {
                let (a, b) = (&a, &b);
                let d = diff(a, b);
                assert!(
                    d <= tol * scale(b),
                    "{precision:?}: gradient of {name} differs by {d}"
                );
            }
        }
    }

    /// With its gradient sink, a layer's backward pass leaves the parameters' gradient in the
    /// sink (the value candle's gradient store gets without one) and not in the store, and a
    /// second backward pass adds to it (gradient accumulation).
    #[test]
    fn the_gradient_sink_gets_the_stores_gradient_and_sums_batches() {
        let (_, cfg, weights) = base_encoder();
        let dev = Device::Cpu;
        let (b, l, h) = (2, 5, cfg.hidden_size);
        let mask = Tensor::from_vec(vec![1u32, 1, 1, 1, 1, 1, 1, 1, 0, 0], (b, l), &dev).unwrap();
        let mut r = Rng(8);
        let x = Tensor::from_vec(
            (0..b * l * h).map(|_| r.normal()).collect::<Vec<f32>>(),
            (b, l, h),
            &dev,
        )
        .unwrap();
        let probe = Tensor::from_vec(
            (0..b * l * h).map(|_| r.normal()).collect::<Vec<f32>>(),
            (b, l, h),
            &dev,
        )
        .unwrap();
        let mut layer = TrainLayer::new(&weights, 1, &cfg, Precision::F32).unwrap();
        let backward = |layer: &TrainLayer| {
            let y = layer.forward(&x, &mask, 0.0, None).unwrap();
            (&y * &probe)
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap()
        };
        let store = backward(&layer);
        let want: Vec<f32> = store
            .get(layer.flat.as_tensor())
            .unwrap()
            .to_vec1()
            .unwrap();
        assert!(want.iter().any(|&g| g != 0.0));
        let (_, sink) = layer.gradients_to_sink();
        let store = backward(&layer);
        assert!(
            store.get(layer.flat.as_tensor()).is_none(),
            "the store got the gradient"
        );
        assert_eq!(sink.lock().unwrap().as_deref(), Some(want.as_slice()));
        backward(&layer);
        let twice: Vec<f32> = want.iter().map(|g| g + g).collect();
        assert_eq!(sink.lock().unwrap().as_deref(), Some(twice.as_slice()));
    }

    /// One training step's loss and gradients equal PyTorch's (`transformers`' BertModel, every
    /// layer trainable, no dropout; tests/fixtures/grad_reference.json, written by
    /// tests/fixtures/make_grad_reference.py): the fused operations' backward passes
    /// (`crate::train_ops`) and the layer around them, end to end.
    #[test]
    fn gradients_match_pytorch() {
        one_step_against_pytorch(Precision::F32, 1e-5, 2e-3);
    }

    /// The same step with bf16 products (`train --precision bf16`) stays within bf16's
    /// rounding of PyTorch's f32 step: loss within 1e-3, gradients within 5% (sums against the
    /// gradient's total magnitude, elements against its mean magnitude). A transposed or
    /// misplaced product is off by far more (the f32 step's 0.2% bound is kept above).
    #[test]
    fn bf16_gradients_stay_near_pytorch() {
        one_step_against_pytorch(Precision::Bf16, 1e-3, 5e-2);
        if !crate::model::bf16::native_bf16() {
            crate::model::report_skipped(
                "finetune::bf16_gradients on AVX512-BF16/AMX: not on this CPU (portable path)",
            );
        }
    }

    fn one_step_against_pytorch(precision: Precision, loss_tol: f64, rel: f64) {
        let fx: serde_json::Value =
            serde_json::from_str(include_str!("../tests/fixtures/grad_reference.json")).unwrap();
        let (files, cfg, weights) = base_encoder();
        let dev = Device::Cpu;
        let vb = VarBuilder::from_tensors(weights.clone(), DType::F32, &dev);
        let mut emb_cfg = cfg.clone();
        emb_cfg.num_hidden_layers = 0;
        let embeddings = BertModel::load(vb, &emb_cfg).unwrap();
        let tok = batch_tokenizer(&files[2], 128).unwrap();
        let pairs: Vec<(String, String)> = fx["pairs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p[0].as_str().unwrap().into(), p[1].as_str().unwrap().into()))
            .collect();
        let refs: Vec<(&str, &str)> = pairs
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        let batch = crate::model::cross::encode_pairs(&tok, &refs, &dev).unwrap();
        assert_ne!(batch.lens[0], batch.lens[1], "the test needs padding");
        let x = embeddings
            .forward(&batch.ids, &batch.types, Some(&batch.mask))
            .unwrap();
        let w: Vec<f32> = (0..3 * 384)
            .map(|i| (0.02 * (i as f64).sin()) as f32)
            .collect();
        let top = Top {
            layers: (0..cfg.num_hidden_layers)
                .map(|i| TrainLayer::new(&weights, i, &cfg, precision).unwrap())
                .collect(),
            w: Var::from_tensor(&Tensor::from_vec(w, (3, 384), &dev).unwrap()).unwrap(),
            b: Var::from_tensor(&Tensor::new(&[0.1f32, -0.1, 0.0], &dev).unwrap()).unwrap(),
        };
        let labels: Vec<u32> = fx["labels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u32)
            .collect();
        let y = Tensor::from_vec(labels, 2, &dev).unwrap();
        let ones = Tensor::ones(2, DType::F32, &dev).unwrap();
        let logits = top.logits(&x, &batch.mask, 0.0, None).unwrap();
        let loss = weighted_loss(&logits, &y, &ones).unwrap();
        let got_loss = loss.to_scalar::<f32>().unwrap() as f64;
        let want_loss = fx["loss"].as_f64().unwrap();
        assert!(
            (got_loss - want_loss).abs() < loss_tol,
            "loss {got_loss} vs PyTorch {want_loss}"
        );
        let grads = loss.backward().unwrap();
        let close = |a: f64, b: f64, scale: f64| (a - b).abs() <= 1e-5 + rel * scale;
        for (name, want) in fx["grads"].as_object().unwrap() {
            let g = if name == "classifier.weight" {
                grads.get(top.w.as_tensor()).cloned()
            } else {
                top.layers
                    .iter()
                    .flat_map(|l| {
                        let flat = grads.get(l.flat.as_tensor()).expect("a layer's gradient");
                        l.named(flat).unwrap()
                    })
                    .find(|(n, _)| n == name)
                    .map(|(_, g)| g)
            };
            let g: Vec<f32> = g
                .unwrap_or_else(|| panic!("no gradient for {name}"))
                .flatten_all()
                .unwrap()
                .to_vec1()
                .unwrap();
            let abs_sum: f64 = g.iter().map(|v| v.abs() as f64).sum();
            let want_abs = want["abs_sum"].as_f64().unwrap();
            assert!(
                close(abs_sum, want_abs, want_abs),
                "{name}: |g| sum {abs_sum} vs {want_abs}"
            );
            let sum: f64 = g.iter().map(|&v| v as f64).sum();
            assert!(
                close(sum, want["sum"].as_f64().unwrap(), want_abs),
                "{name}: sum {sum} vs {}",
                want["sum"]
            );
            // Elements, against the gradient's mean magnitude.
            let scale = want_abs / g.len() as f64;
            for (i, w) in want["first"].as_array().unwrap().iter().enumerate() {
                let w = w.as_f64().unwrap();
                assert!(
                    close(g[i] as f64, w, scale.max(w.abs())),
                    "{name}[{i}]: {} vs PyTorch {w}",
                    g[i]
                );
            }
        }
    }

    /// Gradients flow through every parameter of the trainable layer (the fused layer norm of
    /// candle-transformers would cut them), and a few AdamW steps lower the loss.
    #[test]
    fn gradients_reach_every_parameter_and_steps_lower_the_loss() {
        let (_, cfg, weights) = base_encoder();
        let dev = Device::Cpu;
        let mut rng = Rng(3);
        let top = Top {
            layers: vec![TrainLayer::new(
                &weights,
                cfg.num_hidden_layers - 1,
                &cfg,
                Precision::F32,
            )
            .unwrap()],
            w: Var::from_tensor(
                &Tensor::from_vec(
                    (0..3 * 384)
                        .map(|_| rng.normal() * 0.02)
                        .collect::<Vec<f32>>(),
                    (3, 384),
                    &dev,
                )
                .unwrap(),
            )
            .unwrap(),
            b: Var::zeros(3, DType::F32, &dev).unwrap(),
        };
        let x = Tensor::from_vec(
            (0..4 * 6 * 384).map(|_| rng.normal()).collect::<Vec<f32>>(),
            (4, 6, 384),
            &dev,
        )
        .unwrap();
        let mask = Tensor::from_vec(
            vec![
                1u32, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1, 0, 1, 1, 0, 0, 0, 0,
            ],
            (4, 6),
            &dev,
        )
        .unwrap();
        let y = Tensor::from_vec(vec![0u32, 1, 2, 1], 4, &dev).unwrap();
        let w = Tensor::ones(4, DType::F32, &dev).unwrap();
        let loss0 = weighted_loss(&top.logits(&x, &mask, 0.0, None).unwrap(), &y, &w).unwrap();
        let grads = loss0.backward().unwrap();
        let mut vars = top.encoder_vars();
        vars.push(top.w.clone());
        vars.push(top.b.clone());
        let layer = &top.layers[0];
        let mut named = layer
            .named(
                grads
                    .get(layer.flat.as_tensor())
                    .expect("the layer's gradient"),
            )
            .unwrap();
        assert_eq!(named.len(), 16);
        for (name, v) in [("w", &top.w), ("b", &top.b)] {
            let g = grads.get(v.as_tensor());
            named.push((
                name.into(),
                g.unwrap_or_else(|| panic!("no gradient for {name}"))
                    .clone(),
            ));
        }
        for (name, g) in &named {
            let n = g
                .abs()
                .unwrap()
                .sum_all()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap();
            assert!(
                n > 0.0 || name.ends_with("key.bias"),
                "zero gradient for {name}"
            );
        }
        let mut opt = candle_nn::AdamW::new(
            vars,
            ParamsAdamW {
                lr: 1e-3,
                ..Default::default()
            },
        )
        .unwrap();
        for _ in 0..20 {
            let loss = weighted_loss(&top.logits(&x, &mask, 0.0, None).unwrap(), &y, &w).unwrap();
            opt.backward_step(&loss).unwrap();
        }
        let loss1 = weighted_loss(&top.logits(&x, &mask, 0.0, None).unwrap(), &y, &w).unwrap();
        let (l0, l1) = (
            loss0.to_scalar::<f32>().unwrap(),
            loss1.to_scalar::<f32>().unwrap(),
        );
        assert!(l1 < l0 * 0.5, "loss {l0} -> {l1}");
    }

    #[test]
    fn a_bias_that_costs_another_set_is_not_taken() {
        // Set a: NONE rows whose NONE logit is 0.5 too low (a bias of +0.5 makes it perfect).
        // Set b: FAVOR rows that win over NONE by 0.3 only (any bias over 0.3 flips them all).
        let (mut la, mut ga, mut lb, mut gb) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for _ in 0..10 {
            la.push(vec![0.5, 0.0, 0.0]);
            ga.push(2);
            la.push(vec![2.0, 0.0, 0.0]);
            ga.push(0);
            lb.push(vec![0.3, 0.0, 0.0]);
            gb.push(0);
            lb.push(vec![0.0, 0.0, 1.0]);
            gb.push(2);
        }
        let names = ["a".to_string(), "b".to_string()];
        let alone = fit_calibration(&names[..1], &[la.clone()], &[ga.clone()], true);
        assert!(alone.calibration.none_bias >= 0.5 - 1e-5);
        let both = fit_calibration(&names, &[la, lb], &[ga, gb], false);
        let b = both.calibration.none_bias;
        assert!(b < 0.3, "bias {b} trades set b away");
        assert!(both.scores["b"].macro_f1 >= 1.0 - BIAS_MAX_LOSS - 1e-6);
    }

    #[test]
    fn balanced_draws_give_sources_equal_shares_and_walk_the_whole_pool() {
        // Source 0 has 100 rows, source 1 has 3: 20 rows an epoch, 10 from each.
        let mut cursors = vec![
            ((0..100).collect::<Vec<usize>>(), 0),
            (vec![100, 101, 102], 0),
        ];
        let mut rng = Rng(5);
        for c in cursors.iter_mut() {
            rng.shuffle(&mut c.0);
        }
        let mut seen_large = std::collections::HashSet::new();
        for _ in 0..10 {
            let d = draw_balanced(&mut cursors, 20, &mut rng);
            assert_eq!(d.len(), 20);
            assert_eq!(d.iter().filter(|&&i| i >= 100).count(), 10);
            seen_large.extend(d.into_iter().filter(|&i| i < 100));
        }
        // Ten epochs of ten rows cover the large source exactly once: no row twice, none left.
        assert_eq!(seen_large.len(), 100);
        // An odd count: the first source gets the extra row.
        let d = draw_balanced(&mut cursors, 5, &mut rng);
        assert_eq!(d.iter().filter(|&&i| i < 100).count(), 3);
    }

    #[test]
    fn weights_balance_sources_and_labels() {
        let row = |source, label| Row {
            ids: vec![],
            types: vec![],
            label,
            source,
        };
        // Source 0: 3 FAVOR, 1 AGAINST; source 1: 2 NONE.
        let rows = vec![
            row(0, 0),
            row(0, 0),
            row(0, 0),
            row(0, 1),
            row(1, 2),
            row(1, 2),
        ];
        let idx: Vec<usize> = (0..rows.len()).collect();
        let w = row_weights(&rows, &idx, true, true);
        let total = |f: &dyn Fn(&Row) -> bool| -> f32 {
            idx.iter().filter(|&&i| f(&rows[i])).map(|&i| w[i]).sum()
        };
        assert!((total(&|r| r.source == 0) - total(&|r| r.source == 1)).abs() < 1e-5);
        assert!(
            (total(&|r| r.source == 0 && r.label == 0) - total(&|r| r.source == 0 && r.label == 1))
                .abs()
                < 1e-5
        );
        assert!((w.iter().sum::<f32>() / w.len() as f32 - 1.0).abs() < 1e-5);
        let plain = row_weights(&rows, &idx, false, false);
        assert!(plain.iter().all(|&x| (x - 1.0).abs() < 1e-6));
    }

    #[test]
    fn calibration_fits_the_none_bias_and_sharpens_confident_right_answers() {
        // NONE rows whose NONE logit is 0.5 too low; FAVOR and AGAINST rows right by a margin of 2.
        let mut logits = Vec::new();
        let mut gold = Vec::new();
        for _ in 0..10 {
            logits.push(vec![0.5, 0.0, 0.0]);
            gold.push(2);
            logits.push(vec![2.0, 0.0, 0.0]);
            gold.push(0);
            logits.push(vec![0.0, 2.0, 0.0]);
            gold.push(1);
        }
        let fit = fit_calibration(&["a".into()], &[logits], &[gold], true);
        let b = fit.calibration.none_bias;
        // At +0.5 the NONE rows tie, and ties go to NONE.
        assert!((0.5 - 1e-5..2.0).contains(&b), "bias {b}");
        assert!((fit.scores["a"].macro_f1 - 1.0).abs() < 1e-6);
        assert!(fit.calibration.temperature < 1.0, "{:?}", fit.calibration);
        assert!(fit.sets[0].nll_after < fit.sets[0].nll_before);
    }

    #[test]
    fn none_bias_moves_decisions_toward_none() {
        assert_eq!(argmax3(&[1.0, 0.0, 0.5], 0.0), Label::Favor);
        assert_eq!(argmax3(&[1.0, 0.0, 0.5], 0.6), Label::None);
        assert_eq!(argmax3(&[0.0, 1.0, 0.9], -0.5), Label::Against);
    }
}
