//! `report.html`: one self-contained page (inline CSS, a small inline script, charts as inline
//! SVG drawn here) with, per target, a diverging chart of the actors' scores with their 95%
//! intervals, the actors' table and evidence, a time view of score per actor and period, a
//! stance matrix actor × target when there are several targets, and the documents with their
//! statements.
//!
//! Everything that comes from the corpus (texts, titles, ids, URLs, names, targets) is escaped
//! for HTML before it is written, and only `http://` and `https://` URLs become links. Anchors
//! and element ids are built from indices assigned here (`#doc-3`, `#t0-a12`), never from ids
//! or text of the corpus. The script is static (it reads no data but the page's own text); a
//! Content-Security-Policy admits only that script, by its hash, and no network access.

use crate::aggregate::{ActorRecord, DocRecord, Evidence, Overall};
use crate::model::Label;
use crate::report::RunCounts;
use crate::segment::Span;
use crate::statements::Statement;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;

/// Actors drawn in a target's chart: those with the most statements (all are in the table).
pub const CHART_ACTORS: usize = 40;
/// Actors in a target's time view: those with the most statements over the periods.
pub const TIMELINE_ACTORS: usize = 15;
/// Longest actor name drawn in a chart, in characters (the full name is in the tooltip).
const CHART_NAME_CHARS: usize = 30;

/// One actor's statements toward a target in one period.
#[derive(Debug, Clone, PartialEq)]
pub struct TimePoint {
    pub actor: String,
    /// `"2022-01"` (a month) or `"2022-W03"` (an ISO week).
    pub period: String,
    pub statements: usize,
    pub favor: usize,
    pub against: usize,
    pub none: usize,
    pub score: f64,
}

/// One target: its actors (as in `actors.json`) and their time points.
#[derive(Debug, Clone, Copy)]
pub struct TargetView<'a> {
    pub target: &'a str,
    /// How far to trust the labels on this target ([`crate::model::trust_line`]).
    pub trust: &'a str,
    pub actors: &'a [ActorRecord],
    pub timeline: &'a [TimePoint],
}

/// A statement with its stance toward every target.
#[derive(Debug, Clone)]
pub struct StatementView {
    /// Its `stance` and `scores` are those for the first target.
    pub statement: Statement,
    /// One per target, in the order of [`HtmlInput::targets`]: the label and its probability.
    pub stances: Vec<(Label, f32)>,
}

/// A document with its statements.
#[derive(Debug, Clone)]
pub struct DocView {
    pub doc: DocRecord,
    /// The document's `source` field (a publication's name or a URL), when it has one.
    pub source: Option<String>,
    pub statements: Vec<StatementView>,
}

/// Everything the page shows.
#[derive(Debug, Clone)]
pub struct HtmlInput<'a> {
    pub model: &'a str,
    pub counts: &'a RunCounts,
    pub targets: Vec<TargetView<'a>>,
    pub documents: &'a [DocView],
    /// Documents left out of the page (they are in `documents.jsonl` and `statements.jsonl`).
    pub documents_omitted: usize,
}

/// Period of an ISO-like date string (`"2022-01-10"`, `"2022-01-10T12:00:00Z"`, `"2022-01"`):
/// `"YYYY-MM"`; `None` if unparseable.
pub fn month_of(date: &str) -> Option<String> {
    let s = date.trim().as_bytes();
    let digits = |r: std::ops::Range<usize>| {
        s.get(r.clone())
            .filter(|b| b.iter().all(u8::is_ascii_digit))
            .map(|b| b.iter().fold(0u32, |n, d| n * 10 + u32::from(d - b'0')))
    };
    let year = digits(0..4)?;
    if s.get(4) != Some(&b'-') {
        return None;
    }
    let month = digits(5..7)?;
    if !(1..=12).contains(&month) {
        return None;
    }
    match s.get(7) {
        None => {}
        Some(b'-') => {
            let day = digits(8..10)?;
            if !(1..=31).contains(&day) {
                return None;
            }
            match s.get(10) {
                None | Some(b'T') | Some(b't') | Some(b' ') => {}
                Some(_) => return None,
            }
        }
        Some(_) => return None,
    }
    Some(format!("{year:04}-{month:02}"))
}

/// Escapes text for HTML content and quoted attribute values.
fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + s.len() / 8);
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            // NUL and the other C0 controls but tab and line breaks have no place in a page.
            c if c.is_control() && !matches!(c, '\t' | '\n' | '\r') => o.push('\u{fffd}'),
            c => o.push(c),
        }
    }
    o
}

/// The URL when it may be a link: `http://` or `https://`, no whitespace or controls.
fn link_url(u: &str) -> Option<&str> {
    let u = u.trim();
    let rest = ["http://", "https://"].iter().find_map(|p| {
        u.get(..p.len())
            .filter(|h| h.eq_ignore_ascii_case(p))
            .map(|_| &u[p.len()..])
    })?;
    let clean = !u.chars().any(|c| c.is_whitespace() || c.is_control());
    (clean && !rest.is_empty() && !rest.starts_with('/')).then_some(u)
}

/// A URL as a link when allowed, else as plain text.
fn url_html(u: &str) -> String {
    match link_url(u) {
        Some(l) => format!(
            "<a class=\"ext\" href=\"{}\" rel=\"noopener noreferrer nofollow\" target=\"_blank\">{}</a>",
            esc(l),
            esc(l)
        ),
        None => format!("<span class=\"url-text\">{}</span>", esc(u)),
    }
}

/// A finite number (0 for NaN and infinities).
fn fin(x: f64) -> f64 {
    if x.is_finite() {
        x
    } else {
        0.0
    }
}

/// A score clamped into [-1, 1].
fn score_of(x: f64) -> f64 {
    fin(x).clamp(-1.0, 1.0)
}

/// An interval clamped into [-1, 1], ordered.
fn interval_of(iv: [f64; 2]) -> [f64; 2] {
    if !iv[0].is_finite() || !iv[1].is_finite() {
        return [-1.0, 1.0];
    }
    let (a, b) = (iv[0].clamp(-1.0, 1.0), iv[1].clamp(-1.0, 1.0));
    [a.min(b), a.max(b)]
}

/// A score for reading: `+0.42`, `−0.42`, `0.00`.
fn fmt_score(x: f64) -> String {
    let x = score_of(x);
    let r = (x * 100.0).round() / 100.0;
    if r == 0.0 {
        "0.00".to_string()
    } else if r > 0.0 {
        format!("+{r:.2}")
    } else {
        format!("\u{2212}{:.2}", -r)
    }
}

/// A probability for reading, `0.87`; `n/a` when not a number.
fn fmt_prob(p: f32) -> String {
    if p.is_finite() {
        format!("{:.2}", p.clamp(0.0, 1.0))
    } else {
        "n/a".to_string()
    }
}

fn overall_word(o: Overall) -> &'static str {
    match o {
        Overall::Favor => "FAVOR",
        Overall::Against => "AGAINST",
        Overall::None => "NONE",
        Overall::Mixed => "MIXED",
    }
}

