//! `statements::prepare` (segmentation, attribution, per-document actor resolution) on
//! arbitrary UTF-8, with the invariants of tests/robustness.rs, and every speaker the canonical
//! name of one of the document's actors.
#![no_main]

use libfuzzer_sys::fuzz_target;
use standpoint::corpus::Document;
use standpoint::lexicon::{ActorTable, Lexicon};
use standpoint::statements::prepare;
use std::sync::OnceLock;

fn tables() -> &'static (Lexicon, ActorTable) {
    static T: OnceLock<(Lexicon, ActorTable)> = OnceLock::new();
    T.get_or_init(|| (Lexicon::builtin(), ActorTable::builtin()))
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (lex, actors) = tables();
    let doc = Document {
        id: "f".into(),
        text: text.to_string(),
        title: None,
        date: None,
        source: None,
        url: None,
    };
    let ds = prepare(doc, "T", lex, actors);
    assert_eq!(ds.doc.text, text);
    assert_eq!(
        ds.statements.len(),
        ds.sentences,
        "one statement per sentence"
    );
    let canonical: Vec<String> = ds.actors.iter().map(|a| a.canonical()).collect();
    let mut last_end = 0;
    for (i, s) in ds.statements.iter().enumerate() {
        assert_eq!(s.statement_id, format!("f:{i}"));
        assert!(
            s.start < s.end && s.end <= text.len(),
            "statement {i} offsets"
        );
        assert!(s.start >= last_end, "statements overlap or go backwards");
        last_end = s.end;
        assert!(text.is_char_boundary(s.start) && text.is_char_boundary(s.end));
        assert_eq!(&text[s.start..s.end], s.text);
        if let Some(q) = s.quote {
            assert!(
                q.start >= s.start && q.end <= s.end && q.start < q.end,
                "statement {i}: quote {q:?} outside [{}, {})",
                s.start,
                s.end
            );
            assert!(text.is_char_boundary(q.start) && text.is_char_boundary(q.end));
        }
        match &s.speaker {
            Some(sp) => {
                assert!(!sp.trim().is_empty(), "statement {i}: blank speaker");
                assert!(
                    canonical.contains(sp),
                    "statement {i}: speaker {sp:?} is none of the actors {canonical:?}"
                );
                assert!(
                    s.mention.is_some(),
                    "statement {i}: speaker without mention"
                );
            }
            None => assert!(
                s.mention.is_none(),
                "statement {i}: mention without speaker"
            ),
        }
        let _ = s.model_text(text);
    }
});
