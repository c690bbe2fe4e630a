//! Exports for spreadsheets and network tools: CSV tables of actors and statements, and
//! discourse networks in the tradition of the Discourse Network Analyzer (actor × concept ×
//! agreement; here the concepts are the targets and the agreement is the stance), as GraphML
//! (Gephi, visone, networkx, igraph, yEd) and as CSV edge lists.
//!
//! Everything that comes from the corpus (texts, names, document ids, targets) is untrusted:
//!
//! - CSV: quoting by the `csv` crate (RFC 4180: fields holding `"`, `,` or a line break are
//!   quoted, quotes doubled). Against formula injection (OWASP, "CSV Injection"), a *text* cell
//!   that starts with `=`, `+`, `-`, `@`, a tab or a carriage return gets a single quote `'`
//!   in front ([`neutralise_csv_text`]); numbers the exporter writes itself (scores such as
//!   `-0.25`, offsets, counts) are written as plain numbers and stay numeric. The quote is
//!   not removed on reading: a name `=x` reads back as `'=x` (and so does a name `'=x`; the
//!   neutralisation is not reversible, by design).
//! - GraphML: names, targets and texts go only into `<data>` element content, escaped
//!   ([`xml_text`]: `& < > " '` as entities, a carriage return as `&#13;` so that it survives
//!   line-end normalisation, and the characters XML 1.0 does not allow dropped). Node and edge
//!   ids are the exporter's own (`a0`, `t0`, `e0`), never corpus text; the names are in the
//!   `label` attribute, which Gephi shows as the node label.
//!
//! Actors are identified by name and kind (a person and a state of the same name are two
//! nodes); targets by their text. Node ids are the actor's or target's position in first-seen
//! order over `per_target`, the same in the two-mode and the one-mode export of the same input.
//! When one target lists the same name and kind more than once (`actors.json` can: corpus
//! resolution may keep groups apart that end with the same canonical name), the records are
//! merged into one node and one edge: counts summed, the score the statement-weighted mean,
//! the stance recomputed from the counts by the rule of [`Tally::overall`]. `actors.csv`
//! keeps the records as they are.
//!
//! Non-finite scores (never produced by the pipeline) are written as empty CSV cells and left
//! out of the GraphML (a missing `<data>` is a missing value for every reader).
//!
//! GraphML attribute types are those every reader maps: `string`, `int` (counts) and `double`
//! (scores, and `weight`, which Gephi and igraph take as the edge weight and read as a
//! floating-point number).

use crate::aggregate::{ActorRecord, Overall, Tally};
use crate::lexicon::ActorKind;
use crate::statements::Statement;
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::io::{BufWriter, Write};

/// Errors of the exports: the underlying writer failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("export: {0}")]
    Io(#[from] std::io::Error),
    #[error("export (CSV): {0}")]
    Csv(#[from] csv::Error),
}

/// The columns of [`write_actors_csv`].
pub const ACTORS_COLUMNS: [&str; 13] = [
    "target",
    "actor",
    "kind",
    "stance",
    "score",
    "interval_low",
    "interval_high",
    "statements",
    "favor",
    "against",
    "none",
    "documents",
    "aliases",
];

/// The columns of [`StatementsCsv`].
pub const STATEMENTS_COLUMNS: [&str; 16] = [
    "doc_id",
    "statement_id",
    "start",
    "end",
    "paragraph",
    "speaker",
    "speaker_kind",
    "mention",
    "attribution",
    "target",
    "stance",
    "p_favor",
    "p_against",
    "p_none",
    "quote",
    "text",
];

/// The columns of [`write_two_mode_edges_csv`]: `source` is the actor's name, `target` the
/// target's; `source_id` and `target_id` are the node ids of the GraphML export, which tell
/// apart an actor and a target (or two actors of different kinds) that share a name.
pub const TWO_MODE_EDGE_COLUMNS: [&str; 11] = [
    "source",
    "target",
    "stance",
    "score",
    "statements",
    "favor",
    "against",
    "none",
    "weight",
    "source_id",
    "target_id",
];

/// The columns of [`write_one_mode_edges_csv`]: `source` and `target` are actors' names,
/// `source_id` and `target_id` their node ids in the GraphML exports.
pub const ONE_MODE_EDGE_COLUMNS: [&str; 8] = [
    "source",
    "target",
    "weight",
    "agreement_targets",
    "conflict_targets",
    "weight_statements",
    "source_id",
    "target_id",
];

/// A text cell made safe for spreadsheets: a single quote in front when it starts with `=`,
/// `+`, `-`, `@`, a tab or a carriage return (which a spreadsheet could take for a formula),
/// else unchanged. Quoting for CSV syntax is the CSV writer's job, not this function's.
pub fn neutralise_csv_text(s: &str) -> Cow<'_, str> {
    match s.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') => Cow::Owned(format!("'{s}")),
        _ => Cow::Borrowed(s),
    }
}

/// Whether XML 1.0 allows the character at all (its `Char` production; Rust strings hold no
/// surrogates).
fn xml_allowed(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Text escaped for XML element content or attribute values: `&`, `<`, `>`, `"` and `'` as
/// entities, a carriage return as `&#13;` (a literal one would be read as a line feed), tab
/// and line feed as they are, and characters XML 1.0 does not allow (the C0 controls other
/// than tab, line feed and carriage return; U+FFFE, U+FFFF) dropped.
pub fn xml_text(s: &str) -> Cow<'_, str> {
    if s.chars()
        .all(|c| xml_allowed(c) && !matches!(c, '&' | '<' | '>' | '"' | '\'' | '\r'))
    {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\r' => out.push_str("&#13;"),
            c if xml_allowed(c) => out.push(c),
            _ => {}
        }
    }
    Cow::Owned(out)
}

/// A number written by the exporter: shortest round-trip form, empty when not finite.
fn num(x: f64) -> String {
    if x.is_finite() {
        x.to_string()
    } else {
        String::new()
    }
}

fn num32(x: f32) -> String {
    if x.is_finite() {
        x.to_string()
    } else {
        String::new()
    }
}

