//! The command line as a user runs it: the real binary, the real default model (encoder from
//! the hub cache, put there by models/fetch-encoder.sh), real files.

mod common;

use common::run_with_stdin;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_standpoint"))
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("runs")
}

fn read_json(p: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn read_jsonl(p: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(p)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn analyze_the_sample_corpus() {
    let out = tempfile::tempdir().unwrap();
    let o = run(bin()
        .arg("analyze")
        .arg(root().join("corpus"))
        .arg("--out")
        .arg(out.path()));
    assert!(o.status.success(), "{}", stderr(&o));
    let statements = read_jsonl(&out.path().join("statements.jsonl"));
    let actors: serde_json::Value = read_json(&out.path().join("actors.json"));
    let report = std::fs::read_to_string(out.path().join("report.md")).unwrap();

    // Every statement accounted for, with the documented fields.
    assert_eq!(
        actors["counts"]["statements"].as_u64().unwrap() as usize,
        statements.len()
    );
    assert_eq!(actors["target"], "NATO enlargement");
    let text = std::fs::read_to_string(root().join("corpus/000_8ae8d45d1fdf4755.txt")).unwrap();
    for s in &statements {
        for f in [
            "doc_id",
            "statement_id",
            "start",
            "end",
            "text",
            "speaker",
            "mention",
            "attribution",
            "stance",
            "scores",
        ] {
            assert!(s.get(f).is_some(), "missing {f} in {s}");
        }
        let (a, b) = (
            s["start"].as_u64().unwrap() as usize,
            s["end"].as_u64().unwrap() as usize,
        );
        assert_eq!(&text[a..b], s["text"].as_str().unwrap());
        let sc = &s["scores"];
        let sum = sc["FAVOR"].as_f64().unwrap()
            + sc["AGAINST"].as_f64().unwrap()
            + sc["NONE"].as_f64().unwrap();
        assert!((sum - 1.0).abs() < 1e-4, "{sum}");
    }
    // Lavrov's quote is his, with Stoltenberg only named inside it.
    let lavrov = statements
        .iter()
        .find(|s| {
            s["text"]
                .as_str()
                .unwrap()
                .contains("If NATO were a defense alliance")
        })
        .unwrap();
    assert_eq!(lavrov["speaker"], "Sergei Lavrov");
    assert_eq!(lavrov["attribution"], "direct_quote");
    // Spelling variants merged into one actor each; no pronoun as an actor.
    let list = actors["actors"].as_array().unwrap();
    let names: Vec<&str> = list.iter().map(|a| a["actor"].as_str().unwrap()).collect();
    assert!(
        names.contains(&"Edward Lucas") && !names.iter().any(|n| n.contains("Lukass")),
        "{names:?}"
    );
    assert!(
        names.contains(&"Dmitry Trenin") && !names.contains(&"Trennin"),
        "{names:?}"
    );
    for n in &names {
        assert!(!["he", "she", "him", "her", "they", "it"].contains(&n.to_lowercase().as_str()));
    }
    let lucas = list.iter().find(|a| a["actor"] == "Edward Lucas").unwrap();
    let aliases: Vec<&str> = lucas["aliases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(aliases.contains(&"Edward Lukass"), "{aliases:?}");
    for a in list {
        let (f, ag, no) = (
            a["favor"].as_u64().unwrap(),
            a["against"].as_u64().unwrap(),
            a["none"].as_u64().unwrap(),
        );
        assert_eq!(f + ag + no, a["statements"].as_u64().unwrap());
        let iv = a["interval"].as_array().unwrap();
        assert!(
            iv[0].as_f64().unwrap() <= a["score"].as_f64().unwrap()
                && a["score"].as_f64().unwrap() <= iv[1].as_f64().unwrap()
        );
    }
    assert!(report.contains("| Sergei Lavrov |"), "{report}");
    // Stances the default model gets right on the sample (gold: read from the article, see the
    // README for the ones it still gets wrong).
    let stance = |name: &str| {
        list.iter()
            .find(|a| a["actor"] == name)
            .unwrap_or_else(|| panic!("{name} missing"))["stance"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(stance("Sergei Lavrov"), "AGAINST");
    assert_eq!(stance("Russia"), "AGAINST");
    // "It is also not worth insisting on restrictions on a member state joining the alliance."
    assert_eq!(stance("Jens Stoltenberg"), "FAVOR");
    for n in ["Wendy Sherman", "Edward Lucas", "Radoslav Sikorsky"] {
        assert_eq!(stance(n), "NONE", "{n}");
    }
    assert!(report.contains("Stance toward \"NATO enlargement\""));
    // How far to trust the labels: the default model's measured score on its own target, the
    // same line in actors.json, report.md and report.html.
    let trust = actors["trust"].as_str().unwrap();
    assert!(
        trust.starts_with("How far to trust the labels: on the target it was trained for")
            && trust.contains("macro-F1"),
        "{trust}"
    );
    assert!(report.contains(trust), "{report}");
    let html = std::fs::read_to_string(out.path().join("report.html")).unwrap();
    assert!(html.contains("How far to trust the labels: on the target it was trained for"));
    // The run summary accounts for what went in and out.
    let err = stderr(&o);
    assert!(
        err.contains("documents in: 1") && err.contains("documents out: 1"),
        "{err}"
    );
}

#[test]
fn bad_input_stops_with_file_and_line_or_is_skipped_and_counted() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("docs.jsonl");
    std::fs::write(
        &p,
        "{\"id\":\"a\",\"text\":\"Lavrov said that NATO must stop.\"}\n{\"id\":\"b\" \"text\":\"x\"}\n{\"id\":\"c\"}\n{\"id\":\"a\",\"text\":\"dup\"}\n",
    )
    .unwrap();
    let out = d.path().join("out");
    let o = run(bin()
        .args(["analyze", "--quiet"])
        .arg(&p)
        .arg("--out")
        .arg(&out));
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("docs.jsonl:2: malformed JSON"),
        "{}",
        stderr(&o)
    );

    let o = run(bin()
        .args(["analyze", "--quiet", "--skip-bad"])
        .arg(&p)
        .arg("--out")
        .arg(&out));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("documents in: 4") && stderr(&o).contains("3 bad skipped"),
        "{}",
        stderr(&o)
    );
    assert_eq!(read_jsonl(&out.join("statements.jsonl")).len(), 1);

    let o = run(bin()
        .args(["analyze", "--quiet"])
        .arg(d.path().join("missing.jsonl"))
        .arg("--out")
        .arg(&out));
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("missing.jsonl: no such file"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn another_target_is_told_the_unseen_target_score() {
    let d = tempfile::tempdir().unwrap();
    let o = run_with_stdin(
        bin()
            .args(["analyze", "-", "--quiet", "--target", "Ukraine joining the EU", "--out"])
            .arg(d.path()),
        b"{\"id\":\"x\",\"text\":\"\\u201cUkraine must not join the EU,\\u201d said Ivan Petrov.\"}\n",
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let actors = read_json(&d.path().join("actors.json"));
    let trust = actors["trust"].as_str().unwrap();
    assert!(
        trust.contains("not this target") && trust.contains("on targets it never saw"),
        "{trust}"
    );
}

#[test]
fn jsonl_on_stdin() {
    let d = tempfile::tempdir().unwrap();
    let o = run_with_stdin(
        bin().args(["analyze", "-", "--quiet", "--out"]).arg(d.path()),
        b"{\"id\":\"x\",\"text\":\"\\u201cWe will never accept NATO expansion,\\u201d said Ivan Petrov.\",\"date\":\"2022-01-10\"}\n",
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let s = read_jsonl(&d.path().join("statements.jsonl"));
    assert_eq!(s.len(), 1);
    assert_eq!(s[0]["speaker"], "Ivan Petrov");
    assert_eq!(s[0]["doc_id"], "x");
}

#[test]
fn classify_reads_stdin_and_writes_one_line_per_input() {
    let o = run_with_stdin(
        bin().args(["classify", "--target", "NATO enlargement"]),
        b"{\"id\":1,\"text\":\"NATO must never expand again.\"}\n{\"id\":\"b\",\"text\":\"Trump will win.\",\"target\":\"Donald Trump\"}\n",
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let lines: Vec<serde_json::Value> = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["id"], 1);
    assert_eq!(lines[1]["id"], "b");
    for l in &lines {
        assert!(["FAVOR", "AGAINST", "NONE"].contains(&l["label"].as_str().unwrap()));
        let s = &l["scores"];
        let best = ["FAVOR", "AGAINST", "NONE"]
            .into_iter()
            .max_by(|a, b| s[a].as_f64().unwrap().total_cmp(&s[b].as_f64().unwrap()))
            .unwrap();
        assert_eq!(l["label"], best);
    }
}

#[test]
fn eval_prints_metrics_and_json() {
    let data = root().join("tests/fixtures/stance_small.jsonl");
    let o = run(bin().args(["eval", "--json", "--data"]).arg(&data));
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let overall = &v[0]["overall"];
    assert_eq!(overall["n"], 6);
    let acc = overall["accuracy"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&acc));
    let conf = &overall["confusion"];
    let total: u64 = ["FAVOR", "AGAINST", "NONE"]
        .iter()
        .flat_map(|g| ["FAVOR", "AGAINST", "NONE"].map(|p| conf[g][p].as_u64().unwrap()))
        .sum();
    assert_eq!(total, 6);
    let o = run(bin().args(["eval", "--data"]).arg(&data));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("macro_f1=") && text.contains("f_avg="),
        "{text}"
    );
}

#[test]
fn clear_errors_for_missing_model_and_device() {
    let empty = tempfile::tempdir().unwrap();
    let o = run(bin()
        .args(["classify", "--offline"])
        .env("HF_HOME", empty.path())
        .env_remove("HF_HUB_CACHE")
        .stdin(Stdio::null()));
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("fetch-encoder.sh"), "{}", stderr(&o));
    // Regression: the cause was printed twice ("cannot read: X: X").
    let o = run(bin().args(["eval", "--data", "/nonexistent/x.jsonl"]));
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr(&o).matches("No such file").count(),
        1,
        "{}",
        stderr(&o)
    );
    if !cfg!(feature = "cuda") {
        let o = run(bin()
            .args(["classify", "--device", "cuda"])
            .stdin(Stdio::null()));
        assert_eq!(o.status.code(), Some(2));
        assert!(stderr(&o).contains("--features cuda"), "{}", stderr(&o));
    }
}

#[test]
fn analyze_with_an_nli_model_directory() {
    // The tiny random BERT NLI fixture goes through the same loading path as a hub model.
    let out = tempfile::tempdir().unwrap();
    let o = run(bin()
        .args(["analyze", "--quiet", "--model"])
        .arg(root().join("tests/fixtures/nli/bert"))
        .args([
            "--hypothesis",
            "This text supports {}.",
            "--hypothesis",
            "The author is in favour of {}.",
        ])
        .arg(root().join("corpus"))
        .arg("--out")
        .arg(out.path()));
    assert!(o.status.success(), "{}", stderr(&o));
    let actors: serde_json::Value = read_json(&out.path().join("actors.json"));
    assert!(
        actors["model"]
            .as_str()
            .unwrap()
            .ends_with("tests/fixtures/nli/bert"),
        "{}",
        actors["model"]
    );
    assert_eq!(
        actors["counts"]["statements"],
        read_jsonl(&out.path().join("statements.jsonl")).len()
    );
}

#[test]
fn train_head_then_analyze_with_it() {
    let d = tempfile::tempdir().unwrap();
    let data = d.path().join("train.jsonl");
    let mut lines = String::new();
    let rows = [
        (
            "We fully support the new members joining the alliance.",
            "FAVOR",
        ),
        ("Enlargement makes Europe safer and we welcome it.", "FAVOR"),
        (
            "The door must stay open for every democracy that wants to join.",
            "FAVOR",
        ),
        (
            "The alliance must stop expanding toward our borders.",
            "AGAINST",
        ),
        (
            "Any new member is a provocation and a threat to us.",
            "AGAINST",
        ),
        (
            "We demand guarantees that the bloc will never grow again.",
            "AGAINST",
        ),
        ("The weather was cold in Geneva on Monday.", "NONE"),
        ("The delegations met for seven hours.", "NONE"),
        ("Prices of grain rose by three percent last month.", "NONE"),
    ];
    for (i, (t, l)) in rows.iter().cycle().take(36).enumerate() {
        lines.push_str(&format!("{{\"id\":\"{i}\",\"text\":\"{t}\",\"target\":\"NATO enlargement\",\"label\":\"{l}\"}}\n"));
    }
    std::fs::write(&data, lines).unwrap();
    let head = d.path().join("head");
    let o = run(bin()
        .args([
            "train-head",
            "--epochs",
            "3",
            "--held-out",
            "0.25",
            "--data",
        ])
        .arg(&data)
        .arg("--out")
        .arg(&head)
        .env("STANDPOINT_CACHE", d.path().join("cache")));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        head.join("stance-head.safetensors").exists() && head.join("stance-head.json").exists()
    );
    let out = d.path().join("out");
    let o = run(bin()
        .args(["analyze", "--quiet", "--head"])
        .arg(&head)
        .arg(root().join("corpus"))
        .arg("--out")
        .arg(&out));
    assert!(o.status.success(), "{}", stderr(&o));
    let actors: serde_json::Value = read_json(&out.join("actors.json"));
    let meta: serde_json::Value = read_json(&head.join("stance-head.json"));
    let sha = meta["weights_sha256"].as_str().unwrap();
    assert!(
        actors["model"].as_str().unwrap().contains(&sha[..12]),
        "the run names the head it used"
    );
    // A corrupted head is refused with a clear error.
    std::fs::write(head.join("stance-head.safetensors"), b"not weights").unwrap();
    let o = run(bin()
        .args(["analyze", "--quiet", "--head"])
        .arg(&head)
        .arg(root().join("corpus"))
        .arg("--out")
        .arg(&out));
    assert_eq!(o.status.code(), Some(2));
}

/// `standpoint train` writes a model directory that `--model` loads; the scores `eval` computes
/// with it (candle-transformers' BERT) equal the ones training recorded (the trainer's own
/// layers); training on a small set fits it; a tampered delta is refused.
#[test]
fn train_a_cross_encoder_then_eval_and_analyze_with_it() {
    let d = tempfile::tempdir().unwrap();
    let rows = [
        (
            "We fully support Finland and Sweden joining the alliance.",
            "FAVOR",
        ),
        (
            "The open door policy stays, and no third country has a veto.",
            "FAVOR",
        ),
        (
            "Demands to close the door to new members are unacceptable.",
            "FAVOR",
        ),
        (
            "The alliance must stop expanding toward our borders.",
            "AGAINST",
        ),
        (
            "We demand guarantees that the bloc will never take in Ukraine.",
            "AGAINST",
        ),
        (
            "Eastward expansion of the bloc is a direct threat to our security.",
            "AGAINST",
        ),
        ("The delegations met for seven hours in Geneva.", "NONE"),
        ("Prices of grain rose by three percent last month.", "NONE"),
        (
            "The President congratulated the school on its anniversary.",
            "NONE",
        ),
    ];
    let write = |name: &str, n: usize| {
        let mut s = String::new();
        for (i, (t, l)) in rows.iter().cycle().take(n).enumerate() {
            s.push_str(&format!("{{\"id\":\"{name}{i}\",\"text\":\"{t}\",\"target\":\"NATO enlargement\",\"label\":\"{l}\"}}\n"));
        }
        let p = d.path().join(format!("{name}.jsonl"));
        std::fs::write(&p, s).unwrap();
        p
    };
    let train = write("train", 36);
    let dev = write("dev", 9);
    let train_to = |out: &Path, threads: &str, precision: &str| {
        let o = run(bin()
            .args([
                "train",
                "--precision",
                precision,
                "--epochs",
                "4",
                "--train-layers",
                "1",
                "--batch-size",
                "6",
                "--lr",
                "1e-4",
                "--head-lr",
                "5e-3",
                "--warmup",
                "0",
                "--threads",
                threads,
                "--train",
            ])
            .arg(&train)
            .arg("--dev")
            .arg(&dev)
            .arg("--out")
            .arg(out));
        assert!(o.status.success(), "{}", stderr(&o));
    };
    let model = d.path().join("model");
    train_to(&model, "2", "f32");
    // The same seed gives the same model, whatever the threads, in both training precisions.
    let again = d.path().join("again");
    train_to(&again, "1", "f32");
    assert_eq!(
        read_json(&model.join("standpoint.json"))["delta_sha256"],
        read_json(&again.join("standpoint.json"))["delta_sha256"]
    );
    let (bf16, bf16_again) = (d.path().join("bf16"), d.path().join("bf16-again"));
    train_to(&bf16, "2", "bf16");
    train_to(&bf16_again, "1", "bf16");
    let bf16_meta = read_json(&bf16.join("standpoint.json"));
    assert_eq!(
        bf16_meta["delta_sha256"],
        read_json(&bf16_again.join("standpoint.json"))["delta_sha256"]
    );
    assert_eq!(bf16_meta["training"]["options"]["precision"], "bf16");
    assert!(
        bf16_meta["training"]["dev"]["dev"]["accuracy"]
            .as_f64()
            .unwrap()
            >= 0.99,
        "bf16 training fits the nine sentences too: {}",
        bf16_meta["training"]["dev"]
    );
    // int8 is an inference format: refused, not silently trained in f32.
    let o = run(bin()
        .args(["train", "--precision", "int8", "--train"])
        .arg(&train)
        .arg("--dev")
        .arg(&dev)
        .arg("--out")
        .arg(d.path().join("int8")));
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("inference format"), "{}", stderr(&o));
    assert!(model.join("checkpoints/epoch-4/delta.safetensors").exists());
    let meta = read_json(&model.join("standpoint.json"));
    assert_eq!(meta["trained_layers"], 1);
    let recorded = &meta["training"]["dev"]["dev"];
    let o = run(bin()
        .args(["eval", "--json", "--model"])
        .arg(&model)
        .arg("--data")
        .arg(&dev));
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let overall = &v[0]["overall"];
    for (k, r) in [("accuracy", "accuracy"), ("macro_f1", "macro_f1")] {
        let got = overall[k].as_f64().unwrap();
        let want = recorded[r].as_f64().unwrap();
        assert!(
            (got - want).abs() < 1e-6,
            "{k}: eval {got}, training recorded {want}"
        );
    }
    assert!(
        overall["accuracy"].as_f64().unwrap() >= 0.99,
        "nine sentences seen four times each are fitted: {overall}"
    );
    // Re-fitting the calibration rewrites the metadata, not the weights.
    let o = run(bin()
        .args(["calibrate", "--model"])
        .arg(&model)
        .arg("--dev")
        .arg(&dev)
        .arg(&train));
    assert!(o.status.success(), "{}", stderr(&o));
    let meta2 = read_json(&model.join("standpoint.json"));
    assert_eq!(meta2["delta_sha256"], meta["delta_sha256"]);
    assert!(
        meta2["training"]["recalibrated"]["dev_calibration"]
            .as_array()
            .unwrap()
            .len()
            == 2
    );
    let out = d.path().join("out");
    let o = run(bin()
        .args(["analyze", "--quiet", "--model"])
        .arg(&model)
        .arg(root().join("corpus"))
        .arg("--out")
        .arg(&out));
    assert!(o.status.success(), "{}", stderr(&o));
    let actors = read_json(&out.join("actors.json"));
    let sha = meta["delta_sha256"].as_str().unwrap();
    assert!(
        actors["model"].as_str().unwrap().contains(&sha[..12]),
        "{}",
        actors["model"]
    );
    // A delta that does not match its metadata is refused.
    let delta = model.join("delta.safetensors");
    let mut bytes = std::fs::read(&delta).unwrap();
    let n = bytes.len();
    bytes[n - 1] ^= 1;
    std::fs::write(&delta, bytes).unwrap();
    let o = run(bin()
        .args(["eval", "--model"])
        .arg(&model)
        .arg("--data")
        .arg(&dev));
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("SHA-256"), "{}", stderr(&o));
}

