//! Shards and checkpoints: the records that let a run be split, interrupted and put together.
//!
//! A run works in a *shard directory* (`shard-I-of-N`, or `shard-0-of-1` for a whole run):
//! `statements.jsonl` (document-level speaker names), `documents.jsonl` (one
//! [`crate::aggregate::DocEntry`] per document), and, once done, `aggregate.json` (the
//! [`crate::aggregate::Partial`]) and `shard.json` ([`ShardMeta`]). While it runs,
//! `checkpoint.json` ([`Checkpoint`]) records how far the two streams are complete, so that
//! `--resume` can cut them back to that point and go on. [`crate::merge`] turns one or more
//! shard directories into the final outputs.

use crate::aggregate::{Partial, Totals};
use crate::corpus::CorpusStats;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Version of the shard files; a merge or resume refuses others.
pub const FORMAT: u32 = 1;

/// Which share of the documents a run takes: those whose position in the input (counting
/// good documents from 0) is `index` modulo `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardSpec {
    pub index: usize,
    pub count: usize,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ShardError {
    #[error("--shard {0:?}: expected I/N with 0 <= I < N (for example 0/4 ... 3/4)")]
    Syntax(String),
    #[error("{var}={value:?}: {message}")]
    Env {
        var: &'static str,
        value: String,
        message: String,
    },
}

impl ShardSpec {
    pub const WHOLE: ShardSpec = ShardSpec { index: 0, count: 1 };

    pub fn new(index: usize, count: usize) -> Option<ShardSpec> {
        (count >= 1 && index < count).then_some(ShardSpec { index, count })
    }

    /// Parses `I/N` (0-based `I`).
    pub fn parse(s: &str) -> Result<ShardSpec, ShardError> {
        let err = || ShardError::Syntax(s.to_string());
        let (i, n) = s.split_once('/').ok_or_else(err)?;
        let i: usize = i.trim().parse().map_err(|_| err())?;
        let n: usize = n.trim().parse().map_err(|_| err())?;
        ShardSpec::new(i, n).ok_or_else(err)
    }

    /// The shard a batch scheduler assigned, from its environment: a Slurm job array
    /// (`SLURM_ARRAY_TASK_ID` − `SLURM_ARRAY_TASK_MIN` of `SLURM_ARRAY_TASK_COUNT`) or a
    /// Kubernetes Indexed Job (`JOB_COMPLETION_INDEX` of `STANDPOINT_SHARD_COUNT`, since
    /// Kubernetes does not pass the number of completions). `None` when neither is there.
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<Option<ShardSpec>, ShardError> {
        let num = |var: &'static str| -> Result<Option<usize>, ShardError> {
            match get(var) {
                None => Ok(None),
                Some(v) => v.trim().parse().map(Some).map_err(|_| ShardError::Env {
                    var,
                    value: v.clone(),
                    message: "not a whole number".into(),
                }),
            }
        };
        let bad = |var: &'static str, value: usize, message: String| ShardError::Env {
            var,
            value: value.to_string(),
            message,
        };
        if let Some(id) = num("SLURM_ARRAY_TASK_ID")? {
            let count = num("SLURM_ARRAY_TASK_COUNT")?.ok_or_else(|| ShardError::Env {
                var: "SLURM_ARRAY_TASK_COUNT",
                value: String::new(),
                message: "missing while SLURM_ARRAY_TASK_ID is set; give --shard I/N".into(),
            })?;
            let min = num("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
            let index = id.checked_sub(min).ok_or_else(|| {
                bad(
                    "SLURM_ARRAY_TASK_ID",
                    id,
                    format!("below SLURM_ARRAY_TASK_MIN={min}"),
                )
            })?;
            return ShardSpec::new(index, count).map(Some).ok_or_else(|| {
                bad(
                    "SLURM_ARRAY_TASK_ID",
                    id,
                    format!(
                        "task {index} of {count}: submit the array as --array=0-{}, without steps",
                        count.max(1) - 1
                    ),
                )
            });
        }
        if let Some(index) = num("JOB_COMPLETION_INDEX")? {
            let count = num("STANDPOINT_SHARD_COUNT")?.ok_or_else(|| ShardError::Env {
                var: "STANDPOINT_SHARD_COUNT",
                value: String::new(),
                message:
                    "missing while JOB_COMPLETION_INDEX is set: set it to the Job's completions"
                        .into(),
            })?;
            return ShardSpec::new(index, count).map(Some).ok_or_else(|| {
                bad(
                    "JOB_COMPLETION_INDEX",
                    index,
                    format!("not below STANDPOINT_SHARD_COUNT={count}"),
                )
            });
        }
        Ok(None)
    }

    pub fn takes(&self, ordinal: u64) -> bool {
        ordinal % self.count as u64 == self.index as u64
    }

    pub fn dir_name(&self) -> String {
        format!("shard-{}-of-{}", self.index, self.count)
    }
}