/// Writes `actors.csv`: a header, then one row per actor and target, in the order given:
/// target, actor, kind, stance, score, interval_low, interval_high, statements, favor, against,
/// none, documents, aliases (joined with `"; "`). Text cells are neutralised
/// ([`neutralise_csv_text`]); the aliases cell as a whole.
pub fn write_actors_csv(
    w: &mut dyn Write,
    per_target: &[(&str, &[ActorRecord])],
) -> Result<(), ExportError> {
    let mut c = csv::Writer::from_writer(w);
    c.write_record(ACTORS_COLUMNS)?;
    for (target, actors) in per_target {
        let target = neutralise_csv_text(target);
        for a in actors.iter() {
            let aliases = a.aliases.join("; ");
            c.write_record([
                &*target,
                &*neutralise_csv_text(&a.actor),
                a.kind.as_str(),
                a.stance.as_str(),
                &num(a.score),
                &num(a.interval[0]),
                &num(a.interval[1]),
                &a.statements.to_string(),
                &a.favor.to_string(),
                &a.against.to_string(),
                &a.none.to_string(),
                &a.documents.to_string(),
                &*neutralise_csv_text(&aliases),
            ])?;
        }
    }
    c.flush()?;
    Ok(())
}

/// The quoted words of a statement, taken from its own text by its quote offsets; `None`
/// when it has no quotation or the offsets do not fall within the sentence on character
/// boundaries (never a panic).
pub fn quote_words(s: &Statement) -> Option<&str> {
    let q = s.quote?;
    let a = q.start.checked_sub(s.start)?;
    let b = q.end.checked_sub(s.start)?;
    s.text.get(a..b)
}

/// `statements.csv`, streamed: create once, [`write`](Self::write) each statement, then
/// [`finish`](Self::finish). The header is written with the first statement (or by `finish`,
/// so that an export of no statements is a header alone). Columns: [`STATEMENTS_COLUMNS`].
/// An unscored statement has empty `stance` and probability cells; one without a speaker
/// empty `speaker`, `speaker_kind` and `mention`.
pub struct StatementsCsv<W: Write> {
    w: csv::Writer<W>,
    header: bool,
}

impl<W: Write> StatementsCsv<W> {
    pub fn new(w: W) -> Self {
        StatementsCsv {
            w: csv::Writer::from_writer(w),
            header: false,
        }
    }

    fn header(&mut self) -> Result<(), ExportError> {
        if !self.header {
            self.w.write_record(STATEMENTS_COLUMNS)?;
            self.header = true;
        }
        Ok(())
    }

    /// Writes one statement. `doc_text_quote` is the quoted words when the caller has them
    /// (for instance sliced from the document's text by `s.quote`); with `None` they are
    /// taken from the statement's own text ([`quote_words`]), and the cell is empty when the
    /// statement has no quotation.
    pub fn write(
        &mut self,
        s: &Statement,
        doc_text_quote: Option<&str>,
    ) -> Result<(), ExportError> {
        self.header()?;
        let quote = doc_text_quote.or_else(|| quote_words(s)).unwrap_or("");
        let p = |f: fn(&crate::model::Scores) -> f32| s.scores.as_ref().map(f).map(num32);
        let t = neutralise_csv_text;
        self.w.write_record([
            &*t(&s.doc_id),
            &*t(&s.statement_id),
            &s.start.to_string(),
            &s.end.to_string(),
            &s.paragraph.to_string(),
            &*t(s.speaker.as_deref().unwrap_or("")),
            s.speaker_kind.map(ActorKind::as_str).unwrap_or(""),
            &*t(s.mention.as_deref().unwrap_or("")),
            s.attribution.as_str(),
            &*t(&s.target),
            s.stance.map(|l| l.as_str()).unwrap_or(""),
            &p(|x| x.favor).unwrap_or_default(),
            &p(|x| x.against).unwrap_or_default(),
            &p(|x| x.none).unwrap_or_default(),
            &*t(quote),
            &*t(&s.text),
        ])?;
        Ok(())
    }

    /// Writes the header if no statement was written, flushes, and gives the writer back.
    pub fn finish(mut self) -> Result<W, ExportError> {
        self.header()?;
        self.w.flush()?;
        self.w
            .into_inner()
            .map_err(|e| ExportError::Io(e.into_error()))
    }
}

/// One actor's position on one target.
#[derive(Debug, Clone)]
struct Position {
    statements: usize,
    favor: usize,
    against: usize,
    none: usize,
    score: f64,
    stance: Overall,
}

impl Position {
    fn of(a: &ActorRecord) -> Position {
        Position {
            statements: a.statements,
            favor: a.favor,
            against: a.against,
            none: a.none,
            score: a.score,
            stance: a.stance,
        }
    }

    /// Adds a second record of the same actor on the same target.
    fn merge(&mut self, o: &Position) {
        let n = self.statements.saturating_add(o.statements);
        if n > 0 {
            self.score =
                (self.score * self.statements as f64 + o.score * o.statements as f64) / n as f64;
        }
        self.statements = n;
        self.favor = self.favor.saturating_add(o.favor);
        self.against = self.against.saturating_add(o.against);
        self.none = self.none.saturating_add(o.none);
        self.stance = Tally {
            favor: self.favor,
            against: self.against,
            ..Tally::default()
        }
        .overall();
    }
}

/// The two-mode network: actors, targets, and one position per (actor, target).
struct Network<'a> {
    actors: Vec<(&'a str, ActorKind)>,
    targets: Vec<&'a str>,
    /// (actor index, target index, position), in first-seen order.
    edges: Vec<(usize, usize, Position)>,
}

impl<'a> Network<'a> {
    fn build(per_target: &[(&'a str, &'a [ActorRecord])]) -> Network<'a> {
        let mut actor_ix: HashMap<(&str, ActorKind), usize> = HashMap::new();
        let mut target_ix: HashMap<&str, usize> = HashMap::new();
        let mut edge_ix: HashMap<(usize, usize), usize> = HashMap::new();
        let mut net = Network {
            actors: Vec::new(),
            targets: Vec::new(),
            edges: Vec::new(),
        };
        for &(target, actors) in per_target {
            let t = *target_ix.entry(target).or_insert_with(|| {
                net.targets.push(target);
                net.targets.len() - 1
            });
            for a in actors {
                let key = (a.actor.as_str(), a.kind);
                let ai = *actor_ix.entry(key).or_insert_with(|| {
                    net.actors.push(key);
                    net.actors.len() - 1
                });
                let p = Position::of(a);
                match edge_ix.get(&(ai, t)) {
                    Some(&e) => net.edges[e].2.merge(&p),
                    None => {
                        edge_ix.insert((ai, t), net.edges.len());
                        net.edges.push((ai, t, p));
                    }
                }
            }
        }
        net
    }
}

/// Counts of one actor pair in the one-mode network.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct PairCounts {
    agreement_targets: usize,
    conflict_targets: usize,
    weight_statements: usize,
}

