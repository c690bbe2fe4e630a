//! The inference loop: batching policy and threads, kept apart from the models.
//!
//! Pairs are sorted by token length and cut into batches, so each batch pads to nearly its own
//! length, and a token budget (pairs × longest) makes batches of long statements smaller, which
//! bounds the attention buffers (TEI's `--max-batch-tokens`). Batches run on a rayon pool.
//! Measured on the 90-document NATO press-release corpus (7,649 statements, 2 workers): sorting
//! by bytes 181 statements/s and 733 MB peak RSS; by tokens 211 and 725 MB; by tokens with a
//! 2,048-token budget 240 and 315 MB. On a CPU, candle's matrix products use the rayon pool
//! they are called from with `RAYON_NUM_THREADS` threads; measured on 2 cores, two
//! single-threaded workers that each run a whole batch beat one batch on two threads (174 vs
//! 127 sentences/s for all-MiniLM-L6-v2, batch 32). [`Threads::configure`] sets that up once,
//! before any thread starts.

use crate::model::{ModelError, Pair, Scores, StanceModel};
use rayon::prelude::*;

/// How inference uses the CPU: `workers` batches at once, each on `threads_per_worker` threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Threads {
    pub workers: usize,
    pub threads_per_worker: usize,
}

impl Threads {
    /// The arrangement for `threads` CPU threads: one single-threaded worker per thread.
    /// `workers` overrides (for example 1 worker on all threads, or a GPU's single stream).
    pub fn for_cpu(threads: usize, workers: Option<usize>) -> Threads {
        let threads = threads.max(1);
        let workers = workers.unwrap_or(threads).clamp(1, threads);
        Threads {
            workers,
            threads_per_worker: (threads / workers).max(1),
        }
    }

    /// Applies the arrangement to this process: `RAYON_NUM_THREADS` (read by candle for each
    /// matrix product) and the global rayon pool. Returns an error string if the global pool was
    /// already built.
    ///
    /// # Safety
    ///
    /// It sets an environment variable, which is only sound while no other thread can read or
    /// write the environment: call it first thing in `main`, before any other thread exists.
    pub unsafe fn configure(self) -> Result<(), String> {
        #[allow(clippy::disallowed_methods)] // the one place allowed (clippy.toml)
        // SAFETY: the caller guarantees that this process has no other thread yet (this
        // function's contract), so nothing reads the environment while it changes.
        unsafe {
            std::env::set_var("RAYON_NUM_THREADS", self.threads_per_worker.to_string())
        };
        rayon::ThreadPoolBuilder::new()
            .num_threads(self.workers * self.threads_per_worker)
            .thread_name(|i| format!("standpoint-{i}"))
            .build_global()
            .map_err(|e| e.to_string())
    }

    /// [`Threads::configure`] for `standpoint train`, which also switches candle's element-wise
    /// thread pool off (`CANDLE_NUM_THREADS=1`) unless the user set it.
    ///
    /// candle (0.11) runs its element-wise operations on a pool of its own, `CANDLE_NUM_THREADS`
    /// − 1 threads that spin between operations. In training, whose heavy operations are
    /// standpoint's own on the rayon pool, those threads took CPU from the matrix products: with
    /// all six layers, bf16, 2 threads on an AMD EPYC Zen 4 they held 12% of the samples,
    /// spinning, and without them one epoch took 41 s instead of 47-49 s (two runs each,
    /// alternating). Inference keeps the pool: candle-transformers' BERT on one worker of two
    /// threads ran 110 and 108 statements/s without it against 132 and 129 with it (`bench
    /// --backends candle --arrangements 1x2`, alternating, same CPU).
    ///
    /// # Safety
    ///
    /// As [`Threads::configure`]: call it first thing in `main`, before any other thread exists.
    pub unsafe fn configure_for_training(self) -> Result<(), String> {
        #[allow(clippy::disallowed_methods)] // see `configure`
        // SAFETY: the caller guarantees that this process has no other thread yet (this
        // function's contract), so nothing reads the environment while it changes.
        unsafe {
            if std::env::var_os("CANDLE_NUM_THREADS").is_none() {
                std::env::set_var("CANDLE_NUM_THREADS", "1");
            }
        };
        // SAFETY: still no other thread (this function's contract).
        unsafe { self.configure() }
    }
}

/// Batching policy.
#[derive(Debug, Clone, Copy)]
pub struct Batching {
    /// Most pairs in a batch.
    pub batch_size: usize,
    /// Most padded tokens in a batch (pairs × longest pair): long statements go in smaller
    /// batches, which bounds the attention buffers. 0 means no limit.
    pub max_batch_tokens: usize,
    /// Run batches in parallel (one per worker) rather than one after another.
    pub parallel_batches: bool,
}

impl Batching {
    pub fn new(batch_size: usize, parallel_batches: bool) -> Batching {
        Batching {
            batch_size,
            max_batch_tokens: 0,
            parallel_batches,
        }
    }
}

