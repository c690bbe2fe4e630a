//! Comparing two runs (two periods, two models, two corpora): which actors' stances changed.
//!
//! A run is an `analyze` (or `merge`) output directory: `actors.json` for one target, or
//! `targets.json` with a `target-T` directory per target. Actors are matched by name and kind,
//! targets by their text. An actor's stance *changed* when its overall label differs; it
//! *shifted* when the label is the same but the two 95% intervals of its score do not overlap;
//! it is *new* or *gone* when only one run has it.

use crate::aggregate::{ActorRecord, Overall};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    #[error("{path}: cannot read: {source} (give a directory written by `standpoint analyze` or `merge`)")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not an actors.json of standpoint: {message}")]
    Format { path: PathBuf, message: String },
}

/// One side of a comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Side {
    pub stance: Overall,
    pub score: f64,
    pub interval: [f64; 2],
    pub statements: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    Changed,
    Shifted,
    New,
    Gone,
    Same,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActorChange {
    pub target: String,
    pub actor: String,
    pub kind: crate::lexicon::ActorKind,
    pub change: Change,
    pub before: Option<Side>,
    pub after: Option<Side>,
}

#[derive(Deserialize)]
struct ActorsFile {
    target: String,
    model: String,
    actors: Vec<ActorRecord>,
}

#[derive(Deserialize)]
struct TargetEntry {
    target: String,
    dir: String,
}

/// A run's targets: (target, model, actors).
fn load_run(dir: &Path) -> Result<Vec<(String, String, Vec<ActorRecord>)>, DiffError> {
    let read = |p: PathBuf| -> Result<Vec<u8>, DiffError> {
        std::fs::read(&p).map_err(|e| DiffError::Io { path: p, source: e })
    };
    let targets_file = dir.join("targets.json");
    let dirs: Vec<PathBuf> = if targets_file.exists() {
        let entries: Vec<TargetEntry> = serde_json::from_slice(&read(targets_file.clone())?)
            .map_err(|e| DiffError::Format {
                path: targets_file.clone(),
                message: e.to_string(),
            })?;
        let mut dirs = Vec::new();
        for e in entries {
            // Only the directory names standpoint writes; never a path from the file as is.
            let ok = e
                .dir
                .strip_prefix("target-")
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
            if !ok {
                return Err(DiffError::Format {
                    path: targets_file.clone(),
                    message: format!("unexpected directory {:?} for {:?}", e.dir, e.target),
                });
            }
            dirs.push(dir.join(e.dir));
        }
        dirs
    } else {
        vec![dir.to_path_buf()]
    };
    let mut out = Vec::new();
    for d in dirs {
        let p = d.join("actors.json");
        let f: ActorsFile =
            serde_json::from_slice(&read(p.clone())?).map_err(|e| DiffError::Format {
                path: p.clone(),
                message: e.to_string(),
            })?;
        out.push((f.target, f.model, f.actors));
    }
    Ok(out)
}

fn side(a: &ActorRecord) -> Side {
    Side {
        stance: a.stance,
        score: a.score,
        interval: a.interval,
        statements: a.statements,
    }
}

/// Compares the actors of two lists for one target.
pub fn compare(target: &str, before: &[ActorRecord], after: &[ActorRecord]) -> Vec<ActorChange> {
    let mut out = Vec::new();
    for a in before {
        let b = after
            .iter()
            .find(|b| b.actor == a.actor && b.kind == a.kind);
        let change = match b {
            None => Change::Gone,
            Some(b) if b.stance != a.stance => Change::Changed,
            Some(b) if b.interval[0] > a.interval[1] || b.interval[1] < a.interval[0] => {
                Change::Shifted
            }
            Some(_) => Change::Same,
        };
        out.push(ActorChange {
            target: target.to_string(),
            actor: a.actor.clone(),
            kind: a.kind,
            change,
            before: Some(side(a)),
            after: b.map(side),
        });
    }
    for b in after {
        if !before
            .iter()
            .any(|a| a.actor == b.actor && a.kind == b.kind)
        {
            out.push(ActorChange {
                target: target.to_string(),
                actor: b.actor.clone(),
                kind: b.kind,
                change: Change::New,
                before: None,
                after: Some(side(b)),
            });
        }
    }
    let weight = |c: &ActorChange| {
        c.before.as_ref().map_or(0, |s| s.statements) + c.after.as_ref().map_or(0, |s| s.statements)
    };
    out.sort_by(|x, y| {
        x.change
            .cmp(&y.change)
            .then(weight(y).cmp(&weight(x)))
            .then(x.actor.cmp(&y.actor))
    });
    out
}

/// The comparison of two runs.
#[derive(Debug, Clone, Serialize)]
pub struct RunDiff {
    pub before: String,
    pub after: String,
    pub models: [Vec<String>; 2],
    /// Targets in only one of the runs.
    pub targets_only_before: Vec<String>,
    pub targets_only_after: Vec<String>,
    pub changes: Vec<ActorChange>,
}

