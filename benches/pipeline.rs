//! Criterion benchmarks of the pipeline's stages. Run: `cargo bench --bench pipeline`.
//!
//! - `prepare`: segmentation + attribution + name resolution, in bytes/s;
//! - `tokenize`: the cross-encoder's tokenizer over (target, statement) pairs;
//! - `forward`: the default model per batch shape (batch size × tokens per pair) and engine
//!   (native f32, native bf16, candle f32), in statements/s;
//! - `dense`: one dense layer's product at the encoder's shapes (1,024 rows, the three weight
//!   shapes of a layer) in bf16 and int8 on this CPU's fastest path (named in the id), in
//!   multiply-adds/s; `STANDPOINT_NO_AMX_INT8=1` and the other switches pick the slower paths;
//! - `aggregate`: per-actor aggregation of scored statements;
//! - `analyze`: the whole run on `corpus/` (read, segment, attribute, score, aggregate, write).
//!
//! The text is the sample article (`corpus/`), or with `STANDPOINT_BENCH_CORPUS=FILE.jsonl` the
//! first 50 documents of that corpus. The model benchmarks need the base encoder in the hub cache
//! (`models/fetch-encoder.sh`); they are skipped without it.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use standpoint::aggregate::Aggregator;
use standpoint::corpus::{CorpusReader, Document};
use standpoint::infer::{score_all, Batching};
use standpoint::lexicon::{ActorTable, Lexicon};
use standpoint::model::cross::Backend;
use standpoint::model::load::{load, ModelSpec};
use standpoint::model::native::Precision;
use standpoint::model::{Pair, StanceModel};
use standpoint::run::{analyze, score_documents, AnalyzeOptions};
use standpoint::statements::{prepare, DocStatements};
use std::path::PathBuf;

const TARGET: &str = "NATO enlargement";

fn corpus_path() -> PathBuf {
    std::env::var_os("STANDPOINT_BENCH_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/corpus")))
}

fn documents() -> Vec<Document> {
    CorpusReader::open(&[corpus_path()], true)
        .expect("benchmark corpus")
        .take(50)
        .map(|d| d.expect("benchmark document"))
        .collect()
}

fn prepared() -> Vec<DocStatements> {
    let (lex, act) = (Lexicon::builtin(), ActorTable::builtin());
    documents()
        .into_iter()
        .map(|d| prepare(d, TARGET, &lex, &act))
        .collect()
}

fn model_texts(docs: &[DocStatements]) -> Vec<String> {
    docs.iter()
        .flat_map(|d| d.statements.iter().map(|s| s.model_text(&d.doc.text)))
        .collect()
}

/// Each text paired with the target.
fn pairs_of(texts: &[String]) -> Vec<Pair<'_>> {
    texts
        .iter()
        .map(|t| Pair {
            text: t,
            target: TARGET,
        })
        .collect()
}

fn model(backend: Backend, precision: Precision) -> Option<Box<dyn StanceModel>> {
    load(&ModelSpec {
        offline: true,
        backend: Some(backend),
        precision,
        ..ModelSpec::default()
    })
    .ok()
}

fn segmentation_and_attribution(c: &mut Criterion) {
    let (lex, act) = (Lexicon::builtin(), ActorTable::builtin());
    let docs = documents();
    let bytes: usize = docs.iter().map(|d| d.text.len()).sum();
    let mut g = c.benchmark_group("prepare");
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("segment+attribute+resolve", |b| {
        b.iter(|| {
            docs.iter()
                .map(|d| prepare(d.clone(), TARGET, &lex, &act).statements.len())
                .sum::<usize>()
        })
    });
    g.finish();
}

fn tokenization(c: &mut Criterion) {
    let Some(m) = model(Backend::Native, Precision::F32) else {
        eprintln!("skipping model benchmarks: run models/fetch-encoder.sh first");
        return;
    };
    let texts = model_texts(&prepared());
    let mut g = c.benchmark_group("tokenize");
    g.throughput(Throughput::Elements(texts.len() as u64));
    g.bench_function("pairs (token_len)", |b| {
        b.iter(|| {
            texts
                .iter()
                .map(|t| {
                    m.token_len(Pair {
                        text: t,
                        target: TARGET,
                    })
                    .unwrap()
                })
                .sum::<usize>()
        })
    });
    g.finish();
}

