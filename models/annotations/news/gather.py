#!/usr/bin/env python3
"""Gather the annotators' files into collected.jsonl, pass_b.tsv (how the committed files were made).

usage: gather.py WORK_DIR               (every family: rewrites both files)
       gather.py WORK_DIR FAMILY...     (only these families: their rows in both files are replaced,
                                         the other families' rows kept as they are)

WORK_DIR holds one folder per collection family (statements.jsonl: pass A's rows with their
metadata, `label` and `note`; kremlin/extra_none_rows.jsonl and ukraine/extra_none.jsonl: further
rows of the same documents, all labelled NONE by pass A, kept apart by their annotators to keep
the share of stance rows up) and passb/FAMILY_b.tsv (pass B). Standard library only.
"""
import json, os, sys

FAMILIES = ["us_exec", "us_congress", "uk", "ukraine", "misc", "kremlin", "kremlin2", "europarl", "wikipedia",
            # European Parliament sittings 1996-2011 beyond the first four (December 2026): split by sitting
            "ep2a", "ep2b", "ep2c", "ep2d", "ep2e",
            # the third European Parliament collection (December 2026): what the sittings not yet used gave
            "ep3a", "ep3b", "ep3c"]
EXTRA = {"extra": ["ukraine/extra_none.jsonl", "kremlin/extra_none_rows.jsonl"]}
KEEP = ["id", "text", "context_before", "context_after", "speaker", "speaker_side", "doc_id", "url", "date",
        "site", "source_kind", "licence", "credit"]
HERE = os.path.dirname(os.path.abspath(__file__))


def main(argv):
    if len(argv) < 1:
        print(__doc__)
        return 2
    work, only = argv[0], argv[1:]
    unknown = [f for f in only if f not in FAMILIES]
    if unknown:
        print(f"unknown families: {unknown}", file=sys.stderr)
        return 2
    sources = [(f, [f"{f}/statements.jsonl"]) for f in FAMILIES] + list(EXTRA.items())
    kept_rows, kept_b = [], []
    if only:
        sources = [(f, files) for f, files in sources if f in only]
        replaced = set()
        for line in open(os.path.join(HERE, "collected.jsonl"), encoding="utf-8"):
            r = json.loads(line)
            if r["family"] in only:
                replaced.add(r["id"])
            else:
                kept_rows.append(line.rstrip("\n"))
        for line in open(os.path.join(HERE, "pass_b.tsv"), encoding="utf-8"):
            if line.split("\t", 1)[0] not in replaced:
                kept_b.append(line.rstrip("\n"))
    n = 0
    with open(os.path.join(HERE, "collected.jsonl"), "w", encoding="utf-8") as out, \
            open(os.path.join(HERE, "pass_b.tsv"), "w", encoding="utf-8") as pb:
        for line in kept_rows:
            out.write(line + "\n")
        for line in kept_b:
            pb.write(line + "\n")
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
    print(f"{n} rows gathered, {len(kept_rows)} kept")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
