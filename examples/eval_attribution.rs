//! Speaker attribution measured against PolNeAR (Newell et al., LREC 2018).
//!
//! ```sh
//! cargo run --release --example eval_attribution -- polnear_dev.jsonl [--json]
//! ```
//!
//! Each input line is one gold attribution: `doc_id`, `text` (a passage of the document),
//! `text_offset`, `speaker`, `quote_spans`, `speaker_spans` (character offsets into the
//! document) and `direct_quote`. The documents themselves are not given, so each is rebuilt from
//! its distinct passages placed at their offsets. In PolNeAR the passages are paragraphs (a few
//! span several lines) and neighbouring ones are always exactly two characters apart, a paragraph
//! break, so every gap is filled with line breaks (a one-character gap, never seen, with a
//! space): paragraphs stay paragraphs, and a stretch of the article that no passage covers becomes
//! a paragraph break with no words. Offsets are characters; they are turned into byte offsets of
//! the rebuilt text.
//!
//! For each gold attribution, the statements that `prepare` returns over its quote span(s) give
//! the predicted speaker: of the statements that have one, the speaker covering most of the
//! quoted bytes. A prediction is correct when it names the same person leniently: the two names
//! share their head token (the last word, case-insensitive, titles and possessives ignored), or
//! the head of one is a (non-possessive) word of the other ("Republican nominee Donald Trump",
//! "Mr. Trump" and "Trump" all match "Donald Trump"; "Trump's spokesman" does not), or the
//! actor table gives the gold speaker the predicted name ("the Kremlin": "Russia"). A gold
//! speaker is read up to its first comma, unless that part is a role and a later part a name
//! ("her senior policy adviser, Jake Sullivan,": "Jake Sullivan").
//!
//! A gold speaker is a name when that part is headed by a capitalised word ("Sen. Elizabeth
//! Warren", "The New York Times", "Republicans") and does not open with an indefinite
//! determiner; "a senior Cruz adviser", "the Trump campaign" and "a New Hampshire Democrat" are
//! common-noun speakers.
//!
//! Gold attributions without a speaker are skipped; the few with speaker and cue swapped ("said"
//! as the speaker) are read the right way. Gold pronoun speakers ("he", "who") are resolved
//! within the gold data when one other gold speaker (by head word), and only one, precedes the
//! pronoun in its paragraph or the paragraph just before it; those are scored on their own line,
//! and the rest are only counted. The headline figures are over gold attributions whose speaker
//! is not a pronoun: coverage = predicted / gold, precision = correct / predicted, recall =
//! correct / gold.
//!
//! The figures the attribution work is judged by come first, apart: direct quotes whose gold
//! speaker is a name ("Trump", "Sen. Elizabeth Warren", "The New York Times", not "sources" or
//! "he"), and indirect attributions (everything not marked as a direct quote) with a named
//! speaker. For each: speaker accuracy = correct / gold (a quote without a predicted speaker
//! counts as wrong), precision = correct / predicted and coverage = predicted / gold. "Same full
//! name" counts the correct ones whose predicted name is the gold name itself (up to case): on
//! PolNeAR the gold is the mention ("Trump"), so it says little there; the blind check in
//! `models/annotations/attribution/` gives each speaker's fullest name, so there it counts the
//! actors that keep their full names.
//!
//! The blind check is read the same way: `blind.jsonl` carries each whole document as the
//! passage at offset 0.
//!
//! `--failures direct|indirect` prints, instead of the report, one JSON line for each named gold
//! attribution of that kind that was missed or wrongly attributed (the gold speaker and cue, the
//! prediction, the quote and the paragraph around it), for studying errors.

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use standpoint::attribute::Attribution;
use standpoint::corpus::Document;
use standpoint::lexicon::{ActorTable, Lexicon};
use standpoint::statements::{prepare, Statement};
use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, Write};
use std::process::ExitCode;

const TARGET: &str = "attribution";
/// Error patterns and misses listed.
const TOP: usize = 15;
/// Gold speakers that are pronouns (personal, possessive and relative).
const PRONOUNS: [&str; 27] = [
    "i", "me", "my", "we", "us", "our", "you", "your", "he", "him", "his", "she", "her", "hers",
    "it", "its", "they", "them", "their", "who", "whom", "whose", "which", "that", "this", "these",
    "those",
];
/// Cue verbs that a few annotations give as the speaker, with the name as the cue.
const CUE_VERBS: [&str; 10] = [
    "said", "says", "say", "told", "tells", "added", "adds", "asked", "wrote", "writes",
];
/// Words that do not head a name: generational suffixes.
const SUFFIXES: [&str; 5] = ["jr", "sr", "ii", "iii", "iv"];
/// Words after a name that do not head it ("Sanders himself").
const REFLEXIVES: [&str; 3] = ["himself", "herself", "themselves"];
/// Determiners that make a speaker someone unnamed even before a capitalised head ("a New
/// Hampshire Democrat", "one Trump confidant").
const INDEFINITE: [&str; 9] = [
    "a", "an", "another", "one", "some", "several", "many", "other", "two",
];

