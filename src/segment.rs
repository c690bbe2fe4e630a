//! Stage 2: segmentation.
//!
//! Splits a document into paragraphs, sentences and quotations, keeping byte offsets into the
//! original text. Quotations are found over the whole document, not per sentence, because news
//! quotes span sentences and paragraphs. The scanner accepts straight (`"`) and curly (`“ ”`, `„`)
//! double quotes and guillemets (`« »`), a paragraph that opens a quote without closing it (the
//! quote goes on into the next paragraph), a continuation paragraph that re-opens the quote, and
//! a closing quote typed with the opening mark (`infrastructure, “said X.`). Single quotes are
//! not treated as quotation marks: they are far more often apostrophes. Doubled apostrophes
//! (`''…,'' he said`, the quotation marks of some news archives) are, through [`quotes_read`].

use serde::{Deserialize, Serialize};

/// A half-open byte range `[start, end)` into a document's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn slice<'a>(&self, text: &'a str) -> &'a str {
        &text[self.start..self.end]
    }
    pub fn overlaps(&self, other: &Span) -> bool {
        self.start < other.end && other.start < self.end
    }
    pub fn contains(&self, pos: usize) -> bool {
        self.start <= pos && pos < self.end
    }
}

/// A quotation: the quoted words (without the marks) and where the marks are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quote {
    /// The quoted content, marks excluded.
    pub content: Span,
    /// Byte offset of the opening mark.
    pub open: usize,
    /// Byte offset of the closing mark; `None` when the quote was never closed (it then ends at
    /// the end of the paragraph it opened in).
    pub close: Option<usize>,
}

/// A sentence, with its quotation content if it has any.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sentence {
    pub span: Span,
    pub paragraph: usize,
    /// A short line without final punctuation between paragraphs (a sub-heading).
    pub heading: bool,
    /// Index into [`Segmented::quotes`] of the quotation this sentence belongs to.
    pub quote: Option<usize>,
    /// The part of the sentence inside quotation marks.
    pub quoted: Option<Span>,
}

/// The result of segmenting one document.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segmented {
    pub paragraphs: Vec<Span>,
    pub sentences: Vec<Sentence>,
    pub quotes: Vec<Quote>,
    /// A dateline that opens the document's first paragraph ("BERLIN – ", "MOSCOW (VOA) — ",
    /// "Kyiv, 10 January 2022 – "): the place and date of the report, not part of any sentence.
    pub dateline: Option<Span>,
    /// Pieces with no letters or digits (a lone dash, a row of asterisks): counted, not kept.
    pub fragments_without_words: usize,
}

const OPEN_ONLY: [char; 3] = ['“', '„', '«'];
const CLOSE_ONLY: [char; 2] = ['”', '»'];
const STRAIGHT: char = '"';
const TERMINALS: [char; 4] = ['.', '!', '?', '…'];

fn is_quote_mark(c: char) -> bool {
    OPEN_ONLY.contains(&c) || CLOSE_ONLY.contains(&c) || c == STRAIGHT
}

/// The text the segmenter and the attribution stage read: `text` itself, or, where it writes
/// quotation marks as two apostrophes (`''We will go,'' she said.`, as some news archives do), a
/// copy with each such pair made a straight double quote and a space, in the order that keeps the
/// quote next to its words (` "We` opening, `," ` closing). Every byte offset stays the same, so
/// spans found in the copy slice the original text.
pub fn quotes_read(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains("''") {
        return std::borrow::Cow::Borrowed(text);
    }
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        // Exactly two apostrophes: a longer run is something else.
        let pair = b[i] == b'\''
            && b.get(i + 1) == Some(&b'\'')
            && b.get(i + 2) != Some(&b'\'')
            && (i == 0 || b[i - 1] != b'\'');
        if pair {
            let next = text[i + 2..].chars().next();
            let prev = text[..i].chars().next_back();
            let opens = next.is_some_and(|c| c.is_alphanumeric())
                && prev.is_none_or(|c| !c.is_alphanumeric());
            out.push_str(if opens { " \"" } else { "\" " });
            i += 2;
        } else {
            let c = text[i..].chars().next().expect("inside the text");
            out.push(c);
            i += c.len_utf8();
        }
    }
    std::borrow::Cow::Owned(out)
}