/// The one-mode network: the actors that take part (by index into `Network::actors`, with
/// their statements over the targets they take part in), and the pairs, by (lower, higher)
/// actor index.
struct OneMode {
    nodes: BTreeMap<usize, usize>,
    pairs: BTreeMap<(usize, usize), PairCounts>,
}

fn sided(s: Overall) -> bool {
    matches!(s, Overall::Favor | Overall::Against)
}

impl OneMode {
    fn build(net: &Network, min_statements: usize) -> OneMode {
        let mut per_target: Vec<Vec<(usize, &Position)>> = vec![Vec::new(); net.targets.len()];
        let mut nodes = BTreeMap::new();
        for (a, t, p) in &net.edges {
            if p.statements >= min_statements {
                let n: &mut usize = nodes.entry(*a).or_default();
                *n = n.saturating_add(p.statements);
                // An actor with no statement on either side adds nothing to any pair.
                if p.favor > 0 || p.against > 0 || sided(p.stance) {
                    per_target[*t].push((*a, p));
                }
            }
        }
        let mut pairs: BTreeMap<(usize, usize), PairCounts> = BTreeMap::new();
        for list in &per_target {
            for (i, &(a, pa)) in list.iter().enumerate() {
                for &(b, pb) in &list[i + 1..] {
                    let agree = sided(pa.stance) && pa.stance == pb.stance;
                    let conflict = sided(pa.stance) && sided(pb.stance) && pa.stance != pb.stance;
                    let ws = pa
                        .favor
                        .min(pb.favor)
                        .saturating_add(pa.against.min(pb.against));
                    if !agree && !conflict && ws == 0 {
                        continue;
                    }
                    let c = pairs.entry((a.min(b), a.max(b))).or_default();
                    c.agreement_targets += usize::from(agree);
                    c.conflict_targets += usize::from(conflict);
                    c.weight_statements = c.weight_statements.saturating_add(ws);
                }
            }
        }
        OneMode { nodes, pairs }
    }
}

const GRAPHML_HEAD: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<graphml xmlns="http://graphml.graphdrawing.org/xmlns" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="http://graphml.graphdrawing.org/xmlns http://graphml.graphdrawing.org/xmlns/1.0/graphml.xsd">
"#;

/// Writes `<data key="..">value</data>` with the value escaped.
fn data(out: &mut String, key: &str, value: &str) {
    out.push_str("<data key=\"");
    out.push_str(key);
    out.push_str("\">");
    out.push_str(&xml_text(value));
    out.push_str("</data>");
}

/// A `double` datum, left out when not finite.
fn data_f64(out: &mut String, key: &str, value: f64) {
    if value.is_finite() {
        data(out, key, &value.to_string());
    }
}

fn keys(out: &mut String, keys: &[(&str, &str, &str)]) {
    for (id, domain, ty) in keys {
        out.push_str(&format!(
            "  <key id=\"{id}\" for=\"{domain}\" attr.name=\"{id}\" attr.type=\"{ty}\"/>\n"
        ));
    }
}

/// Writes the two-mode network actor × target as GraphML (undirected): nodes `a{i}` for
/// actors (`type` = `actor`, `bipartite` = 0, `kind`) and `t{j}` for targets (`type` =
/// `target`, `bipartite` = 1), both with the name in `label`; one edge per actor and target,
/// with the actor's `stance` (FAVOR, AGAINST, MIXED, NONE), `score`, `statements`, `favor`,
/// `against`, `none`, and `weight` = statements. `bipartite` is the attribute networkx's
/// bipartite algorithms read; `type` a string partition for Gephi's filters.
pub fn write_two_mode_graphml(
    w: &mut dyn Write,
    per_target: &[(&str, &[ActorRecord])],
) -> Result<(), ExportError> {
    two_mode_graphml(w, &Network::build(per_target))
}

fn two_mode_graphml(w: &mut dyn Write, net: &Network) -> Result<(), ExportError> {
    let mut w = BufWriter::new(w);
    let mut out = String::from(GRAPHML_HEAD);
    out.push_str("  <!-- standpoint two-mode network: actors x targets, one edge per actor's stance on a target. Ids are the exporter's; names are in label. -->\n");
    keys(
        &mut out,
        &[
            ("label", "node", "string"),
            ("type", "node", "string"),
            ("bipartite", "node", "int"),
            ("kind", "node", "string"),
            ("stance", "edge", "string"),
            ("score", "edge", "double"),
            ("statements", "edge", "int"),
            ("favor", "edge", "int"),
            ("against", "edge", "int"),
            ("none", "edge", "int"),
            ("weight", "edge", "double"),
        ],
    );
    out.push_str("  <graph id=\"G\" edgedefault=\"undirected\">\n");
    w.write_all(out.as_bytes())?;
    for (i, (name, kind)) in net.actors.iter().enumerate() {
        out.clear();
        out.push_str(&format!("    <node id=\"a{i}\">"));
        data(&mut out, "label", name);
        data(&mut out, "type", "actor");
        data(&mut out, "bipartite", "0");
        data(&mut out, "kind", kind.as_str());
        out.push_str("</node>\n");
        w.write_all(out.as_bytes())?;
    }
    for (j, name) in net.targets.iter().enumerate() {
        out.clear();
        out.push_str(&format!("    <node id=\"t{j}\">"));
        data(&mut out, "label", name);
        data(&mut out, "type", "target");
        data(&mut out, "bipartite", "1");
        out.push_str("</node>\n");
        w.write_all(out.as_bytes())?;
    }
    for (e, (a, t, p)) in net.edges.iter().enumerate() {
        out.clear();
        out.push_str(&format!(
            "    <edge id=\"e{e}\" source=\"a{a}\" target=\"t{t}\">"
        ));
        data(&mut out, "stance", p.stance.as_str());
        data_f64(&mut out, "score", p.score);
        data(&mut out, "statements", &p.statements.to_string());
        data(&mut out, "favor", &p.favor.to_string());
        data(&mut out, "against", &p.against.to_string());
        data(&mut out, "none", &p.none.to_string());
        data(&mut out, "weight", &p.statements.to_string());
        out.push_str("</edge>\n");
        w.write_all(out.as_bytes())?;
    }
    w.write_all(b"  </graph>\n</graphml>\n")?;
    w.flush()?;
    Ok(())
}