/// One line of the PolNeAR JSONL export.
#[derive(Debug, Deserialize)]
struct Row {
    doc_id: String,
    #[serde(default)]
    id: Option<String>,
    text: String,
    text_offset: usize,
    speaker: Option<String>,
    #[serde(default)]
    cue: Option<String>,
    #[serde(default)]
    quote_spans: Vec<[usize; 2]>,
    #[serde(default)]
    speaker_spans: Vec<[usize; 2]>,
    #[serde(default)]
    direct_quote: bool,
}

/// The kind of a gold speaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// Carries a capitalised word: "Trump", "The New York Post", "Republicans".
    Name,
    /// Common nouns only: "sources", "a campaign operative", "the president".
    Nominal,
    Pronoun,
}

#[derive(Debug)]
struct Gold {
    line: usize,
    id: String,
    doc: usize,
    speaker: String,
    cue: String,
    /// Speaker and cue were swapped in the annotation.
    swapped: bool,
    class: Class,
    /// Character offsets into the document.
    quote_spans: Vec<(usize, usize)>,
    speaker_start: Option<usize>,
    direct: bool,
}

/// A document as rebuilt from its passages.
struct Rebuilt {
    text: String,
    /// Byte offset of each character offset (one more entry than characters).
    byte_at: Vec<usize>,
    /// The passages' character ranges, overlapping ones merged, in order.
    passages: Vec<(usize, usize)>,
    /// Characters where two passages disagreed (the first placed is kept).
    conflicts: usize,
}

impl Rebuilt {
    /// The document's length in characters.
    fn chars(&self) -> usize {
        self.byte_at.len() - 1
    }

    fn byte_span(&self, (s, e): (usize, usize)) -> (usize, usize) {
        let last = self.chars();
        (self.byte_at[s.min(last)], self.byte_at[e.min(last)])
    }
}

fn rebuild(passages: &[(usize, String)]) -> Rebuilt {
    let mut sorted: Vec<(usize, Vec<char>)> = passages
        .iter()
        .map(|(o, t)| (*o, t.chars().collect()))
        .collect();
    // Longest first at the same offset, so that a contained passage only confirms it.
    sorted.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.len().cmp(&a.1.len())));
    sorted.dedup();
    let len = sorted.iter().map(|(o, c)| o + c.len()).max().unwrap_or(0);
    let mut chars: Vec<Option<char>> = vec![None; len];
    let mut conflicts = 0;
    let mut ranges: Vec<(usize, usize)> = Vec::new();
    for (o, cs) in &sorted {
        for (k, c) in cs.iter().enumerate() {
            match chars[o + k] {
                None => chars[o + k] = Some(*c),
                Some(prev) if prev != *c => conflicts += 1,
                Some(_) => {}
            }
        }
        let end = o + cs.len();
        match ranges.last_mut() {
            Some(r) if *o < r.1 => r.1 = r.1.max(end),
            _ => ranges.push((*o, end)),
        }
    }
    let mut text = String::with_capacity(len + len / 8);
    let mut byte_at = Vec::with_capacity(len + 1);
    let mut k = 0;
    while k < len {
        match chars[k] {
            Some(c) => {
                byte_at.push(text.len());
                text.push(c);
                k += 1;
            }
            None => {
                let run = chars[k..].iter().take_while(|c| c.is_none()).count();
                let fill = if run == 1 { ' ' } else { '\n' };
                for _ in 0..run {
                    byte_at.push(text.len());
                    text.push(fill);
                }
                k += run;
            }
        }
    }
    byte_at.push(text.len());
    Rebuilt {
        text,
        byte_at,
        passages: ranges,
        conflicts,
    }
}

/// The words of a name as written, each with whether it was possessive (the "'s" cut off).
fn raw_words(part: &str) -> Vec<(String, bool)> {
    part.split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '-'))
        .filter_map(|w| {
            let w = w.trim_matches(|c| c == '\'' || c == '-');
            let (stem, possessive) = match w.strip_suffix("'s").or(w.strip_suffix("'S")) {
                Some(s) => (s, true),
                None => (w, false),
            };
            (!stem.is_empty()).then(|| (stem.to_string(), possessive))
        })
        .collect()
}

/// The word that heads a name as written: the last one, generational suffixes and reflexives
/// ("Sanders himself") aside.
fn raw_head(words: &[(String, bool)]) -> Option<&str> {
    words.iter().rev().map(|(w, _)| w.as_str()).find(|w| {
        let l = w.to_lowercase();
        !SUFFIXES.contains(&l.as_str()) && !REFLEXIVES.contains(&l.as_str())
    })
}

fn capitalised(word: &str) -> bool {
    word.chars().next().is_some_and(char::is_uppercase)
}

