//! Parity of the NLI cross-encoders with PyTorch `transformers`.
//!
//! Each fixture in tests/fixtures/nli/<arch>/ is a tiny random model written by
//! tests/fixtures/make_nli_fixtures.py, with `reference.json` holding the token ids and the
//! PyTorch logits (eval mode, batch padded to its longest pair). The fixture directory is loaded
//! the way a downloaded hub model is: `hub::resolve(dir, None, offline)` then `NliModel::load`.
//!
//! Tolerance: token ids must be equal; logits may differ by at most 1e-4 (absolute).

use candle_core::Device;
use serde_json::Value;
use standpoint::model::hub;
use standpoint::model::nli::{NliLabels, NliModel, DEFAULT_TEMPLATE};
use standpoint::model::{softmax, ModelError, Pair, StanceModel};
use std::path::{Path, PathBuf};

const TOL: f32 = 1e-4;
const ARCHS: &[&str] = &["bert", "deberta-v2", "xlm-roberta", "roberta", "modernbert"];

fn fixture(arch: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/nli")
        .join(arch)
}

struct Reference {
    pairs: Vec<(String, String)>,
    input_ids: Vec<Vec<u32>>,
    token_type_ids: Option<Vec<Vec<u32>>>,
    logits: Vec<Vec<f32>>,
}