/// Writes the two-mode network as a CSV edge list, one row per actor and target:
/// [`TWO_MODE_EDGE_COLUMNS`] (`weight` = statements). Names are neutralised text cells.
pub fn write_two_mode_edges_csv(
    w: &mut dyn Write,
    per_target: &[(&str, &[ActorRecord])],
) -> Result<(), ExportError> {
    two_mode_edges_csv(w, &Network::build(per_target))
}

fn two_mode_edges_csv(w: &mut dyn Write, net: &Network) -> Result<(), ExportError> {
    let mut c = csv::Writer::from_writer(w);
    c.write_record(TWO_MODE_EDGE_COLUMNS)?;
    for (a, t, p) in &net.edges {
        let n = p.statements.to_string();
        c.write_record([
            &*neutralise_csv_text(net.actors[*a].0),
            &*neutralise_csv_text(net.targets[*t]),
            p.stance.as_str(),
            &num(p.score),
            &n,
            &p.favor.to_string(),
            &p.against.to_string(),
            &p.none.to_string(),
            &n,
            &format!("a{a}"),
            &format!("t{t}"),
        ])?;
    }
    c.flush()?;
    Ok(())
}

/// Writes the one-mode actor × actor agreement network (DNA's congruence network) as GraphML
/// (undirected). Per target, an actor takes part when it has at least `min_statements`
/// statements on it; two taking part agree on the target when both are FAVOR or both AGAINST
/// (NONE and MIXED never agree or conflict), and conflict when one is FAVOR and the other
/// AGAINST. Edge attributes: `weight` = `agreement_targets` (the number of targets they agree
/// on; 1 for each agreeing pair with a single target), `conflict_targets`, and
/// `weight_statements`, the sum over targets of min(favor) + min(against) of the two (a
/// statement-level agreement weight, which MIXED actors add to as well). A pair gets an edge
/// when any of the three is above 0. Nodes: every actor that takes part in some target (so
/// actors with no edge appear as isolates), id `a{i}` as in the two-mode export, with
/// `label`, `kind` and `statements` (over the targets it takes part in).
///
/// Cost: each target compares every pair of its taking-part actors that have a statement on
/// either side: O(n²) time per target, and memory for every pair with an edge. `min_statements`
/// is the lever for large actor sets (with 10,000 sided actors on a target, 5·10⁷ pairs).
pub fn write_one_mode_graphml(
    w: &mut dyn Write,
    per_target: &[(&str, &[ActorRecord])],
    min_statements: usize,
) -> Result<(), ExportError> {
    let net = Network::build(per_target);
    let one = OneMode::build(&net, min_statements);
    one_mode_graphml(w, &net, &one, min_statements)
}

fn one_mode_graphml(
    w: &mut dyn Write,
    net: &Network,
    one: &OneMode,
    min_statements: usize,
) -> Result<(), ExportError> {
    let mut w = BufWriter::new(w);
    let mut out = String::from(GRAPHML_HEAD);
    out.push_str(&format!("  <!-- standpoint one-mode actor agreement network (congruence): weight = targets agreed on; min_statements = {min_statements}. Ids are the exporter's; names are in label. -->\n"));
    keys(
        &mut out,
        &[
            ("label", "node", "string"),
            ("kind", "node", "string"),
            ("statements", "node", "int"),
            ("weight", "edge", "double"),
            ("agreement_targets", "edge", "int"),
            ("conflict_targets", "edge", "int"),
            ("weight_statements", "edge", "int"),
        ],
    );
    out.push_str("  <graph id=\"G\" edgedefault=\"undirected\">\n");
    w.write_all(out.as_bytes())?;
    for (&i, &n) in &one.nodes {
        let (name, kind) = net.actors[i];
        out.clear();
        out.push_str(&format!("    <node id=\"a{i}\">"));
        data(&mut out, "label", name);
        data(&mut out, "kind", kind.as_str());
        data(&mut out, "statements", &n.to_string());
        out.push_str("</node>\n");
        w.write_all(out.as_bytes())?;
    }
    for (e, ((a, b), c)) in one.pairs.iter().enumerate() {
        out.clear();
        out.push_str(&format!(
            "    <edge id=\"e{e}\" source=\"a{a}\" target=\"a{b}\">"
        ));
        data(&mut out, "weight", &c.agreement_targets.to_string());
        data(
            &mut out,
            "agreement_targets",
            &c.agreement_targets.to_string(),
        );
        data(
            &mut out,
            "conflict_targets",
            &c.conflict_targets.to_string(),
        );
        data(
            &mut out,
            "weight_statements",
            &c.weight_statements.to_string(),
        );
        out.push_str("</edge>\n");
        w.write_all(out.as_bytes())?;
    }
    w.write_all(b"  </graph>\n</graphml>\n")?;
    w.flush()?;
    Ok(())
}

/// Writes the one-mode network of [`write_one_mode_graphml`] as a CSV edge list:
/// [`ONE_MODE_EDGE_COLUMNS`], one row per pair, the lower id first. Names are neutralised text
/// cells.
pub fn write_one_mode_edges_csv(
    w: &mut dyn Write,
    per_target: &[(&str, &[ActorRecord])],
    min_statements: usize,
) -> Result<(), ExportError> {
    let net = Network::build(per_target);
    let one = OneMode::build(&net, min_statements);
    one_mode_edges_csv(w, &net, &one)
}

fn one_mode_edges_csv(w: &mut dyn Write, net: &Network, one: &OneMode) -> Result<(), ExportError> {
    let mut c = csv::Writer::from_writer(w);
    c.write_record(ONE_MODE_EDGE_COLUMNS)?;
    for ((a, b), p) in &one.pairs {
        let agree = p.agreement_targets.to_string();
        c.write_record([
            &*neutralise_csv_text(net.actors[*a].0),
            &*neutralise_csv_text(net.actors[*b].0),
            &agree,
            &agree,
            &p.conflict_targets.to_string(),
            &p.weight_statements.to_string(),
            &format!("a{a}"),
            &format!("a{b}"),
        ])?;
    }
    c.flush()?;
    Ok(())
}

/// Both networks of a run, built once, for writing all four network files (the functions
/// above each build what they write).
pub struct Networks<'a> {
    net: Network<'a>,
    one: OneMode,
    min_statements: usize,
}

impl<'a> Networks<'a> {
    pub fn build(per_target: &[(&'a str, &'a [ActorRecord])], min_statements: usize) -> Self {
        let net = Network::build(per_target);
        let one = OneMode::build(&net, min_statements);
        Networks {
            net,
            one,
            min_statements,
        }
    }

