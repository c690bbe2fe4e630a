//! Model file resolution: a local directory, or a Hugging Face hub repository through the
//! standard cache (`hf-hub`, blocking `ureq` client).
//!
//! * A `model` that names an existing directory is used as is: the files must be in it.
//! * Anything else is a hub repo id (`org/name`). Offline (the `offline` argument, or
//!   `HF_HUB_OFFLINE=1`/`true`), only the local cache is read and the network is never touched.
//!   Online, the cache is tried first and missing files are downloaded into it.
//!
//! The cache is the one Python's `huggingface_hub` uses: `$HF_HUB_CACHE`, else `$HF_HOME/hub`,
//! else `~/.cache/huggingface/hub`, laid out as `models--org--name/{refs,snapshots,blobs}`.

use super::ModelError;
use hf_hub::api::sync::{Api, ApiBuilder, ApiError};
use hf_hub::{Cache, Repo, RepoType};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

/// The files a transformer checkpoint needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelFiles {
    /// Where the files came from: `"repo@revision"` for the hub, the directory path otherwise.
    pub source: String,
    /// `config.json`.
    pub config: PathBuf,
    /// `model.safetensors`.
    pub weights: PathBuf,
    /// `tokenizer.json`.
    pub tokenizer: PathBuf,
}

/// File names of a checkpoint.
pub const CONFIG_FILE: &str = "config.json";
pub const WEIGHTS_FILE: &str = "model.safetensors";
pub const TOKENIZER_FILE: &str = "tokenizer.json";
const PYTORCH_WEIGHTS: &str = "pytorch_model.bin";
const SHARDED_INDEX: &str = "model.safetensors.index.json";
const DEFAULT_REVISION: &str = "main";

/// Resolves `config.json`, `model.safetensors` and `tokenizer.json` of `model` (a local directory
/// or a hub repo id) at `revision` (default `main`; ignored for a directory).
pub fn resolve(
    model: &str,
    revision: Option<&str>,
    offline: bool,
) -> Result<ModelFiles, ModelError> {
    resolve_in(model, revision, offline || env_offline(), &default_cache())
}

/// Resolves the named files of `model` (a local directory or a hub repo id), in the order given.
/// The general primitive behind [`resolve`].
pub fn resolve_files(
    model: &str,
    revision: Option<&str>,
    offline: bool,
    names: &[&str],
) -> Result<Vec<PathBuf>, ModelError> {
    let source = Source::new(model, revision, offline || env_offline(), default_cache())?;
    names.iter().map(|n| source.get(n)).collect()
}

/// Whether `HF_HUB_OFFLINE` asks for offline mode (`1`, `true`, `yes`, `on`, any case).
pub fn env_offline() -> bool {
    std::env::var("HF_HUB_OFFLINE")
        .map(|v| {
            matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "1" | "true" | "yes" | "on"
            )
        })
        .unwrap_or(false)
}

/// The standard hub cache: `$HF_HUB_CACHE`, else [`Cache::from_env`] (`$HF_HOME/hub`, else
/// `~/.cache/huggingface/hub`).
pub fn default_cache() -> Cache {
    match std::env::var("HF_HUB_CACHE") {
        Ok(p) if !p.trim().is_empty() => Cache::new(PathBuf::from(p)),
        _ => Cache::from_env(),
    }
}

/// [`resolve`] against a given cache, with the offline decision already made (no environment
/// lookups: this is what the tests call).
pub(crate) fn resolve_in(
    model: &str,
    revision: Option<&str>,
    offline: bool,
    cache: &Cache,
) -> Result<ModelFiles, ModelError> {
    let source = Source::new(model, revision, offline, cache.clone())?;
    let config = source.get(CONFIG_FILE)?;
    let tokenizer = source.get(TOKENIZER_FILE)?;
    let weights = match source.get(WEIGHTS_FILE) {
        Ok(p) => p,
        Err(e) => return Err(source.weights_error(e)),
    };
    Ok(ModelFiles {
        source: source.describe(),
        config,
        weights,
        tokenizer,
    })
}

/// [`resolve_files`] against a given cache, with the offline decision already made.
#[cfg(test)]
pub(crate) fn resolve_files_in(
    model: &str,
    revision: Option<&str>,
    offline: bool,
    names: &[&str],
    cache: &Cache,
) -> Result<Vec<PathBuf>, ModelError> {
    let source = Source::new(model, revision, offline, cache.clone())?;
    names.iter().map(|n| source.get(n)).collect()
}

