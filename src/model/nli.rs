//! Zero-shot stance from NLI cross-encoders (models fine-tuned on MNLI/ANLI/… with a
//! sequence-classification head).
//!
//! The statement is the premise; each hypothesis template, with `{}` replaced by the target, is
//! the hypothesis. For a three-label model (entailment / neutral / contradiction), each template
//! gives FAVOR = P(entailment), AGAINST = P(contradiction), NONE = P(neutral), and the templates
//! are averaged. A two-label model (entailment / not_entailment) cannot say "against" by itself, so
//! it is asked twice: `p_f` = mean P(entailment) over the FAVOR templates (the configured ones),
//! `p_a` = mean P(entailment) over the AGAINST templates (default [`DEFAULT_AGAINST_TEMPLATE`],
//! see [`NliModel::with_against_templates`]), and
//! FAVOR = p_f (1 − p_a), AGAINST = p_a (1 − p_f), NONE = (1 − p_f)(1 − p_a) + p_f p_a
//! (neither, or both and so undecided). Both mappings sum to 1.
//!
//! The architecture is chosen once from `config.json` (`model_type`, else `architectures`):
//! BERT, DeBERTa-v2/v3, XLM-RoBERTa and RoBERTa, ModernBERT. The label order comes from
//! `id2label`, whatever its case or order.

mod bert;
mod deberta;
mod modernbert;
mod roberta;

use super::hub::ModelFiles;
use super::{softmax, ModelError, Pair, Scores, StanceModel};
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use serde_json::Value;
use tokenizers::{Encoding, Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy};

/// The default hypothesis template.
pub const DEFAULT_TEMPLATE: &str = "This text is in favor of {}.";
/// The default AGAINST template of two-label (entailment / not_entailment) models.
pub const DEFAULT_AGAINST_TEMPLATE: &str = "This text is against {}.";
/// The `model_type`s this module can run.
pub const SUPPORTED_MODEL_TYPES: &[&str] =
    &["bert", "deberta-v2", "xlm-roberta", "roberta", "modernbert"];

/// The transformer family of an NLI checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Architecture {
    /// `bert` (BertForSequenceClassification).
    Bert,
    /// `deberta-v2`, which DeBERTa-v3 checkpoints also use.
    DebertaV2,
    /// `xlm-roberta` and `roberta` (same layout and position-id convention).
    XlmRoberta,
    /// `modernbert`.
    ModernBert,
}

impl Architecture {
    /// From `config.json`: `model_type`, else the first known `architectures` entry. An
    /// unsupported type is an error naming it and the supported list.
    pub fn from_config(config: &Value) -> Result<Architecture, String> {
        let archs: Vec<&str> = config
            .get("architectures")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let supported = SUPPORTED_MODEL_TYPES.join(", ");
        let arch = match config.get("model_type").and_then(Value::as_str) {
            Some(t) => match t.to_ascii_lowercase().replace('_', "-").as_str() {
                "bert" => Architecture::Bert,
                "deberta-v2" => Architecture::DebertaV2,
                "xlm-roberta" | "roberta" => Architecture::XlmRoberta,
                "modernbert" => Architecture::ModernBert,
                _ => {
                    return Err(format!(
                        "unsupported model_type \"{t}\"{}: supported model types are {supported}",
                        if archs.is_empty() {
                            String::new()
                        } else {
                            format!(" (architectures: {})", archs.join(", "))
                        }
                    ))
                }
            },
            None => {
                let found = archs.iter().find_map(|a| {
                    if a.starts_with("BertFor") {
                        Some(Architecture::Bert)
                    } else if a.starts_with("DebertaV2For") {
                        Some(Architecture::DebertaV2)
                    } else if a.starts_with("XLMRobertaFor") || a.starts_with("RobertaFor") {
                        Some(Architecture::XlmRoberta)
                    } else if a.starts_with("ModernBertFor") {
                        Some(Architecture::ModernBert)
                    } else {
                        None
                    }
                });
                match found {
                    Some(a) => a,
                    None => {
                        return Err(format!(
                            "config.json has no model_type and no supported architectures ({}): supported model types are {supported}",
                            if archs.is_empty() { "none".to_string() } else { archs.join(", ") }
                        ))
                    }
                }
            }
        };
        if !archs.is_empty()
            && !archs
                .iter()
                .any(|a| a.ends_with("ForSequenceClassification"))
        {
            return Err(format!(
                "architectures are {}, not a *ForSequenceClassification model: an NLI cross-encoder \
                 (fine-tuned on MNLI/ANLI/…) with a classification head is needed",
                archs.join(", ")
            ));
        }
        Ok(arch)
    }
}

