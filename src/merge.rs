//! Stage 5b: from shard directories to the final outputs.
//!
//! A whole run is one shard merged, so a run split into N shards and merged gives the same
//! files as a single run: the shards' aggregates are added up ([`Aggregator::absorb`]), the
//! actors are resolved once over all of them ([`resolve`]), and the documents and statements
//! are streamed back in input order (a k-way merge on each document's position), with every
//! document-level speaker name replaced by its corpus actor. Memory holds the actor groups and
//! one document per shard.

use crate::aggregate::{rename, resolve, Aggregator, DocEntry};
use crate::report::{actors_json, write_atomic, write_report_md, RunCounts};
use crate::run::RunError;
use crate::shard::{ShardFiles, ShardMeta};
use crate::statements::Statement;
use std::collections::{BinaryHeap, HashMap};
use std::io::{BufRead, BufReader, BufWriter, Lines, Write};
use std::path::{Path, PathBuf};

/// What a merge produced.
#[derive(Debug, Clone)]
pub struct Merged {
    /// The first target's counts (the documents and statements are the same for every target).
    pub counts: RunCounts,
    pub targets: Vec<TargetResult>,
    pub model: String,
    pub shards: usize,
    /// Sum over the shards.
    pub seconds: f64,
    pub model_seconds: f64,
}

/// One target's merged result.
#[derive(Debug, Clone)]
pub struct TargetResult {
    pub target: String,
    /// How far to trust the labels on this target ([`crate::model::trust_line`]).
    pub trust: String,
    /// Where its files are: the output directory, or `target-T` in it.
    pub dir: PathBuf,
    pub counts: RunCounts,
    pub actors: Vec<crate::aggregate::ActorRecord>,
    /// Stance per actor per month (documents with dates only).
    pub timeline: Vec<crate::html::TimePoint>,
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> RunError + '_ {
    move |e| RunError::Io {
        path: path.to_path_buf(),
        source: e,
    }
}

fn bad(path: &Path, message: impl Into<String>) -> RunError {
    RunError::State {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, RunError> {
    let bytes = std::fs::read(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            bad(
                path,
                "missing: this shard has not finished; run it again with --resume",
            )
        } else {
            io(path)(e)
        }
    })?;
    serde_json::from_slice(&bytes).map_err(|e| {
        bad(
            path,
            format!("not a shard file of this version of standpoint ({e})"),
        )
    })
}

/// The shard directories among `inputs`: each is a shard directory (it holds `shard.json`
/// or `documents.jsonl`) or a directory of `shard-*` directories.
pub fn find_shards(inputs: &[PathBuf]) -> Result<Vec<PathBuf>, RunError> {
    let mut out = Vec::new();
    for d in inputs {
        let f = ShardFiles::new(d);
        if f.meta().exists() || f.documents().exists() {
            out.push(d.clone());
            continue;
        }
        let rd = std::fs::read_dir(d).map_err(io(d))?;
        let mut found: Vec<PathBuf> = rd
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| {
                p.is_dir()
                    && p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("shard-"))
            })
            .collect();
        if found.is_empty() {
            return Err(bad(
                d,
                "no shards here: give the directories that `analyze --shard` wrote (shard-I-of-N), or their parent",
            ));
        }
        found.sort();
        out.extend(found);
    }
    Ok(out)
}

/// One shard being read back.
struct ShardStream {
    files: ShardFiles,
    documents: Lines<BufReader<std::fs::File>>,
    statements: Lines<BufReader<std::fs::File>>,
    documents_line: usize,
    statements_line: usize,
    remap: Vec<usize>,
}

impl ShardStream {
    fn next_doc(&mut self) -> Result<Option<DocEntry>, RunError> {
        let path = self.files.documents();
        match self.documents.next() {
            None => Ok(None),
            Some(line) => {
                self.documents_line += 1;
                let line = line.map_err(io(&path))?;
                let mut e: DocEntry = serde_json::from_str(&line).map_err(|e| {
                    bad(
                        &path,
                        format!("line {}: {e}; run the shard again", self.documents_line),
                    )
                })?;
                for g in &mut e.groups {
                    g.group = *self.remap.get(g.group).ok_or_else(|| {
                        bad(
                            &path,
                            format!(
                                "line {}: group {} is not in aggregate.json; run the shard again",
                                self.documents_line, g.group
                            ),
                        )
                    })?;
                }
                Ok(Some(e))
            }
        }
    }

