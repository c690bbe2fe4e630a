//! Stage 6: reports. `actors.json` (machine-readable) and `report.md` (for a person); the
//! per-document records are `documents.jsonl`, written by [`crate::merge`]. Files are written
//! to a temporary name and renamed, so a reader never sees half a file.

use crate::aggregate::{ActorRecord, DocRecord, Evidence};
use crate::corpus::CorpusStats;
use serde::Serialize;
use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{path}: cannot write: {source} (check that the --out directory is writable)")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Writes `bytes` to `path` atomically (temporary file in the same directory, then rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    let tmp = path.with_extension(format!(
        "{}.tmp",
        path.extension().and_then(|e| e.to_str()).unwrap_or("")
    ));
    let io = |e| ReportError::Io {
        path: path.to_path_buf(),
        source: e,
    };
    let mut f = std::fs::File::create(&tmp).map_err(io)?;
    f.write_all(bytes).map_err(io)?;
    f.sync_all().map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

/// Everything counted in a run: what went in and what came out.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunCounts {
    pub input: CorpusStats,
    #[serde(flatten)]
    pub totals: crate::aggregate::Totals,
}

/// The `actors.json` document.
#[derive(Debug, Serialize)]
pub struct ActorsFile<'a> {
    pub target: &'a str,
    pub model: &'a str,
    /// How far to trust the labels: the model's measured score on this kind of target.
    pub trust: &'a str,
    pub counts: &'a RunCounts,
    pub actors: &'a [ActorRecord],
}

pub fn actors_json(
    target: &str,
    model: &str,
    trust: &str,
    counts: &RunCounts,
    actors: &[ActorRecord],
) -> String {
    let f = ActorsFile {
        target,
        model,
        trust,
        counts,
        actors,
    };
    serde_json::to_string_pretty(&f).expect("plain records serialise")
}

fn md_escape(s: &str) -> String {
    let one_line = s.split_whitespace().collect::<Vec<_>>().join(" ");
    one_line
        .replace('|', "\\|")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The words the model read: the quotation when there is one, else the sentence.
fn evidence_words(e: &Evidence) -> String {
    if let Some(q) = e.quote {
        if q.start >= e.start && q.end <= e.end {
            let (a, b) = (q.start - e.start, q.end - e.start);
            if e.text.is_char_boundary(a) && e.text.is_char_boundary(b) {
                return md_escape(&e.text[a..b]);
            }
        }
    }
    md_escape(&e.text)
}

/// The evidence sentence with its quotation in bold.
fn evidence_md(e: &Evidence) -> String {
    match e.quote {
        Some(q) if q.start >= e.start && q.end <= e.end => {
            let (a, b) = (q.start - e.start, q.end - e.start);
            if e.text.is_char_boundary(a) && e.text.is_char_boundary(b) {
                format!(
                    "{}**{}**{}",
                    md_escape(&e.text[..a]),
                    md_escape(&e.text[a..b]),
                    md_escape(&e.text[b..])
                )
            } else {
                md_escape(&e.text)
            }
        }
        _ => md_escape(&e.text),
    }
}

/// `report.md`: a table of actors with stance and evidence, then each actor's evidence, then
/// the documents (streamed, one row each).
pub fn write_report_md(
    w: &mut dyn Write,
    target: &str,
    model: &str,
    trust: &str,
    counts: &RunCounts,
    actors: &[ActorRecord],
    documents: &mut dyn Iterator<Item = std::io::Result<DocRecord>>,
) -> std::io::Result<()> {
    let mut s = String::new();
    let t = &counts.totals;
    let _ = writeln!(s, "# Stance toward \"{}\"\n", md_escape(target));
    let _ = writeln!(s, "Model: `{}`  ", model);
    let _ = writeln!(s, "{}  ", md_escape(trust));
    let _ = writeln!(
        s,
        "Corpus: documents {} ({} skipped as bad input); statements {}: {} attributed to {} actors, {} without a speaker.  ",
        t.documents, counts.input.skipped, t.statements, t.attributed, t.actors, t.unattributed
    );
    let _ = writeln!(
        s,
        "Statement labels: FAVOR {}, AGAINST {}, NONE {}.\n",
        t.favor, t.against, t.none
    );
    let _ = writeln!(s, "Score: mean of P(FAVOR) − P(AGAINST) over the actor's statements, from −1 (against) to +1 (in favour), with an approximate 95% interval. Stance: the majority side among statements that take one; MIXED when the smaller side has at least 30%; NONE when none takes a side.\n");
    let _ = writeln!(s, "## Actors\n");
    let _ = writeln!(s, "| Actor | Kind | Stance | Score [95% interval] | Statements (F/A/N) | Strongest evidence |");
    let _ = writeln!(s, "|---|---|---|---|---|---|");
    for a in actors {
        let ev = a
            .evidence
            .first()
            .map(|e| format!("“{}” ({} {:.2})", evidence_words(e), e.stance, e.confidence))
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "| {} | {} | {} | {:+.2} [{:+.2}, {:+.2}] | {} ({}/{}/{}) | {} |",
            md_escape(&a.actor),
            a.kind.as_str(),
            a.stance.as_str(),
            a.score,
            a.interval[0],
            a.interval[1],
            a.statements,
            a.favor,
            a.against,
            a.none,
            ev
        );
    }
    let _ = writeln!(s, "\n## Evidence by actor\n");
    for a in actors {
        let _ = writeln!(s, "### {} — {}\n", md_escape(&a.actor), a.stance.as_str());
        if !a.aliases.is_empty() {
            let al: Vec<String> = a.aliases.iter().map(|x| md_escape(x)).collect();
            let _ = writeln!(s, "Also named: {}.\n", al.join(", "));
        }
        for e in &a.evidence {
            let _ = writeln!(
                s,
                "- {} ({:.2}, {}) — {}: {}",
                e.stance,
                e.confidence,
                e.attribution.as_str(),
                md_escape(&format!("{} [{}..{}]", e.doc_id, e.start, e.end)),
                evidence_md(e)
            );
        }
        let _ = writeln!(s);
    }
    let _ = writeln!(s, "## Documents\n");
    let _ = writeln!(
        s,
        "| Document | Date | Statements | Attributed | F/A/N | Actors |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|");
    w.write_all(s.as_bytes())?;
    for d in documents {
        let d = d?;
        s.clear();
        let actors: Vec<String> = d
            .actors
            .iter()
            .map(|a| format!("{} ({})", md_escape(&a.actor), a.stance.as_str()))
            .collect();
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {}/{}/{} | {} |",
            md_escape(d.title.as_deref().unwrap_or(&d.doc_id)),
            md_escape(d.date.as_deref().unwrap_or("")),
            d.statements,
            d.attributed,
            d.favor,
            d.against,
            d.none,
            actors.join(", ")
        );
        w.write_all(s.as_bytes())?;
    }
    Ok(())
}

