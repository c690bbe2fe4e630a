#!/usr/bin/env python3
"""Side-by-side inference benchmark of the default stance model: PyTorch, ONNX Runtime and
`standpoint bench` (candle / native) on the same statements, the same tokenization and the
same batches. Not part of CI; see benches/README.md.

    python3 benches/compare.py --setup                  # makes the venv (outside the repo)
    /work/venv-compare/bin/python benches/compare.py    # runs it all

The model is the one tests/fixtures/make_cross_reference.py builds: the base encoder
(models/fetch-encoder.sh puts it in the Hugging Face hub cache) with the tensors of
models/default/delta.safetensors laid over it (f16, widened to f32), mean pooling of the last
hidden state under the attention mask, then the 3-way linear classifier (FAVOR/AGAINST/NONE).

What is timed, per engine and repetition: every batch's forward pass + mean pool + classifier +
softmax. Tokenization, padding and tensor building happen once, before any timing. After one
warm-up pass per engine, the repetitions run round-robin (rep 1 of every engine, then rep 2, ...)
so that machine noise hits all engines alike. The Rust side cannot be interleaved from here: it
runs as one subprocess after the Python rounds, with its own warm-up and repetitions.
"""
import argparse
import atexit
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_VENV = "/work/venv-compare"
PACKAGES = ["torch", "transformers", "onnxruntime", "onnx", "safetensors", "numpy"]
DEFAULT_CORPUS = os.path.join(os.path.dirname(ROOT), "shared", "data", "corpus",
                              "press_releases_nato_dec2021_feb2022.jsonl")
LABELS = ["FAVOR", "AGAINST", "NONE"]


# --------------------------------------------------------------------------- setup

def setup(venv):
    """Creates `venv` and installs the packages this script needs (plain PyPI)."""
    if os.path.abspath(venv).startswith(ROOT + os.sep):
        sys.exit(f"--venv {venv} is inside the repository; put it elsewhere")
    if not os.path.exists(os.path.join(venv, "bin", "python")):
        subprocess.check_call([sys.executable, "-m", "venv", venv])
    pip = [os.path.join(venv, "bin", "python"), "-m", "pip"]
    subprocess.check_call(pip + ["install", "--upgrade", "pip"])
    subprocess.check_call(pip + ["install"] + PACKAGES)
    print(f"\nready: {venv}/bin/python {os.path.relpath(__file__)} [options]")


# --------------------------------------------------------------------------- inputs

def snapshot_dir(repo, revision=None):
    hub = os.environ.get("HF_HUB_CACHE") or os.path.join(
        os.environ.get("HF_HOME", os.path.expanduser("~/.cache/huggingface")), "hub")
    root = os.path.join(hub, "models--" + repo.replace("/", "--"))
    if revision and os.path.isdir(os.path.join(root, "snapshots", revision)):
        return os.path.join(root, "snapshots", revision)
    with open(os.path.join(root, "refs", "main")) as f:
        return os.path.join(root, "snapshots", f.read().strip())


def corpus_sentences(path):
    """Sentences of 5+ words from the documents' "text", split with a simple regex."""
    split = re.compile(r"(?<=[.!?])[\"')\]]?\s+(?=[\"'(\[]?[A-Z0-9])")
    with open(path) as f:
        for line in f:
            if not line.strip():
                continue
            text = json.loads(line).get("text") or ""
            for para in re.split(r"\n+", text):
                for sent in split.split(para):
                    sent = " ".join(sent.split())
                    if len(sent.split()) >= 5:
                        yield sent


def load_statements(args):
    if args.statements:
        texts = []
        with open(args.statements) as f:
            for line in f:
                if line.strip():
                    texts.append(json.loads(line)["text"])
                if len(texts) >= args.limit:
                    break
    else:
        texts = []
        for s in corpus_sentences(args.corpus):
            texts.append(s)
            if len(texts) >= args.limit:
                break
    if not texts:
        sys.exit("no statements")
    return texts