impl std::fmt::Display for ShardSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// Everything that decides a run's outputs. A resume must match it; shards merged together
/// must match it, but for the shard index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunSettings {
    pub format: u32,
    pub version: String,
    /// The stance targets, in order; each has its own streams and aggregate.
    pub targets: Vec<String>,
    pub model: String,
    pub shard: ShardSpec,
    pub skip_bad: bool,
    pub max_doc_bytes: usize,
    pub chunk_statements: usize,
    pub batch_size: usize,
    pub max_batch_tokens: usize,
    /// Hash of the actor table and lexicon in use.
    pub data: String,
    /// Hash of the input files' names, sizes and modification times (`None` for stdin).
    pub inputs: Option<String>,
    /// Per target, the line that says how far to trust the model's labels on it.
    #[serde(default)]
    pub trust: Vec<String>,
}

impl RunSettings {
    /// The fields that differ from `other`, named, for an error message.
    pub fn differences(&self, other: &RunSettings, ignore_shard: bool) -> Vec<String> {
        let mut d = Vec::new();
        let mut cmp = |name: &str, a: String, b: String| {
            if a != b {
                d.push(format!("{name}: {a} vs {b}"));
            }
        };
        cmp("format", self.format.to_string(), other.format.to_string());
        cmp("version", self.version.clone(), other.version.clone());
        cmp(
            "target",
            self.targets.join(" | "),
            other.targets.join(" | "),
        );
        cmp("model", self.model.clone(), other.model.clone());
        if ignore_shard {
            cmp(
                "shard count",
                self.shard.count.to_string(),
                other.shard.count.to_string(),
            );
        } else {
            cmp("shard", self.shard.to_string(), other.shard.to_string());
        }
        cmp(
            "--skip-bad",
            self.skip_bad.to_string(),
            other.skip_bad.to_string(),
        );
        cmp(
            "--max-doc-bytes",
            self.max_doc_bytes.to_string(),
            other.max_doc_bytes.to_string(),
        );
        cmp(
            "--chunk-statements",
            self.chunk_statements.to_string(),
            other.chunk_statements.to_string(),
        );
        cmp(
            "--batch-size",
            self.batch_size.to_string(),
            other.batch_size.to_string(),
        );
        cmp(
            "--max-batch-tokens",
            self.max_batch_tokens.to_string(),
            other.max_batch_tokens.to_string(),
        );
        cmp(
            "actor table and lexicon",
            self.data.clone(),
            other.data.clone(),
        );
        if !ignore_shard {
            // Shards may read the same content from other paths (on other machines); the
            // merge compares what they read instead (the content hash in `ShardMeta::input`).
            cmp(
                "input files (names, sizes, times)",
                format!("{:?}", self.inputs),
                format!("{:?}", other.inputs),
            );
        }
        d
    }
}

/// `shard.json`: written last, when a shard is complete.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardMeta {
    pub settings: RunSettings,
    /// What the reader saw: the whole input (every shard reads all of it).
    pub input: CorpusStats,
    /// This shard's documents and statements, per target.
    pub totals: Vec<Totals>,
    pub seconds: f64,
    pub model_seconds: f64,
}

/// `checkpoint.json`: the state after the last complete chunk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub settings: RunSettings,
    /// Documents before this position in the input are done (or another shard's).
    pub next_ordinal: u64,
    /// Per target: the stream lengths that hold exactly those documents, and the aggregate.
    pub streams: Vec<StreamState>,
    pub seconds: f64,
    pub model_seconds: f64,
}