/// The part of a gold speaker that names: parentheses dropped, cut at the first comma; but when
/// that part is headed by a common noun and a later comma part by a capitalised word ("her
/// senior policy adviser, Jake Sullivan,"), the later part.
fn head_part(name: &str) -> String {
    let mut plain = String::new();
    let mut depth = 0usize;
    for c in name.chars() {
        let c = if c == '’' { '\'' } else { c };
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' => depth = depth.saturating_sub(1),
            _ if depth == 0 => plain.push(c),
            _ => {}
        }
    }
    let parts: Vec<&str> = plain
        .split(',')
        .filter(|p| p.chars().any(char::is_alphanumeric))
        .collect();
    let Some(first) = parts.first() else {
        return plain;
    };
    let named = |p: &str| raw_head(&raw_words(p)).is_some_and(capitalised);
    if !named(first) {
        if let Some(later) = parts[1..].iter().find(|p| named(p)) {
            return later.to_string();
        }
    }
    first.to_string()
}

/// Lower-case words of the naming part of a name ([`head_part`]); each word with whether it was
/// possessive.
fn words(name: &str) -> Vec<(String, bool)> {
    raw_words(&head_part(name))
        .into_iter()
        .map(|(w, p)| (w.to_lowercase(), p))
        .collect()
}

fn head(words: &[(String, bool)]) -> Option<&str> {
    words
        .iter()
        .rev()
        .find(|(w, _)| !SUFFIXES.contains(&w.as_str()) && !REFLEXIVES.contains(&w.as_str()))
        .map(|(w, _)| w.as_str())
}

/// Lenient same-person test (see the module documentation).
fn same_person(gold: &str, predicted: &str) -> bool {
    let g = words(gold);
    let p = words(predicted);
    let (Some(gh), Some(ph)) = (head(&g), head(&p)) else {
        return false;
    };
    let has = |ws: &[(String, bool)], h: &str| ws.iter().any(|(w, poss)| !poss && w == h);
    gh == ph || has(&g, ph) || has(&p, gh)
}

fn class_of(speaker: &str) -> Class {
    let lower = speaker.trim().to_lowercase();
    if PRONOUNS.contains(&lower.as_str()) {
        return Class::Pronoun;
    }
    // A name is headed by a capitalised word ("Sen. Elizabeth Warren", "The New York Times",
    // "Republicans"), not by a common noun ("a senior Cruz adviser", "the Trump campaign"), and
    // does not start with an indefinite determiner ("a New Hampshire Democrat").
    let part = head_part(speaker);
    let ws = raw_words(&part);
    let indefinite = ws
        .first()
        .is_some_and(|(w, _)| INDEFINITE.contains(&w.to_lowercase().as_str()));
    if raw_head(&ws).is_some_and(capitalised) && !indefinite {
        Class::Name
    } else {
        Class::Nominal
    }
}

/// The input file, grouped by document.
struct Input {
    doc_ids: Vec<String>,
    /// Per document: (character offset, passage text).
    passages: Vec<Vec<(usize, String)>>,
    /// Attributions with a speaker.
    gold: Vec<Gold>,
    no_speaker: usize,
}

fn read_gold(path: &str) -> Result<Input> {
    if path.ends_with(".gz") {
        bail!("{path}: compressed input is not read; decompress it first (gzip -dc)");
    }
    let file = std::fs::File::open(path).with_context(|| format!("{path}: cannot open"))?;
    let mut doc_ids: Vec<String> = Vec::new();
    let mut doc_index: HashMap<String, usize> = HashMap::new();
    let mut passages: Vec<Vec<(usize, String)>> = Vec::new();
    let mut gold = Vec::new();
    let mut no_speaker = 0;
    for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line_no = n + 1;
        let line = line.with_context(|| format!("{path}:{line_no}: cannot read"))?;
        if line.trim().is_empty() {
            continue;
        }
        let row: Row = serde_json::from_str(&line)
            .with_context(|| format!("{path}:{line_no}: not a PolNeAR attribution"))?;
        let doc = *doc_index.entry(row.doc_id.clone()).or_insert_with(|| {
            doc_ids.push(row.doc_id.clone());
            passages.push(Vec::new());
            doc_ids.len() - 1
        });
        passages[doc].push((row.text_offset, row.text));
        let spans = |v: &[[usize; 2]], what: &str| -> Result<Vec<(usize, usize)>> {
            v.iter()
                .map(|&[s, e]| {
                    if s > e {
                        bail!("{path}:{line_no}: {what} span [{s}, {e}] ends before it starts");
                    }
                    Ok((s, e))
                })
                .collect()
        };
        let quote_spans = spans(&row.quote_spans, "quote")?;
        let speaker_spans = spans(&row.speaker_spans, "speaker")?;
        let Some(mut speaker) = row.speaker.filter(|s| !s.trim().is_empty()) else {
            no_speaker += 1;
            continue;
        };
        let mut cue = row.cue.unwrap_or_default();
        // A slip of the annotation: "said" as the speaker and the name as the cue.
        let swapped = CUE_VERBS.contains(&speaker.trim().to_lowercase().as_str())
            && cue.chars().any(char::is_uppercase);
        if swapped {
            std::mem::swap(&mut speaker, &mut cue);
        }
        gold.push(Gold {
            line: line_no,
            id: row
                .id
                .unwrap_or_else(|| format!("{}:{line_no}", row.doc_id)),
            doc,
            class: class_of(&speaker),
            speaker,
            cue,
            swapped,
            quote_spans,
            speaker_start: speaker_spans.iter().map(|s| s.0).min(),
            direct: row.direct_quote,
        });
    }
    Ok(Input {
        doc_ids,
        passages,
        gold,
        no_speaker,
    })
}

