#!/usr/bin/env python3
"""Side-by-side training benchmark: `standpoint train` against the same job in PyTorch
(transformers), whole-process wall time. Not part of CI; see benches/README.md.

    /work/venv-compare/bin/python benches/compare_train.py            # both engines, 2 reps each

The job (issue 14's): fine-tune all six layers of all-MiniLM-L6-v2 as a stance cross-encoder
(`[CLS] target [SEP] statement [SEP]`, at most 128 tokens, mean pooling, a 3-way linear
classifier) on 2,000 rows of the public pool (P-Stance, RUW and IBM claims, drawn with a fixed
seed), 1 epoch, batch 32, AdamW (3e-5 for the layers, 1e-3 for the classifier, weight decay
0.01), 10% linear warm-up then linear decay, dropout 0.1, labels weighted equally, length-
bucketed batches; then the scores of 200 VAST dev rows. Both engines run as separate processes
that load the base model from the same files, on the same number of threads, one after the
other in alternating order (standpoint, PyTorch, standpoint, PyTorch, …), so that machine
noise hits both alike. Reported: every run's wall time, the medians and their ratio, and each
engine's mean training loss.
"""
import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time

from compare import snapshot_dir  # benches/compare.py, beside this file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STANCE = os.path.join(os.path.dirname(ROOT), "shared", "data", "stance")
LABELS = ["FAVOR", "AGAINST", "NONE"]
BASE = "sentence-transformers/all-MiniLM-L6-v2"


def read_jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def make_data(args, tmp):
    """The training rows (a seeded draw from the pool files) and the dev rows, as JSONL files."""
    rng = random.Random(args.seed)
    pool = []
    for name in args.pool.split(","):
        rows = read_jsonl(os.path.join(STANCE, name))
        rng.shuffle(rows)
        pool.append(rows)
    train = []
    k = 0
    while len(train) < args.rows:
        src = pool[k % len(pool)]
        if src:
            train.append(src.pop())
        k += 1
    dev = read_jsonl(os.path.join(STANCE, "vast_dev.jsonl"))[: args.dev_rows]
    paths = []
    for name, rows in (("train", train), ("dev", dev)):
        p = os.path.join(tmp, f"{name}.jsonl")
        with open(p, "w") as f:
            for i, r in enumerate(rows):
                f.write(json.dumps({"id": f"{name}-{i}", "text": r["text"],
                                    "target": r["target"], "label": r["label"]}) + "\n")
        paths.append(p)
    return paths


# --------------------------------------------------------------------------- PyTorch worker

