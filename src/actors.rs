//! Stage 3b: actor resolution.
//!
//! Speakers named in different ways are merged into one actor, first within a document and then
//! across the corpus: a surname alone ("Lucas") joins the full name it belongs to, and spelling or
//! transliteration variants ("Lukass"/"Lucas", "Trennin"/"Trenin", "Sikorski"/"Sikorsky") join
//! when their transliteration keys agree or differ by one letter. Guards keep different people
//! apart: two full names merge only when their given names agree (same key, or one is an
//! initial), and across the corpus a surname alone joins a full name only when exactly one full
//! name fits. States and organisations are already canonical (see [`crate::lexicon::ActorTable`]).

use crate::lexicon::ActorKind;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// Folds a name part to a transliteration key: lower case, common diacritics removed, letters
/// that transliterations swap unified (c/k/q, w/v, y/i, ph/f, x/ks), doubled letters collapsed.
pub fn translit_key(word: &str) -> String {
    let lower: String = word
        .to_lowercase()
        .chars()
        .map(|c| match c {
            'á' | 'à' | 'â' | 'ä' | 'ã' | 'å' | 'ą' => 'a',
            'é' | 'è' | 'ê' | 'ë' | 'ę' | 'ě' => 'e',
            'í' | 'ì' | 'î' | 'ï' | 'ı' => 'i',
            'ó' | 'ò' | 'ô' | 'ö' | 'õ' | 'ø' => 'o',
            'ú' | 'ù' | 'û' | 'ü' | 'ů' => 'u',
            'ý' | 'ÿ' => 'y',
            'ç' | 'č' | 'ć' => 'c',
            'ñ' | 'ń' | 'ň' => 'n',
            'š' | 'ś' | 'ş' => 's',
            'ž' | 'ź' | 'ż' => 'z',
            'ł' => 'l',
            'ř' => 'r',
            'ğ' => 'g',
            'ď' => 'd',
            'ť' => 't',
            other => other,
        })
        .filter(|c| c.is_alphanumeric())
        .collect();
    let chars: Vec<char> = lower.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let mapped: &str = match (c, next) {
            ('p', Some('h')) => {
                i += 1;
                "f"
            }
            ('c', Some('k')) => {
                i += 1;
                "k"
            }
            ('c', Some('e' | 'i' | 'y')) => "s",
            ('c', _) | ('q', _) => "k",
            ('w', _) => "v",
            ('y', _) | ('j', _) => "i",
            ('x', _) => "ks",
            _ => {
                out.push(c);
                i += 1;
                continue;
            }
        };
        out.push_str(mapped);
        i += 1;
    }
    let mut collapsed = String::with_capacity(out.len());
    for c in out.chars() {
        if !collapsed.ends_with(c) {
            collapsed.push(c);
        }
    }
    collapsed
}

/// A person's name split into given names and surname.
#[derive(Debug, Clone)]
struct PersonName {
    given: Vec<String>,
    surname: String,
}

/// A generational suffix after a surname: "Jr", "Sr.", "III".
fn is_suffix(word: &str) -> bool {
    matches!(
        word.trim_end_matches('.').to_lowercase().as_str(),
        "jr" | "sr" | "ii" | "iii" | "iv"
    )
}

fn split_name(name: &str) -> PersonName {
    let mut parts: Vec<&str> = name.split_whitespace().collect();
    while parts.len() > 1 && parts.last().is_some_and(|w| is_suffix(w)) {
        parts.pop();
    }
    let (given, surname) = parts.split_at(parts.len().saturating_sub(1));
    PersonName {
        given: given.iter().map(|s| s.to_string()).collect(),
        surname: surname.first().map(|s| s.to_string()).unwrap_or_default(),
    }
}

/// Same surname up to transliteration, or one edit apart for surnames of seven letters or more.
pub fn similar_surname(a: &str, b: &str) -> bool {
    keys_similar(&translit_key(a), &translit_key(b))
}

/// [`similar_surname`] on transliteration keys.
fn keys_similar(ka: &str, kb: &str) -> bool {
    if ka == kb {
        return !ka.is_empty();
    }
    // One edit apart is allowed only for long surnames: "Lenin" and "Lennon" are two people.
    let long_enough = ka.chars().count() >= 7 && kb.chars().count() >= 7;
    long_enough
        && ka.chars().next() == kb.chars().next()
        && strsim::damerau_levenshtein(ka, kb) <= 1
}