def write_statements(texts, path=None):
    """The statements used, as {"id","text"} JSONL, for the Rust side to read the same ones."""
    if path is None:
        fd, path = tempfile.mkstemp(prefix="standpoint-compare-", suffix=".jsonl")
        os.close(fd)
    with open(path, "w") as f:
        for i, t in enumerate(texts):
            f.write(json.dumps({"id": f"s{i:05d}", "text": t}, ensure_ascii=False) + "\n")
    return path


def tokenize_batches(tokenizer_file, target, texts, max_tokens, batch_size):
    """Tokenizes every (target, text) pair once, sorts by length (longest first) and cuts into
    batches padded to their own longest. Returns a list of numpy int64 triples + real lengths."""
    import numpy as np
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(tokenizer_file)
    tok.no_padding()  # tokenizer.json pads to a fixed 128; we pad per batch ourselves
    tok.enable_truncation(max_length=max_tokens, strategy="longest_first")
    pad_id = tok.token_to_id("[PAD]") or 0
    encs = tok.encode_batch([(target, t) for t in texts], add_special_tokens=True)
    order = sorted(range(len(encs)), key=lambda i: -len(encs[i].ids))
    batches = []
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        width = len(encs[idx[0]].ids)
        ids = np.full((len(idx), width), pad_id, dtype=np.int64)
        tt = np.zeros((len(idx), width), dtype=np.int64)
        mask = np.zeros((len(idx), width), dtype=np.int64)
        for r, i in enumerate(idx):
            e = encs[i]
            n = len(e.ids)
            ids[r, :n] = e.ids
            tt[r, :n] = e.type_ids
            mask[r, :n] = 1
        batches.append({"index": idx, "input_ids": ids, "attention_mask": mask,
                        "token_type_ids": tt})
    real = sum(len(e.ids) for e in encs)
    padded = sum(b["input_ids"].size for b in batches)
    return batches, real, padded


# --------------------------------------------------------------------------- model

def build_model(snap, model_dir, attn):
    """BertModel from the base snapshot with models/default's delta laid over it, wrapped with
    mean pooling, classifier and softmax. Returns (module, meta)."""
    import torch
    import transformers
    from safetensors.torch import load_file
    from transformers import BertModel

    transformers.logging.set_verbosity_error()  # the base checkpoint's unused pooler etc.
    try:
        transformers.logging.disable_progress_bar()
    except AttributeError:
        pass

    class CrossEncoder(torch.nn.Module):
        def __init__(self, bert, weight, bias):
            super().__init__()
            self.bert = bert
            self.classifier = torch.nn.Linear(weight.shape[1], weight.shape[0])
            with torch.no_grad():
                self.classifier.weight.copy_(weight)
                self.classifier.bias.copy_(bias)

        def forward(self, input_ids, attention_mask, token_type_ids):
            hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask,
                               token_type_ids=token_type_ids).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            logits = self.classifier(pooled)
            return logits, torch.softmax(logits.float(), dim=-1)

    kw = {"add_pooling_layer": False}
    if attn:
        kw["attn_implementation"] = attn
    try:
        bert = BertModel.from_pretrained(snap, dtype=torch.float32, **kw)
    except TypeError:  # older transformers
        bert = BertModel.from_pretrained(snap, torch_dtype=torch.float32, **kw)
    delta = {k: v.float() for k, v in
             load_file(os.path.join(model_dir, "delta.safetensors")).items()}
    state = bert.state_dict()
    replaced = 0
    for k, v in delta.items():
        if k in state:
            if state[k].shape != v.shape:
                sys.exit(f"delta tensor {k} has shape {tuple(v.shape)}, base {tuple(state[k].shape)}")
            state[k].copy_(v)
            replaced += 1
    if replaced != len(delta) - 2:
        sys.exit(f"delta: {replaced} of {len(delta)} tensors replace base tensors; expected all "
                 "but classifier.weight/classifier.bias")
    model = CrossEncoder(bert, delta["classifier.weight"], delta["classifier.bias"]).eval()
    return model, {"replaced_tensors": replaced,
                   "attn_implementation": getattr(bert.config, "_attn_implementation", None)}