/// Which classifier output is which NLI label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NliLabels {
    Three {
        entailment: usize,
        neutral: usize,
        contradiction: usize,
    },
    Two {
        entailment: usize,
        not_entailment: usize,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Entailment,
    Neutral,
    Contradiction,
    NotEntailment,
}

fn label_kind(name: &str) -> Option<Kind> {
    let n: String = name
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect();
    match n.as_str() {
        "entailment" | "entail" | "entails" | "entailed" => Some(Kind::Entailment),
        "neutral" => Some(Kind::Neutral),
        "contradiction" | "contradict" | "contradicts" | "contradictory" => {
            Some(Kind::Contradiction)
        }
        "notentailment" | "nonentailment" | "notentailed" | "notentail" => {
            Some(Kind::NotEntailment)
        }
        _ => None,
    }
}

fn is_generic_label(name: &str) -> bool {
    let n = name.trim().to_ascii_lowercase();
    n.strip_prefix("label")
        .map(|r| r.trim_start_matches(['_', ' ', '-']))
        .is_some_and(|r| !r.is_empty() && r.chars().all(|c| c.is_ascii_digit()))
}

impl NliLabels {
    /// From `config.json`'s `id2label` (or `label2id` when `id2label` is absent). Names are
    /// matched whatever their case or order (`ENTAILMENT`, `entailment`, `Entailment`,
    /// `not_entailment`, …); generic names (`LABEL_0`) are an error that says how to fix it.
    pub fn from_config(config: &Value) -> Result<NliLabels, String> {
        let mut labels: Vec<(usize, String)> = Vec::new();
        match (config.get("id2label"), config.get("label2id")) {
            (Some(Value::Object(m)), _) if !m.is_empty() => {
                for (k, v) in m {
                    let i: usize = k
                        .trim()
                        .parse()
                        .map_err(|_| format!("id2label key \"{k}\" is not an integer"))?;
                    let name = v
                        .as_str()
                        .ok_or_else(|| format!("id2label[{k}] is not a string"))?;
                    labels.push((i, name.to_string()));
                }
            }
            (_, Some(Value::Object(m))) if !m.is_empty() => {
                for (name, v) in m {
                    let i = v
                        .as_u64()
                        .ok_or_else(|| format!("label2id[\"{name}\"] is not an integer"))?;
                    labels.push((i as usize, name.clone()));
                }
            }
            _ => {
                return Err(
                    "config.json has no id2label: cannot tell which output is entailment; add \
                     \"id2label\" (e.g. {\"0\": \"entailment\", \"1\": \"neutral\", \"2\": \"contradiction\"}, \
                     in the order the model card gives)"
                        .into(),
                )
            }
        }
        labels.sort();
        let n = labels.len();
        if labels.iter().enumerate().any(|(pos, (i, _))| pos != *i) {
            return Err(format!(
                "id2label indices must be 0..{n} without gaps, got {:?}",
                labels.iter().map(|(i, _)| *i).collect::<Vec<_>>()
            ));
        }
        let names: Vec<&str> = labels.iter().map(|(_, s)| s.as_str()).collect();
        let shown = labels
            .iter()
            .map(|(i, s)| format!("{i}: {s}"))
            .collect::<Vec<_>>()
            .join(", ");
        if names.iter().any(|s| is_generic_label(s)) {
            return Err(format!(
                "id2label has generic names ({shown}): cannot tell which output is entailment; edit \
                 config.json's id2label to name them (entailment / neutral / contradiction, or \
                 entailment / not_entailment) in the order the model card gives"
            ));
        }
        let kinds: Vec<Option<Kind>> = names.iter().map(|s| label_kind(s)).collect();
        let find = |k: Kind| kinds.iter().position(|x| *x == Some(k));
        let unknown = || {
            format!(
                "id2label ({shown}) is not an NLI label set: expected entailment / neutral / \
                 contradiction, or entailment / not_entailment (any case, any order)"
            )
        };
        let distinct = |idx: &[Option<usize>]| {
            let v: Vec<usize> = idx.iter().flatten().copied().collect();
            v.len() == idx.len() && (1..v.len()).all(|i| !v[..i].contains(&v[i]))
        };
        match n {
            3 => {
                let (e, ne, c) = (
                    find(Kind::Entailment),
                    find(Kind::Neutral),
                    find(Kind::Contradiction),
                );
                if !distinct(&[e, ne, c]) {
                    return Err(unknown());
                }
                Ok(NliLabels::Three {
                    entailment: e.unwrap(),
                    neutral: ne.unwrap(),
                    contradiction: c.unwrap(),
                })
            }
            2 => {
                let e = find(Kind::Entailment);
                let other = find(Kind::NotEntailment)
                    .or_else(|| find(Kind::Contradiction))
                    .or_else(|| find(Kind::Neutral));
                if !distinct(&[e, other]) {
                    return Err(unknown());
                }
                Ok(NliLabels::Two {
                    entailment: e.unwrap(),
                    not_entailment: other.unwrap(),
                })
            }
            _ => Err(format!(
                "id2label has {n} labels ({shown}); an NLI model has 3 (entailment / neutral / \
                 contradiction) or 2 (entailment / not_entailment)"
            )),
        }
    }

