//! `standpoint bench`: inference throughput of a stance model, measured the way `analyze` runs it.
//!
//! One measurement ([`measure`]) scores a fixed list of (statement, target) pairs with the batching
//! of [`crate::infer`] (sorted by token length, cut by count and token budget, batches run on the
//! rayon pool), after `warmup` untimed passes, `reps` times. It records the wall time of each
//! repetition and of each batch, the tokens the model read (real, and padded to each batch's
//! longest, which is what a padded forward pass computes on), and the model's FLOP count for the
//! real tokens. [`CellResult`] turns that into medians and percentiles. The CLI runs each cell of
//! the grid (backend × precision × batch size × thread arrangement) in a child process of its
//! own, because the thread arrangement is fixed once per process (see
//! [`crate::infer::Threads::configure`]) and so that each cell's peak memory is its own.

use crate::infer::{make_batches, Batching};
use crate::model::{ModelError, Pair, StanceModel};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// What one cell of the grid ran.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Cell {
    pub backend: String,
    pub precision: String,
    pub batch_size: usize,
    pub max_batch_tokens: usize,
    pub workers: usize,
    pub threads_per_worker: usize,
}

/// Raw timings of one cell.
#[derive(Debug, Clone, Default)]
pub struct Measurement {
    pub statements: usize,
    /// Tokens the model read (special tokens included).
    pub tokens: usize,
    /// Tokens the forward pass computed on: Σ over batches of batch size × longest pair for a
    /// model that pads, the real tokens for one that packs them.
    pub padded_tokens: usize,
    pub batches: usize,
    /// FLOPs of one pass over all statements (real tokens), when the model states them.
    pub flops: Option<f64>,
    /// Wall seconds of each timed repetition.
    pub rep_seconds: Vec<f64>,
    /// Wall milliseconds of every batch of every timed repetition.
    pub batch_ms: Vec<f64>,
}

/// Scores `pairs` `warmup + reps` times and times the last `reps`.
pub fn measure(
    model: &dyn StanceModel,
    pairs: &[Pair<'_>],
    batching: Batching,
    warmup: usize,
    reps: usize,
) -> Result<Measurement, ModelError> {
    let lens: Vec<usize> = pairs
        .par_iter()
        .map(|&p| model.token_len(p))
        .collect::<Result<_, _>>()?;
    let batches = make_batches(&lens, batching);
    let padded = if model.pads() {
        batches
            .iter()
            .map(|b| b.len() * b.iter().map(|&i| lens[i]).max().unwrap_or(0))
            .sum()
    } else {
        lens.iter().sum()
    };
    let mut m = Measurement {
        statements: pairs.len(),
        tokens: lens.iter().sum(),
        padded_tokens: padded,
        batches: batches.len(),
        flops: model.flops(&lens),
        ..Default::default()
    };
    let run = |b: &Vec<usize>| -> Result<f64, ModelError> {
        let batch: Vec<Pair> = b.iter().map(|&i| pairs[i]).collect();
        let t = Instant::now();
        let s = model.predict(&batch)?;
        std::hint::black_box(&s);
        Ok(t.elapsed().as_secs_f64() * 1e3)
    };
    for rep in 0..warmup + reps {
        let t = Instant::now();
        let ms: Vec<f64> = if batching.parallel_batches {
            batches.par_iter().map(run).collect::<Result<_, _>>()?
        } else {
            batches.iter().map(run).collect::<Result<_, _>>()?
        };
        let secs = t.elapsed().as_secs_f64();
        if rep >= warmup {
            m.rep_seconds.push(secs);
            m.batch_ms.extend(ms);
        }
    }
    Ok(m)
}

/// The `q` quantile (0..=1) of `xs` by the nearest-rank rule; NaN for no values.
pub fn quantile(xs: &[f64], q: f64) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    let mut v = xs.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let rank = (q * v.len() as f64).ceil().max(1.0) as usize;
    v[rank.min(v.len()) - 1]
}

/// The median (mean of the two middle values for an even count).
pub fn median(xs: &[f64]) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    let mut v = xs.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// One cell's figures, as printed and written with `--json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CellResult {
    #[serde(flatten)]
    pub cell: Cell,
    pub model: String,
    pub statements: usize,
    pub tokens: usize,
    pub padded_tokens: usize,
    pub batches: usize,
    /// Median over repetitions.
    pub statements_per_s: f64,
    /// Statements/s of each repetition.
    pub reps: Vec<f64>,
    /// Real tokens per second (median repetition).
    pub tokens_per_s: f64,
    /// Padded tokens per second (median repetition).
    pub padded_tokens_per_s: f64,
    /// Achieved GFLOP/s on the real tokens' FLOPs (median repetition), when the model states them.
    pub gflops: Option<f64>,
    pub batch_ms_p50: f64,
    pub batch_ms_p95: f64,
    /// Peak resident memory of the process (model included), MB.
    pub peak_rss_mb: Option<f64>,
    /// The instructions the cell ran on here ([`crate::model::instruction_path`]): "products:
    /// AMX tiles (tdpbf16ps); attention: AVX-512 kernel, 16 query rows a lane; element-wise:
    /// AVX-512 (F, VL) with AVX2+FMA".
    pub instructions: String,
}

