//! The word lists and the actor table that the attribution and actor stages read.
//!
//! Both are data (`models/lexicon.toml`, `models/actors.toml`), built into the binary and
//! replaceable by the user's own copies; no name or phrase is special-cased in code.

use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

pub const BUILTIN_LEXICON: &str = include_str!("../models/lexicon.toml");
pub const BUILTIN_ACTORS: &str = include_str!("../models/actors.toml");

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{path}: cannot read: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: invalid TOML: {message}")]
    Toml { path: PathBuf, message: String },
    #[error("{path}: actor \"{name}\": {message}")]
    Actor {
        path: PathBuf,
        name: String,
        message: String,
    },
}

#[derive(Debug, Deserialize)]
struct LexiconFile {
    cues: Vec<String>,
    /// Optional, so that older lexicon copies still load.
    #[serde(default)]
    quote_cues: Vec<String>,
    inverted: Vec<String>,
    participles: Vec<String>,
    between: Vec<String>,
    statement_nouns: Vec<String>,
    /// Optional, so that older lexicon copies still load.
    #[serde(default)]
    speech_nouns: Vec<String>,
    narrator_openers: Vec<String>,
    titles: Vec<String>,
    demonyms: Vec<String>,
    stopwords: Vec<String>,
    organisation_words: Vec<String>,
    pronouns: Vec<String>,
    #[serde(default)]
    groups: Vec<String>,
}

/// The attribution word lists, lower-cased. Multi-word cues are split into words.
#[derive(Debug, Clone)]
pub struct Lexicon {
    pub cues: Vec<Vec<String>>,
    /// Verbs that report speech only next to a quotation ("quipped", "shot back").
    pub quote_cues: Vec<Vec<String>>,
    pub inverted: HashSet<String>,
    pub participles: HashSet<String>,
    pub between: HashSet<String>,
    pub statement_nouns: HashSet<String>,
    /// Nouns for what a person said that lead a quotation after a possessive ("Clinton’s
    /// response was: “…”").
    pub speech_nouns: HashSet<String>,
    pub narrator_openers: Vec<Vec<String>>,
    pub titles: HashSet<String>,
    pub demonyms: HashSet<String>,
    pub stopwords: HashSet<String>,
    pub organisation_words: HashSet<String>,
    pub pronouns: HashSet<String>,
    /// Words for groups or unnamed people ("officials", "critics").
    pub groups: HashSet<String>,
}

fn words(s: &str) -> Vec<String> {
    s.split_whitespace().map(|w| w.to_lowercase()).collect()
}

fn set(v: Vec<String>) -> HashSet<String> {
    v.into_iter().map(|s| s.to_lowercase()).collect()
}

impl Lexicon {
    pub fn builtin() -> Lexicon {
        Lexicon::parse(BUILTIN_LEXICON, Path::new("models/lexicon.toml"))
            .expect("the built-in lexicon is valid (checked by a test)")
    }

    pub fn load(path: &Path) -> Result<Lexicon, DataError> {
        let text = std::fs::read_to_string(path).map_err(|e| DataError::Io {
            path: path.to_path_buf(),
            source: e,
        })?;
        Lexicon::parse(&text, path)
    }

    pub fn parse(text: &str, path: &Path) -> Result<Lexicon, DataError> {
        let f: LexiconFile = toml::from_str(text).map_err(|e| DataError::Toml {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let mut cues: Vec<Vec<String>> = f.cues.iter().map(|c| words(c)).collect();
        // Longest cues first, so "calling for" wins over a shorter match.
        cues.sort_by_key(|c| std::cmp::Reverse(c.len()));
        let mut quote_cues: Vec<Vec<String>> = f.quote_cues.iter().map(|c| words(c)).collect();
        quote_cues.sort_by_key(|c| std::cmp::Reverse(c.len()));
        Ok(Lexicon {
            cues,
            quote_cues,
            inverted: set(f.inverted),
            participles: f.participles.iter().map(|p| words(p)[0].clone()).collect(),
            between: set(f.between),
            statement_nouns: set(f.statement_nouns),
            speech_nouns: set(f.speech_nouns),
            narrator_openers: f.narrator_openers.iter().map(|c| words(c)).collect(),
            titles: set(f.titles),
            demonyms: set(f.demonyms),
            stopwords: set(f.stopwords),
            organisation_words: set(f.organisation_words),
            pronouns: set(f.pronouns),
            groups: set(f.groups),
        })
    }
}

/// What kind of actor a speaker is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum ActorKind {
    Person,
    Organisation,
    State,
}

impl ActorKind {
    /// The name used in the outputs (as serialised).
    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::Person => "person",
            ActorKind::Organisation => "organisation",
            ActorKind::State => "state",
        }
    }
}