def check_reference(model, tokenizer_file, max_tokens):
    """Max abs logit diff against tests/fixtures/cross_reference.json (data only), if present."""
    import torch
    from tokenizers import Tokenizer

    path = os.path.join(ROOT, "tests", "fixtures", "cross_reference.json")
    if not os.path.exists(path):
        return None
    ref = json.load(open(path))
    tok = Tokenizer.from_file(tokenizer_file)
    tok.no_padding()
    tok.enable_truncation(max_length=max_tokens, strategy="longest_first")
    worst = 0.0
    with torch.inference_mode():
        for p in ref["pairs"]:
            e = tok.encode(p["target"], p["text"])
            t = lambda xs: torch.tensor([xs], dtype=torch.long)
            logits, _ = model(t(e.ids), t(e.attention_mask), t(e.type_ids))
            worst = max(worst, max(abs(a - b) for a, b in zip(logits[0].tolist(), p["logits"])))
    return worst


# --------------------------------------------------------------------------- engines
# Each engine: a name, precision, arrangement and a `run()` doing one pass over all batches and
# returning the probabilities (in batch order) so that outputs can be compared.

class TorchEngine:
    def __init__(self, model, batches, threads, bf16=False):
        import torch
        self.torch, self.model, self.bf16 = torch, model, bf16
        self.name, self.precision = "pytorch", ("bf16-autocast" if bf16 else "f32")
        self.arrangement = f"1x{threads}"
        self.inputs = [tuple(torch.from_numpy(b[k]) for k in
                             ("input_ids", "attention_mask", "token_type_ids")) for b in batches]

    def run(self):
        torch = self.torch
        out = []
        with torch.inference_mode():
            if self.bf16:
                with torch.autocast("cpu", dtype=torch.bfloat16):
                    for ids, mask, tt in self.inputs:
                        out.append(self.model(ids, mask, tt)[1].float().numpy())
            else:
                for ids, mask, tt in self.inputs:
                    out.append(self.model(ids, mask, tt)[1].numpy())
        return out


def export_onnx(model, path, opset):
    import torch
    dummy = (torch.ones(2, 16, dtype=torch.long), torch.ones(2, 16, dtype=torch.long),
             torch.zeros(2, 16, dtype=torch.long))
    axes = {"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"},
            "token_type_ids": {0: "batch", 1: "seq"}, "logits": {0: "batch"},
            "probabilities": {0: "batch"}}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # legacy-exporter deprecation, tracer warnings
        torch.onnx.export(model, dummy, path, dynamo=False, opset_version=opset,
                          input_names=["input_ids", "attention_mask", "token_type_ids"],
                          output_names=["logits", "probabilities"], dynamic_axes=axes,
                          do_constant_folding=True)


class OrtEngine:
    def __init__(self, onnx_path, batches, threads, precision="f32"):
        import onnxruntime as ort
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.sess = ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"])
        self.name, self.precision, self.arrangement = "onnxruntime", precision, f"1x{threads}"
        self.inputs = [{k: b[k] for k in ("input_ids", "attention_mask", "token_type_ids")}
                       for b in batches]

    def run(self):
        return [self.sess.run(["probabilities"], feed)[0] for feed in self.inputs]


def max_abs_diff(a, b):
    return max(float(abs(x - y).max()) for x, y in zip(a, b))


# --------------------------------------------------------------------------- GEMM peak

