//! Criterion benchmarks of the pipeline's stages. Run: `cargo bench --bench pipeline`.
//! The model benchmark needs the default encoder in the hub cache (models/fetch-encoder.sh).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use standpoint::aggregate::Aggregator;
use standpoint::corpus::Document;
use standpoint::infer::{score_all, Batching};
use standpoint::lexicon::{ActorTable, Lexicon};
use standpoint::model::load::{load, ModelSpec};
use standpoint::model::Pair;
use standpoint::statements::prepare;

fn sample() -> Document {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/corpus/000_8ae8d45d1fdf4755.txt"
    ))
    .unwrap();
    Document {
        id: "sample".into(),
        text,
        title: None,
        date: None,
        source: None,
        url: None,
    }
}

fn segmentation_and_attribution(c: &mut Criterion) {
    let (lex, act) = (Lexicon::builtin(), ActorTable::builtin());
    let doc = sample();
    let mut g = c.benchmark_group("prepare");
    g.throughput(Throughput::Bytes(doc.text.len() as u64));
    g.bench_function("segment+attribute+resolve (sample article)", |b| {
        b.iter(|| prepare(doc.clone(), "NATO enlargement", &lex, &act))
    });
    g.finish();
    let ds = prepare(doc, "NATO enlargement", &lex, &act);
    c.bench_function("aggregate (sample article)", |b| {
        b.iter(|| {
            let mut a = Aggregator::new();
            a.add(&ds);
            a.finish()
        })
    });
}

fn model_forward(c: &mut Criterion) {
    let Ok(model) = load(&ModelSpec {
        offline: true,
        ..ModelSpec::default()
    }) else {
        eprintln!("skipping model benchmarks: run models/fetch-encoder.sh first");
        return;
    };
    let (lex, act) = (Lexicon::builtin(), ActorTable::builtin());
    let doc = sample();
    let ds = prepare(doc.clone(), "NATO enlargement", &lex, &act);
    let texts: Vec<String> = ds
        .statements
        .iter()
        .map(|s| s.model_text(&doc.text))
        .collect();
    let pairs: Vec<Pair> = texts
        .iter()
        .map(|t| Pair {
            text: t,
            target: "NATO enlargement",
        })
        .collect();
    let mut g = c.benchmark_group("default model");
    g.sample_size(10);
    g.throughput(Throughput::Elements(pairs.len() as u64));
    for bs in [8usize, 32] {
        g.bench_with_input(
            BenchmarkId::new("score sample statements, batch", bs),
            &bs,
            |b, &bs| {
                b.iter(|| {
                    score_all(model.as_ref(), &pairs, Batching::new(bs, false), &|_| {}).unwrap()
                })
            },
        );
    }
    g.finish();
}

criterion_group!(benches, segmentation_and_attribution, model_forward);
criterion_main!(benches);