/// The gold speaker a pronoun refers to, when exactly one other (by head word) precedes it in
/// its paragraph or the adjoining paragraph before.
fn resolve_pronoun<'a>(
    g: &Gold,
    doc_gold: &[&'a Gold],
    passages: &[(usize, usize)],
) -> Option<&'a str> {
    let at = g.speaker_start?;
    let p = passages.iter().position(|r| r.0 <= at && at < r.1)?;
    let mut from = passages[p].0;
    if p > 0 && passages[p].0 - passages[p - 1].1 <= 2 {
        from = passages[p - 1].0;
    }
    let mut found: Option<(&str, String)> = None;
    for o in doc_gold {
        let Some(s) = o.speaker_start else { continue };
        if o.class == Class::Pronoun || s < from || s >= at {
            continue;
        }
        let h = head(&words(&o.speaker)).unwrap_or_default().to_string();
        match &found {
            None => found = Some((o.speaker.as_str(), h)),
            Some((_, fh)) if *fh == h => {}
            Some(_) => return None,
        }
    }
    found.map(|(s, _)| s)
}

/// What the statements over a gold quote say.
struct Prediction<'a> {
    speaker: Option<&'a str>,
    /// The statement that gave the speaker, else the one covering most of the quote.
    statement: Option<&'a Statement>,
    /// More than one speaker among the statements over the quote.
    mixed: bool,
}

fn predict<'a>(statements: &'a [Statement], quote: &[(usize, usize)]) -> Prediction<'a> {
    let overlap = |s: &Statement| -> usize {
        quote
            .iter()
            .map(|&(a, b)| b.min(s.end).saturating_sub(a.max(s.start)))
            .sum()
    };
    let mut by_speaker: Vec<(&str, usize, &Statement, usize)> = Vec::new();
    let mut best: Option<(&Statement, usize)> = None;
    for s in statements {
        let o = overlap(s);
        if o == 0 {
            continue;
        }
        if best.is_none_or(|b| o > b.1) {
            best = Some((s, o));
        }
        if let Some(name) = s.speaker.as_deref() {
            match by_speaker.iter_mut().find(|x| x.0 == name) {
                Some(x) => {
                    x.1 += o;
                    if o > x.3 {
                        x.2 = s;
                        x.3 = o;
                    }
                }
                None => by_speaker.push((name, o, s, o)),
            }
        }
    }
    let top = by_speaker
        .iter()
        .enumerate()
        .max_by(|a, b| a.1 .1.cmp(&b.1 .1).then(b.0.cmp(&a.0)))
        .map(|(_, x)| x);
    Prediction {
        speaker: top.map(|x| x.0),
        statement: top.map(|x| x.2).or(best.map(|b| b.0)),
        mixed: by_speaker.len() > 1,
    }
}

#[derive(Debug, Default, Clone, Copy, Serialize)]
struct Score {
    gold: usize,
    predicted: usize,
    correct: usize,
    coverage: f64,
    precision: f64,
    recall: f64,
    f1: f64,
}

/// The two rows of named speakers that the attribution work is judged by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NamedRow {
    Direct,
    Indirect,
}

/// The named row a gold attribution counts in: none for common-noun and pronoun speakers.
fn named_row(direct: bool, class: Class) -> Option<NamedRow> {
    match (class, direct) {
        (Class::Name, true) => Some(NamedRow::Direct),
        (Class::Name, false) => Some(NamedRow::Indirect),
        _ => None,
    }
}

/// Speaker accuracy with precision and coverage, for one named row.
#[derive(Debug, Default, Clone, Copy, Serialize)]
struct Named {
    gold: usize,
    predicted: usize,
    correct: usize,
    /// correct / gold: a gold quote without a predicted speaker counts as wrong.
    accuracy: f64,
    /// correct / predicted.
    precision: f64,
    /// predicted / gold.
    coverage: f64,
    /// Correct and exactly the gold name (up to case): the full name where the gold gives
    /// one, as the blind check does ("Sergei Lavrov" for "Lavrov said").
    full_name: usize,
}

impl From<Score> for Named {
    fn from(s: Score) -> Self {
        let s = s.finish();
        Named {
            gold: s.gold,
            predicted: s.predicted,
            correct: s.correct,
            accuracy: s.recall,
            precision: s.precision,
            coverage: s.coverage,
            full_name: 0,
        }
    }
}

impl Score {
    fn add(&mut self, predicted: bool, correct: bool) {
        self.gold += 1;
        self.predicted += usize::from(predicted);
        self.correct += usize::from(correct);
    }
    fn finish(mut self) -> Self {
        let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        self.coverage = ratio(self.predicted, self.gold);
        self.precision = ratio(self.correct, self.predicted);
        self.recall = ratio(self.correct, self.gold);
        self.f1 = if self.precision + self.recall == 0.0 {
            0.0
        } else {
            2.0 * self.precision * self.recall / (self.precision + self.recall)
        };
        self
    }
}