    /// [`write_two_mode_graphml`].
    pub fn two_mode_graphml(&self, w: &mut dyn Write) -> Result<(), ExportError> {
        two_mode_graphml(w, &self.net)
    }

    /// [`write_two_mode_edges_csv`].
    pub fn two_mode_edges_csv(&self, w: &mut dyn Write) -> Result<(), ExportError> {
        two_mode_edges_csv(w, &self.net)
    }

    /// [`write_one_mode_graphml`].
    pub fn one_mode_graphml(&self, w: &mut dyn Write) -> Result<(), ExportError> {
        one_mode_graphml(w, &self.net, &self.one, self.min_statements)
    }

    /// [`write_one_mode_edges_csv`].
    pub fn one_mode_edges_csv(&self, w: &mut dyn Write) -> Result<(), ExportError> {
        one_mode_edges_csv(w, &self.net, &self.one)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attribute::Attribution;
    use crate::model::{Label, Scores};
    use crate::segment::Span;

    fn actor(
        name: &str,
        kind: ActorKind,
        favor: usize,
        against: usize,
        none: usize,
    ) -> ActorRecord {
        let t = Tally {
            statements: favor + against + none,
            favor,
            against,
            none,
            ..Tally::default()
        };
        let n = t.statements.max(1) as f64;
        ActorRecord {
            actor: name.to_string(),
            aliases: vec![],
            kind,
            statements: t.statements,
            favor,
            against,
            none,
            stance: t.overall(),
            score: (favor as f64 - against as f64) / n,
            interval: [-1.0, 1.0],
            documents: 1,
            evidence: vec![],
        }
    }

    fn person(name: &str, favor: usize, against: usize, none: usize) -> ActorRecord {
        actor(name, ActorKind::Person, favor, against, none)
    }

    fn to_string(f: impl FnOnce(&mut dyn Write) -> Result<(), ExportError>) -> String {
        let mut buf = Vec::new();
        f(&mut buf).unwrap();
        String::from_utf8(buf).unwrap()
    }

    fn read_csv(s: &str) -> (Vec<String>, Vec<Vec<String>>) {
        let mut r = csv::Reader::from_reader(s.as_bytes());
        let head = r.headers().unwrap().iter().map(String::from).collect();
        let rows = r
            .records()
            .map(|x| x.unwrap().iter().map(String::from).collect())
            .collect();
        (head, rows)
    }

    const HOSTILE: [&str; 10] = [
        "=HYPERLINK(\"http://evil\",\"x\")",
        "+1",
        "-cmd",
        "@SUM(A1)",
        "\tTab",
        "\rCR",
        "<script>alert('x')</script>",
        "\"quoted\"",
        "a,b\nline two",
        "../../etc/passwd",
    ];

    #[test]
    fn neutralises_formula_starts_only() {
        assert_eq!(neutralise_csv_text("=1+1"), "'=1+1");
        assert_eq!(neutralise_csv_text("+1"), "'+1");
        assert_eq!(neutralise_csv_text("-cmd"), "'-cmd");
        assert_eq!(neutralise_csv_text("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(neutralise_csv_text("\tx"), "'\tx");
        assert_eq!(neutralise_csv_text("\rx"), "'\rx");
        for plain in ["", "a=b", " =1", "'=1", "NATO", "a,b", "\"q\"", "\nx", "−1"] {
            assert_eq!(neutralise_csv_text(plain), plain, "{plain:?}");
            assert!(matches!(neutralise_csv_text(plain), Cow::Borrowed(_)));
        }
    }

    #[test]
    fn xml_text_escapes_and_drops_disallowed() {
        assert_eq!(
            xml_text("<script>&\"quoted\" 'x'</script>"),
            "&lt;script&gt;&amp;&quot;quoted&quot; &apos;x&apos;&lt;/script&gt;"
        );
        assert_eq!(xml_text("a\u{1}b\u{0}c\u{b}\u{c}\u{1f}d"), "abcd");
        assert_eq!(xml_text("tab\tnl\ncr\r."), "tab\tnl\ncr&#13;.");
        assert_eq!(
            xml_text("x\u{FFFE}\u{FFFF}y\u{FFFD}\u{7f}\u{10FFFF}"),
            "xy\u{FFFD}\u{7f}\u{10FFFF}"
        );
        assert_eq!(xml_text("../../etc/passwd"), "../../etc/passwd");
        assert!(matches!(xml_text("Jens Stoltenberg"), Cow::Borrowed(_)));
    }

    #[test]
    fn actors_csv_exact_output() {
        let mut a = person("=HYPERLINK(\"http://evil\",\"x\")", 1, 3, 0);
        a.aliases = vec!["-cmd".into(), "a,b".into()];
        a.score = -0.25;
        a.interval = [-0.75, 0.5];
        let b = actor("NATO", ActorKind::Organisation, 2, 0, 1);
        let recs = [a, b];
        let s = to_string(|w| write_actors_csv(w, &[("@SUM(A1)", &recs)]));
        assert_eq!(
            s,
            "target,actor,kind,stance,score,interval_low,interval_high,statements,favor,against,none,documents,aliases\n\
             '@SUM(A1),\"'=HYPERLINK(\"\"http://evil\"\",\"\"x\"\")\",person,AGAINST,-0.25,-0.75,0.5,4,1,3,0,1,\"'-cmd; a,b\"\n\
             '@SUM(A1),NATO,organisation,FAVOR,0.6666666666666666,-1,1,3,2,0,1,1,\n"
        );
    }

    #[test]
    fn actors_csv_round_trips_hostile_names() {
        let recs: Vec<ActorRecord> = HOSTILE
            .iter()
            .map(|n| {
                let mut a = person(n, 0, 2, 1);
                a.aliases = vec![n.to_string(), "x".into()];
                a
            })
            .collect();
        let s = to_string(|w| write_actors_csv(w, &[("+target", &recs)]));
        let (head, rows) = read_csv(&s);
        assert_eq!(head, ACTORS_COLUMNS);
        assert_eq!(rows.len(), HOSTILE.len());
        for (row, name) in rows.iter().zip(HOSTILE) {
            assert_eq!(row.len(), 13);
            assert_eq!(row[0], "'+target");
            assert_eq!(row[1], neutralise_csv_text(name));
            assert_eq!(row[3], "AGAINST");
            // Numbers are written as numbers, the negative score without a quote.
            assert_eq!(row[4], "-0.6666666666666666");
            assert_eq!(row[4].parse::<f64>().unwrap(), -2.0 / 3.0);
            assert_eq!(row[5], "-1");
            assert_eq!(row[7..12], ["3", "0", "2", "1", "1"]);
            assert_eq!(row[12], neutralise_csv_text(&format!("{name}; x")));
        }
        assert_eq!(rows[0][1], "'=HYPERLINK(\"http://evil\",\"x\")");
        assert_eq!(rows[8][1], "a,b\nline two");
        assert_eq!(rows[9][1], "../../etc/passwd");
    }

    #[test]
    fn actors_csv_non_finite_numbers_are_empty_cells() {
        let mut a = person("x", 1, 0, 0);
        a.score = f64::NAN;
        a.interval = [f64::NEG_INFINITY, f64::INFINITY];
        let recs = [a];
        let (_, rows) = read_csv(&to_string(|w| write_actors_csv(w, &[("t", &recs)])));
        assert_eq!(rows[0][4..7], ["", "", ""]);
    }

    fn statement(text: &str, quote: Option<Span>) -> Statement {
        Statement {
            doc_id: "../../etc/passwd".into(),
            statement_id: "../../etc/passwd:3".into(),
            start: 100,
            end: 100 + text.len(),
            text: text.into(),
            quote,
            paragraph: 2,
            speaker: Some("=cmd|' /C calc'!A0".into()),
            mention: Some("-Mr X".into()),
            speaker_kind: Some(ActorKind::Person),
            attribution: Attribution::DirectQuote,
            target: "NATO".into(),
            stance: Some(Label::Against),
            scores: Some(Scores {
                favor: 0.125,
                against: 0.75,
                none: 0.125,
            }),
        }
    }

    #[test]
    fn statements_csv_exact_output_and_quote_from_offsets() {
        let text = "He said: \"=1+2, <b>\nno\" \u{1}.";
        // The quoted words: `=1+2, <b>\nno`, at bytes 10..22 of the sentence.
        let s = statement(
            text,
            Some(Span {
                start: 110,
                end: 22 + 100,
            }),
        );
        let mut w = StatementsCsv::new(Vec::new());
        w.write(&s, None).unwrap();
        let out = String::from_utf8(w.finish().unwrap()).unwrap();
        assert_eq!(
            out,
            "doc_id,statement_id,start,end,paragraph,speaker,speaker_kind,mention,attribution,target,stance,p_favor,p_against,p_none,quote,text\n\
             ../../etc/passwd,../../etc/passwd:3,100,126,2,'=cmd|' /C calc'!A0,person,'-Mr X,direct_quote,NATO,AGAINST,0.125,0.75,0.125,\"'=1+2, <b>\nno\",\"He said: \"\"=1+2, <b>\nno\"\" \u{1}.\"\n"
        );
        let (head, rows) = read_csv(&out);
        assert_eq!(head, STATEMENTS_COLUMNS);
        assert_eq!(rows[0][14], "'=1+2, <b>\nno");
        assert_eq!(rows[0][15], text);
    }

    #[test]
    fn statements_csv_unscored_unattributed_bad_offsets_and_override() {
        let mut s = statement("-2 points.", Some(Span { start: 5, end: 400 }));
        s.speaker = None;
        s.mention = None;
        s.speaker_kind = None;
        s.attribution = Attribution::None;
        s.stance = None;
        s.scores = None;
        let mut w = StatementsCsv::new(Vec::new());
        w.write(&s, None).unwrap();
        // Offsets inside a multi-byte character: no slice, no panic.
        let mut u = statement(
            "«Ja» sagt er.",
            Some(Span {
                start: 101,
                end: 104,
            }),
        );
        w.write(&u, None).unwrap();
        u.quote = None;
        w.write(&u, Some("+given")).unwrap();
        let (_, rows) = read_csv(&String::from_utf8(w.finish().unwrap()).unwrap());
        assert_eq!(
            rows[0][5..16],
            [
                "",
                "",
                "",
                "none",
                "NATO",
                "",
                "",
                "",
                "",
                "",
                "'-2 points."
            ]
        );
        assert_eq!(rows[1][14], "");
        assert_eq!(rows[2][14], "'+given");
    }

    #[test]
    fn statements_csv_empty_is_a_header() {
        let out = StatementsCsv::new(Vec::new()).finish().unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            STATEMENTS_COLUMNS.join(",") + "\n"
        );
    }

    /// Nodes as (id, key → value).
    type Elements = Vec<(String, BTreeMap<String, String>)>;
    /// Edges as (source, target, key → value).
    type Edges = Vec<(String, String, BTreeMap<String, String>)>;

    /// Parses GraphML strictly and checks its structure: keys declared for every datum, ids
    /// unique, edge ends existing nodes.
    fn parse_graphml(xml: &str) -> (Elements, Edges) {
        let doc = roxmltree::Document::parse(xml).expect("well-formed XML");
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "graphml");
        assert_eq!(
            root.tag_name().namespace(),
            Some("http://graphml.graphdrawing.org/xmlns")
        );
        let mut keys = HashMap::new();
        for k in root.children().filter(|n| n.has_tag_name("key")) {
            assert_eq!(k.attribute("id"), k.attribute("attr.name"));
            assert!(["string", "int", "double"].contains(&k.attribute("attr.type").unwrap()));
            keys.insert(
                k.attribute("id").unwrap().to_string(),
                k.attribute("for").unwrap().to_string(),
            );
        }
        let graph = root.children().find(|n| n.has_tag_name("graph")).unwrap();
        assert_eq!(graph.attribute("edgedefault"), Some("undirected"));
        let datums = |n: roxmltree::Node, domain: &str| -> BTreeMap<String, String> {
            n.children()
                .filter(|d| d.is_element())
                .map(|d| {
                    assert!(d.has_tag_name("data"));
                    let k = d.attribute("key").unwrap();
                    assert_eq!(keys.get(k).map(String::as_str), Some(domain), "key {k}");
                    (k.to_string(), d.text().unwrap_or("").to_string())
                })
                .collect()
        };
        let mut nodes = Vec::new();
        let mut ids = std::collections::HashSet::new();
        for n in graph.children().filter(|n| n.has_tag_name("node")) {
            let id = n.attribute("id").unwrap();
            assert!(ids.insert(id.to_string()), "duplicate node id {id}");
            assert!(
                id.bytes().all(|b| b.is_ascii_alphanumeric()),
                "own ids only: {id}"
            );
            nodes.push((id.to_string(), datums(n, "node")));
        }
        let mut edges = Vec::new();
        for e in graph.children().filter(|n| n.has_tag_name("edge")) {
            let (s, t) = (
                e.attribute("source").unwrap(),
                e.attribute("target").unwrap(),
            );
            assert!(ids.contains(s) && ids.contains(t), "edge {s}-{t}");
            edges.push((s.to_string(), t.to_string(), datums(e, "edge")));
        }
        (nodes, edges)
    }

    #[test]
    fn two_mode_graphml_hostile_names_and_own_ids() {
        let recs: Vec<ActorRecord> = HOSTILE
            .iter()
            .map(|n| person(&format!("{n}\u{1}\u{FFFF}"), 1, 0, 0))
            .collect();
        let t2 = [person("+1\u{1}\u{FFFF}", 0, 1, 0)];
        let xml =
            to_string(|w| write_two_mode_graphml(w, &[("\"><evil id=\"x", &recs), ("a&b", &t2)]));
        assert!(!xml.contains("<script>") && !xml.contains("<evil") && !xml.contains('\u{1}'));
        assert!(xml.contains(
            "<node id=\"a6\"><data key=\"label\">&lt;script&gt;alert(&apos;x&apos;)&lt;/script&gt;</data>"
        ));
        let (nodes, edges) = parse_graphml(&xml);
        assert_eq!(nodes.len(), HOSTILE.len() + 2);
        for (i, name) in HOSTILE.iter().enumerate() {
            let (id, d) = &nodes[i];
            assert_eq!(id, &format!("a{i}"));
            // The parser gives back the name, less the characters XML cannot hold.
            assert_eq!(d["label"], *name);
            assert_eq!(
                (
                    d["type"].as_str(),
                    d["bipartite"].as_str(),
                    d["kind"].as_str()
                ),
                ("actor", "0", "person")
            );
        }
        let (id, d) = &nodes[HOSTILE.len()];
        assert_eq!(
            (id.as_str(), d["label"].as_str(), d["type"].as_str()),
            ("t0", "\"><evil id=\"x", "target")
        );
        assert_eq!(d["bipartite"], "1");
        assert!(!d.contains_key("kind"));
        assert_eq!(nodes[HOSTILE.len() + 1].1["label"], "a&b");
        // "+1" is actor a1 under both targets.
        assert_eq!(edges.len(), HOSTILE.len() + 1);
        let last = edges.last().unwrap();
        assert_eq!((last.0.as_str(), last.1.as_str()), ("a1", "t1"));
        assert_eq!(last.2["stance"], "AGAINST");
        assert_eq!(last.2["score"], "-1");
        assert_eq!(last.2["weight"], "1");
    }

    #[test]
    fn two_mode_merges_duplicates_and_separates_modes_and_kinds() {
        let t1 = [
            person("NATO", 3, 0, 1),
            actor("NATO", ActorKind::Organisation, 0, 2, 0),
            // A second record of the same actor on the same target: merged.
            actor("NATO", ActorKind::Organisation, 1, 1, 0),
        ];
        let t2 = [actor("NATO", ActorKind::Organisation, 0, 0, 5)];
        let per: [(&str, &[ActorRecord]); 3] = [("NATO", &t1), ("EU", &t2), ("NATO", &[])];
        let xml = to_string(|w| write_two_mode_graphml(w, &per));
        let (nodes, edges) = parse_graphml(&xml);
        let ids: Vec<&str> = nodes.iter().map(|n| n.0.as_str()).collect();
        assert_eq!(ids, ["a0", "a1", "t0", "t1"]);
        assert_eq!(edges.len(), 3);
        let e = &edges[1].2;
        assert_eq!((edges[1].0.as_str(), edges[1].1.as_str()), ("a1", "t0"));
        assert_eq!(
            (
                e["statements"].as_str(),
                e["favor"].as_str(),
                e["against"].as_str()
            ),
            ("4", "1", "3")
        );
        // 1 of 4 sided statements is FAVOR: 25% < 30%, so AGAINST; score (−1·2 + 0·2)/4.
        assert_eq!(
            (e["stance"].as_str(), e["score"].as_str()),
            ("AGAINST", "-0.5")
        );
        assert_eq!(edges[2].2["stance"], "NONE");

        let csv = to_string(|w| write_two_mode_edges_csv(w, &per));
        assert_eq!(
            csv,
            "source,target,stance,score,statements,favor,against,none,weight,source_id,target_id\n\
             NATO,NATO,FAVOR,0.75,4,3,0,1,4,a0,t0\n\
             NATO,NATO,AGAINST,-0.5,4,1,3,0,4,a1,t0\n\
             NATO,EU,NONE,0,5,0,0,5,5,a1,t1\n"
        );
    }

    #[test]
    fn two_mode_csv_neutralises_names_and_keeps_numbers() {
        let recs = [person("-cmd", 0, 1, 0), person("a,b\n\"c\"", 1, 0, 0)];
        let (head, rows) = read_csv(&to_string(|w| {
            write_two_mode_edges_csv(w, &[("=t", &recs)])
        }));
        assert_eq!(head, TWO_MODE_EDGE_COLUMNS);
        assert_eq!(
            rows[0],
            ["'-cmd", "'=t", "AGAINST", "-1", "1", "0", "1", "0", "1", "a0", "t0"]
        );
        assert_eq!(rows[1][0], "a,b\n\"c\"");
    }

    fn one_mode(per: &[(&str, &[ActorRecord])], min: usize) -> (Elements, Edges) {
        parse_graphml(&to_string(|w| write_one_mode_graphml(w, per, min)))
    }

    fn edge<'a>(
        edges: &'a [(String, String, BTreeMap<String, String>)],
        a: &str,
        b: &str,
    ) -> Option<[&'a str; 4]> {
        edges.iter().find(|e| e.0 == a && e.1 == b).map(|e| {
            let d = &e.2;
            [
                &d["weight"],
                &d["agreement_targets"],
                &d["conflict_targets"],
                &d["weight_statements"],
            ]
            .map(String::as_str)
        })
    }

