#!/usr/bin/env python3
"""Builds blind.jsonl (the attribution blind check, from sources/) and dev.jsonl (the development set,
from dev/), from the hand-labelled sources.

usage: python3 models/annotations/attribution/build.py [--check]

Reads sources/<name>/docs.jsonl (documents: doc_id, source, url, licence, credit, date, title, text)
and sources/<name>/quotes.jsonl (attributions: doc_id, n, quote, speaker, speaker_kind, mention, cue,
direct), checks them (every quote found in its document, doc ids known, n = 1.. per document, fields
present, one licence per document), and writes blind.jsonl in the PolNeAR layout that
`examples/eval_attribution.rs` reads: one line per attribution, `text` = the whole document at
`text_offset` 0, `quote_spans` in characters, `direct_quote`, `speaker` = the speaker's fullest name in
the document (or the words, for unnamed and unresolved speakers). With --check it only checks that
blind.jsonl is what the sources give. Standard library only.
"""
import json, os, sys

HERE = os.path.dirname(os.path.abspath(__file__))
SETS = [("sources", "blind.jsonl"), ("dev", "dev.jsonl"), ("blind2", "blind2.jsonl")]
DOC_FIELDS = ["doc_id", "source", "url", "licence", "credit", "date", "title", "text"]
QUOTE_FIELDS = ["doc_id", "n", "quote", "speaker", "speaker_kind", "mention", "cue", "direct"]
KINDS = {"person", "organisation", "nominal", "unresolved"}


def fail(msg):
    sys.exit(f"build.py: {msg}")


def read_jsonl(path):
    rows = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                try:
                    rows.append((n, json.loads(line)))
                except json.JSONDecodeError as e:
                    fail(f"{path}:{n}: not JSON ({e})")
    return rows


def build(src):
    out = []
    for name in sorted(os.listdir(src)):
        d = os.path.join(src, name)
        if not os.path.isdir(d):
            continue
        docs = {}
        for n, doc in read_jsonl(os.path.join(d, "docs.jsonl")):
            missing = [k for k in DOC_FIELDS if k not in doc]
            if missing:
                fail(f"{d}/docs.jsonl:{n}: missing {missing}")
            if doc["doc_id"] in docs:
                fail(f"{d}/docs.jsonl:{n}: duplicate doc_id {doc['doc_id']}")
            docs[doc["doc_id"]] = doc
        last_n = {}
        for n, q in read_jsonl(os.path.join(d, "quotes.jsonl")):
            where = f"{d}/quotes.jsonl:{n}"
            missing = [k for k in QUOTE_FIELDS if k not in q]
            if missing:
                fail(f"{where}: missing {missing}")
            doc = docs.get(q["doc_id"])
            if doc is None:
                fail(f"{where}: unknown doc_id {q['doc_id']}")
            if q["n"] != last_n.get(q["doc_id"], 0) + 1:
                fail(f"{where}: n={q['n']} does not follow {last_n.get(q['doc_id'], 0)}")
            last_n[q["doc_id"]] = q["n"]
            if q["speaker_kind"] not in KINDS:
                fail(f"{where}: speaker_kind {q['speaker_kind']!r} not one of {sorted(KINDS)}")
            text = doc["text"]
            at = text.find(q["quote"])
            if not q["quote"] or at < 0:
                fail(f"{where}: quote not found in {q['doc_id']}")
            if text.find(q["quote"], at + 1) >= 0:
                fail(f"{where}: quote occurs twice in {q['doc_id']}; lengthen it")
            out.append({
                "id": f"{q['doc_id']}-{q['n']}",
                "doc_id": q["doc_id"],
                "source": name,
                "licence": doc["licence"],
                "url": doc["url"],
                "text": text,
                "text_offset": 0,
                "quote": q["quote"],
                "speaker": q["speaker"],
                "speaker_kind": q["speaker_kind"],
                "mention": q["mention"],
                "cue": q["cue"],
                "quote_spans": [[at, at + len(q["quote"])]],
                "speaker_spans": [],
                "direct_quote": bool(q["direct"]),
            })
    return out


def main():
    for src, out in SETS:
        rows = build(os.path.join(HERE, src))
        body = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
        path = os.path.join(HERE, out)
        if "--check" in sys.argv[1:]:
            with open(path, encoding="utf-8") as f:
                if f.read() != body:
                    fail(f"{out} differs from {src}/; rerun build.py")
            print(f"{out} matches {src}/ ({len(rows)} attributions)")
            continue
        with open(path, "w", encoding="utf-8") as f:
            f.write(body)
        direct = sum(r["direct_quote"] for r in rows)
        print(f"wrote {out}: {len(rows)} attributions ({direct} direct, {len(rows) - direct} "
              f"indirect), {len({r['doc_id'] for r in rows})} documents")


if __name__ == "__main__":
    main()
