//! Stage 4: the stance model.
//!
//! A [`StanceModel`] scores (statement, target) pairs with probabilities for FAVOR, AGAINST and
//! NONE. Implementations: the default, a cross-encoder fine-tuned by `standpoint train` from
//! all-MiniLM-L6-v2 ([`cross`]; the base from the hub, the trained delta built in); the v1
//! frozen-encoder baseline ([`default`]: encoder embeddings plus a head from `train-head`); and
//! zero-shot NLI cross-encoders from the Hugging Face hub (`nli`: BERT, DeBERTa-v2/v3,
//! XLM-RoBERTa, ModernBERT). Batching policy lives
//! in [`crate::infer`], not here: a model only scores the batch it is given.

#[cfg(target_arch = "x86_64")]
pub mod amx;
pub mod bf16;
pub mod cross;
pub mod default;
pub mod hub;
pub mod int8;
pub mod load;
pub mod native;
pub mod nli;

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The three stance labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "UPPERCASE")]
pub enum Label {
    Favor,
    Against,
    None,
}

impl Label {
    pub const ALL: [Label; 3] = [Label::Favor, Label::Against, Label::None];

    pub fn as_str(self) -> &'static str {
        match self {
            Label::Favor => "FAVOR",
            Label::Against => "AGAINST",
            Label::None => "NONE",
        }
    }

    pub fn index(self) -> usize {
        match self {
            Label::Favor => 0,
            Label::Against => 1,
            Label::None => 2,
        }
    }

    pub fn parse(s: &str) -> Option<Label> {
        match s.trim().to_ascii_uppercase().as_str() {
            "FAVOR" | "FAVOUR" | "PRO" | "SUPPORT" => Some(Label::Favor),
            "AGAINST" | "CON" | "OPPOSE" => Some(Label::Against),
            "NONE" | "NEUTRAL" => Some(Label::None),
            _ => None,
        }
    }
}

impl std::fmt::Display for Label {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Probabilities of the three labels for one pair; they sum to 1.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    #[serde(rename = "FAVOR")]
    pub favor: f32,
    #[serde(rename = "AGAINST")]
    pub against: f32,
    #[serde(rename = "NONE")]
    pub none: f32,
}

impl Scores {
    pub fn get(&self, l: Label) -> f32 {
        match l {
            Label::Favor => self.favor,
            Label::Against => self.against,
            Label::None => self.none,
        }
    }

    /// The label with the highest probability (ties go to NONE, then AGAINST).
    pub fn label(&self) -> Label {
        if self.none >= self.favor && self.none >= self.against {
            Label::None
        } else if self.against >= self.favor {
            Label::Against
        } else {
            Label::Favor
        }
    }
}

/// One input to a stance model: the statement text and the target it is scored against.
#[derive(Debug, Clone, Copy)]
pub struct Pair<'a> {
    pub text: &'a str,
    pub target: &'a str,
}

/// Errors of the model stage.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("model file {path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("model {model}: {message}")]
    Config { model: String, message: String },
    #[error("hub: {0}")]
    Hub(String),
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    #[error("candle: {0}")]
    Candle(#[from] candle_core::Error),
}

/// A stance model: scores a batch of pairs. The caller decides the batching (sorted by length)
/// and the threads; an implementation tokenizes, pads to the longest pair of the batch and runs.
/// One measured figure of a model: a labelled set it was never trained or tuned on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QualityFigure {
    /// What the set is, in words (e.g. "blind test: real news statements from sites never trained on").
    pub set: String,
    pub rows: usize,
    pub macro_f1: f32,
    pub accuracy: f32,
}

/// How far a model's labels can be trusted, as measured when it was made: on the target it was
/// trained for, and on targets it never saw. Recorded in the model's description and shown in
/// every report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Quality {
    /// The target the model was trained for.
    pub target: String,
    pub on_target: QualityFigure,
    pub unseen_targets: QualityFigure,
}

fn same_target(a: &str, b: &str) -> bool {
    let norm = |s: &str| {
        s.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase()
    };
    norm(a) == norm(b)
}

