//! `report.html` in a real browser: a page built from made-up records (two targets, actors
//! across the range, multi-byte quotes, dates over two months, hostile strings) is loaded in
//! headless Chromium; the DOM after the page's script ran is checked, and a screenshot is kept
//! as `target/report-screenshot.png`.
//!
//! Needs `/usr/bin/chromium` (`apt-get install -y chromium`; `STANDPOINT_CHROMIUM` names another
//! binary); without it the test fails, unless `STANDPOINT_SKIP_BROWSER=1`, which skips the
//! browser part (the page is still built and checked as text).

use standpoint::aggregate::{ActorRecord, DocActor, DocRecord, Evidence, Overall};
use standpoint::attribute::Attribution;
use standpoint::html::{
    month_of, report_html, DocView, HtmlInput, StatementView, TargetView, TimePoint,
};
use standpoint::lexicon::ActorKind;
use standpoint::model::{Label, Scores};
use standpoint::report::RunCounts;
use standpoint::segment::Span;
use standpoint::statements::Statement;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The browser; `STANDPOINT_CHROMIUM` names another binary.
fn chromium_path() -> PathBuf {
    std::env::var_os("STANDPOINT_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"))
}
const EVIL_SCRIPT: &str = "<script>alert(1)</script>";
const EVIL_ATTR: &str = "\" onmouseover=\"x";
const EVIL_NAME: &str = "Mallory <script>alert(1)</script>\" onmouseover=\"x";

/// Every attribute the page's generator writes; one made from data would not be here.
const ALLOWED_ATTRIBUTES: &[&str] = &[
    "lang",
    "data-ready",
    "charset",
    "http-equiv",
    "content",
    "name",
    "class",
    "id",
    "href",
    "rel",
    "target",
    "style",
    "title",
    "viewbox",
    "role",
    "aria-label",
    "xmlns",
    "x",
    "y",
    "x1",
    "y1",
    "x2",
    "y2",
    "width",
    "height",
    "fill",
    "fill-opacity",
    "stroke",
    "stroke-width",
    "stroke-dasharray",
    "text-anchor",
    "font-weight",
    "cx",
    "cy",
    "r",
    "data-rank",
    "data-stance",
    "data-score",
    "data-v",
    "data-table",
    "data-sort",
    "type",
    "placeholder",
];

const T1: &str = "NATO enlargement";
const T2: &str = "Sanctions on Russia";

/// One made-up sentence: speaker, text, and its stance toward T1 and T2.
struct Line {
    speaker: Option<&'static str>,
    text: String,
    stances: [(Label, f32); 2],
}

fn line(speaker: Option<&'static str>, text: &str, s1: (Label, f32), s2: (Label, f32)) -> Line {
    Line {
        speaker,
        text: text.to_string(),
        stances: [s1, s2],
    }
}

use Label::{Against as A, Favor as F, None as N};

struct Doc {
    id: &'static str,
    title: Option<String>,
    date: &'static str,
    url: Option<&'static str>,
    source: Option<&'static str>,
    lines: Vec<Line>,
}

