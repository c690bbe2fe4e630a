#!/usr/bin/env python3
"""Record a trained model's measured scores in its standpoint.json, for the reports' trust line.

usage: record_quality.py MODEL_DIR TARGET ON_TARGET.json "ON_TARGET SET" UNSEEN.json "UNSEEN SET"

ON_TARGET.json and UNSEEN.json are the output of `standpoint eval --json --model MODEL_DIR --data F`
(one file each): the first a labelled set of the model's own target that it was never trained or
tuned on (its blind test), the second a set of targets it never saw. The words in quotes say what
each set is; they are printed in every report. Standard library only.
"""
import json, sys


def figure(path, words):
    reports = json.load(open(path))
    if len(reports) != 1:
        sys.exit(f"{path}: expected the eval report of one data file, found {len(reports)}")
    o = reports[0]["overall"]
    return {"set": words, "rows": o["n"], "macro_f1": round(o["macro_f1"], 4),
            "accuracy": round(o["accuracy"], 4)}


def main(argv):
    if len(argv) != 6:
        print(__doc__)
        return 2
    model, target, on_json, on_words, unseen_json, unseen_words = argv
    path = f"{model}/standpoint.json"
    meta = json.load(open(path))
    meta["quality"] = {"target": target, "on_target": figure(on_json, on_words),
                       "unseen_targets": figure(unseen_json, unseen_words)}
    with open(path, "w") as f:
        json.dump(meta, f, indent=2, ensure_ascii=False)
        f.write("\n")
    print(json.dumps(meta["quality"], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