fn overall_class(o: Overall) -> &'static str {
    match o {
        Overall::Favor => "favor",
        Overall::Against => "against",
        Overall::None => "none",
        Overall::Mixed => "mixed",
    }
}

fn label_class(l: Label) -> &'static str {
    match l {
        Label::Favor => "favor",
        Label::Against => "against",
        Label::None => "none",
    }
}

/// Chart colours, also used by the stylesheet.
const C_FAVOR: (u8, u8, u8) = (33, 102, 172);
const C_AGAINST: (u8, u8, u8) = (202, 70, 50);
const C_MIXED: (u8, u8, u8) = (128, 90, 170);
const C_NONE: (u8, u8, u8) = (140, 140, 140);

fn rgb(c: (u8, u8, u8)) -> String {
    format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2)
}

fn overall_colour(o: Overall) -> String {
    rgb(match o {
        Overall::Favor => C_FAVOR,
        Overall::Against => C_AGAINST,
        Overall::None => C_NONE,
        Overall::Mixed => C_MIXED,
    })
}

/// A background for a score: white at 0, the AGAINST colour at −1, the FAVOR colour at +1;
/// and a text colour that reads on it.
fn score_fill(x: f64) -> (String, &'static str) {
    let x = score_of(x);
    let c = if x < 0.0 { C_AGAINST } else { C_FAVOR };
    let t = x.abs();
    let mix = |a: u8| (255.0 + (f64::from(a) - 255.0) * t).round() as u8;
    let fill = rgb((mix(c.0), mix(c.1), mix(c.2)));
    (fill, if t > 0.55 { "#fff" } else { "#1a1a1a" })
}

/// `1 statement`, `2 statements`.
fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// A stance badge.
fn label_badge(l: Label, p: Option<f32>) -> String {
    match p {
        Some(p) => format!(
            "<span class=\"st st-{}\">{} <span class=\"p\">{}</span></span>",
            label_class(l),
            l.as_str(),
            fmt_prob(p)
        ),
        None => format!(
            "<span class=\"st st-{}\">{}</span>",
            label_class(l),
            l.as_str()
        ),
    }
}

fn overall_badge(o: Overall) -> String {
    format!(
        "<span class=\"st st-{}\">{}</span>",
        overall_class(o),
        overall_word(o)
    )
}

/// A sentence with its quoted words in `<mark>`; the quote (byte offsets into the document)
/// is marked only when it lies within the sentence on character boundaries.
fn marked(text: &str, start: usize, quote: Option<Span>) -> String {
    let parts = quote.and_then(|q| {
        let a = q.start.checked_sub(start)?;
        let b = q.end.checked_sub(start)?;
        if a > b {
            return None;
        }
        Some((text.get(..a)?, text.get(a..b)?, text.get(b..)?))
    });
    match parts {
        Some((pre, q, post)) if !q.is_empty() => {
            format!("{}<mark>{}</mark>{}", esc(pre), esc(q), esc(post))
        }
        _ => esc(text),
    }
}

