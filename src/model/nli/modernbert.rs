//! ModernBERT sequence classification: candle's `ModernBert` backbone (weights `model.*`) with
//! the classification head written here, because candle's `ModernBertForSequenceClassification`
//! returns probabilities, not logits: pooling (`classifier_pooling`: CLS or the masked mean),
//! `head.dense` + activation + `head.norm`, then `classifier`.
//!
//! config.json comes in two dialects: transformers 4.x (`global_attn_every_n_layers`,
//! `global_rope_theta`, `local_rope_theta`) and 5.x (`layer_types`, `rope_parameters`); both are
//! mapped to candle's config. Biases in attention, MLP or norms are not supported by candle's
//! backbone (no released ModernBERT uses them).

use super::{get_usize, set_default, Inputs, ModelInfo};
use candle_core::{DType, IndexOp, Module, Tensor, D};
use candle_nn::{layer_norm_no_bias, linear, Activation, LayerNorm, Linear, VarBuilder};
use candle_transformers::models::modernbert::{Config, ModernBert};
use serde_json::{json, Value};

pub(crate) struct Classifier {
    model: ModernBert,
    dense: Linear,
    act: Activation,
    norm: LayerNorm,
    classifier: Linear,
    mean_pooling: bool,
}

/// `global_attn_every_n_layers` from `layer_types` (full attention every n-th layer, from 0).
fn every_n_from_layer_types(types: &[Value]) -> Result<usize, String> {
    let full: Vec<usize> = types
        .iter()
        .enumerate()
        .filter(|(_, t)| t.as_str() == Some("full_attention"))
        .map(|(i, _)| i)
        .collect();
    let n = match full.as_slice() {
        [] | [_] if types.len() <= 1 => 1,
        [0] => types.len(),
        [0, second, ..] => *second,
        _ => 0,
    };
    let ok = n > 0
        && types.iter().enumerate().all(|(i, t)| {
            let want = if i % n == 0 {
                "full_attention"
            } else {
                "sliding_attention"
            };
            t.as_str() == Some(want)
        });
    if ok {
        Ok(n)
    } else {
        Err(format!(
            "layer_types {types:?} is not a regular pattern of one full-attention layer every n layers, \
             starting at layer 0 (the only pattern candle's ModernBERT supports)"
        ))
    }
}

fn rope_theta(c: &Value, old_key: &str, kind: &str, default: f64) -> f64 {
    c.get(old_key)
        .and_then(Value::as_f64)
        .or_else(|| {
            c.get("rope_parameters")
                .and_then(|r| r.get(kind))
                .and_then(|r| r.get("rope_theta"))
                .and_then(Value::as_f64)
        })
        .unwrap_or(default)
}