/// Given names agree: either is absent, one is the other's initial, or their keys agree.
fn compatible_given(a: &[String], b: &[String]) -> bool {
    let (Some(x), Some(y)) = (a.first(), b.first()) else {
        return true;
    };
    let (kx, ky) = (translit_key(x), translit_key(y));
    if kx == ky {
        return true;
    }
    let initial = |s: &str| s.trim_end_matches('.').chars().count() == 1;
    if initial(x) || initial(y) {
        return kx.chars().next() == ky.chars().next();
    }
    kx.chars().count() >= 4
        && ky.chars().count() >= 4
        && kx.chars().next() == ky.chars().next()
        && strsim::damerau_levenshtein(&kx, &ky) <= 1
}

/// Whether two person names can be the same person.
pub fn same_person(a: &str, b: &str) -> bool {
    let (pa, pb) = (split_name(a), split_name(b));
    similar_surname(&pa.surname, &pb.surname) && compatible_given(&pa.given, &pb.given)
}

/// The full name a surname alone stands for, among the people a document names in full (`named`:
/// byte offset and name, in order; speakers or not): the latest one before `at` whose surname
/// fits, or else the only one after it. "Claire Dubois spoke about … “…,” Dubois added." gives
/// "Claire Dubois". `None` when no full name fits, or several do and none comes before.
pub fn complete_surname<'a>(
    surname: &str,
    at: usize,
    named: &'a [(usize, String)],
) -> Option<&'a str> {
    // (the surname is the last word that is not a generational suffix: "Lloyd J. Austin III")
    let fits = |n: &&(usize, String)| {
        n.1.split_whitespace()
            .rev()
            .find(|w| !is_suffix(w))
            .is_some_and(|last| similar_surname(last, surname))
    };
    if let Some((_, name)) = named.iter().filter(|n| n.0 < at).rfind(fits) {
        return Some(name);
    }
    let mut after = named.iter().filter(|n| n.0 >= at).filter(fits);
    let first = after.next()?;
    after.all(|n| n.1 == first.1).then_some(first.1.as_str())
}

/// The names an actor was mentioned by, with counts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NameVariants {
    pub kind: Option<ActorKind>,
    pub variants: BTreeMap<String, usize>,
}

impl NameVariants {
    fn full_names(&self) -> impl Iterator<Item = (&String, &usize)> {
        self.variants
            .iter()
            .filter(|(n, _)| n.split_whitespace().count() >= 2)
    }

    /// The canonical name: among full names, the one whose surname spelling is used most (then
    /// the most used full name, then the alphabetically first); a surname alone otherwise.
    pub fn canonical(&self) -> String {
        if self.kind != Some(ActorKind::Person) {
            return self
                .variants
                .iter()
                .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
                .map(|(n, _)| n.clone())
                .unwrap_or_default();
        }
        let mut surname_use: HashMap<String, usize> = HashMap::new();
        for (n, c) in &self.variants {
            *surname_use.entry(split_name(n).surname).or_default() += c;
        }
        let best_full = self.full_names().max_by(|a, b| {
            let sa = surname_use[&split_name(a.0).surname];
            let sb = surname_use[&split_name(b.0).surname];
            sa.cmp(&sb).then(a.1.cmp(b.1)).then(b.0.cmp(a.0))
        });
        if let Some((n, _)) = best_full {
            return n.clone();
        }
        self.variants
            .iter()
            .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
            .map(|(n, _)| n.clone())
            .unwrap_or_default()
    }

    fn add(&mut self, other: &NameVariants) {
        if self.kind.is_none() {
            self.kind = other.kind;
        }
        for (n, c) in &other.variants {
            *self.variants.entry(n.clone()).or_default() += c;
        }
    }
}

/// One name as it occurs, in reading order.
#[derive(Debug, Clone)]
pub struct NameUse<'a> {
    pub name: &'a str,
    pub kind: ActorKind,
}

fn new_cluster(
    clusters: &mut Vec<NameVariants>,
    full_of: &mut Vec<Vec<String>>,
    kind: ActorKind,
) -> usize {
    clusters.push(NameVariants {
        kind: Some(kind),
        variants: BTreeMap::new(),
    });
    full_of.push(Vec::new());
    clusters.len() - 1
}