// One short-lived value per resolve call: its size does not matter.
#[allow(clippy::large_enum_variant)]
enum Source {
    Local(PathBuf),
    Hub {
        repo_id: String,
        revision: String,
        cache: Cache,
        /// Whether the network may be used (files missing from the cache are downloaded).
        online: bool,
        /// Built lazily, only when a file is missing from the cache.
        api: std::cell::OnceCell<Api>,
    },
}

fn looks_like_path(model: &str) -> bool {
    model.starts_with('.')
        || model.starts_with('/')
        || model.starts_with('~')
        || model.contains('\\')
        || model.matches('/').count() > 1
        || Path::new(model).is_absolute()
}

impl Source {
    fn new(
        model: &str,
        revision: Option<&str>,
        offline: bool,
        cache: Cache,
    ) -> Result<Source, ModelError> {
        let model = model.trim();
        if model.is_empty() {
            return Err(ModelError::Hub(
                "empty model name: give a hub repo id (org/name) or a local directory".into(),
            ));
        }
        let path = Path::new(model);
        if path.is_dir() {
            return Ok(Source::Local(path.to_path_buf()));
        }
        if path.exists() {
            return Err(ModelError::File {
                path: path.to_path_buf(),
                message: "is a file; a model is a directory holding config.json, model.safetensors and tokenizer.json, or a hub repo id".into(),
            });
        }
        if looks_like_path(model) {
            return Err(ModelError::File {
                path: path.to_path_buf(),
                message: "no such directory (and not a hub repo id of the form org/name)".into(),
            });
        }
        let revision = revision
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .unwrap_or(DEFAULT_REVISION)
            .to_string();
        Ok(Source::Hub {
            repo_id: model.to_string(),
            revision,
            cache,
            online: !offline,
            api: std::cell::OnceCell::new(),
        })
    }

    fn describe(&self) -> String {
        match self {
            Source::Local(dir) => dir.display().to_string(),
            Source::Hub {
                repo_id, revision, ..
            } => format!("{repo_id}@{revision}"),
        }
    }

    /// The file from the cache only (`None` when absent). Handles a revision that is a commit
    /// hash (no `refs/` entry, only `snapshots/<hash>/`).
    fn cached(&self, name: &str) -> Option<PathBuf> {
        let Source::Hub {
            repo_id,
            revision,
            cache,
            ..
        } = self
        else {
            return None;
        };
        let repo = Repo::with_revision(repo_id.clone(), RepoType::Model, revision.clone());
        if let Some(p) = cache.repo(repo.clone()).get(name) {
            return Some(p);
        }
        if revision.len() == 40 && revision.chars().all(|c| c.is_ascii_hexdigit()) {
            let p = cache
                .path()
                .join(repo.folder_name())
                .join("snapshots")
                .join(revision)
                .join(name);
            if p.is_file() {
                return Some(p);
            }
        }
        None
    }

    fn api(&self) -> Result<&Api, ModelError> {
        let Source::Hub { cache, api, .. } = self else {
            unreachable!("api() on a local source")
        };
        if let Some(a) = api.get() {
            return Ok(a);
        }
        let mut builder =
            ApiBuilder::from_cache(cache.clone()).with_progress(std::io::stderr().is_terminal());
        if let Ok(endpoint) = std::env::var("HF_ENDPOINT") {
            if !endpoint.trim().is_empty() {
                builder = builder.with_endpoint(endpoint.trim().trim_end_matches('/').to_string());
            }
        }
        let built = builder
            .build()
            .map_err(|e| ModelError::Hub(format!("cannot set up the hub client: {e}")))?;
        Ok(api.get_or_init(|| built))
    }

    fn get(&self, name: &str) -> Result<PathBuf, ModelError> {
        match self {
            Source::Local(dir) => {
                let p = dir.join(name);
                if p.is_file() {
                    Ok(p)
                } else {
                    Err(ModelError::File {
                        path: p,
                        message: format!(
                            "missing from the model directory {}: put the checkpoint's {name} there \
                             (e.g. `huggingface-cli download ORG/NAME --local-dir {}`), or give a hub repo id instead",
                            dir.display(),
                            dir.display()
                        ),
                    })
                }
            }
            Source::Hub {
                repo_id,
                revision,
                online,
                ..
            } => {
                if let Some(p) = self.cached(name) {
                    return Ok(p);
                }
                if !*online {
                    let cache_dir = match self {
                        Source::Hub { cache, .. } => cache.path().display().to_string(),
                        _ => String::new(),
                    };
                    return Err(ModelError::Hub(format!(
                        "{name} of {repo_id}@{revision} is not in the hub cache ({cache_dir}) and offline mode \
                         is on (--offline or HF_HUB_OFFLINE): fetch it once on a connected machine, e.g. \
                         `huggingface-cli download {repo_id} --revision {revision}` (or run once without \
                         offline mode), then copy that cache here (HF_HOME / HF_HUB_CACHE) or pass a local directory"
                    )));
                }
                let repo = Repo::with_revision(repo_id.clone(), RepoType::Model, revision.clone());
                self.api()?.repo(repo).get(name).map_err(|e| {
                    ModelError::Hub(format!(
                        "cannot fetch {name} of {repo_id}@{revision}: {}",
                        describe_api_error(&e)
                    ))
                })
            }
        }
    }

