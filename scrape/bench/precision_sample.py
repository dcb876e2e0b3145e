"""Draws a uniform random sample of labeled mentions for a precision audit by hand.

Reads the CSV output of `label --spans` (a `Spans_part` JSON column: every mention's part,
matched text and byte offsets into the Review) and writes one line per sampled mention:

    key <TAB> review id <TAB> part <TAB> matched text <TAB> context (±80 characters, [[span]])

The key (`review id@start-end`) lets judgements made on one sample be reused on another.
Review text is real data: write the sample under /tmp, never into the repository.

    python3 scrape/bench/precision_sample.py LABELED.csv --n 200 --seed 1 --out /tmp/a.tsv
    # mentions of NEW.csv whose span is not a mention of OLD.csv (where precision can be lost):
    python3 scrape/bench/precision_sample.py NEW.csv --minus OLD.csv --n 100 --seed 1 --out /tmp/d.tsv
    # count matching stats (reviews with >= 1 part, mentions) without sampling:
    python3 scrape/bench/precision_sample.py NEW.csv --n 0

Only the standard library is used (no pyarrow needed).
"""

import argparse
import csv
import json
import random
import sys

csv.field_size_limit(sys.maxsize)
CONTEXT = 80


def read_mentions(path):
    """(review id, review text, spans) for every row of a labeled CSV."""
    rows = []
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        index_col = reader.fieldnames[0]
        for row in reader:
            rid = f"{row['source_file']}#{row[index_col]}"
            rows.append((rid, row["Review"], json.loads(row["Spans_part"] or "[]")))
    return rows


def span_keys(rows):
    return {
        f"{rid}@{s['start']}-{s['end']}"
        for rid, _, spans in rows
        for s in spans
        if s.get("field", "Review") == "Review"
    }


def context(text, span):
    raw = text.encode("utf-8")
    start, end = span["start"], span["end"]
    before = raw[:start].decode("utf-8", "replace")[-CONTEXT:]
    hit = raw[start:end].decode("utf-8", "replace")
    after = raw[end:].decode("utf-8", "replace")[:CONTEXT]
    if hit != span["text"]:
        sys.exit(f"offsets do not match the Review text: {hit!r} != {span['text']!r}")
    return " ".join(f"{before}[[{hit}]]{after}".split())


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("labeled", help="CSV written by `label --spans`")
    ap.add_argument("--minus", help="another labeled CSV: keep only spans it does not have")
    ap.add_argument("--n", type=int, default=200, help="sample size (0: statistics only)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", help="TSV to write the sample to (under /tmp)")
    args = ap.parse_args()

    rows = read_mentions(args.labeled)
    tagged = sum(1 for _, _, spans in rows if spans)
    mentions = [
        (rid, text, s)
        for rid, text, spans in rows
        for s in spans
        if s.get("field", "Review") == "Review"
    ]
    print(f"{args.labeled}: {len(rows)} reviews, {tagged} with >= 1 part, {len(mentions)} mentions")
    if args.minus:
        old = span_keys(read_mentions(args.minus))
        mentions = [m for m in mentions if f"{m[0]}@{m[2]['start']}-{m[2]['end']}" not in old]
        print(f"  not in {args.minus}: {len(mentions)} mentions")
    if args.n <= 0:
        return
    sample = random.Random(args.seed).sample(mentions, min(args.n, len(mentions)))
    out = open(args.out, "w", encoding="utf-8") if args.out else sys.stdout
    for rid, text, s in sample:
        key = f"{rid}@{s['start']}-{s['end']}"
        out.write("\t".join([key, rid, s["part"], s["text"], context(text, s)]) + "\n")
    if args.out:
        out.close()
        print(f"  wrote {len(sample)} sampled mentions to {args.out}")


if __name__ == "__main__":
    main()