    fn next_statement(&mut self) -> Result<Statement, RunError> {
        let path = self.files.statements();
        let line = self
            .statements
            .next()
            .ok_or_else(|| {
                bad(
                    &path,
                    "ends before documents.jsonl says it should; run the shard again",
                )
            })?
            .map_err(io(&path))?;
        self.statements_line += 1;
        serde_json::from_str(&line).map_err(|e| {
            bad(
                &path,
                format!("line {}: {e}; run the shard again", self.statements_line),
            )
        })
    }
}

/// Merges complete shard directories into `out`: `statements.jsonl`, `documents.jsonl`,
/// `actors.json` and `report.md`. The shards must be all N shards of one run (same inputs,
/// same settings).
pub fn merge(
    shard_dirs: &[PathBuf],
    out: &Path,
    html_documents: usize,
) -> Result<Merged, RunError> {
    if shard_dirs.is_empty() {
        return Err(bad(out, "nothing to merge"));
    }
    std::fs::create_dir_all(out).map_err(io(out))?;
    // Check that the shards belong together and are all there.
    let mut metas: Vec<(ShardFiles, ShardMeta)> = Vec::new();
    for d in shard_dirs {
        let files = ShardFiles::new(d);
        let meta: ShardMeta = read_json(&files.meta())?;
        metas.push((files, meta));
    }
    let (first_files, first) = &metas[0];
    let count = first.settings.shard.count;
    let mut seen: Vec<Option<&Path>> = vec![None; count];
    for (files, m) in &metas {
        let diff = m.settings.differences(&first.settings, true);
        if !diff.is_empty() {
            return Err(bad(
                &files.dir,
                format!(
                    "not from the same run as {} ({}); merge only the shards of one run",
                    first_files.dir.display(),
                    diff.join("; ")
                ),
            ));
        }
        if m.input != first.input {
            return Err(bad(
                &files.dir,
                format!(
                    "read other input than {} (content hash {} vs {}, documents {} vs {}); shards must read the same files, in the same order",
                    first_files.dir.display(),
                    m.input.content_hash,
                    first.input.content_hash,
                    m.input.documents,
                    first.input.documents
                ),
            ));
        }
        let i = m.settings.shard.index;
        if let Some(other) = seen[i] {
            return Err(bad(
                &files.dir,
                format!(
                    "shard {} given twice (also {})",
                    m.settings.shard,
                    other.display()
                ),
            ));
        }
        seen[i] = Some(&files.dir);
    }
    let missing: Vec<String> = (0..count)
        .filter(|&i| seen[i].is_none())
        .map(|i| format!("{i}/{count}"))
        .collect();
    if !missing.is_empty() {
        return Err(bad(
            out,
            format!(
                "shards missing: {} (of {count}); run them, or give their directories",
                missing.join(", ")
            ),
        ));
    }
    let n = first.settings.targets.len();
    let mut targets = Vec::with_capacity(n);
    let mut views = DocViews::new(html_documents);
    for t in 0..n {
        let out_t = crate::shard::target_dir(out, t, n);
        std::fs::create_dir_all(&out_t).map_err(io(&out_t))?;
        targets.push(merge_target(&metas, t, &out_t, &mut views)?);
    }
    if n > 1 {
        write_atomic(&out.join("targets.json"), &targets_json(&targets))?;
        let report = crate::report::matrix_md(&first.settings.model, &targets);
        write_atomic(&out.join("report.md"), report.as_bytes())?;
    }
    write_reports(out, &first.settings.model, &targets, &views)?;
    let (seconds, model_seconds) = metas.iter().fold((0.0, 0.0), |(s, m), (_, x)| {
        (s + x.seconds, m + x.model_seconds)
    });
    Ok(Merged {
        counts: targets[0].counts.clone(),
        targets,
        model: first.settings.model.clone(),
        shards: count,
        seconds,
        model_seconds,
    })
}

/// `targets.json` of a run with several targets: each target, its directory and counts.
fn targets_json(targets: &[TargetResult]) -> Vec<u8> {
    let v: Vec<serde_json::Value> = targets
        .iter()
        .map(|t| {
            serde_json::json!({
                "target": t.target,
                "dir": t.dir.file_name().map(|n| n.to_string_lossy().into_owned()),
                "actors": t.actors.len(),
                "statements": t.counts.totals.statements,
                "favor": t.counts.totals.favor,
                "against": t.counts.totals.against,
                "none": t.counts.totals.none,
            })
        })
        .collect();
    serde_json::to_vec_pretty(&v).expect("plain records serialise")
}