    /// Number of classifier outputs.
    pub fn num_labels(&self) -> usize {
        match self {
            NliLabels::Three { .. } => 3,
            NliLabels::Two { .. } => 2,
        }
    }
}

/// A padded batch, on the model's device. Every architecture gets all three; each uses what it
/// needs.
pub(crate) struct Inputs {
    /// (batch, len) u32 token ids, padded with the model's pad id.
    pub input_ids: Tensor,
    /// (batch, len) u32, 1 for tokens and 0 for padding.
    pub attention_mask: Tensor,
    /// (batch, len) u32 token type ids (zeros where the architecture has none).
    pub token_type_ids: Tensor,
}

enum Encoder {
    Bert(bert::Classifier),
    Deberta(Box<deberta::Classifier>),
    Roberta(roberta::Classifier),
    ModernBert(modernbert::Classifier),
}

impl Encoder {
    fn forward(&self, inputs: &Inputs) -> candle_core::Result<Tensor> {
        match self {
            Encoder::Bert(m) => m.forward(inputs),
            Encoder::Deberta(m) => m.forward(inputs),
            Encoder::Roberta(m) => m.forward(inputs),
            Encoder::ModernBert(m) => m.forward(inputs),
        }
    }
}

/// What a classifier tells the batching code about itself.
pub(crate) struct ModelInfo {
    /// Longest input, special tokens included.
    pub max_len: usize,
    /// Pad id from config.json, if any.
    pub pad_id: Option<u32>,
    /// Size of the token type vocabulary actually used (0: none, all zeros are passed).
    pub type_vocab_size: usize,
}

/// Sets `key` to `default` where it is missing or null (config.json files on the hub omit
/// fields whose value is the transformers default).
/// Only absolute position embeddings are implemented by candle's BERT-family models.
pub(crate) fn require_absolute_positions(config: &Value) -> Result<(), String> {
    let pet = config["position_embedding_type"].as_str().unwrap_or("");
    if pet == "absolute" {
        Ok(())
    } else {
        Err(format!(
            "position_embedding_type \"{pet}\" is not supported (only \"absolute\")"
        ))
    }
}

pub(crate) fn set_default(config: &mut Value, key: &str, default: Value) {
    if let Value::Object(m) = config {
        if m.get(key).is_none_or(Value::is_null) {
            m.insert(key.to_string(), default);
        }
    }
}

pub(crate) fn get_usize(config: &Value, key: &str) -> Option<usize> {
    config.get(key).and_then(Value::as_u64).map(|v| v as usize)
}

