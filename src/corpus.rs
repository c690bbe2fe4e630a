//! Stage 1: the corpus.
//!
//! Reads documents from `.txt` files (one article per file, id = file stem), `.jsonl` files (one
//! document per line: `id`, `text`, optional `title`, `date`, `source`, `url`) and standard input
//! (`-`, JSONL). Documents are yielded one at a time, so a corpus of any size streams through.
//! Every problem is a [`CorpusError`] naming the file and line; with `skip_bad` the reader counts
//! and skips the bad document and goes on, and [`CorpusStats`] accounts for every input.

use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// One article.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Document {
    pub id: String,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// Where a document came from: a file, and a line for JSONL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub path: PathBuf,
    pub line: Option<usize>,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{}", self.path.display(), l),
            None => write!(f, "{}", self.path.display()),
        }
    }
}

/// A bad input. Every variant names the file (and line where there is one) and what to do.
#[derive(Debug, thiserror::Error)]
pub enum CorpusError {
    #[error("{path}: cannot read: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: no such file or directory")]
    NotFound { path: PathBuf },
    #[error("{origin}: malformed JSON: {message} (each line must be one JSON object)")]
    Json { origin: Origin, message: String },
    #[error("{origin}: missing or wrong-typed field \"{field}\" (each document needs an \"id\", a string or an integer, and a \"text\" string)")]
    MissingField { origin: Origin, field: &'static str },
    #[error("{origin}: empty document id (ids must be non-empty)")]
    EmptyId { origin: Origin },
    #[error("{origin}: duplicate document id \"{id}\" (first seen at {first}); ids must be unique across all inputs")]
    DuplicateId {
        origin: Origin,
        id: String,
        first: String,
    },
    #[error(
        "{origin}: invalid UTF-8 at byte {byte}; convert the file to UTF-8 (e.g. iconv -t UTF-8)"
    )]
    Utf8 { origin: Origin, byte: usize },
    #[error("{path}: unsupported input type; give .txt files, .jsonl files, directories, or - for JSONL on stdin")]
    Unsupported { path: PathBuf },
    #[error("{origin}: document of {bytes} bytes is over the limit of {limit} (--max-doc-bytes); split it or raise the limit")]
    TooLarge {
        origin: Origin,
        bytes: u64,
        limit: usize,
    },
    #[error("{path}: cannot read{at}: {source} (check its permissions)", at = match line { Some(l) => format!(" after line {l}"), None => String::new() })]
    Unreadable {
        path: PathBuf,
        line: Option<usize>,
        #[source]
        source: std::io::Error,
    },
}

impl CorpusError {
    /// Whether `--skip-bad` may skip this error and continue (bad lines and documents, and
    /// files that cannot be read, named or found in a directory; unsupported inputs named on the
    /// command line and failures to list a directory stop the run).
    pub fn skippable(&self) -> bool {
        matches!(
            self,
            CorpusError::Json { .. }
                | CorpusError::MissingField { .. }
                | CorpusError::EmptyId { .. }
                | CorpusError::DuplicateId { .. }
                | CorpusError::Utf8 { .. }
                | CorpusError::TooLarge { .. }
                | CorpusError::Unreadable { .. }
                | CorpusError::NotFound { .. }
        )
    }

    /// Whether the error is a whole file that could not be read (counted as `files_unreadable`
    /// when skipped), rather than a bad line or document (`skipped`).
    pub fn is_file(&self) -> bool {
        matches!(
            self,
            CorpusError::Unreadable { .. } | CorpusError::NotFound { .. }
        )
    }
}

/// Accounting of the inputs: every file and line is read, skipped or ignored, and counted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorpusStats {
    pub files: usize,
    /// Files in input directories that are neither `.txt` nor `.jsonl` (named in the log).
    pub files_ignored: usize,
    pub documents: usize,
    pub blank_lines: usize,
    /// Bad documents and lines skipped (`--skip-bad`).
    pub skipped: usize,
    /// Files that could not be read (or not to the end), skipped with `--skip-bad`.
    #[serde(default)]
    pub files_unreadable: usize,
    /// A hash (FNV-1a, 64 bits) of every byte read, in order: runs that read the same content
    /// have the same hash, wherever the files are.
    #[serde(default)]
    pub content_hash: String,
    /// The first few skipped inputs, as messages.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped_examples: Vec<String>,
}