#[derive(Debug, Serialize)]
struct Example {
    gold: String,
    cue: String,
    predicted: Option<String>,
    attribution: Option<String>,
    count: usize,
    id: String,
    line: usize,
    sentence: String,
}

/// A named gold attribution that was missed or given the wrong speaker (`--failures`).
#[derive(Debug, Serialize)]
struct Failure {
    line: usize,
    id: String,
    gold: String,
    cue: String,
    predicted: Option<String>,
    attribution: Option<String>,
    quote: String,
    /// The passage (paragraph) the quote starts in, and the one before it.
    paragraph: String,
    previous_paragraph: String,
}

#[derive(Debug, Serialize)]
struct TypeRow {
    attribution: String,
    predicted: usize,
    correct: usize,
    precision: f64,
}

#[derive(Debug, Serialize)]
struct Report {
    file: String,
    documents: usize,
    attributions: usize,
    skipped_no_speaker: usize,
    skipped_no_quote_span: usize,
    /// Annotations with speaker and cue swapped ("said" as the speaker), read the right way.
    swapped_speaker_cue: usize,
    pronoun_speakers: usize,
    pronoun_unresolved: usize,
    passage_conflicts: usize,
    /// Gold attributions whose statements carry more than one predicted speaker.
    mixed: usize,
    /// Direct quotes whose gold speaker is a name.
    direct_named: Named,
    /// Indirect attributions whose gold speaker is a name.
    indirect_named: Named,
    direct: Score,
    indirect: Score,
    all: Score,
    name_speakers: Score,
    nominal_speakers: Score,
    pronoun_resolved: Score,
    /// Predictions over named gold speakers, by how the statement was attributed.
    by_attribution: Vec<TypeRow>,
    /// All statements of the rebuilt documents, by attribution.
    statements: BTreeMap<String, usize>,
    errors: Vec<Example>,
    misses: Vec<Example>,
    #[serde(skip)]
    failures: Vec<(NamedRow, Failure)>,
}

fn attribution_name(a: Attribution) -> String {
    serde_json::to_value(a)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| format!("{a:?}"))
}

fn short(s: &str) -> String {
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if s.chars().count() <= 220 {
        s
    } else {
        format!("{}…", s.chars().take(219).collect::<String>())
    }
}

/// Groups examples by `key`, most frequent first, keeping the first example of each group.
fn top_groups(items: Vec<(String, Example)>) -> Vec<Example> {
    let mut groups: Vec<(String, Example)> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for (key, ex) in items {
        match index.get(&key) {
            Some(&i) => groups[i].1.count += 1,
            None => {
                index.insert(key.clone(), groups.len());
                groups.push((key, ex));
            }
        }
    }
    groups.sort_by_key(|g| std::cmp::Reverse(g.1.count));
    groups.into_iter().take(TOP).map(|(_, e)| e).collect()
}

