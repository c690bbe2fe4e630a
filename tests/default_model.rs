//! Tests of the default stance model (all-MiniLM-L6-v2 + committed stance head) and of
//! `train_head`. They need the encoder in the local Hugging Face hub cache: run
//! `models/fetch-encoder.sh` once.

use candle_core::Device;
use standpoint::model::default::{
    DefaultModel, Encoder, HeadMeta, StanceHead, ENCODER_REPO, HEAD_META_FILE, HEAD_WEIGHTS_FILE,
};
use standpoint::model::{Label, Pair, StanceModel};
use standpoint::train::{read_stance_jsonl, train_head, HeadTrainOptions, TrainError, TrainEvent};
use std::path::PathBuf;
use std::sync::Mutex;

/// Parity tolerance against PyTorch: max absolute difference per embedding component.
const PARITY_TOL: f32 = 1e-4;

fn encoder_file(name: &str) -> PathBuf {
    standpoint::model::hub::default_cache()
        .model(ENCODER_REPO.to_string())
        .get(name)
        .unwrap_or_else(|| {
            panic!(
                "{ENCODER_REPO}/{name} is not in the local Hugging Face hub cache; \
                 run models/fetch-encoder.sh first"
            )
        })
}

fn encoder() -> Encoder {
    Encoder::load(
        &encoder_file("config.json"),
        &encoder_file("model.safetensors"),
        &encoder_file("tokenizer.json"),
        &Device::Cpu,
    )
    .expect("encoder loads")
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[derive(serde::Deserialize)]
struct Reference {
    max_tokens: usize,
    sentences: Vec<RefSentence>,
}

#[derive(serde::Deserialize)]
struct RefSentence {
    text: String,
    tokens: usize,
    embedding: Vec<f32>,
}

#[test]
fn encoder_matches_pytorch_reference() {
    let r: Reference =
        serde_json::from_str(include_str!("fixtures/minilm_reference.json")).unwrap();
    assert_eq!(r.max_tokens, standpoint::model::default::ENCODER_MAX_TOKENS);
    let enc = encoder();
    assert_eq!(enc.dim(), 384);
    let texts: Vec<&str> = r.sentences.iter().map(|s| s.text.as_str()).collect();
    let batch = enc.embed(&texts).unwrap();
    let mut worst = 0f32;
    for (s, b) in r.sentences.iter().zip(&batch) {
        assert_eq!(enc.token_len(&s.text).unwrap(), s.tokens, "{}", s.text);
        let alone = enc.embed(&[s.text.as_str()]).unwrap().remove(0);
        let d1 = max_abs_diff(&alone, &s.embedding);
        let d2 = max_abs_diff(b, &s.embedding);
        worst = worst.max(d1).max(d2);
        assert!(
            d1 < PARITY_TOL && d2 < PARITY_TOL,
            "{:?}: max abs diff alone {d1}, in batch {d2}",
            s.text
        );
        let norm: f32 = alone.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5);
    }
    eprintln!("max abs diff to PyTorch: {worst:e}");
}

#[test]
fn embedding_is_batch_invariant() {
    let enc = encoder();
    let short = "NATO's door remains open.";
    let texts = [
        "Russia wants NATO not only to commit itself not to expand further east, but even to retreat from existing positions.",
        short,
        "It is also not worth insisting on restrictions on a member state joining the alliance.",
    ];
    let alone = enc.embed(&[short]).unwrap().remove(0);
    let batch = enc.embed(&texts).unwrap();
    assert_eq!(batch.len(), 3);
    let d = max_abs_diff(&alone, &batch[1]);
    assert!(d < 1e-5, "alone vs padded batch: max abs diff {d}");
    // The multi-worker path gives the same vectors, in input order.
    let many = enc.embed_many(&texts, 2, 2, &|_| {}).unwrap();
    for (a, b) in many.iter().zip(&batch) {
        assert!(max_abs_diff(a, b) < 1e-5);
    }
    assert!(enc.embed(&[]).unwrap().is_empty());
}

/// The committed v1 baseline head (`models/baseline-head`): weights and metadata.
fn baseline_head() -> (Vec<u8>, String) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/baseline-head");
    (
        std::fs::read(dir.join(HEAD_WEIGHTS_FILE)).unwrap(),
        std::fs::read_to_string(dir.join(HEAD_META_FILE)).unwrap(),
    )
}