/// At most `n` characters, with an ellipsis when cut.
fn truncate_chars(s: &str, n: usize) -> String {
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if s.chars().count() <= n {
        s
    } else {
        let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// Base64 (standard alphabet, padded), for the script's hash in the CSP.
fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut o = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for ch in bytes.chunks(3) {
        let b = [ch[0], *ch.get(1).unwrap_or(&0), *ch.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= ch.len() {
                o.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                o.push('=');
            }
        }
    }
    o
}

const STYLE: &str = r#"
:root{--favor:#2166ac;--against:#ca4632;--mixed:#805aaa;--none:#8c8c8c;--ink:#1a1a1a;--muted:#5f6368;--line:#e2e4e8;--bg:#fafbfc}
*{box-sizing:border-box}
body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--ink);background:var(--bg)}
main{max-width:1180px;margin:0 auto;padding:24px 28px 64px}
h1{font-size:26px;margin:0 0 4px}
h2{font-size:21px;margin:40px 0 8px;padding-top:8px;border-top:2px solid var(--line)}
h3{font-size:17px;margin:24px 0 6px}
h4{font-size:15px;margin:18px 0 4px}
a{color:#1558b0}
.muted,.note{color:var(--muted)}
.trust{margin:.4em 0;max-width:60em}
.note{font-size:13px;margin:4px 0 10px}
.targets{font-size:17px;margin:2px 0 10px}
.targets q{font-weight:600}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin:12px 0}
.card{background:#fff;border:1px solid var(--line);border-radius:8px;padding:8px 14px;min-width:118px}
.card b{display:block;font-size:20px}
.card span{font-size:12px;color:var(--muted);text-transform:uppercase;letter-spacing:.03em}
nav.toc{font-size:14px;margin:8px 0 0}
nav.toc a{margin-right:14px}
.panel{background:#fff;border:1px solid var(--line);border-radius:8px;padding:12px 16px;margin:10px 0}
svg.chart{width:100%;height:auto;display:block}
svg.chart text{font:12px system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;fill:var(--ink)}
svg.chart .axis text{fill:var(--muted)}
svg.chart a:hover rect.bg{fill:#eef3fb}
.legend{font-size:13px;color:var(--muted)}
.legend i{display:inline-block;width:10px;height:10px;border-radius:50%;margin:0 4px 0 12px;vertical-align:-1px}
table{border-collapse:collapse;width:100%;font-size:13.5px;background:#fff}
th,td{border-bottom:1px solid var(--line);padding:5px 8px;text-align:left;vertical-align:top}
th{background:#f2f4f7;font-weight:600;white-space:nowrap}
th[data-sort]{cursor:pointer}
th[data-sort]:after{content:" \2195";color:#aaa}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.scroll{overflow-x:auto}
.st{display:inline-block;border-radius:4px;padding:0 6px;font-size:12px;font-weight:600;color:#fff;white-space:nowrap}
.st .p{font-weight:400;opacity:.9}
.st-favor{background:var(--favor)}.st-against{background:var(--against)}.st-mixed{background:var(--mixed)}.st-none{background:var(--none)}
td.cell-favor{background:#e3edf7}td.cell-against{background:#f8e4e0}td.cell-mixed{background:#ece5f4}td.cell-none{background:#f1f1f1}td.cell-absent{color:#aaa}
table.heat{width:auto;min-width:50%}
table.heat td.hc{text-align:center;min-width:72px;padding:3px 6px;font-variant-numeric:tabular-nums;line-height:1.25}
table.heat td.hc small{display:block;font-size:10.5px;opacity:.8}
table.heat td.empty{background:#f6f6f6}
mark{background:#fff1a8;padding:0 1px;border-radius:2px}
.actor-ev{border-left:3px solid var(--line);padding:2px 0 2px 12px;margin:14px 0}
.actor-ev.favor{border-color:var(--favor)}.actor-ev.against{border-color:var(--against)}.actor-ev.mixed{border-color:var(--mixed)}
ul.ev,ol.stmts{padding-left:20px;margin:4px 0}
ul.ev li,ol.stmts li{margin:6px 0}
.meta{font-size:12.5px;color:var(--muted)}
.doc{background:#fff;border:1px solid var(--line);border-radius:8px;padding:10px 16px;margin:14px 0}
.doc h3{margin:4px 0}
li:target,.doc:target,.actor-ev:target{background:#fffbe6}
input.filter{font:inherit;padding:4px 8px;border:1px solid #c9ccd1;border-radius:6px;width:260px;margin:6px 0}
.url-text{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px}
"#;

/// The page's script: column sorting and row filtering of tables. Static: it reads only the
/// page's own cells and writes only `hidden` and row order, never markup.
const SCRIPT: &str = r#"
(function () {
  "use strict";
  document.querySelectorAll("input.filter[data-table]").forEach(function (inp) {
    var table = document.getElementById(inp.getAttribute("data-table"));
    if (!table) { return; }
    inp.addEventListener("input", function () {
      var q = inp.value.toLowerCase();
      table.querySelectorAll("tbody tr").forEach(function (tr) {
        tr.hidden = q !== "" && tr.textContent.toLowerCase().indexOf(q) < 0;
      });
    });
  });
  document.querySelectorAll("table.sortable").forEach(function (table) {
    var body = table.tBodies[0];
    if (!body) { return; }
    table.querySelectorAll("th[data-sort]").forEach(function (th, col) {
      var dir = 1;
      th.addEventListener("click", function () {
        var numeric = th.getAttribute("data-sort") === "num";
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = a.cells[col], y = b.cells[col];
          if (numeric) {
            return dir * (parseFloat(x.getAttribute("data-v")) - parseFloat(y.getAttribute("data-v")));
          }
          return dir * x.textContent.localeCompare(y.textContent);
        });
        rows.forEach(function (r) { body.appendChild(r); });
        dir = -dir;
      });
    });
  });
  document.documentElement.setAttribute("data-ready", "1");
})();
"#;

/// Where documents and statements are on the page.
struct Anchors<'a> {
    /// Document id → index into `documents` (the first document with that id).
    docs: HashMap<&'a str, usize>,
    /// Statement id → (document index, statement index).
    statements: HashMap<&'a str, (usize, usize)>,
}

impl<'a> Anchors<'a> {
    fn new(documents: &'a [DocView]) -> Anchors<'a> {
        let mut docs = HashMap::new();
        let mut statements = HashMap::new();
        for (n, d) in documents.iter().enumerate() {
            docs.entry(d.doc.doc_id.as_str()).or_insert(n);
            for (m, s) in d.statements.iter().enumerate() {
                statements
                    .entry(s.statement.statement_id.as_str())
                    .or_insert((n, m));
            }
        }
        Anchors { docs, statements }
    }
}

/// The actors drawn in a chart: the [`CHART_ACTORS`] with the most statements, as indices
/// into `actors`, ordered by score (most AGAINST first), then name.
fn chart_actors(actors: &[ActorRecord]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..actors.len()).collect();
    idx.sort_by(|&a, &b| {
        actors[b]
            .statements
            .cmp(&actors[a].statements)
            .then(actors[a].actor.cmp(&actors[b].actor))
            .then(a.cmp(&b))
    });
    idx.truncate(CHART_ACTORS);
    idx.sort_by(|&a, &b| {
        score_of(actors[a].score)
            .total_cmp(&score_of(actors[b].score))
            .then(actors[a].actor.cmp(&actors[b].actor))
            .then(a.cmp(&b))
    });
    idx
}

/// The diverging chart of one target's actors, as SVG.
fn chart_svg(ti: usize, target: &str, actors: &[ActorRecord], shown: &[usize]) -> String {
    const W: f64 = 1000.0;
    const X0: f64 = 250.0;
    const X1: f64 = 900.0;
    const ROW: f64 = 24.0;
    const TOP: f64 = 34.0;
    let x = |v: f64| X0 + (score_of(v) + 1.0) / 2.0 * (X1 - X0);
    let h = TOP + ROW * shown.len() as f64 + 40.0;
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg class=\"chart\" id=\"chart-{ti}\" viewBox=\"0 0 {W} {h}\" role=\"img\" aria-label=\"Actors' stance toward {}\" xmlns=\"http://www.w3.org/2000/svg\">",
        esc(target)
    );
    // Axis: gridlines at each half, the zero line, and the side names.
    let bottom = TOP + ROW * shown.len() as f64;
    s.push_str("<g class=\"axis\">");
    for v in [-1.0, -0.5, 0.0, 0.5, 1.0] {
        let xv = x(v);
        let (stroke, dash) = if v == 0.0 {
            ("#555", "")
        } else {
            ("#dde0e4", " stroke-dasharray=\"3 3\"")
        };
        let _ = write!(
            s,
            "<line x1=\"{xv:.1}\" y1=\"{:.1}\" x2=\"{xv:.1}\" y2=\"{:.1}\" stroke=\"{stroke}\" stroke-width=\"{}\"{dash}/>",
            TOP - 6.0,
            bottom + 4.0,
            if v == 0.0 { 1.5 } else { 1.0 }
        );
        let _ = write!(
            s,
            "<text x=\"{xv:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            bottom + 20.0,
            match v {
                v if v < -0.75 => "\u{2212}1",
                v if v < -0.25 => "\u{2212}0.5",
                v if v < 0.25 => "0",
                v if v < 0.75 => "+0.5",
                _ => "+1",
            }
        );
    }
    let _ = write!(
        s,
        "<text x=\"{X0}\" y=\"16\" text-anchor=\"start\" style=\"fill:{}\" font-weight=\"600\">← AGAINST</text>",
        rgb(C_AGAINST)
    );
    let _ = write!(
        s,
        "<text x=\"{X1}\" y=\"16\" text-anchor=\"end\" style=\"fill:{}\" font-weight=\"600\">FAVOR →</text>",
        rgb(C_FAVOR)
    );
    let _ = write!(
        s,
        "<text x=\"{:.1}\" y=\"16\" text-anchor=\"middle\">neutral</text>",
        x(0.0)
    );
    let _ = write!(
        s,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">score: mean P(FAVOR) − P(AGAINST), with its 95% interval</text>",
        (X0 + X1) / 2.0,
        bottom + 36.0
    );
    let _ = write!(
        s,
        "<text x=\"{:.1}\" y=\"16\" text-anchor=\"end\">statements</text>",
        W - 8.0
    );
    s.push_str("</g>");
    for (rank, &ai) in shown.iter().enumerate() {
        let a = &actors[ai];
        let y = TOP + ROW * rank as f64;
        let cy = y + ROW / 2.0;
        let sc = score_of(a.score);
        let [lo, hi] = interval_of(a.interval);
        let col = overall_colour(a.stance);
        let _ = write!(s, "<a href=\"#t{ti}-a{ai}\">");
        let _ = write!(
            s,
            "<g class=\"actor-row\" data-rank=\"{rank}\" data-stance=\"{}\" data-score=\"{sc:.4}\">",
            overall_word(a.stance)
        );
        let _ = write!(
            s,
            "<title>{} — {} {} [{}, {}], {} ({} favor, {} against, {} none)</title>",
            esc(&a.actor),
            overall_word(a.stance),
            fmt_score(sc),
            fmt_score(lo),
            fmt_score(hi),
            plural(a.statements, "statement"),
            a.favor,
            a.against,
            a.none
        );
        let _ = write!(
            s,
            "<rect class=\"bg\" x=\"0\" y=\"{y:.1}\" width=\"{W}\" height=\"{ROW}\" fill=\"{}\"/>",
            if rank % 2 == 0 { "#f7f8fa" } else { "#ffffff" }
        );
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            X0 - 12.0,
            cy + 4.0,
            esc(&truncate_chars(&a.actor, CHART_NAME_CHARS))
        );
        // Bar from zero to the score, the interval as a whisker with caps, the score as a dot.
        let (bx0, bx1) = if sc < 0.0 {
            (x(sc), x(0.0))
        } else {
            (x(0.0), x(sc))
        };
        let _ = write!(
            s,
            "<rect x=\"{bx0:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"8\" fill=\"{col}\" fill-opacity=\"0.25\"/>",
            cy - 4.0,
            (bx1 - bx0).max(0.0)
        );
        let _ = write!(
            s,
            "<line class=\"whisker\" x1=\"{:.1}\" y1=\"{cy:.1}\" x2=\"{:.1}\" y2=\"{cy:.1}\" stroke=\"{col}\" stroke-width=\"1.5\"/>",
            x(lo),
            x(hi)
        );
        for v in [lo, hi] {
            let _ = write!(
                s,
                "<line x1=\"{xv:.1}\" y1=\"{:.1}\" x2=\"{xv:.1}\" y2=\"{:.1}\" stroke=\"{col}\" stroke-width=\"1.5\"/>",
                cy - 5.0,
                cy + 5.0,
                xv = x(v)
            );
        }
        let _ = write!(
            s,
            "<circle class=\"dot\" cx=\"{:.1}\" cy=\"{cy:.1}\" r=\"5.5\" fill=\"{col}\" stroke=\"#fff\" stroke-width=\"1.5\"/>",
            x(sc)
        );
        let _ = write!(
            s,
            "<text class=\"n\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            W - 8.0,
            cy + 4.0,
            a.statements
        );
        s.push_str("</g></a>");
    }
    s.push_str("</svg>");
    s
}

fn legend() -> String {
    let mut s = String::from("<div class=\"legend\">Overall stance:");
    for o in [
        Overall::Against,
        Overall::Mixed,
        Overall::None,
        Overall::Favor,
    ] {
        let _ = write!(
            s,
            "<i style=\"background:{}\"></i>{}",
            overall_colour(o),
            overall_word(o)
        );
    }
    s.push_str(
        " · whisker: 95% interval · MIXED: each side has at least 30% of the statements that take one</div>",
    );
    s
}

/// The section of one target: chart, then the time view when there is one.
fn target_overview(s: &mut String, ti: usize, t: &TargetView) {
    let _ = write!(
        s,
        "<section class=\"target\" id=\"t{ti}\"><h2>Stance toward <q>{}</q></h2>",
        esc(t.target)
    );
    let sided = |o: Overall| t.actors.iter().filter(|a| a.stance == o).count();
    let _ = write!(
        s,
        "<p class=\"muted summary\">{}: {} FAVOR, {} AGAINST, {} MIXED, {} NONE. <a href=\"#t{ti}-table\">All actors</a> · <a href=\"#t{ti}-evidence\">evidence</a></p>",
        plural(t.actors.len(), "actor"),
        sided(Overall::Favor),
        sided(Overall::Against),
        sided(Overall::Mixed),
        sided(Overall::None)
    );
    if t.actors.is_empty() {
        s.push_str("<p class=\"note empty-chart\">No statement toward this target was attributed to an actor.</p>");
    } else {
        let shown = chart_actors(t.actors);
        s.push_str("<div class=\"panel\">");
        s.push_str(&chart_svg(ti, t.target, t.actors, &shown));
        s.push_str(&legend());
        s.push_str("</div>");
        if shown.len() < t.actors.len() {
            let _ = write!(
                s,
                "<p class=\"note chart-note\">The chart shows the {} actors with the most statements, of {}; the <a href=\"#t{ti}-table\">table below</a> has all of them.</p>",
                shown.len(),
                t.actors.len()
            );
        }
    }
    timeline_html(s, ti, t);
    s.push_str("</section>");
}

/// Score per actor and period, for the actors with the most statements in the periods.
fn timeline_html(s: &mut String, ti: usize, t: &TargetView) {
    if t.timeline.is_empty() {
        return;
    }
    let mut periods = BTreeSet::new();
    let mut totals: HashMap<&str, usize> = HashMap::new();
    let mut cells: HashMap<(&str, &str), &TimePoint> = HashMap::new();
    for p in t.timeline {
        periods.insert(p.period.as_str());
        *totals.entry(p.actor.as_str()).or_default() += p.statements;
        cells
            .entry((p.actor.as_str(), p.period.as_str()))
            .or_insert(p);
    }
    let mut actors: Vec<(&str, usize)> = totals.into_iter().collect();
    actors.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let n_actors = actors.len();
    actors.truncate(TIMELINE_ACTORS);
    let anchor: HashMap<&str, usize> = t
        .actors
        .iter()
        .enumerate()
        .rev()
        .map(|(i, a)| (a.actor.as_str(), i))
        .collect();
    let _ = write!(
        s,
        "<h3 id=\"t{ti}-time\">Over time</h3><p class=\"note\">Score per actor and period (cell colour: AGAINST red, FAVOR blue; the small number is the count of statements){}.</p>",
        if n_actors > actors.len() {
            format!(", for the {} actors with the most statements of {}", actors.len(), n_actors)
        } else {
            String::new()
        }
    );
    let _ = write!(
        s,
        "<div class=\"scroll\"><table class=\"heat\" id=\"t{ti}-heat\"><thead><tr><th>Actor</th>"
    );
    for p in &periods {
        let _ = write!(s, "<th class=\"num\">{}</th>", esc(p));
    }
    s.push_str("</tr></thead><tbody>");
    for (name, _) in &actors {
        s.push_str("<tr class=\"time-row\"><td>");
        match anchor.get(name) {
            Some(i) => {
                let _ = write!(s, "<a href=\"#t{ti}-a{i}\">{}</a>", esc(name));
            }
            None => s.push_str(&esc(name)),
        }
        s.push_str("</td>");
        for p in &periods {
            match cells.get(&(*name, *p)) {
                Some(tp) if tp.statements > 0 => {
                    let (bg, fg) = score_fill(tp.score);
                    let _ = write!(
                        s,
                        "<td class=\"hc\" style=\"background:{bg};color:{fg}\" title=\"{} {}: {} ({} favor, {} against, {} none)\">{}<small>{}</small></td>",
                        esc(name),
                        esc(p),
                        plural(tp.statements, "statement"),
                        tp.favor,
                        tp.against,
                        tp.none,
                        fmt_score(tp.score),
                        tp.statements
                    );
                }
                _ => s.push_str("<td class=\"hc empty\"></td>"),
            }
        }
        s.push_str("</tr>");
    }
    s.push_str("</tbody></table></div>");
}

/// The stance matrix actor × target (several targets only).
fn matrix_html(s: &mut String, targets: &[TargetView]) {
    // Actor name → per target the index of its record.
    let mut rows: BTreeMap<&str, Vec<Option<usize>>> = BTreeMap::new();
    for (ti, t) in targets.iter().enumerate() {
        for (ai, a) in t.actors.iter().enumerate() {
            let r = rows
                .entry(a.actor.as_str())
                .or_insert_with(|| vec![None; targets.len()]);
            if r[ti].is_none() {
                r[ti] = Some(ai);
            }
        }
    }
    let total = |r: &Vec<Option<usize>>| -> usize {
        r.iter()
            .enumerate()
            .filter_map(|(ti, ai)| ai.map(|ai| targets[ti].actors[ai].statements))
            .sum()
    };
    let mut order: Vec<(&str, &Vec<Option<usize>>)> = rows.iter().map(|(k, v)| (*k, v)).collect();
    order.sort_by(|a, b| total(b.1).cmp(&total(a.1)).then(a.0.cmp(b.0)));
    s.push_str("<section id=\"matrix\"><h2>Stance matrix</h2><p class=\"note\">Each actor's overall stance and score toward each target; — where the actor said nothing attributed toward it.</p>");
    s.push_str("<input class=\"filter\" type=\"search\" placeholder=\"Filter actors…\" data-table=\"matrix-table\" aria-label=\"Filter actors\">");
    s.push_str("<div class=\"scroll\"><table class=\"matrix sortable\" id=\"matrix-table\"><thead><tr><th data-sort=\"text\">Actor</th>");
    for t in targets {
        let _ = write!(s, "<th data-sort=\"num\">{}</th>", esc(t.target));
    }
    s.push_str("</tr></thead><tbody>");
    for (name, r) in order {
        let _ = write!(s, "<tr class=\"matrix-row\"><td>{}</td>", esc(name));
        for (ti, ai) in r.iter().enumerate() {
            match ai {
                Some(ai) => {
                    let a = &targets[ti].actors[*ai];
                    let _ = write!(
                        s,
                        "<td class=\"mcell cell-{}\" data-v=\"{:.4}\" data-stance=\"{}\"><a href=\"#t{ti}-a{ai}\">{}</a> {} <span class=\"muted\">({})</span></td>",
                        overall_class(a.stance),
                        score_of(a.score),
                        overall_word(a.stance),
                        overall_badge(a.stance),
                        fmt_score(a.score),
                        a.statements
                    );
                }
                None => s.push_str("<td class=\"mcell cell-absent\" data-v=\"-9\">—</td>"),
            }
        }
        s.push_str("</tr>");
    }
    s.push_str("</tbody></table></div></section>");
}

/// A link to where a statement or document is on the page, and the document's URL.
fn doc_ref(doc_id: &str, statement_id: &str, documents: &[DocView], anchors: &Anchors) -> String {
    let mut s = String::new();
    match (
        anchors.statements.get(statement_id),
        anchors.docs.get(doc_id),
    ) {
        (Some(&(n, m)), _) => {
            let _ = write!(
                s,
                "<a class=\"docref\" href=\"#doc-{n}-s{m}\">{}</a>",
                esc(doc_id)
            );
        }
        (None, Some(&n)) => {
            let _ = write!(
                s,
                "<a class=\"docref\" href=\"#doc-{n}\">{}</a>",
                esc(doc_id)
            );
        }
        (None, None) => {
            let _ = write!(
                s,
                "<span class=\"docref\">{}</span> <span class=\"muted\">(not on this page)</span>",
                esc(doc_id)
            );
        }
    }
    if let Some(url) = anchors
        .docs
        .get(doc_id)
        .and_then(|&n| documents.get(n))
        .and_then(|d| d.doc.url.as_deref())
    {
        s.push_str(" · ");
        s.push_str(&url_html(url));
    }
    s
}

fn evidence_item(e: &Evidence, documents: &[DocView], anchors: &Anchors) -> String {
    format!(
        "<li class=\"evidence\">{} {} <div class=\"meta\">{} · {}</div></li>",
        label_badge(e.stance, Some(e.confidence)),
        marked(&e.text, e.start, e.quote),
        esc(e.attribution.as_str()),
        doc_ref(&e.doc_id, &e.statement_id, documents, anchors)
    )
}

/// One target's table of all actors, then each actor's evidence.
fn target_details(
    s: &mut String,
    ti: usize,
    t: &TargetView,
    documents: &[DocView],
    anchors: &Anchors,
) {
    let _ = write!(
        s,
        "<section class=\"target-details\"><h2 id=\"t{ti}-table\">Actors on <q>{}</q></h2>",
        esc(t.target)
    );
    if t.actors.is_empty() {
        s.push_str("<p class=\"note\">No actors.</p></section>");
        return;
    }
    let mut order: Vec<usize> = (0..t.actors.len()).collect();
    order.sort_by(|&a, &b| {
        t.actors[b]
            .statements
            .cmp(&t.actors[a].statements)
            .then(t.actors[a].actor.cmp(&t.actors[b].actor))
    });
    let _ = write!(
        s,
        "<input class=\"filter\" type=\"search\" placeholder=\"Filter actors…\" data-table=\"t{ti}-actors\" aria-label=\"Filter actors\">"
    );
    let _ = write!(
        s,
        "<div class=\"scroll\"><table class=\"actors sortable\" id=\"t{ti}-actors\"><thead><tr><th data-sort=\"text\">Actor</th><th data-sort=\"text\">Kind</th><th data-sort=\"text\">Stance</th><th class=\"num\" data-sort=\"num\">Score</th><th class=\"num\">95% interval</th><th class=\"num\" data-sort=\"num\">Statements</th><th class=\"num\" data-sort=\"num\">Favor</th><th class=\"num\" data-sort=\"num\">Against</th><th class=\"num\" data-sort=\"num\">None</th><th class=\"num\" data-sort=\"num\">Documents</th></tr></thead><tbody>"
    );
    for &ai in &order {
        let a = &t.actors[ai];
        let [lo, hi] = interval_of(a.interval);
        let aliases = if a.aliases.is_empty() {
            String::new()
        } else {
            format!(
                "<div class=\"meta\">also: {}</div>",
                a.aliases
                    .iter()
                    .map(|x| esc(x))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        let _ = write!(
            s,
            "<tr class=\"actor\"><td><a href=\"#t{ti}-a{ai}\">{}</a>{aliases}</td><td>{}</td><td>{}</td><td class=\"num\" data-v=\"{:.4}\">{}</td><td class=\"num\">[{}, {}]</td><td class=\"num\" data-v=\"{}\">{}</td><td class=\"num\" data-v=\"{}\">{}</td><td class=\"num\" data-v=\"{}\">{}</td><td class=\"num\" data-v=\"{}\">{}</td><td class=\"num\" data-v=\"{}\">{}</td></tr>",
            esc(&a.actor),
            a.kind.as_str(),
            overall_badge(a.stance),
            score_of(a.score),
            fmt_score(a.score),
            fmt_score(lo),
            fmt_score(hi),
            a.statements,
            a.statements,
            a.favor,
            a.favor,
            a.against,
            a.against,
            a.none,
            a.none,
            a.documents,
            a.documents
        );
    }
    s.push_str("</tbody></table></div>");
    let _ = write!(s, "<h3 id=\"t{ti}-evidence\">Evidence</h3>");
    for &ai in &order {
        let a = &t.actors[ai];
        let _ = write!(
            s,
            "<div class=\"actor-ev {}\" id=\"t{ti}-a{ai}\"><h4>{} {} <span class=\"muted\">{} · {}</span></h4>",
            overall_class(a.stance),
            esc(&a.actor),
            overall_badge(a.stance),
            fmt_score(a.score),
            plural(a.statements, "statement")
        );
        if a.evidence.is_empty() {
            s.push_str("<p class=\"note\">No evidence kept.</p>");
        } else {
            s.push_str("<ul class=\"ev\">");
            for e in &a.evidence {
                s.push_str(&evidence_item(e, documents, anchors));
            }
            s.push_str("</ul>");
        }
        s.push_str("</div>");
    }
    s.push_str("</section>");
}

fn documents_html(s: &mut String, input: &HtmlInput) {
    s.push_str("<section id=\"documents\"><h2>Documents</h2>");
    if input.documents.is_empty() && input.documents_omitted == 0 {
        s.push_str("<p class=\"note\">No documents.</p>");
    }
    for (n, d) in input.documents.iter().enumerate() {
        let r = &d.doc;
        let title = r.title.as_deref().filter(|t| !t.trim().is_empty());
        let _ = write!(
            s,
            "<article class=\"doc\" id=\"doc-{n}\"><h3>{}</h3><div class=\"meta\">id <span class=\"doc-id\">{}</span>",
            esc(title.unwrap_or(&r.doc_id)),
            esc(&r.doc_id)
        );
        if let Some(date) = &r.date {
            let _ = write!(s, " · {}", esc(date));
        }
        if let Some(src) = &d.source {
            let _ = write!(s, " · source {}", url_html(src));
        }
        if let Some(url) = &r.url {
            let _ = write!(s, " · {}", url_html(url));
        }
        let _ = write!(
            s,
            " · {}, {} attributed</div>",
            plural(r.statements, "statement"),
            r.attributed
        );
        if !r.actors.is_empty() {
            s.push_str("<div class=\"meta\">Actors");
            if let Some(t) = input.targets.first() {
                let _ = write!(s, " on <q>{}</q>", esc(t.target));
            }
            s.push_str(": ");
            let parts: Vec<String> = r
                .actors
                .iter()
                .map(|a| {
                    format!(
                        "{} {} {} ({})",
                        esc(&a.actor),
                        overall_badge(a.stance),
                        fmt_score(a.score),
                        a.statements
                    )
                })
                .collect();
            s.push_str(&parts.join(" · "));
            s.push_str("</div>");
        }
        if d.statements.is_empty() {
            s.push_str("<p class=\"note\">No statements.</p>");
        } else {
            s.push_str("<ol class=\"stmts\">");
            for (m, sv) in d.statements.iter().enumerate() {
                let st = &sv.statement;
                let speaker = match &st.speaker {
                    Some(sp) => format!("<b class=\"speaker\">{}</b>", esc(sp)),
                    None => "<span class=\"muted\">no speaker</span>".to_string(),
                };
                let mention = match (&st.mention, &st.speaker) {
                    (Some(me), Some(sp)) if me != sp => {
                        format!(" <span class=\"muted\">(“{}”)</span>", esc(me))
                    }
                    _ => String::new(),
                };
                let _ = write!(
                    s,
                    "<li class=\"statement\" id=\"doc-{n}-s{m}\">{} <div class=\"meta\">{speaker}{mention} · {} · ",
                    marked(&st.text, st.start, st.quote),
                    esc(st.attribution.as_str())
                );
                s.push_str(&stances_html(sv, &input.targets));
                s.push_str("</div></li>");
            }
            s.push_str("</ol>");
        }
        s.push_str("</article>");
    }
    if input.documents_omitted > 0 {
        let _ = write!(
            s,
            "<p class=\"note omitted\">{} more document{} are in documents.jsonl and statements.jsonl.</p>",
            input.documents_omitted,
            if input.documents_omitted == 1 { "" } else { "s" }
        );
    }
    s.push_str("</section>");
}

/// A statement's stance per target: from `stances`, else from the statement's own label.
fn stances_html(sv: &StatementView, targets: &[TargetView]) -> String {
    let mut parts = Vec::new();
    if sv.stances.is_empty() {
        if let Some(l) = sv.statement.stance {
            let p = sv.statement.scores.map(|sc| sc.get(l));
            let name = targets.first().map(|t| t.target).unwrap_or("");
            parts.push(format!(
                "<span class=\"stance\">{} {}</span>",
                esc(name),
                label_badge(l, p)
            ));
        } else {
            parts.push("<span class=\"muted\">not scored</span>".to_string());
        }
    } else {
        for (i, (l, p)) in sv.stances.iter().enumerate() {
            let name = match targets.get(i) {
                Some(t) => esc(t.target),
                None => format!("target {}", i + 1),
            };
            parts.push(format!(
                "<span class=\"stance\">{name} {}</span>",
                label_badge(*l, Some(*p))
            ));
        }
    }
    parts.join(" ")
}

/// The whole page.
pub fn report_html(input: &HtmlInput) -> String {
    let mut s = String::with_capacity(64 * 1024);
    let script_hash = base64(&Sha256::digest(SCRIPT.as_bytes()));
    let names: Vec<String> = input
        .targets
        .iter()
        .map(|t| format!("<q>{}</q>", esc(t.target)))
        .collect();
    let title_targets: Vec<&str> = input.targets.iter().map(|t| t.target).collect();
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-{script_hash}'; img-src data:; base-uri 'none'; form-action 'none'\">\
<meta name=\"referrer\" content=\"no-referrer\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>Stance report: {}</title><style>{STYLE}</style></head><body><main>",
        esc(&title_targets.join(", "))
    );
    // Header.
    let c = input.counts;
    let t = &c.totals;
    let _ = write!(
        s,
        "<header><h1>Stance report</h1><div class=\"targets\">Target{}: {}</div><div class=\"muted\">Model <code class=\"model\">{}</code></div>",
        if input.targets.len() == 1 { "" } else { "s" },
        if names.is_empty() {
            "<span class=\"muted\">none</span>".to_string()
        } else {
            names.join(", ")
        },
        esc(input.model)
    );
    for line in crate::model::distinct_lines(input.targets.iter().map(|t| t.trust)) {
        let _ = write!(s, "<div class=\"trust\">{}</div>", esc(line));
    }
    s.push_str("<div class=\"cards\">");
    let mut card = |v: usize, what: &str, class: &str| {
        let _ = write!(
            s,
            "<div class=\"card {class}\"><b>{v}</b><span>{what}</span></div>"
        );
    };
    card(t.documents, "documents", "c-documents");
    card(t.statements, "statements", "c-statements");
    card(t.attributed, "attributed", "c-attributed");
    card(t.unattributed, "without speaker", "c-unattributed");
    card(t.actors, "actors", "c-actors");
    card(c.input.skipped, "skipped input", "c-skipped");
    s.push_str("</div>");
    let _ = write!(
        s,
        "<div class=\"note\">Input: {} files, {} documents read, {} empty documents, {} files unreadable, {} files ignored. Statement labels: {} FAVOR, {} AGAINST, {} NONE.</div>",
        c.input.files,
        c.input.documents,
        t.empty_documents,
        c.input.files_unreadable,
        c.input.files_ignored,
        t.favor,
        t.against,
        t.none
    );
    s.push_str("<nav class=\"toc\">");
    for (ti, tv) in input.targets.iter().enumerate() {
        let _ = write!(s, "<a href=\"#t{ti}\">{}</a>", esc(tv.target));
    }
    if input.targets.len() > 1 {
        s.push_str("<a href=\"#matrix\">Stance matrix</a>");
    }
    s.push_str("<a href=\"#documents\">Documents</a></nav></header>");

    for (ti, tv) in input.targets.iter().enumerate() {
        target_overview(&mut s, ti, tv);
    }
    if input.targets.len() > 1 {
        matrix_html(&mut s, &input.targets);
    }
    let anchors = Anchors::new(input.documents);
    for (ti, tv) in input.targets.iter().enumerate() {
        target_details(&mut s, ti, tv, input.documents, &anchors);
    }
    documents_html(&mut s, input);
    let _ = writeln!(
        s,
        "<footer class=\"note\">Written by standpoint {}.</footer></main><script>{SCRIPT}</script></body></html>",
        env!("CARGO_PKG_VERSION")
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::DocActor;
    use crate::attribute::Attribution;
    use crate::lexicon::ActorKind;

    const EVIL_SCRIPT: &str = "<script>alert(1)</script>";
    const EVIL_ATTR: &str = "\" onmouseover=\"x";
    const EVIL_URL: &str = "javascript:alert(1)";

    fn actor(name: &str, score: f64, stance: Overall, n: usize) -> ActorRecord {
        ActorRecord {
            actor: name.to_string(),
            aliases: vec![],
            kind: ActorKind::Person,
            statements: n,
            favor: 0,
            against: 0,
            none: n,
            stance,
            score,
            interval: [score - 0.2, score + 0.2],
            documents: 1,
            evidence: vec![],
        }
    }

    fn statement(doc: &str, n: usize, text: &str, start: usize, quote: Option<Span>) -> Statement {
        Statement {
            doc_id: doc.to_string(),
            statement_id: format!("{doc}:{n}"),
            start,
            end: start + text.len(),
            text: text.to_string(),
            quote,
            paragraph: 0,
            speaker: Some(format!("Speaker {EVIL_SCRIPT}")),
            mention: Some(EVIL_ATTR.to_string()),
            speaker_kind: None,
            attribution: Attribution::DirectQuote,
            target: "t".into(),
            stance: Some(Label::Favor),
            scores: None,
        }
    }

    /// Every value of the named attributes in the page.
    fn attributes<'p>(page: &'p str, names: &[&'p str]) -> Vec<(&'p str, &'p str)> {
        let mut out = Vec::new();
        for &n in names {
            let pat = format!(" {n}=\"");
            let mut rest = page;
            while let Some(i) = rest.find(&pat) {
                rest = &rest[i + pat.len()..];
                let end = rest.find('"').unwrap_or(rest.len());
                out.push((n, &rest[..end]));
                rest = &rest[end..];
            }
        }
        out
    }

    fn evil_page() -> String {
        let text = format!("He said “{EVIL_SCRIPT}” today.");
        let q0 = 100 + "He said “".len();
        let quote = Span {
            start: q0,
            end: q0 + EVIL_SCRIPT.len(),
        };
        let mut a = actor(
            &format!("Evil {EVIL_SCRIPT}{EVIL_ATTR}"),
            0.5,
            Overall::Favor,
            2,
        );
        a.aliases = vec![EVIL_ATTR.to_string()];
        a.evidence = vec![Evidence {
            doc_id: "../../etc/passwd".into(),
            statement_id: "../../etc/passwd:0".into(),
            start: 100,
            end: 100 + text.len(),
            text: text.clone(),
            quote: Some(quote),
            stance: Label::Favor,
            confidence: 0.9,
            attribution: Attribution::DirectQuote,
        }];
        let actors = vec![a];
        let timeline = vec![TimePoint {
            actor: actors[0].actor.clone(),
            period: format!("2022-01{EVIL_SCRIPT}"),
            statements: 2,
            favor: 2,
            against: 0,
            none: 0,
            score: 0.5,
        }];
        let docs = vec![DocView {
            doc: DocRecord {
                doc_id: "../../etc/passwd".into(),
                title: Some(format!("Title {EVIL_SCRIPT}")),
                date: Some(format!("2022-01-10{EVIL_ATTR}")),
                url: Some(EVIL_URL.into()),
                statements: 1,
                attributed: 1,
                favor: 1,
                against: 0,
                none: 0,
                actors: vec![DocActor {
                    actor: EVIL_SCRIPT.into(),
                    statements: 1,
                    favor: 1,
                    against: 0,
                    none: 0,
                    stance: Overall::Favor,
                    score: 0.5,
                }],
            },
            source: Some(" JavaScript:alert(1)".into()),
            statements: vec![StatementView {
                statement: statement("../../etc/passwd", 0, &text, 100, Some(quote)),
                stances: vec![(Label::Favor, 0.9), (Label::Against, 0.7)],
            }],
        }];
        let counts = RunCounts::default();
        let target2 = format!("T2 {EVIL_SCRIPT}");
        let input = HtmlInput {
            model: EVIL_SCRIPT,
            counts: &counts,
            targets: vec![
                TargetView {
                    target: EVIL_ATTR,
                    trust: EVIL_SCRIPT,
                    actors: &actors,
                    timeline: &timeline,
                },
                TargetView {
                    target: &target2,
                    trust: "t",
                    actors: &actors,
                    timeline: &[],
                },
            ],
            documents: &docs,
            documents_omitted: 3,
        };
        report_html(&input)
    }

    #[test]
    fn corpus_text_comes_out_inert() {
        let page = evil_page();
        // The raw dangerous strings never appear...
        assert!(!page.contains(EVIL_SCRIPT), "raw <script> from data");
        assert!(!page.contains("<script>alert"));
        assert!(!page.contains(EVIL_ATTR), "raw attribute breakout");
        assert!(!page.contains("onmouseover=\""));
        assert!(!page.to_ascii_lowercase().contains("href=\"javascript:"));
        assert!(!page.to_ascii_lowercase().contains("href=\" javascript:"));
        for (attr, v) in attributes(&page, &["id", "href"]) {
            let ok = match attr {
                "href" => {
                    v.starts_with('#')
                        && v[1..]
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '-')
                }
                _ => v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'),
            };
            assert!(ok, "{attr}=\"{v}\" is not an index-built anchor");
        }
        // ...their escaped forms do.
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(page.contains("&quot; onmouseover=&quot;x"));
        assert!(page.contains("<span class=\"url-text\">javascript:alert(1)</span>"));
        assert!(page.contains("<span class=\"url-text\"> JavaScript:alert(1)</span>"));
        assert!(page.contains("<span class=\"doc-id\">../../etc/passwd</span>"));
        assert!(page.contains("<a class=\"docref\" href=\"#doc-0-s0\">../../etc/passwd</a>"));
        // Anchors are indices.
        assert!(page.contains("id=\"doc-0\""));
        assert!(page.contains("href=\"#doc-0-s0\""));
        assert!(page.contains("id=\"t0-a0\""));
        // The quoted words are marked, escaped.
        assert!(page.contains("<mark>&lt;script&gt;alert(1)&lt;/script&gt;</mark>"));
        // One script element: the page's own, at the end.
        assert_eq!(page.matches("<script").count(), 1);
        assert!(page.contains("3 more documents are in documents.jsonl and statements.jsonl."));
    }

    #[test]
    fn months() {
        assert_eq!(month_of("2022-01-10").as_deref(), Some("2022-01"));
        assert_eq!(month_of("2022-01-10T12:00:00Z").as_deref(), Some("2022-01"));
        assert_eq!(month_of(" 2022-12 ").as_deref(), Some("2022-12"));
        assert_eq!(month_of("2022-01-10 08:00").as_deref(), Some("2022-01"));
        for bad in [
            "",
            "2022",
            "2022-13-01",
            "2022-00",
            "2022-1-10",
            "22-01-10",
            "2022-01-32",
            "2022-01-10x",
            "2022/01/10",
            "2022-W03",
            "January 2022",
            "２０２２-01",
            "2022-01-",
        ] {
            assert_eq!(month_of(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn quote_marks_respect_char_boundaries() {
        let text = "He said “Ukraine’s place is in NATO” firmly.";
        let a = text.find("Ukraine").unwrap();
        let b = text.find("NATO").unwrap() + 4;
        let q = |x: usize, y: usize| {
            Some(Span {
                start: 50 + x,
                end: 50 + y,
            })
        };
        assert_eq!(
            marked(text, 50, q(a, b)),
            "He said “<mark>Ukraine’s place is in NATO</mark>” firmly."
        );
        // Inside the three bytes of ’, outside the sentence, reversed, empty: no mark, no panic.
        let mid = text.find('’').unwrap() + 1;
        for bad in [
            q(a, mid),
            q(a, text.len() + 1),
            q(b, a),
            q(a, a),
            Some(Span { start: 10, end: 60 }),
        ] {
            assert_eq!(marked(text, 50, bad), esc(text));
        }
    }

    #[test]
    fn links_only_for_http() {
        assert_eq!(
            link_url(" https://example.org/a?b=1 "),
            Some("https://example.org/a?b=1")
        );
        assert_eq!(link_url("HTTP://example.org"), Some("HTTP://example.org"));
        for bad in [
            "javascript:alert(1)",
            "JavaScript:alert(1)",
            " javascript:alert(1)",
            "data:text/html,x",
            "vbscript:x",
            "http://",
            "https:///x",
            "//example.org",
            "ftp://x",
            "https://a b",
            "https://a\u{0}b",
            "https:ex",
            "\u{1}https://x",
        ] {
            assert_eq!(link_url(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn empty_input_makes_a_page() {
        let counts = RunCounts::default();
        let page = report_html(&HtmlInput {
            model: "m",
            counts: &counts,
            targets: vec![TargetView {
                target: "x",
                trust: "t",
                actors: &[],
                timeline: &[],
            }],
            documents: &[],
            documents_omitted: 0,
        });
        assert!(page.starts_with("<!DOCTYPE html>"));
        assert!(page.contains("No statement toward this target was attributed to an actor."));
        assert!(!page.contains("<svg"));
        let none = report_html(&HtmlInput {
            model: "m",
            counts: &counts,
            targets: vec![],
            documents: &[],
            documents_omitted: 0,
        });
        assert!(none.contains("No documents."));
    }

    #[test]
    fn non_finite_numbers_are_drawn_inside_the_axis() {
        let mut a = actor("A", f64::NAN, Overall::None, 0);
        a.interval = [f64::NEG_INFINITY, f64::NAN];
        let mut b = actor("B", 7.0, Overall::Favor, 3);
        b.interval = [0.9, -3.0];
        let actors = [a, b];
        let svg = chart_svg(0, "t", &actors, &chart_actors(&actors));
        assert!(!svg.contains("NaN") && !svg.contains("inf"), "{svg}");
        // B's score 7 is drawn at +1 (x = 900), its reversed interval as [-1, 0.9].
        assert!(svg.contains("<circle class=\"dot\" cx=\"900.0\""));
        assert!(svg.contains("<line class=\"whisker\" x1=\"250.0\""));
        assert_eq!(fmt_prob(f32::NAN), "n/a");
        assert_eq!(fmt_score(-0.001), "0.00");
        assert_eq!(fmt_score(-0.5), "\u{2212}0.50");
        assert_eq!(fmt_score(0.25), "+0.25");
    }

    #[test]
    fn chart_shows_the_top_actors_by_statements_ordered_by_score() {
        let actors: Vec<ActorRecord> = (0..45)
            .map(|i| {
                actor(
                    &format!("A{i:02}"),
                    1.0 - i as f64 / 22.0,
                    Overall::Mixed,
                    i + 1,
                )
            })
            .collect();
        let shown = chart_actors(&actors);
        assert_eq!(shown.len(), CHART_ACTORS);
        // The five with the fewest statements (A00..A04) are left out.
        assert!(shown.iter().all(|&i| i >= 5));
        // Most AGAINST first: A44 has the lowest score.
        assert_eq!(shown[0], 44);
        assert_eq!(*shown.last().unwrap(), 5);
        let counts = RunCounts::default();
        let page = report_html(&HtmlInput {
            model: "m",
            counts: &counts,
            targets: vec![TargetView {
                target: "x",
                trust: "t",
                actors: &actors,
                timeline: &[],
            }],
            documents: &[],
            documents_omitted: 0,
        });
        assert_eq!(page.matches("<g class=\"actor-row\"").count(), CHART_ACTORS);
        assert_eq!(page.matches("<tr class=\"actor\">").count(), 45);
        assert!(page.contains("The chart shows the 40 actors with the most statements, of 45"));
    }

    #[test]
    fn base64_of_known_bytes() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }
}