fn evaluate(path: &str) -> Result<Report> {
    let Input {
        doc_ids,
        passages,
        gold,
        no_speaker,
    } = read_gold(path)?;
    let swapped = gold.iter().filter(|g| g.swapped).count();
    let lex = Lexicon::builtin();
    let actors = ActorTable::builtin();
    let mut docs = Vec::with_capacity(doc_ids.len());
    let mut docs_text = Vec::with_capacity(doc_ids.len());
    let mut conflicts = 0;
    let mut statement_types: BTreeMap<String, usize> = BTreeMap::new();
    for (id, ps) in doc_ids.iter().zip(&passages) {
        let mut rebuilt = rebuild(ps);
        conflicts += rebuilt.conflicts;
        let doc = Document {
            id: id.clone(),
            text: std::mem::take(&mut rebuilt.text),
            title: None,
            date: None,
            source: None,
            url: None,
        };
        docs_text.push(doc.text.clone());
        let ds = prepare(doc, TARGET, &lex, &actors);
        for s in &ds.statements {
            *statement_types
                .entry(attribution_name(s.attribution))
                .or_default() += 1;
        }
        docs.push((rebuilt, ds.statements));
    }
    let mut per_doc: Vec<Vec<&Gold>> = vec![Vec::new(); docs.len()];
    for g in &gold {
        per_doc[g.doc].push(g);
    }

    let mut direct = Score::default();
    let mut indirect = Score::default();
    let mut direct_named = Score::default();
    let mut indirect_named = Score::default();
    let (mut direct_full, mut indirect_full) = (0, 0);
    let mut failures = Vec::new();
    let mut names = Score::default();
    let mut nominals = Score::default();
    let mut resolved = Score::default();
    let mut no_quote = 0;
    let mut pronouns = 0;
    let mut unresolved = 0;
    let mut mixed = 0;
    let mut types: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut errors = Vec::new();
    let mut misses = Vec::new();
    for g in &gold {
        let (rebuilt, statements) = &docs[g.doc];
        if let Some(&(_, e)) = g.quote_spans.iter().find(|s| s.1 > rebuilt.chars()) {
            bail!(
                "{path}:{}: quote span ends at character {e}, past the document's passages",
                g.line
            );
        }
        if g.quote_spans.is_empty() {
            no_quote += 1;
            continue;
        }
        let expected = match g.class {
            Class::Pronoun => {
                pronouns += 1;
                match resolve_pronoun(g, &per_doc[g.doc], &rebuilt.passages) {
                    Some(name) => name,
                    None => {
                        unresolved += 1;
                        continue;
                    }
                }
            }
            _ => g.speaker.as_str(),
        };
        let quote: Vec<(usize, usize)> = g
            .quote_spans
            .iter()
            .map(|&s| rebuilt.byte_span(s))
            .collect();
        let p = predict(statements, &quote);
        // A gold speaker that the actor table names otherwise ("the Kremlin": Russia) matches
        // that name too.
        let alias = {
            let e = expected.trim();
            let e = e
                .strip_prefix("the ")
                .or(e.strip_prefix("The "))
                .unwrap_or(e);
            actors.lookup(e).map(|a| a.name.as_str())
        };
        let correct = p
            .speaker
            .is_some_and(|s| same_person(expected, s) || alias == Some(s));
        // The prediction is the gold name itself, in full (where the gold gives full names).
        let full = correct
            && p.speaker.is_some_and(|s| {
                let part = head_part(expected);
                s.eq_ignore_ascii_case(alias.unwrap_or(part.trim()))
            });
        if g.class == Class::Pronoun {
            resolved.add(p.speaker.is_some(), correct);
            continue;
        }
        mixed += usize::from(p.mixed);
        let row: &mut Score = if g.direct { &mut direct } else { &mut indirect };
        row.add(p.speaker.is_some(), correct);
        let named = named_row(g.direct, g.class);
        match named {
            Some(NamedRow::Direct) => {
                direct_named.add(p.speaker.is_some(), correct);
                direct_full += usize::from(full);
            }
            Some(NamedRow::Indirect) => {
                indirect_named.add(p.speaker.is_some(), correct);
                indirect_full += usize::from(full);
            }
            None => {}
        }
        let by_class: &mut Score = if g.class == Class::Name {
            &mut names
        } else {
            &mut nominals
        };
        by_class.add(p.speaker.is_some(), correct);
        let attribution = p.statement.map(|s| attribution_name(s.attribution));
        if p.speaker.is_some() {
            let t = types
                .entry(attribution.clone().unwrap_or_default())
                .or_default();
            t.0 += 1;
            t.1 += usize::from(correct);
        }
        if correct {
            continue;
        }
        if let Some(r) = named {
            let passage = |at: usize| -> Option<usize> {
                rebuilt.passages.iter().position(|p| p.0 <= at && at < p.1)
            };
            let text_of = |k: Option<usize>| -> String {
                k.map(|k| {
                    let (s, e) = rebuilt.byte_span(rebuilt.passages[k]);
                    docs_text[g.doc][s..e].to_string()
                })
                .unwrap_or_default()
            };
            let k = passage(g.quote_spans[0].0);
            failures.push((
                r,
                Failure {
                    line: g.line,
                    id: g.id.clone(),
                    gold: g.speaker.clone(),
                    cue: g.cue.clone(),
                    predicted: p.speaker.map(str::to_string),
                    attribution: attribution.clone(),
                    quote: quote
                        .iter()
                        .map(|&(s, e)| docs_text[g.doc][s..e].to_string())
                        .collect::<Vec<_>>()
                        .join(" … "),
                    paragraph: text_of(k),
                    previous_paragraph: text_of(k.and_then(|k| k.checked_sub(1))),
                },
            ));
        }
        let example = Example {
            gold: g.speaker.clone(),
            cue: g.cue.clone(),
            predicted: p.speaker.map(str::to_string),
            attribution,
            count: 1,
            id: g.id.clone(),
            line: g.line,
            sentence: p.statement.map(|s| short(&s.text)).unwrap_or_default(),
        };
        let gold_head = head(&words(&g.speaker)).unwrap_or_default().to_string();
        match p.speaker {
            Some(s) => errors.push((format!("{gold_head}\u{1f}{s}"), example)),
            None => misses.push((g.cue.trim().to_lowercase(), example)),
        }
    }
    let mut all: Score = direct;
    all.gold += indirect.gold;
    all.predicted += indirect.predicted;
    all.correct += indirect.correct;
    let by_attribution = types
        .into_iter()
        .map(|(attribution, (predicted, correct))| TypeRow {
            attribution,
            predicted,
            correct,
            precision: if predicted == 0 {
                0.0
            } else {
                correct as f64 / predicted as f64
            },
        })
        .collect();
    Ok(Report {
        file: path.to_string(),
        documents: docs.len(),
        attributions: gold.len() + no_speaker,
        skipped_no_speaker: no_speaker,
        skipped_no_quote_span: no_quote,
        swapped_speaker_cue: swapped,
        pronoun_speakers: pronouns,
        pronoun_unresolved: unresolved,
        passage_conflicts: conflicts,
        mixed,
        direct_named: Named {
            full_name: direct_full,
            ..direct_named.into()
        },
        indirect_named: Named {
            full_name: indirect_full,
            ..indirect_named.into()
        },
        direct: direct.finish(),
        indirect: indirect.finish(),
        all: all.finish(),
        name_speakers: names.finish(),
        nominal_speakers: nominals.finish(),
        pronoun_resolved: resolved.finish(),
        by_attribution,
        statements: statement_types,
        errors: top_groups(errors),
        misses: top_groups(misses),
        failures,
    })
}

