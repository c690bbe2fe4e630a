//! From a document to its statements: segmentation, attribution and per-document actor
//! resolution, combined into the statement records that the stance model scores and that
//! `statements.jsonl` holds.

use crate::actors::{complete_surname, resolve_document, NameUse, NameVariants};
use crate::attribute::{attribute_document, Attribution};
use crate::corpus::Document;
use crate::lexicon::{ActorKind, ActorTable, Lexicon};
use crate::model::{Label, Scores};
use crate::segment::{quotes_read, segment, whole_marks, Span};
use serde::{Deserialize, Serialize};

/// One statement: a sentence of a document with its speaker and (once scored) its stance.
/// The field names are the `statements.jsonl` format.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Statement {
    pub doc_id: String,
    /// `{doc_id}:{n}`, n counting the document's statements from 0.
    pub statement_id: String,
    /// Byte offsets of the sentence in the document's text.
    pub start: usize,
    pub end: usize,
    pub text: String,
    /// Byte offsets of the quoted words, when the sentence holds a quotation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quote: Option<Span>,
    pub paragraph: usize,
    /// The speaker's canonical name, or null.
    pub speaker: Option<String>,
    /// The words that name the speaker in the text, or null.
    pub mention: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speaker_kind: Option<ActorKind>,
    pub attribution: Attribution,
    pub target: String,
    pub stance: Option<Label>,
    pub scores: Option<Scores>,
}

impl Statement {
    /// The words the stance model reads: the quotation when there is one, else the sentence,
    /// with runs of whitespace (line breaks inside a sentence) made single spaces.
    pub fn model_text<'a>(&'a self, doc_text: &'a str) -> String {
        let raw = match self.quote {
            Some(q) => q.slice(doc_text),
            None => &self.text,
        };
        raw.split_whitespace().collect::<Vec<_>>().join(" ")
    }
}

/// A document turned into statements, with its actors before corpus-level merging.
#[derive(Debug, Clone)]
pub struct DocStatements {
    pub doc: Document,
    pub statements: Vec<Statement>,
    /// The document's actors: each statement's `speaker` is the canonical name of one of these.
    pub actors: Vec<NameVariants>,
    pub sentences: usize,
    pub fragments_without_words: usize,
}

