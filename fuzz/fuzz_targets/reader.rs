//! `corpus::CorpusReader` on arbitrary bytes as a `.jsonl` and as a `.txt` file, with and
//! without `skip_bad`, and `corpus::parse_jsonl_line` on arbitrary UTF-8.
//!
//! What is checked is what `CorpusStats` promises: every line of a JSONL file is a document,
//! a blank line or (with `skip_bad`) a skipped one; an error names the line it is about; without
//! `skip_bad` the reader stops at the first error, after yielding exactly what the skipping
//! reader yields up to there.
#![no_main]

use libfuzzer_sys::fuzz_target;
use standpoint::corpus::{
    parse_jsonl_line, CorpusError, CorpusReader, CorpusStats, Document, Origin,
};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

fn dir() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let base = if Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        tempfile::Builder::new()
            .prefix("standpoint-fuzz-")
            .tempdir_in(base)
            .expect("temp dir")
    })
    .path()
}

/// The lines as `BufRead::read_until(b'\n')` returns them: each with its `\n`, and a last one
/// without it when the input does not end in a newline.
fn lines(bytes: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let n = rest
            .iter()
            .position(|&b| b == b'\n')
            .map_or(rest.len(), |i| i + 1);
        out.push(&rest[..n]);
        rest = &rest[n..];
    }
    out
}

fn is_blank(line: &[u8]) -> bool {
    std::str::from_utf8(line).is_ok_and(|s| s.trim().is_empty())
}

fn read(path: &Path, skip_bad: bool) -> (Vec<Result<Document, CorpusError>>, CorpusStats) {
    let mut r = CorpusReader::open(&[path.to_path_buf()], skip_bad).expect("open an existing file");
    let mut items = Vec::new();
    for item in r.by_ref() {
        if let Err(e) = &item {
            // Messages are built from user input: they must format.
            let msg = e.to_string();
            assert!(msg.contains(&path.display().to_string()), "{msg}");
        }
        items.push(item);
    }
    // Fused: nothing after the end (or the first error).
    assert!(r.next().is_none());
    (items, r.stats().clone())
}

fn line_of(e: &CorpusError) -> Option<usize> {
    match e {
        CorpusError::Json { origin, .. }
        | CorpusError::MissingField { origin, .. }
        | CorpusError::EmptyId { origin }
        | CorpusError::DuplicateId { origin, .. }
        | CorpusError::Utf8 { origin, .. } => origin.line,
        _ => None,
    }
}

fn check_jsonl(data: &[u8]) {
    let path = dir().join("doc.jsonl");
    std::fs::write(&path, data).expect("write");
    let lines = lines(data);
    let blank = lines.iter().filter(|l| is_blank(l)).count();

    let (items, st) = read(&path, true);
    let docs: Vec<&Document> = items
        .iter()
        .map(|r| r.as_ref().expect("skip_bad yields only documents"))
        .collect();
    assert_eq!(st.files, 1);
    assert_eq!(st.files_ignored, 0);
    assert_eq!(st.documents, docs.len());
    assert_eq!(st.blank_lines, blank);
    assert_eq!(
        st.documents + st.skipped + st.blank_lines,
        lines.len(),
        "every line is a document, a blank line or skipped: {st:?}"
    );
    assert_eq!(st.skipped_examples.len(), st.skipped.min(20));
    let mut ids = std::collections::HashSet::new();
    for d in &docs {
        assert!(!d.id.trim().is_empty(), "empty id {:?}", d.id);
        assert!(ids.insert(d.id.as_str()), "duplicate id {:?} yielded", d.id);
    }

    let (strict, st2) = read(&path, false);
    assert_eq!(st2.skipped, 0);
    let ok: Vec<&Document> = strict.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(st2.documents, ok.len());
    match strict.last() {
        Some(Err(e)) => {
            assert!(
                strict[..strict.len() - 1].iter().all(|r| r.is_ok()),
                "only the last item may be an error"
            );
            assert!(e.skippable(), "a bad line is skippable: {e}");
            assert!(
                st.skipped > 0,
                "strict reader failed where nothing was skipped: {e}"
            );
            assert_eq!(
                ok[..],
                docs[..ok.len()],
                "strict prefix differs from skipping reader"
            );
            let n = line_of(e).expect("a JSONL error names its line");
            assert!(
                n >= 1 && n <= lines.len(),
                "error line {n} of {}",
                lines.len()
            );
            let line = lines[n - 1];
            match e {
                CorpusError::Utf8 { byte, .. } => {
                    let err = std::str::from_utf8(line).expect_err("Utf8 error on a UTF-8 line");
                    assert_eq!(*byte, err.valid_up_to());
                }
                _ => assert!(
                    std::str::from_utf8(line).is_ok() && !is_blank(line),
                    "error {e} on line {n}, which is blank or not UTF-8"
                ),
            }
            // Every line before the failing one was read: a document or blank.
            assert_eq!(st2.documents + st2.blank_lines, n - 1, "{st2:?}");
        }
        _ => {
            assert_eq!(
                st.skipped, 0,
                "skipping reader skipped what the strict one accepted"
            );
            assert_eq!(ok, docs);
            assert_eq!(st2, st);
        }
    }
}

fn check_txt(data: &[u8]) {
    let path = dir().join("doc.txt");
    std::fs::write(&path, data).expect("write");
    let utf8 = std::str::from_utf8(data);
    for skip_bad in [false, true] {
        let (items, st) = read(&path, skip_bad);
        assert_eq!(st.files, 1);
        assert_eq!(st.blank_lines, 0);
        match utf8 {
            Ok(text) => {
                assert_eq!(items.len(), 1);
                let d = items[0].as_ref().expect("a UTF-8 .txt file is a document");
                assert_eq!(d.id, "doc");
                assert_eq!(d.text, text);
                assert_eq!((st.documents, st.skipped), (1, 0));
            }
            Err(err) => {
                let want_byte = err.valid_up_to();
                let want_line = data[..want_byte].iter().filter(|&&b| b == b'\n').count() + 1;
                if skip_bad {
                    assert!(items.is_empty());
                    assert_eq!((st.documents, st.skipped), (0, 1));
                } else {
                    assert_eq!(items.len(), 1);
                    match &items[0] {
                        Err(CorpusError::Utf8 { origin, byte }) => {
                            assert_eq!(*byte, want_byte);
                            assert_eq!(origin.line, Some(want_line));
                        }
                        other => panic!("expected a UTF-8 error, got {other:?}"),
                    }
                    assert_eq!((st.documents, st.skipped), (0, 0));
                }
            }
        }
    }
}

fn check_line(line: &str) {
    let origin = Origin {
        path: PathBuf::from("fuzz.jsonl"),
        line: Some(1),
    };
    match parse_jsonl_line(line, &origin) {
        Ok(doc) => {
            assert!(!doc.id.trim().is_empty());
            // What was read writes back as JSON that reads as the same document.
            let json = serde_json::to_string(&doc).expect("serialise");
            let again = parse_jsonl_line(&json, &origin).expect("re-read the written document");
            assert_eq!(again, doc);
        }
        Err(e) => {
            assert!(e.skippable());
            assert!(e.to_string().starts_with("fuzz.jsonl:1: "), "{e}");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        check_line(s);
    }
    check_jsonl(data);
    check_txt(data);
});
