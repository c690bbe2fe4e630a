//! Stage 5: aggregation of stance labels per actor, per document and over the corpus.
//!
//! Statements are added as they are scored (streaming): the aggregator keeps running sums and a
//! few evidence statements per actor and document, never the statements themselves. Actors are
//! first kept per document; [`Aggregator::finish`] merges them across the corpus
//! ([`crate::actors::resolve_corpus`]) and returns the final records and the name map to apply
//! to `statements.jsonl`.
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

/// Running sums for one actor (or one document).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Tally {
    pub statements: usize,
    pub favor: usize,
    pub against: usize,
    pub none: usize,
    /// Sum and sum of squares of P(FAVOR) − P(AGAINST).
    pub sum: f64,
    pub sum_sq: f64,
}

impl Tally {
    pub fn add(&mut self, label: Label, diff: f64) {
        self.statements += 1;
        match label {
            Label::Favor => self.favor += 1,
            Label::Against => self.against += 1,
            Label::None => self.none += 1,
        }
        self.sum += diff;
        self.sum_sq += diff * diff;
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
            self.sum / self.statements as f64
        }
    }

    /// Approximate 95% interval of the score (see the module documentation).
    pub fn interval(&self) -> [f64; 2] {
        let n = self.statements as f64;
        if n == 0.0 {
            return [-1.0, 1.0];
        }
        let m = self.score();
        let ss = (self.sum_sq - n * m * m).max(0.0);
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
    pub actors: usize,
}

#[derive(Debug, Clone)]
struct DocPartial {
    doc: DocRecord,
    /// Index of each document actor in `Aggregator::doc_actors`.
    actor_ids: Vec<usize>,
}

/// Streaming aggregator.
#[derive(Debug, Default)]
pub struct Aggregator {
    doc_actors: Vec<NameVariants>,
    tallies: Vec<Tally>,
    evidence: Vec<EvidenceSet>,
    doc_of: Vec<usize>,
    docs: Vec<DocPartial>,
    totals: Totals,
}

/// What [`Aggregator::finish`] returns.
#[derive(Debug, Clone)]
pub struct Aggregated {
    pub actors: Vec<ActorRecord>,
    pub documents: Vec<DocRecord>,
    pub totals: Totals,
    /// Document-level speaker name → corpus actor name, per document id.
    pub renames: HashMap<(String, String), String>,
}

impl Aggregator {
    pub fn new() -> Aggregator {
        Aggregator::default()
    }