fn forward(c: &mut Criterion) {
    let engines = [
        ("native f32", Backend::Native, Precision::F32),
        ("native bf16", Backend::Native, Precision::Bf16),
        ("candle f32", Backend::Candle, Precision::F32),
    ];
    let texts = model_texts(&prepared());
    // Batch shapes: statements cut or repeated to `words` words, `bs` of them per batch.
    let words: Vec<&str> = texts.iter().flat_map(|t| t.split_whitespace()).collect();
    if words.is_empty() {
        return;
    }
    let mut g = c.benchmark_group("forward");
    g.sample_size(10);
    for (name, backend, precision) in engines {
        let Some(m) = model(backend, precision) else {
            eprintln!("skipping {name}: model not available");
            continue;
        };
        for &(bs, len) in &[(1usize, 16usize), (8, 32), (32, 32), (32, 64)] {
            let batch: Vec<String> = (0..bs)
                .map(|i| {
                    (0..len)
                        .map(|j| words[(i * 7 + j) % words.len()])
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .collect();
            let pairs = pairs_of(&batch);
            g.throughput(Throughput::Elements(bs as u64));
            g.bench_with_input(
                BenchmarkId::new(name, format!("{bs}x{len}w")),
                &pairs,
                |b, pairs| b.iter(|| m.predict(pairs).unwrap()),
            );
        }
    }
    g.finish();
}

fn dense(c: &mut Criterion) {
    use standpoint::model::{bf16, int8};
    let mut g = c.benchmark_group("dense");
    g.sample_size(20);
    for &(m, k, n) in &[
        (1024usize, 384usize, 384usize),
        (1024, 384, 1536),
        (1024, 1536, 384),
    ] {
        let w: Vec<f32> = (0..k * n)
            .map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5)
            .collect();
        let x: Vec<f32> = (0..m * k)
            .map(|i| ((i * 104_729) % 1000) as f32 / 500.0 - 1.0)
            .collect();
        let layer8 = int8::Int8Layer::pack(&w, k, n);
        let layer16 = bf16::PackedBf16::pack(&w, k, n);
        let mut dst = vec![0f32; m * n];
        g.throughput(Throughput::Elements((m * k * n) as u64));
        let shape = format!("{m}x{k}x{n}");
        g.bench_function(
            BenchmarkId::new(format!("int8 {}", int8::path_name()), &shape),
            |b| b.iter(|| layer8.matmul_acc(&x, m, &mut dst, 1)),
        );
        g.bench_function(
            BenchmarkId::new(format!("bf16 {}", bf16::path_name()), &shape),
            |b| b.iter(|| layer16.matmul_acc(&x, m, &mut dst, 1)),
        );
    }
    g.finish();
}

fn aggregation(c: &mut Criterion) {
    let mut docs = prepared();
    let n: usize = docs.iter().map(|d| d.statements.len()).sum();
    // Scores from the real model when it is there; the aggregation cost does not depend on them.
    if let Some(m) = model(Backend::Native, Precision::Bf16) {
        score_documents(
            m.as_ref(),
            &mut docs,
            TARGET,
            Batching::new(32, false),
            &|_| {},
        )
        .unwrap();
    }
    let mut g = c.benchmark_group("aggregate");
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function("per actor and document", |b| {
        b.iter(|| {
            let mut a = Aggregator::new();
            let entries: Vec<_> = docs
                .iter()
                .enumerate()
                .map(|(i, d)| a.add(d, i as u64))
                .collect();
            let mut r = standpoint::aggregate::resolve(a.partial());
            entries
                .into_iter()
                .map(|e| r.doc_record(e).0)
                .collect::<Vec<_>>()
        })
    });
    g.finish();
}

fn end_to_end(c: &mut Criterion) {
    let (lex, act) = (Lexicon::builtin(), ActorTable::builtin());
    let mut g = c.benchmark_group("analyze");
    g.sample_size(10);
    for (name, precision) in [
        ("native f32", Precision::F32),
        ("native bf16", Precision::Bf16),
    ] {
        let Some(m) = model(Backend::Native, precision) else {
            continue;
        };
        let out = std::env::temp_dir().join(format!("standpoint-bench-{}", std::process::id()));
        let opts = AnalyzeOptions {
            skip_bad: true,
            batching: Batching {
                batch_size: 32,
                max_batch_tokens: 2048,
                parallel_batches: false,
            },
            ..AnalyzeOptions::new(vec![corpus_path()], out.clone(), TARGET)
        };
        g.bench_function(BenchmarkId::new("corpus", name), |b| {
            b.iter(|| analyze(&opts, m.as_ref(), &lex, &act, &|_| {}).unwrap())
        });
        let _ = std::fs::remove_dir_all(&out);
    }
    g.finish();
    // The scoring alone on the same statements, for the share of the run outside the model.
    if let Some(m) = model(Backend::Native, Precision::Bf16) {
        let texts = model_texts(&prepared());
        let pairs = pairs_of(&texts);
        c.bench_function("analyze/model only (native bf16)", |b| {
            b.iter(|| score_all(m.as_ref(), &pairs, Batching::new(32, false), &|_| {}).unwrap())
        });
    }
}

criterion_group!(
    benches,
    segmentation_and_attribution,
    tokenization,
    forward,
    dense,
    aggregation,
    end_to_end
);
criterion_main!(benches);
