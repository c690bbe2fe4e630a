//! Temporary driver for the default model's stance head until `standpoint train-head` exists.
//!
//!   cargo run --release --example train_head -- train --out models/ --data A.jsonl B.jsonl [--eval C.jsonl ...]
//!   cargo run --release --example train_head -- eval --head models/ FILES...
//!   cargo run --release --example train_head -- predict --head models/ --target T TEXT...
//!   cargo run --release --example train_head -- bench FILE
use candle_core::Device;
use standpoint::model::default::{DefaultModel, Encoder, StanceHead};
use standpoint::model::{Pair, StanceModel};
use standpoint::train::{evaluate_head, train_head, HeadTrainOptions, TrainEvent};
use std::path::PathBuf;
use std::time::Instant;

fn progress(e: TrainEvent<'_>) {
    match e {
        TrainEvent::Embedding { file, done, total } => {
            if done % 2048 < 32 || done == total {
                eprintln!("embedding {}: {done}/{total}", file.display())
            }
        }
        TrainEvent::Cached { file } => eprintln!("embeddings of {} from cache", file.display()),
        TrainEvent::Epoch(s) => eprintln!(
            "epoch {:>2}: train loss {:.4}, held-out loss {:.4}, acc {:.3}, macro-F1 {:.3}, F_avg {:.3} ({:.1}s)",
            s.epoch, s.train_loss, s.held_out_loss, s.held_out.accuracy, s.held_out.macro_f1, s.held_out.f_avg, s.seconds
        ),
        TrainEvent::Message(m) => eprintln!("{m}"),
    }
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dev = Device::Cpu;
    let t0 = Instant::now();
    let encoder = Encoder::from_hub_cache(&dev)?;
    eprintln!("encoder loaded in {:.2}s", t0.elapsed().as_secs_f32());
    let mut opts = HeadTrainOptions {
        command: format!("standpoint train-head {}", args[1..].join(" ")),
        ..Default::default()
    };
    let mut files = Vec::new();
    let mut target = String::new();
    let mut head_dir = PathBuf::from("models");
    let mut i = 1;
    let mut mode = "";
    while i < args.len() {
        match args[i].as_str() {
            "--out" => {
                opts.out_dir = PathBuf::from(&args[i + 1]);
                i += 1
            }
            "--head" => {
                head_dir = PathBuf::from(&args[i + 1]);
                i += 1
            }
            "--target" => {
                target = args[i + 1].clone();
                i += 1
            }
            "--epochs" => {
                opts.epochs = args[i + 1].parse()?;
                i += 1
            }
            "--lr" => {
                opts.lr = args[i + 1].parse()?;
                i += 1
            }
            "--hidden" => {
                opts.hidden = args[i + 1].parse()?;
                i += 1
            }
            "--dropout" => {
                opts.dropout = args[i + 1].parse()?;
                i += 1
            }
            "--none-pairs" => {
                opts.none_pairs = args[i + 1].parse()?;
                i += 1
            }
            "--target-noise" => {
                opts.target_noise = args[i + 1].parse()?;
                i += 1
            }
            "--no-balance" => opts.class_balanced = false,
            "--seed" => {
                opts.seed = args[i + 1].parse()?;
                i += 1
            }
            "--weight-decay" => {
                opts.weight_decay = args[i + 1].parse()?;
                i += 1
            }
            "--data" => mode = "data",
            "--eval" => mode = "eval",
            a => match mode {
                "data" => opts.train.push(a.into()),
                "eval" => opts.eval.push(a.into()),
                _ => files.push(a.to_string()),
            },
        }
        i += 1;
    }
    match args[0].as_str() {
        "train" => {
            let r = train_head(&opts, &encoder, &progress)?;
            println!(
                "wrote {} (sha256 {}), best epoch {}, T {:.3}, held-out {:?}",
                r.weights_path.display(),
                r.weights_sha256,
                r.best_epoch,
                r.temperature,
                r.held_out
            );
            println!(
                "embedded {} texts in {:.1}s ({:.1}/s); training {:.1}s",
                r.texts_embedded,
                r.embedding_seconds,
                r.texts_embedded as f32 / r.embedding_seconds.max(1e-6),
                r.training_seconds
            );
            for (k, s) in &r.eval {
                println!(
                    "{k}: acc {:.3} macro-F1 {:.3} F_avg {:.3} f1 {:?} confusion {:?}",
                    s.accuracy, s.macro_f1, s.f_avg, s.f1, s.confusion
                );
            }
        }
        "eval" => {
            let head = StanceHead::from_dir(&head_dir)?;
            let files: Vec<PathBuf> = files.iter().map(PathBuf::from).collect();
            for (k, _, s) in evaluate_head(&files, &encoder, &head, &opts, &progress)? {
                println!(
                    "{k}: acc {:.3} macro-F1 {:.3} F_avg {:.3} f1 {:?} confusion {:?}",
                    s.accuracy, s.macro_f1, s.f_avg, s.f1, s.confusion
                );
            }
        }
        "predict" => {
            let head = StanceHead::from_dir(&head_dir)?;
            let model = DefaultModel::new(encoder, head)?;
            println!("{}", model.name());
            let pairs: Vec<Pair> = files
                .iter()
                .map(|t| Pair {
                    text: t,
                    target: &target,
                })
                .collect();
            let tv = model.encoder().embed(&[target.as_str()])?.remove(0);
            for (p, s) in pairs.iter().zip(model.predict(&pairs)?) {
                let u = model.encoder().embed(&[p.text])?.remove(0);
                let cos: f32 = u.iter().zip(&tv).map(|(a, b)| a * b).sum();
                println!(
                    "{:<8} F {:.3} A {:.3} N {:.3} cos {cos:.2}  {}",
                    s.label().as_str(),
                    s.favor,
                    s.against,
                    s.none,
                    p.text
                );
            }
        }
        "cos" => {
            // cosine of statement and target per label, over a file
            let rows = standpoint::train::read_stance_jsonl(std::path::Path::new(&files[0]))?;
            let rows: Vec<_> = rows.into_iter().step_by(10).collect();
            let t: Vec<&str> = rows.iter().map(|r| r.text.as_str()).collect();
            let g: Vec<&str> = rows.iter().map(|r| r.target.as_str()).collect();
            let u = encoder.embed_many(&t, 16, 2, &|_| {})?;
            let v = encoder.embed_many(&g, 16, 2, &|_| {})?;
            let mut acc = std::collections::BTreeMap::new();
            for ((r, a), b) in rows.iter().zip(&u).zip(&v) {
                let c: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
                let e = acc.entry(r.label.as_str()).or_insert((0f32, 0usize));
                e.0 += c;
                e.1 += 1;
            }
            for (k, (s, n)) in acc {
                println!("{k}: mean cos {:.3} over {n}", s / n as f32);
            }
        }
        "bench" => {
            let rows = standpoint::train::read_stance_jsonl(std::path::Path::new(&files[0]))?;
            let texts: Vec<&str> = rows.iter().take(1000).map(|r| r.text.as_str()).collect();
            for (bs, w) in [(16, 2), (8, 2), (4, 2), (32, 2), (16, 1)] {
                let t = Instant::now();
                encoder.embed_many(&texts, bs, w, &|_| {})?;
                let s = t.elapsed().as_secs_f32();
                println!(
                    "batch {bs} workers {w}: {} texts in {s:.2}s = {:.1}/s (RAYON_NUM_THREADS={:?})",
                    texts.len(),
                    texts.len() as f32 / s,
                    std::env::var("RAYON_NUM_THREADS").ok()
                );
            }
        }
        m => anyhow::bail!("unknown mode {m}"),
    }
    Ok(())
}