/// `bench` runs each cell of its grid and reports what it measured; the native backend packs
/// tokens (padded = real), candle pads each batch to its longest (padded ≥ real).
#[test]
fn bench_reports_each_cell_with_its_counts() {
    let o = run(bin().arg("bench").arg(root().join("corpus")).args([
        "--limit",
        "20",
        "--warmup",
        "0",
        "--reps",
        "2",
        "--batch-sizes",
        "8",
        "--precisions",
        "f32,bf16,int8",
        "--backends",
        "native,candle",
        "--arrangements",
        "1x1",
        "--json",
    ]));
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let results = v["results"].as_array().unwrap();
    // native f32, bf16 and int8, candle f32 (candle has no bf16 or int8 cell).
    let cells: Vec<(String, String)> = results
        .iter()
        .map(|r| {
            (
                r["backend"].as_str().unwrap().to_string(),
                r["precision"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        cells,
        [
            ("native", "f32"),
            ("native", "bf16"),
            ("native", "int8"),
            ("candle", "f32"),
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    let tokens = results[0]["tokens"].as_u64().unwrap();
    for r in results {
        assert_eq!(r["statements"], 20);
        assert_eq!(r["batches"], 3, "20 statements in batches of 8");
        assert_eq!(
            r["tokens"].as_u64().unwrap(),
            tokens,
            "same statements in every cell"
        );
        assert_eq!(r["reps"].as_array().unwrap().len(), 2);
        assert!(r["statements_per_s"].as_f64().unwrap() > 0.0);
        assert!(r["gflops"].as_f64().unwrap() > 0.0);
        assert!(r["batch_ms_p95"].as_f64().unwrap() >= r["batch_ms_p50"].as_f64().unwrap());
        assert!(r["peak_rss_mb"].as_f64().unwrap() > 10.0);
    }
    assert_eq!(results[0]["padded_tokens"].as_u64().unwrap(), tokens);
    assert!(results[3]["padded_tokens"].as_u64().unwrap() > tokens);
    // Each cell names the instructions it ran on here: the f32 products on the gemm crate, the
    // bf16 ones on AMX, AVX512-BF16 or the portable path, whichever this CPU has.
    let instructions = |i: usize| results[i]["instructions"].as_str().unwrap().to_string();
    assert!(
        instructions(0).starts_with("products: gemm crate"),
        "{}",
        instructions(0)
    );
    assert!(
        ["AMX tiles", "AVX512-BF16", "portable"]
            .iter()
            .any(|p| instructions(1).contains(p)),
        "{}",
        instructions(1)
    );
    assert!(instructions(1).contains("element-wise: "));
    // The native attention: its own AVX-512 kernel where the CPU has AVX-512, else gemm.
    let attention = if standpoint::model::native::kernels::attention_head_available() {
        "attention: AVX-512 kernel"
    } else {
        "attention: gemm crate"
    };
    for i in 0..3 {
        assert!(instructions(i).contains(attention), "{}", instructions(i));
    }
    // int8: the fastest integer kernel this CPU has.
    let int8_path = if standpoint::model::int8::amx_int8() {
        "AMX tiles (tdpbusd)"
    } else if standpoint::model::int8::vnni() {
        "AVX512-VNNI"
    } else if standpoint::model::int8::avx2() {
        "AVX2"
    } else {
        "portable exact integer"
    };
    assert!(
        instructions(2).starts_with(&format!("products: {int8_path}")),
        "{}",
        instructions(2)
    );
    assert!(instructions(3).starts_with("candle"), "{}", instructions(3));
}

#[test]
fn bench_and_precision_errors_are_clear() {
    let o = run(bin()
        .arg("bench")
        .arg(root().join("corpus"))
        .args(["--arrangements", "2y1"]));
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("WORKERSxTHREADS"), "{}", stderr(&o));
    let o = run(bin().arg("bench"));
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--statements"), "{}", stderr(&o));
    let out = tempfile::tempdir().unwrap();
    // bf16 and int8 are not silently ignored: not on the candle backend, nor for a model that
    // has no such path.
    for precision in ["bf16", "int8"] {
        let o = run(bin()
            .arg("analyze")
            .arg(root().join("corpus"))
            .arg("--out")
            .arg(out.path())
            .args(["--backend", "candle", "--precision", precision]));
        assert_eq!(o.status.code(), Some(2));
        assert!(
            stderr(&o).contains(&format!("--precision {precision} needs --backend native")),
            "{}",
            stderr(&o)
        );
        let o = run(bin()
            .arg("analyze")
            .arg(root().join("corpus"))
            .arg("--out")
            .arg(out.path())
            .arg("--model")
            .arg(root().join("tests/fixtures/nli/bert"))
            .args(["--precision", precision]));
        assert_eq!(o.status.code(), Some(2));
        assert!(
            stderr(&o).contains("apply to the default model"),
            "{}",
            stderr(&o)
        );
    }
}