#[derive(Debug, Deserialize)]
struct ActorsFile {
    #[serde(default)]
    actor: Vec<ActorEntry>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ActorEntry {
    pub name: String,
    pub kind: ActorKind,
    #[serde(default)]
    pub aliases: Vec<String>,
}

/// The actor table: alias (lower-cased, leading "the " dropped) → canonical entry.
#[derive(Debug, Clone, Default)]
pub struct ActorTable {
    pub entries: Vec<ActorEntry>,
    by_alias: HashMap<String, usize>,
    /// Longest alias in words, to bound look-ups.
    pub max_words: usize,
}

/// Normalises a name for look-up: lower case, single spaces, no leading "the", no periods.
pub fn alias_key(s: &str) -> String {
    let lower = s.to_lowercase().replace(['.', '’', '\''], "");
    let ws: Vec<&str> = lower.split_whitespace().collect();
    let ws = if ws.first() == Some(&"the") && ws.len() > 1 {
        &ws[1..]
    } else {
        &ws[..]
    };
    ws.join(" ")
}

impl ActorTable {
    pub fn builtin() -> ActorTable {
        ActorTable::parse(BUILTIN_ACTORS, Path::new("models/actors.toml"))
            .expect("the built-in actor table is valid (checked by a test)")
    }

    pub fn load(path: &Path) -> Result<ActorTable, DataError> {
        let text = std::fs::read_to_string(path).map_err(|e| DataError::Io {
            path: path.to_path_buf(),
            source: e,
        })?;
        ActorTable::parse(&text, path)
    }

    pub fn parse(text: &str, path: &Path) -> Result<ActorTable, DataError> {
        let f: ActorsFile = toml::from_str(text).map_err(|e| DataError::Toml {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let mut t = ActorTable::default();
        for (i, e) in f.actor.iter().enumerate() {
            for a in std::iter::once(&e.name).chain(e.aliases.iter()) {
                let k = alias_key(a);
                if k.is_empty() {
                    return Err(DataError::Actor {
                        path: path.to_path_buf(),
                        name: e.name.clone(),
                        message: "empty alias".into(),
                    });
                }
                if let Some(&j) = t.by_alias.get(&k) {
                    if j != i {
                        return Err(DataError::Actor {
                            path: path.to_path_buf(),
                            name: e.name.clone(),
                            message: format!(
                                "alias \"{a}\" is already an alias of \"{}\"; an alias may name one actor only",
                                f.actor[j].name
                            ),
                        });
                    }
                }
                t.max_words = t.max_words.max(k.split(' ').count());
                t.by_alias.insert(k, i);
            }
        }
        t.entries = f.actor;
        Ok(t)
    }

    /// The actor an alias names, if any.
    pub fn lookup(&self, name: &str) -> Option<&ActorEntry> {
        self.by_alias
            .get(&alias_key(name))
            .map(|&i| &self.entries[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_data_parses() {
        let l = Lexicon::builtin();
        assert!(l.cues.iter().any(|c| c == &["pointed", "out"]));
        assert!(l.titles.contains("minister"));
        let a = ActorTable::builtin();
        assert_eq!(a.lookup("Moscow").unwrap().name, "Russia");
        assert_eq!(a.lookup("the Kremlin").unwrap().name, "Russia");
        assert_eq!(a.lookup("U.S.").unwrap().name, "United States");
        assert!(a.lookup("Lavrov").is_none());
    }

    #[test]
    fn an_alias_may_not_name_two_actors() {
        let t = "[[actor]]\nname = \"A\"\nkind = \"state\"\naliases = [\"X\"]\n[[actor]]\nname = \"B\"\nkind = \"state\"\naliases = [\"x\"]\n";
        let e = ActorTable::parse(t, Path::new("a.toml")).unwrap_err();
        assert!(e.to_string().contains("already an alias of \"A\""), "{e}");
    }

    #[test]
    fn bad_toml_names_the_file() {
        let e = ActorTable::parse("[[actor]\nname=", Path::new("mine.toml")).unwrap_err();
        assert!(e.to_string().starts_with("mine.toml: invalid TOML"), "{e}");
    }
}