#[test]
fn baseline_head_loads_and_rejects_corruption() {
    let (w, m) = baseline_head();
    let (w, m) = (&w[..], &m[..]);
    let head = StanceHead::from_bytes(w, m).expect("committed head loads and its hash checks");
    let meta = head.meta();
    assert_eq!(meta.labels, ["FAVOR", "AGAINST", "NONE"]);
    assert_eq!(meta.encoder.repo, ENCODER_REPO);
    assert!(meta.temperature > 0.0);
    assert!(meta.training.is_some());

    let mut bad = w.to_vec();
    let i = bad.len() - 7;
    bad[i] ^= 0x40;
    let err = StanceHead::from_bytes(&bad, m)
        .err()
        .expect("corrupt weights rejected");
    assert!(err.to_string().contains("SHA-256"), "{err}");

    // Metadata of another head (or edited) is rejected too.
    let mut other: HeadMeta = serde_json::from_str(m).unwrap();
    other.weights_sha256 = "0".repeat(64);
    let err = StanceHead::from_bytes(w, &serde_json::to_string(&other).unwrap())
        .err()
        .unwrap();
    assert!(err.to_string().contains("SHA-256"), "{err}");

    // From files in a directory.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(HEAD_WEIGHTS_FILE), w).unwrap();
    std::fs::write(dir.path().join(HEAD_META_FILE), m).unwrap();
    let h2 = StanceHead::from_dir(dir.path()).unwrap();
    assert_eq!(h2.sha256(), head.sha256());
    std::fs::write(dir.path().join(HEAD_WEIGHTS_FILE), &bad).unwrap();
    assert!(StanceHead::from_dir(dir.path()).is_err());

    // A head trained on other encoder weights is refused by the model.
    let mut foreign: HeadMeta = serde_json::from_str(m).unwrap();
    foreign.encoder.weights_sha256 = "1".repeat(64);
    let h3 = StanceHead::from_bytes(w, &serde_json::to_string(&foreign).unwrap()).unwrap();
    let err = DefaultModel::new(encoder(), h3)
        .err()
        .expect("encoder mismatch");
    assert!(err.to_string().contains("encoder"), "{err}");
}

#[test]
fn predict_gives_probabilities() {
    let model = DefaultModel::new(
        encoder(),
        StanceHead::from_dir(
            &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/baseline-head"),
        )
        .unwrap(),
    )
    .unwrap();
    let name = model.name();
    assert!(name.contains(ENCODER_REPO), "{name}");
    assert!(name.contains(&model.head().sha256()[..12]), "{name}");
    let t = "NATO enlargement";
    let pairs = [
        Pair {
            text: "NATO would not continue to expand to the east.",
            target: t,
        },
        Pair {
            text: "We support Ukraine's right to choose its own alliances, and NATO's door remains open.",
            target: t,
        },
        Pair {
            text: "The President met farmers to discuss grain exports.",
            target: "renewable energy",
        },
    ];
    assert!(model.token_len(pairs[0]).unwrap() >= 10);
    let scores = model.predict(&pairs).unwrap();
    assert_eq!(scores.len(), 3);
    for s in &scores {
        let sum = s.favor + s.against + s.none;
        assert!((sum - 1.0).abs() < 1e-5, "{s:?}");
        assert!([s.favor, s.against, s.none]
            .iter()
            .all(|p| (0.0..=1.0).contains(p)));
    }
    // Same answer alone as in a batch, and with the target embedding cached.
    let again = model.predict(&pairs[1..2]).unwrap();
    assert!((again[0].favor - scores[1].favor).abs() < 1e-4);
    assert!(model.predict(&[]).unwrap().is_empty());
}