    /// Adds one scored document. Statements without scores count as NONE with a zero score.
    pub fn add(&mut self, ds: &DocStatements) {
        let doc_index = self.docs.len();
        let base = self.doc_actors.len();
        let canon: Vec<String> = ds.actors.iter().map(|a| a.canonical()).collect();
        for a in &ds.actors {
            self.doc_actors.push(a.clone());
            self.tallies.push(Tally::default());
            self.evidence.push(EvidenceSet::default());
            self.doc_of.push(doc_index);
        }
        let mut doc_tally = Tally::default();
        let mut attributed = 0;
        for s in &ds.statements {
            let (label, diff) = stance_of(s);
            doc_tally.add(label, diff);
            *self
                .totals
                .by_attribution
                .entry(s.attribution.as_str().to_string())
                .or_default() += 1;
            let Some(sp) = &s.speaker else { continue };
            attributed += 1;
            let Some(k) = canon.iter().position(|c| c == sp) else {
                continue;
            };
            self.tallies[base + k].add(label, diff);
            if let Some(scores) = s.scores {
                self.evidence[base + k].offer(Evidence {
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
        self.totals.documents += 1;
        self.totals.statements += ds.statements.len();
        self.totals.attributed += attributed;
        self.totals.unattributed += ds.statements.len() - attributed;
        self.totals.favor += doc_tally.favor;
        self.totals.against += doc_tally.against;
        self.totals.none += doc_tally.none;
        self.totals.fragments_without_words += ds.fragments_without_words;
        self.docs.push(DocPartial {
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
            actor_ids: (base..base + ds.actors.len()).collect(),
        });
    }

    /// Merges actors across the corpus and produces the records.
    pub fn finish(self) -> Aggregated {
        let (assign, merged) = resolve_corpus(&self.doc_actors);
        let names: Vec<String> = merged.iter().map(|m| m.canonical()).collect();
        let mut tallies = vec![Tally::default(); merged.len()];
        let mut evidence = vec![EvidenceSet::default(); merged.len()];
        let mut doc_sets: Vec<std::collections::BTreeSet<usize>> =
            vec![Default::default(); merged.len()];
        for (i, &a) in assign.iter().enumerate() {
            tallies[a].merge(&self.tallies[i]);
            evidence[a].merge(&self.evidence[i]);
            doc_sets[a].insert(self.doc_of[i]);
        }
        let mut renames = HashMap::new();
        let mut documents = Vec::with_capacity(self.docs.len());
        for d in self.docs {
            let mut doc = d.doc;
            for &i in &d.actor_ids {
                let t = &self.tallies[i];
                let name = names[assign[i]].clone();
                renames.insert(
                    (doc.doc_id.clone(), self.doc_actors[i].canonical()),
                    name.clone(),
                );
                doc.actors.push(DocActor {
                    actor: name,
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
            documents.push(doc);
        }
        let mut actors: Vec<ActorRecord> = merged
            .iter()
            .enumerate()
            .map(|(a, m)| {
                let t = &tallies[a];
                let overall = t.overall();
                let first = match overall {
                    Overall::Favor => vec![Label::Favor, Label::Against, Label::None],
                    Overall::Against => vec![Label::Against, Label::Favor, Label::None],
                    Overall::Mixed => vec![Label::Favor, Label::Against, Label::None],
                    Overall::None => vec![Label::None, Label::Favor, Label::Against],
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
                ActorRecord {
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
                    documents: doc_sets[a].len(),
                    evidence: ev,
                }
            })
            .collect();
        actors.sort_by(|a, b| b.statements.cmp(&a.statements).then(a.actor.cmp(&b.actor)));
        let mut totals = self.totals;
        totals.actors = actors.len();
        Aggregated {
            actors,
            documents,
            totals,
            renames,
        }
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
pub fn rename(s: &mut Statement, renames: &HashMap<(String, String), String>) {
    if let Some(sp) = &s.speaker {
        if let Some(n) = renames.get(&(s.doc_id.clone(), sp.clone())) {
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

    #[test]
    fn counts_scores_and_labels_per_actor_across_documents() {
        let mut ag = Aggregator::new();
        ag.add(&doc(
            "d1",
            &[
                ("Edward Lucas", Label::Against, 0.8),
                ("", Label::None, 0.9),
                ("Ann Lee", Label::Favor, 0.7),
            ],
        ));
        ag.add(&doc(
            "d2",
            &[
                ("Edward Lukass", Label::Against, 0.6),
                ("Ann Lee", Label::Against, 0.9),
                ("Ann Lee", Label::Favor, 0.9),
            ],
        ));
        let out = ag.finish();
        assert_eq!(out.totals.documents, 2);
        assert_eq!(out.totals.statements, 6);
        assert_eq!(out.totals.attributed, 5);
        assert_eq!(out.totals.unattributed, 1);
        assert_eq!(out.totals.favor + out.totals.against + out.totals.none, 6);
        assert_eq!(out.actors.len(), 2, "Lucas/Lukass merged: {:?}", out.actors);
        let lucas = out
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
        let lee = out.actors.iter().find(|a| a.actor == "Ann Lee").unwrap();
        assert_eq!(lee.stance, Overall::Mixed);
        let renamed = &out.renames[&("d2".to_string(), "Edward Lukass".to_string())];
        assert_eq!(renamed, &lucas.actor);
        assert_eq!(out.documents[1].actors.len(), 2);
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