fn reference(arch: &str) -> Reference {
    let text = std::fs::read_to_string(fixture(arch).join("reference.json")).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    let pairs = v["pairs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p[0].as_str().unwrap().to_string(),
                p[1].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let ids = |key: &str| -> Option<Vec<Vec<u32>>> {
        v.get(key)
            .map(|a| serde_json::from_value(a.clone()).unwrap())
    };
    Reference {
        pairs,
        input_ids: ids("input_ids").unwrap(),
        token_type_ids: ids("token_type_ids"),
        logits: serde_json::from_value(v["logits"].clone()).unwrap(),
    }
}

fn load(dir: &Path, templates: Vec<String>) -> Result<NliModel, ModelError> {
    let files = hub::resolve(dir.to_str().unwrap(), None, true)?;
    NliModel::load(&files, &Device::Cpu, templates)
}

fn max_abs_diff(a: &[Vec<f32>], b: &[Vec<f32>]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .flat_map(|(x, y)| {
            assert_eq!(x.len(), y.len());
            x.iter().zip(y).map(|(p, q)| (p - q).abs())
        })
        .fold(0.0, f32::max)
}

/// The index of the label named `name` (any case) in the fixture's id2label, read independently
/// of the crate's parser.
fn label_index(arch: &str, name: &str) -> usize {
    let text = std::fs::read_to_string(fixture(arch).join("config.json")).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    let (k, _) = v["id2label"]
        .as_object()
        .unwrap()
        .iter()
        .find(|(_, n)| n.as_str().unwrap().eq_ignore_ascii_case(name))
        .unwrap_or_else(|| panic!("{arch}: no label {name}"));
    k.parse().unwrap()
}

#[test]
fn token_ids_match_reference() {
    for arch in ARCHS {
        let r = reference(arch);
        let m = load(&fixture(arch), vec![]).unwrap();
        for (i, (p, h)) in r.pairs.iter().enumerate() {
            let e = m.encode(p, h).unwrap();
            assert_eq!(e.get_ids(), &r.input_ids[i][..], "{arch}: ids of pair {i}");
            if let Some(types) = &r.token_type_ids {
                assert_eq!(e.get_type_ids(), &types[i][..], "{arch}: types of pair {i}");
            }
        }
        // The long pair is truncated to the model's limit, as in Python.
        let longest = r.input_ids.iter().map(Vec::len).max().unwrap();
        assert_eq!(longest, m.max_len(), "{arch}: truncation");
    }
}

#[test]
fn logits_match_reference() {
    for arch in ARCHS {
        let r = reference(arch);
        let m = load(&fixture(arch), vec![]).unwrap();
        let logits = m.logits(&r.pairs).unwrap();
        let d = max_abs_diff(&logits, &r.logits);
        eprintln!("{arch}: max |logit - torch| = {d:.3e}");
        assert!(d <= TOL, "{arch}: logits differ by {d} > {TOL}");
        // Padding does not change a pair's logits: each pair alone gives the same.
        for (i, pair) in r.pairs.iter().enumerate() {
            let one = m.logits(std::slice::from_ref(pair)).unwrap();
            let d = max_abs_diff(&one, &r.logits[i..=i]);
            assert!(d <= TOL, "{arch}: pair {i} alone differs by {d}");
        }
    }
}

#[test]
fn predict_maps_labels() {
    for arch in ARCHS {
        let r = reference(arch);
        // With the template "{}" the hypothesis is the target itself, so predict sees exactly the
        // reference pairs.
        let m = load(&fixture(arch), vec!["{}".into()]).unwrap();
        let pairs: Vec<Pair> = r
            .pairs
            .iter()
            .map(|(p, h)| Pair { text: p, target: h })
            .collect();
        let scores = m.predict(&pairs).unwrap();
        assert_eq!(scores.len(), pairs.len());
        let e = label_index(arch, "entailment");
        match m.labels() {
            NliLabels::Three { .. } => {
                let n = label_index(arch, "neutral");
                let c = label_index(arch, "contradiction");
                for (s, l) in scores.iter().zip(&r.logits) {
                    let p = softmax(l);
                    assert!(
                        (s.favor - p[e]).abs() <= TOL,
                        "{arch}: FAVOR {s:?} vs {p:?}"
                    );
                    assert!(
                        (s.against - p[c]).abs() <= TOL,
                        "{arch}: AGAINST {s:?} vs {p:?}"
                    );
                    assert!((s.none - p[n]).abs() <= TOL, "{arch}: NONE {s:?} vs {p:?}");
                }
            }
            NliLabels::Two { .. } => {
                // FAVOR hypotheses are the reference pairs; AGAINST ones come from the default
                // AGAINST template, whose logits are those of `logits` (checked above).
                let against: Vec<(String, String)> = r
                    .pairs
                    .iter()
                    .map(|(p, h)| {
                        let t = &m.against_templates()[0];
                        (p.clone(), t.replace("{}", h))
                    })
                    .collect();
                let al = m.logits(&against).unwrap();
                for ((s, fl), al) in scores.iter().zip(&r.logits).zip(&al) {
                    let pf = softmax(fl)[e];
                    let pa = softmax(al)[e];
                    assert!((s.favor - pf * (1.0 - pa)).abs() <= TOL, "{arch}: {s:?}");
                    assert!((s.against - pa * (1.0 - pf)).abs() <= TOL, "{arch}: {s:?}");
                    let none = (1.0 - pf) * (1.0 - pa) + pf * pa;
                    assert!((s.none - none).abs() <= TOL, "{arch}: {s:?}");
                }
            }
        }
        for s in &scores {
            let sum = s.favor + s.against + s.none;
            assert!((sum - 1.0).abs() <= 1e-5, "{arch}: sum {sum}");
            assert!(s.favor >= 0.0 && s.against >= 0.0 && s.none >= 0.0);
        }
        assert_eq!(m.name(), fixture(arch).display().to_string());
    }
}

#[test]
fn templates_are_averaged() {
    let arch = "deberta-v2";
    let t1 = "This text is in favor of {}.".to_string();
    let t2 = "The author supports {}.".to_string();
    let both = load(&fixture(arch), vec![t1.clone(), t2.clone()]).unwrap();
    let one = load(&fixture(arch), vec![t1]).unwrap();
    let two = load(&fixture(arch), vec![t2]).unwrap();
    let pairs = [
        Pair {
            text: "The minister strongly supports the new climate law.",
            target: "the climate law",
        },
        Pair {
            text: "Rain.",
            target: "nuclear power",
        },
    ];
    let (b, o, t) = (
        both.predict(&pairs).unwrap(),
        one.predict(&pairs).unwrap(),
        two.predict(&pairs).unwrap(),
    );
    for i in 0..pairs.len() {
        assert!((b[i].favor - (o[i].favor + t[i].favor) / 2.0).abs() < 1e-5);
        assert!((b[i].against - (o[i].against + t[i].against) / 2.0).abs() < 1e-5);
        assert!((b[i].none - (o[i].none + t[i].none) / 2.0).abs() < 1e-5);
    }
    // token_len counts the longest hypothesis.
    let n = both.token_len(pairs[0]).unwrap();
    assert!(n >= one.token_len(pairs[0]).unwrap() && n >= two.token_len(pairs[0]).unwrap());
    // No templates: the default one.
    let d = load(&fixture(arch), vec![]).unwrap();
    assert_eq!(d.templates(), &[DEFAULT_TEMPLATE.to_string()]);
    assert!(load(&fixture(arch), vec!["no placeholder".into()]).is_err());
}

/// A copy of a fixture with its config.json edited.
fn edited_fixture(arch: &str, edit: impl FnOnce(&mut Value)) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for f in ["model.safetensors", "tokenizer.json"] {
        std::fs::copy(fixture(arch).join(f), dir.path().join(f)).unwrap();
    }
    let text = std::fs::read_to_string(fixture(arch).join("config.json")).unwrap();
    let mut v: Value = serde_json::from_str(&text).unwrap();
    edit(&mut v);
    std::fs::write(dir.path().join("config.json"), v.to_string()).unwrap();
    dir
}

