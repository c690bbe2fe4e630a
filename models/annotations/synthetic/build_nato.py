#!/usr/bin/env python3
"""Build `nato.jsonl`, the synthetic NATO-enlargement training set, from the rows as written
(`nato_written.jsonl`) and the independent second reading (`nato_second_reading.tsv`).

usage: python3 build_nato.py ../../../../shared/tools/decontaminate.py ../../../corpus

Keeps a row only when the second reader's label equals the writer's; drops rows whose text repeats
an earlier row, rows that `decontaminate.py` lists (8-word shingles of held-out text), and rows that
share any 6-word shingle with the sample article (the second argument's folder, never training
data). Prints the counts, the agreement and Cohen's kappa, and writes nato.jsonl beside this script.
(`nato_written.jsonl` already lacks the 9 rows decontaminate.py listed in the writers' files.)"""
import collections, json, os, re, subprocess, sys, tempfile, unicodedata

HERE = os.path.dirname(os.path.abspath(__file__))
LABELS = ("FAVOR", "AGAINST", "NONE")


def words(text):
    t = unicodedata.normalize("NFKC", text).lower()
    return re.sub(r"[\W_]+", " ", t).split()


def shingles(text, n):
    w = words(text)
    return {" ".join(w[i:i + n]) for i in range(max(0, len(w) - n + 1))}


def kappa(pairs):
    n = len(pairs)
    po = sum(a == b for a, b in pairs) / n
    ca = collections.Counter(a for a, _ in pairs)
    cb = collections.Counter(b for _, b in pairs)
    pe = sum(ca[l] * cb[l] for l in LABELS) / (n * n)
    return po, (po - pe) / (1 - pe)


def main(argv):
    if len(argv) != 2:
        print(__doc__)
        return 2
    decon, sample_dir = argv
    rows, seen, dup = [], set(), 0
    for line in open(os.path.join(HERE, "nato_written.jsonl"), encoding="utf-8"):
        r = json.loads(line)
        assert r["label"] in LABELS, r["id"]
        key = " ".join(words(r["text"]))
        if key in seen:
            dup += 1
            continue
        seen.add(key)
        rows.append(r)
    second = {}
    for line in open(os.path.join(HERE, "nato_second_reading.tsv"), encoding="utf-8"):
        parts = line.rstrip("\n").split("\t")
        second[parts[0]] = parts[1]
    missing = [r["id"] for r in rows if second.get(r["id"]) not in LABELS]
    assert not missing, f"no second reading for {len(missing)} rows, e.g. {missing[:3]}"
    po, k = kappa([(r["label"], second[r["id"]]) for r in rows])
    confusion = collections.Counter((r["label"], second[r["id"]]) for r in rows if r["label"] != second[r["id"]])
    agreed = [r for r in rows if r["label"] == second[r["id"]]]

    sample = set()
    for name in os.listdir(sample_dir):
        sample |= shingles(open(os.path.join(sample_dir, name), encoding="utf-8").read(), 6)
    near = [r for r in agreed if shingles(r["text"], 6) & sample]
    agreed = [r for r in agreed if not (shingles(r["text"], 6) & sample)]

    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False, encoding="utf-8") as t:
        for r in agreed:
            t.write(json.dumps(r, ensure_ascii=False) + "\n")
    out = subprocess.run([sys.executable, decon, t.name], capture_output=True, text=True).stdout
    os.unlink(t.name)
    listed = {int(m) for m in re.findall(r":(\d+) id=", out)}
    kept = [r for i, r in enumerate(agreed, 1) if i not in listed]

    with open(os.path.join(HERE, "nato.jsonl"), "w", encoding="utf-8") as f:
        for r in kept:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"{len(rows)} rows (+{dup} repeated texts dropped); the second reading agrees on "
          f"{sum(r['label'] == second[r['id']] for r in rows)} ({po:.3f}), Cohen's kappa {k:.3f}")
    print("disagreements (writer -> reader):", dict(confusion))
    print(f"dropped: {len(rows) - len(agreed) - len(near)} disagreements, {len(near)} near the sample "
          f"article, {len(listed)} listed by decontaminate.py")
    print(f"kept {len(kept)}:", dict(collections.Counter(r["label"] for r in kept)))
    print("by kind:", dict(collections.Counter(r.get("kind") for r in kept)))
    print("by pattern:", dict(collections.Counter((r["label"], r.get("pattern")) for r in kept)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