def cpu_has_bf16():
    """Whether the CPU multiplies bf16 in hardware (AVX512-BF16 or AMX-BF16): without it PyTorch's
    bf16 matrix product is emulated and a 2048x2048 one takes minutes, so it is skipped."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read().split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def gemm_peak(threads_list, n=2048, reps=5, bf16=True):
    import torch
    old = torch.get_num_threads()
    out = []
    dtypes = [(torch.float32, "f32")] + ([(torch.bfloat16, "bf16")] if bf16 else [])
    for dtype, label in dtypes:
        a = torch.randn(n, n).to(dtype)
        b = torch.randn(n, n).to(dtype)
        for th in threads_list:
            torch.set_num_threads(th)
            torch.mm(a, b)  # warm-up
            times = []
            for _ in range(reps):
                t0 = time.perf_counter()
                torch.mm(a, b)
                times.append(time.perf_counter() - t0)
            gflops = [2 * n ** 3 / t / 1e9 for t in times]
            out.append({"dtype": label, "threads": th, "n": n,
                        "gflops_median": statistics.median(gflops),
                        "gflops_min": min(gflops), "gflops_max": max(gflops)})
    torch.set_num_threads(old)
    return out


# --------------------------------------------------------------------------- standpoint

def run_standpoint(args, statements_path, reps=None, heading=None):
    cmd = [args.standpoint_bin, "bench", "--statements", statements_path, "--target", args.target,
           "--batch-sizes", str(args.batch_size), "--max-batch-tokens", "0",
           "--arrangements", args.standpoint_arrangements,
           "--precisions", args.standpoint_precisions, "--backends", args.standpoint_backends,
           "--warmup", "1", "--reps", str(reps or args.reps), "--json",
           # every statement the Python engines ran (bench's own default is 2,000)
           "--limit", str(args.limit)]
    info = {"command": cmd, "ok": False, "results": []}
    print(("\nstandpoint (runs after the Python rounds; not interleaved with them):"
           if heading is None else heading) + "\n  " + " ".join(_quote(c) for c in cmd),
          flush=True)
    if not os.path.exists(args.standpoint_bin):
        info["error"] = f"{args.standpoint_bin} does not exist (cargo build --release?)"
        print("  skipped: " + info["error"])
        return info
    t0 = time.perf_counter()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=args.standpoint_timeout)
    except (OSError, subprocess.TimeoutExpired) as e:
        info["error"] = repr(e)
        print(f"  failed: {e!r}")
        return info
    info["wall_s"] = time.perf_counter() - t0
    info["returncode"], info["stderr"] = p.returncode, p.stderr
    if p.returncode != 0:
        info["error"] = f"exit status {p.returncode}"
        print(f"  failed with exit status {p.returncode}; its stderr:")
        print("  | " + "\n  | ".join(p.stderr.strip().splitlines()[-40:]))
        return info
    doc = _parse_json(p.stdout)
    if doc is None or not isinstance(doc.get("results"), list):
        info["error"] = "stdout is not the expected JSON ({\"results\": [...]})"
        info["stdout"] = p.stdout[-4000:]
        print("  " + info["error"] + "; stdout tail:\n  | "
              + "\n  | ".join(p.stdout.strip().splitlines()[-20:]))
        return info
    info["ok"], info["raw"], info["results"] = True, doc, doc["results"]
    print(f"  done in {info['wall_s']:.1f} s, {len(doc['results'])} result rows")
    return info


def _parse_json(text):
    try:
        return json.loads(text)
    except ValueError:
        start = text.find("{")  # tolerate log lines before the JSON
        if start < 0:
            return None
        try:
            return json.loads(text[start:])
        except ValueError:
            return None


def _quote(s):
    return s if re.fullmatch(r"[\w./,:=-]+", s) else "'" + s.replace("'", "'\\''") + "'"


def merge_standpoint_rounds(infos):
    """One `run_standpoint` result from several one-rep runs: each cell's reps in round order."""
    cells, order = {}, []
    for info in infos:
        for r in info.get("results", []):
            key = (r.get("backend"), r.get("precision"), r.get("workers"),
                   r.get("threads_per_worker"), r.get("batch_size"))
            if key not in cells:
                cells[key] = dict(r, reps=[])
                order.append(key)
            cells[key]["reps"] += list(r.get("reps") or [])
    merged = []
    for key in order:
        c = cells[key]
        c["statements_per_s"] = statistics.median(c["reps"]) if c["reps"] else None
        c["tokens_per_s"] = None  # recomputed from the statements' tokens
        merged.append(c)
    return {"ok": bool(infos) and all(i.get("ok") for i in infos), "results": merged,
            "rounds": infos}