/// The one line that says how far to trust the labels for `target`: the model's measured score
/// on its own target when `target` is it, else on unseen targets, else that nothing was measured.
pub fn trust_line(quality: Option<&Quality>, target: &str) -> String {
    let fig = |f: &QualityFigure| {
        format!(
            "macro-F1 {:.2}, accuracy {:.0}% on {} statements ({})",
            f.macro_f1,
            f.accuracy * 100.0,
            f.rows,
            f.set
        )
    };
    match quality {
        None => "How far to trust the labels: this model has no measured scores; check a sample of its labels by hand before relying on them.".to_string(),
        Some(q) if same_target(&q.target, target) => format!(
            "How far to trust the labels: on the target it was trained for, this model measured {}.",
            fig(&q.on_target)
        ),
        Some(q) => format!(
            "How far to trust the labels: this model was trained for \"{}\", not this target; on targets it never saw it measured {}.",
            q.target,
            fig(&q.unseen_targets)
        ),
    }
}

/// The distinct trust lines of several targets, in first-seen order (targets the model was not
/// trained for share one line).
pub fn distinct_lines<'a>(lines: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    let mut out: Vec<&str> = Vec::new();
    for l in lines {
        if !out.contains(&l) {
            out.push(l);
        }
    }
    out
}

/// Test operands for the packed products: weights `w (k, n)` and activations `x (m, k)`, spread
/// over about ±1.6 in a pattern that lines up with no kernel's tile.
#[cfg(test)]
pub(crate) fn test_operands(m: usize, k: usize, n: usize) -> (Vec<f32>, Vec<f32>) {
    let w = (0..k * n)
        .map(|i| ((i * 37 % 101) as f32 - 50.0) / 40.0)
        .collect();
    let x = (0..m * k)
        .map(|i| ((i * 53 % 97) as f32 - 48.0) / 30.0)
        .collect();
    (w, x)
}

/// For the packed kernels' tests: `blocks(x, m, dst, threads, init, finish)` (a
/// `matmul_blocks`) fills and finishes every output row exactly once, with the right row numbers,
/// on one and two threads, and its products are `acc(x, m, dst, threads)`'s (a `matmul_acc`).
/// `x` is `(m, k)`; the output `(m, n)`.
#[cfg(test)]
#[allow(clippy::type_complexity)]
pub(crate) fn check_blocks(
    x: &[f32],
    m: usize,
    n: usize,
    acc: &dyn Fn(&[f32], usize, &mut [f32], usize),
    blocks: &dyn Fn(
        &[f32],
        usize,
        &mut [f32],
        usize,
        &(dyn Fn(usize, &mut [f32]) + Sync),
        &(dyn Fn(&mut [f32]) + Sync),
    ),
) {
    let start = |r: usize, c: usize| r as f32 * 0.25 + c as f32 * 0.01;
    for threads in [1, 2] {
        let mut want: Vec<f32> = (0..m * n).map(|i| start(i / n, i % n)).collect();
        acc(x, m, &mut want, threads);
        for v in &mut want {
            *v = *v * 2.0 + 1.0;
        }
        let mut got = vec![f32::NAN; m * n];
        let init = |r0: usize, block: &mut [f32]| {
            for (i, v) in block.iter_mut().enumerate() {
                *v = start(r0 + i / n, i % n);
            }
        };
        let finish = |block: &mut [f32]| {
            for v in block.iter_mut() {
                *v = *v * 2.0 + 1.0;
            }
        };
        blocks(x, m, &mut got, threads, &init, &finish);
        assert_eq!(got, want, "{threads} thread(s)");
    }
}

/// Says, in the test output even when the test passes (libtest hides `print!`), that a kernel
/// path could not run on this CPU.
#[cfg(test)]
pub(crate) fn report_skipped(what: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "SKIPPED {what}");
}