/// Segments, attributes and resolves one document. Statements are unscored.
pub fn prepare(doc: Document, target: &str, lex: &Lexicon, actors: &ActorTable) -> DocStatements {
    // Offsets are the same in the text the stages read and in the document's own text.
    let read = quotes_read(&doc.text);
    let seg = segment(&read);
    let (att, full_names) = attribute_document(&read, &seg, lex, actors);
    // A speaker named by surname alone takes the full name the document gives that person
    // elsewhere, whether or not that mention is attributed ("Claire Dubois spoke about …").
    let named: Vec<(usize, String)> = full_names
        .into_iter()
        .map(|n| (n.span.start, n.name))
        .collect();
    let names: Vec<&str> = att
        .iter()
        .filter_map(|a| a.speaker.as_ref())
        .map(|s| {
            let single = s.kind == ActorKind::Person && !s.name.contains(char::is_whitespace);
            single
                .then(|| complete_surname(&s.name, s.span.start, &named))
                .flatten()
                .unwrap_or(&s.name)
        })
        .collect();
    let uses: Vec<NameUse> = att
        .iter()
        .filter_map(|a| a.speaker.as_ref())
        .zip(&names)
        .map(|(s, name)| NameUse { name, kind: s.kind })
        .collect();
    let (assign, clusters) = resolve_document(&uses);
    let canon: Vec<String> = clusters.iter().map(|c| c.canonical()).collect();
    let mut next = 0;
    let statements = seg
        .sentences
        .iter()
        .zip(&att)
        .enumerate()
        .map(|(i, (s, a))| {
            let speaker = a.speaker.as_ref().map(|sp| {
                let c = assign[next];
                next += 1;
                (canon[c].clone(), sp.mention.clone(), clusters[c].kind)
            });
            // In a transcript turn the model reads the words after the label.
            let mut quote = s.quoted;
            if a.attribution == Attribution::SpeakerLabel {
                if let Some(sp) = &a.speaker {
                    if s.span.contains(sp.span.start) {
                        let after = &doc.text[sp.span.end..s.span.end];
                        if let Some(rest) = after.strip_prefix(':') {
                            let lead = rest.len() - rest.trim_start().len();
                            quote = Some(Span {
                                start: sp.span.end + 1 + lead,
                                end: s.span.end,
                            });
                        }
                    }
                }
            }
            let span = whole_marks(&doc.text, s.span);
            Statement {
                doc_id: doc.id.clone(),
                statement_id: format!("{}:{}", doc.id, i),
                start: span.start,
                end: span.end,
                text: span.slice(&doc.text).to_string(),
                quote,
                paragraph: s.paragraph,
                speaker: speaker.as_ref().map(|x| x.0.clone()),
                mention: speaker.as_ref().map(|x| x.1.clone()),
                speaker_kind: speaker.and_then(|x| x.2),
                attribution: a.attribution,
                target: target.to_string(),
                stance: None,
                scores: None,
            }
        })
        .collect();
    DocStatements {
        sentences: seg.sentences.len(),
        fragments_without_words: seg.fragments_without_words,
        doc,
        statements,
        actors: clusters,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(id: &str, text: &str) -> Document {
        Document {
            id: id.into(),
            text: text.into(),
            title: None,
            date: None,
            source: None,
            url: None,
        }
    }

    #[test]
    fn doubled_apostrophes_quote_and_statements_keep_the_original_text() {
        // Quotation marks written as two apostrophes, as in some news archives (PolNeAR's New
        // York Times articles): before, the whole paragraph was one statement with no speaker.
        let text = "''I got into this race to even the odds,'' Mrs. Clinton said. ''We have got to go big.''\n\nBack then, Ms. Ripert said, she found it ''very quiet.''";
        let ds = prepare(
            doc("d2", text),
            "NATO enlargement",
            &Lexicon::builtin(),
            &ActorTable::builtin(),
        );
        let got: Vec<(&str, Option<&str>, Attribution)> = ds
            .statements
            .iter()
            .map(|s| (s.text.as_str(), s.speaker.as_deref(), s.attribution))
            .collect();
        assert_eq!(
            got,
            [
                (
                    "''I got into this race to even the odds,'' Mrs. Clinton said.",
                    Some("Clinton"),
                    Attribution::DirectQuote
                ),
                (
                    "''We have got to go big.''",
                    Some("Clinton"),
                    Attribution::DirectQuote
                ),
                (
                    "Back then, Ms. Ripert said, she found it ''very quiet.''",
                    Some("Ripert"),
                    Attribution::DirectQuote
                ),
            ]
        );
        for s in &ds.statements {
            assert_eq!(&text[s.start..s.end], s.text);
        }
        assert_eq!(
            ds.statements[0].model_text(text),
            "I got into this race to even the odds,"
        );
        assert_eq!(ds.statements[1].model_text(text), "We have got to go big.");
    }

    #[test]
    fn statements_carry_offsets_speakers_and_merged_names() {
        let text = "Analyst Edward Lukass pointed out that talks failed. “We should talk,” said Edward Lucas. Lucas is also convinced that it works.";
        let doc = doc("d1", text);
        let ds = prepare(
            doc,
            "NATO enlargement",
            &Lexicon::builtin(),
            &ActorTable::builtin(),
        );
        assert_eq!(ds.statements.len(), 3);
        for s in &ds.statements {
            assert_eq!(&text[s.start..s.end], s.text);
            assert_eq!(s.speaker.as_deref(), Some("Edward Lucas"));
        }
        assert_eq!(ds.statements[0].mention.as_deref(), Some("Edward Lukass"));
        assert_eq!(ds.statements[1].attribution, Attribution::DirectQuote);
        assert_eq!(ds.statements[1].model_text(text), "We should talk,");
        assert_eq!(ds.statements[2].statement_id, "d1:2");
        assert_eq!(ds.actors.len(), 1);
    }

    #[test]
    fn a_surname_speaker_takes_the_full_name_of_an_unattributed_mention() {
        let text =
            "Jens Stoltenberg met Joe Biden on Tuesday. “The door remains open,” Stoltenberg \
                    told reporters. Later, Biden said the talks were useful.";
        let doc = doc("d2", text);
        let ds = prepare(
            doc,
            "NATO enlargement",
            &Lexicon::builtin(),
            &ActorTable::builtin(),
        );
        let speakers: Vec<Option<&str>> =
            ds.statements.iter().map(|s| s.speaker.as_deref()).collect();
        assert_eq!(
            speakers,
            [None, Some("Jens Stoltenberg"), Some("Joe Biden")]
        );
        // The mention is still the words of the text.
        assert_eq!(ds.statements[1].mention.as_deref(), Some("Stoltenberg"));
    }

    #[test]
    fn complete_surname_prefers_the_latest_earlier_full_name() {
        let named = vec![
            (0, "Joe Biden".to_string()),
            (50, "Hunter Biden".to_string()),
            (200, "Jill Biden".to_string()),
        ];
        assert_eq!(complete_surname("Biden", 100, &named), Some("Hunter Biden"));
        assert_eq!(complete_surname("Biden", 10, &named), Some("Joe Biden"));
        // Two different full names after it, none before: no guess.
        assert_eq!(complete_surname("Biden", 0, &named[1..]), None);
        assert_eq!(complete_surname("Lavrov", 100, &named), None);
        // A generational suffix is not the surname.
        let named = vec![(0, "Lloyd J. Austin III".to_string())];
        assert_eq!(
            complete_surname("Austin", 10, &named),
            Some("Lloyd J. Austin III")
        );
    }
}