    #[test]
    fn one_mode_single_target() {
        let recs = [
            person("F1", 3, 0, 0), // a0 FAVOR
            person("F2", 2, 0, 4), // a1 FAVOR
            person("A1", 0, 2, 0), // a2 AGAINST
            person("A2", 1, 5, 0), // a3 AGAINST (1 of 6 sided: 17%)
            person("M", 2, 2, 0),  // a4 MIXED
            person("N", 0, 0, 7),  // a5 NONE
        ];
        let (nodes, edges) = one_mode(&[("T", &recs)], 0);
        assert_eq!(nodes.len(), 6, "the NONE actor is an isolate");
        assert_eq!(nodes[5].1["statements"], "7");
        assert_eq!(edge(&edges, "a0", "a1"), Some(["1", "1", "0", "2"]));
        assert_eq!(edge(&edges, "a2", "a3"), Some(["1", "1", "0", "2"]));
        // FAVOR against AGAINST: conflict, weight 0; min(3,1) + min(0,5) statements.
        assert_eq!(edge(&edges, "a0", "a3"), Some(["0", "0", "1", "1"]));
        assert_eq!(edge(&edges, "a0", "a2"), Some(["0", "0", "1", "0"]));
        // MIXED neither agrees nor conflicts, but shares statements.
        assert_eq!(edge(&edges, "a0", "a4"), Some(["0", "0", "0", "2"]));
        assert_eq!(edge(&edges, "a3", "a4"), Some(["0", "0", "0", "3"]));
        assert!(edges.iter().all(|e| e.0 != "a5" && e.1 != "a5"));
        // Among the five sided or mixed actors every one of the 10 pairs has an edge.
        assert_eq!(edge(&edges, "a1", "a2"), Some(["0", "0", "1", "0"]));
        assert_eq!(edges.len(), 10);
        for e in &edges {
            assert!(e.0 < e.1);
        }
    }

