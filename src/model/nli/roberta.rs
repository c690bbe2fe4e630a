//! XLM-RoBERTa and RoBERTa sequence classification: candle's
//! `XLMRobertaForSequenceClassification` (weights `roberta.*`, `classifier.dense.*`,
//! `classifier.out_proj.*`; position ids count from `pad_token_id + 1`, so padding must use the
//! config's pad id). Token types are all zeros, as the tokenizers of these models give none.

use super::{get_usize, require_absolute_positions, set_default, Inputs, ModelInfo};
use candle_core::Tensor;
use candle_nn::VarBuilder;
use candle_transformers::models::xlm_roberta::{Config, XLMRobertaForSequenceClassification};
use serde_json::{json, Value};

pub(crate) struct Classifier {
    model: XLMRobertaForSequenceClassification,
}

impl Classifier {
    pub(crate) fn load(
        vb: VarBuilder,
        config: &Value,
        num_labels: usize,
    ) -> Result<(Classifier, ModelInfo), String> {
        let mut c = config.clone();
        // transformers' XLMRobertaConfig defaults, for fields a config.json may omit.
        for (k, v) in [
            ("hidden_act", json!("gelu")),
            ("hidden_dropout_prob", json!(0.1)),
            ("attention_probs_dropout_prob", json!(0.1)),
            ("max_position_embeddings", json!(512)),
            ("type_vocab_size", json!(2)),
            ("layer_norm_eps", json!(1e-12)),
            ("pad_token_id", json!(1)),
            ("position_embedding_type", json!("absolute")),
        ] {
            set_default(&mut c, k, v);
        }
        require_absolute_positions(&c)?;
        let cfg: Config =
            serde_json::from_value(c.clone()).map_err(|e| format!("config.json: {e}"))?;
        let model = XLMRobertaForSequenceClassification::new(num_labels, &cfg, vb)
            .map_err(|e| format!("{e} (does id2label have as many labels as the classifier?)"))?;
        let pad = get_usize(&c, "pad_token_id").unwrap_or(1);
        // Positions run from pad + 1 to max_position_embeddings - 1.
        let max_len = cfg
            .max_position_embeddings
            .checked_sub(pad + 1)
            .filter(|&n| n > 0)
            .ok_or_else(|| {
                format!(
                    "max_position_embeddings {} leaves no room after pad_token_id {pad}",
                    cfg.max_position_embeddings
                )
            })?;
        let info = ModelInfo {
            max_len,
            pad_id: Some(pad as u32),
            type_vocab_size: 0,
        };
        Ok((Classifier { model }, info))
    }

    pub(crate) fn forward(&self, x: &Inputs) -> candle_core::Result<Tensor> {
        self.model
            .forward(&x.input_ids, &x.attention_mask, &x.token_type_ids)
    }
}