impl Classifier {
    pub(crate) fn load(
        vb: VarBuilder,
        config: &Value,
        num_labels: usize,
    ) -> Result<(Classifier, ModelInfo), String> {
        let mut c = config.clone();
        for key in ["norm_bias", "attention_bias", "mlp_bias"] {
            if c.get(key).and_then(Value::as_bool) == Some(true) {
                return Err(format!(
                    "{key}: true is not supported by candle's ModernBERT"
                ));
            }
        }
        let act = c
            .get("hidden_activation")
            .and_then(Value::as_str)
            .unwrap_or("gelu");
        if act != "gelu" {
            return Err(format!(
                "hidden_activation \"{act}\" is not supported by candle's ModernBERT (only gelu)"
            ));
        }
        // transformers' ModernBertConfig defaults, in candle's field names.
        let eps = c
            .get("norm_eps")
            .and_then(Value::as_f64)
            .or_else(|| c.get("layer_norm_eps").and_then(Value::as_f64))
            .unwrap_or(1e-5);
        c["layer_norm_eps"] = json!(eps);
        let every_n = match (
            get_usize(&c, "global_attn_every_n_layers"),
            c.get("layer_types").and_then(Value::as_array),
        ) {
            (_, Some(types)) if !types.is_empty() => every_n_from_layer_types(types)?,
            (Some(n), _) if n > 0 => n,
            _ => 3,
        };
        c["global_attn_every_n_layers"] = json!(every_n);
        c["global_rope_theta"] = json!(rope_theta(
            &c,
            "global_rope_theta",
            "full_attention",
            160_000.0
        ));
        c["local_rope_theta"] = json!(rope_theta(
            &c,
            "local_rope_theta",
            "sliding_attention",
            10_000.0
        ));
        for (k, v) in [
            ("max_position_embeddings", json!(8192)),
            ("pad_token_id", json!(50283)),
            ("local_attention", json!(128)),
        ] {
            set_default(&mut c, k, v);
        }
        let pooling = c
            .get("classifier_pooling")
            .and_then(Value::as_str)
            .unwrap_or("cls")
            .to_ascii_lowercase();
        let mean_pooling = match pooling.as_str() {
            "cls" => false,
            "mean" => true,
            other => {
                return Err(format!(
                    "classifier_pooling \"{other}\" is not supported (cls, mean)"
                ))
            }
        };
        let classifier_bias = c
            .get("classifier_bias")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let act_name = c
            .get("classifier_activation")
            .and_then(Value::as_str)
            .unwrap_or("gelu")
            .to_string();
        let act: Activation = serde_json::from_value(json!(act_name))
            .map_err(|_| format!("classifier_activation \"{act_name}\" is not supported"))?;
        // candle's classifier config (labels, pooling) is not used: the head is ours.
        if let Value::Object(m) = &mut c {
            for k in ["id2label", "label2id", "classifier_pooling"] {
                m.remove(k);
            }
        }
        let cfg: Config =
            serde_json::from_value(c.clone()).map_err(|e| format!("config.json: {e}"))?;
        let h = cfg.hidden_size;
        let model = ModernBert::load(vb.clone(), &cfg).map_err(|e| e.to_string())?;
        let dense = if classifier_bias {
            linear(h, h, vb.pp("head.dense"))
        } else {
            candle_nn::linear_no_bias(h, h, vb.pp("head.dense"))
        }
        .map_err(|e| e.to_string())?;
        let norm = layer_norm_no_bias(h, cfg.layer_norm_eps, vb.pp("head.norm"))
            .map_err(|e| e.to_string())?;
        let classifier = linear(h, num_labels, vb.pp("classifier"))
            .map_err(|e| format!("{e} (does id2label have as many labels as the classifier?)"))?;
        let info = ModelInfo {
            max_len: cfg.max_position_embeddings,
            pad_id: Some(cfg.pad_token_id),
            type_vocab_size: 0,
        };
        Ok((
            Classifier {
                model,
                dense,
                act,
                norm,
                classifier,
                mean_pooling,
            },
            info,
        ))
    }

    pub(crate) fn forward(&self, x: &Inputs) -> candle_core::Result<Tensor> {
        let hidden = self.model.forward(&x.input_ids, &x.attention_mask)?;
        let pooled = if self.mean_pooling {
            let mask = x.attention_mask.to_dtype(DType::F32)?;
            let sum = hidden.broadcast_mul(&mask.unsqueeze(D::Minus1)?)?.sum(1)?;
            sum.broadcast_div(&mask.sum_keepdim(1)?)?
        } else {
            hidden.i((.., 0, ..))?.contiguous()?
        };
        let h = self.dense.forward(&pooled)?;
        let h = self.act.forward(&h)?;
        let h = self.norm.forward(&h)?;
        self.classifier.forward(&h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer_types_pattern() {
        let t = |v: &[&str]| -> Vec<Value> { v.iter().map(|s| json!(s)).collect() };
        let (f, s) = ("full_attention", "sliding_attention");
        assert_eq!(every_n_from_layer_types(&t(&[f, s, s, f, s, s, f])), Ok(3));
        assert_eq!(every_n_from_layer_types(&t(&[f, s])), Ok(2));
        assert_eq!(every_n_from_layer_types(&t(&[f, f, f])), Ok(1));
        assert_eq!(every_n_from_layer_types(&t(&[f])), Ok(1));
        assert!(every_n_from_layer_types(&t(&[s, f])).is_err());
        assert!(every_n_from_layer_types(&t(&[f, s, f, s, s])).is_err());
    }

    #[test]
    fn rope_theta_dialects() {
        let v4 = json!({"global_rope_theta": 1.0});
        assert_eq!(
            rope_theta(&v4, "global_rope_theta", "full_attention", 9.0),
            1.0
        );
        let v5 = json!({"rope_parameters": {"sliding_attention": {"rope_theta": 2.0}}});
        assert_eq!(
            rope_theta(&v5, "local_rope_theta", "sliding_attention", 9.0),
            2.0
        );
        assert_eq!(
            rope_theta(&json!({}), "local_rope_theta", "sliding_attention", 9.0),
            9.0
        );
    }
}