/// `span`, found in the text [`quotes_read`] gives for `text`, widened to take the whole of a
/// doubled-apostrophe quotation mark it starts or ends on half of.
pub fn whole_marks(text: &str, mut span: Span) -> Span {
    let t = text.as_bytes();
    if span.start > 0 && t.get(span.start - 1..span.start + 1) == Some(b"''") {
        span.start -= 1;
    }
    if span.end > 0 && t.get(span.end - 1..span.end + 1) == Some(b"''") {
        span.end += 1;
    }
    span
}

/// Segments a document.
pub fn segment(text: &str) -> Segmented {
    let mut paragraphs = paragraphs(text);
    let dateline = strip_dateline(text, &mut paragraphs);
    let quotes = quotes(text, &paragraphs);
    let close_marks: Vec<usize> = quotes.iter().filter_map(|q| q.close).collect();
    let mut sentences = Vec::new();
    let mut fragments = 0;
    for (pi, p) in paragraphs.iter().enumerate() {
        let heading = is_heading(text, *p, paragraphs.get(pi + 1).copied());
        for s in sentences_in(text, *p, &close_marks) {
            let slice = s.slice(text);
            if !slice.chars().any(|c| c.is_alphanumeric()) {
                fragments += 1;
                continue;
            }
            let (quote, quoted) = quote_of(&quotes, s);
            let quoted = quoted.and_then(|u| trim_span_in(text, u));
            sentences.push(Sentence {
                span: s,
                paragraph: pi,
                heading,
                quote,
                quoted,
            });
        }
    }
    Segmented {
        paragraphs,
        sentences,
        quotes,
        dateline,
        fragments_without_words: fragments,
    }
}

/// A dateline at the start of a paragraph: a place in capitals ("WASHINGTON", "NEW YORK", "ST.
/// PETERSBURG, Russia", "KYIV, Jan. 10"), or a place and a date ("Kyiv, 10 January 2022"),
/// optionally followed by a credit in brackets ("(VOA)", "(Reuters)"), then a dash.
static DATELINE: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(concat!(
        r"^(?:",
        // an upper-case place of one to four words (the first of at least three letters, or of
        // two before a longer one: "LA CROSSE, Wisc.", "EL PASO"), then up to three
        // comma-separated parts: a region, a date, a year,
        r"(?:\p{Lu}{3,}[\p{Lu}.'’-]*|\p{Lu}{2}\.?\s+\p{Lu}{3,}[\p{Lu}.'’-]*)(?:\s+\p{Lu}[\p{Lu}.'’-]*){0,3}(?:,\s*[^,–—()\n]{2,30}?){0,3}",
        r"|",
        // or a place and a date
        r"\p{Lu}\p{Ll}+(?:\s+\p{Lu}\p{Ll}+)?,\s*(?:\d{1,2}\s+\p{Lu}\p{Ll}+\.?|\p{Lu}\p{Ll}+\.?\s+\d{1,2})(?:,?\s+\d{4})?",
        r")",
        r"(?:\s*\([^()\n]{1,40}\))?",
        r"\s*(?:—|–|--|-)\s+",
    ))
    .expect("the dateline pattern is valid")
});

/// Takes a dateline off the first paragraph that is not a heading, and returns where it was.
fn strip_dateline(text: &str, paragraphs: &mut [Span]) -> Option<Span> {
    let pi = (0..paragraphs.len())
        .find(|&pi| !is_heading(text, paragraphs[pi], paragraphs.get(pi + 1).copied()))?;
    let p = &mut paragraphs[pi];
    let m = DATELINE.find(p.slice(text))?;
    let rest = &text[p.start + m.end()..p.end];
    // What follows is a sentence that opens with a capital or a quotation mark.
    if !rest
        .chars()
        .next()
        .is_some_and(|c| c.is_uppercase() || is_quote_mark(c))
    {
        return None;
    }
    let dateline = Span {
        start: p.start,
        end: p.start + m.end(),
    };
    p.start = dateline.end;
    Some(dateline)
}

/// The first quotation overlapping the sentence, and the union of the quoted parts in it.
fn quote_of(quotes: &[Quote], s: Span) -> (Option<usize>, Option<Span>) {
    let mut first = None;
    let mut union: Option<Span> = None;
    for (i, q) in quotes.iter().enumerate() {
        if q.content.overlaps(&s) {
            let part = Span {
                start: q.content.start.max(s.start),
                end: q.content.end.min(s.end),
            };
            first.get_or_insert(i);
            union = Some(match union {
                None => part,
                Some(u) => Span {
                    start: u.start.min(part.start),
                    end: u.end.max(part.end),
                },
            });
        }
    }
    (first, union)
}