/// The transformers name of an activation, as candle's `bert`/`debertav2` `HiddenAct` spells it.
pub(crate) fn hidden_act(name: &str) -> Result<&'static str, String> {
    match name {
        "gelu" => Ok("gelu"),
        "gelu_new" | "gelu_pytorch_tanh" | "gelu_fast" => Ok("geluapproximate"),
        "relu" => Ok("relu"),
        other => Err(format!(
            "unsupported activation \"{other}\" (supported: gelu, gelu_new, gelu_pytorch_tanh, gelu_fast, relu)"
        )),
    }
}

/// A zero-shot NLI cross-encoder used as a [`StanceModel`].
pub struct NliModel {
    source: String,
    arch: Architecture,
    encoder: Encoder,
    tokenizer: Tokenizer,
    labels: NliLabels,
    templates: Vec<String>,
    against_templates: Vec<String>,
    pad_id: u32,
    max_len: usize,
    type_vocab_size: usize,
    device: Device,
}

fn check_templates(templates: &[String], what: &str, model: &str) -> Result<(), ModelError> {
    if templates.is_empty() {
        return Err(ModelError::Config {
            model: model.to_string(),
            message: format!("no {what} hypothesis template given"),
        });
    }
    if let Some(t) = templates.iter().find(|t| !t.contains("{}")) {
        return Err(ModelError::Config {
            model: model.to_string(),
            message: format!(
                "hypothesis template \"{t}\" has no {{}} where the target goes (e.g. \"{DEFAULT_TEMPLATE}\")"
            ),
        });
    }
    Ok(())
}

/// The hypothesis of `template` for `target`.
pub fn hypothesis(template: &str, target: &str) -> String {
    template.replace("{}", target.trim())
}

impl NliModel {
    /// Loads an NLI cross-encoder from resolved files (see [`super::hub::resolve`]), scoring with
    /// the given hypothesis templates (each with `{}` for the target; several are averaged; an
    /// empty list means [`DEFAULT_TEMPLATE`]).
    pub fn load(
        files: &ModelFiles,
        device: &Device,
        templates: Vec<String>,
    ) -> Result<NliModel, ModelError> {
        let source = files.source.clone();
        let cfg_err = |message: String| ModelError::Config {
            model: source.clone(),
            message,
        };
        let text = std::fs::read_to_string(&files.config).map_err(|e| ModelError::File {
            path: files.config.clone(),
            message: e.to_string(),
        })?;
        let config: Value = serde_json::from_str(&text).map_err(|e| ModelError::File {
            path: files.config.clone(),
            message: format!("not valid JSON: {e}"),
        })?;
        if !config.is_object() {
            return Err(ModelError::File {
                path: files.config.clone(),
                message: "not a JSON object".into(),
            });
        }
        let arch = Architecture::from_config(&config).map_err(&cfg_err)?;
        let labels = NliLabels::from_config(&config).map_err(&cfg_err)?;
        let templates = if templates.is_empty() {
            vec![DEFAULT_TEMPLATE.to_string()]
        } else {
            templates
        };
        check_templates(&templates, "FAVOR", &source)?;

        let mut tokenizer = Tokenizer::from_file(&files.tokenizer)
            .map_err(|e| ModelError::Tokenizer(format!("{}: {e}", files.tokenizer.display())))?;

        // SAFETY: the weights file is memory-mapped read-only; it must not be modified while the
        // model is loaded (the same contract as every candle/safetensors loader).
        let vb =
            unsafe { VarBuilder::from_mmaped_safetensors(&[&files.weights], DType::F32, device) }
                .map_err(|e| ModelError::File {
                path: files.weights.clone(),
                message: format!("cannot read safetensors: {e}"),
            })?;
        let n = labels.num_labels();
        let load_err = |e: String| {
            cfg_err(format!(
                "cannot build the {arch:?} classifier from {}: {e}",
                files.weights.display()
            ))
        };
        let (encoder, info) = match arch {
            Architecture::Bert => {
                let (m, i) = bert::Classifier::load(vb, &config, n).map_err(load_err)?;
                (Encoder::Bert(m), i)
            }
            Architecture::DebertaV2 => {
                let (m, i) = deberta::Classifier::load(vb, &config, n).map_err(load_err)?;
                (Encoder::Deberta(Box::new(m)), i)
            }
            Architecture::XlmRoberta => {
                let (m, i) = roberta::Classifier::load(vb, &config, n).map_err(load_err)?;
                (Encoder::Roberta(m), i)
            }
            Architecture::ModernBert => {
                let (m, i) = modernbert::Classifier::load(vb, &config, n).map_err(load_err)?;
                (Encoder::ModernBert(m), i)
            }
        };

        // Our own padding (to the longest pair of each batch) replaces the file's, fixed or not;
        // truncation is at the model's limit, or the file's if that is smaller.
        let mut max_len = info.max_len;
        if let Some(t) = tokenizer.get_truncation() {
            if t.max_length > 0 {
                max_len = max_len.min(t.max_length);
            }
        }
        let file_pad = tokenizer.get_padding().map(|p| p.pad_id);
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(Some(TruncationParams {
                direction: TruncationDirection::Right,
                max_length: max_len,
                strategy: TruncationStrategy::LongestFirst,
                stride: 0,
            }))
            .map_err(|e| ModelError::Tokenizer(format!("cannot set truncation: {e}")))?;
        let pad_id = info
            .pad_id
            .or(file_pad)
            .or_else(|| {
                ["[PAD]", "<pad>", "<|padding|>"]
                    .iter()
                    .find_map(|t| tokenizer.token_to_id(t))
            })
            .unwrap_or(0);

        Ok(NliModel {
            source,
            arch,
            encoder,
            tokenizer,
            labels,
            templates,
            against_templates: vec![DEFAULT_AGAINST_TEMPLATE.to_string()],
            pad_id,
            max_len,
            type_vocab_size: info.type_vocab_size,
            device: device.clone(),
        })
    }