const TINY: &[(&str, &str, &str)] = &[
    (
        "Solar and wind power are the cheapest way to cut our emissions.",
        "renewable energy",
        "FAVOR",
    ),
    (
        "We should build many more wind farms along the coast.",
        "renewable energy",
        "FAVOR",
    ),
    (
        "Subsidies for rooftop solar panels have been a great success.",
        "renewable energy",
        "FAVOR",
    ),
    (
        "Clean energy from the sun will power our cities.",
        "renewable energy",
        "FAVOR",
    ),
    (
        "Investing in renewables creates good jobs.",
        "renewable energy",
        "FAVOR",
    ),
    (
        "Wind turbines are an expensive eyesore that kill birds.",
        "renewable energy",
        "AGAINST",
    ),
    (
        "Solar power is unreliable and cannot keep the lights on.",
        "renewable energy",
        "AGAINST",
    ),
    (
        "Renewable subsidies are a waste of taxpayers' money.",
        "renewable energy",
        "AGAINST",
    ),
    (
        "Green energy mandates drive up electricity bills.",
        "renewable energy",
        "AGAINST",
    ),
    (
        "Wind farms ruin the landscape and should be stopped.",
        "renewable energy",
        "AGAINST",
    ),
    (
        "The football match ended in a draw on Sunday.",
        "renewable energy",
        "NONE",
    ),
    (
        "The museum opens a new exhibition of old maps.",
        "renewable energy",
        "NONE",
    ),
    (
        "Rain is expected across the north tomorrow.",
        "renewable energy",
        "NONE",
    ),
    (
        "A new bakery opened on the main street.",
        "renewable energy",
        "NONE",
    ),
    (
        "The city council will meet again next week.",
        "renewable energy",
        "NONE",
    ),
    (
        "Public transport should be free for everyone.",
        "free public transport",
        "FAVOR",
    ),
    (
        "Free buses would cut traffic and pollution.",
        "free public transport",
        "FAVOR",
    ),
    (
        "Making trams free helps poor families.",
        "free public transport",
        "FAVOR",
    ),
    (
        "Free public transport is unaffordable for the city.",
        "free public transport",
        "AGAINST",
    ),
    (
        "Fares keep the metro running; scrapping them is reckless.",
        "free public transport",
        "AGAINST",
    ),
    (
        "Nobody values a service that costs nothing.",
        "free public transport",
        "AGAINST",
    ),
    (
        "The orchestra played Beethoven last night.",
        "free public transport",
        "NONE",
    ),
    (
        "Apple harvests were good this autumn.",
        "free public transport",
        "NONE",
    ),
    (
        "The library extended its opening hours.",
        "free public transport",
        "NONE",
    ),
];

fn write_tiny(dir: &std::path::Path) -> PathBuf {
    let p = dir.join("tiny.jsonl");
    let lines: Vec<String> = TINY
        .iter()
        .enumerate()
        .map(|(i, (text, target, label))| {
            serde_json::json!({"id": format!("t{i}"), "text": text, "target": target, "label": label})
                .to_string()
        })
        .collect();
    std::fs::write(&p, lines.join("\n") + "\n").unwrap();
    p
}

#[test]
fn train_head_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let data = write_tiny(dir.path());
    assert_eq!(read_stance_jsonl(&data).unwrap().len(), TINY.len());
    let enc = encoder();
    let opts = HeadTrainOptions {
        train: vec![data.clone()],
        out_dir: dir.path().join("head"),
        held_out_fraction: 0.2,
        epochs: 8,
        patience: 100,
        batch_size: 8,
        hidden: 32,
        lr: 3e-3,
        cache_dir: Some(dir.path().join("cache")),
        command: "test".into(),
        ..Default::default()
    };
    let cached = Mutex::new(0usize);
    let progress = |e: TrainEvent<'_>| {
        if let TrainEvent::Cached { .. } = e {
            *cached.lock().unwrap() += 1;
        }
    };
    let r = train_head(&opts, &enc, &progress).unwrap();
    assert_eq!(r.epochs.len(), 8);
    assert_eq!(r.train_rows + r.held_out_rows, TINY.len());
    assert!(r.held_out_rows > 0);
    let first = r.epochs[0].train_loss;
    let last = r.epochs.last().unwrap().train_loss;
    assert!(last < first, "training loss went from {first} to {last}");
    assert!(r.temperature > 0.0);
    assert_eq!(*cached.lock().unwrap(), 0);

    // The written head loads, records its data and works with the encoder.
    let head = StanceHead::from_dir(&opts.out_dir).unwrap();
    assert_eq!(head.sha256(), r.weights_sha256);
    let t = head.meta().training.as_ref().unwrap();
    assert_eq!(t.data[0].rows, TINY.len());
    assert_eq!(head.meta().hidden, 32);
    let model = DefaultModel::new(enc, head).unwrap();
    let s = model
        .predict(&[Pair {
            text: "Wind power is the future.",
            target: "renewable energy",
        }])
        .unwrap();
    assert!((s[0].favor + s[0].against + s[0].none - 1.0).abs() < 1e-5);

    // Re-running uses the embedding cache and gives the same head (seeded).
    let r2 = train_head(&opts, model.encoder(), &progress).unwrap();
    assert_eq!(*cached.lock().unwrap(), 1);
    assert_eq!(r2.texts_embedded, 0);
    assert_eq!(r2.weights_sha256, r.weights_sha256);
}

