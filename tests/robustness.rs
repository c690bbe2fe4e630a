//! Never panic on user input: segmentation, attribution and actor resolution on many random
//! texts built from the characters that matter (quote marks, terminals, line breaks, multi-byte
//! letters), with every offset checked against the text.

use standpoint::corpus::Document;
use standpoint::lexicon::{ActorTable, Lexicon};
use standpoint::statements::prepare;

mod common;

use common::Rng;

fn pick<'a>(rng: &mut Rng, xs: &'a [&'a str]) -> &'a str {
    xs[(rng.next() % xs.len() as u64) as usize]
}

const PIECES: &[&str] = &[
    "“",
    "”",
    "„",
    "«",
    "»",
    "\"",
    "'",
    "’",
    ".",
    ". ",
    "? ",
    "! ",
    "…",
    ":",
    ": ",
    ",",
    ", ",
    " ",
    "\n",
    "\n\n",
    "\r\n",
    "–",
    "(",
    ")",
    "Mr.",
    "U.S.",
    "J.",
    "said",
    "says",
    "according to",
    "According to him,",
    "he",
    "She",
    "Lavrov",
    "Sergei",
    "Moscow",
    "NATO",
    "the",
    "is convinced that",
    "pointed out",
    "demanding",
    "Президент",
    "Žižek",
    "李",
    "🙂",
    "é",
    "3.5",
    "1997",
    "x",
    "and",
    "Minister",
    "of",
    "Head of the",
    "Office",
    "Yermak:",
    "Putin",
    "President",
    "The",
];

#[test]
fn random_texts_never_panic_and_offsets_hold() {
    let lex = Lexicon::builtin();
    let actors = ActorTable::builtin();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for case in 0..3000 {
        let n = 1 + (rng.next() % 60) as usize;
        let text: String = (0..n)
            .map(|_| pick(&mut rng, PIECES))
            .collect::<Vec<_>>()
            .join(if rng.next().is_multiple_of(2) {
                " "
            } else {
                ""
            });
        let doc = Document {
            id: format!("c{case}"),
            text: text.clone(),
            title: None,
            date: None,
            source: None,
            url: None,
        };
        let ds = prepare(doc, "T", &lex, &actors);
        let mut last_end = 0;
        for s in &ds.statements {
            assert!(
                s.start < s.end && s.end <= text.len(),
                "case {case}: {text:?}"
            );
            assert!(
                s.start >= last_end,
                "statements overlap or go backwards in {text:?}"
            );
            last_end = s.end;
            assert_eq!(&text[s.start..s.end], s.text);
            if let Some(q) = s.quote {
                assert!(
                    q.start >= s.start && q.end <= s.end && q.start < q.end,
                    "case {case}: {text:?}"
                );
                assert!(text.is_char_boundary(q.start) && text.is_char_boundary(q.end));
            }
            if let Some(sp) = &s.speaker {
                assert!(!sp.trim().is_empty());
            }
            let _ = s.model_text(&text);
        }
    }
}

#[test]
fn degenerate_documents() {
    let lex = Lexicon::builtin();
    let actors = ActorTable::builtin();
    for text in [
        "",
        " ",
        "\n\n\n",
        "“",
        "”",
        "“”",
        "...",
        "“said X.",
        ":",
        "A:",
        "Putin:",
        "–\n–",
        "\"\"\"\"",
        "«»«",
        "Mr.",
    ] {
        let doc = Document {
            id: "d".into(),
            text: text.into(),
            title: None,
            date: None,
            source: None,
            url: None,
        };
        let ds = prepare(doc, "T", &lex, &actors);
        for s in &ds.statements {
            assert_eq!(&text[s.start..s.end], s.text);
        }
    }
}