fn corpus() -> Vec<Doc> {
    vec![
        Doc {
            id: "reuters-2022-01-12",
            title: Some("Finland weighs “Ukraine’s” lesson as NATO debate grows".into()),
            date: "2022-01-12",
            url: Some("https://example.org/news/finland-nato?src=a&b=1"),
            source: Some("Example Wire"),
            lines: vec![
                line(Some("Sauli Niinistö"), "Sauli Niinistö said: “Finland’s room to manoeuvre includes the option to apply for NATO membership.”", (F, 0.81), (N, 0.7)),
                line(Some("Jens Stoltenberg"), "“NATO’s door remains open,” Jens Stoltenberg told reporters.", (F, 0.93), (N, 0.8)),
                line(Some("Dmitry Peskov"), "Dmitry Peskov said: “Expansion of the alliance will not make Europe more secure.”", (A, 0.88), (A, 0.6)),
                line(None, "The debate has been going on for decades.", (N, 0.9), (N, 0.9)),
                line(Some("Viktor Orbán"), "Viktor Orbán said “we will not block anyone, but Hungary has questions”.", (F, 0.52), (A, 0.77)),
            ],
        },
        Doc {
            id: "../../etc/passwd",
            title: Some(format!("Title {EVIL_SCRIPT}")),
            date: "2022-01-28T09:30:00Z",
            url: Some("javascript:alert(1)"),
            source: Some("JavaScript:alert(document.cookie)"),
            lines: vec![
                line(Some(EVIL_NAME), &format!("{EVIL_NAME} wrote: “{EVIL_SCRIPT} enlargement is a mistake.”"), (A, 0.71), (F, 0.66)),
                line(Some("Recep Tayyip Erdoğan"), "Recep Tayyip Erdoğan said: “We are not against enlargement, but our concerns must be met.”", (A, 0.58), (N, 0.6)),
                line(Some("Jens Stoltenberg"), "Jens Stoltenberg said “Ukraine’s sovereignty is not negotiable”.", (F, 0.77), (F, 0.69)),
            ],
        },
        Doc {
            id: "ap-2022-02-24",
            title: None,
            date: "2022-02-24",
            url: Some("http://example.com/ap/2022/02/24"),
            source: None,
            lines: vec![
                line(Some("Ulf Kristersson"), "Ulf Kristersson said: “Sweden should seek NATO membership together with Finland.”", (F, 0.74), (F, 0.72)),
                line(Some("Dmitry Peskov"), "Dmitry Peskov warned: “Moscow will respond to any enlargement.”", (A, 0.91), (A, 0.81)),
                line(Some("Recep Tayyip Erdoğan"), "Recep Tayyip Erdoğan said “Türkiye supports the open door”.", (F, 0.62), (N, 0.7)),
                line(Some("Viktor Orbán"), "Viktor Orbán said: “Hungary is not in a hurry on enlargement.”", (A, 0.64), (A, 0.8)),
                line(Some("Ursula von der Leyen"), "Ursula von der Leyen said: “We will hit the Kremlin with massive sanctions.”", (N, 0.8), (F, 0.95)),
                line(Some("Sauli Niinistö"), "Sauli Niinistö said: “Our decision will be made in Helsinki.”", (N, 0.66), (N, 0.8)),
                line(Some("Karl Nehammer"), "Karl Nehammer said: “Austria stays neutral.”", (N, 0.82), (N, 0.75)),
            ],
        },
    ]
}

/// The quoted words of a sentence: between the first “ and the last ”, as byte offsets.
fn quote_in(text: &str) -> Option<(usize, usize)> {
    let a = text.find('“')? + '“'.len_utf8();
    let b = text.rfind('”')?;
    (a < b).then_some((a, b))
}

/// Per target: overall stance and score as the made-up aggregate has them.
fn actor_table(target: usize) -> Vec<(&'static str, ActorKind, Overall, f64)> {
    if target == 0 {
        vec![
            ("Jens Stoltenberg", ActorKind::Person, Overall::Favor, 0.82),
            ("Sauli Niinistö", ActorKind::Person, Overall::Favor, 0.41),
            ("Ulf Kristersson", ActorKind::Person, Overall::Favor, 0.66),
            ("Viktor Orbán", ActorKind::Person, Overall::Mixed, -0.08),
            (
                "Recep Tayyip Erdoğan",
                ActorKind::Person,
                Overall::Mixed,
                0.03,
            ),
            ("Dmitry Peskov", ActorKind::Person, Overall::Against, -0.86),
            (EVIL_NAME, ActorKind::Organisation, Overall::Against, -0.55),
            (
                "Ursula von der Leyen",
                ActorKind::Person,
                Overall::None,
                0.0,
            ),
            ("Karl Nehammer", ActorKind::Person, Overall::None, -0.02),
        ]
    } else {
        vec![
            (
                "Ursula von der Leyen",
                ActorKind::Person,
                Overall::Favor,
                0.91,
            ),
            ("Jens Stoltenberg", ActorKind::Person, Overall::Favor, 0.35),
            ("Ulf Kristersson", ActorKind::Person, Overall::Favor, 0.6),
            ("Viktor Orbán", ActorKind::Person, Overall::Against, -0.72),
            ("Dmitry Peskov", ActorKind::Person, Overall::Against, -0.7),
            (EVIL_NAME, ActorKind::Organisation, Overall::Favor, 0.5),
            ("Sauli Niinistö", ActorKind::Person, Overall::None, 0.02),
        ]
    }
}

/// One actor's statements in one month: count, per label, sum of signed probabilities.
type Period = (usize, [usize; 3], f64);