impl CorpusStats {
    /// Counts an input skipped under `--skip-bad` (a file, or a line or document), logs it, and
    /// keeps the first few messages.
    fn record_skip(&mut self, e: &CorpusError) {
        tracing::warn!("skipped: {e}");
        if e.is_file() {
            self.files_unreadable += 1;
        } else {
            self.skipped += 1;
        }
        if self.skipped_examples.len() < 20 {
            self.skipped_examples.push(e.to_string());
        }
    }
}

/// One input source.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Source {
    Txt(PathBuf),
    Jsonl(PathBuf),
    Stdin,
}

/// Expands the command-line inputs (files, directories, `-`) into sources, in a stable order.
fn expand_inputs(
    inputs: &[PathBuf],
    stats: &mut CorpusStats,
    skip_bad: bool,
) -> Result<Vec<Source>, CorpusError> {
    let mut out = Vec::new();
    for input in inputs {
        if input.as_os_str() == "-" {
            out.push(Source::Stdin);
            continue;
        }
        let meta = match std::fs::metadata(input) {
            Ok(m) => m,
            Err(e) => {
                let err = if e.kind() == std::io::ErrorKind::NotFound {
                    CorpusError::NotFound {
                        path: input.clone(),
                    }
                } else {
                    CorpusError::Unreadable {
                        path: input.clone(),
                        line: None,
                        source: e,
                    }
                };
                if !skip_bad {
                    return Err(err);
                }
                stats.record_skip(&err);
                continue;
            }
        };
        if meta.is_dir() {
            let mut entries = Vec::new();
            walk_dir(input, &mut entries)?;
            entries.sort();
            for p in entries {
                match classify(&p) {
                    Some(s) => out.push(s),
                    None => {
                        tracing::info!("ignoring {} (not .txt or .jsonl)", p.display());
                        stats.files_ignored += 1;
                    }
                }
            }
        } else {
            match classify(input) {
                Some(s) => out.push(s),
                None => {
                    return Err(CorpusError::Unsupported {
                        path: input.clone(),
                    })
                }
            }
        }
    }
    Ok(out)
}

fn walk_dir(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), CorpusError> {
    let rd = std::fs::read_dir(dir).map_err(|e| CorpusError::Io {
        path: dir.to_path_buf(),
        source: e,
    })?;
    for entry in rd {
        let entry = entry.map_err(|e| CorpusError::Io {
            path: dir.to_path_buf(),
            source: e,
        })?;
        let p = entry.path();
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue; // hidden files and directories (.git, editor swap files)
        }
        if p.is_dir() {
            walk_dir(&p, out)?;
        } else {
            out.push(p);
        }
    }
    Ok(())
}

fn classify(p: &Path) -> Option<Source> {
    match p.extension().and_then(|e| e.to_str()) {
        Some(e) if e.eq_ignore_ascii_case("txt") => Some(Source::Txt(p.to_path_buf())),
        Some(e) if e.eq_ignore_ascii_case("jsonl") => Some(Source::Jsonl(p.to_path_buf())),
        _ => None,
    }
}

#[derive(Deserialize)]
struct RawDoc {
    id: Option<serde_json::Value>,
    text: Option<serde_json::Value>,
    title: Option<String>,
    date: Option<String>,
    source: Option<String>,
    url: Option<String>,
}

/// Parses one JSONL line into a document.
pub fn parse_jsonl_line(line: &str, origin: &Origin) -> Result<Document, CorpusError> {
    let raw: RawDoc = serde_json::from_str(line).map_err(|e| CorpusError::Json {
        origin: origin.clone(),
        message: e.to_string(),
    })?;
    let id = match raw.id {
        Some(serde_json::Value::String(s)) => s,
        // Numeric ids are common in exported corpora; keep them as their decimal text.
        Some(serde_json::Value::Number(n)) => n.to_string(),
        _ => {
            return Err(CorpusError::MissingField {
                origin: origin.clone(),
                field: "id",
            })
        }
    };
    let text = match raw.text {
        Some(serde_json::Value::String(s)) => s,
        _ => {
            return Err(CorpusError::MissingField {
                origin: origin.clone(),
                field: "text",
            })
        }
    };
    if id.trim().is_empty() {
        return Err(CorpusError::EmptyId {
            origin: origin.clone(),
        });
    }
    Ok(Document {
        id,
        text,
        title: raw.title,
        date: raw.date,
        source: raw.source,
        url: raw.url,
    })
}