/// Merges target `t` of every shard into `out`.
fn merge_target(
    metas: &[(ShardFiles, ShardMeta)],
    t: usize,
    out: &Path,
    views: &mut DocViews,
) -> Result<TargetResult, RunError> {
    let first = &metas[0].1;
    let n = first.settings.targets.len();
    // Add up the aggregates.
    let mut agg = Aggregator::new();
    let mut streams = Vec::with_capacity(metas.len());
    for (files, _) in metas {
        let files = files.target(t, n);
        let partial = read_json(&files.aggregate())?;
        let remap = agg.absorb(partial);
        let open = |p: PathBuf| -> Result<Lines<BufReader<std::fs::File>>, RunError> {
            Ok(BufReader::new(std::fs::File::open(&p).map_err(io(&p))?).lines())
        };
        streams.push(ShardStream {
            files: files.clone(),
            documents: open(files.documents())?,
            statements: open(files.statements())?,
            documents_line: 0,
            statements_line: 0,
            remap,
        });
    }
    let partial = agg.into_partial();
    let documents_total: usize = metas
        .iter()
        .map(|(_, m)| m.totals.get(t).map_or(0, |x| x.documents))
        .sum();
    if documents_total != partial.totals.documents || documents_total != first.input.documents {
        return Err(bad(
            out,
            format!(
                "the shards hold {documents_total} documents but the input has {}; run the shards again",
                first.input.documents
            ),
        ));
    }
    let mut resolved = resolve(&partial);
    // Stream documents and statements back in input order.
    let stmt_path = out.join("statements.jsonl");
    let docs_path = out.join("documents.jsonl");
    let stmt_tmp = out.join("statements.jsonl.tmp");
    let docs_tmp = out.join("documents.jsonl.tmp");
    let mut sw = BufWriter::new(std::fs::File::create(&stmt_tmp).map_err(io(&stmt_tmp))?);
    let mut dw = BufWriter::new(std::fs::File::create(&docs_tmp).map_err(io(&docs_tmp))?);
    let mut heap = BinaryHeap::new();
    let mut pending: Vec<Option<DocEntry>> = Vec::with_capacity(streams.len());
    for (i, s) in streams.iter_mut().enumerate() {
        let e = s.next_doc()?;
        if let Some(e) = &e {
            heap.push(std::cmp::Reverse((e.ordinal, i)));
        }
        pending.push(e);
    }
    let mut last: Option<u64> = None;
    let mut statements = 0usize;
    let csv_path = out.join("statements.csv");
    let csv_tmp = out.join("statements.csv.tmp");
    let mut csv = crate::export::StatementsCsv::new(BufWriter::new(
        std::fs::File::create(&csv_tmp).map_err(io(&csv_tmp))?,
    ));
    let mut timeline = Timeline::default();
    let mut doc_index = 0usize;
    while let Some(std::cmp::Reverse((ordinal, i))) = heap.pop() {
        if last.is_some_and(|l| l >= ordinal) {
            return Err(bad(
                &streams[i].files.documents(),
                format!("document {ordinal} appears twice or out of order; run the shard again"),
            ));
        }
        last = Some(ordinal);
        let entry = pending[i]
            .take()
            .expect("a pending document per heap entry");
        let (doc, renames): (_, HashMap<String, String>) = resolved.doc_record(entry);
        timeline.add(&doc);
        let mut view = views.start(t, doc_index, &doc);
        doc_index += 1;
        for k in 0..doc.statements {
            let mut s = streams[i].next_statement()?;
            if s.doc_id != doc.doc_id {
                return Err(bad(
                    &streams[i].files.statements(),
                    format!(
                        "line {}: statement of {:?} where {:?} was expected; run the shard again",
                        streams[i].statements_line, s.doc_id, doc.doc_id
                    ),
                ));
            }
            rename(&mut s, &renames);
            serde_json::to_writer(&mut sw, &s).map_err(|e| io(&stmt_tmp)(e.into()))?;
            sw.write_all(b"\n").map_err(io(&stmt_tmp))?;
            csv.write(&s, None).map_err(|e| export_error(&csv_tmp, e))?;
            if let Some(v) = view.as_mut() {
                v.add(t, k, &s);
            }
            statements += 1;
        }
        serde_json::to_writer(&mut dw, &doc).map_err(|e| io(&docs_tmp)(e.into()))?;
        dw.write_all(b"\n").map_err(io(&docs_tmp))?;
        if let Some(e) = streams[i].next_doc()? {
            heap.push(std::cmp::Reverse((e.ordinal, i)));
            pending[i] = Some(e);
        }
    }
    for s in &mut streams {
        if s.statements.next().is_some() {
            return Err(bad(
                &s.files.statements(),
                "holds more statements than documents.jsonl lists; run the shard again",
            ));
        }
    }
    if statements != partial.totals.statements {
        return Err(bad(
            out,
            format!(
                "the shards' statements files hold {statements} statements, their aggregates {}; run the shards again",
                partial.totals.statements
            ),
        ));
    }
    let csv_w = csv.finish().map_err(|e| export_error(&csv_tmp, e))?;
    for (w, tmp, path) in [
        (sw, &stmt_tmp, &stmt_path),
        (dw, &docs_tmp, &docs_path),
        (csv_w, &csv_tmp, &csv_path),
    ] {
        let f = w.into_inner().map_err(|e| io(tmp)(e.into_error()))?;
        f.sync_all().map_err(io(tmp))?;
        std::fs::rename(tmp, path).map_err(io(path))?;
    }
    let mut totals = partial.totals.clone();
    totals.actors = resolved.actors.len();
    let counts = RunCounts {
        input: first.input.clone(),
        totals,
    };
    let s = &first.settings;
    let target = &s.targets[t];
    // Shards written before the trust line existed carry none: say that nothing was measured.
    let trust = s
        .trust
        .get(t)
        .cloned()
        .unwrap_or_else(|| crate::model::trust_line(None, target));
    write_atomic(
        &out.join("actors.json"),
        actors_json(target, &s.model, &trust, &counts, &resolved.actors).as_bytes(),
    )?;
    let report = out.join("report.md");
    let report_tmp = out.join("report.md.tmp");
    {
        let mut w = BufWriter::new(std::fs::File::create(&report_tmp).map_err(io(&report_tmp))?);
        let mut docs = BufReader::new(std::fs::File::open(&docs_path).map_err(io(&docs_path))?)
            .lines()
            .map(|l| {
                l.and_then(|l| {
                    serde_json::from_str(&l)
                        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
                })
            });
        write_report_md(
            &mut w,
            target,
            &s.model,
            &trust,
            &counts,
            &resolved.actors,
            &mut docs,
        )
        .map_err(io(&report_tmp))?;
        let f = w
            .into_inner()
            .map_err(|e| io(&report_tmp)(e.into_error()))?;
        f.sync_all().map_err(io(&report_tmp))?;
    }
    std::fs::rename(&report_tmp, &report).map_err(io(&report))?;
    Ok(TargetResult {
        target: target.clone(),
        trust,
        dir: out.to_path_buf(),
        counts,
        timeline: timeline.points(&resolved.actors),
        actors: resolved.actors,
    })
}