struct Built {
    counts: RunCounts,
    actors: [Vec<ActorRecord>; 2],
    timeline: [Vec<TimePoint>; 2],
    docs: Vec<DocView>,
}

fn build() -> Built {
    let corpus = corpus();
    let mut docs = Vec::new();
    // (target, speaker) → evidence, label counts; (target, speaker, month) → time point.
    let mut evidence: BTreeMap<(usize, &str), Vec<Evidence>> = BTreeMap::new();
    let mut labels: BTreeMap<(usize, &str), [usize; 3]> = BTreeMap::new();
    let mut docs_of: BTreeMap<(usize, &str), usize> = BTreeMap::new();
    let mut time: BTreeMap<(usize, &str, String), Period> = BTreeMap::new();
    let mut counts = RunCounts::default();
    for d in &corpus {
        let mut text = String::from("Intro paragraph. ");
        let mut views = Vec::new();
        for (n, l) in d.lines.iter().enumerate() {
            let start = text.len();
            text.push_str(&l.text);
            text.push(' ');
            let quote = quote_in(&l.text).map(|(a, b)| Span {
                start: start + a,
                end: start + b,
            });
            let (l0, p0) = l.stances[0];
            let scores = Scores {
                favor: if l0 == F { p0 } else { (1.0 - p0) / 2.0 },
                against: if l0 == A { p0 } else { (1.0 - p0) / 2.0 },
                none: if l0 == N { p0 } else { (1.0 - p0) / 2.0 },
            };
            let st = Statement {
                doc_id: d.id.to_string(),
                statement_id: format!("{}:{n}", d.id),
                start,
                end: start + l.text.len(),
                text: l.text.clone(),
                quote,
                paragraph: 0,
                speaker: l.speaker.map(str::to_string),
                mention: l
                    .speaker
                    .map(|s| s.split(' ').next_back().unwrap_or(s).to_string()),
                speaker_kind: l.speaker.map(|_| ActorKind::Person),
                attribution: if l.speaker.is_some() {
                    Attribution::DirectQuote
                } else {
                    Attribution::None
                },
                target: T1.to_string(),
                stance: Some(l0),
                scores: Some(scores),
            };
            counts.totals.statements += 1;
            match l0 {
                F => counts.totals.favor += 1,
                A => counts.totals.against += 1,
                N => counts.totals.none += 1,
            }
            if let Some(sp) = l.speaker {
                counts.totals.attributed += 1;
                let month = month_of(d.date).expect("test dates parse");
                for (ti, &(lab, p)) in l.stances.iter().enumerate() {
                    evidence.entry((ti, sp)).or_default().push(Evidence {
                        doc_id: st.doc_id.clone(),
                        statement_id: st.statement_id.clone(),
                        start: st.start,
                        end: st.end,
                        text: st.text.clone(),
                        quote: st.quote,
                        stance: lab,
                        confidence: p,
                        attribution: st.attribution,
                    });
                    labels.entry((ti, sp)).or_default()[lab.index()] += 1;
                    *docs_of.entry((ti, sp)).or_default() += 1;
                    let e = time.entry((ti, sp, month.clone())).or_default();
                    let diff = match lab {
                        F => f64::from(p),
                        A => -f64::from(p),
                        N => 0.0,
                    };
                    e.0 += 1;
                    e.1[lab.index()] += 1;
                    e.2 += diff;
                }
            } else {
                counts.totals.unattributed += 1;
            }
            views.push(StatementView {
                statement: st,
                stances: l.stances.to_vec(),
            });
        }
        let attributed = views
            .iter()
            .filter(|v| v.statement.speaker.is_some())
            .count();
        let f = |lab| views.iter().filter(|v| v.stances[0].0 == lab).count();
        docs.push(DocView {
            doc: DocRecord {
                doc_id: d.id.to_string(),
                title: d.title.clone(),
                date: Some(d.date.to_string()),
                url: d.url.map(str::to_string),
                statements: views.len(),
                attributed,
                favor: f(F),
                against: f(A),
                none: f(N),
                actors: vec![DocActor {
                    actor: views
                        .iter()
                        .find_map(|v| v.statement.speaker.clone())
                        .unwrap_or_default(),
                    statements: 1,
                    favor: 1,
                    against: 0,
                    none: 0,
                    stance: Overall::Favor,
                    score: 0.4,
                }],
            },
            source: d.source.map(str::to_string),
            statements: views,
        });
    }
    counts.totals.documents = docs.len();
    counts.input.documents = docs.len() + 2;
    counts.input.files = 2;
    counts.input.skipped = 2;
    let actors = [0, 1].map(|ti| {
        actor_table(ti)
            .into_iter()
            .map(|(name, kind, stance, score)| {
                let [fa, ag, no] = labels.get(&(ti, name)).copied().unwrap_or_default();
                let n = fa + ag + no;
                let half = 1.96 / (n.max(1) as f64).sqrt() * 0.6;
                ActorRecord {
                    actor: name.to_string(),
                    aliases: vec![name.split(' ').next_back().unwrap_or(name).to_string()],
                    kind,
                    statements: n,
                    favor: fa,
                    against: ag,
                    none: no,
                    stance,
                    score,
                    interval: [(score - half).max(-1.0), (score + half).min(1.0)],
                    documents: docs_of.get(&(ti, name)).copied().unwrap_or(0),
                    evidence: evidence.get(&(ti, name)).cloned().unwrap_or_default(),
                }
            })
            .collect::<Vec<_>>()
    });
    counts.totals.actors = actors[0].len();
    let timeline = [0, 1].map(|ti| {
        time.iter()
            .filter(|((t, _, _), _)| *t == ti)
            .map(|((_, a, m), (n, l, sum))| TimePoint {
                actor: a.to_string(),
                period: m.clone(),
                statements: *n,
                favor: l[0],
                against: l[1],
                none: l[2],
                score: sum / *n as f64,
            })
            .collect::<Vec<_>>()
    });
    Built {
        counts,
        actors,
        timeline,
        docs,
    }
}