    /// Whether the repo/directory has `name`, as far as can be told without downloading it.
    fn has(&self, name: &str) -> bool {
        match self {
            Source::Local(dir) => dir.join(name).is_file(),
            Source::Hub {
                repo_id,
                revision,
                online,
                ..
            } => {
                if self.cached(name).is_some() {
                    return true;
                }
                if !*online {
                    return false;
                }
                let Ok(api) = self.api() else { return false };
                let repo = Repo::with_revision(repo_id.clone(), RepoType::Model, revision.clone());
                api.repo(repo)
                    .info()
                    .map(|info| info.siblings.iter().any(|s| s.rfilename == name))
                    .unwrap_or(false)
            }
        }
    }

    /// Turns a failure to get `model.safetensors` into a clearer error when the checkpoint has
    /// only PyTorch pickles or sharded safetensors.
    fn weights_error(&self, err: ModelError) -> ModelError {
        let what = self.describe();
        if self.has(PYTORCH_WEIGHTS) {
            return ModelError::Config {
                model: what,
                message: format!(
                    "has only {PYTORCH_WEIGHTS}; standpoint requires {WEIGHTS_FILE} (safetensors). Pick a \
                     revision or a copy of the model that has it, or convert it once in Python: \
                     `AutoModelForSequenceClassification.from_pretrained(...).save_pretrained(dir, safe_serialization=True)` \
                     and pass that directory"
                ),
            };
        }
        if self.has(SHARDED_INDEX) {
            return ModelError::Config {
                model: what,
                message: format!(
                    "has sharded weights ({SHARDED_INDEX}); standpoint needs a single {WEIGHTS_FILE}: \
                     re-save it with `save_pretrained(dir, max_shard_size=\"100GB\")` and pass that directory"
                ),
            };
        }
        err
    }
}