def per_round_ratios(rows):
    """With --interleave: for each standpoint row, the median over rounds of its rate divided by
    the same round's rate of ONNX Runtime f32, ONNX Runtime int8 and standpoint's own f32 (same
    arrangement); rounds share the machine's speed, so these drift less than ratios of medians."""
    def find(engine, precision, arrangement=None):
        for r in rows:
            if (r["engine"] == engine and r["precision"] == precision
                    and (arrangement is None or r["arrangement"] == arrangement)):
                return r
        return None
    out = []
    for r in rows:
        if not r["engine"].startswith("standpoint/"):
            continue
        peers = {"ORT f32": find("onnxruntime", "f32"), "ORT int8": find("onnxruntime", "int8"),
                 "own f32": find(r["engine"], "f32", r["arrangement"])}
        ratios = {}
        for name, peer in peers.items():
            if peer is None or peer is r or len(peer["reps"]) != len(r["reps"]):
                continue
            ratios[name] = statistics.median(a / b for a, b in zip(r["reps"], peer["reps"]))
        out.append((r, ratios))
    return out


def standpoint_rows(info, n_statements, real_tokens):
    rows = []
    for r in info.get("results", []):
        # same statements, same tokenizer.json and truncation: the counts should agree
        for key, ours in (("statements", n_statements), ("tokens", real_tokens)):
            if r.get(key) is not None and int(r[key]) != ours:
                print(f"  note: standpoint {r.get('backend')}/{r.get('precision')} counts "
                      f"{r[key]} {key}, this script {ours}")
        reps = [float(x) for x in r.get("reps") or []]
        med = r.get("statements_per_s")
        med = float(med) if med is not None else (statistics.median(reps) if reps else None)
        if med is None:
            continue
        workers, tpw = r.get("workers"), r.get("threads_per_worker")
        rows.append({"engine": f"standpoint/{r.get('backend', '?')}",
                     "precision": str(r.get("precision", "?")),
                     "arrangement": f"{workers}x{tpw}" if workers is not None else "?",
                     "batch_size": r.get("batch_size"),
                     "statements_per_s": med,
                     "min": min(reps) if reps else None, "max": max(reps) if reps else None,
                     "reps": reps,
                     # real tokens per statement as tokenized here (same tokenizer.json, same
                     # truncation), unless the Rust side reports its own figure
                     "tokens_per_s": float(r["tokens_per_s"]) if r.get("tokens_per_s") is not None
                     else med * real_tokens / n_statements,
                     "source": "standpoint bench"})
    return rows


# --------------------------------------------------------------------------- report

def print_table(rows):
    def find(engine, precision):
        for r in rows:
            if r["engine"] == engine and r["precision"] == precision:
                return r["statements_per_s"]
        return None
    ort, pt = find("onnxruntime", "f32"), find("pytorch", "f32")
    head = ("engine", "precision", "arr", "stmt/s", "min", "max", "tokens/s", "vs ORT f32",
            "vs PT f32")
    lines = [head]
    for r in rows:
        r["ratio_to_ort_f32"] = r["statements_per_s"] / ort if ort else None
        r["ratio_to_pytorch_f32"] = r["statements_per_s"] / pt if pt else None
        f = lambda x, d=1: "-" if x is None else f"{x:.{d}f}"
        lines.append((r["engine"], r["precision"], r["arrangement"], f(r["statements_per_s"]),
                      f(r["min"]), f(r["max"]), f(r["tokens_per_s"], 0),
                      f(r["ratio_to_ort_f32"], 2), f(r["ratio_to_pytorch_f32"], 2)))
    widths = [max(len(l[i]) for l in lines) for i in range(len(head))]
    for j, l in enumerate(lines):
        print("  ".join(c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in
                        enumerate(zip(l, widths))))
        if j == 0:
            print("  ".join("-" * w for w in widths))


def machine_info():
    cpu = platform.processor()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        affinity = sorted(os.sched_getaffinity(0))
    except AttributeError:
        affinity = None
    return {"cpu": cpu, "logical_cpus": os.cpu_count(), "affinity": affinity,
            "python": platform.python_version(), "platform": platform.platform()}


# --------------------------------------------------------------------------- main