    /// Sets the AGAINST templates of a two-label model (see the module docs); ignored by
    /// three-label models.
    pub fn with_against_templates(mut self, templates: Vec<String>) -> Result<Self, ModelError> {
        check_templates(&templates, "AGAINST", &self.source)?;
        self.against_templates = templates;
        Ok(self)
    }

    pub fn architecture(&self) -> Architecture {
        self.arch
    }

    pub fn labels(&self) -> NliLabels {
        self.labels
    }

    pub fn templates(&self) -> &[String] {
        &self.templates
    }

    pub fn against_templates(&self) -> &[String] {
        &self.against_templates
    }

    /// Longest input the model is given (special tokens included); longer pairs are truncated,
    /// longest side first.
    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// The id used to pad batches.
    pub fn pad_id(&self) -> u32 {
        self.pad_id
    }

    /// Tokenizes one (premise, hypothesis) pair as the model sees it (special tokens,
    /// truncation; no padding).
    pub fn encode(&self, premise: &str, hypothesis: &str) -> Result<Encoding, ModelError> {
        self.tokenizer
            .encode((premise, hypothesis), true)
            .map_err(|e| ModelError::Tokenizer(e.to_string()))
    }

    /// Raw classifier logits of (premise, hypothesis) pairs, one row per pair, in id2label order.
    /// The batch is padded to its longest pair.
    pub fn logits(&self, pairs: &[(String, String)]) -> Result<Vec<Vec<f32>>, ModelError> {
        if pairs.is_empty() {
            return Ok(Vec::new());
        }
        let encodings = pairs
            .iter()
            .map(|(p, h)| self.encode(p, h))
            .collect::<Result<Vec<_>, _>>()?;
        let inputs = self.batch(&encodings)?;
        let logits = self.encoder.forward(&inputs)?;
        let rows: Vec<Vec<f32>> = logits.to_dtype(DType::F32)?.to_vec2()?;
        if rows.len() != pairs.len() || rows.iter().any(|r| r.len() != self.labels.num_labels()) {
            return Err(ModelError::Config {
                model: self.source.clone(),
                message: format!(
                    "classifier returned {:?} for {} pairs and {} labels",
                    logits.dims(),
                    pairs.len(),
                    self.labels.num_labels()
                ),
            });
        }
        Ok(rows)
    }