fn export_error(path: &Path, e: crate::export::ExportError) -> RunError {
    RunError::State {
        path: path.to_path_buf(),
        message: format!("cannot write: {e}"),
    }
}

/// Statements, favor, against, none, and the sum of score × statements, of an actor in a month.
type Cell = (usize, usize, usize, usize, f64);

/// Stance per actor per month, from the documents' dates and their actors' counts.
#[derive(Default)]
struct Timeline {
    cells: HashMap<(String, String), Cell>,
}

impl Timeline {
    fn add(&mut self, doc: &crate::aggregate::DocRecord) {
        let Some(month) = doc.date.as_deref().and_then(crate::html::month_of) else {
            return;
        };
        for a in &doc.actors {
            let c = self
                .cells
                .entry((a.actor.clone(), month.clone()))
                .or_insert((0, 0, 0, 0, 0.0));
            c.0 += a.statements;
            c.1 += a.favor;
            c.2 += a.against;
            c.3 += a.none;
            c.4 += a.score * a.statements as f64;
        }
    }

    /// The points in the actors' order, then by month.
    fn points(self, actors: &[crate::aggregate::ActorRecord]) -> Vec<crate::html::TimePoint> {
        let rank: HashMap<&str, usize> = actors
            .iter()
            .enumerate()
            .map(|(i, a)| (a.actor.as_str(), i))
            .collect();
        let mut points: Vec<crate::html::TimePoint> = self
            .cells
            .into_iter()
            .map(|((actor, period), c)| crate::html::TimePoint {
                actor,
                period,
                statements: c.0,
                favor: c.1,
                against: c.2,
                none: c.3,
                score: if c.0 == 0 {
                    0.0
                } else {
                    (c.4 / c.0 as f64 * 1000.0).round() / 1000.0
                },
            })
            .collect();
        points.sort_by(|a, b| {
            let (ra, rb) = (
                rank.get(a.actor.as_str()).copied().unwrap_or(usize::MAX),
                rank.get(b.actor.as_str()).copied().unwrap_or(usize::MAX),
            );
            ra.cmp(&rb)
                .then(a.period.cmp(&b.period))
                .then(a.actor.cmp(&b.actor))
        });
        points
    }
}

