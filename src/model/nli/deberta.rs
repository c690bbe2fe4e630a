//! DeBERTa-v2/v3 sequence classification: candle's `DebertaV2SeqClassificationModel` (weights
//! `deberta.*`, context pooler `pooler.dense.*`, `classifier.*`). Token types are passed only
//! when the model has a token type embedding (`type_vocab_size` > 0; v3 checkpoints have none).

use super::{get_usize, hidden_act, set_default, Inputs, ModelInfo};
use candle_core::Tensor;
use candle_nn::VarBuilder;
use candle_transformers::models::debertav2::{Config, DebertaV2SeqClassificationModel};
use serde_json::{json, Value};
use std::collections::HashMap;

pub(crate) struct Classifier {
    model: DebertaV2SeqClassificationModel,
    token_types: bool,
}

impl Classifier {
    pub(crate) fn load(
        vb: VarBuilder,
        config: &Value,
        num_labels: usize,
    ) -> Result<(Classifier, ModelInfo), String> {
        let mut c = config.clone();
        let hidden = c.get("hidden_size").cloned().unwrap_or(json!(1536));
        // transformers' DebertaV2Config defaults, for fields a config.json may omit.
        for (k, v) in [
            ("hidden_act", json!("gelu")),
            ("hidden_dropout_prob", json!(0.1)),
            ("attention_probs_dropout_prob", json!(0.1)),
            ("max_position_embeddings", json!(512)),
            ("type_vocab_size", json!(0)),
            ("initializer_range", json!(0.02)),
            ("layer_norm_eps", json!(1e-7)),
            ("relative_attention", json!(false)),
            ("max_relative_positions", json!(-1)),
            ("pad_token_id", json!(0)),
            ("position_biased_input", json!(true)),
            ("pos_att_type", json!([])),
            ("pooler_dropout", json!(0.0)),
            ("pooler_hidden_act", json!("gelu")),
            ("pooler_hidden_size", hidden),
        ] {
            set_default(&mut c, k, v);
        }
        if get_usize(&c, "conv_kernel_size").unwrap_or(0) > 0 {
            return Err(
                "conv_kernel_size > 0 (the DeBERTa-v2 convolution layer of the xlarge/xxlarge v2 \
                 checkpoints) is not supported; DeBERTa-v3 checkpoints work"
                    .into(),
            );
        }
        for key in ["hidden_act", "pooler_hidden_act"] {
            let act = hidden_act(c[key].as_str().unwrap_or("?"))?;
            c[key] = json!(act);
        }
        // The labels are handled by the caller; candle only needs their count.
        if let Value::Object(m) = &mut c {
            m.remove("id2label");
            m.remove("label2id");
        }
        let cfg: Config =
            serde_json::from_value(c.clone()).map_err(|e| format!("config.json: {e}"))?;
        let id2label: HashMap<u32, String> =
            (0..num_labels as u32).map(|i| (i, i.to_string())).collect();
        let model = DebertaV2SeqClassificationModel::load(vb.pp("deberta"), &cfg, Some(id2label))
            .map_err(|e| {
            format!("{e} (does id2label have as many labels as the classifier?)")
        })?;
        let info = ModelInfo {
            max_len: cfg.max_position_embeddings,
            pad_id: cfg.pad_token_id.map(|v| v as u32),
            type_vocab_size: cfg.type_vocab_size,
        };
        Ok((
            Classifier {
                model,
                token_types: cfg.type_vocab_size > 0,
            },
            info,
        ))
    }

    pub(crate) fn forward(&self, x: &Inputs) -> candle_core::Result<Tensor> {
        let types = self.token_types.then(|| x.token_type_ids.clone());
        self.model
            .forward(&x.input_ids, types, Some(x.attention_mask.clone()))
    }
}
