//! Stage 5: aggregation of stance labels per actor, per document and over the corpus.
//!
//! Statements are added as they are scored (streaming). The aggregator keeps one *group* per
//! distinct per-document actor table (the same names of the same kind, from any number of
//! documents) with its running sums and a few evidence statements, never the statements or the
//! documents themselves, so its size grows with the number of distinct actors, not with the
//! corpus. Each document comes back as a [`DocEntry`] (its counts and which group each of its
//! actors fell in) for the caller to write out. A [`Partial`] (the groups and totals) can be
//! saved, restored and added to another: shards of a corpus add up to the corpus, exactly,
//! because scores are summed as fixed-point integers. [`resolve`] then merges the groups into
//! corpus actors ([`crate::actors::resolve_corpus`]), which depends only on the groups, not on
//! the order in which documents or shards came.
//!
//! Per actor: label counts; a net score in [-1, 1], the mean of P(FAVOR) − P(AGAINST) over
//! its statements; an approximate 95% interval for it (mean ± 1.96·s/√n, where the variance s²
//! has one pseudo-observation of the variance of a uniform score on [-1, 1], 1/3, so a single
//! statement gives a wide interval rather than none); and an overall label: NONE when no
//! statement takes a side, MIXED when both sides have at least 30% of the stance-taking
//! statements, else the majority side.

use crate::actors::{resolve_corpus, NameVariants};
use crate::lexicon::ActorKind;
use crate::model::Label;
use crate::segment::Span;
use crate::statements::{DocStatements, Statement};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// How many evidence statements are kept per actor and label.
pub const EVIDENCE_PER_LABEL: usize = 3;

/// An actor's overall position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Overall {
    Favor,
    Against,
    None,
    Mixed,
}

impl Overall {
    /// The name used in the outputs (as serialised).
    pub fn as_str(self) -> &'static str {
        match self {
            Overall::Favor => "FAVOR",
            Overall::Against => "AGAINST",
            Overall::None => "NONE",
            Overall::Mixed => "MIXED",
        }
    }
}

/// A statement kept as evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    pub doc_id: String,
    pub statement_id: String,
    pub start: usize,
    pub end: usize,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quote: Option<Span>,
    pub stance: Label,
    /// Probability of `stance`.
    pub confidence: f32,
    pub attribution: crate::attribute::Attribution,
}

/// Fixed-point unit of the score sums: exact, order-independent addition.
const SCORE_UNIT: f64 = 1e9;

/// Running sums for one actor (or one document).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    pub statements: usize,
    pub favor: usize,
    pub against: usize,
    pub none: usize,
    /// Sum of P(FAVOR) − P(AGAINST), and of its square, in units of 1e-9.
    pub sum: i64,
    pub sum_sq: i64,
}

impl Tally {
    pub fn add(&mut self, label: Label, diff: f64) {
        self.statements += 1;
        match label {
            Label::Favor => self.favor += 1,
            Label::Against => self.against += 1,
            Label::None => self.none += 1,
        }
        self.sum += (diff * SCORE_UNIT).round() as i64;
        self.sum_sq += (diff * diff * SCORE_UNIT).round() as i64;
    }

    pub fn merge(&mut self, o: &Tally) {
        self.statements += o.statements;
        self.favor += o.favor;
        self.against += o.against;
        self.none += o.none;
        self.sum += o.sum;
        self.sum_sq += o.sum_sq;
    }

    pub fn score(&self) -> f64 {
        if self.statements == 0 {
            0.0
        } else {
            self.sum as f64 / SCORE_UNIT / self.statements as f64
        }
    }

    /// Approximate 95% interval of the score (see the module documentation).
    pub fn interval(&self) -> [f64; 2] {
        let n = self.statements as f64;
        if n == 0.0 {
            return [-1.0, 1.0];
        }
        let m = self.score();
        let ss = (self.sum_sq as f64 / SCORE_UNIT - n * m * m).max(0.0);
        let var = (ss + 1.0 / 3.0) / n;
        let half = 1.96 * (var / n).sqrt();
        [(m - half).max(-1.0), (m + half).min(1.0)]
    }

