#!/usr/bin/env python3
"""Draw the statements to annotate for the target "NATO enlargement".

Input: the output of `standpoint statements` over the press-release corpus
(kremlin.ru and president.gov.ua, CC BY 4.0), e.g.

    standpoint statements ../shared/data/corpus/press_releases_2021_2022.jsonl > statements.jsonl
    python3 models/annotations/sample.py statements.jsonl > models/annotations/to_label.jsonl

Strata (all deterministic; no model is consulted, so the sample does not
favour what any model finds easy):
  nato      every statement that names NATO, enlargement, the open door, ...
  near      every statement about alliances, expansion, neutrality or
            security guarantees that does not name NATO
  neighbour the sentence before and after each `nato` statement in the same
            paragraph (stance is often carried by "we will never accept it")
  topical   a seeded sample of statements about security, war, Ukraine,
            Russia or sanctions
  random    a seeded sample of everything else

Documents, not statements, are split into train / dev / test (60/20/20) so
that no document feeds two splits: documents are ordered by how many sampled
statements they hold and dealt out in the cycle train, dev, test, train, train.
"""
import hashlib
import json
import random
import re
import sys
from collections import defaultdict

NATO = re.compile(r"\bNATO\b|North Atlantic|enlarg|open.door|Euro-Atlantic|Membership Action Plan"
                  r"|non-bloc|eastward|non-expansion", re.I)
NEAR = re.compile(r"\bAlliance\b|expansion|neutral status|neutrality|Bucharest|security guarantees"
                  r"|military bloc|sphere of influence", re.I)
TOPICAL = re.compile(r"security|military|war\b|troops|sanction|Donbas|Crimea|invasion|aggression"
                     r"|negotiat|sovereign|defen[cs]e|weapon", re.I)
SEED = 20220110
N_TOPICAL = 260
N_RANDOM = 190


def main(path):
    rows = [json.loads(line) for line in open(path, encoding="utf-8")]
    by_doc = defaultdict(list)
    for r in rows:
        by_doc[r["doc_id"]].append(r)
    chosen = {}  # statement_id -> stratum

    for r in rows:
        if NATO.search(r["text"]):
            chosen[r["statement_id"]] = "nato"
    for r in rows:
        if r["statement_id"] not in chosen and NEAR.search(r["text"]):
            chosen[r["statement_id"]] = "near"
    for doc in by_doc.values():
        for i, r in enumerate(doc):
            if chosen.get(r["statement_id"]) != "nato":
                continue
            for j in (i - 1, i + 1):
                if 0 <= j < len(doc) and doc[j]["paragraph"] == r["paragraph"]:
                    chosen.setdefault(doc[j]["statement_id"], "neighbour")
    rng = random.Random(SEED)
    rest = [r for r in rows if r["statement_id"] not in chosen and len(r["text"]) >= 40]
    topical = [r for r in rest if TOPICAL.search(r["text"])]
    for r in rng.sample(topical, N_TOPICAL):
        chosen[r["statement_id"]] = "topical"
    rest = [r for r in rest if r["statement_id"] not in chosen]
    for r in rng.sample(rest, N_RANDOM):
        chosen[r["statement_id"]] = "random"

    counts = defaultdict(int)
    for r in rows:
        if r["statement_id"] in chosen:
            counts[r["doc_id"]] += 1
    cycle = ["train", "dev", "test", "train", "train"]
    split = {d: cycle[i % 5] for i, d in enumerate(sorted(counts, key=lambda d: (-counts[d], d)))}

    for doc_id, doc in by_doc.items():
        for i, r in enumerate(doc):
            sid = r["statement_id"]
            if sid not in chosen:
                continue
            before = doc[i - 1]["text"] if i > 0 and doc[i - 1]["paragraph"] == r["paragraph"] else ""
            after = doc[i + 1]["text"] if i + 1 < len(doc) and doc[i + 1]["paragraph"] == r["paragraph"] else ""
            out = {
                "id": "pr-" + hashlib.sha1(sid.encode()).hexdigest()[:10],
                "statement_id": sid,
                "doc_id": doc_id,
                "split": split[doc_id],
                "stratum": chosen[sid],
                "speaker": r["speaker"],
                "context_before": before,
                "text": r["text"],
                "context_after": after,
            }
            print(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    main(sys.argv[1])
