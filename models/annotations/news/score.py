#!/usr/bin/env python3
"""Score a model on a labelled news file, overall and per kind of source, with `standpoint eval`.

usage: score.py STANDPOINT_BIN MODEL FILE.jsonl [--by source_kind|site|speaker_side|family]

Writes one temporary file per group, runs `STANDPOINT_BIN eval --json --model MODEL --data ...`
once over all of them, and prints rows, accuracy, macro-F1 and F_avg per group. Standard library only.
"""
import collections, json, os, subprocess, sys, tempfile


def main(argv):
    if len(argv) not in (3, 5):
        print(__doc__)
        return 2
    bin_, model, path = argv[:3]
    key = argv[4] if len(argv) == 5 else "source_kind"
    rows = [json.loads(l) for l in open(path, encoding="utf-8") if l.strip()]
    groups = collections.defaultdict(list)
    for r in rows:
        groups[r.get(key) or "?"].append(r)
    with tempfile.TemporaryDirectory() as tmp:
        files = [("all", path)]
        for g, rs in sorted(groups.items(), key=lambda kv: -len(kv[1])):
            p = os.path.join(tmp, f"{len(files)}.jsonl")
            with open(p, "w", encoding="utf-8") as f:
                for r in rs:
                    f.write(json.dumps(r, ensure_ascii=False) + "\n")
            files.append((g, p))
        cmd = [bin_, "eval", "--json", "--model", model, "--data"] + [p for _, p in files]
        reports = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
    print(f"{key:<24} {'rows':>5} {'F/A/N':>12} {'acc':>6} {'macro-F1':>9} {'F_avg':>6}")
    for (g, _), r in zip(files, reports):
        o = r["overall"]
        gold = o["confusion"]
        fan = "/".join(str(sum(gold[l].values())) for l in ("FAVOR", "AGAINST", "NONE"))
        print(f"{g:<24} {o['n']:>5} {fan:>12} {o['accuracy']:>6.3f} {o['macro_f1']:>9.3f} {o['f_avg']:>6.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