/// `report.md` of a run with several targets: the stance matrix, actor × target, and where each
/// target's own report is.
pub fn matrix_md(model: &str, targets: &[crate::merge::TargetResult]) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# Stances toward {} targets\n", targets.len());
    let _ = writeln!(s, "Model: `{model}`  ");
    if let Some(t) = targets.first() {
        let c = &t.counts;
        let _ = writeln!(
            s,
            "Corpus: documents {} ({} skipped as bad input); statements {}, each scored against every target.\n",
            c.totals.documents, c.input.skipped, c.totals.statements
        );
    }
    for line in crate::model::distinct_lines(targets.iter().map(|t| t.trust.as_str())) {
        let _ = writeln!(s, "{}  ", md_escape(line));
    }
    let _ = writeln!(s);
    let _ = writeln!(s, "| Target | Report | FAVOR | AGAINST | NONE | Actors |");
    let _ = writeln!(s, "|---|---|---|---|---|---|");
    for t in targets {
        let dir = t
            .dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let c = &t.counts.totals;
        let _ = writeln!(
            s,
            "| {} | [{dir}/report.md]({dir}/report.md) | {} | {} | {} | {} |",
            md_escape(&t.target),
            c.favor,
            c.against,
            c.none,
            t.actors.len()
        );
    }
    let _ = writeln!(s, "\n## Stance matrix\n");
    let _ = writeln!(
        s,
        "Each cell: the actor's stance toward the target, its score, and its statements.\n"
    );
    let header: Vec<String> = targets.iter().map(|t| md_escape(&t.target)).collect();
    let _ = writeln!(s, "| Actor | {} |", header.join(" | "));
    let _ = writeln!(s, "|---|{}", "---|".repeat(targets.len()));
    for a in targets.first().map(|t| t.actors.as_slice()).unwrap_or(&[]) {
        let cells: Vec<String> = targets
            .iter()
            .map(|t| {
                match t
                    .actors
                    .iter()
                    .find(|b| b.actor == a.actor && b.kind == a.kind)
                {
                    Some(b) => format!("{} {:+.2} ({})", b.stance.as_str(), b.score, b.statements),
                    None => "—".into(),
                }
            })
            .collect();
        let _ = writeln!(s, "| {} | {} |", md_escape(&a.actor), cells.join(" | "));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_leaves_no_temporary_file() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("actors.json");
        write_atomic(&p, b"{}").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "{}");
        let names: Vec<_> = std::fs::read_dir(d.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1);
        let e = write_atomic(&d.path().join("no/such/dir.json"), b"x").unwrap_err();
        assert!(e.to_string().contains("no/such/dir.json"));
    }

    #[test]
    fn markdown_cells_are_escaped() {
        assert_eq!(md_escape("a | b\nc <x>"), "a \\| b c &lt;x&gt;");
    }
}