    #[test]
    fn one_mode_sums_over_targets_and_filters_by_statements() {
        let t1 = [
            person("X", 4, 0, 0),
            person("Y", 1, 0, 0),
            person("Z", 0, 3, 0),
        ];
        let t2 = [
            person("X", 0, 2, 0),
            person("Y", 0, 5, 0),
            person("Z", 0, 2, 0),
        ];
        let t3 = [person("X", 6, 0, 0), person("Y", 3, 0, 0)];
        let per: [(&str, &[ActorRecord]); 3] = [("t1", &t1), ("t2", &t2), ("t3", &t3)];
        let (nodes, edges) = one_mode(&per, 0);
        assert_eq!(nodes.len(), 3);
        // X–Y agree on t1, t2, t3: statements min(4,1) + min(2,5) + min(6,3).
        assert_eq!(edge(&edges, "a0", "a1"), Some(["3", "3", "0", "6"]));
        // X–Z conflict on t1, agree on t2.
        assert_eq!(edge(&edges, "a0", "a2"), Some(["1", "1", "1", "2"]));
        assert_eq!(edge(&edges, "a1", "a2"), Some(["1", "1", "1", "2"]));

        // With min_statements 2, Y's single statement on t1 does not count.
        let (nodes, edges) = one_mode(&per, 2);
        assert_eq!(nodes.len(), 3);
        assert_eq!(nodes[1].1["statements"], "8");
        assert_eq!(edge(&edges, "a0", "a1"), Some(["2", "2", "0", "5"]));
        // With 4, only X on t1 and t3, and Y on t2: no pair left, Z not a node.
        let (nodes, edges) = one_mode(&per, 4);
        assert_eq!(
            nodes.iter().map(|n| n.0.as_str()).collect::<Vec<_>>(),
            ["a0", "a1"]
        );
        assert!(edges.is_empty());

        let csv = to_string(|w| write_one_mode_edges_csv(w, &per, 0));
        assert_eq!(
            csv,
            "source,target,weight,agreement_targets,conflict_targets,weight_statements,source_id,target_id\n\
             X,Y,3,3,0,6,a0,a1\n\
             X,Z,1,1,1,2,a0,a2\n\
             Y,Z,1,1,1,2,a1,a2\n"
        );
    }