#[test]
fn bad_training_lines_name_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.jsonl");
    std::fs::write(
        &p,
        "{\"id\":\"a\",\"text\":\"x y\",\"target\":\"t\",\"label\":\"FAVOR\"}\n\n{\"id\":\"b\",\"text\":\"x\",\"target\":\"t\",\"label\":\"MAYBE\"}\n",
    )
    .unwrap();
    let err = read_stance_jsonl(&p).unwrap_err();
    assert!(matches!(err, TrainError::Parse { line: 3, .. }), "{err}");
    assert!(err.to_string().contains("bad.jsonl:3"), "{err}");
    std::fs::write(&p, "{\"text\": 1}\n").unwrap();
    let err = read_stance_jsonl(&p).unwrap_err();
    assert!(err.to_string().contains("bad.jsonl:1"), "{err}");
    let ok = dir.path().join("ok.jsonl");
    std::fs::write(
        &ok,
        "{\"id\":\"a\",\"text\":\"x y\",\"target\":\"t\",\"label\":\"NONE\",\"split\":\"train\"}\n",
    )
    .unwrap();
    assert_eq!(read_stance_jsonl(&ok).unwrap()[0].label, Label::None);
}

#[derive(serde::Deserialize)]
struct CrossReference {
    model_delta_sha256: String,
    pairs: Vec<CrossPair>,
}

#[derive(serde::Deserialize)]
struct CrossPair {
    target: String,
    text: String,
    tokens: usize,
    logits: Vec<f32>,
}

/// The built-in default (base encoder + the committed delta) gives the logits PyTorch
/// `transformers` gives for the same weights (tests/fixtures/make_cross_reference.py), one pair
/// at a time and in a padded batch.
#[test]
fn default_cross_encoder_matches_pytorch_reference() {
    use standpoint::model::cross::Backend;
    use standpoint::model::native::Precision;
    let candle = cross_parity(Backend::Candle, Precision::F32, PARITY_TOL);
    let native = cross_parity(Backend::Native, Precision::F32, PARITY_TOL);
    // bf16 rounds weights and activations (8 significant bits): logits move by a few hundredths.
    let bf16 = cross_parity(Backend::Native, Precision::Bf16, 0.05);
    // int8 quantises weights per channel and activations per row (256 levels): 0.069 measured
    // on an Intel Xeon with VNNI while the FFN down projection ran in bf16; 0.168 on AMD Zen 4
    // with it in int8 too, its channels in groups (the portable path gives the same numbers).
    // Label agreement with f32 is measured on the development files (README).
    let int8 = cross_parity(Backend::Native, Precision::Int8, 0.25);
    eprintln!("max abs logit difference to PyTorch: candle {candle:e}, native f32 {native:e}, native bf16 {bf16:e}, native int8 {int8:e}");
}

/// Loads the default with this forward pass and checks its logits against PyTorch's within
/// `tol`, alone and in a batch; returns the largest difference.
fn cross_parity(
    backend: standpoint::model::cross::Backend,
    precision: standpoint::model::native::Precision,
    tol: f32,
) -> f32 {
    use standpoint::model::cross::CrossEncoder;
    let r: CrossReference =
        serde_json::from_str(include_str!("fixtures/cross_reference.json")).unwrap();
    let (meta, delta) = standpoint::model::load::embedded_default().unwrap();
    assert_eq!(
        r.model_delta_sha256, meta.delta_sha256,
        "models/default changed: rerun tests/fixtures/make_cross_reference.py"
    );
    let files = [
        encoder_file("config.json"),
        encoder_file("model.safetensors"),
        encoder_file("tokenizer.json"),
    ];
    let model =
        CrossEncoder::load_with(meta, &delta, &files, &Device::Cpu, backend, precision).unwrap();
    let pairs: Vec<Pair<'_>> = r
        .pairs
        .iter()
        .map(|p| Pair {
            text: &p.text,
            target: &p.target,
        })
        .collect();
    let batch = model.logits(&pairs).unwrap();
    let mut worst = 0f32;
    for (i, p) in r.pairs.iter().enumerate() {
        assert_eq!(model.token_len(pairs[i]).unwrap(), p.tokens, "{}", p.text);
        let alone = model.logits(&pairs[i..i + 1]).unwrap().remove(0);
        // With prepacked weights every row is computed on its own, and the batch (216 tokens)
        // goes through the layers in parts of at most 128 or 256 tokens a thread: the same
        // logits bit for bit as alone.
        if precision != standpoint::model::native::Precision::F32 {
            assert_eq!(alone, batch[i], "{precision:?}: alone and in a batch");
        }
        let d1 = max_abs_diff(&alone, &p.logits);
        let d2 = max_abs_diff(&batch[i], &p.logits);
        worst = worst.max(d1).max(d2);
        assert!(
            d1 < tol && d2 < tol,
            "{backend:?} {precision:?} {:?}: alone {d1}, in batch {d2}",
            p.text
        );
    }
    // Calibrated scores are probabilities.
    for s in model.predict(&pairs).unwrap() {
        assert!((s.favor + s.against + s.none - 1.0).abs() < 1e-5);
    }
    worst
}