/// Clusters the names of one document; returns for each input the index of its cluster, and
/// the clusters. A surname alone joins the most recent earlier full name it fits (or the only
/// later one).
pub fn resolve_document(uses: &[NameUse<'_>]) -> (Vec<usize>, Vec<NameVariants>) {
    let mut clusters: Vec<NameVariants> = Vec::new();
    let mut full_of: Vec<Vec<String>> = Vec::new(); // full names per cluster
    let mut assign = vec![usize::MAX; uses.len()];
    // Full names and non-persons first, in order.
    for (i, u) in uses.iter().enumerate() {
        let is_full = u.name.split_whitespace().count() >= 2;
        if u.kind == ActorKind::Person && !is_full {
            continue;
        }
        let found = (0..clusters.len()).find(|&c| {
            clusters[c].kind == Some(u.kind)
                && if u.kind == ActorKind::Person {
                    full_of[c].iter().any(|f| same_person(f, u.name))
                } else {
                    clusters[c].variants.contains_key(u.name)
                }
        });
        let c = found.unwrap_or_else(|| new_cluster(&mut clusters, &mut full_of, u.kind));
        *clusters[c].variants.entry(u.name.to_string()).or_default() += 1;
        if u.kind == ActorKind::Person {
            full_of[c].push(u.name.to_string());
        }
        assign[i] = c;
    }
    // Surnames alone.
    for (i, u) in uses.iter().enumerate() {
        if assign[i] != usize::MAX {
            continue;
        }
        let fits: Vec<usize> = (0..clusters.len())
            .filter(|&c| {
                clusters[c].kind == Some(ActorKind::Person)
                    && clusters[c].variants.keys().any(|f| {
                        let pf = split_name(f);
                        similar_surname(&pf.surname, u.name)
                    })
            })
            .collect();
        let recent_before = |c: usize| (0..i).rev().find(|&k| assign[k] == c).map(|k| i - k);
        let chosen = match fits.len() {
            0 => None,
            1 => Some(fits[0]),
            _ => fits
                .iter()
                .copied()
                .filter_map(|c| recent_before(c).map(|d| (d, c)))
                .min()
                .map(|(_, c)| c),
        };
        let c = chosen.unwrap_or_else(|| new_cluster(&mut clusters, &mut full_of, u.kind));
        *clusters[c].variants.entry(u.name.to_string()).or_default() += 1;
        assign[i] = c;
    }
    (assign, clusters)
}

/// Merges per-document actors across the corpus. Returns, for each input, the index of its
/// corpus actor, and the corpus actors.
///
/// The result depends only on the set of inputs and on the ratios of their counts, never on
/// their order: inputs are visited in a canonical order (non-persons and full-named people
/// first, then by how often they are named, then by their names). So a corpus and the same
/// corpus repeated, or split into shards whose tables are added up, resolve alike. Lookups go
/// through indexes by transliteration key, so the cost grows with the number of inputs, not
/// with its square.
pub fn resolve_corpus(docs: &[NameVariants]) -> (Vec<usize>, Vec<NameVariants>) {
    let has_full = |v: &NameVariants| v.full_names().next().is_some();
    let mentions = |v: &NameVariants| v.variants.values().sum::<usize>();
    let mut order: Vec<usize> = (0..docs.len()).collect();
    order.sort_by(|&a, &b| {
        let (x, y) = (&docs[a], &docs[b]);
        let surname_only = |v: &NameVariants| v.kind == Some(ActorKind::Person) && !has_full(v);
        surname_only(x)
            .cmp(&surname_only(y))
            .then(mentions(y).cmp(&mentions(x)))
            .then(x.kind.map(|k| k.as_str()).cmp(&y.kind.map(|k| k.as_str())))
            .then_with(|| x.variants.keys().cmp(y.variants.keys()))
    });
    let mut ix = CorpusIndex::default();
    let mut assign = vec![usize::MAX; docs.len()];
    for i in order {
        let d = &docs[i];
        let found = if d.kind != Some(ActorKind::Person) {
            ix.by_name.get(&(kind_str(d.kind), d.canonical())).copied()
        } else if has_full(d) {
            // Actors with a full name that can be the same person as one of this input's.
            let mut best: Option<usize> = None;
            for (g, _) in d.full_names() {
                for (a, f) in ix.full_candidates(&translit_key(&split_name(g).surname)) {
                    if same_person(&f, g) {
                        best = Some(best.map_or(a, |b| b.min(a)));
                    }
                }
            }
            best
        } else {
            let key = translit_key(&d.canonical());
            let mut full: Vec<usize> = ix
                .full_candidates(&key)
                .into_iter()
                .map(|(a, _)| a)
                .collect();
            full.sort_unstable();
            full.dedup();
            match full.len() {
                1 => Some(full[0]),
                // None, or ambiguous (several people share this surname): the one actor known
                // by this surname alone, so that a name never stands for two actors.
                _ => ix.surname_candidates(&key).into_iter().min(),
            }
        };
        let a = found.unwrap_or_else(|| ix.new_actor(d.kind));
        ix.add(a, d);
        assign[i] = a;
    }
    (assign, ix.actors)
}

fn kind_str(k: Option<ActorKind>) -> &'static str {
    k.map(|k| k.as_str()).unwrap_or("")
}