/// Streams documents from the inputs. Iterating yields `Ok(document)` or, without `skip_bad`,
/// the first error (after which iteration ends).
pub struct CorpusReader {
    sources: std::vec::IntoIter<Source>,
    current: Option<(PathBuf, Box<dyn BufRead>, usize)>,
    /// Ids seen so far, as 128-bit hashes (two keyed SipHashes), with where each was first seen
    /// (an index into `files`, and a line): 24 bytes a document, whatever the id's length.
    seen: std::collections::HashMap<(u64, u64), (u32, u32)>,
    id_hashers: [std::collections::hash_map::RandomState; 2],
    files: Vec<PathBuf>,
    opts: ReadOptions,
    failed: bool,
    stats: CorpusStats,
    content_hash: u64,
}

/// How the reader treats bad input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadOptions {
    /// Skip (and count) bad documents and unreadable files instead of stopping.
    pub skip_bad: bool,
    /// Largest document (a JSONL line, a .txt file) accepted, in bytes.
    pub max_doc_bytes: usize,
}

/// The default `--max-doc-bytes`: far above any news article, far below a corrupt file.
pub const DEFAULT_MAX_DOC_BYTES: usize = 8 << 20;

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            skip_bad: false,
            max_doc_bytes: DEFAULT_MAX_DOC_BYTES,
        }
    }
}

/// Reads one line into `buf` (newline included), but keeps at most `max` bytes: a longer line
/// is consumed to its end and reported as too long, with its length, without being held in
/// memory. Returns the bytes consumed (0 at the end) and whether the line was too long.
fn read_line_bounded(
    r: &mut dyn BufRead,
    buf: &mut Vec<u8>,
    max: usize,
    hash: &mut u64,
) -> std::io::Result<(u64, bool)> {
    let (mut total, mut too_long) = (0u64, false);
    loop {
        let avail = match r.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if avail.is_empty() {
            return Ok((total, too_long));
        }
        let (n, done) = match avail.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (avail.len(), false),
        };
        *hash = crate::shard::fnv1a(&avail[..n], *hash);
        if !too_long && buf.len() + n <= max.saturating_add(1) {
            buf.extend_from_slice(&avail[..n]);
        } else {
            too_long = true;
            buf.clear();
        }
        r.consume(n);
        total += n as u64;
        if done {
            return Ok((total, too_long));
        }
    }
}

/// A fingerprint of the inputs (each file's path, size and modification time), to tell
/// whether a run being resumed reads the same files (shards being merged compare the content
/// they read instead: [`CorpusStats::content_hash`]). `None` when standard input is
/// among them.
pub fn input_fingerprint(inputs: &[PathBuf]) -> Result<Option<String>, CorpusError> {
    let mut stats = CorpusStats::default();
    // Missing inputs are left out here; the reader reports them (or skips them with --skip-bad).
    let sources = expand_inputs(inputs, &mut stats, true)?;
    let mut h = crate::shard::FNV_START;
    for s in sources {
        let p = match s {
            Source::Stdin => return Ok(None),
            Source::Txt(p) | Source::Jsonl(p) => p,
        };
        h = crate::shard::fnv1a(p.to_string_lossy().as_bytes(), h);
        let (len, mtime) = match std::fs::metadata(&p) {
            Ok(m) => (
                m.len(),
                m.modified()
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map(|d| d.as_nanos())
                    .unwrap_or(0),
            ),
            Err(_) => (u64::MAX, 0),
        };
        h = crate::shard::fnv1a(&len.to_le_bytes(), h);
        h = crate::shard::fnv1a(&mtime.to_le_bytes(), h);
    }
    Ok(Some(format!("{h:016x}")))
}

impl CorpusReader {
    pub fn open(inputs: &[PathBuf], skip_bad: bool) -> Result<CorpusReader, CorpusError> {
        CorpusReader::open_with(
            inputs,
            ReadOptions {
                skip_bad,
                ..ReadOptions::default()
            },
        )
    }

    pub fn open_with(inputs: &[PathBuf], opts: ReadOptions) -> Result<CorpusReader, CorpusError> {
        let mut stats = CorpusStats::default();
        let sources = expand_inputs(inputs, &mut stats, opts.skip_bad)?;
        Ok(CorpusReader {
            sources: sources.into_iter(),
            current: None,
            seen: Default::default(),
            id_hashers: Default::default(),
            files: Vec::new(),
            opts,
            failed: false,
            stats,
            content_hash: crate::shard::FNV_START,
        })
    }