    pub fn overall(&self) -> Overall {
        let sided = self.favor + self.against;
        if sided == 0 {
            return Overall::None;
        }
        let minority = self.favor.min(self.against) as f64 / sided as f64;
        if minority >= 0.3 {
            Overall::Mixed
        } else if self.favor > self.against {
            Overall::Favor
        } else {
            Overall::Against
        }
    }
}

/// Keeps the strongest few evidence statements per label.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EvidenceSet {
    pub items: Vec<Evidence>,
}

impl EvidenceSet {
    pub fn offer(&mut self, e: Evidence) {
        self.items.push(e);
        self.trim();
    }

    pub fn merge(&mut self, o: &EvidenceSet) {
        self.items.extend(o.items.iter().cloned());
        self.trim();
    }

    fn trim(&mut self) {
        self.items.sort_by(|a, b| {
            a.stance
                .cmp(&b.stance)
                .then(b.confidence.total_cmp(&a.confidence))
                .then(a.doc_id.cmp(&b.doc_id))
                .then(a.start.cmp(&b.start))
        });
        let mut per = HashMap::new();
        self.items.retain(|e| {
            let c = per.entry(e.stance).or_insert(0usize);
            *c += 1;
            *c <= EVIDENCE_PER_LABEL
        });
    }

    /// Evidence for a label, strongest first.
    pub fn for_label(&self, l: Label) -> impl Iterator<Item = &Evidence> {
        self.items.iter().filter(move |e| e.stance == l)
    }
}

/// An actor in `actors.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActorRecord {
    pub actor: String,
    pub aliases: Vec<String>,
    pub kind: ActorKind,
    pub statements: usize,
    pub favor: usize,
    pub against: usize,
    pub none: usize,
    pub stance: Overall,
    pub score: f64,
    pub interval: [f64; 2],
    pub documents: usize,
    /// Strongest statements, those for the overall stance first.
    pub evidence: Vec<Evidence>,
}

/// One actor within one document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DocActor {
    pub actor: String,
    pub statements: usize,
    pub favor: usize,
    pub against: usize,
    pub none: usize,
    pub stance: Overall,
    pub score: f64,
}

/// One document in `actors.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DocRecord {
    pub doc_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    pub statements: usize,
    pub attributed: usize,
    pub favor: usize,
    pub against: usize,
    pub none: usize,
    pub actors: Vec<DocActor>,
}

/// Corpus totals.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    pub documents: usize,
    pub statements: usize,
    pub attributed: usize,
    pub unattributed: usize,
    pub favor: usize,
    pub against: usize,
    pub none: usize,
    pub by_attribution: std::collections::BTreeMap<String, usize>,
    pub fragments_without_words: usize,
    /// Documents with no statement (empty, or no sentence with words); kept and counted.
    #[serde(default)]
    pub empty_documents: usize,
    pub actors: usize,
}

impl Totals {
    pub fn merge(&mut self, o: &Totals) {
        self.documents += o.documents;
        self.statements += o.statements;
        self.attributed += o.attributed;
        self.unattributed += o.unattributed;
        self.favor += o.favor;
        self.against += o.against;
        self.none += o.none;
        for (k, v) in &o.by_attribution {
            *self.by_attribution.entry(k.clone()).or_default() += v;
        }
        self.fragments_without_words += o.fragments_without_words;
        self.empty_documents += o.empty_documents;
    }
}

/// The actors of one or more documents that share one actor table: same kind, same names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Group {
    /// The names, with how often each was used over all the group's documents.
    pub names: NameVariants,
    pub tally: Tally,
    pub evidence: EvidenceSet,
}

