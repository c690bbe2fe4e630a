//! Evaluation on labelled stance data (`{"id","text","target","label"}` JSONL): accuracy,
//! macro-F1 and the SemEval-2016 F_avg (mean F1 of FAVOR and AGAINST), per target and overall,
//! with a confusion matrix.
//!
//! Macro-F1 averages over the labels that occur in the gold data (P-Stance has no NONE, so its
//! macro-F1 is over FAVOR and AGAINST); predictions of a label absent from the gold data still
//! lower the recall of the others.

use crate::model::{Label, Scores};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};

/// One labelled example.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Example {
    pub id: String,
    pub text: String,
    pub target: String,
    pub label: Label,
}

#[derive(Debug, thiserror::Error)]
pub enum ExampleError {
    #[error("{path}: cannot read: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{line}: {message} (expected {{\"id\",\"text\",\"target\",\"label\"}} with label FAVOR, AGAINST or NONE)")]
    Line {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

#[derive(Deserialize)]
struct RawExample {
    id: Option<serde_json::Value>,
    text: String,
    target: Option<String>,
    label: String,
}

/// Reads labelled examples. `default_target` fills a missing `target`.
pub fn read_examples(
    path: &Path,
    default_target: Option<&str>,
) -> Result<Vec<Example>, ExampleError> {
    let f = std::fs::File::open(path).map_err(|e| ExampleError::Io {
        path: path.into(),
        source: e,
    })?;
    let mut out = Vec::new();
    for (i, line) in std::io::BufReader::new(f).lines().enumerate() {
        let line = line.map_err(|e| ExampleError::Line {
            path: path.into(),
            line: i + 1,
            message: e.to_string(),
        })?;
        if line.trim().is_empty() {
            continue;
        }
        let err = |m: String| ExampleError::Line {
            path: path.into(),
            line: i + 1,
            message: m,
        };
        let raw: RawExample = serde_json::from_str(&line).map_err(|e| err(e.to_string()))?;
        let label = Label::parse(&raw.label)
            .ok_or_else(|| err(format!("unknown label {:?}", raw.label)))?;
        let target = raw
            .target
            .or_else(|| default_target.map(String::from))
            .ok_or_else(|| err("missing \"target\" (or give --target)".into()))?;
        let id = match raw.id {
            Some(serde_json::Value::String(s)) => s,
            Some(v) => v.to_string(),
            None => format!("{}", i + 1),
        };
        out.push(Example {
            id,
            text: raw.text,
            target,
            label,
        });
    }
    Ok(out)
}

/// Scores for one group of examples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    pub n: usize,
    pub accuracy: f64,
    pub macro_f1: f64,
    /// Mean F1 of FAVOR and AGAINST (SemEval-2016 Task 6).
    pub f_avg: f64,
    pub f1: BTreeMap<Label, f64>,
    /// confusion[gold][predicted]
    pub confusion: BTreeMap<Label, BTreeMap<Label, usize>>,
}

pub fn metrics(gold: &[Label], pred: &[Label]) -> Metrics {
    assert_eq!(gold.len(), pred.len());
    let mut confusion: BTreeMap<Label, BTreeMap<Label, usize>> = BTreeMap::new();
    for g in Label::ALL {
        confusion.insert(g, Label::ALL.iter().map(|&p| (p, 0)).collect());
    }
    for (g, p) in gold.iter().zip(pred) {
        *confusion.get_mut(g).unwrap().get_mut(p).unwrap() += 1;
    }
    let n = gold.len();
    let correct = gold.iter().zip(pred).filter(|(g, p)| g == p).count();
    let mut f1 = BTreeMap::new();
    for l in Label::ALL {
        let tp = confusion[&l][&l] as f64;
        let pred_l: usize = Label::ALL.iter().map(|g| confusion[g][&l]).sum();
        let gold_l: usize = confusion[&l].values().sum();
        let p = if pred_l > 0 { tp / pred_l as f64 } else { 0.0 };
        let r = if gold_l > 0 { tp / gold_l as f64 } else { 0.0 };
        f1.insert(
            l,
            if p + r > 0.0 {
                2.0 * p * r / (p + r)
            } else {
                0.0
            },
        );
    }
    let present: Vec<Label> = Label::ALL
        .into_iter()
        .filter(|l| confusion[l].values().sum::<usize>() > 0)
        .collect();
    let macro_f1 = if present.is_empty() {
        0.0
    } else {
        present.iter().map(|l| f1[l]).sum::<f64>() / present.len() as f64
    };
    Metrics {
        n,
        accuracy: if n > 0 {
            correct as f64 / n as f64
        } else {
            0.0
        },
        macro_f1,
        f_avg: (f1[&Label::Favor] + f1[&Label::Against]) / 2.0,
        f1,
        confusion,
    }
}

/// Expected calibration error: the top probability of each prediction is put in one of 15
/// equal-width bins; ECE = Σ over bins of |accuracy − mean confidence| × share of predictions.
pub fn expected_calibration_error(probs: &[[f32; 3]], gold: &[Label]) -> f64 {
    const BINS: usize = 15;
    let mut conf = [0f64; BINS];
    let mut hit = [0f64; BINS];
    let mut n = [0usize; BINS];
    for (p, g) in probs.iter().zip(gold) {
        let (mut k, mut best) = (0, p[0]);
        for (j, &v) in p.iter().enumerate().skip(1) {
            if v > best {
                k = j;
                best = v;
            }
        }
        let bin = ((best * BINS as f32) as usize).min(BINS - 1);
        conf[bin] += best as f64;
        hit[bin] += f64::from(u8::from(k == g.index()));
        n[bin] += 1;
    }
    let total: usize = n.iter().sum();
    if total == 0 {
        return 0.0;
    }
    (0..BINS).map(|b| (hit[b] - conf[b]).abs()).sum::<f64>() / total as f64
}

/// How well the scores are calibrated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// Expected calibration error over 15 bins of the top probability.
    pub ece: f64,
    /// Mean negative log-likelihood of the gold label.
    pub nll: f64,
}