pub trait StanceModel: Send + Sync {
    /// A human-readable identity of the model (repo id and revision, or path, plus head hash).
    fn name(&self) -> String;
    /// The model's measured scores, when its description records them.
    fn quality(&self) -> Option<Quality> {
        None
    }
    /// Number of tokens the model will see for this pair (used to sort batches by length).
    fn token_len(&self, pair: Pair<'_>) -> Result<usize, ModelError>;
    /// Probabilities for each pair, in input order.
    fn predict(&self, pairs: &[Pair<'_>]) -> Result<Vec<Scores>, ModelError>;
    /// Floating-point operations of one forward pass over sequences of these token lengths
    /// (multiply-adds ×2 of the encoder's dense layers and attention), when the model knows it.
    fn flops(&self, _lens: &[usize]) -> Option<f64> {
        None
    }
    /// Whether a batch is padded to its longest pair (false: the model packs real tokens only).
    fn pads(&self) -> bool {
        true
    }
}

/// Which device to run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceKind {
    #[default]
    Cpu,
    Cuda,
    Metal,
}

/// The candle device for a [`DeviceKind`]; an error (not a panic) when the build lacks it.
pub fn device(kind: DeviceKind) -> Result<candle_core::Device, ModelError> {
    match kind {
        DeviceKind::Cpu => Ok(candle_core::Device::Cpu),
        DeviceKind::Cuda => {
            if !candle_core::utils::cuda_is_available() {
                return Err(ModelError::Config {
                    model: "device".into(),
                    message: "CUDA requested but this build has no CUDA support: rebuild with `--features cuda`".into(),
                });
            }
            Ok(candle_core::Device::new_cuda(0)?)
        }
        DeviceKind::Metal => {
            if !candle_core::utils::metal_is_available() {
                return Err(ModelError::Config {
                    model: "device".into(),
                    message: "Metal requested but this build has no Metal support: rebuild with `--features metal`".into(),
                });
            }
            Ok(candle_core::Device::new_metal(0)?)
        }
    }
}

/// Numerically stable softmax of a small slice.
pub fn softmax(xs: &[f32]) -> Vec<f32> {
    let m = xs.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
    let e: Vec<f32> = xs.iter().map(|x| (x - m).exp()).collect();
    let s: f32 = e.iter().sum();
    e.into_iter().map(|x| x / s).collect()
}

/// The instructions a backend and precision run on this machine, as `bench` reports them per
/// cell: the matrix products' path, the attention's (native) and the element-wise kernels'
/// (GELU, softmax, LayerNorm).
pub fn instruction_path(backend: &str, precision: &str) -> String {
    let elementwise = native::kernels::level_name();
    let attention = if native::kernels::attention_head_available() {
        "AVX-512 kernel, 16 query rows a lane"
    } else {
        "gemm crate and the element-wise softmax"
    };
    #[cfg(target_arch = "x86_64")]
    let gemm_f32 = if std::is_x86_feature_detected!("avx512f") {
        "gemm crate, AVX-512 kernels (x86-v4)"
    } else if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
        "gemm crate, AVX2+FMA kernels (x86-v3)"
    } else {
        "gemm crate, baseline kernels"
    };
    #[cfg(not(target_arch = "x86_64"))]
    let gemm_f32 = "gemm crate";
    match (backend, precision) {
        ("native", "bf16") => {
            let products = bf16::path_name();
            format!("products: {products}; attention: {attention}; element-wise: {elementwise}")
        }
        ("native", "int8") => {
            let products = int8::path_name();
            format!("products: {products}; attention: {attention}; element-wise: {elementwise}")
        }
        ("native", _) => {
            format!("products: {gemm_f32}; attention: {attention}; element-wise: {elementwise}")
        }
        ("candle", _) => "candle's CPU backend (products through the gemm crate)".to_string(),
        (other, _) => format!("{other}: not described"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quality() -> Quality {
        let fig = |set: &str, rows, macro_f1, accuracy| QualityFigure {
            set: set.into(),
            rows,
            macro_f1,
            accuracy,
        };
        Quality {
            target: "NATO enlargement".into(),
            on_target: fig("blind test", 812, 0.71, 0.78),
            unseen_targets: fig("VAST dev", 2062, 0.55, 0.57),
        }
    }

    #[test]
    fn trust_line_gives_the_figure_that_applies_to_the_target() {
        let q = quality();
        let own = trust_line(Some(&q), "  nato   Enlargement ");
        assert!(
            own.contains("0.71") && own.contains("812") && own.contains("blind test"),
            "{own}"
        );
        assert!(!own.contains("0.55"), "{own}");
        let other = trust_line(Some(&q), "Ukraine joining the EU");
        assert!(
            other.contains("0.55") && other.contains("2062") && other.contains("VAST dev"),
            "{other}"
        );
        assert!(other.contains("not this target"), "{other}");
        assert!(!other.contains("0.71"), "{other}");
        let none = trust_line(None, "NATO enlargement");
        assert!(none.contains("no measured scores"), "{none}");
    }
}