    fn batch(&self, encodings: &[Encoding]) -> Result<Inputs, ModelError> {
        let b = encodings.len();
        let len = encodings.iter().map(|e| e.len()).max().unwrap_or(0).max(1);
        let mut ids = vec![self.pad_id; b * len];
        let mut mask = vec![0u32; b * len];
        let mut types = vec![0u32; b * len];
        let max_type = self.type_vocab_size.saturating_sub(1) as u32;
        for (i, e) in encodings.iter().enumerate() {
            let row = i * len;
            for (j, (&id, &t)) in e.get_ids().iter().zip(e.get_type_ids()).enumerate() {
                ids[row + j] = id;
                mask[row + j] = 1;
                types[row + j] = t.min(max_type);
            }
        }
        let d = &self.device;
        Ok(Inputs {
            input_ids: Tensor::from_vec(ids, (b, len), d)?,
            attention_mask: Tensor::from_vec(mask, (b, len), d)?,
            token_type_ids: Tensor::from_vec(types, (b, len), d)?,
        })
    }

    /// The hypothesis templates a pair is scored with: the FAVOR templates, then (two-label
    /// models only) the AGAINST templates.
    fn all_templates(&self) -> impl Iterator<Item = &String> {
        let against: &[String] = match self.labels {
            NliLabels::Two { .. } => &self.against_templates,
            NliLabels::Three { .. } => &[],
        };
        self.templates.iter().chain(against)
    }

    /// Stance scores from the logits of one pair: `favor` rows are the FAVOR templates' logits,
    /// `against` rows the AGAINST templates' (two-label models only).
    pub fn scores_from_logits(&self, favor: &[Vec<f32>], against: &[Vec<f32>]) -> Scores {
        let mean = |v: &mut dyn Iterator<Item = f32>| {
            let (s, n) = v.fold((0f32, 0usize), |(s, n), x| (s + x, n + 1));
            if n == 0 {
                0.0
            } else {
                s / n as f32
            }
        };
        let (f, a, n) = match self.labels {
            NliLabels::Three {
                entailment,
                neutral,
                contradiction,
            } => {
                let probs: Vec<Vec<f32>> = favor.iter().map(|l| softmax(l)).collect();
                (
                    mean(&mut probs.iter().map(|p| p[entailment])),
                    mean(&mut probs.iter().map(|p| p[contradiction])),
                    mean(&mut probs.iter().map(|p| p[neutral])),
                )
            }
            NliLabels::Two { entailment, .. } => {
                let pf = mean(&mut favor.iter().map(|l| softmax(l)[entailment]));
                let pa = mean(&mut against.iter().map(|l| softmax(l)[entailment]));
                (
                    pf * (1.0 - pa),
                    pa * (1.0 - pf),
                    (1.0 - pf) * (1.0 - pa) + pf * pa,
                )
            }
        };
        let s = f + a + n;
        if s > 0.0 && s.is_finite() {
            Scores {
                favor: f / s,
                against: a / s,
                none: n / s,
            }
        } else {
            Scores {
                favor: 0.0,
                against: 0.0,
                none: 1.0,
            }
        }
    }
}

impl StanceModel for NliModel {
    fn name(&self) -> String {
        self.source.clone()
    }

    fn token_len(&self, pair: Pair<'_>) -> Result<usize, ModelError> {
        let mut n = 0;
        for t in self.all_templates() {
            n = n.max(self.encode(pair.text, &hypothesis(t, pair.target))?.len());
        }
        Ok(n)
    }

