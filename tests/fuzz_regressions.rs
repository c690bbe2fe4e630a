//! Inputs found by the fuzz targets in `fuzz/` (or, where said, by reading the code the targets
//! cover and confirmed with them), each with the behaviour that is right for it.

use standpoint::segment::segment;

fn sentences(text: &str) -> Vec<&str> {
    segment(text)
        .sentences
        .iter()
        .map(|s| s.span.slice(text))
        .collect()
}

/// The word before a period was lower-cased and its start computed from the lower-cased length.
/// "Xİ" lower-cases to "xi̇", one byte longer: the start went below zero (overflow panic). It is
/// an ordinary word, so the period ends the sentence.
#[test]
fn segment_word_longer_when_lower_cased_before_a_period() {
    let t = "Xİ. Foo went.";
    assert_eq!(sentences(t), ["Xİ.", "Foo went."]);
}

/// The same at the very start of the text; "İ" is a capital initial ("İ. Kaya"), so no split.
#[test]
fn segment_initial_longer_when_lower_cased_at_text_start() {
    let t = "İ. Kaya said it.";
    assert_eq!(sentences(t), ["İ. Kaya said it."]);
}

/// The Kelvin sign (3 bytes) lower-cases to "k" (1 byte) and "ẞ" (3 bytes) to "ß" (2 bytes): the
/// computed start fell inside the letter and slicing the text panicked. Both are capital
/// initials, so the period does not end the sentence.
#[test]
fn segment_initial_shorter_when_lower_cased() {
    for t in ["A \u{212A}. Foo went.", "A \u{1E9E}. Foo went."] {
        assert_eq!(sentences(t), [t], "{t:?}");
    }
}
