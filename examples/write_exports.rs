//! Writes every export of `standpoint::export` into a directory, for checking them with other
//! tools (`tests/fixtures/check_exports.py`: networkx, pandas, igraph; `xmllint`).
//!
//! ```text
//! EXPORT_DIR=/tmp/exports cargo run --release --example write_exports [-- FILE...]
//! ```
//!
//! FILEs are the pipeline's outputs: `actors.json` (any number, one target each) and
//! `statements.jsonl`. Without FILEs it writes a small synthetic corpus of hostile names and
//! texts (formula starts, markup, quotes, commas, line breaks, control characters, paths) over
//! three targets. Files written: actors.csv, statements.csv, two_mode.graphml,
//! two_mode_edges.csv, one_mode.graphml, one_mode_edges.csv (`min_statements` from
//! `EXPORT_MIN_STATEMENTS`, default 1).

use anyhow::{bail, Context, Result};
use standpoint::aggregate::{ActorRecord, Overall};
use standpoint::attribute::Attribution;
use standpoint::export::*;
use standpoint::lexicon::ActorKind;
use standpoint::model::{Label, Scores};
use standpoint::segment::Span;
use standpoint::statements::Statement;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

#[derive(serde::Deserialize)]
struct ActorsJson {
    target: String,
    actors: Vec<ActorRecord>,
}

fn record(name: &str, kind: ActorKind, favor: usize, against: usize, none: usize) -> ActorRecord {
    let sided = favor + against;
    let stance = if sided == 0 {
        Overall::None
    } else if favor.min(against) as f64 / sided as f64 >= 0.3 {
        Overall::Mixed
    } else if favor > against {
        Overall::Favor
    } else {
        Overall::Against
    };
    let n = favor + against + none;
    ActorRecord {
        actor: name.into(),
        aliases: vec![name.into(), format!("{name} (alias)")],
        kind,
        statements: n,
        favor,
        against,
        none,
        stance,
        score: (favor as f64 - against as f64) / n.max(1) as f64,
        interval: [-1.0, 1.0],
        documents: 1,
        evidence: vec![],
    }
}

fn synthetic() -> (Vec<ActorsJson>, Vec<Statement>) {
    use ActorKind::*;
    let t = |target: &str, actors| ActorsJson {
        target: target.into(),
        actors,
    };
    let targets = vec![
        t(
            "NATO enlargement",
            vec![
                record("=HYPERLINK(\"http://evil\",\"x\")", Person, 4, 0, 1),
                record("+1", Organisation, 3, 1, 0),
                record("-cmd", State, 0, 5, 2),
                record("@SUM(A1)", Person, 0, 2, 0),
                record("<script>alert('x')</script>", Person, 2, 2, 1),
                record("\"quoted\", a,b\nnext line", Organisation, 0, 0, 3),
                record("ctrl\u{1}char", Person, 1, 0, 0),
                record("NATO", Organisation, 6, 0, 0),
            ],
        ),
        t(
            "=sanctions",
            vec![
                record("=HYPERLINK(\"http://evil\",\"x\")", Person, 0, 3, 0),
                record("+1", Organisation, 0, 1, 0),
                record("-cmd", State, 2, 0, 0),
                record("NATO", Organisation, 0, 4, 1),
            ],
        ),
        t(
            "../../etc/passwd",
            vec![
                record("-cmd", State, 1, 0, 0),
                record("@SUM(A1)", Person, 3, 0, 0),
                record("NATO", Person, 1, 1, 0),
            ],
        ),
    ];
    let text = "He said: \"=1+2, <b>\nno\" \u{1}.";
    let statements = vec![
        Statement {
            doc_id: "../../etc/passwd".into(),
            statement_id: "../../etc/passwd:0".into(),
            start: 0,
            end: text.len(),
            text: text.into(),
            quote: Some(Span { start: 10, end: 22 }),
            paragraph: 0,
            speaker: Some("-cmd".into()),
            mention: Some("@him".into()),
            speaker_kind: Some(State),
            attribution: Attribution::DirectQuote,
            target: "=sanctions".into(),
            stance: Some(Label::Favor),
            scores: Some(Scores {
                favor: 0.8,
                against: 0.15,
                none: 0.05,
            }),
        },
        Statement {
            doc_id: "doc,2".into(),
            statement_id: "doc,2:0".into(),
            start: 5,
            end: 17,
            text: "-25% growth.".into(),
            quote: None,
            paragraph: 1,
            speaker: None,
            mention: None,
            speaker_kind: None,
            attribution: Attribution::None,
            target: "=sanctions".into(),
            stance: None,
            scores: None,
        },
    ];
    (targets, statements)
}

fn create(dir: &Path, name: &str) -> Result<BufWriter<File>> {
    let p = dir.join(name);
    Ok(BufWriter::new(
        File::create(&p).with_context(|| p.display().to_string())?,
    ))
}

fn main() -> Result<()> {
    let Some(dir) = std::env::var_os("EXPORT_DIR").map(PathBuf::from) else {
        bail!("set EXPORT_DIR to the directory to write the exports into");
    };
    let min_statements: usize = match std::env::var("EXPORT_MIN_STATEMENTS") {
        Ok(v) => v.parse().context("EXPORT_MIN_STATEMENTS")?,
        Err(_) => 1,
    };
    std::fs::create_dir_all(&dir)?;
    let files: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let (targets, statements) = if files.is_empty() {
        synthetic()
    } else {
        let mut targets = Vec::new();
        let mut statements = Vec::new();
        for f in &files {
            let r = BufReader::new(File::open(f).with_context(|| f.display().to_string())?);
            if f.extension().is_some_and(|e| e == "jsonl") {
                for line in r.lines() {
                    let line = line?;
                    if !line.trim().is_empty() {
                        statements.push(serde_json::from_str(&line)?);
                    }
                }
            } else {
                targets.push(serde_json::from_reader(r).with_context(|| f.display().to_string())?);
            }
        }
        (targets, statements)
    };
    let per: Vec<(&str, &[ActorRecord])> = targets
        .iter()
        .map(|t: &ActorsJson| (t.target.as_str(), t.actors.as_slice()))
        .collect();

    let mut w = create(&dir, "actors.csv")?;
    write_actors_csv(&mut w, &per)?;
    w.flush()?;
    let mut s = StatementsCsv::new(create(&dir, "statements.csv")?);
    for st in &statements {
        s.write(st, None)?;
    }
    s.finish()?.flush()?;
    let mut w = create(&dir, "two_mode.graphml")?;
    write_two_mode_graphml(&mut w, &per)?;
    w.flush()?;
    let mut w = create(&dir, "two_mode_edges.csv")?;
    write_two_mode_edges_csv(&mut w, &per)?;
    w.flush()?;
    let mut w = create(&dir, "one_mode.graphml")?;
    write_one_mode_graphml(&mut w, &per, min_statements)?;
    w.flush()?;
    let mut w = create(&dir, "one_mode_edges.csv")?;
    write_one_mode_edges_csv(&mut w, &per, min_statements)?;
    w.flush()?;
    println!(
        "{}: {} targets, {} actor records, {} statements, min_statements {}",
        dir.display(),
        per.len(),
        per.iter().map(|p| p.1.len()).sum::<usize>(),
        statements.len(),
        min_statements
    );
    Ok(())
}
