//! Scale and reliability on real runs of the real binary: runs killed with SIGKILL and resumed,
//! shards merged against a single run, determinism across threads and batch sizes, and a
//! corpus with every class of bad input. The model is the tiny random BERT NLI fixture (fast;
//! what is tested here is the pipeline around the model, which is the same for every model).

mod common;

use common::Rng;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_standpoint"));
    // Nothing from a scheduler's environment may shard these runs by accident.
    for v in [
        "SLURM_ARRAY_TASK_ID",
        "SLURM_ARRAY_TASK_COUNT",
        "SLURM_ARRAY_TASK_MIN",
        "JOB_COMPLETION_INDEX",
        "STANDPOINT_SHARD_COUNT",
    ] {
        c.env_remove(v);
    }
    c
}

/// `analyze` with the tiny model, small chunks and a checkpoint after every chunk.
fn analyze(inputs: &[&Path], out: &Path) -> Command {
    let mut c = bin();
    c.arg("analyze")
        .args(inputs)
        .arg("--out")
        .arg(out)
        .arg("--model")
        .arg(root().join("tests/fixtures/nli/bert"))
        .args([
            "--quiet",
            "--chunk-statements",
            "60",
            "--checkpoint-every",
            "0",
        ]);
    c
}

/// `standpoint merge DIRS... --out OUT`.
fn merge(dirs: &[&Path], out: &Path) -> Output {
    bin()
        .arg("merge")
        .args(dirs)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap()
}

