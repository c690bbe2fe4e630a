#!/usr/bin/env python3
"""Training-data variants measured for the default model (see models/README.md).

    python3 models/annotations/variants.py context OUT_DIR
        nato_enlargement_{train,dev,test}.jsonl with the previous sentence of the paragraph
        before the statement ("previous | statement"), to measure whether context helps.

    python3 models/annotations/variants.py distant STATEMENTS.jsonl OUT_DIR
        distant supervision: statements of the press-release corpus (the output of
        `standpoint statements`) that are not in the labelled set, come from documents outside
        its dev and test splits, touch security or war, and have a speaker whose position on
        NATO enlargement in 2021-2022 is documented, labelled with that position.
"""
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SPLITS = ("train", "dev", "test")

# Documented public positions on NATO enlargement, 2021-2022 (speeches, treaty drafts, summit
# declarations). Keys are surnames as standpoint's attribution reports them.
DOCUMENTED = {
    "Putin": "AGAINST",        # draft treaties of 17 Dec 2021 demand an end to enlargement
    "Lavrov": "AGAINST",
    "Peskov": "AGAINST",
    "Shoigu": "AGAINST",
    "Lukashenko": "AGAINST",
    "Zelensky": "FAVOR",       # Ukraine's constitution sets the course to NATO membership
    "Zelenskyy": "FAVOR",
    "Kuleba": "FAVOR",
    "Yermak": "FAVOR",
    "Stoltenberg": "FAVOR",    # open-door policy
    "Niinistö": "FAVOR",       # Finland applied in May 2022
    "Andersson": "FAVOR",      # Sweden applied in May 2022
}
TOPICAL = re.compile(r"security|military|war\b|troops|sanction|Donbas|Crimea|invasion|aggression"
                     r"|negotiat|sovereign|defen[cs]e|weapon|alliance|bloc", re.I)


def read(path):
    return [json.loads(l) for l in open(path, encoding="utf-8")]


def context(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    for s in SPLITS:
        with open(os.path.join(out_dir, f"nato_enlargement_{s}.jsonl"), "w", encoding="utf-8") as f:
            for r in read(os.path.join(HERE, f"nato_enlargement_{s}.jsonl")):
                if r["context_before"]:
                    r["text"] = r["context_before"] + " | " + r["text"]
                f.write(json.dumps(r, ensure_ascii=False) + "\n")


def distant(statements, out_dir):
    labelled = {}
    for s in SPLITS:
        for r in read(os.path.join(HERE, f"nato_enlargement_{s}.jsonl")):
            labelled[r["statement_id"]] = s
    held_docs = set()
    for s in ("dev", "test"):
        for r in read(os.path.join(HERE, f"nato_enlargement_{s}.jsonl")):
            held_docs.add(r["doc_id"])
    os.makedirs(out_dir, exist_ok=True)
    n = {"FAVOR": 0, "AGAINST": 0}
    with open(os.path.join(out_dir, "distant.jsonl"), "w", encoding="utf-8") as f:
        for r in read(statements):
            if r["statement_id"] in labelled or r["doc_id"] in held_docs or not r["speaker"]:
                continue
            surname = r["speaker"].split()[-1]
            label = DOCUMENTED.get(surname)
            if label is None or not TOPICAL.search(r["text"]):
                continue
            n[label] += 1
            f.write(json.dumps({"id": "ds-" + r["statement_id"], "text": r["text"],
                                "target": "NATO enlargement", "label": label,
                                "speaker": r["speaker"]}, ensure_ascii=False) + "\n")
    print(n)


if __name__ == "__main__":
    if sys.argv[1] == "context":
        context(sys.argv[2])
    elif sys.argv[1] == "distant":
        distant(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