fn trim_span_in(text: &str, s: Span) -> Option<Span> {
    let slice = s.slice(text);
    let lead = slice.len() - slice.trim_start().len();
    let trail = slice.len() - slice.trim_end().len();
    if lead + trail >= slice.len() {
        return None;
    }
    Some(Span {
        start: s.start + lead,
        end: s.end - trail,
    })
}

/// Lines become paragraphs; a line that continues a sentence broken by a stray line break (the
/// previous line has no final punctuation and this one starts in lower case) is joined to it.
pub fn paragraphs(text: &str) -> Vec<Span> {
    let mut out: Vec<Span> = Vec::new();
    let mut pos = 0;
    for line in text.split_inclusive('\n') {
        let start = pos;
        pos += line.len();
        let Some(span) = trim_span_in(
            text,
            Span {
                start,
                end: start + line.len(),
            },
        ) else {
            continue;
        };
        let first = span.slice(text).chars().next().unwrap_or(' ');
        if let Some(prev) = out.last_mut() {
            let last = prev.slice(text).chars().next_back().unwrap_or('.');
            let prev_open = !TERMINALS.contains(&last)
                && !is_quote_mark(last)
                && !matches!(last, ':' | ';' | ')' | '’');
            // Joined only when the line directly follows (no blank line between).
            let adjacent = !text[prev.end..span.start].contains("\n\n");
            if prev_open && adjacent && first.is_lowercase() {
                prev.end = span.end;
                continue;
            }
        }
        out.push(span);
    }
    out
}

/// A short paragraph without final punctuation, followed by another paragraph: a sub-heading.
fn is_heading(text: &str, p: Span, next: Option<Span>) -> bool {
    let s = p.slice(text);
    let last = s.chars().next_back().unwrap_or('.');
    let words = s.split_whitespace().count();
    next.is_some()
        && words <= 10
        && !TERMINALS.contains(&last)
        && !is_quote_mark(last)
        && last != ','
        && !s.chars().any(is_quote_mark)
}

/// Finds the quotations of a document.
pub fn quotes(text: &str, paragraphs: &[Span]) -> Vec<Quote> {
    let mut out = Vec::new();
    // (opening mark offset, content start, paragraph index where it opened)
    let mut open: Option<(usize, usize, usize)> = None;
    for (pi, p) in paragraphs.iter().enumerate() {
        let body = p.slice(text);
        let first_mark_at_start = body.chars().next().is_some_and(is_quote_mark);
        if let Some((o, cs, opened_in)) = open {
            // A quote left open at the end of a paragraph goes on into this one, unless this one
            // is a heading or the quote has run on implausibly long; then it ends where it opened.
            let next = paragraphs.get(pi + 1).copied();
            let heading = is_heading(text, *p, next);
            if heading || pi - opened_in > 5 {
                let until = if heading { pi - 1 } else { opened_in };
                out.push(Quote {
                    content: Span {
                        start: cs,
                        end: paragraphs[until].end,
                    },
                    open: o,
                    close: None,
                });
                open = None;
            }
        }
        for (i, c) in body.char_indices() {
            if !is_quote_mark(c) {
                continue;
            }
            let at = p.start + i;
            let after = at + c.len_utf8();
            let prev = text[..at].chars().next_back();
            let next = text[after..].chars().next();
            match open {
                None => {
                    let opener = OPEN_ONLY.contains(&c)
                        || c == STRAIGHT
                        // A closing mark used as an opener: `”We should …` at a word start.
                        || (CLOSE_ONLY.contains(&c)
                            && prev.is_none_or(|p| p.is_whitespace())
                            && next.is_some_and(|n| n.is_alphanumeric()));
                    if opener {
                        open = Some((at, after, pi));
                    }
                }
                Some((o, cs, _)) => {
                    if i == 0 && first_mark_at_start && (OPEN_ONLY.contains(&c) || c == STRAIGHT) {
                        // A continuation paragraph re-opens the quote that is still open.
                        continue;
                    }
                    // Any other mark closes: `”`, `»`, `"`, and an opening mark typed where
                    // a closing one belongs (`, “said X.`).
                    if c == '«' {
                        continue; // a nested guillemet does not close
                    }
                    out.push(Quote {
                        content: Span { start: cs, end: at },
                        open: o,
                        close: Some(at),
                    });
                    open = None;
                }
            }
        }
    }
    if let Some((o, cs, opened_in)) = open {
        let last = paragraphs.len() - 1;
        let end = if opened_in == last {
            paragraphs[last].end
        } else {
            paragraphs[opened_in].end
        };
        out.push(Quote {
            content: Span { start: cs, end },
            open: o,
            close: None,
        });
    }
    // Content without words (an empty pair of marks) is not a quotation.
    out.retain(|q| q.content.slice(text).chars().any(|c| c.is_alphanumeric()));
    out
}