/// Metrics overall and per target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    pub data: String,
    pub model: String,
    pub overall: Metrics,
    pub calibration: Calibration,
    pub per_target: BTreeMap<String, Metrics>,
}

/// Scores predictions (`scores`, one per example; the label is the most probable) against the
/// examples' gold labels.
pub fn evaluate(data: &str, model: &str, examples: &[Example], scores: &[Scores]) -> EvalReport {
    let gold: Vec<Label> = examples.iter().map(|e| e.label).collect();
    let pred: Vec<Label> = scores.iter().map(|s| s.label()).collect();
    let pred = &pred[..];
    let probs: Vec<[f32; 3]> = scores
        .iter()
        .map(|s| [s.favor, s.against, s.none])
        .collect();
    let nll = gold
        .iter()
        .zip(scores)
        .map(|(g, s)| -(s.get(*g).max(1e-12) as f64).ln())
        .sum::<f64>()
        / gold.len().max(1) as f64;
    let calibration = Calibration {
        ece: expected_calibration_error(&probs, &gold),
        nll,
    };
    let mut by_target: BTreeMap<String, (Vec<Label>, Vec<Label>)> = BTreeMap::new();
    for (e, p) in examples.iter().zip(pred) {
        let en = by_target.entry(e.target.clone()).or_default();
        en.0.push(e.label);
        en.1.push(*p);
    }
    EvalReport {
        data: data.to_string(),
        model: model.to_string(),
        overall: metrics(&gold, pred),
        calibration,
        per_target: by_target
            .into_iter()
            .map(|(t, (g, p))| (t, metrics(&g, &p)))
            .collect(),
    }
}