/// What an aggregator holds: everything needed to finish a run or to add it to another.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Partial {
    pub groups: Vec<Group>,
    pub totals: Totals,
}

/// One document actor: its name in the document, its group, its counts there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DocGroup {
    pub name: String,
    pub group: usize,
    pub tally: Tally,
}

/// One document as the aggregator saw it, before corpus-level names exist. `ordinal` is the
/// document's position in the input (what orders the outputs); `doc.actors` is empty and
/// `groups` holds its actors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DocEntry {
    pub ordinal: u64,
    pub doc: DocRecord,
    pub groups: Vec<DocGroup>,
}

type GroupKey = (Option<ActorKind>, Vec<String>);

fn group_key(v: &NameVariants) -> GroupKey {
    (v.kind, v.variants.keys().cloned().collect())
}

/// Streaming aggregator.
#[derive(Debug, Default)]
pub struct Aggregator {
    index: HashMap<GroupKey, usize>,
    partial: Partial,
}

impl Aggregator {
    pub fn new() -> Aggregator {
        Aggregator::default()
    }

    /// Continues from a saved state.
    pub fn from_partial(partial: Partial) -> Aggregator {
        let index = partial
            .groups
            .iter()
            .enumerate()
            .map(|(i, g)| (group_key(&g.names), i))
            .collect();
        Aggregator { index, partial }
    }

    pub fn partial(&self) -> &Partial {
        &self.partial
    }

    pub fn into_partial(self) -> Partial {
        self.partial
    }

    fn group_of(&mut self, names: &NameVariants) -> usize {
        let key = group_key(names);
        if let Some(&g) = self.index.get(&key) {
            for (n, c) in &names.variants {
                *self.partial.groups[g]
                    .names
                    .variants
                    .entry(n.clone())
                    .or_default() += c;
            }
            return g;
        }
        self.partial.groups.push(Group {
            names: names.clone(),
            tally: Tally::default(),
            evidence: EvidenceSet::default(),
        });
        let g = self.partial.groups.len() - 1;
        self.index.insert(key, g);
        g
    }

    /// Adds one scored document. Statements without scores count as NONE with a zero score.
    pub fn add(&mut self, ds: &DocStatements, ordinal: u64) -> DocEntry {
        let mut doc_groups: Vec<DocGroup> = ds
            .actors
            .iter()
            .map(|a| DocGroup {
                name: a.canonical(),
                group: self.group_of(a),
                tally: Tally::default(),
            })
            .collect();
        let mut doc_tally = Tally::default();
        let mut attributed = 0;
        let totals = &mut self.partial.totals;
        for s in &ds.statements {
            let (label, diff) = stance_of(s);
            doc_tally.add(label, diff);
            *totals
                .by_attribution
                .entry(s.attribution.as_str().to_string())
                .or_default() += 1;
            let Some(sp) = &s.speaker else { continue };
            attributed += 1;
            let Some(dg) = doc_groups.iter_mut().find(|g| &g.name == sp) else {
                continue;
            };
            dg.tally.add(label, diff);
            let group = &mut self.partial.groups[dg.group];
            group.tally.add(label, diff);
            if let Some(scores) = s.scores {
                group.evidence.offer(Evidence {
                    doc_id: s.doc_id.clone(),
                    statement_id: s.statement_id.clone(),
                    start: s.start,
                    end: s.end,
                    text: s.text.clone(),
                    quote: s.quote,
                    stance: label,
                    confidence: scores.get(label),
                    attribution: s.attribution,
                });
            }
        }
        totals.documents += 1;
        if ds.statements.is_empty() {
            totals.empty_documents += 1;
        }
        totals.statements += ds.statements.len();
        totals.attributed += attributed;
        totals.unattributed += ds.statements.len() - attributed;
        totals.favor += doc_tally.favor;
        totals.against += doc_tally.against;
        totals.none += doc_tally.none;
        totals.fragments_without_words += ds.fragments_without_words;
        DocEntry {
            ordinal,
            doc: DocRecord {
                doc_id: ds.doc.id.clone(),
                title: ds.doc.title.clone(),
                date: ds.doc.date.clone(),
                url: ds.doc.url.clone(),
                statements: ds.statements.len(),
                attributed,
                favor: doc_tally.favor,
                against: doc_tally.against,
                none: doc_tally.none,
                actors: Vec::new(),
            },
            groups: doc_groups,
        }
    }