def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--setup", action="store_true",
                   help="create --venv and pip-install the packages, then exit")
    p.add_argument("--venv", default=DEFAULT_VENV, help="virtualenv for --setup (outside the repo)")
    p.add_argument("--statements", help='JSONL with a "text" field; default: sentences of --corpus')
    p.add_argument("--corpus", default=DEFAULT_CORPUS, help='JSONL documents with a "text" field')
    p.add_argument("--limit", type=int, default=2000, help="number of statements")
    p.add_argument("--target", default="NATO enlargement")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--threads", type=int, default=2, help="intra-op threads of PyTorch and ORT")
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--model-dir", default=os.path.join(ROOT, "models", "default"))
    p.add_argument("--base-dir", help="base encoder snapshot (config.json, model.safetensors, "
                   "tokenizer.json); default: from the HF hub cache, as standpoint.json names it")
    p.add_argument("--attn", default="sdpa", help="transformers attn_implementation (sdpa, eager)")
    p.add_argument("--opset", type=int, default=17)
    p.add_argument("--onnx", help="where to write the exported model (default: a temp dir)")
    p.add_argument("--no-bf16", action="store_true", help="skip the PyTorch bf16 autocast row")
    p.add_argument("--no-int8", action="store_true",
                   help="skip the ONNX Runtime int8 (dynamic quantisation) row")
    p.add_argument("--no-onnx", action="store_true", help="skip ONNX Runtime")
    p.add_argument("--gemm-threads", default="1,2", help="thread counts for the GEMM peak ('' skips)")
    p.add_argument("--keep-statements", help="write the statements JSONL here instead of a temp file")
    p.add_argument("--no-standpoint", action="store_true", help="skip the Rust `standpoint bench`")
    p.add_argument("--standpoint-bin", default=os.path.join(ROOT, "target", "release", "standpoint"))
    p.add_argument("--standpoint-arrangements", default="2x1,1x2")
    p.add_argument("--standpoint-precisions", default="f32,bf16,int8")
    p.add_argument("--standpoint-backends", default="native,candle")
    p.add_argument("--standpoint-timeout", type=float, default=3600, help="seconds")
    p.add_argument("--interleave", action="store_true",
                   help="run `standpoint bench` once per round, between the Python engines' reps "
                        "(on a machine whose speed drifts), instead of all its reps afterwards")
    p.add_argument("--json", dest="json_out", help="write all numbers to this file")
    return p.parse_args()