/// A plain-text rendering: overall, the confusion matrix, and the per-target table (targets
/// with at least `min_per_target` examples; the others are counted).
pub fn render(r: &EvalReport, min_per_target: usize) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let o = &r.overall;
    let _ = writeln!(s, "data: {}\nmodel: {}", r.data, r.model);
    let _ = writeln!(
        s,
        "overall: n={} accuracy={:.4} macro_f1={:.4} f_avg={:.4}  (F1 FAVOR {:.4}, AGAINST {:.4}, NONE {:.4})",
        o.n, o.accuracy, o.macro_f1, o.f_avg, o.f1[&Label::Favor], o.f1[&Label::Against], o.f1[&Label::None]
    );
    let _ = writeln!(
        s,
        "calibration: ECE={:.4} NLL={:.4} (15 bins of the top probability)",
        r.calibration.ece, r.calibration.nll
    );
    let _ = writeln!(s, "confusion (rows gold, columns predicted):");
    let _ = writeln!(
        s,
        "{:>10} {:>8} {:>8} {:>8}",
        "", "FAVOR", "AGAINST", "NONE"
    );
    for g in Label::ALL {
        let row = &o.confusion[&g];
        let _ = writeln!(
            s,
            "{:>10} {:>8} {:>8} {:>8}",
            g.as_str(),
            row[&Label::Favor],
            row[&Label::Against],
            row[&Label::None]
        );
    }
    let shown: Vec<_> = r
        .per_target
        .iter()
        .filter(|(_, m)| m.n >= min_per_target)
        .collect();
    let hidden = r.per_target.len() - shown.len();
    if !shown.is_empty() {
        let _ = writeln!(s, "per target:");
        let _ = writeln!(
            s,
            "{:<40} {:>6} {:>8} {:>8} {:>8}",
            "target", "n", "acc", "macroF1", "F_avg"
        );
        for (t, m) in shown {
            let name: String = t.chars().take(40).collect();
            let _ = writeln!(
                s,
                "{:<40} {:>6} {:>8.4} {:>8.4} {:>8.4}",
                name, m.n, m.accuracy, m.macro_f1, m.f_avg
            );
        }
    }
    if hidden > 0 {
        let _ = writeln!(s, "({hidden} targets with fewer than {min_per_target} examples not listed; all are in --json)");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use Label::*;

    #[test]
    fn metrics_against_hand_computed_values() {
        let gold = [Favor, Favor, Against, Against, None, None];
        let pred = [Favor, Against, Against, Against, Favor, None];
        let m = metrics(&gold, &pred);
        assert!((m.accuracy - 4.0 / 6.0).abs() < 1e-12);
        // FAVOR: p=1/2 r=1/2 f=0.5; AGAINST: p=2/3 r=1 f=0.8; NONE: p=1 r=1/2 f=2/3
        assert!((m.f1[&Favor] - 0.5).abs() < 1e-12);
        assert!((m.f1[&Against] - 0.8).abs() < 1e-12);
        assert!((m.f1[&None] - 2.0 / 3.0).abs() < 1e-12);
        assert!((m.macro_f1 - (0.5 + 0.8 + 2.0 / 3.0) / 3.0).abs() < 1e-12);
        assert!((m.f_avg - 0.65).abs() < 1e-12);
        assert_eq!(m.confusion[&None][&Favor], 1);
    }

    #[test]
    fn ece_of_calibrated_and_overconfident_scores() {
        // Confidence 0.9, right 9 times out of 10: calibrated.
        let probs: Vec<[f32; 3]> = (0..10).map(|_| [0.9, 0.05, 0.05]).collect();
        let gold: Vec<Label> = (0..10)
            .map(|i| if i < 9 { Favor } else { Against })
            .collect();
        assert!(expected_calibration_error(&probs, &gold) < 1e-6);
        // Confidence 0.9, right half the time: 0.4.
        let gold: Vec<Label> = (0..10)
            .map(|i| if i % 2 == 0 { Favor } else { Against })
            .collect();
        assert!((expected_calibration_error(&probs, &gold) - 0.4).abs() < 1e-6);
    }

    #[test]
    fn macro_f1_over_gold_labels_only() {
        let m = metrics(&[Favor, Against], &[Favor, None]);
        assert!((m.macro_f1 - (1.0 + 0.0) / 2.0).abs() < 1e-12);
    }

    #[test]
    fn bad_lines_name_file_and_line() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x.jsonl");
        std::fs::write(&p, "{\"id\":1,\"text\":\"a\",\"target\":\"t\",\"label\":\"FAVOR\"}\n{\"id\":2,\"text\":\"b\",\"target\":\"t\",\"label\":\"MAYBE\"}\n").unwrap();
        let e = read_examples(&p, Option::None).unwrap_err();
        assert!(e.to_string().contains("x.jsonl:2: unknown label"), "{e}");
    }
}