/// The documents shown in full in `report.html`: the first `cap` in input order, with each
/// statement's stance toward every target.
pub struct DocViews {
    pub cap: usize,
    pub docs: Vec<crate::html::DocView>,
    pub omitted: usize,
}

/// A document view being filled by one target's pass.
struct ViewFill<'a> {
    view: &'a mut crate::html::DocView,
}

impl ViewFill<'_> {
    fn add(&mut self, t: usize, k: usize, s: &Statement) {
        let stance = match (s.stance, s.scores) {
            (Some(l), Some(sc)) => (l, sc.get(l)),
            (Some(l), None) => (l, 0.0),
            _ => (crate::model::Label::None, 0.0),
        };
        if t == 0 {
            self.view.statements.push(crate::html::StatementView {
                statement: s.clone(),
                stances: vec![stance],
            });
        } else if let Some(v) = self.view.statements.get_mut(k) {
            v.stances.push(stance);
        }
    }
}

impl DocViews {
    pub fn new(cap: usize) -> DocViews {
        DocViews {
            cap,
            docs: Vec::new(),
            omitted: 0,
        }
    }

    /// The view of document `index` to fill during target `t`'s pass, if it is shown.
    fn start(
        &mut self,
        t: usize,
        index: usize,
        doc: &crate::aggregate::DocRecord,
    ) -> Option<ViewFill<'_>> {
        if t == 0 {
            if self.docs.len() >= self.cap {
                self.omitted += 1;
                return None;
            }
            self.docs.push(crate::html::DocView {
                doc: doc.clone(),
                source: None,
                statements: Vec::new(),
            });
        }
        self.docs.get_mut(index).map(|view| ViewFill { view })
    }
}

/// The files over all targets: `actors.csv`, the two networks (GraphML and CSV edge lists) and
/// `report.html`.
fn write_reports(
    out: &Path,
    model: &str,
    targets: &[TargetResult],
    views: &DocViews,
) -> Result<(), RunError> {
    let per_target: Vec<(&str, &[crate::aggregate::ActorRecord])> = targets
        .iter()
        .map(|t| (t.target.as_str(), t.actors.as_slice()))
        .collect();
    let nets = crate::export::Networks::build(&per_target, 1);
    type Writer<'a> = Box<dyn Fn(&mut dyn Write) -> Result<(), crate::export::ExportError> + 'a>;
    let files: Vec<(&str, Writer)> = vec![
        (
            "actors.csv",
            Box::new(|w: &mut dyn Write| crate::export::write_actors_csv(w, &per_target)),
        ),
        (
            "actor-target.graphml",
            Box::new(|w: &mut dyn Write| nets.two_mode_graphml(w)),
        ),
        (
            "actor-target-edges.csv",
            Box::new(|w: &mut dyn Write| nets.two_mode_edges_csv(w)),
        ),
        (
            "actor-actor.graphml",
            Box::new(|w: &mut dyn Write| nets.one_mode_graphml(w)),
        ),
        (
            "actor-actor-edges.csv",
            Box::new(|w: &mut dyn Write| nets.one_mode_edges_csv(w)),
        ),
    ];
    for (name, write) in files {
        let path = out.join(name);
        let mut bytes = Vec::new();
        write(&mut bytes).map_err(|e| export_error(&path, e))?;
        write_atomic(&path, &bytes)?;
    }
    let html = crate::html::report_html(&crate::html::HtmlInput {
        model,
        counts: &targets[0].counts,
        targets: targets
            .iter()
            .map(|t| crate::html::TargetView {
                target: &t.target,
                trust: &t.trust,
                actors: &t.actors,
                timeline: &t.timeline,
            })
            .collect(),
        documents: &views.docs,
        documents_omitted: views.omitted,
    });
    write_atomic(&out.join("report.html"), html.as_bytes())?;
    Ok(())
}