    fn predict(&self, pairs: &[Pair<'_>]) -> Result<Vec<Scores>, ModelError> {
        let templates: Vec<&String> = self.all_templates().collect();
        let t = templates.len();
        let nf = self.templates.len();
        let inputs: Vec<(String, String)> = pairs
            .iter()
            .flat_map(|p| {
                templates
                    .iter()
                    .map(move |tpl| (p.text.to_string(), hypothesis(tpl, p.target)))
            })
            .collect();
        let logits = self.logits(&inputs)?;
        Ok(logits
            .chunks(t)
            .map(|rows| self.scores_from_logits(&rows[..nf], &rows[nf..]))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labels(v: Value) -> Result<NliLabels, String> {
        NliLabels::from_config(&json!({ "id2label": v }))
    }

    #[test]
    fn id2label_cases_and_orders() {
        assert_eq!(
            labels(json!({"0": "entailment", "1": "neutral", "2": "contradiction"})).unwrap(),
            NliLabels::Three {
                entailment: 0,
                neutral: 1,
                contradiction: 2
            }
        );
        assert_eq!(
            labels(json!({"0": "CONTRADICTION", "1": "NEUTRAL", "2": "ENTAILMENT"})).unwrap(),
            NliLabels::Three {
                entailment: 2,
                neutral: 1,
                contradiction: 0
            }
        );
        assert_eq!(
            labels(json!({"2": "Entailment", "0": "Neutral", "1": "Contradiction"})).unwrap(),
            NliLabels::Three {
                entailment: 2,
                neutral: 0,
                contradiction: 1
            }
        );
        assert_eq!(
            labels(json!({"0": "entailment", "1": "not_entailment"})).unwrap(),
            NliLabels::Two {
                entailment: 0,
                not_entailment: 1
            }
        );
        assert_eq!(
            labels(json!({"0": "NOT ENTAILMENT", "1": "Entailment"})).unwrap(),
            NliLabels::Two {
                entailment: 1,
                not_entailment: 0
            }
        );
        // label2id when id2label is absent.
        assert_eq!(
            NliLabels::from_config(
                &json!({"label2id": {"neutral": 2, "entailment": 1, "contradiction": 0}})
            )
            .unwrap(),
            NliLabels::Three {
                entailment: 1,
                neutral: 2,
                contradiction: 0
            }
        );
    }

    #[test]
    fn id2label_errors() {
        let e = labels(json!({"0": "LABEL_0", "1": "LABEL_1", "2": "LABEL_2"})).unwrap_err();
        assert!(e.contains("generic names"), "{e}");
        assert!(e.contains("LABEL_0"), "{e}");
        let e = labels(json!({"0": "positive", "1": "negative"})).unwrap_err();
        assert!(e.contains("not an NLI label set"), "{e}");
        let e = labels(json!({"0": "entailment", "1": "entailment", "2": "neutral"})).unwrap_err();
        assert!(e.contains("not an NLI label set"), "{e}");
        let e = labels(json!({"0": "entailment"})).unwrap_err();
        assert!(e.contains("1 labels"), "{e}");
        let e =
            labels(json!({"0": "entailment", "2": "neutral", "3": "contradiction"})).unwrap_err();
        assert!(e.contains("without gaps"), "{e}");
        let e = NliLabels::from_config(&json!({})).unwrap_err();
        assert!(e.contains("no id2label"), "{e}");
    }

    #[test]
    fn architecture_from_config() {
        let a = |v: Value| Architecture::from_config(&v);
        assert_eq!(
            a(json!({"model_type": "bert"})).unwrap(),
            Architecture::Bert
        );
        assert_eq!(
            a(json!({"model_type": "deberta-v2", "architectures": ["DebertaV2ForSequenceClassification"]}))
                .unwrap(),
            Architecture::DebertaV2
        );
        assert_eq!(
            a(json!({"model_type": "roberta"})).unwrap(),
            Architecture::XlmRoberta
        );
        assert_eq!(
            a(json!({"model_type": "xlm-roberta"})).unwrap(),
            Architecture::XlmRoberta
        );
        assert_eq!(
            a(json!({"model_type": "modernbert"})).unwrap(),
            Architecture::ModernBert
        );
        assert_eq!(
            a(json!({"architectures": ["ModernBertForSequenceClassification"]})).unwrap(),
            Architecture::ModernBert
        );
        let e =
            a(json!({"model_type": "bart", "architectures": ["BartForSequenceClassification"]}))
                .unwrap_err();
        assert!(e.contains("unsupported model_type \"bart\""), "{e}");
        assert!(e.contains("deberta-v2"), "{e}");
        let e = a(json!({"model_type": "bert", "architectures": ["BertForMaskedLM"]})).unwrap_err();
        assert!(e.contains("ForSequenceClassification"), "{e}");
    }

    #[test]
    fn templates() {
        assert_eq!(
            hypothesis(DEFAULT_TEMPLATE, " nuclear power "),
            "This text is in favor of nuclear power."
        );
        let e = check_templates(&["no placeholder".into()], "FAVOR", "m").unwrap_err();
        assert!(e.to_string().contains("{}"), "{e}");
        assert!(check_templates(&[], "FAVOR", "m").is_err());
    }
}