impl CellResult {
    pub fn new(cell: Cell, model: String, m: &Measurement) -> CellResult {
        let secs = median(&m.rep_seconds).max(1e-12);
        let instructions = crate::model::instruction_path(&cell.backend, &cell.precision);
        CellResult {
            cell,
            model,
            statements: m.statements,
            tokens: m.tokens,
            padded_tokens: m.padded_tokens,
            batches: m.batches,
            statements_per_s: m.statements as f64 / secs,
            reps: m
                .rep_seconds
                .iter()
                .map(|s| m.statements as f64 / s.max(1e-12))
                .collect(),
            tokens_per_s: m.tokens as f64 / secs,
            padded_tokens_per_s: m.padded_tokens as f64 / secs,
            gflops: m.flops.map(|f| f / secs / 1e9),
            batch_ms_p50: quantile(&m.batch_ms, 0.5),
            batch_ms_p95: quantile(&m.batch_ms, 0.95),
            peak_rss_mb: peak_rss_mb(),
            instructions,
        }
    }
}

/// Peak resident set size of this process in MB (`VmHWM` of `/proc/self/status`; Linux only).
pub fn peak_rss_mb() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// A plain-text table of results, with each row's ratio to the first row.
pub fn table(results: &[CellResult]) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "{:<8} {:<5} {:>5} {:>7} {:>12} {:>8} {:>10} {:>10} {:>8} {:>8} {:>8} {:>8} {:>6}\n",
        "backend",
        "prec",
        "batch",
        "workers",
        "statements/s",
        "min-max",
        "tokens/s",
        "padded/s",
        "GFLOP/s",
        "p50 ms",
        "p95 ms",
        "RSS MB",
        "ratio"
    ));
    let base = results.first().map(|r| r.statements_per_s);
    for r in results {
        let lo = r.reps.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = r.reps.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        out.push_str(&format!(
            "{:<8} {:<5} {:>5} {:>7} {:>12.1} {:>8} {:>10.0} {:>10.0} {:>8} {:>8.1} {:>8.1} {:>8} {:>6.2}\n",
            r.cell.backend,
            r.cell.precision,
            r.cell.batch_size,
            format!("{}x{}", r.cell.workers, r.cell.threads_per_worker),
            r.statements_per_s,
            format!("{lo:.0}-{hi:.0}"),
            r.tokens_per_s,
            r.padded_tokens_per_s,
            r.gflops.map_or("-".into(), |g| format!("{g:.1}")),
            r.batch_ms_p50,
            r.batch_ms_p95,
            r.peak_rss_mb.map_or("-".into(), |m| format!("{m:.0}")),
            base.map_or(f64::NAN, |b| r.statements_per_s / b),
        ));
    }
    // The instructions each backend and precision ran on, once each.
    let mut seen: Vec<(&str, &str)> = Vec::new();
    for r in results {
        let key = (r.cell.backend.as_str(), r.cell.precision.as_str());
        if !seen.contains(&key) {
            seen.push(key);
            out.push_str(&format!("{} {}: {}\n", key.0, key.1, r.instructions));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Scores;

    #[test]
    fn quantiles_and_medians() {
        let xs = [5.0, 1.0, 4.0, 2.0, 3.0];
        assert_eq!(median(&xs), 3.0);
        assert_eq!(median(&[1.0, 2.0, 3.0, 10.0]), 2.5);
        assert_eq!(quantile(&xs, 0.5), 3.0);
        assert_eq!(quantile(&xs, 0.95), 5.0);
        assert_eq!(quantile(&xs, 0.0), 1.0);
        assert!(median(&[]).is_nan());
    }

    /// A model whose token length is the text's byte length.
    struct Bytes;
    impl StanceModel for Bytes {
        fn name(&self) -> String {
            "bytes".into()
        }
        fn token_len(&self, p: Pair<'_>) -> Result<usize, ModelError> {
            Ok(p.text.len())
        }
        fn predict(&self, pairs: &[Pair<'_>]) -> Result<Vec<Scores>, ModelError> {
            Ok(pairs
                .iter()
                .map(|_| Scores {
                    favor: 0.2,
                    against: 0.3,
                    none: 0.5,
                })
                .collect())
        }
        fn flops(&self, lens: &[usize]) -> Option<f64> {
            Some(lens.iter().sum::<usize>() as f64 * 10.0)
        }
    }

    #[test]
    fn measurement_counts_tokens_padding_batches_and_repetitions() {
        let texts = ["aaaa", "a", "aa", "aaa", "aaaaa"];
        let pairs: Vec<Pair> = texts
            .iter()
            .map(|t| Pair {
                text: t,
                target: "x",
            })
            .collect();
        let m = measure(&Bytes, &pairs, Batching::new(2, false), 1, 3).unwrap();
        assert_eq!(m.statements, 5);
        assert_eq!(m.tokens, 15);
        // Batches by length: [5, 4], [3, 2], [1] → padded 10 + 6 + 1.
        assert_eq!(m.padded_tokens, 17);
        assert_eq!(m.batches, 3);
        assert_eq!(m.rep_seconds.len(), 3);
        assert_eq!(m.batch_ms.len(), 9);
        assert_eq!(m.flops, Some(150.0));
        let cell = Cell {
            backend: "x".into(),
            precision: "f32".into(),
            batch_size: 2,
            max_batch_tokens: 0,
            workers: 1,
            threads_per_worker: 1,
        };
        let r = CellResult::new(cell, "bytes".into(), &m);
        assert_eq!(r.reps.len(), 3);
        assert!(r.statements_per_s > 0.0);
        assert!((r.tokens_per_s / r.statements_per_s - 3.0).abs() < 1e-9);
        let t = table(&[r]);
        let row = t.lines().nth(1).unwrap();
        assert!(row.starts_with("x "), "{row}");
        assert!(row.trim_end().ends_with("1.00"), "{row}");
    }
}