fn ok(o: Output) -> Output {
    assert!(
        o.status.success(),
        "exit {:?}: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `n` documents made from the sample article's paragraphs, each a different rotation and
/// length of them, as JSONL lines.
fn synthetic_docs(n: usize) -> Vec<String> {
    let text = std::fs::read_to_string(root().join("corpus/000_8ae8d45d1fdf4755.txt")).unwrap();
    let paras: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    assert!(paras.len() >= 5);
    (0..n)
        .map(|i| {
            let take = 2 + i % (paras.len() - 1);
            let body: Vec<&str> = (0..take).map(|k| paras[(i + k) % paras.len()]).collect();
            serde_json::json!({
                "id": format!("doc-{i:04}"),
                "title": format!("Document {i}"),
                "date": format!("2022-01-{:02}", 1 + i % 28),
                "text": body.join("\n\n"),
            })
            .to_string()
        })
        .collect()
}

fn write_lines(path: &Path, lines: &[String]) {
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

const OUTPUTS: [&str; 11] = [
    "statements.jsonl",
    "documents.jsonl",
    "actors.json",
    "report.md",
    "report.html",
    "statements.csv",
    "actors.csv",
    "actor-target.graphml",
    "actor-target-edges.csv",
    "actor-actor.graphml",
    "actor-actor-edges.csv",
];

/// The files of each target's directory in a run with several targets.
const TARGET_OUTPUTS: [&str; 5] = [
    "statements.jsonl",
    "documents.jsonl",
    "actors.json",
    "report.md",
    "statements.csv",
];

fn assert_same_outputs(a: &Path, b: &Path) {
    assert_same_files(a, b, &OUTPUTS);
}

fn assert_same_files(a: &Path, b: &Path, files: &[&str]) {
    for &f in files {
        assert!(
            read(&a.join(f)) == read(&b.join(f)),
            "{f} differs between {} and {}",
            a.display(),
            b.display()
        );
    }
}

fn json(p: &Path) -> serde_json::Value {
    serde_json::from_slice(&read(p)).unwrap()
}

fn jsonl(p: &Path) -> Vec<serde_json::Value> {
    String::from_utf8(read(p))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Same statements with the same labels, scores within `tol` (f32 noise of other batches).
fn assert_same_statements(a: &Path, b: &Path, tol: f64) {
    let (x, y) = (jsonl(a), jsonl(b));
    assert_eq!(x.len(), y.len());
    for (s, t) in x.iter().zip(&y) {
        for k in [
            "statement_id",
            "speaker",
            "stance",
            "start",
            "end",
            "attribution",
        ] {
            assert_eq!(s[k], t[k], "{k} of {}", s["statement_id"]);
        }
        for l in ["FAVOR", "AGAINST", "NONE"] {
            let (p, q) = (
                s["scores"][l].as_f64().unwrap(),
                t["scores"][l].as_f64().unwrap(),
            );
            assert!(
                (p - q).abs() <= tol,
                "{l} of {}: {p} vs {q}",
                s["statement_id"]
            );
        }
    }
}

/// Same actors with the same counts and labels; scores within `tol`.
fn assert_same_actors(a: &Path, b: &Path, tol: f64) {
    let (x, y) = (json(a), json(b));
    let (xa, ya) = (
        x["actors"].as_array().unwrap(),
        y["actors"].as_array().unwrap(),
    );
    assert_eq!(xa.len(), ya.len());
    for (p, q) in xa.iter().zip(ya) {
        for k in [
            "actor",
            "aliases",
            "kind",
            "statements",
            "favor",
            "against",
            "none",
            "stance",
            "documents",
        ] {
            assert_eq!(p[k], q[k], "{k} of {}", p["actor"]);
        }
        assert!((p["score"].as_f64().unwrap() - q["score"].as_f64().unwrap()).abs() <= tol);
    }
}

#[test]
fn killed_runs_resume_to_identical_outputs() {
    let d = tempfile::tempdir().unwrap();
    let corpus = d.path().join("corpus.jsonl");
    write_lines(&corpus, &synthetic_docs(60));
    let reference = d.path().join("reference");
    ok(analyze(&[&corpus], &reference).output().unwrap());
    // How long a whole run takes, warm.
    let t = Instant::now();
    ok(analyze(&[&corpus], &d.path().join("timing"))
        .output()
        .unwrap());
    let full = t.elapsed();
    // Kill runs at random moments within the length of a full run, resuming each time,
    // until one finishes.
    let out = d.path().join("killed");
    let mut rng = Rng(0x005E_ED0F_4B1D);
    let (mut kills, mut attempts) = (0, 0);
    let mut resumed_somewhere = false;
    loop {
        attempts += 1;
        assert!(attempts < 40, "never finished");
        let mut cmd = analyze(&[&corpus], &out);
        if attempts > 1 {
            cmd.arg("--resume");
        }
        let mut child = cmd
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // The first kill lands before any checkpoint can exist; the others anywhere within
        // the first third of a whole run's time (so that several land before it finishes).
        let share = if attempts == 1 {
            0.01
        } else {
            0.02 + 0.3 * ((rng.next() % 1000) as f64 / 1000.0)
        };
        let wait = full.mul_f64(share);
        let deadline = Instant::now() + wait;
        let finished = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break Some(status);
            }
            if Instant::now() >= deadline {
                break None;
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        match finished {
            Some(status) => {
                let o = child.wait_with_output().unwrap();
                assert!(status.success(), "{}", stderr(&o));
                resumed_somewhere |= stderr(&o).contains("resumed after document");
                break;
            }
            None if kills < 8 => {
                child.kill().unwrap(); // SIGKILL
                child.wait().unwrap();
                kills += 1;
            }
            None => {
                // Enough kills: let this one finish.
                let o = child.wait_with_output().unwrap();
                assert!(o.status.success(), "{}", stderr(&o));
                resumed_somewhere |= stderr(&o).contains("resumed after document");
                break;
            }
        }
    }
    assert!(
        kills >= 3,
        "only {kills} kills landed in {attempts} runs of about {full:?}"
    );
    assert_same_outputs(&reference, &out);
    assert!(
        !out.join("shard-0-of-1").exists(),
        "the work directory is removed at the end"
    );
    let leftovers: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !OUTPUTS.contains(&n.as_str()))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    eprintln!("{kills} kills, {attempts} runs; resumed from a checkpoint: {resumed_somewhere}");
    // A resume of a finished run does nothing and changes nothing.
    let shard_dir = d.path().join("sharded");
    ok(analyze(&[&corpus], &shard_dir)
        .arg("--shard")
        .arg("0/1")
        .output()
        .unwrap());
    let o = ok(analyze(&[&corpus], &shard_dir)
        .args(["--shard", "0/1", "--resume"])
        .output()
        .unwrap());
    assert!(stderr(&o).contains("already complete"), "{}", stderr(&o));
}

#[test]
fn a_resume_with_other_settings_or_changed_inputs_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let corpus = d.path().join("c.jsonl");
    write_lines(&corpus, &synthetic_docs(30));
    let out = d.path().join("out");
    // A shard killed after its first checkpoint.
    let mut child = analyze(&[&corpus], &out)
        .args(["--shard", "0/2"])
        .spawn()
        .unwrap();
    let t = Instant::now();
    let cp = out.join("shard-0-of-2/checkpoint.json");
    while !cp.exists() && t.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    if !cp.exists() {
        // The run finished before it could be killed; nothing to test on this machine.
        assert!(out.join("shard-0-of-2/shard.json").exists());
        return;
    }
    let o = analyze(&[&corpus], &out)
        .args([
            "--shard",
            "0/2",
            "--resume",
            "--target",
            "Ukraine joining NATO",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("target: Ukraine joining NATO vs NATO enlargement")
            && e.contains("checkpoint.json"),
        "{e}"
    );
    {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&corpus)
            .unwrap();
        f.write_all(b"{\"id\":\"new\",\"text\":\"More.\"}\n")
            .unwrap();
    }
    let o = analyze(&[&corpus], &out)
        .args(["--shard", "0/2", "--resume"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("input files"), "{}", stderr(&o));
}

#[test]
fn shards_merge_to_the_single_run() {
    let d = tempfile::tempdir().unwrap();
    let corpus = d.path().join("c.jsonl");
    write_lines(&corpus, &synthetic_docs(40));
    let single = d.path().join("single");
    ok(analyze(&[&corpus], &single).output().unwrap());
    let shards = d.path().join("shards");
    // Shard 1 reads the same content from another path, as on another machine.
    let elsewhere = d.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    std::fs::copy(&corpus, elsewhere.join("c.jsonl")).unwrap();
    let copy = elsewhere.join("c.jsonl");
    for i in 0..3 {
        let input = if i == 1 { &copy } else { &corpus };
        let o = ok(analyze(&[input], &shards)
            .arg("--shard")
            .arg(format!("{i}/3"))
            .output()
            .unwrap());
        assert!(stderr(&o).contains("standpoint merge"), "{}", stderr(&o));
    }
    // The same shard from a Slurm job array's environment is the same shard.
    let slurm = d.path().join("slurm");
    ok(analyze(&[&corpus], &slurm)
        .env("SLURM_ARRAY_TASK_ID", "2")
        .env("SLURM_ARRAY_TASK_COUNT", "3")
        .output()
        .unwrap());
    for f in ["statements.jsonl", "documents.jsonl", "aggregate.json"] {
        assert!(
            read(&slurm.join("shard-2-of-3").join(f)) == read(&shards.join("shard-2-of-3").join(f))
        );
    }
    // Missing and repeated shards, and shards of another run, are refused.
    let merged = d.path().join("merged");
    let o = merge(
        &[&shards.join("shard-0-of-3"), &shards.join("shard-2-of-3")],
        &merged,
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("shards missing: 1/3"), "{}", stderr(&o));
    let o = merge(&[&shards, &slurm.join("shard-2-of-3")], &merged);
    assert!(stderr(&o).contains("given twice"), "{}", stderr(&o));
    let other = d.path().join("other");
    ok(analyze(&[&corpus], &other)
        .args(["--shard", "1/3", "--target", "Russian security guarantees"])
        .output()
        .unwrap());
    let o = merge(
        &[
            &shards.join("shard-0-of-3"),
            &other.join("shard-1-of-3"),
            &shards.join("shard-2-of-3"),
        ],
        &merged,
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("not from the same run"),
        "{}",
        stderr(&o)
    );
    // A shard that read other content is refused.
    let changed = d.path().join("changed.jsonl");
    write_lines(&changed, &synthetic_docs(41));
    let other = d.path().join("other-content");
    ok(analyze(&[&changed], &other)
        .args(["--shard", "1/3"])
        .output()
        .unwrap());
    let o = merge(
        &[
            &shards.join("shard-0-of-3"),
            &other.join("shard-1-of-3"),
            &shards.join("shard-2-of-3"),
        ],
        &merged,
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("read other input"), "{}", stderr(&o));
    // All three: the single run's counts exactly; scores within f32 noise.
    let o = ok(merge(&[&shards], &merged));
    assert!(stderr(&o).contains("merged 3 shards"), "{}", stderr(&o));
    assert!(read(&single.join("documents.jsonl")) == read(&merged.join("documents.jsonl")));
    assert_same_statements(
        &single.join("statements.jsonl"),
        &merged.join("statements.jsonl"),
        1e-4,
    );
    assert_same_actors(
        &single.join("actors.json"),
        &merged.join("actors.json"),
        1e-3,
    );
    let (a, b) = (
        json(&single.join("actors.json")),
        json(&merged.join("actors.json")),
    );
    assert_eq!(a["counts"], b["counts"]);
    assert_eq!(a["counts"]["documents"], 40);
}

#[test]
fn labels_do_not_depend_on_threads_or_batch_size() {
    let d = tempfile::tempdir().unwrap();
    let corpus = d.path().join("c.jsonl");
    write_lines(&corpus, &synthetic_docs(12));
    let base = d.path().join("base");
    ok(analyze(&[&corpus], &base)
        .args(["--threads", "1", "--batch-size", "32"])
        .output()
        .unwrap());
    for (threads, batch) in [("2", "32"), ("1", "8"), ("2", "3")] {
        let out = d.path().join(format!("t{threads}b{batch}"));
        ok(analyze(&[&corpus], &out)
            .args(["--threads", threads, "--batch-size", batch])
            .output()
            .unwrap());
        assert_same_statements(
            &base.join("statements.jsonl"),
            &out.join("statements.jsonl"),
            1e-4,
        );
        assert_same_actors(&base.join("actors.json"), &out.join("actors.json"), 1e-3);
    }
}

#[test]
fn every_class_of_bad_input_is_named_or_skipped_and_the_good_documents_come_out_whole() {
    let d = tempfile::tempdir().unwrap();
    let good = synthetic_docs(300);
    // 1% of the lines are bad, one of each kind.
    let bad: Vec<(&str, Vec<u8>)> = vec![
        (
            "malformed",
            b"{\"id\": \"x1\", \"text\": \"unterminated".to_vec(),
        ),
        (
            "truncated",
            good[0].as_bytes()[..good[0].len() / 2].to_vec(),
        ),
        (
            "wrong type",
            b"{\"id\": \"x2\", \"text\": \"ok\", \"title\": 5}".to_vec(),
        ),
        (
            "missing text",
            b"{\"id\": \"x3\", \"title\": \"no text\"}".to_vec(),
        ),
        (
            "invalid UTF-8",
            b"{\"id\": \"x4\", \"text\": \"caf\xe9\"}".to_vec(),
        ),
    ];
    let mut lines: Vec<Vec<u8>> = Vec::new();
    let mut bad_at = Vec::new();
    let mut next_bad = 0;
    for (i, g) in good.iter().enumerate() {
        if i % 60 == 30 && next_bad < bad.len() {
            lines.push(bad[next_bad].1.clone());
            bad_at.push(lines.len());
            next_bad += 1;
        }
        lines.push(g.as_bytes().to_vec());
    }
    // A 50 MB line (one document far over --max-doc-bytes), then an empty document.
    let huge = format!(
        "{{\"id\": \"huge\", \"text\": \"{}\"}}",
        "Lavrov said NATO must stop. ".repeat((50 << 20) / 28 + 1)
    );
    assert!(huge.len() > 50 << 20);
    lines.push(huge.into_bytes());
    lines.push(b"{\"id\": \"empty\", \"text\": \"\"}".to_vec());
    let dir = d.path().join("in");
    std::fs::create_dir(&dir).unwrap();
    let mut bytes = Vec::new();
    for l in &lines {
        bytes.extend_from_slice(l);
        bytes.push(b'\n');
    }
    std::fs::write(dir.join("a.jsonl"), &bytes).unwrap();
    // Binary files: one with a corpus extension, one without; an unreadable file.
    let mut rng = Rng(7);
    let mut noise: Vec<u8> = (0..4096)
        .map(|_| rng.next() as u8)
        .map(|b| if b == b'\n' { 0 } else { b })
        .collect();
    noise[0] = 0xff; // not UTF-8; one line, no newline
    std::fs::write(dir.join("b-binary.jsonl"), &noise).unwrap();
    std::fs::write(dir.join("image.png"), &noise).unwrap();
    std::os::unix::fs::symlink(d.path().join("gone.jsonl"), dir.join("c-unreadable.jsonl"))
        .unwrap();
    // An enormous .txt document.
    std::fs::write(dir.join("d-enormous.txt"), "Word. ".repeat((9 << 20) / 6)).unwrap();

    // Without --skip-bad: the first bad line stops the run, named with its file and line.
    let o = analyze(&[&dir], &d.path().join("strict")).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains(&format!("a.jsonl:{}: malformed JSON", bad_at[0])),
        "{e}"
    );
    // Each class on its own gives its message.
    let classes: Vec<(Vec<u8>, &str)> = vec![
        (bad[1].1.clone(), ":1: malformed JSON"),
        (bad[2].1.clone(), ":1: malformed JSON: invalid type"),
        (
            bad[3].1.clone(),
            ":1: missing or wrong-typed field \"text\"",
        ),
        (bad[4].1.clone(), ":1: invalid UTF-8 at byte"),
        (lines[lines.len() - 2].clone(), ":1: document of 52428"),
    ];
    for (i, (line, want)) in classes.iter().enumerate() {
        let p = d.path().join(format!("class{i}.jsonl"));
        std::fs::write(&p, line).unwrap();
        let o = analyze(&[&p], &d.path().join("x")).output().unwrap();
        assert_eq!(o.status.code(), Some(2));
        let e = stderr(&o);
        assert!(e.contains(&format!("class{i}.jsonl{want}")), "{want}: {e}");
    }
    let only_unreadable = d.path().join("unreadable");
    std::fs::create_dir(&only_unreadable).unwrap();
    std::os::unix::fs::symlink(
        d.path().join("gone.jsonl"),
        only_unreadable.join("c-unreadable.jsonl"),
    )
    .unwrap();
    let o = analyze(&[&only_unreadable], &d.path().join("x"))
        .output()
        .unwrap();
    assert!(
        stderr(&o).contains("c-unreadable.jsonl: cannot read") && stderr(&o).contains("--skip-bad"),
        "{}",
        stderr(&o)
    );
    let o = analyze(&[&dir.join("d-enormous.txt")], &d.path().join("x"))
        .output()
        .unwrap();
    assert!(
        stderr(&o).contains("d-enormous.txt: document of 9437184 bytes is over the limit"),
        "{}",
        stderr(&o)
    );

    // With --skip-bad: the run finishes and counts everything it skipped.
    let out = d.path().join("skipping");
    let o = ok(analyze(&[&dir], &out).arg("--skip-bad").output().unwrap());
    let counts = &json(&out.join("actors.json"))["counts"];
    // The five bad lines, the 50 MB line, the binary file's one line, the enormous .txt.
    assert_eq!(
        counts["input"]["skipped"],
        (bad.len() + 3) as u64,
        "{}",
        stderr(&o)
    );
    assert_eq!(counts["input"]["files_unreadable"], 1);
    assert_eq!(counts["input"]["files_ignored"], 1);
    assert_eq!(counts["documents"], 301, "300 good and the empty one");
    assert_eq!(counts["empty_documents"], 1);
    // Exactly the good documents, as from a clean corpus of just them.
    let clean = d.path().join("clean.jsonl");
    let mut clean_lines = good.clone();
    clean_lines.push("{\"id\": \"empty\", \"text\": \"\"}".into());
    write_lines(&clean, &clean_lines);
    let reference = d.path().join("reference");
    ok(analyze(&[&clean], &reference).output().unwrap());
    for f in ["statements.jsonl", "documents.jsonl"] {
        assert!(read(&reference.join(f)) == read(&out.join(f)), "{f}");
    }
    assert_eq!(
        json(&reference.join("actors.json"))["actors"],
        json(&out.join("actors.json"))["actors"]
    );
}

/// With the default model's native backend (each batch packed without padding), the outputs
/// are bit-identical for any thread count, batch size and shard count.
#[test]
fn default_model_outputs_are_bit_identical_across_threads_batches_and_shards() {
    let d = tempfile::tempdir().unwrap();
    let corpus = d.path().join("c.jsonl");
    write_lines(&corpus, &synthetic_docs(10));
    let run = |out: &Path, args: &[&str]| {
        let mut c = bin();
        c.arg("analyze")
            .arg(&corpus)
            .arg("--out")
            .arg(out)
            .args(["--quiet", "--chunk-statements", "100"])
            .args(args);
        ok(c.output().unwrap());
    };
    let base = d.path().join("base");
    run(&base, &["--threads", "1", "--batch-size", "32"]);
    for (name, args) in [
        ("t2", &["--threads", "2"][..]),
        ("b3", &["--threads", "2", "--batch-size", "3"][..]),
        ("b64", &["--threads", "1", "--batch-size", "64"][..]),
    ] {
        let out = d.path().join(name);
        run(&out, args);
        assert_same_outputs(&base, &out);
    }
    let shards = d.path().join("shards");
    for i in 0..4 {
        run(&shards, &["--shard", &format!("{i}/4")]);
    }
    let merged = d.path().join("merged");
    ok(merge(&[&shards], &merged));
    assert_same_outputs(&base, &merged);
}

/// Several targets in one run: each target's files are those of a run with that target alone
/// (the same chunks and batches, so byte for byte), shards of a multi-target run merge to it,
/// and the stance matrix names every target.
#[test]
fn several_targets_in_one_run_equal_one_run_per_target() {
    let d = tempfile::tempdir().unwrap();
    let corpus = d.path().join("c.jsonl");
    write_lines(&corpus, &synthetic_docs(15));
    let targets = ["NATO enlargement", "Ukraine joining NATO"];
    let multi = d.path().join("multi");
    let o = ok(analyze(&[&corpus], &multi)
        .args(["--target", targets[0], "--target", targets[1]])
        .output()
        .unwrap());
    assert!(
        stderr(&o).contains("target \"Ukraine joining NATO\""),
        "{}",
        stderr(&o)
    );
    for (t, target) in targets.iter().enumerate() {
        let alone = d.path().join(format!("alone-{t}"));
        ok(analyze(&[&corpus], &alone)
            .args(["--target", target])
            .output()
            .unwrap());
        assert_same_files(&alone, &multi.join(format!("target-{t}")), &TARGET_OUTPUTS);
    }
    let listed = json(&multi.join("targets.json"));
    assert_eq!(listed[1]["target"], targets[1]);
    assert_eq!(listed[1]["dir"], "target-1");
    for f in [
        "report.html",
        "actors.csv",
        "actor-target.graphml",
        "actor-actor-edges.csv",
    ] {
        assert!(multi.join(f).exists(), "{f}");
    }
    // The actor × target network has one target node per target.
    let graph = String::from_utf8(read(&multi.join("actor-target.graphml"))).unwrap();
    assert_eq!(
        graph.matches("<data key=\"type\">target</data>").count(),
        2,
        "{graph}"
    );
    let matrix = String::from_utf8(read(&multi.join("report.md"))).unwrap();
    assert!(
        matrix.contains("| Actor | NATO enlargement | Ukraine joining NATO |"),
        "{matrix}"
    );
    // Sharded, then merged.
    let shards = d.path().join("shards");
    for i in 0..2 {
        ok(analyze(&[&corpus], &shards)
            .args(["--target", targets[0], "--target", targets[1]])
            .arg("--shard")
            .arg(format!("{i}/2"))
            .output()
            .unwrap());
    }
    let merged = d.path().join("merged");
    ok(merge(&[&shards], &merged));
    for t in 0..2 {
        let (a, b) = (
            multi.join(format!("target-{t}")),
            merged.join(format!("target-{t}")),
        );
        assert!(read(&a.join("documents.jsonl")) == read(&b.join("documents.jsonl")));
        assert_same_statements(
            &a.join("statements.jsonl"),
            &b.join("statements.jsonl"),
            1e-4,
        );
        assert_same_actors(&a.join("actors.json"), &b.join("actors.json"), 1e-3);
    }
    // A target given twice is refused.
    let o = analyze(&[&corpus], &d.path().join("x"))
        .args(["--target", "A", "--target", "A"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("given twice"));
}

/// `diff` on two real runs (two "periods"): every actor of either run is accounted for once
/// per shared target, with its side in each run, and the table's counts add up.
#[test]
fn diff_of_two_runs_accounts_for_every_actor() {
    let d = tempfile::tempdir().unwrap();
    let docs = synthetic_docs(16);
    let (p1, p2) = (d.path().join("p1.jsonl"), d.path().join("p2.jsonl"));
    write_lines(&p1, &docs[..8]);
    write_lines(&p2, &docs[6..]);
    let (a, b) = (d.path().join("a"), d.path().join("b"));
    ok(analyze(&[&p1], &a).output().unwrap());
    ok(analyze(&[&p2], &b)
        .args([
            "--target",
            "NATO enlargement",
            "--target",
            "Ukraine joining NATO",
        ])
        .output()
        .unwrap());
    let o = ok(bin()
        .arg("diff")
        .arg(&a)
        .arg(&b)
        .arg("--json")
        .output()
        .unwrap());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["targets_only_after"][0], "Ukraine joining NATO");
    let names = |p: &Path| -> std::collections::BTreeSet<String> {
        json(p)["actors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["actor"].as_str().unwrap().to_string())
            .collect()
    };
    let (na, nb) = (
        names(&a.join("actors.json")),
        names(&b.join("target-0/actors.json")),
    );
    let changes = v["changes"].as_array().unwrap();
    assert_eq!(changes.len(), na.union(&nb).count());
    for c in changes {
        let actor = c["actor"].as_str().unwrap();
        assert_eq!(c["before"].is_null(), !na.contains(actor), "{c}");
        assert_eq!(c["after"].is_null(), !nb.contains(actor), "{c}");
    }
    let o = ok(bin()
        .arg("diff")
        .arg(&a)
        .arg(&b)
        .arg("--all")
        .output()
        .unwrap());
    let text = String::from_utf8(o.stdout).unwrap();
    let rows = text
        .lines()
        .filter(|l| {
            let w = l.split_whitespace().next().unwrap_or("");
            ["changed", "shifted", "new", "gone", "same"].contains(&w)
        })
        .count();
    assert_eq!(rows, changes.len(), "{text}");
    let o = bin()
        .arg("diff")
        .arg(&a)
        .arg(d.path().join("nope"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("nope/actors.json: cannot read"),
        "{}",
        stderr(&o)
    );
}