#[test]
fn unsupported_model_type() {
    let dir = edited_fixture("bert", |v| {
        v["model_type"] = "distilbert".into();
        v["architectures"] = serde_json::json!(["DistilBertForSequenceClassification"]);
    });
    let err = load(dir.path(), vec![])
        .err()
        .expect("must fail")
        .to_string();
    assert!(
        err.contains("unsupported model_type \"distilbert\""),
        "{err}"
    );
    for t in ["bert", "deberta-v2", "xlm-roberta", "modernbert"] {
        assert!(err.contains(t), "{err}");
    }
}

#[test]
fn id2label_parsing() {
    // Case and order of the fixtures themselves.
    let expect = [
        (
            "bert",
            NliLabels::Three {
                entailment: 0,
                neutral: 1,
                contradiction: 2,
            },
        ),
        (
            "deberta-v2",
            NliLabels::Three {
                entailment: 2,
                neutral: 1,
                contradiction: 0,
            },
        ),
        (
            "xlm-roberta",
            NliLabels::Three {
                entailment: 2,
                neutral: 0,
                contradiction: 1,
            },
        ),
        (
            "modernbert",
            NliLabels::Two {
                entailment: 0,
                not_entailment: 1,
            },
        ),
    ];
    for (arch, labels) in expect {
        assert_eq!(
            load(&fixture(arch), vec![]).unwrap().labels(),
            labels,
            "{arch}"
        );
    }

    // Renaming the outputs moves the probabilities with them.
    let dir = edited_fixture("bert", |v| {
        v["id2label"] =
            serde_json::json!({"0": "CONTRADICTION", "1": "Neutral", "2": "entailment"});
    });
    let m = load(dir.path(), vec!["{}".into()]).unwrap();
    assert_eq!(
        m.labels(),
        NliLabels::Three {
            entailment: 2,
            neutral: 1,
            contradiction: 0
        }
    );
    let r = reference("bert");
    let s = m
        .predict(&[Pair {
            text: &r.pairs[0].0,
            target: &r.pairs[0].1,
        }])
        .unwrap();
    let p = softmax(&r.logits[0]);
    assert!((s[0].favor - p[2]).abs() <= TOL && (s[0].against - p[0]).abs() <= TOL);

    // Unnamed labels: a clear error.
    let dir = edited_fixture("bert", |v| {
        v["id2label"] = serde_json::json!({"0": "LABEL_0", "1": "LABEL_1", "2": "LABEL_2"});
    });
    let err = load(dir.path(), vec![])
        .err()
        .expect("must fail")
        .to_string();
    assert!(err.contains("generic names"), "{err}");

    // A label count that does not match the classifier.
    let dir = edited_fixture("bert", |v| {
        v["id2label"] = serde_json::json!({"0": "entailment", "1": "not_entailment"});
    });
    let err = load(dir.path(), vec![])
        .err()
        .expect("must fail")
        .to_string();
    assert!(err.contains("classifier"), "{err}");
}

#[test]
fn missing_files_are_named() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        fixture("bert").join("config.json"),
        dir.path().join("config.json"),
    )
    .unwrap();
    let err = hub::resolve(dir.path().to_str().unwrap(), None, true)
        .unwrap_err()
        .to_string();
    assert!(err.contains("tokenizer.json"), "{err}");
}

#[test]
fn modernbert_transformers4_config_dialect() {
    // Hub checkpoints saved with transformers 4.x spell the attention pattern and rope thetas
    // differently; the same weights must give the same logits.
    let dir = edited_fixture("modernbert", |v| {
        let m = v.as_object_mut().unwrap();
        m.remove("layer_types");
        m.remove("rope_parameters");
        m.insert("global_attn_every_n_layers".into(), 2.into());
        m.insert("global_rope_theta".into(), 160000.0.into());
        m.insert("local_rope_theta".into(), 10000.0.into());
    });
    let r = reference("modernbert");
    let m = load(dir.path(), vec![]).unwrap();
    let d = max_abs_diff(&m.logits(&r.pairs).unwrap(), &r.logits);
    assert!(d <= TOL, "logits differ by {d}");
}
