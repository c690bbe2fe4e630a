//! Input a user can trust (issue: "who said it ... and input handling a user can trust"): each
//! defect found by trying the command line as a new user would, with its regression test. The
//! real binary, the real default model.

mod common;

use common::run_with_stdin;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_standpoint"))
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

const GOOD: &str =
    "{\"id\":\"a\",\"text\":\"\\u201cNATO must stop expanding,\\u201d said Ivan Petrov.\"}\n";

#[test]
fn an_input_without_any_document_is_an_error_but_an_empty_shard_is_not() {
    let d = tempfile::tempdir().unwrap();
    let empty = write(d.path(), "empty.jsonl", "");
    let o = bin()
        .args(["analyze", "--quiet", "--out"])
        .arg(d.path().join("out"))
        .arg(&empty)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("no documents in") && stderr(&o).contains("empty.jsonl"),
        "{}",
        stderr(&o)
    );
    // One document, two shards: shard 1 has nothing to do, and that is fine.
    let one = write(d.path(), "one.jsonl", GOOD);
    let o = bin()
        .args(["analyze", "--quiet", "--shard", "1/2", "--out"])
        .arg(d.path().join("sharded"))
        .arg(&one)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn a_closed_pipe_ends_quietly_without_a_panic() {
    let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/stance_small.jsonl");
    // The reader goes away before the command writes (as `standpoint eval --json | head -0`).
    let mut c = bin()
        .args(["eval", "--json", "--data"])
        .arg(&data)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(c.stdout.take());
    let mut err = String::new();
    c.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    let status = c.wait().unwrap();
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(status.code(), Some(0), "{err}");
}

#[test]
fn skip_bad_skips_and_counts_missing_files_and_does_not_suggest_itself() {
    let d = tempfile::tempdir().unwrap();
    let good = write(d.path(), "good.jsonl", GOOD);
    let out = d.path().join("out");
    let o = bin()
        .args(["analyze", "--quiet", "--skip-bad", "--out"])
        .arg(&out)
        .arg(&good)
        .arg(d.path().join("missing.jsonl"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("1 unreadable files"), "{}", stderr(&o));
    assert!(!stderr(&o).contains("use --skip-bad"), "{}", stderr(&o));
    let actors: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("actors.json")).unwrap()).unwrap();
    assert_eq!(actors["counts"]["input"]["files_unreadable"], 1);
    assert_eq!(actors["counts"]["documents"], 1);
    // Without the flag the message names the file and the flag.
    let o = bin()
        .args(["analyze", "--quiet", "--out"])
        .arg(&out)
        .arg(&good)
        .arg(d.path().join("missing.jsonl"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("missing.jsonl: no such file") && stderr(&o).contains("--skip-bad"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn classify_names_bad_lines_and_labels_the_rest_with_skip_bad() {
    let input = b"{\"id\":\"a\",\"text\":\"NATO must never expand again.\"}\n{id: 2}\n{\"id\":{\"x\":1},\"text\":\"t\"}\n{\"id\":7,\"text\":\"The door stays open.\"}\n";
    let o = run_with_stdin(bin().arg("classify"), input);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("<stdin>:2: malformed JSON") && err.contains("--skip-bad"),
        "{err}"
    );
    let o = run_with_stdin(bin().args(["classify", "--skip-bad"]), input);
    assert!(o.status.success(), "{}", stderr(&o));
    let ids: Vec<serde_json::Value> = String::from_utf8(o.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["id"].clone())
        .collect();
    assert_eq!(ids, vec![serde_json::json!("a"), serde_json::json!(7)]);
    let err = stderr(&o);
    assert!(
        err.contains("<stdin>:3: skipped: missing or wrong-typed field \"id\""),
        "{err}"
    );
    assert!(
        err.contains("2 lines labelled, 2 bad lines skipped (lines 2, 3)"),
        "{err}"
    );
}

#[test]
fn logs_to_a_file_carry_no_colour_codes() {
    let d = tempfile::tempdir().unwrap();
    let good = write(d.path(), "good.jsonl", GOOD);
    let o = bin()
        .env("RUST_LOG", "info")
        .args(["statements"])
        .arg(&good)
        .arg(d.path().join("nope.jsonl"))
        .arg("--skip-bad")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("skipped"), "{}", stderr(&o));
    assert!(!stderr(&o).contains('\u{1b}'), "{:?}", stderr(&o));
}

#[test]
fn numeric_options_that_must_be_positive_refuse_zero() {
    for args in [
        &["classify", "--batch-size", "0"][..],
        &["classify", "--threads", "0"][..],
        &["analyze", "x.jsonl", "--chunk-statements", "0"][..],
    ] {
        let o = bin().args(args).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(
            stderr(&o).contains("invalid value '0'"),
            "{args:?}: {}",
            stderr(&o)
        );
    }
}