    /// The accounting so far.
    pub fn stats(&self) -> CorpusStats {
        CorpusStats {
            content_hash: format!("{:016x}", self.content_hash),
            ..self.stats.clone()
        }
    }

    fn check_id(&mut self, doc: Document, origin: &Origin) -> Result<Document, CorpusError> {
        use std::hash::BuildHasher;
        let key = (
            self.id_hashers[0].hash_one(&doc.id),
            self.id_hashers[1].hash_one(&doc.id),
        );
        if let Some(&(file, line)) = self.seen.get(&key) {
            let first = Origin {
                path: self.files[file as usize].clone(),
                line: (line > 0).then_some(line as usize),
            };
            return Err(CorpusError::DuplicateId {
                origin: origin.clone(),
                id: doc.id,
                first: first.to_string(),
            });
        }
        if self.files.last() != Some(&origin.path) {
            self.files.push(origin.path.clone());
        }
        let file = (self.files.len() - 1) as u32;
        let line = origin.line.unwrap_or(0).min(u32::MAX as usize) as u32;
        self.seen.insert(key, (file, line));
        Ok(doc)
    }

    fn read_txt(&mut self, path: &Path) -> Result<Document, CorpusError> {
        let origin = Origin {
            path: path.to_path_buf(),
            line: None,
        };
        let unreadable = |e| CorpusError::Unreadable {
            path: path.to_path_buf(),
            line: None,
            source: e,
        };
        let f = File::open(path).map_err(unreadable)?;
        let limit = self.opts.max_doc_bytes;
        let mut bytes = Vec::new();
        f.take(limit as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(unreadable)?;
        self.content_hash = crate::shard::fnv1a(&bytes, self.content_hash);
        if bytes.len() > limit {
            let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
            return Err(CorpusError::TooLarge {
                origin,
                bytes: size.max(bytes.len() as u64),
                limit,
            });
        }
        let text = String::from_utf8(bytes).map_err(|e| {
            let byte = e.utf8_error().valid_up_to();
            let line = e.as_bytes()[..byte].iter().filter(|&&b| b == b'\n').count() + 1;
            CorpusError::Utf8 {
                origin: Origin {
                    path: path.to_path_buf(),
                    line: Some(line),
                },
                byte,
            }
        })?;
        let id = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        if id.is_empty() {
            return Err(CorpusError::EmptyId { origin });
        }
        let doc = Document {
            id,
            text,
            title: None,
            date: None,
            source: Some(path.display().to_string()),
            url: None,
        };
        self.check_id(doc, &origin)
    }

    /// Reads the next line of the current JSONL source. `Ok(None)` at its end.
    fn next_jsonl(&mut self) -> Option<Result<Document, CorpusError>> {
        loop {
            let (path, reader, line_no) = self.current.as_mut()?;
            let mut buf = Vec::new();
            let too_long = match read_line_bounded(
                reader,
                &mut buf,
                self.opts.max_doc_bytes,
                &mut self.content_hash,
            ) {
                Ok((0, _)) => {
                    self.current = None;
                    return None;
                }
                Ok((n, true)) => Some(n),
                Ok(_) => None,
                Err(e) => {
                    let (path, line) = (path.clone(), *line_no);
                    self.current = None;
                    return Some(Err(CorpusError::Unreadable {
                        path,
                        line: Some(line),
                        source: e,
                    }));
                }
            };
            *line_no += 1;
            let origin = Origin {
                path: path.clone(),
                line: Some(*line_no),
            };
            if let Some(bytes) = too_long {
                return Some(Err(CorpusError::TooLarge {
                    origin,
                    bytes,
                    limit: self.opts.max_doc_bytes,
                }));
            }
            let line = match std::str::from_utf8(&buf) {
                Ok(s) => s,
                Err(e) => {
                    return Some(Err(CorpusError::Utf8 {
                        origin,
                        byte: e.valid_up_to(),
                    }))
                }
            };
            let trimmed = line.trim();
            if trimmed.is_empty() {
                self.stats.blank_lines += 1;
                continue;
            }
            let r = parse_jsonl_line(trimmed, &origin).and_then(|d| self.check_id(d, &origin));
            return Some(r);
        }
    }

    fn next_raw(&mut self) -> Option<Result<Document, CorpusError>> {
        loop {
            if self.current.is_some() {
                if let Some(r) = self.next_jsonl() {
                    return Some(r);
                }
                continue;
            }
            match self.sources.next()? {
                Source::Txt(p) => {
                    self.stats.files += 1;
                    return Some(self.read_txt(&p));
                }
                Source::Jsonl(p) => {
                    self.stats.files += 1;
                    match File::open(&p) {
                        Ok(f) => {
                            self.current = Some((p, Box::new(BufReader::new(f)), 0));
                        }
                        Err(e) => {
                            return Some(Err(CorpusError::Unreadable {
                                path: p,
                                line: None,
                                source: e,
                            }))
                        }
                    }
                }
                Source::Stdin => {
                    self.stats.files += 1;
                    let stdin = std::io::stdin();
                    self.current =
                        Some((PathBuf::from("<stdin>"), Box::new(BufReader::new(stdin)), 0));
                }
            }
        }
    }
}

impl Iterator for CorpusReader {
    type Item = Result<Document, CorpusError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        loop {
            match self.next_raw()? {
                Ok(doc) => {
                    self.stats.documents += 1;
                    return Some(Ok(doc));
                }
                Err(e) if self.opts.skip_bad && e.skippable() => self.stats.record_skip(&e),
                Err(e) => {
                    self.failed = true;
                    return Some(Err(e));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let p = dir.join(name);
        std::fs::File::create(&p).unwrap().write_all(bytes).unwrap();
        p
    }

    fn read_all(
        inputs: &[PathBuf],
        skip: bool,
    ) -> (Vec<Result<Document, CorpusError>>, CorpusStats) {
        let mut r = CorpusReader::open(inputs, skip).unwrap();
        let docs: Vec<_> = r.by_ref().collect();
        (docs, r.stats())
    }

    #[test]
    fn reads_txt_and_jsonl_from_a_directory() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "a.txt", "Hello world.".as_bytes());
        write(
            d.path(),
            "b.jsonl",
            b"{\"id\":\"x1\",\"text\":\"One.\",\"title\":\"T\",\"date\":\"2022-01-10\"}\n\n{\"id\":7,\"text\":\"Two.\"}\n",
        );
        write(d.path(), "notes.md", b"ignored");
        let (docs, stats) = read_all(&[d.path().to_path_buf()], false);
        let docs: Vec<Document> = docs.into_iter().map(|r| r.unwrap()).collect();
        assert_eq!(
            docs.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(),
            ["a", "x1", "7"]
        );
        assert_eq!(docs[1].title.as_deref(), Some("T"));
        assert_eq!(stats.documents, 3);
        assert_eq!(stats.files, 2);
        assert_eq!(stats.files_ignored, 1);
        assert_eq!(stats.blank_lines, 1);
    }