def main():
    args = parse_args()
    if args.setup:
        setup(args.venv)
        return
    try:
        import numpy  # noqa: F401
        import onnxruntime as ort
        import torch
        import transformers
    except ImportError as e:
        sys.exit(f"{e}; set up the venv first: python3 {sys.argv[0]} --setup "
                 f"(then run with {DEFAULT_VENV}/bin/python)")

    torch.set_num_threads(args.threads)
    meta = json.load(open(os.path.join(args.model_dir, "standpoint.json")))
    snap = args.base_dir or snapshot_dir(meta["base"]["repo"], meta["base"].get("revision"))
    tokenizer_file = os.path.join(snap, "tokenizer.json")
    max_tokens = int(meta.get("max_tokens", 128))

    versions = {"torch": torch.__version__, "transformers": transformers.__version__,
                "onnxruntime": ort.__version__}
    mach = machine_info()
    print(f"machine: {mach['cpu']}, {mach['logical_cpus']} logical CPUs, affinity "
          f"{mach['affinity']}; " + ", ".join(f"{k} {v}" for k, v in versions.items()))

    # statements and batches (once, outside all timing)
    texts = load_statements(args)
    statements_path = write_statements(texts, args.keep_statements)
    batches, real_tokens, padded_tokens = tokenize_batches(
        tokenizer_file, args.target, texts, max_tokens, args.batch_size)
    n = len(texts)
    print(f"statements: {n} (written to {statements_path}), target {args.target!r}, "
          f"{len(batches)} batches of <= {args.batch_size}, {real_tokens} real tokens "
          f"({real_tokens / n:.1f}/statement), {padded_tokens} with padding")

    # GEMM peak
    gemm = []
    gemm_threads = [int(x) for x in args.gemm_threads.split(",") if x.strip()]
    if gemm_threads:
        bf16 = cpu_has_bf16()
        gemm = gemm_peak(gemm_threads, bf16=bf16)
        print("GEMM peak (torch.mm 2048x2048, GFLOP/s, median of 5): " + ", ".join(
            f"{g['dtype']} {g['threads']}T {g['gflops_median']:.0f}" for g in gemm)
            + ("" if bf16 else " (bf16 skipped: no AVX512-BF16 or AMX on this CPU)"))
    torch.set_num_threads(args.threads)

    # model and engines
    model, model_meta = build_model(snap, args.model_dir, args.attn)
    ref_diff = check_reference(model, tokenizer_file, max_tokens)
    print(f"model: {snap} + {args.model_dir}/delta.safetensors ({model_meta['replaced_tensors']} "
          f"tensors replaced), attention {model_meta['attn_implementation']}"
          + ("" if ref_diff is None else
             f"; max |logit diff| vs tests/fixtures/cross_reference.json {ref_diff:.2e}"))

    engines = [TorchEngine(model, batches, args.threads)]
    checks = {"reference_max_abs_logit_diff": ref_diff}
    t_ref = engines[0].run()  # also the PyTorch warm-up
    warm = {engines[0]: True}

    def add_peer(name, label, against, make, key, error_key):
        """Builds a peer engine with `make`, runs it once (its warm-up), records its largest
        probability difference from PyTorch f32 under `key` and adds it to the timed engines; a
        failure is recorded under `error_key` and the other engines go on."""
        try:
            e = make()
            out = e.run()
            warm[e] = True
            checks[key] = max_abs_diff(out, t_ref)
            print(f"{label}: max |prob diff| {against} {checks[key]:.2e}")
            engines.append(e)
        except Exception as ex:
            print(f"{name}: failed: {ex!r}")
            checks[error_key] = repr(ex)

    if not args.no_onnx:
        if args.onnx:
            onnx_path = args.onnx
        else:  # removed at exit (about 90 MB)
            onnx_dir = tempfile.mkdtemp(prefix="standpoint-compare-onnx-")
            atexit.register(shutil.rmtree, onnx_dir, True)
            onnx_path = os.path.join(onnx_dir, "cross_encoder.onnx")
        try:
            export_onnx(model, onnx_path, args.opset)
            e = OrtEngine(onnx_path, batches, args.threads)
            out = e.run()
            warm[e] = True
            checks["ort_vs_pytorch_max_abs_prob_diff"] = max_abs_diff(out, t_ref)
            print(f"ONNX Runtime: exported {onnx_path} (opset {args.opset}, "
                  f"{os.path.getsize(onnx_path) / 1e6:.1f} MB); max |prob diff| vs PyTorch f32 "
                  f"{checks['ort_vs_pytorch_max_abs_prob_diff']:.2e}")
            engines.append(e)
        except Exception as ex:  # keep going with the other engines
            print(f"ONNX Runtime: failed: {ex!r}")
            checks["ort_error"] = repr(ex)
        if not args.no_int8 and os.path.exists(onnx_path):
            # ONNX Runtime's dynamic quantisation: int8 weights per output channel, activations
            # quantised (u8) on the fly; the peer of standpoint's --precision int8.
            def ort_int8():
                from onnxruntime.quantization import QuantType, quantize_dynamic
                q_path = onnx_path[:-5] + ".int8.onnx"
                quantize_dynamic(onnx_path, q_path, per_channel=True, weight_type=QuantType.QInt8)
                return OrtEngine(q_path, batches, args.threads, precision="int8")

            add_peer("ONNX Runtime int8", "ONNX Runtime int8 (dynamic, per-channel)",
                     "vs PyTorch f32", ort_int8, "ort_int8_vs_pytorch_max_abs_prob_diff",
                     "ort_int8_error")

    if not args.no_bf16 and not cpu_has_bf16():
        print("PyTorch bf16 autocast: skipped (no AVX512-BF16 or AMX on this CPU: bf16 would be "
              "emulated; --no-bf16 says so explicitly)")
    elif not args.no_bf16:
        add_peer("PyTorch bf16 autocast", "PyTorch bf16 autocast", "vs f32",
                 lambda: TorchEngine(model, batches, args.threads, bf16=True),
                 "pytorch_bf16_vs_f32_max_abs_prob_diff", "bf16_error")

    # timed rounds: rep r of every engine, then rep r+1, ...
    print(f"\ntiming {len(engines)} Python engines, {args.reps} reps each, round-robin, "
          f"{args.threads} thread(s), after 1 warm-up pass each", flush=True)
    if args.interleave and not args.no_standpoint:
        print("  (each round also runs `standpoint bench` once: one warm-up and one timed pass "
              "per cell, in its own process)", flush=True)
    times = {e: [] for e in engines}
    rounds = []
    for rep in range(args.reps):
        for e in engines:
            t0 = time.perf_counter()
            e.run()
            times[e].append(time.perf_counter() - t0)
        print(f"  rep {rep + 1}: " + ", ".join(
            f"{e.name} {e.precision} {n / times[e][-1]:.1f}/s" for e in engines), flush=True)
        if args.interleave and not args.no_standpoint:
            info = run_standpoint(args, statements_path, reps=1,
                                  heading=f"  rep {rep + 1}: standpoint")
            rounds.append(info)
            print("    " + ", ".join(
                f"{r.get('backend')} {r.get('precision')} {r.get('workers')}x"
                f"{r.get('threads_per_worker')} {float(r['statements_per_s']):.1f}/s"
                for r in info.get("results", []) if r.get("statements_per_s") is not None),
                flush=True)

    rows = []
    for e in engines:
        rates = [n / t for t in times[e]]
        med = statistics.median(rates)
        rows.append({"engine": e.name, "precision": e.precision, "arrangement": e.arrangement,
                     "batch_size": args.batch_size, "statements_per_s": med,
                     "min": min(rates), "max": max(rates), "reps": rates,
                     "tokens_per_s": med * real_tokens / n, "source": "python, interleaved"})

    standpoint = None
    if not args.no_standpoint:
        standpoint = (merge_standpoint_rounds(rounds) if args.interleave
                      else run_standpoint(args, statements_path))
        rows += standpoint_rows(standpoint, n, real_tokens)

    print(f"\n{n} statements, batch size {args.batch_size}; arr = workers x threads per worker; "
          "min/max over reps; tokens/s counts real (unpadded) tokens")
    if rows and any(r["source"] == "standpoint bench" for r in rows):
        print("(standpoint rows ran in the same rounds as the Python engines, one process per "
              "round)" if args.interleave else
              "(standpoint rows ran after the Python rounds, in their own process)")
    print_table(rows)
    ratios = per_round_ratios(rows) if args.interleave else []
    if ratios:
        print("\nmedian of the per-round ratios (standpoint rate / the peer's rate in the same round):")
        for r, rs in ratios:
            print(f"  {r['engine']} {r['precision']} {r['arrangement']}: " + ", ".join(
                f"{v:.2f}x {k}" for k, v in rs.items()))

    if args.json_out:
        doc = {"machine": mach, "versions": versions,
               "config": {k: v for k, v in vars(args).items() if k not in ("setup", "venv")},
               "statements": {"n": n, "path": statements_path, "real_tokens": real_tokens,
                              "padded_tokens": padded_tokens, "batches": len(batches)},
               "model": {"base": snap, "model_dir": args.model_dir, **model_meta},
               "gemm_peak": gemm, "checks": checks, "rows": rows, "standpoint": standpoint,
               "per_round_ratios": [{"engine": r["engine"], "precision": r["precision"],
                                     "arrangement": r["arrangement"], **rs}
                                    for r, rs in ratios]}
        with open(args.json_out, "w") as f:
            json.dump(doc, f, indent=1)
            f.write("\n")
        print(f"wrote {args.json_out}")


if __name__ == "__main__":
    main()
