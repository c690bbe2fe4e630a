#!/usr/bin/env python3
"""Build the labelled NATO-enlargement stance set from the two annotation passes.

    python3 models/annotations/build.py to_label.jsonl \
        ../shared/data/corpus/press_releases_2021_2022.jsonl models/annotations

Reads, in the output directory: pass_a.tsv and pass_b.tsv (`id, label, note`, one line per
statement, from two independent annotators) and adjudicated.tsv (`id, label, category,
reason` for every statement on which they disagree). Writes nato_enlargement_{train,dev,test}.jsonl
(`id, text, target, label` plus provenance fields) and prints agreement figures.
"""
import collections
import json
import os
import sys

LABELS = ["FAVOR", "AGAINST", "NONE"]
TARGET = "NATO enlargement"


def read_tsv(path, fields):
    out = {}
    for n, line in enumerate(open(path, encoding="utf-8"), 1):
        parts = line.rstrip("\n").split("\t")
        if parts[1] not in LABELS:
            sys.exit(f"{path}:{n}: label {parts[1]!r} is not FAVOR, AGAINST or NONE")
        out[parts[0]] = dict(zip(fields, parts[1:] + [""] * len(fields)))
    return out


def kappa(a, b):
    n = len(a)
    po = sum(x == y for x, y in zip(a, b)) / n
    ca, cb = collections.Counter(a), collections.Counter(b)
    pe = sum(ca[l] * cb[l] for l in LABELS) / n / n
    return po, (po - pe) / (1 - pe)


def main(to_label, corpus, out_dir):
    rows = [json.loads(l) for l in open(to_label, encoding="utf-8")]
    docs = {}
    for line in open(corpus, encoding="utf-8"):
        d = json.loads(line)
        docs[d["id"]] = d
    a = read_tsv(os.path.join(out_dir, "pass_a.tsv"), ["label", "note"])
    b = read_tsv(os.path.join(out_dir, "pass_b.tsv"), ["label", "note"])
    adj = read_tsv(os.path.join(out_dir, "adjudicated.tsv"), ["label", "category", "reason"])
    ids = [r["id"] for r in rows]
    missing = [i for i in ids if i not in a or i not in b]
    if missing:
        sys.exit(f"{len(missing)} statements lack a label in one pass, e.g. {missing[0]}")
    dis = [i for i in ids if a[i]["label"] != b[i]["label"]]
    unresolved = [i for i in dis if i not in adj]
    if unresolved:
        sys.exit(f"{len(unresolved)} disagreements are not adjudicated, e.g. {unresolved[0]}")
    po, k = kappa([a[i]["label"] for i in ids], [b[i]["label"] for i in ids])
    print(f"{len(ids)} statements; raw agreement {po:.3f}, Cohen's kappa {k:.3f}; {len(dis)} adjudicated")
    files = {s: open(os.path.join(out_dir, f"nato_enlargement_{s}.jsonl"), "w", encoding="utf-8")
             for s in ("train", "dev", "test")}
    counts = collections.defaultdict(collections.Counter)
    for r in rows:
        i = r["id"]
        final = adj[i]["label"] if i in dis else a[i]["label"]
        d = docs[r["doc_id"]]
        rec = {
            "id": i,
            "text": r["text"],
            "target": TARGET,
            "label": final,
            "split": r["split"],
            "label_a": a[i]["label"],
            "label_b": b[i]["label"],
            "adjudicated": i in dis,
            "stratum": r["stratum"],
            "speaker_auto": r["speaker"],
            "context_before": r["context_before"],
            "context_after": r["context_after"],
            "doc_id": r["doc_id"],
            "statement_id": r["statement_id"],
            "source": d.get("source"),
            "url": d.get("url"),
            "date": d.get("date"),
        }
        files[r["split"]].write(json.dumps(rec, ensure_ascii=False) + "\n")
        counts[r["split"]][final] += 1
        counts[r["split"]][d.get("source")] += 1
    for s in ("train", "dev", "test"):
        files[s].close()
        c = counts[s]
        print(f"{s}: " + ", ".join(f"{k} {c[k]}" for k in LABELS + ["kremlin", "president.gov.ua"]))


if __name__ == "__main__":
    main(*sys.argv[1:4])
