#!/usr/bin/env python3
"""Writes a corpus N times the size of a JSONL corpus, each copy with new ids (`{id}~{copy}`),
for measuring how `analyze` scales: python3 benches/scale_corpus.py 16 IN.jsonl OUT.jsonl"""
import json
import sys

n, src, dst = int(sys.argv[1]), sys.argv[2], sys.argv[3]
lines = [json.loads(l) for l in open(src, encoding="utf-8") if l.strip()]
with open(dst, "w", encoding="utf-8") as out:
    for copy in range(n):
        for d in lines:
            d = dict(d, id=f"{d['id']}~{copy}")
            out.write(json.dumps(d, ensure_ascii=False) + "\n")