/// One target's place in a checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamState {
    /// Lengths of `statements.jsonl` and `documents.jsonl`.
    pub statements_bytes: u64,
    pub documents_bytes: u64,
    pub partial: Partial,
}

/// The directory of target `t` of `n` inside a run or shard directory: the directory itself
/// for a single target, else `target-T` (named by position, never by the target's text).
pub fn target_dir(dir: &Path, t: usize, n: usize) -> PathBuf {
    if n <= 1 {
        dir.to_path_buf()
    } else {
        dir.join(format!("target-{t}"))
    }
}

/// The files of a shard directory (or of one target's directory in it).
#[derive(Debug, Clone)]
pub struct ShardFiles {
    pub dir: PathBuf,
}

impl ShardFiles {
    pub fn new(dir: &Path) -> ShardFiles {
        ShardFiles {
            dir: dir.to_path_buf(),
        }
    }
    /// Target `t` of `n`: where its streams and aggregate are.
    pub fn target(&self, t: usize, n: usize) -> ShardFiles {
        ShardFiles::new(&target_dir(&self.dir, t, n))
    }
    pub fn statements(&self) -> PathBuf {
        self.dir.join("statements.jsonl")
    }
    pub fn documents(&self) -> PathBuf {
        self.dir.join("documents.jsonl")
    }
    pub fn aggregate(&self) -> PathBuf {
        self.dir.join("aggregate.json")
    }
    pub fn meta(&self) -> PathBuf {
        self.dir.join("shard.json")
    }
    pub fn checkpoint(&self) -> PathBuf {
        self.dir.join("checkpoint.json")
    }
}

/// FNV-1a, 64 bits: a stable hash for fingerprints (not for security).
pub fn fnv1a(bytes: &[u8], mut h: u64) -> u64 {
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

pub const FNV_START: u64 = 0xcbf2_9ce4_8422_2325;

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn parse_and_take() {
        let s = ShardSpec::parse("2/4").unwrap();
        assert_eq!((s.index, s.count), (2, 4));
        assert!(s.takes(2) && s.takes(6) && !s.takes(3));
        assert_eq!(s.dir_name(), "shard-2-of-4");
        for bad in ["4/4", "1", "a/2", "0/0", "-1/3", ""] {
            assert!(ShardSpec::parse(bad).is_err(), "{bad}");
        }
        // Every ordinal belongs to exactly one shard.
        for o in 0..50u64 {
            let n = (0..3)
                .filter(|&i| ShardSpec::new(i, 3).unwrap().takes(o))
                .count();
            assert_eq!(n, 1);
        }
    }

    #[test]
    fn shard_from_slurm_and_kubernetes_environments() {
        assert_eq!(ShardSpec::from_env(env(&[])).unwrap(), None);
        let s = ShardSpec::from_env(env(&[
            ("SLURM_ARRAY_TASK_ID", "3"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ]))
        .unwrap();
        assert_eq!(s, ShardSpec::new(3, 4));
        // An array submitted as --array=1-4.
        let s = ShardSpec::from_env(env(&[
            ("SLURM_ARRAY_TASK_ID", "1"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ]))
        .unwrap();
        assert_eq!(s, ShardSpec::new(0, 4));
        let e = ShardSpec::from_env(env(&[("SLURM_ARRAY_TASK_ID", "1")])).unwrap_err();
        assert!(e.to_string().contains("SLURM_ARRAY_TASK_COUNT"), "{e}");
        let e = ShardSpec::from_env(env(&[
            ("SLURM_ARRAY_TASK_ID", "9"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ]))
        .unwrap_err();
        assert!(e.to_string().contains("--array=0-3"), "{e}");
        let s = ShardSpec::from_env(env(&[
            ("JOB_COMPLETION_INDEX", "0"),
            ("STANDPOINT_SHARD_COUNT", "2"),
        ]))
        .unwrap();
        assert_eq!(s, ShardSpec::new(0, 2));
        let e = ShardSpec::from_env(env(&[("JOB_COMPLETION_INDEX", "0")])).unwrap_err();
        assert!(e.to_string().contains("STANDPOINT_SHARD_COUNT"), "{e}");
        let e = ShardSpec::from_env(env(&[("JOB_COMPLETION_INDEX", "x")])).unwrap_err();
        assert!(e.to_string().contains("whole number"), "{e}");
    }
}