    #[test]
    fn malformed_json_names_file_and_line() {
        let d = tempfile::tempdir().unwrap();
        let p = write(
            d.path(),
            "c.jsonl",
            b"{\"id\":\"a\",\"text\":\"ok\"}\n{\"id\": \"b\", text}\n",
        );
        let (docs, _) = read_all(std::slice::from_ref(&p), false);
        assert!(docs[0].is_ok());
        let e = docs[1].as_ref().unwrap_err();
        assert!(matches!(e, CorpusError::Json { origin, .. } if origin.line == Some(2)));
        assert!(e.to_string().contains("c.jsonl:2"), "{e}");
        assert_eq!(docs.len(), 2, "reading stops at the first error");
    }

    #[test]
    fn missing_text_and_duplicate_ids_are_errors() {
        let d = tempfile::tempdir().unwrap();
        let p = write(
            d.path(),
            "c.jsonl",
            b"{\"id\":\"a\",\"text\":\"ok\"}\n{\"id\":\"b\"}\n{\"id\":\"a\",\"text\":\"again\"}\n{\"text\":\"no id\"}\n",
        );
        let (docs, _) = read_all(std::slice::from_ref(&p), false);
        assert!(matches!(
            docs[1],
            Err(CorpusError::MissingField { field: "text", .. })
        ));
        let (docs, stats) = read_all(&[p], true);
        assert_eq!(docs.len(), 1);
        assert_eq!(stats.skipped, 3);
        assert!(stats.skipped_examples[1].contains("duplicate document id \"a\""));
        assert!(stats.skipped_examples[2].contains("\"id\""));
    }