/// Cuts pairs into batches: sorted by token length, longest first (so the slowest batches start
/// early), each batch at most `batch_size` pairs and `max_batch_tokens` padded tokens.
pub fn make_batches(lens: &[usize], batching: Batching) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..lens.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(lens[i]));
    let bs = batching.batch_size.max(1);
    let mut out: Vec<Vec<usize>> = Vec::new();
    let mut cur: Vec<usize> = Vec::new();
    for i in order {
        let longest = cur.first().map_or(lens[i], |&f| lens[f]).max(1);
        let over_tokens = batching.max_batch_tokens > 0
            && !cur.is_empty()
            && (cur.len() + 1) * longest > batching.max_batch_tokens;
        if cur.len() == bs || over_tokens {
            out.push(std::mem::take(&mut cur));
        }
        cur.push(i);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Scores all pairs, in input order. `progress` is called with the number of pairs done after
/// each batch.
pub fn score_all(
    model: &dyn StanceModel,
    pairs: &[Pair<'_>],
    batching: Batching,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<Vec<Scores>, ModelError> {
    let lens: Vec<usize> = pairs
        .par_iter()
        .map(|&p| model.token_len(p))
        .collect::<Result<_, _>>()?;
    let batches = make_batches(&lens, batching);
    let run = |b: &Vec<usize>| -> Result<(Vec<usize>, Vec<Scores>), ModelError> {
        let batch: Vec<Pair> = b.iter().map(|&i| pairs[i]).collect();
        let s = model.predict(&batch)?;
        if s.len() != batch.len() {
            return Err(ModelError::Config {
                model: model.name(),
                message: format!("returned {} scores for {} pairs", s.len(), batch.len()),
            });
        }
        progress(b.len());
        Ok((b.clone(), s))
    };
    let results: Vec<(Vec<usize>, Vec<Scores>)> = if batching.parallel_batches {
        batches.par_iter().map(run).collect::<Result<_, _>>()?
    } else {
        batches.iter().map(run).collect::<Result<_, _>>()?
    };
    let mut out = vec![
        Scores {
            favor: f32::NAN,
            against: f32::NAN,
            none: f32::NAN
        };
        pairs.len()
    ];
    for (idx, scores) in results {
        for (i, s) in idx.into_iter().zip(scores) {
            out[i] = s;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;

    /// A stand-in model that records the batches it sees; scores encode the text length so
    /// the test can check that results come back in input order.
    struct Recorder {
        batches: Mutex<Vec<Vec<usize>>>,
    }

    impl StanceModel for Recorder {
        fn name(&self) -> String {
            "recorder".into()
        }
        fn token_len(&self, p: Pair<'_>) -> Result<usize, ModelError> {
            Ok(p.text.len())
        }
        fn predict(&self, pairs: &[Pair<'_>]) -> Result<Vec<Scores>, ModelError> {
            self.batches
                .lock()
                .unwrap()
                .push(pairs.iter().map(|p| p.text.len()).collect());
            Ok(pairs
                .iter()
                .map(|p| Scores {
                    favor: p.text.len() as f32,
                    against: 0.0,
                    none: 0.0,
                })
                .collect())
        }
    }

    #[test]
    fn batches_are_length_sorted_and_results_in_input_order() {
        let texts = ["a", "abcdef", "abc", "abcdefgh", "ab", "abcd", "abcde"];
        let pairs: Vec<Pair> = texts
            .iter()
            .map(|t| Pair {
                text: t,
                target: "T",
            })
            .collect();
        let m = Recorder {
            batches: Mutex::new(vec![]),
        };
        let done = AtomicUsize::new(0);
        for parallel in [false, true] {
            m.batches.lock().unwrap().clear();
            let out = score_all(&m, &pairs, Batching::new(3, parallel), &|n| {
                done.fetch_add(n, Ordering::SeqCst);
            })
            .unwrap();
            let lens: Vec<f32> = out.iter().map(|s| s.favor).collect();
            assert_eq!(
                lens,
                texts.iter().map(|t| t.len() as f32).collect::<Vec<_>>()
            );
            let mut b = m.batches.lock().unwrap().clone();
            b.sort();
            assert_eq!(b, vec![vec![1], vec![4, 3, 2], vec![8, 6, 5]]);
        }
        assert_eq!(done.load(Ordering::SeqCst), 14);
    }

    #[test]
    fn token_budget_makes_long_batches_smaller() {
        let lens = [100, 10, 10, 100, 10, 100, 10, 10];
        let b = Batching {
            batch_size: 4,
            max_batch_tokens: 250,
            parallel_batches: false,
        };
        let batches = make_batches(&lens, b);
        let sizes: Vec<Vec<usize>> = batches
            .iter()
            .map(|b| b.iter().map(|&i| lens[i]).collect())
            .collect();
        assert_eq!(
            sizes,
            vec![vec![100, 100], vec![100, 10], vec![10, 10, 10, 10]]
        );
        // Every pair once.
        let mut all: Vec<usize> = batches.concat();
        all.sort();
        assert_eq!(all, (0..lens.len()).collect::<Vec<_>>());
        // No budget: only the count limits.
        let sizes: Vec<usize> = make_batches(&lens, Batching::new(4, false))
            .iter()
            .map(|b| b.len())
            .collect();
        assert_eq!(sizes, vec![4, 4]);
    }

    #[test]
    fn thread_arrangements() {
        assert_eq!(
            Threads::for_cpu(2, None),
            Threads {
                workers: 2,
                threads_per_worker: 1
            }
        );
        assert_eq!(
            Threads::for_cpu(2, Some(1)),
            Threads {
                workers: 1,
                threads_per_worker: 2
            }
        );
        assert_eq!(
            Threads::for_cpu(8, Some(2)),
            Threads {
                workers: 2,
                threads_per_worker: 4
            }
        );
        assert_eq!(
            Threads::for_cpu(0, Some(5)),
            Threads {
                workers: 1,
                threads_per_worker: 1
            }
        );
    }
}