/// The report as Markdown.
fn render(r: &Report) -> String {
    let mut out = String::new();
    macro_rules! println {
        () => {
            out.push('\n')
        };
        ($($arg:tt)*) => {{
            out.push_str(&format!($($arg)*));
            out.push('\n');
        }};
    }
    println!("# Speaker attribution on {}", r.file);
    println!();
    println!(
        "{} documents rebuilt from their passages; {} gold attributions.",
        r.documents, r.attributions
    );
    println!(
        "Skipped: {} without a speaker, {} without a quote span. Read the right way: {} with \
         speaker and cue swapped.",
        r.skipped_no_speaker, r.skipped_no_quote_span, r.swapped_speaker_cue
    );
    println!(
        "Pronoun speakers: {} ({} resolved in the gold data, scored on their own line; {} not \
         resolved, not scored).",
        r.pronoun_speakers,
        r.pronoun_speakers - r.pronoun_unresolved,
        r.pronoun_unresolved
    );
    println!();
    println!("## Named speakers");
    println!();
    println!(
        "Gold speakers that are names. Accuracy = correct / gold (no prediction counts as wrong), \
         precision = correct / predicted, coverage = predicted / gold."
    );
    println!();
    println!(
        "| named gold speakers | gold | predicted | correct | accuracy | precision | coverage | \
         same full name |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for (name, s) in [
        ("direct quotes", r.direct_named),
        ("indirect attributions", r.indirect_named),
    ] {
        println!(
            "| {name} | {} | {} | {} | {:.3} | {:.3} | {:.3} | {} |",
            s.gold, s.predicted, s.correct, s.accuracy, s.precision, s.coverage, s.full_name
        );
    }
    println!();
    println!("## All gold speakers");
    println!();
    println!("| gold speakers | gold | coverage | precision | recall | F1 |");
    println!("|---|---:|---:|---:|---:|---:|");
    let rows = [
        ("direct quotes", r.direct),
        ("indirect", r.indirect),
        ("all (not pronouns)", r.all),
        ("of which proper names", r.name_speakers),
        ("of which common nouns", r.nominal_speakers),
        ("pronouns, resolved in gold", r.pronoun_resolved),
    ];
    for (name, s) in rows {
        println!(
            "| {name} | {} | {:.3} | {:.3} | {:.3} | {:.3} |",
            s.gold, s.coverage, s.precision, s.recall, s.f1
        );
    }
    println!();
    println!(
        "{} gold quotes span statements with different predicted speakers (the one covering \
         most of the quote counts).",
        r.mixed
    );
    if r.passage_conflicts > 0 {
        println!(
            "{} characters where overlapping passages disagree.",
            r.passage_conflicts
        );
    }
    println!();
    println!("## Predictions by attribution type (gold speakers not pronouns)");
    println!();
    println!("| attribution | predicted | correct | precision |");
    println!("|---|---:|---:|---:|");
    for t in &r.by_attribution {
        println!(
            "| {} | {} | {} | {:.3} |",
            t.attribution, t.predicted, t.correct, t.precision
        );
    }
    println!();
    let total: usize = r.statements.values().sum();
    let parts: Vec<String> = r
        .statements
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    println!("All {total} statements: {}.", parts.join(", "));
    println!();
    println!("## Most frequent wrong speakers (gold head word, predicted name)");
    println!();
    for e in &r.errors {
        println!(
            "- {}× gold {:?}, predicted {:?} ({}), line {}: {}",
            e.count,
            e.gold,
            e.predicted.as_deref().unwrap_or_default(),
            e.attribution.as_deref().unwrap_or_default(),
            e.line,
            e.sentence
        );
    }
    println!();
    println!("## Most frequent misses, by gold cue (no speaker predicted)");
    println!();
    for e in &r.misses {
        println!(
            "- {}× cue {:?}, e.g. gold {:?}, line {}: {}",
            e.count, e.cue, e.gold, e.line, e.sentence
        );
    }
    out
}

const USAGE: &str = "usage: eval_attribution POLNEAR.jsonl [--json | --failures direct|indirect]";