pub fn diff_runs(a: &Path, b: &Path) -> Result<RunDiff, DiffError> {
    let (ra, rb) = (load_run(a)?, load_run(b)?);
    let mut changes = Vec::new();
    for (target, _, actors) in &ra {
        if let Some((_, _, other)) = rb.iter().find(|(t, _, _)| t == target) {
            changes.extend(compare(target, actors, other));
        }
    }
    let only = |x: &[(String, String, Vec<ActorRecord>)],
                y: &[(String, String, Vec<ActorRecord>)]| {
        x.iter()
            .filter(|(t, _, _)| !y.iter().any(|(u, _, _)| u == t))
            .map(|(t, _, _)| t.clone())
            .collect::<Vec<_>>()
    };
    let models = |r: &[(String, String, Vec<ActorRecord>)]| {
        let mut m: Vec<String> = r.iter().map(|(_, m, _)| m.clone()).collect();
        m.dedup();
        m
    };
    Ok(RunDiff {
        before: a.display().to_string(),
        after: b.display().to_string(),
        models: [models(&ra), models(&rb)],
        targets_only_before: only(&ra, &rb),
        targets_only_after: only(&rb, &ra),
        changes,
    })
}

/// The comparison as a table for a terminal (text from the runs is printed as it is, one line
/// per actor; control characters are replaced).
pub fn diff_text(d: &RunDiff, all: bool) -> String {
    use std::fmt::Write as _;
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect()
    };
    let mut s = String::new();
    let _ = writeln!(
        s,
        "before: {} ({})",
        clean(&d.before),
        clean(&d.models[0].join(", "))
    );
    let _ = writeln!(
        s,
        "after:  {} ({})",
        clean(&d.after),
        clean(&d.models[1].join(", "))
    );
    for t in &d.targets_only_before {
        let _ = writeln!(s, "target only before: {}", clean(t));
    }
    for t in &d.targets_only_after {
        let _ = writeln!(s, "target only after: {}", clean(t));
    }
    let count = |c: Change| d.changes.iter().filter(|x| x.change == c).count();
    let _ = writeln!(
        s,
        "{} changed, {} shifted, {} new, {} gone, {} the same\n",
        count(Change::Changed),
        count(Change::Shifted),
        count(Change::New),
        count(Change::Gone),
        count(Change::Same)
    );
    let fmt_side = |x: &Option<Side>| match x {
        Some(x) => format!(
            "{} {:+.2} [{:+.2}, {:+.2}] n={}",
            x.stance.as_str(),
            x.score,
            x.interval[0],
            x.interval[1],
            x.statements
        ),
        None => "—".into(),
    };
    let _ = writeln!(
        s,
        "{:<8} {:<28} {:<24} {:<36} after",
        "change", "target", "actor", "before"
    );
    for c in &d.changes {
        if c.change == Change::Same && !all {
            continue;
        }
        let change = format!("{:?}", c.change).to_lowercase();
        let _ = writeln!(
            s,
            "{:<8} {:<28} {:<24} {:<36} {}",
            change,
            clean(&c.target),
            clean(&c.actor),
            fmt_side(&c.before),
            fmt_side(&c.after)
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lexicon::ActorKind;

    fn actor(name: &str, stance: Overall, score: f64, iv: [f64; 2], n: usize) -> ActorRecord {
        ActorRecord {
            actor: name.into(),
            aliases: vec![],
            kind: ActorKind::Person,
            statements: n,
            favor: 0,
            against: 0,
            none: n,
            stance,
            score,
            interval: iv,
            documents: 1,
            evidence: vec![],
        }
    }

    #[test]
    fn changes_shifts_new_and_gone() {
        let before = vec![
            actor("A", Overall::Against, -0.5, [-0.7, -0.3], 10),
            actor("B", Overall::None, 0.0, [-0.1, 0.1], 8),
            actor("C", Overall::Favor, 0.2, [0.1, 0.3], 5),
            actor("D", Overall::None, 0.0, [-0.5, 0.5], 2),
        ];
        let after = vec![
            actor("A", Overall::Favor, 0.4, [0.2, 0.6], 12),
            actor("B", Overall::None, 0.0, [-0.2, 0.2], 9),
            actor("C", Overall::Favor, 0.6, [0.5, 0.7], 6),
            actor("E", Overall::Against, -0.9, [-1.0, -0.5], 3),
        ];
        let c = compare("T", &before, &after);
        let get = |n: &str| c.iter().find(|x| x.actor == n).unwrap().change;
        assert_eq!(get("A"), Change::Changed);
        assert_eq!(get("B"), Change::Same);
        assert_eq!(get("C"), Change::Shifted, "same label, intervals apart");
        assert_eq!(get("D"), Change::Gone);
        assert_eq!(get("E"), Change::New);
        assert_eq!(c[0].actor, "A", "changes first");
        let text = diff_text(
            &RunDiff {
                before: "a".into(),
                after: "b".into(),
                models: [vec!["m".into()], vec!["m".into()]],
                targets_only_before: vec![],
                targets_only_after: vec![],
                changes: c,
            },
            false,
        );
        assert!(
            text.contains("1 changed, 1 shifted, 1 new, 1 gone, 1 the same"),
            "{text}"
        );
        assert!(text.contains("AGAINST -0.50 [-0.70, -0.30] n=10"), "{text}");
        assert!(!text.lines().any(|l| l.starts_with("same")));
    }
}