    #[test]
    fn duplicate_ids_across_files() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "a.txt", b"Text.");
        write(d.path(), "b.jsonl", b"{\"id\":\"a\",\"text\":\"ok\"}\n");
        let (docs, _) = read_all(&[d.path().to_path_buf()], false);
        let e = docs[1].as_ref().unwrap_err();
        assert!(
            e.to_string().contains("a.txt"),
            "names where the id was first seen: {e}"
        );
    }

    #[test]
    fn invalid_utf8_in_txt_and_jsonl() {
        let d = tempfile::tempdir().unwrap();
        let t = write(d.path(), "bad.txt", b"line one\nbad \xff byte\n");
        let (docs, _) = read_all(&[t], false);
        let e = docs[0].as_ref().unwrap_err();
        assert!(
            matches!(e, CorpusError::Utf8 { origin, byte: 13 } if origin.line == Some(2)),
            "{e}"
        );
        let j = write(
            d.path(),
            "bad.jsonl",
            b"{\"id\":\"a\",\"text\":\"\xc3\x28\"}\n{\"id\":\"b\",\"text\":\"fine\"}\n",
        );
        let (docs, stats) = read_all(&[j], true);
        assert_eq!(docs.len(), 1);
        assert_eq!(docs[0].as_ref().unwrap().id, "b");
        assert_eq!(stats.skipped, 1);
    }

    #[test]
    fn a_line_over_the_limit_is_consumed_and_named_and_reading_goes_on() {
        let d = tempfile::tempdir().unwrap();
        let long = format!("{{\"id\":\"big\",\"text\":\"{}\"}}\n", "x".repeat(200));
        let body =
            format!("{{\"id\":\"a\",\"text\":\"ok\"}}\n{long}{{\"id\":\"b\",\"text\":\"ok\"}}");
        let p = write(d.path(), "c.jsonl", body.as_bytes());
        let opts = ReadOptions {
            skip_bad: true,
            max_doc_bytes: 100,
        };
        let mut r = CorpusReader::open_with(std::slice::from_ref(&p), opts).unwrap();
        let ids: Vec<String> = r.by_ref().map(|x| x.unwrap().id).collect();
        assert_eq!(ids, ["a", "b"], "the line after the long one is read whole");
        let stats = r.stats();
        assert_eq!(stats.skipped, 1);
        assert!(
            stats.skipped_examples[0].contains(&format!(
                "c.jsonl:2: document of {} bytes is over the limit of 100",
                long.len()
            )),
            "{:?}",
            stats.skipped_examples
        );
        // Every byte is in the content hash, the long line included.
        let mut other = body.into_bytes();
        other[60] = b'y';
        let q = write(d.path(), "d.jsonl", &other);
        let mut r2 = CorpusReader::open_with(&[q], opts).unwrap();
        let _ = r2.by_ref().count();
        assert_ne!(r2.stats().content_hash, stats.content_hash);
    }

    #[test]
    fn missing_and_unsupported_inputs() {
        let d = tempfile::tempdir().unwrap();
        let e = CorpusReader::open(&[d.path().join("nope.jsonl")], false)
            .err()
            .unwrap();
        assert!(matches!(e, CorpusError::NotFound { .. }));
        // With --skip-bad a missing file is skipped and counted as unreadable, and the good
        // file beside it is read (regression: it used to stop the run).
        let good = write(
            d.path(),
            "good.jsonl",
            b"{\"id\":\"a\",\"text\":\"Hello.\"}\n",
        );
        let (docs, stats) = read_all(&[good, d.path().join("nope.jsonl")], true);
        assert_eq!(docs.len(), 1);
        assert!(docs[0].is_ok());
        assert_eq!(
            (stats.documents, stats.files_unreadable, stats.skipped),
            (1, 1, 0)
        );
        assert!(
            stats.skipped_examples[0].contains("nope.jsonl"),
            "{:?}",
            stats.skipped_examples
        );
        assert!(
            !stats.skipped_examples[0].contains("--skip-bad"),
            "a skipped input's message suggests the flag already given: {:?}",
            stats.skipped_examples
        );
        let p = write(d.path(), "x.csv", b"a,b");
        let e = CorpusReader::open(&[p], true).err().unwrap();
        assert!(matches!(e, CorpusError::Unsupported { .. }));
    }
}
