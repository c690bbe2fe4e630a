//! BertForSequenceClassification on candle's `BertModel` (which has no classification head):
//! pooler = dense + tanh on the [CLS] hidden state, then the `classifier` linear layer. Weights:
//! `bert.*`, `bert.pooler.dense.*`, `classifier.*`.

use super::{get_usize, hidden_act, require_absolute_positions, set_default, Inputs, ModelInfo};
use candle_core::{IndexOp, Module, Tensor};
use candle_nn::{linear, Linear, VarBuilder};
use candle_transformers::models::bert::{BertModel, Config};
use serde_json::{json, Value};

pub(crate) struct Classifier {
    bert: BertModel,
    pooler: Linear,
    classifier: Linear,
}

impl Classifier {
    pub(crate) fn load(
        vb: VarBuilder,
        config: &Value,
        num_labels: usize,
    ) -> Result<(Classifier, ModelInfo), String> {
        let mut c = config.clone();
        // transformers' BertConfig defaults, for fields a config.json may omit.
        for (k, v) in [
            ("hidden_act", json!("gelu")),
            ("hidden_dropout_prob", json!(0.1)),
            ("max_position_embeddings", json!(512)),
            ("type_vocab_size", json!(2)),
            ("initializer_range", json!(0.02)),
            ("layer_norm_eps", json!(1e-12)),
            ("pad_token_id", json!(0)),
            ("position_embedding_type", json!("absolute")),
        ] {
            set_default(&mut c, k, v);
        }
        require_absolute_positions(&c)?;
        let act = hidden_act(c["hidden_act"].as_str().unwrap_or("?"))?;
        c["hidden_act"] = json!(act);
        c["model_type"] = json!("bert");
        let cfg: Config =
            serde_json::from_value(c.clone()).map_err(|e| format!("config.json: {e}"))?;
        let bert = BertModel::load(vb.pp("bert"), &cfg).map_err(|e| e.to_string())?;
        let pooler = linear(cfg.hidden_size, cfg.hidden_size, vb.pp("bert.pooler.dense"))
            .map_err(|e| e.to_string())?;
        let classifier = linear(cfg.hidden_size, num_labels, vb.pp("classifier"))
            .map_err(|e| format!("{e} (does id2label have as many labels as the classifier?)"))?;
        let info = ModelInfo {
            max_len: cfg.max_position_embeddings,
            pad_id: get_usize(&c, "pad_token_id").map(|v| v as u32),
            type_vocab_size: cfg.type_vocab_size,
        };
        Ok((
            Classifier {
                bert,
                pooler,
                classifier,
            },
            info,
        ))
    }

    pub(crate) fn forward(&self, x: &Inputs) -> candle_core::Result<Tensor> {
        let hidden = self
            .bert
            .forward(&x.input_ids, &x.token_type_ids, Some(&x.attention_mask))?;
        let cls = hidden.i((.., 0, ..))?.contiguous()?;
        let pooled = self.pooler.forward(&cls)?.tanh()?;
        self.classifier.forward(&pooled)
    }
}