/// Abbreviations after which a period never ends a sentence (titles, months, "No.", "e.g.").
const NEVER_END: &[&str] = &[
    "mr", "mrs", "ms", "dr", "prof", "gen", "col", "lt", "sgt", "capt", "cmdr", "adm", "sen",
    "rep", "gov", "pres", "amb", "rev", "hon", "st", "jr", "sr", "no", "nos", "vs", "v", "e.g",
    "i.e", "cf", "al", "approx", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept",
    "oct", "nov", "dec", "mt", "ft", "fig", "art", "vol", "ch", "pp", "ca", "est", "dept", "univ",
    // military and police ranks ("Army Sgt. Maj. Michael Grinston", "Brig. Gen.", "Det. Supt.")
    "maj", "brig", "cpl", "pvt", "spc", "pfc", "cdr", "supt", "insp", "det",
];
/// Abbreviations that may end a sentence: they end one only before a common sentence opener.
const MAY_END: &[&str] = &[
    "u.s", "u.k", "u.n", "e.u", "etc", "inc", "ltd", "co", "corp", "a.m", "p.m", "bros",
];
const OPENERS: &[&str] = &[
    "The",
    "A",
    "An",
    "He",
    "She",
    "It",
    "They",
    "We",
    "I",
    "But",
    "And",
    "In",
    "This",
    "That",
    "These",
    "Those",
    "There",
    "On",
    "At",
    "As",
    "If",
    "His",
    "Her",
    "Their",
    "Our",
    "Its",
    "So",
    "Yet",
    "However",
    "Meanwhile",
    "Still",
    "Now",
    "Then",
    "When",
    "While",
    "After",
    "Before",
];

/// The word before a period at `dot` (letters, digits and inner periods), as written.
fn word_before(text: &str, dot: usize) -> &str {
    let before = &text[..dot];
    let start = before
        .char_indices()
        .rev()
        .find(|(_, c)| !(c.is_alphanumeric() || *c == '.'))
        .map(|(i, c)| i + c.len_utf8())
        .unwrap_or(0);
    &before[start..]
}

/// "J" in "J. Smith", or "J.R" in "J.R. Smith": single letters as written (lower-casing may
/// change how many characters and bytes a letter takes: "İ" becomes "i̇").
fn is_initial(word: &str) -> bool {
    !word.is_empty()
        && word.split('.').all(|p| p.chars().count() == 1)
        && word.chars().next().is_some_and(|c| c.is_uppercase())
}