/// Runs a command with a deadline, returning its stdout; panics with its stderr on failure.
fn run(cmd: &mut Command, limit: Duration) -> String {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start chromium");
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let t0 = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait") {
            break st;
        }
        if t0.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium ran past {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stdout = reader.join().unwrap_or_default();
    let stderr = err_reader.join().unwrap_or_default();
    assert!(status.success(), "chromium failed ({status}): {stderr}");
    stdout
}

fn chromium(profile: &Path) -> Command {
    let mut c = Command::new(chromium_path());
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    c
}

/// The tags of a serialised DOM (text never holds a raw `<` there), skipping the raw text of
/// `<script>` and `<style>` elements.
fn tags(dom: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = dom;
    while let Some(i) = rest.find('<') {
        rest = &rest[i..];
        let end = rest.find('>').map(|e| e + 1).unwrap_or(rest.len());
        let tag = &rest[..end];
        out.push(tag);
        rest = &rest[end..];
        for raw in ["script", "style"] {
            if tag.starts_with(&format!("<{raw}>")) || tag.starts_with(&format!("<{raw} ")) {
                let close = format!("</{raw}>");
                rest = &rest[rest.find(&close).unwrap_or(rest.len())..];
            }
        }
    }
    out
}

/// The attributes of an opening tag as the DOM serialiser writes it: `name="value"` pairs
/// (values double-quoted, `"` inside written `&quot;`) or bare names.
fn attrs(tag: &str) -> Vec<(&str, &str)> {
    let body = tag.trim_start_matches('<').trim_end_matches('>');
    let mut rest = body.trim_start_matches(|c: char| !c.is_whitespace());
    let mut out = Vec::new();
    loop {
        rest = rest.trim_start();
        if rest.is_empty() || rest == "/" {
            break;
        }
        let end = rest
            .find(|c: char| c == '=' || c.is_whitespace())
            .unwrap_or(rest.len());
        if end == 0 {
            // A stray `=`: not what a serialiser writes; step over it.
            out.push(("=", ""));
            rest = &rest[1..];
            continue;
        }
        let name = &rest[..end];
        rest = &rest[end..];
        if let Some(r) = rest.strip_prefix("=\"") {
            let close = r.find('"').unwrap_or(r.len());
            out.push((name, &r[..close]));
            rest = r.get(close + 1..).unwrap_or("");
        } else {
            out.push((name, ""));
        }
    }
    out
}

/// Values of one attribute over all tags.
fn attr_values<'a>(dom: &'a str, name: &str) -> Vec<&'a str> {
    tags(dom)
        .into_iter()
        .filter(|t| !t.starts_with("</") && !t.starts_with("<!"))
        .flat_map(attrs)
        .filter(|(n, _)| *n == name)
        .map(|(_, v)| v)
        .collect()
}