def torch_worker(args):
    """The PyTorch side of the job; prints one JSON line with its mean training loss."""
    import torch
    import transformers
    from tokenizers import Tokenizer
    from transformers import BertModel

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    transformers.logging.set_verbosity_error()
    snap = snapshot_dir(BASE)
    tok = Tokenizer.from_file(os.path.join(snap, "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(max_length=128, strategy="longest_first")

    def encode(rows):
        encs = tok.encode_batch([(r["target"], r["text"]) for r in rows])
        return [(e.ids, e.type_ids, LABELS.index(r["label"])) for e, r in zip(encs, rows)]

    train = encode(read_jsonl(args.train))
    dev = encode(read_jsonl(args.dev))

    class Cross(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.bert = BertModel.from_pretrained(snap, add_pooling_layer=False,
                                                  hidden_dropout_prob=0.1,
                                                  attention_probs_dropout_prob=0.0)
            self.drop = torch.nn.Dropout(0.1)
            self.head = torch.nn.Linear(self.bert.config.hidden_size, 3)

        def forward(self, ids, tt, mask):
            h = self.bert(input_ids=ids, token_type_ids=tt, attention_mask=mask).last_hidden_state
            m = mask.unsqueeze(-1).float()
            pooled = (h * m).sum(1) / m.sum(1).clamp(min=1.0)
            return self.head(self.drop(pooled))

    model = Cross()
    for p in model.bert.embeddings.parameters():
        p.requires_grad = False  # standpoint trains the layers, not the embeddings

    def batch(items):
        width = max(len(i[0]) for i in items)
        ids = torch.zeros((len(items), width), dtype=torch.long)
        tt = torch.zeros_like(ids)
        mask = torch.zeros_like(ids)
        for r, (a, b, _) in enumerate(items):
            ids[r, :len(a)] = torch.tensor(a)
            tt[r, :len(b)] = torch.tensor(b)
            mask[r, :len(a)] = 1
        return ids, tt, mask, torch.tensor([i[2] for i in items])

    counts = [sum(1 for t in train if t[2] == c) for c in range(3)]
    present = sum(1 for c in counts if c)
    weight = torch.tensor([len(train) / (present * c) if c else 0.0 for c in counts])
    rng = random.Random(args.seed)
    order = list(range(len(train)))
    rng.shuffle(order)
    # Length bucketing as standpoint does: windows of 50 batches sorted by length, then shuffled.
    bs = args.batch_size
    batches = []
    for w in range(0, len(order), 50 * bs):
        win = sorted(order[w:w + 50 * bs], key=lambda i: len(train[i][0]))
        batches += [win[s:s + bs] for s in range(0, len(win), bs)]
    rng.shuffle(batches)
    steps = len(batches) * args.epochs
    enc_params = [p for n, p in model.named_parameters() if p.requires_grad and not n.startswith("head")]
    opt = torch.optim.AdamW([{"params": enc_params, "lr": 3e-5},
                             {"params": model.head.parameters(), "lr": 1e-3}], weight_decay=0.01)
    warm = max(1, int(0.1 * steps))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: (s + 1) / warm if s < warm else max(0.0, (steps - s) / max(1, steps - warm)))
    losses = []
    for _ in range(args.epochs):
        model.train()
        for b in batches:
            ids, tt, mask, y = batch([train[i] for i in b])
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.torch_bf16):
                logits = model(ids, tt, mask)
            loss = torch.nn.functional.cross_entropy(logits.float(), y, weight=weight)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            losses.append(loss.item())
        model.eval()
        correct = 0
        with torch.no_grad():
            for s in range(0, len(dev), 64):
                items = dev[s:s + 64]
                ids, tt, mask, y = batch(items)
                correct += int((model(ids, tt, mask).argmax(-1) == y).sum())
    print(json.dumps({"mean_loss": statistics.mean(losses), "dev_accuracy": correct / len(dev)}))


# --------------------------------------------------------------------------- driver

def run_timed(cmd, env=None):
    t = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t
    if p.returncode != 0:
        sys.exit(f"failed ({p.returncode}): {' '.join(cmd)}\n{p.stderr[-3000:]}")
    return wall, p.stdout, p.stderr


def cpu_name():
    """The CPU's model name and the instruction sets that matter here (AMX, AVX-512 BF16/VNNI)."""
    name, flags = platform.processor() or "unknown CPU", set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    name = line.split(":", 1)[1].strip()
                elif line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    have = [f for f in ("amx_tile", "avx512_bf16", "avx512_vnni", "avx512f") if f in flags]
    return f"{name} ({', '.join(have) or 'no AVX-512'})"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=2000)
    p.add_argument("--dev-rows", type=int, default=200)
    p.add_argument("--pool", default="pstance_train.jsonl,ruw_train.jsonl,ibm_claim_stance_train.jsonl")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--reps", type=int, default=2)
    p.add_argument("--seed", type=int, default=17)
    p.add_argument("--standpoint", default=os.path.join(ROOT, "target", "release", "standpoint"))
    p.add_argument("--no-torch", action="store_true", help="time standpoint only")
    p.add_argument("--precisions", default="f32",
                   help="standpoint's training precisions to time, comma-separated (f32,bf16)")
    p.add_argument("--torch-bf16", action="store_true",
                   help="also time PyTorch with bf16 autocast (torch.autocast on the CPU)")
    p.add_argument("--also", help="another standpoint binary (an older build) timed in the same rounds")
    p.add_argument("--json", help="also write the results here")
    p.add_argument("--torch-worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--train", help=argparse.SUPPRESS)
    p.add_argument("--dev", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.torch_worker:
        return torch_worker(args)

    tmp = tempfile.mkdtemp(prefix="standpoint-compare-train-")
    train, dev = make_data(args, tmp)
    env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    sp_cmd = lambda rep: [args.standpoint, "train", "--offline", "--threads", str(args.threads),
                          "--train", train, "--dev", dev, "--epochs", str(args.epochs),
                          "--train-layers", "6", "--lr", "3e-5", "--batch-size",
                          str(args.batch_size), "--none-pairs", "0", "--seed", str(args.seed),
                          "--out", os.path.join(tmp, f"sp-{rep}")]
    pt_cmd = [sys.executable, os.path.abspath(__file__), "--torch-worker", "--train", train,
              "--dev", dev, "--threads", str(args.threads), "--epochs", str(args.epochs),
              "--batch-size", str(args.batch_size), "--seed", str(args.seed)]
    # name -> (binary, precision); the first is "standpoint" (f32 unless --precisions says).
    binaries = {}
    for prec in args.precisions.split(","):
        name = "standpoint" if not binaries else f"standpoint-{prec}"
        binaries[name] = (args.standpoint, prec)
    if args.also:
        binaries["also"] = (args.also, "f32")
    times = {k: [] for k in binaries}
    times["pytorch"] = []
    if args.torch_bf16:
        times["pytorch-bf16"] = []
    losses = {}
    for rep in range(args.reps):
        for name, (binary, prec) in binaries.items():
            cmd = sp_cmd(f"{name}-{rep}")
            cmd[0] = binary
            if prec != "f32":
                cmd += ["--precision", prec]
            wall, _, err = run_timed(cmd, env)
            times[name].append(wall)
            meta = json.load(open(os.path.join(tmp, f"sp-{name}-{rep}", "standpoint.json")))
            losses[name] = statistics.mean(e["train_loss"] for e in meta["training"]["epochs"])
            print(f"rep {rep + 1}: {name:<10} {wall:6.1f} s", flush=True)
        if not args.no_torch:
            wall, out, _ = run_timed(pt_cmd, env)
            times["pytorch"].append(wall)
            losses["pytorch"] = json.loads(out.strip().splitlines()[-1])["mean_loss"]
            print(f"rep {rep + 1}: pytorch    {wall:6.1f} s", flush=True)
        if args.torch_bf16:
            wall, out, _ = run_timed(pt_cmd + ["--torch-bf16"], env)
            times["pytorch-bf16"].append(wall)
            losses["pytorch-bf16"] = json.loads(out.strip().splitlines()[-1])["mean_loss"]
            print(f"rep {rep + 1}: pytorch-bf16 {wall:6.1f} s", flush=True)
    med = {k: statistics.median(v) for k, v in times.items() if v}
    print(f"\nCPU: {cpu_name()}; {args.rows} rows, {args.epochs} epoch(s), batch {args.batch_size}, "
          f"{args.threads} threads, all 6 layers; whole-process wall time")
    for k, v in med.items():
        print(f"  {k:<10} median {v:6.1f} s  runs {', '.join(f'{t:.1f}' for t in times[k])}  "
              f"mean training loss {losses.get(k, float('nan')):.4f}")
    if "also" in med:
        print(f"  also = {args.also}")
    for name in binaries:
        for peer in ("pytorch", "pytorch-bf16"):
            if peer in med:
                print(f"  {name} is {med[peer] / med[name]:.2f}x the speed of {peer}")
    if "also" in med:
        print(f"  standpoint is {med['also'] / med['standpoint']:.2f}x the speed of also")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"cpu": cpu_name(), "times": times, "medians": med, "losses": losses,
                       "rows": args.rows, "threads": args.threads}, f, indent=1)


if __name__ == "__main__":
    main()