/// Surname keys one edit apart are looked up by first letter and length.
fn fuzzy_bucket(key: &str) -> Option<(char, usize)> {
    let n = key.chars().count();
    (n >= 7).then(|| (key.chars().next().unwrap_or(' '), n))
}

/// The corpus actors built so far, with indexes for [`resolve_corpus`].
#[derive(Default)]
struct CorpusIndex {
    actors: Vec<NameVariants>,
    /// Non-persons by kind and the canonical name they were created with.
    by_name: HashMap<(&'static str, String), usize>,
    /// People's full names by surname key: (actor, full name).
    full_by_key: HashMap<String, Vec<(usize, String)>>,
    /// Surname keys of full names, for one-edit lookups.
    full_fuzzy: HashMap<(char, usize), Vec<String>>,
    /// People known by a surname only (no full name yet), by key.
    surname_by_key: HashMap<String, Vec<usize>>,
    surname_fuzzy: HashMap<(char, usize), Vec<String>>,
}

impl CorpusIndex {
    fn new_actor(&mut self, kind: Option<ActorKind>) -> usize {
        self.actors.push(NameVariants {
            kind,
            variants: BTreeMap::new(),
        });
        self.actors.len() - 1
    }

    /// Keys equal to `key` or, for long keys, one edit away with the same first letter.
    fn similar_keys<'a>(
        exact: &'a HashMap<String, impl Sized>,
        fuzzy: &'a HashMap<(char, usize), Vec<String>>,
        key: &'a str,
    ) -> Vec<&'a str> {
        let mut out: Vec<&str> = Vec::new();
        if exact.contains_key(key) {
            out.push(key);
        }
        if let Some((c, n)) = fuzzy_bucket(key) {
            for m in n.saturating_sub(1)..=n + 1 {
                for k in fuzzy.get(&(c, m)).into_iter().flatten() {
                    if k != key && keys_similar(key, k) {
                        out.push(k);
                    }
                }
            }
        }
        out
    }

    fn full_candidates(&self, key: &str) -> Vec<(usize, String)> {
        Self::similar_keys(&self.full_by_key, &self.full_fuzzy, key)
            .into_iter()
            .flat_map(|k| self.full_by_key[k].iter().cloned())
            .collect()
    }

    fn surname_candidates(&self, key: &str) -> Vec<usize> {
        Self::similar_keys(&self.surname_by_key, &self.surname_fuzzy, key)
            .into_iter()
            .flat_map(|k| self.surname_by_key[k].iter().copied())
            .filter(|&a| self.actors[a].full_names().next().is_none())
            .collect()
    }

    fn add(&mut self, a: usize, d: &NameVariants) {
        let fresh = self.actors[a].variants.is_empty();
        let person = d.kind == Some(ActorKind::Person);
        if fresh && !person {
            self.by_name.insert((kind_str(d.kind), d.canonical()), a);
        }
        if person {
            for (n, _) in d.full_names() {
                if self.actors[a].variants.contains_key(n) {
                    continue;
                }
                let key = translit_key(&split_name(n).surname);
                let list = self.full_by_key.entry(key.clone()).or_default();
                if list.is_empty() {
                    if let Some(b) = fuzzy_bucket(&key) {
                        self.full_fuzzy.entry(b).or_default().push(key.clone());
                    }
                }
                list.push((a, n.clone()));
            }
            if fresh && d.full_names().next().is_none() {
                let key = translit_key(&d.canonical());
                let list = self.surname_by_key.entry(key.clone()).or_default();
                if list.is_empty() {
                    if let Some(b) = fuzzy_bucket(&key) {
                        self.surname_fuzzy.entry(b).or_default().push(key.clone());
                    }
                }
                list.push(a);
            }
        }
        self.actors[a].add(d);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(name: &str) -> NameUse<'_> {
        NameUse {
            name,
            kind: ActorKind::Person,
        }
    }

    #[test]
    fn transliteration_keys() {
        assert_eq!(translit_key("Lukass"), translit_key("Lucas"));
        assert_eq!(translit_key("Trennin"), translit_key("Trenin"));
        assert_eq!(translit_key("Sikorsky"), translit_key("Sikorski"));
        assert_eq!(translit_key("Dmitry"), translit_key("Dmitri"));
        assert_eq!(translit_key("Zelenskyy"), translit_key("Zelensky"));
        assert_ne!(translit_key("Lavrov"), translit_key("Peskov"));
    }

    #[test]
    fn variants_and_surnames_merge_within_a_document() {
        let uses = [
            p("Edward Lukass"),
            p("Lucas"),
            p("Edward Lucas"),
            p("Dmitry Trenin"),
            p("Trennin"),
            NameUse {
                name: "Russia",
                kind: ActorKind::State,
            },
        ];
        let (assign, clusters) = resolve_document(&uses);
        assert_eq!(assign[0], assign[1]);
        assert_eq!(assign[0], assign[2]);
        assert_eq!(assign[3], assign[4]);
        assert_ne!(assign[0], assign[3]);
        assert_eq!(clusters[assign[0]].canonical(), "Edward Lucas");
        assert_eq!(clusters[assign[3]].canonical(), "Dmitry Trenin");
        assert_eq!(clusters[assign[5]].canonical(), "Russia");
    }

    #[test]
    fn different_people_with_one_surname_stay_apart() {
        let uses = [p("Hillary Clinton"), p("Bill Clinton"), p("Clinton")];
        let (assign, clusters) = resolve_document(&uses);
        assert_ne!(assign[0], assign[1]);
        assert_eq!(
            assign[2], assign[1],
            "a surname alone goes to the latest full name"
        );
        assert_eq!(clusters.len(), 2);
        // Different surnames one edit apart but short are not merged.
        assert!(!same_person("Anna Berg", "Anna Borg"));
        assert!(!same_person("Sergei Lavrov", "Sergei Lavrova2"));
        // Regression: "Lenin" was merged into "Mark Lennon" across a corpus.
        assert!(!similar_surname("Lenin", "Lennon"));
        assert!(similar_surname("Podolyak", "Podoyak"));
        assert!(same_person("J. Smith", "John Smith"));
        assert!(!same_person("Jane Smith", "John Smith"));
    }

    #[test]
    fn corpus_merge_is_guarded() {
        let mk = |names: &[(&str, usize)]| NameVariants {
            kind: Some(ActorKind::Person),
            variants: names.iter().map(|(n, c)| (n.to_string(), *c)).collect(),
        };
        let docs = vec![
            mk(&[("Edward Lucas", 2)]),
            mk(&[("Lucas", 1)]),
            mk(&[("Edward Lukass", 1)]),
            mk(&[("Anna Smith", 1)]),
            mk(&[("John Smith", 1)]),
            mk(&[("Smith", 1)]),
            mk(&[("Smith", 1), ("Smyth", 1)]),
        ];
        let (assign, actors) = resolve_corpus(&docs);
        assert_eq!(assign[0], assign[1]);
        assert_eq!(assign[0], assign[2]);
        assert_eq!(actors[assign[0]].canonical(), "Edward Lucas");
        assert_ne!(assign[3], assign[4]);
        assert_ne!(assign[5], assign[3], "ambiguous surname stays on its own");
        assert_ne!(assign[5], assign[4]);
        // Regression: each ambiguous surname-only table became an actor of its own, so two
        // actors could both be called "Smith".
        assert_eq!(assign[6], assign[5]);
        let mut names: Vec<String> = actors.iter().map(|a| a.canonical()).collect();
        names.sort();
        let n = names.len();
        names.dedup();
        assert_eq!(names.len(), n, "no name stands for two actors: {names:?}");
    }
}