/// The element with `id`, from its opening tag to its matching closing tag.
fn element<'a>(dom: &'a str, tag: &str, id: &str) -> &'a str {
    let (open, close) = (format!("<{tag} "), format!("</{tag}>"));
    let at = dom
        .find(&format!(" id=\"{id}\""))
        .unwrap_or_else(|| panic!("no element #{id}"));
    let start = dom[..at].rfind(&open).expect("opening tag");
    let mut depth = 0usize;
    let mut i = start;
    while i < dom.len() {
        let rest = &dom[i..];
        if rest.starts_with(&open) || rest.starts_with(&format!("<{tag}>")) {
            depth += 1;
        } else if rest.starts_with(&close) {
            depth -= 1;
            if depth == 0 {
                return &dom[start..i + close.len()];
            }
        }
        i += rest.chars().next().map_or(1, char::len_utf8);
    }
    &dom[start..]
}

fn page(b: &Built) -> String {
    let input = HtmlInput {
        model: "default (cross-encoder, all-MiniLM-L6-v2 fine-tuned)",
        counts: &b.counts,
        targets: vec![
            TargetView {
                target: T1,
                trust: "How far to trust the labels: measured.",
                actors: &b.actors[0],
                timeline: &b.timeline[0],
            },
            TargetView {
                target: T2,
                trust: "How far to trust the labels: measured.",
                actors: &b.actors[1],
                timeline: &b.timeline[1],
            },
        ],
        documents: &b.docs,
        documents_omitted: 12,
    };
    report_html(&input)
}