fn run() -> Result<()> {
    let mut json = false;
    let mut failures: Option<NamedRow> = None;
    let mut path = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--json" => json = true,
            "--failures" => {
                failures = match args.next().as_deref() {
                    Some("direct") => Some(NamedRow::Direct),
                    Some("indirect") => Some(NamedRow::Indirect),
                    _ => bail!("--failures takes direct or indirect; {USAGE}"),
                }
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            a if a.starts_with('-') => bail!("unknown option {a}; {USAGE}"),
            a => {
                if path.replace(a.to_string()).is_some() {
                    bail!("one input file only; {USAGE}");
                }
            }
        }
    }
    let Some(path) = path else {
        bail!("{USAGE}");
    };
    let report = evaluate(&path)?;
    let text = if let Some(row) = failures {
        let mut out = String::new();
        for (_, f) in report.failures.iter().filter(|(r, _)| *r == row) {
            out.push_str(&serde_json::to_string(f)?);
            out.push('\n');
        }
        out
    } else if json {
        serde_json::to_string_pretty(&report)? + "\n"
    } else {
        render(&report)
    };
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passages_are_placed_at_character_offsets() {
        let r = rebuild(&[
            (0, "“Hi,” he said.".to_string()),
            (16, "Café é.".to_string()),
            (16, "Café".to_string()),
            (30, "Late.".to_string()),
        ]);
        assert_eq!(r.text, "“Hi,” he said.\n\nCafé é.\n\n\n\n\n\n\nLate.");
        assert_eq!(r.passages, [(0, 14), (16, 23), (30, 35)]);
        assert_eq!(r.conflicts, 0);
        // Characters 16..20 are "Café": bytes 20..25 after two curly quotes of 3 bytes each.
        let (s, e) = r.byte_span((16, 20));
        assert_eq!(&r.text[s..e], "Café");
        let (s, e) = r.byte_span((30, 35));
        assert_eq!(&r.text[s..e], "Late.");
        assert_eq!(
            rebuild(&[(3, "a".into()), (5, "b".into())]).text,
            "\n\n\na b"
        );
    }

    #[test]
    fn lenient_speaker_matching() {
        assert!(same_person(
            "Republican nominee Donald Trump",
            "Donald Trump"
        ));
        assert!(same_person("Trump", "Donald Trump"));
        assert!(same_person("WALLACE", "Chris Wallace"));
        assert!(same_person("O'Neill", "James O’Neill"));
        assert!(same_person(
            "President Vladimir Putin of Russia",
            "Vladimir Putin"
        ));
        assert!(same_person(
            "Sen. Elizabeth Warren, D-Mass.",
            "Elizabeth Warren"
        ));
        assert!(same_person("Martin Luther King Jr.", "Martin Luther King"));
        assert!(!same_person(
            "Trump’s spokesman Jason Miller",
            "Donald Trump"
        ));
        assert!(!same_person("Clinton", "Donald Trump"));
        assert!(!same_person("sources", "Donald Trump"));
        // An apposition names the person when the first part is a role.
        assert!(same_person(
            "her senior policy adviser, Jake Sullivan,",
            "Jake Sullivan"
        ));
        assert!(same_person("Sanders himself", "Bernie Sanders"));
        // ... but not when the first part is the name.
        assert!(!same_person(
            "Sarah Warbelow, legal director for the group Human Rights Campaign,",
            "Human Rights Campaign"
        ));
    }

    #[test]
    fn named_rows_keep_direct_and_indirect_names_apart() {
        assert_eq!(named_row(true, Class::Name), Some(NamedRow::Direct));
        assert_eq!(named_row(false, Class::Name), Some(NamedRow::Indirect));
        assert_eq!(named_row(true, Class::Nominal), None);
        assert_eq!(named_row(false, Class::Pronoun), None);
    }

    #[test]
    fn named_accuracy_counts_a_missing_speaker_as_wrong() {
        let mut s = Score::default();
        s.add(true, true); // right speaker
        s.add(true, true);
        s.add(true, false); // wrong speaker
        s.add(false, false); // no speaker
        let n = Named::from(s);
        assert_eq!((n.gold, n.predicted, n.correct), (4, 3, 2));
        assert!((n.accuracy - 0.5).abs() < 1e-12);
        assert!((n.precision - 2.0 / 3.0).abs() < 1e-12);
        assert!((n.coverage - 0.75).abs() < 1e-12);
        let empty = Named::from(Score::default());
        assert_eq!(
            (empty.accuracy, empty.precision, empty.coverage),
            (0.0, 0.0, 0.0)
        );
    }

    #[test]
    fn gold_speaker_classes() {
        assert_eq!(class_of("He"), Class::Pronoun);
        assert_eq!(class_of("who"), Class::Pronoun);
        assert_eq!(class_of("The New York Post"), Class::Name);
        assert_eq!(class_of("a source"), Class::Nominal);
        assert_eq!(class_of("The experts"), Class::Nominal);
        assert_eq!(class_of("Republicans"), Class::Name);
        assert_eq!(class_of("Mr. Trump's"), Class::Name);
        assert_eq!(class_of("Sanders himself"), Class::Name);
        assert_eq!(
            class_of("her senior policy adviser, Jake Sullivan,"),
            Class::Name
        );
        // Headed by a common noun, or indefinite: nobody named.
        assert_eq!(class_of("a senior Cruz adviser"), Class::Nominal);
        assert_eq!(
            class_of("the Republican presidential candidate"),
            Class::Nominal
        );
        assert_eq!(class_of("Ryan’s office"), Class::Nominal);
        assert_eq!(class_of("another New Hampshire Republican"), Class::Nominal);
    }
}
