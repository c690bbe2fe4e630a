#!/usr/bin/env python3
"""Gather the annotators' files into collected.jsonl, pass_b.tsv (how the committed files were made).

usage: gather.py WORK_DIR

WORK_DIR holds one folder per collection family (statements.jsonl: pass A's rows with their
metadata, `label` and `note`; kremlin/extra_none_rows.jsonl and ukraine/extra_none.jsonl: further
rows of the same documents, all labelled NONE by pass A, kept apart by their annotators to keep
the share of stance rows up) and passb/FAMILY_b.tsv (pass B). Standard library only.
"""
import json, os, sys

FAMILIES = ["us_exec", "us_congress", "uk", "ukraine", "misc", "kremlin", "kremlin2", "europarl", "wikipedia"]
EXTRA = {"extra": ["ukraine/extra_none.jsonl", "kremlin/extra_none_rows.jsonl"]}
KEEP = ["id", "text", "context_before", "context_after", "speaker", "speaker_side", "doc_id", "url", "date",
        "site", "source_kind", "licence", "credit"]
HERE = os.path.dirname(os.path.abspath(__file__))


def main(argv):
    if len(argv) != 1:
        print(__doc__)
        return 2
    work = argv[0]
    sources = [(f, [f"{f}/statements.jsonl"]) for f in FAMILIES] + list(EXTRA.items())
    n = 0
    with open(os.path.join(HERE, "collected.jsonl"), "w", encoding="utf-8") as out, \
            open(os.path.join(HERE, "pass_b.tsv"), "w", encoding="utf-8") as pb:
        for fam, files in sources:
            for rel in files:
                p = os.path.join(work, rel)
                if not os.path.exists(p):
                    print(f"missing {p}", file=sys.stderr)
                    continue
                for line in open(p, encoding="utf-8"):
                    if not line.strip():
                        continue
                    r = json.loads(line)
                    row = {k: r.get(k, "") for k in KEEP}
                    row["site"] = (row["site"] or "").lower().removeprefix("www.")
                    row.update(family=fam, label_a=r["label"], note_a=r.get("note", ""))
                    out.write(json.dumps(row, ensure_ascii=False) + "\n")
                    n += 1
            b = os.path.join(work, "passb", f"{fam}_b.tsv")
            if os.path.exists(b):
                for line in open(b, encoding="utf-8"):
                    if line.strip():
                        pb.write(line.rstrip("\n") + "\n")
    print(f"{n} rows")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