fn check_dom(dom: &str, b: &Built) {
    // The page's script ran (the CSP admitted it by its hash).
    assert!(
        dom.contains("<html lang=\"en\" data-ready=\"1\">"),
        "script did not run: {}",
        &dom[..dom.len().min(400)]
    );
    // One script element, the page's own; nothing hostile became an element or attribute.
    assert_eq!(dom.matches("<script").count(), 1, "script elements");
    assert!(!dom.contains("<script>alert"));
    let mut attributes = 0;
    for t in tags(dom)
        .into_iter()
        .filter(|t| !t.starts_with("</") && !t.starts_with("<!"))
    {
        for (name, value) in attrs(t) {
            attributes += 1;
            let name = name.to_ascii_lowercase();
            assert!(!name.starts_with("on"), "event handler {name} in {t}");
            assert!(
                ALLOWED_ATTRIBUTES.contains(&name.as_str()),
                "attribute {name:?} in {t}"
            );
            if matches!(name.as_str(), "href" | "src" | "action" | "xlink:href") {
                assert!(!value.to_ascii_lowercase().contains("javascript:"), "{t}");
            }
        }
    }
    assert!(attributes > 500, "attributes parsed: {attributes}");
    assert!(dom.contains("Mallory &lt;script&gt;alert(1)&lt;/script&gt;\" onmouseover=\"x"));
    // Links: in-page anchors that exist, or http(s) URLs.
    let ids: std::collections::HashSet<&str> = attr_values(dom, "id").into_iter().collect();
    for h in attr_values(dom, "href") {
        if let Some(frag) = h.strip_prefix('#') {
            assert!(ids.contains(frag), "dangling anchor {h}");
        } else {
            assert!(
                h.starts_with("https://") || h.starts_with("http://"),
                "href {h}"
            );
        }
    }
    for id in &ids {
        assert!(
            id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'),
            "id {id:?} not built from indices"
        );
    }
    assert!(dom.contains("href=\"https://example.org/news/finland-nato?src=a&amp;b=1\""));
    assert!(dom.contains("<span class=\"url-text\">javascript:alert(1)</span>"));

    // Charts: one row per actor, ordered from AGAINST to FAVOR, coloured by overall stance.
    for ti in 0..2 {
        let chart = element(dom, "svg", &format!("chart-{ti}"));
        let rows: Vec<&str> = tags(chart)
            .into_iter()
            .filter(|t| t.starts_with("<g class=\"actor-row\""))
            .collect();
        assert_eq!(rows.len(), b.actors[ti].len(), "chart {ti} rows");
        let scores: Vec<f64> = attr_values(chart, "data-score")
            .iter()
            .map(|v| v.parse().expect("score"))
            .collect();
        assert_eq!(scores.len(), rows.len());
        assert!(scores.windows(2).all(|w| w[0] <= w[1]), "{scores:?}");
        assert_eq!(chart.matches("class=\"whisker\"").count(), rows.len());
        assert_eq!(chart.matches("<circle class=\"dot\"").count(), rows.len());
        for s in ["FAVOR", "AGAINST"] {
            assert!(
                chart.contains(&format!("data-stance=\"{s}\"")),
                "{s} in chart {ti}"
            );
        }
    }
    let chart0 = element(dom, "svg", "chart-0");
    assert!(chart0.contains("data-stance=\"MIXED\""));
    assert!(chart0.contains("data-stance=\"NONE\""));
    assert!(chart0.contains("← AGAINST") && chart0.contains("FAVOR →"));
    // The most AGAINST actor is drawn first, in the AGAINST colour.
    let first = &chart0[chart0.find("<g class=\"actor-row\"").unwrap()..];
    assert!(first.starts_with(
        "<g class=\"actor-row\" data-rank=\"0\" data-stance=\"AGAINST\" data-score=\"-0.8600\">"
    ));
    assert!(first[..first.find("</g>").unwrap()].contains("<title>Dmitry Peskov"));

    // Matrix: every actor of either target once; the cells.
    let matrix = element(dom, "table", "matrix-table");
    assert_eq!(matrix.matches("<tr class=\"matrix-row\">").count(), 9);
    let row = |name: &str| -> &str {
        let i = matrix
            .find(&format!("<tr class=\"matrix-row\"><td>{name}</td>"))
            .unwrap_or_else(|| panic!("no matrix row for {name}"));
        &matrix[i..i + matrix[i..].find("</tr>").unwrap()]
    };
    let orban = row("Viktor Orbán");
    let cells: Vec<&str> = attr_values(orban, "data-stance");
    assert_eq!(cells, ["MIXED", "AGAINST"]);
    assert!(orban.contains("\u{2212}0.08") && orban.contains("\u{2212}0.72"));
    let nehammer = row("Karl Nehammer");
    assert_eq!(attr_values(nehammer, "data-stance"), ["NONE"]);
    assert!(nehammer.contains("cell-absent"), "{nehammer}");
    assert!(row("Ursula von der Leyen").contains("+0.91"));

    // Evidence: quotes marked, with multi-byte text intact, linking to statements on the page.
    let marks = dom.matches("<mark>").count();
    assert!(marks >= 2 * 14, "marks: {marks}");
    assert!(dom.contains("<mark>Ukraine’s sovereignty is not negotiable</mark>"));
    assert!(dom
        .contains("<mark>&lt;script&gt;alert(1)&lt;/script&gt; enlargement is a mistake.</mark>"));
    let stolt = b.actors[0]
        .iter()
        .position(|a| a.actor == "Jens Stoltenberg")
        .unwrap();
    let ev = element(dom, "div", &format!("t0-a{stolt}"));
    assert_eq!(ev.matches("<li class=\"evidence\">").count(), 2);
    assert!(ev.contains("<span class=\"st st-favor\">FAVOR <span class=\"p\">0.93</span></span>"));
    assert!(ev.contains("href=\"#doc-0-s1\""));
    assert!(ev.contains("href=\"#doc-1-s2\">../../etc/passwd</a>"));

    // Documents, their statements with a stance per target, the note on omitted ones.
    for n in 0..3 {
        let d = element(dom, "article", &format!("doc-{n}"));
        assert_eq!(
            d.matches("<li class=\"statement\"").count(),
            b.docs[n].statements.len()
        );
        assert_eq!(
            d.matches("<span class=\"stance\">").count(),
            2 * b.docs[n].statements.len()
        );
    }
    let d1 = element(dom, "article", "doc-1");
    assert!(d1.contains("<h3>Title &lt;script&gt;alert(1)&lt;/script&gt;</h3>"));
    assert!(d1.contains("<span class=\"url-text\">JavaScript:alert(document.cookie)</span>"));
    assert!(element(dom, "article", "doc-2").contains("<h3>ap-2022-02-24</h3>"));
    assert!(dom.contains("12 more documents are in documents.jsonl and statements.jsonl."));

    // Time view: both months, a row per actor with dated statements.
    let heat = element(dom, "table", "t0-heat");
    assert!(heat.contains("<th class=\"num\">2022-01</th><th class=\"num\">2022-02</th>"));
    assert_eq!(heat.matches("<tr class=\"time-row\">").count(), 9);

    assert!(
        dom.contains("<p class=\"muted summary\">9 actors: 3 FAVOR, 2 AGAINST, 2 MIXED, 2 NONE.")
    );
    assert!(
        dom.contains("<p class=\"muted summary\">7 actors: 4 FAVOR, 2 AGAINST, 0 MIXED, 1 NONE.")
    );

    // Header counts.
    assert!(dom.contains("<div class=\"card c-documents\"><b>3</b><span>documents</span></div>"));
    assert!(dom.contains("<div class=\"card c-skipped\"><b>2</b><span>skipped input</span></div>"));
}