    /// Adds another aggregator's state (a shard); returns where each of its groups went.
    pub fn absorb(&mut self, other: Partial) -> Vec<usize> {
        let mut remap = Vec::with_capacity(other.groups.len());
        for g in other.groups {
            let i = self.group_of(&g.names);
            let mine = &mut self.partial.groups[i];
            mine.tally.merge(&g.tally);
            mine.evidence.merge(&g.evidence);
            remap.push(i);
        }
        self.partial.totals.merge(&other.totals);
        remap
    }
}

/// The corpus actors, and which of them each group belongs to.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// Sorted by statements (most first), then name. `documents` counts are filled in by
    /// [`Resolved::doc_record`] as documents go by.
    pub actors: Vec<ActorRecord>,
    /// For each group of the [`Partial`], its actor's index in `actors`.
    pub group_actor: Vec<usize>,
}

/// Merges the groups into corpus actors and makes their records.
pub fn resolve(p: &Partial) -> Resolved {
    let tables: Vec<NameVariants> = p.groups.iter().map(|g| g.names.clone()).collect();
    let (assign, merged) = resolve_corpus(&tables);
    let names: Vec<String> = merged.iter().map(|m| m.canonical()).collect();
    let mut tallies = vec![Tally::default(); merged.len()];
    let mut evidence = vec![EvidenceSet::default(); merged.len()];
    for (g, &a) in assign.iter().enumerate() {
        tallies[a].merge(&p.groups[g].tally);
        evidence[a].merge(&p.groups[g].evidence);
    }
    let mut actors: Vec<(usize, ActorRecord)> = merged
        .iter()
        .enumerate()
        .map(|(a, m)| {
            let t = &tallies[a];
            let overall = t.overall();
            let first = match overall {
                Overall::Favor | Overall::Mixed => [Label::Favor, Label::Against, Label::None],
                Overall::Against => [Label::Against, Label::Favor, Label::None],
                Overall::None => [Label::None, Label::Favor, Label::Against],
            };
            let ev: Vec<Evidence> = first
                .into_iter()
                .flat_map(|l| evidence[a].for_label(l).cloned().collect::<Vec<_>>())
                .collect();
            let mut aliases: Vec<String> = m
                .variants
                .keys()
                .filter(|v| **v != names[a])
                .cloned()
                .collect();
            aliases.sort();
            let iv = t.interval();
            let record = ActorRecord {
                actor: names[a].clone(),
                aliases,
                kind: m.kind.unwrap_or(ActorKind::Person),
                statements: t.statements,
                favor: t.favor,
                against: t.against,
                none: t.none,
                stance: overall,
                score: round3(t.score()),
                interval: [round3(iv[0]), round3(iv[1])],
                documents: 0,
                evidence: ev,
            };
            (a, record)
        })
        .collect();
    actors.sort_by(|(_, a), (_, b)| {
        b.statements
            .cmp(&a.statements)
            .then(a.actor.cmp(&b.actor))
            .then(a.kind.cmp(&b.kind))
    });
    let mut position = vec![0; merged.len()];
    for (pos, (a, _)) in actors.iter().enumerate() {
        position[*a] = pos;
    }
    Resolved {
        actors: actors.into_iter().map(|(_, r)| r).collect(),
        group_actor: assign.iter().map(|&a| position[a]).collect(),
    }
}