/// Splits one paragraph into sentences.
fn sentences_in(text: &str, p: Span, close_marks: &[usize]) -> Vec<Span> {
    let mut out = Vec::new();
    let mut start = p.start;
    let body = &text[..p.end];
    let mut i = p.start;
    while i < p.end {
        let c = body[i..].chars().next().unwrap();
        let clen = c.len_utf8();
        if !TERMINALS.contains(&c) {
            i += clen;
            continue;
        }
        // Extend over further terminals and closing marks, also a closing mark after a space
        // (`… Pact. ”`).
        let mut end = i + clen;
        loop {
            let rest = &body[end..];
            let Some(n) = rest.chars().next() else { break };
            if TERMINALS.contains(&n)
                || matches!(n, ')' | ']' | '’' | '\'')
                || (is_quote_mark(n) && close_marks.contains(&end))
            {
                end += n.len_utf8();
            } else if n == ' ' {
                let after_space = end + 1;
                let m = body[after_space..].chars().next();
                if m.is_some_and(is_quote_mark) && close_marks.contains(&after_space) {
                    end = after_space + m.unwrap().len_utf8();
                } else {
                    break;
                }
            } else {
                break;
            }
        }
        if end >= p.end {
            break;
        }
        let rest = &body[end..];
        let Some(ws) = rest.chars().next() else { break };
        if !ws.is_whitespace() {
            i = end;
            continue;
        }
        let next_start = end + rest.len() - rest.trim_start().len();
        let next_word: String = body[next_start..]
            .chars()
            .skip_while(|c| is_quote_mark(*c) || *c == '(')
            .take_while(|c| c.is_alphanumeric())
            .collect();
        let starts_upper = next_word
            .chars()
            .next()
            .is_some_and(|c| c.is_uppercase() || c.is_ascii_digit());
        let mut split = starts_upper;
        if split && c == '.' {
            let orig = word_before(text, i);
            let w = orig.to_lowercase();
            if MAY_END.contains(&w.as_str()) {
                split = OPENERS.contains(&next_word.as_str());
            } else if NEVER_END.contains(&w.as_str()) || is_initial(orig) {
                split = false;
            }
        }
        if split {
            out.push(Span { start, end });
            start = next_start;
            i = next_start;
        } else {
            i = end;
        }
    }
    if let Some(s) = trim_span_in(text, Span { start, end: p.end }) {
        out.push(s);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sents(text: &str) -> Vec<&str> {
        segment(text)
            .sentences
            .iter()
            .map(|s| s.span.slice(text))
            .collect()
    }

    fn quoted(text: &str) -> Vec<&str> {
        segment(text)
            .quotes
            .iter()
            .map(|q| q.content.slice(text))
            .collect()
    }

    #[test]
    fn splits_sentences_with_abbreviations_initials_dates_numbers() {
        let t = "Mr. Smith met Gen. J. R. Allen on Jan. 10 in Washington. Growth was 3.5 percent in the U.S. The talks began at 9 a.m. on Monday. Really? Yes!";
        assert_eq!(
            sents(t),
            [
                "Mr. Smith met Gen. J. R. Allen on Jan. 10 in Washington.",
                "Growth was 3.5 percent in the U.S.",
                "The talks began at 9 a.m. on Monday.",
                "Really?",
                "Yes!"
            ]
        );
    }

    #[test]
    fn offsets_point_into_the_original_text() {
        let t = "First one.  Second “quoted” one.\n\nThird.";
        let seg = segment(t);
        for s in &seg.sentences {
            assert_eq!(&t[s.span.start..s.span.end], s.span.slice(t));
        }
        assert_eq!(seg.sentences[1].span.slice(t), "Second “quoted” one.");
        assert_eq!(seg.paragraphs.len(), 2);
        assert_eq!(seg.sentences[2].paragraph, 1);
    }

    #[test]
    fn straight_curly_and_guillemet_quotes() {
        let t = "He said \"we will\" go. She said “no way”. They wrote « jamais ». Ende „gut“ so.";
        let q = quoted(t);
        assert_eq!(q[0], "we will");
        assert_eq!(q[1], "no way");
        assert_eq!(q[2], " jamais ");
        // „ opens; the German closing “ is an opening mark typed as a close.
        assert_eq!(q[3], "gut");
    }

    #[test]
    fn doubled_apostrophes_read_as_quotes_at_the_same_offsets() {
        let t = "''We go,'' she said. It's O'Neil's '''x''' and ''";
        let r = quotes_read(t);
        assert_eq!(r.len(), t.len());
        assert_eq!(r, " \"We go,\"  she said. It's O'Neil's '''x''' and \" ");
        assert!(matches!(
            quotes_read("No doubled marks."),
            std::borrow::Cow::Borrowed(_)
        ));
        let q = quotes(&r, &paragraphs(&r));
        assert_eq!(q[0].content.slice(t), "We go,");
    }

    #[test]
    fn quote_spanning_sentences_marks_each_sentence() {
        let t = "The minister said: “We are ready. We will not wait. ” Then he left.";
        let seg = segment(t);
        assert_eq!(seg.quotes.len(), 1);
        let s: Vec<_> = seg
            .sentences
            .iter()
            .map(|s| (s.span.slice(t), s.quote))
            .collect();
        assert_eq!(s[0], ("The minister said: “We are ready.", Some(0)));
        assert_eq!(s[1], ("We will not wait. ”", Some(0)));
        assert_eq!(s[2], ("Then he left.", None));
        assert_eq!(seg.sentences[0].quoted.unwrap().slice(t), "We are ready.");
    }

    #[test]
    fn quote_spanning_paragraphs_and_closed_with_an_opening_mark() {
        let t = "An expert spoke. “Moscow insists on speed.\nI also believe this matters.\nSo it could be a deal, “said Ivanov.\nNext paragraph.";
        let seg = segment(t);
        assert_eq!(seg.quotes.len(), 1);
        let q = &seg.quotes[0];
        assert!(q.close.is_some());
        assert!(q.content.slice(t).starts_with("Moscow insists"));
        assert!(q.content.slice(t).ends_with("a deal, "));
        let in_quote: Vec<bool> = seg.sentences.iter().map(|s| s.quote.is_some()).collect();
        assert_eq!(in_quote, [false, true, true, true, false]);
    }

    #[test]
    fn continuation_paragraph_reopens_without_closing() {
        let t = "“We should talk.\nThere are agreements.\n“We should also talk about rights,” said Lee.\nAfter.";
        let seg = segment(t);
        assert_eq!(seg.quotes.len(), 1, "{:?}", seg.quotes);
        assert!(seg.quotes[0].content.slice(t).ends_with("about rights,"));
        assert_eq!(seg.sentences.last().unwrap().quote, None);
    }

    #[test]
    fn unclosed_quote_stops_at_a_heading_and_at_the_end() {
        let t = "She said “this never closes.\nA heading\nPlain text here.";
        let seg = segment(t);
        assert_eq!(seg.quotes.len(), 1);
        assert_eq!(seg.quotes[0].close, None);
        assert_eq!(seg.quotes[0].content.slice(t), "this never closes.");
        assert!(seg.sentences[1].heading);
        assert_eq!(seg.sentences[2].quote, None);
        let t2 = "First paragraph.\nShe said “this never closes.";
        let seg2 = segment(t2);
        assert_eq!(seg2.quotes[0].content.slice(t2), "this never closes.");
    }

    #[test]
    fn broken_line_inside_a_sentence_is_joined() {
        let t = "It is clear that\nthere is a task ahead. Next.";
        assert_eq!(
            sents(t),
            ["It is clear that\nthere is a task ahead.", "Next."]
        );
    }

    #[test]
    fn question_inside_quote_followed_by_lowercase_is_one_sentence() {
        let t = "“Why now?” he asked. Then silence.";
        assert_eq!(sents(t), ["“Why now?” he asked.", "Then silence."]);
    }

    #[test]
    fn fragments_without_words_are_counted() {
        let t = "A sentence.\n–\n***";
        let seg = segment(t);
        assert_eq!(seg.sentences.len(), 1);
        assert_eq!(seg.fragments_without_words, 2);
    }

    #[test]
    fn a_dateline_is_taken_off_the_first_sentence() {
        for (t, place) in [
            ("BERLIN – Olaf Scholz spoke. He left.", "BERLIN – "),
            ("MOSCOW (VOA) — Lavrov warned the West.", "MOSCOW (VOA) — "),
            ("KYIV, Ukraine - Zelensky spoke.", "KYIV, Ukraine - "),
            (
                "WASHINGTON, Jan. 10 -- Blinken met Lavrov.",
                "WASHINGTON, Jan. 10 -- ",
            ),
            (
                "Kyiv, 10 January 2022 – Zelensky spoke.",
                "Kyiv, 10 January 2022 – ",
            ),
            // A place, its region and a full date (DOD News): the region was read as a speaker.
            (
                "HICKAM AIR FORCE BASE, Hawaii, Feb. 21, 2008 – The chairman spoke.",
                "HICKAM AIR FORCE BASE, Hawaii, Feb. 21, 2008 – ",
            ),
            // Regression (PolNeAR train): a first word of two letters; "CROSSE" became a speaker.
            (
                "LA CROSSE, Wisc. — Gov. Mike Pence spoke.",
                "LA CROSSE, Wisc. — ",
            ),
        ] {
            let seg = segment(t);
            let d = seg.dateline.expect(t);
            assert_eq!(d.slice(t), place);
            assert_eq!(seg.sentences[0].span.start, d.end, "{t}");
        }
        // Not a dateline: a dash inside a sentence, a lower-case word after the dash, a later
        // paragraph, a short capitalised word.
        for t in [
            "The start was on Monday, January 10th US – Russia talks in Geneva.",
            "NATO – and only NATO – decides.",
            "Talks ended.\n\nBERLIN – Scholz spoke.",
            "EU – Russia talks resumed.",
        ] {
            let seg = segment(t);
            assert_eq!(seg.dateline, None, "{t}");
            assert_eq!(seg.sentences[0].span.start, 0, "{t}");
        }
    }
}