#[test]
fn report_html_in_a_browser() {
    let b = build();
    let html = page(&b);
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("report.html");
    std::fs::write(&path, &html).expect("write report.html");
    let artefacts = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("target"));
    let _ = std::fs::write(artefacts.join("report-sample.html"), &html);

    // As text, before any browser: the page needs nothing from the network.
    for bad in ["src=\"http", "href=\"//", "@import", "url(http", "<link"] {
        assert!(!html.contains(bad), "network reference {bad}");
    }
    assert!(!html.contains(EVIL_SCRIPT) && !html.contains(EVIL_ATTR));

    let browser = chromium_path();
    if !browser.exists() {
        if std::env::var("STANDPOINT_SKIP_BROWSER").as_deref() == Ok("1") {
            eprintln!(
                "html_report: {} not found; browser checks skipped (STANDPOINT_SKIP_BROWSER=1)",
                browser.display()
            );
            return;
        }
        panic!(
            "{} not found: install it with `apt-get install -y chromium`, \
             or set STANDPOINT_SKIP_BROWSER=1 to skip the browser checks",
            browser.display()
        );
    }
    let url = format!("file://{}", path.display());

    let t0 = Instant::now();
    let profile = tempfile::tempdir().expect("profile dir");
    let dom = run(
        chromium(profile.path()).arg("--dump-dom").arg(&url),
        Duration::from_secs(120),
    );
    let dump_time = t0.elapsed();
    check_dom(&dom, &b);

    let t1 = Instant::now();
    let profile = tempfile::tempdir().expect("profile dir");
    let shot = dir.path().join("report.png");
    run(
        chromium(profile.path())
            .arg(format!("--screenshot={}", shot.display()))
            .arg("--window-size=1280,2000")
            .arg(&url),
        Duration::from_secs(120),
    );
    let shot_time = t1.elapsed();
    let png = std::fs::read(&shot).expect("screenshot written");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    assert_eq!(&png[12..16], b"IHDR");
    let w = u32::from_be_bytes([png[16], png[17], png[18], png[19]]);
    let h = u32::from_be_bytes([png[20], png[21], png[22], png[23]]);
    assert_eq!((w, h), (1280, 2000), "screenshot size");
    assert!(
        png.len() > 50_000,
        "screenshot of {} bytes: a blank page?",
        png.len()
    );
    let kept = artefacts.join("report-screenshot.png");
    std::fs::copy(&shot, &kept).expect("keep the screenshot");
    eprintln!(
        "html_report: DOM dump {:.1}s, screenshot {:.1}s ({} bytes) → {}",
        dump_time.as_secs_f64(),
        shot_time.as_secs_f64(),
        png.len(),
        kept.display()
    );
}