    #[test]
    fn one_mode_csv_neutralises_and_skips_empty_pairs() {
        let recs = [
            person("=A", 1, 0, 0),
            person("@B", 2, 0, 0),
            person("C", 0, 0, 1),
        ];
        let (head, rows) = read_csv(&to_string(|w| {
            write_one_mode_edges_csv(w, &[("t", &recs)], 0)
        }));
        assert_eq!(head, ONE_MODE_EDGE_COLUMNS);
        assert_eq!(rows, [["'=A", "'@B", "1", "1", "0", "1", "a0", "a1"]]);
    }

    #[test]
    fn empty_inputs_give_valid_files() {
        let none: [(&str, &[ActorRecord]); 0] = [];
        for xml in [
            to_string(|w| write_two_mode_graphml(w, &none)),
            to_string(|w| write_one_mode_graphml(w, &none, 0)),
            to_string(|w| write_one_mode_graphml(w, &[("t", &[])], 3)),
        ] {
            let (n, e) = parse_graphml(&xml);
            assert!(n.is_empty() && e.is_empty());
        }
        assert_eq!(
            to_string(|w| write_actors_csv(w, &none)),
            ACTORS_COLUMNS.join(",") + "\n"
        );
        assert_eq!(
            to_string(|w| write_two_mode_edges_csv(w, &none)),
            TWO_MODE_EDGE_COLUMNS.join(",") + "\n"
        );
        assert_eq!(
            to_string(|w| write_one_mode_edges_csv(w, &none, 0)),
            ONE_MODE_EDGE_COLUMNS.join(",") + "\n"
        );
    }

    #[test]
    fn non_finite_score_is_left_out_of_graphml() {
        let mut a = person("x", 1, 0, 0);
        a.score = f64::NAN;
        let recs = [a];
        let (_, edges) = parse_graphml(&to_string(|w| write_two_mode_graphml(w, &[("t", &recs)])));
        assert!(!edges[0].2.contains_key("score"));
        assert_eq!(edges[0].2["statements"], "1");
    }

    #[test]
    fn write_errors_are_returned() {
        struct Fail;
        impl Write for Fail {
            fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
                Err(std::io::Error::other("disk full"))
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let recs = [person("x", 1, 0, 0)];
        let per: [(&str, &[ActorRecord]); 1] = [("t", &recs)];
        assert!(write_actors_csv(&mut Fail, &per).is_err());
        assert!(write_two_mode_graphml(&mut Fail, &per).is_err());
        assert!(write_one_mode_graphml(&mut Fail, &per, 0).is_err());
        assert!(write_two_mode_edges_csv(&mut Fail, &per).is_err());
        assert!(write_one_mode_edges_csv(&mut Fail, &per, 0).is_err());
        assert!(StatementsCsv::new(Fail).finish().is_err());
    }
}
