//! `segment::segment` on arbitrary UTF-8: every span lies in the text on char boundaries,
//! paragraphs and sentences are in order and do not overlap, each sentence lies in its paragraph,
//! and quotations point at real quotation marks.
#![no_main]

use libfuzzer_sys::fuzz_target;
use standpoint::segment::{segment, Span};

const MARKS: [char; 6] = ['"', '“', '”', '„', '«', '»'];

fn check_span(text: &str, s: Span, what: &str) {
    assert!(
        s.start <= s.end && s.end <= text.len(),
        "{what} {s:?} outside the text ({} bytes)",
        text.len()
    );
    assert!(
        text.is_char_boundary(s.start) && text.is_char_boundary(s.end),
        "{what} {s:?} not on char boundaries"
    );
}

fn mark_at(text: &str, at: usize) -> Option<char> {
    text.get(at..)?.chars().next().filter(|c| MARKS.contains(c))
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let seg = segment(text);

    let mut last_end = 0;
    for p in &seg.paragraphs {
        check_span(text, *p, "paragraph");
        assert!(p.start < p.end, "empty paragraph {p:?}");
        assert!(p.start >= last_end, "paragraphs overlap or go backwards");
        last_end = p.end;
        let s = p.slice(text);
        assert_eq!(s, s.trim(), "paragraph {p:?} not trimmed");
    }

    let mut last_end = 0;
    let mut last_par = 0;
    for (i, s) in seg.sentences.iter().enumerate() {
        let sp = s.span;
        check_span(text, sp, "sentence");
        assert!(sp.start < sp.end, "empty sentence {i}");
        assert!(
            sp.start >= last_end,
            "sentence {i} overlaps or goes backwards"
        );
        last_end = sp.end;
        assert!(
            s.paragraph < seg.paragraphs.len(),
            "sentence {i}: no paragraph"
        );
        assert!(
            s.paragraph >= last_par,
            "sentence {i}: paragraph index goes back"
        );
        last_par = s.paragraph;
        let p = seg.paragraphs[s.paragraph];
        assert!(
            p.start <= sp.start && sp.end <= p.end,
            "sentence {i} {sp:?} outside its paragraph {p:?}"
        );
        let slice = sp.slice(text);
        assert!(
            slice.chars().any(char::is_alphanumeric),
            "sentence {i} has no letters or digits (a fragment)"
        );
        assert_eq!(slice, slice.trim(), "sentence {i} not trimmed");
        if let Some(u) = s.quoted {
            check_span(text, u, "quoted part");
            assert!(u.start < u.end);
            assert!(
                sp.start <= u.start && u.end <= sp.end,
                "quoted part {u:?} outside sentence {sp:?}"
            );
            assert!(s.quote.is_some(), "quoted part without a quotation");
        }
        if let Some(qi) = s.quote {
            assert!(
                qi < seg.quotes.len(),
                "sentence {i}: quote index {qi} out of range"
            );
            assert!(seg.quotes[qi].content.overlaps(&sp));
            if let Some(u) = s.quoted {
                assert!(u.start >= seg.quotes[qi].content.start);
            }
        }
    }

    let mut prev_end: Option<usize> = None;
    for (i, q) in seg.quotes.iter().enumerate() {
        check_span(text, q.content, "quote content");
        let open = mark_at(text, q.open).unwrap_or_else(|| panic!("quote {i}: no mark at open"));
        assert_eq!(
            q.content.start,
            q.open + open.len_utf8(),
            "quote {i}: content start"
        );
        if let Some(c) = q.close {
            assert!(
                mark_at(text, c).is_some(),
                "quote {i}: no mark at close {c}"
            );
            assert_eq!(q.content.end, c, "quote {i}: content end is not the close");
        }
        assert!(
            q.content.slice(text).chars().any(char::is_alphanumeric),
            "quote {i} without words"
        );
        if let Some(e) = prev_end {
            assert!(q.open >= e, "quote {i} opens before the previous one ends");
        }
        prev_end = Some(q.content.end);
    }
});