impl Resolved {
    /// A document's final record: its actors under their corpus names (document actors that
    /// are one corpus actor are added up). Counts the document for each of its actors. Returns
    /// the record and each document-level name's corpus name, for its statements.
    pub fn doc_record(&mut self, e: DocEntry) -> (DocRecord, HashMap<String, String>) {
        let mut doc = e.doc;
        let mut renames = HashMap::new();
        let mut by_actor: Vec<(usize, Tally)> = Vec::new();
        for g in e.groups {
            let a = self.group_actor[g.group];
            renames.insert(g.name, self.actors[a].actor.clone());
            match by_actor.iter_mut().find(|(x, _)| *x == a) {
                Some((_, t)) => t.merge(&g.tally),
                None => by_actor.push((a, g.tally)),
            }
        }
        for (a, t) in by_actor {
            self.actors[a].documents += 1;
            doc.actors.push(DocActor {
                actor: self.actors[a].actor.clone(),
                statements: t.statements,
                favor: t.favor,
                against: t.against,
                none: t.none,
                stance: t.overall(),
                score: round3(t.score()),
            });
        }
        doc.actors
            .sort_by(|a, b| b.statements.cmp(&a.statements).then(a.actor.cmp(&b.actor)));
        (doc, renames)
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// A statement's label and P(FAVOR) − P(AGAINST); unscored statements count as NONE, 0.
fn stance_of(s: &Statement) -> (Label, f64) {
    match (s.stance, s.scores) {
        (Some(l), Some(sc)) => (l, sc.favor as f64 - sc.against as f64),
        (Some(l), None) => (l, 0.0),
        _ => (Label::None, 0.0),
    }
}

/// Applies the corpus-level names to a statement written with its document-level name.
pub fn rename(s: &mut Statement, renames: &HashMap<String, String>) {
    if let Some(sp) = &s.speaker {
        if let Some(n) = renames.get(sp) {
            s.speaker = Some(n.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attribute::Attribution;
    use crate::corpus::Document;
    use crate::model::Scores;
    use std::collections::BTreeMap;

    fn doc(id: &str, rows: &[(&str, Label, f32)]) -> DocStatements {
        let mut actors: Vec<NameVariants> = Vec::new();
        let statements = rows
            .iter()
            .enumerate()
            .map(|(i, (sp, l, p))| {
                if !sp.is_empty() && !actors.iter().any(|a| a.canonical() == *sp) {
                    actors.push(NameVariants {
                        kind: Some(ActorKind::Person),
                        variants: BTreeMap::from([(sp.to_string(), 1)]),
                    });
                }
                let rest = (1.0 - p) / 2.0;
                let scores = match l {
                    Label::Favor => Scores {
                        favor: *p,
                        against: rest,
                        none: rest,
                    },
                    Label::Against => Scores {
                        favor: rest,
                        against: *p,
                        none: rest,
                    },
                    Label::None => Scores {
                        favor: rest,
                        against: rest,
                        none: *p,
                    },
                };
                Statement {
                    doc_id: id.into(),
                    statement_id: format!("{id}:{i}"),
                    start: i * 10,
                    end: i * 10 + 5,
                    text: format!("s{i}"),
                    quote: None,
                    paragraph: 0,
                    speaker: (!sp.is_empty()).then(|| sp.to_string()),
                    mention: None,
                    speaker_kind: None,
                    attribution: if sp.is_empty() {
                        Attribution::None
                    } else {
                        Attribution::Indirect
                    },
                    target: "T".into(),
                    stance: Some(*l),
                    scores: Some(scores),
                }
            })
            .collect();
        DocStatements {
            doc: Document {
                id: id.into(),
                text: String::new(),
                title: None,
                date: None,
                source: None,
                url: None,
            },
            statements,
            actors,
            sentences: rows.len(),
            fragments_without_words: 0,
        }
    }

    /// Adds documents in order and finishes: the actors and the document records.
    fn run(docs: &[DocStatements]) -> (Resolved, Vec<DocRecord>, Totals) {
        let mut ag = Aggregator::new();
        let entries: Vec<DocEntry> = docs
            .iter()
            .enumerate()
            .map(|(i, d)| ag.add(d, i as u64))
            .collect();
        let mut r = resolve(ag.partial());
        let records = entries.into_iter().map(|e| r.doc_record(e).0).collect();
        (r, records, ag.into_partial().totals)
    }

    #[test]
    fn counts_scores_and_labels_per_actor_across_documents() {
        let mut ag = Aggregator::new();
        let e1 = ag.add(
            &doc(
                "d1",
                &[
                    ("Edward Lucas", Label::Against, 0.8),
                    ("", Label::None, 0.9),
                    ("Ann Lee", Label::Favor, 0.7),
                ],
            ),
            0,
        );
        let e2 = ag.add(
            &doc(
                "d2",
                &[
                    ("Edward Lukass", Label::Against, 0.6),
                    ("Ann Lee", Label::Against, 0.9),
                    ("Ann Lee", Label::Favor, 0.9),
                ],
            ),
            1,
        );
        let totals = &ag.partial().totals;
        assert_eq!(totals.documents, 2);
        assert_eq!(totals.statements, 6);
        assert_eq!(totals.attributed, 5);
        assert_eq!(totals.unattributed, 1);
        assert_eq!(totals.favor + totals.against + totals.none, 6);
        // "Ann Lee" has the same table in both documents: one group.
        assert_eq!(ag.partial().groups.len(), 3);
        let mut r = resolve(ag.partial());
        assert_eq!(r.actors.len(), 2, "Lucas/Lukass merged: {:?}", r.actors);
        let (d1, _) = r.doc_record(e1);
        let (d2, renames) = r.doc_record(e2);
        let lucas = r
            .actors
            .iter()
            .find(|a| a.actor.starts_with("Edward"))
            .unwrap();
        assert_eq!(
            (lucas.statements, lucas.against, lucas.documents),
            (2, 2, 2)
        );
        assert_eq!(lucas.stance, Overall::Against);
        // mean of (0.1-0.8) and (0.2-0.6)
        assert!((lucas.score - (-0.55)).abs() < 1e-6, "{}", lucas.score);
        assert!(lucas.interval[0] < lucas.score && lucas.score < lucas.interval[1]);
        assert_eq!(lucas.evidence[0].confidence, 0.8);
        let lee = r.actors.iter().find(|a| a.actor == "Ann Lee").unwrap();
        assert_eq!(lee.stance, Overall::Mixed);
        assert_eq!(lee.documents, 2);
        assert_eq!(renames["Edward Lukass"], lucas.actor);
        assert_eq!(d1.actors.len(), 2);
        assert_eq!(d2.actors.len(), 2);
        assert_eq!(d2.actors[0].actor, "Ann Lee");
    }

    /// Regression: on 16 copies of a corpus, corpus-level name merging gave 985 actors where
    /// one copy gave 535, because the merge depended on the order and number of per-document
    /// tables. Repeating the documents (with new ids) must multiply every count and change no
    /// actor; splitting them into shards and adding the aggregates must change nothing at all.
    #[test]
    fn actors_do_not_depend_on_corpus_size_order_or_shards() {
        let base = vec![
            doc(
                "a",
                &[
                    ("Edward Lucas", Label::Against, 0.8),
                    ("Lucas", Label::Against, 0.7),
                ],
            ),
            doc("b", &[("Lucas", Label::Favor, 0.6)]),
            doc(
                "c",
                &[
                    ("Edward Lukass", Label::None, 0.5),
                    ("John Smith", Label::Favor, 0.9),
                ],
            ),
            doc(
                "d",
                &[
                    ("Smith", Label::Favor, 0.55),
                    ("Anna Smith", Label::Against, 0.6),
                ],
            ),
            doc("e", &[("Smith", Label::None, 0.8)]),
            doc("f", &[("Trenin", Label::None, 0.7)]),
            doc(
                "g",
                &[
                    ("Dmitri Trenin", Label::None, 0.9),
                    ("Trennin", Label::Favor, 0.5),
                ],
            ),
        ];
        let (one, _, _) = run(&base);
        let names = |r: &Resolved| {
            let mut v: Vec<(String, Vec<String>, usize)> = r
                .actors
                .iter()
                .map(|a| (a.actor.clone(), a.aliases.clone(), a.statements))
                .collect();
            v.sort();
            v
        };
        let mut many = Vec::new();
        for copy in 0..4 {
            // Copies in a different order each time.
            let mut c = base.clone();
            c.rotate_left(copy * 2 % base.len());
            for d in &mut c {
                d.doc.id = format!("{}~{copy}", d.doc.id);
            }
            many.extend(c);
        }
        let (four, _, _) = run(&many);
        let scaled: Vec<_> = names(&one)
            .into_iter()
            .map(|(n, al, s)| (n, al, s * 4))
            .collect();
        assert_eq!(names(&four), scaled);
        for (a, b) in one.actors.iter().zip(&four.actors) {
            assert_eq!(
                (a.actor.as_str(), a.score, a.stance),
                (b.actor.as_str(), b.score, b.stance)
            );
        }
        // Shards: every third document, aggregated apart and absorbed, equal the whole.
        let whole = {
            let mut ag = Aggregator::new();
            for (i, d) in many.iter().enumerate() {
                ag.add(d, i as u64);
            }
            ag.into_partial()
        };
        let mut merged = Aggregator::new();
        for s in 0..3 {
            let mut ag = Aggregator::new();
            for (i, d) in many.iter().enumerate().filter(|(i, _)| i % 3 == s) {
                ag.add(d, i as u64);
            }
            merged.absorb(ag.into_partial());
        }
        let merged = merged.into_partial();
        assert_eq!(merged.totals, whole.totals);
        let (rw, rm) = (resolve(&whole), resolve(&merged));
        assert_eq!(rw.actors, rm.actors, "sums are exact, so records are equal");
    }

    #[test]
    fn overall_label_rules() {
        let mut t = Tally::default();
        assert_eq!(t.overall(), Overall::None);
        t.add(Label::None, 0.0);
        assert_eq!(t.overall(), Overall::None);
        t.add(Label::Favor, 0.8);
        assert_eq!(t.overall(), Overall::Favor);
        for _ in 0..3 {
            t.add(Label::Favor, 0.5);
        }
        t.add(Label::Against, -0.5);
        assert_eq!(t.overall(), Overall::Favor, "1 of 5 is below 30%");
        t.add(Label::Against, -0.5);
        assert_eq!(t.overall(), Overall::Mixed);
    }

    #[test]
    fn interval_narrows_with_more_evidence() {
        let mut one = Tally::default();
        one.add(Label::Favor, 0.6);
        let mut many = Tally::default();
        for _ in 0..20 {
            many.add(Label::Favor, 0.6);
        }
        let w1 = one.interval()[1] - one.interval()[0];
        let w20 = many.interval()[1] - many.interval()[0];
        assert!(w1 > 1.0 && w20 < 0.3, "{w1} {w20}");
    }

    #[test]
    fn evidence_keeps_the_strongest_per_label() {
        let mut e = EvidenceSet::default();
        for i in 0..6 {
            e.offer(Evidence {
                doc_id: "d".into(),
                statement_id: format!("d:{i}"),
                start: i,
                end: i + 1,
                text: String::new(),
                quote: None,
                stance: Label::Favor,
                confidence: i as f32 / 10.0,
                attribution: Attribution::Indirect,
            });
        }
        let c: Vec<f32> = e.for_label(Label::Favor).map(|x| x.confidence).collect();
        assert_eq!(c, [0.5, 0.4, 0.3]);
    }
}
