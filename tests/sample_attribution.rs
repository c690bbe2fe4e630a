//! The sample article (corpus/000_8ae8d45d1fdf4755.txt): the speakers a reader finds in it.
//! Expectations written by reading the article, not taken from the program's output.

use standpoint::attribute::Attribution;
use standpoint::corpus::Document;
use standpoint::lexicon::{ActorTable, Lexicon};
use standpoint::statements::{prepare, Statement};

fn sample() -> Vec<Statement> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/corpus/000_8ae8d45d1fdf4755.txt"
    );
    let text = std::fs::read_to_string(path).unwrap();
    let doc = Document {
        id: "sample".into(),
        text,
        title: None,
        date: None,
        source: None,
        url: None,
    };
    prepare(
        doc,
        "NATO enlargement",
        &Lexicon::builtin(),
        &ActorTable::builtin(),
    )
    .statements
}

fn speaker_of(st: &[Statement], starts: &str) -> (Option<String>, Attribution) {
    let s = st
        .iter()
        .find(|s| s.text.trim_start_matches(['“', '"']).starts_with(starts))
        .unwrap_or_else(|| panic!("no statement starts with {starts:?}"));
    (s.speaker.clone(), s.attribution)
}

#[test]
fn lavrovs_quote_is_lavrovs_not_stoltenbergs() {
    let st = sample();
    let (who, how) = speaker_of(&st, "This is also confirmed by the recent statement");
    assert_eq!(who.as_deref(), Some("Sergei Lavrov"));
    assert_eq!(how, Attribution::DirectQuote);
    let (who, _) = speaker_of(&st, "NATO is currently embarking");
    assert_eq!(who.as_deref(), Some("Sergei Lavrov"));
}

#[test]
fn quotes_spanning_paragraphs_go_to_their_speakers() {
    let st = sample();
    for start in [
        "Moscow insists",
        "I also believe that Russia",
        "Therefore, this could be an area",
    ] {
        assert_eq!(
            speaker_of(&st, start),
            (Some("Dmitry Trenin".into()), Attribution::DirectQuote),
            "{start}"
        );
    }
    for start in [
        "If they continue to insist",
        "This is because Washington",
        "And I think the Russians",
        "And that is to be expected",
    ] {
        assert_eq!(
            speaker_of(&st, start).0.as_deref(),
            Some("Debra Keigan"),
            "{start}"
        );
    }
    for start in [
        "We should not discuss",
        "There are a number of agreements",
        "We should also talk",
    ] {
        assert_eq!(
            speaker_of(&st, start),
            (Some("Edward Lucas".into()), Attribution::DirectQuote),
            "{start}"
        );
    }
}

#[test]
fn indirect_speech_pronouns_and_continuations() {
    let st = sample();
    assert_eq!(
        speaker_of(&st, "NATO Secretary General Jens Stoltenberg"),
        (Some("Jens Stoltenberg".into()), Attribution::Indirect)
    );
    assert_eq!(
        speaker_of(&st, "It is also not worth insisting"),
        (Some("Jens Stoltenberg".into()), Attribution::Continuation)
    );
    assert_eq!(
        speaker_of(&st, "According to him, no one is left"),
        (Some("Radoslav Sikorsky".into()), Attribution::Pronoun)
    );
    assert_eq!(
        speaker_of(&st, "According to him, the West has made"),
        (Some("Edward Lucas".into()), Attribution::Pronoun)
    );
    assert_eq!(
        speaker_of(&st, "Lucas is also convinced"),
        (Some("Edward Lucas".into()), Attribution::Indirect)
    );
    assert_eq!(
        speaker_of(&st, "According to Dmitry Trenin"),
        (Some("Dmitry Trenin".into()), Attribution::AccordingTo)
    );
    assert_eq!(
        speaker_of(&st, "Although the discussion").0.as_deref(),
        Some("Wendy Sherman")
    );
    assert_eq!(
        speaker_of(&st, "Russia wants NATO").0.as_deref(),
        Some("Russia")
    );
    assert_eq!(
        speaker_of(&st, "United States promised").0.as_deref(),
        Some("United States")
    );
    assert_eq!(
        speaker_of(&st, "But the West should be"),
        (Some("Edward Lucas".into()), Attribution::Continuation)
    );
    assert_eq!(speaker_of(&st, "Here, of course, the focus").0, None);
    assert_eq!(speaker_of(&st, "Western countries have repeatedly").0, None);
}

#[test]
fn no_pronoun_or_function_word_is_an_actor() {
    for s in sample() {
        if let Some(sp) = &s.speaker {
            let first = sp.split_whitespace().next().unwrap().to_lowercase();
            assert!(
                ![
                    "he",
                    "she",
                    "him",
                    "her",
                    "it",
                    "they",
                    "the",
                    "this",
                    "that",
                    "according",
                    "other",
                    "western"
                ]
                .contains(&first.as_str()),
                "{sp}"
            );
            assert!(sp.chars().next().unwrap().is_uppercase(), "{sp}");
        }
    }
}