fn describe_api_error(e: &ApiError) -> String {
    let s = e.to_string();
    if s.contains("404") {
        format!("{s} (no such file, repo or revision; a private or gated repo needs HF_TOKEN or `huggingface-cli login`)")
    } else if s.contains("401") || s.contains("403") {
        format!("{s} (access denied: a private or gated repo needs HF_TOKEN or `huggingface-cli login`)")
    } else {
        format!("{s} (no network? use a local directory, or fetch the model into the hub cache and use offline mode)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    const HASH: &str = "0123456789abcdef0123456789abcdef01234567";

    fn write(p: &Path, s: &str) {
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, s).unwrap();
    }

    /// A fake hub cache: `models--org--name/refs/main` holding a hash, the files in
    /// `snapshots/<hash>/`.
    fn fake_cache(root: &Path, files: &[&str]) -> Cache {
        let repo = root.join("models--org--tiny-nli");
        write(&repo.join("refs").join("main"), HASH);
        for f in files {
            write(&repo.join("snapshots").join(HASH).join(f), "{}");
        }
        Cache::new(root.to_path_buf())
    }

    #[test]
    fn local_directory() {
        let dir = tempfile::tempdir().unwrap();
        for f in [CONFIG_FILE, WEIGHTS_FILE, TOKENIZER_FILE] {
            write(&dir.path().join(f), "{}");
        }
        let unused = Cache::new(dir.path().join("no-cache"));
        let m = dir.path().to_str().unwrap();
        let files = resolve_in(m, None, false, &unused).unwrap();
        assert_eq!(files.source, dir.path().display().to_string());
        assert_eq!(files.config, dir.path().join(CONFIG_FILE));
        assert_eq!(files.weights, dir.path().join(WEIGHTS_FILE));
        assert_eq!(files.tokenizer, dir.path().join(TOKENIZER_FILE));
        // The public entry point takes the same path (no cache or network involved).
        assert_eq!(resolve(m, None, true).unwrap(), files);
        let v = resolve_files_in(m, None, true, &[TOKENIZER_FILE, CONFIG_FILE], &unused).unwrap();
        assert_eq!(
            v,
            vec![
                dir.path().join(TOKENIZER_FILE),
                dir.path().join(CONFIG_FILE)
            ]
        );
    }

    #[test]
    fn local_directory_missing_file() {
        let dir = tempfile::tempdir().unwrap();
        write(&dir.path().join(CONFIG_FILE), "{}");
        write(&dir.path().join(WEIGHTS_FILE), "{}");
        let cache = Cache::new(dir.path().join("no-cache"));
        let err = resolve_in(dir.path().to_str().unwrap(), None, true, &cache)
            .unwrap_err()
            .to_string();
        assert!(err.contains(TOKENIZER_FILE), "{err}");
        assert!(err.contains("missing"), "{err}");
    }

    #[test]
    fn local_directory_pytorch_only() {
        let dir = tempfile::tempdir().unwrap();
        for f in [CONFIG_FILE, TOKENIZER_FILE, PYTORCH_WEIGHTS] {
            write(&dir.path().join(f), "{}");
        }
        let cache = Cache::new(dir.path().join("no-cache"));
        let err = resolve_in(dir.path().to_str().unwrap(), None, true, &cache)
            .unwrap_err()
            .to_string();
        assert!(err.contains("safetensors"), "{err}");
        assert!(err.contains(PYTORCH_WEIGHTS), "{err}");
    }

    #[test]
    fn missing_path_is_not_a_repo_id() {
        let cache = Cache::new(PathBuf::from("/nonexistent-cache"));
        let err = resolve_in("./no/such/dir", None, false, &cache)
            .unwrap_err()
            .to_string();
        assert!(err.contains("no such directory"), "{err}");
    }

    #[test]
    fn offline_cache() {
        let root = tempfile::tempdir().unwrap();
        let cache = fake_cache(root.path(), &[CONFIG_FILE, WEIGHTS_FILE, TOKENIZER_FILE]);
        let files = resolve_in("org/tiny-nli", None, true, &cache).unwrap();
        let snap = root
            .path()
            .join("models--org--tiny-nli")
            .join("snapshots")
            .join(HASH);
        assert_eq!(files.source, "org/tiny-nli@main");
        assert_eq!(files.config, snap.join(CONFIG_FILE));
        assert_eq!(files.weights, snap.join(WEIGHTS_FILE));
        assert_eq!(files.tokenizer, snap.join(TOKENIZER_FILE));

        // A commit hash as revision: no refs entry, straight to the snapshot.
        let files = resolve_in("org/tiny-nli", Some(HASH), true, &cache).unwrap();
        assert_eq!(files.source, format!("org/tiny-nli@{HASH}"));
        assert_eq!(files.config, snap.join(CONFIG_FILE));

        let v = resolve_files_in("org/tiny-nli", None, true, &[TOKENIZER_FILE], &cache).unwrap();
        assert_eq!(v, vec![snap.join(TOKENIZER_FILE)]);
    }

    #[test]
    fn offline_cache_miss() {
        let root = tempfile::tempdir().unwrap();
        let cache = fake_cache(root.path(), &[CONFIG_FILE, TOKENIZER_FILE]);
        // A file missing from the snapshot.
        let err = resolve_in("org/tiny-nli", None, true, &cache)
            .unwrap_err()
            .to_string();
        assert!(err.contains(WEIGHTS_FILE), "{err}");
        assert!(err.contains("offline"), "{err}");
        assert!(
            err.contains("huggingface-cli download org/tiny-nli"),
            "{err}"
        );
        // A revision that is not cached.
        let err = resolve_in("org/tiny-nli", Some("v2"), true, &cache)
            .unwrap_err()
            .to_string();
        assert!(err.contains("org/tiny-nli@v2"), "{err}");
        // A repo that is not cached at all.
        let err = resolve_files_in("org/other", None, true, &[CONFIG_FILE], &cache)
            .unwrap_err()
            .to_string();
        assert!(err.contains("config.json of org/other@main"), "{err}");
    }

    #[test]
    fn offline_cache_pytorch_only() {
        let root = tempfile::tempdir().unwrap();
        let cache = fake_cache(root.path(), &[CONFIG_FILE, TOKENIZER_FILE, PYTORCH_WEIGHTS]);
        let err = resolve_in("org/tiny-nli", None, true, &cache)
            .unwrap_err()
            .to_string();
        assert!(err.contains("requires model.safetensors"), "{err}");
    }

    #[test]
    fn online_uses_the_cache_first() {
        // Every file is cached: online mode must not need the network.
        let root = tempfile::tempdir().unwrap();
        let cache = fake_cache(root.path(), &[CONFIG_FILE, WEIGHTS_FILE, TOKENIZER_FILE]);
        let files = resolve_in("org/tiny-nli", None, false, &cache).unwrap();
        assert_eq!(files.source, "org/tiny-nli@main");
        assert!(files.weights.ends_with(WEIGHTS_FILE));
    }
}