/// The real pipeline, end to end: the sample corpus with the default model, and a hostile
/// corpus (`<script>`, `javascript:` links, `=HYPERLINK(...)` cells, `../` ids) with the tiny
/// model, both through `standpoint analyze`; every output must come out inert, and report.html
/// must render the chart and the evidence in the browser.
#[test]
fn pipeline_reports_render_and_hostile_text_comes_out_inert() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().expect("temp dir");
    let hostile = dir.path().join("hostile.jsonl");
    let docs = [
        serde_json::json!({"id": "../../etc/passwd", "title": "<script>alert('t')</script>",
            "url": "javascript:alert(1)", "date": "2022-01-10",
            "text": "=HYPERLINK(\"http://evil.example\",\"click\") said the report. \"NATO must never take Ukraine <script>alert(2)</script>,\" said Sergei Lavrov. @SUM(A1) was cited too."}),
        serde_json::json!({"id": "=cmd|'/c calc'!A0", "url": "https://example.org/a?b=1&c=<x>", "date": "2022-02-03",
            "text": "\"Enlargement keeps Europe safe,\" said Jens Stoltenberg. +1 is what -2 said."}),
    ];
    std::fs::write(
        &hostile,
        docs.iter()
            .map(|d| d.to_string() + "\n")
            .collect::<String>(),
    )
    .unwrap();
    let bin = env!("CARGO_BIN_EXE_standpoint");
    let analyze = |inputs: &Path, out: &Path, model: Option<PathBuf>| {
        let mut c = Command::new(bin);
        c.arg("analyze")
            .arg(inputs)
            .arg("--out")
            .arg(out)
            .arg("--quiet");
        if let Some(m) = model {
            c.arg("--model").arg(m);
        }
        let o = c.output().expect("runs");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    let h = dir.path().join("h");
    analyze(&hostile, &h, Some(root.join("tests/fixtures/nli/bert")));
    // No output file is named after an id.
    let names: Vec<String> = std::fs::read_dir(&h)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names
            .iter()
            .all(|n| !n.contains("passwd") && !n.contains("cmd")),
        "{names:?}"
    );
    assert!(!dir.path().join("etc").exists());
    // CSV: no cell a spreadsheet would read as a formula.
    for f in [
        "statements.csv",
        "actors.csv",
        "actor-target-edges.csv",
        "actor-actor-edges.csv",
    ] {
        let text = std::fs::read_to_string(h.join(f)).unwrap();
        for (i, line) in text.lines().enumerate() {
            for cell in line.split(',') {
                let c = cell.trim_start_matches('"');
                assert!(
                    !(c.starts_with(['=', '+', '@'])
                        || c.starts_with('-') && c[1..].parse::<f64>().is_err()),
                    "{f}:{}: cell {cell:?}",
                    i + 1
                );
            }
        }
    }
    let csv = std::fs::read_to_string(h.join("statements.csv")).unwrap();
    assert!(csv.contains("'=HYPERLINK"), "{csv}");
    assert!(csv.contains("'=cmd"), "{csv}");
    // GraphML: corpus text only as escaped character data.
    let graph = std::fs::read_to_string(h.join("actor-target.graphml")).unwrap();
    assert!(!graph.contains("<script"));
    // HTML: escaped, only http(s) links, rendered with one chart row per actor.
    let html = std::fs::read_to_string(h.join("report.html")).unwrap();
    assert!(!html.contains("<script>alert") && !html.contains("href=\"javascript"));
    assert!(html.contains("&lt;script&gt;alert(2)&lt;/script&gt;"));
    let browser = chromium_path();
    if !browser.exists() {
        assert_eq!(
            std::env::var("STANDPOINT_SKIP_BROWSER").as_deref(),
            Ok("1"),
            "{} not found: install it with `apt-get install -y chromium`, or set STANDPOINT_SKIP_BROWSER=1",
            browser.display()
        );
        return;
    }
    let sample = dir.path().join("sample");
    analyze(&root.join("corpus"), &sample, None);
    for (out, actors) in [(&h, "h"), (&sample, "sample")] {
        let n_actors = {
            let v: serde_json::Value =
                serde_json::from_slice(&std::fs::read(out.join("actors.json")).unwrap()).unwrap();
            v["actors"].as_array().unwrap().len()
        };
        let profile = tempfile::tempdir().expect("profile dir");
        let url = format!("file://{}", out.join("report.html").display());
        let dom = run(
            chromium(profile.path()).arg("--dump-dom").arg(&url),
            Duration::from_secs(120),
        );
        assert!(
            dom.contains("data-ready=\"1\""),
            "{actors}: the page's script ran"
        );
        assert_eq!(dom.matches("<script").count(), 1, "{actors}");
        let chart = element(&dom, "svg", "chart-0");
        let rows = tags(chart)
            .into_iter()
            .filter(|t| t.starts_with("<g class=\"actor-row\""))
            .count();
        assert_eq!(rows, n_actors.min(html_chart_cap()), "{actors}: chart rows");
        assert!(
            dom.contains("<mark"),
            "{actors}: evidence with the quote marked"
        );
        for h in attr_values(&dom, "href") {
            assert!(
                h.starts_with('#') || h.starts_with("https://") || h.starts_with("http://"),
                "{h}"
            );
        }
    }
}

fn html_chart_cap() -> usize {
    standpoint::html::CHART_ACTORS
}
