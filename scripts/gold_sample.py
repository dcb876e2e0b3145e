#!/usr/bin/env python3
"""The project's hand-annotation sample: which Edmunds reviews were drawn, and their text.

  python3 scripts/gold_sample.py draw [--seed 2026] [--n 240] [--batch 40]
      prints the seeded sample as JSON lines {"batch": B, "file": ..., "index": N}
      (uniform over the non-empty reviews of the 38 files, the reviews of
      ../shared/gold/dev.jsonl left out), batch 0 first
  python3 scripts/gold_sample.py show FILE INDEX...
      prints the Review field of each named review, read as ../shared/gold/GUIDELINE.md says
      (UTF-8, a bare carriage return read as a space)
  python3 scripts/gold_sample.py check ANNOTATIONS.jsonl
      checks that every surface occurs in its lower-cased review (whitespace runs collapsed)

Only file names and indices are kept in the project (data/gold/); the review text stays in
../shared/data and is read from there.
"""
import argparse, csv, io, json, os, random, re, sys

csv.field_size_limit(10**9)
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
EDMUNDS = os.path.join(ROOT, "..", "shared", "data", "edmunds")
DEV = os.path.join(ROOT, "..", "shared", "gold", "dev.jsonl")


def reviews(name):
    """(index, review text) of every row of one Edmunds file."""
    raw = open(os.path.join(EDMUNDS, name), "rb").read().decode("utf-8")
    text = re.sub(r"\r(?!\n)", " ", raw)
    rows = csv.reader(io.StringIO(text, newline=""))
    header = next(rows)
    col = header.index("Review")
    for row in rows:
        yield int(row[0]), row[col]


def draw(seed, n, batch):
    dev = {(d["file"], d["index"]) for d in map(json.loads, open(DEV))}
    pool = [
        (name, index)
        for name in sorted(f for f in os.listdir(EDMUNDS) if f.endswith(".csv"))
        for index, review in reviews(name)
        if review.strip() and (name, index) not in dev
    ]
    picked = random.Random(seed).sample(pool, n)
    for i, (name, index) in enumerate(picked):
        print(json.dumps({"batch": i // batch, "file": name, "index": index}))


def check(path):
    """Every surface of an annotation file occurs in its lower-cased review (GUIDELINE A3)."""
    bad = 0
    for lineno, line in enumerate(open(path), 1):
        d = json.loads(line)
        text = dict(reviews(d["file"]))[d["index"]]
        flat = re.sub(r"\s+", " ", text.lower())
        for m in d["mentions"]:
            if set(m) != {"surface", "canonical"} or not m["canonical"].strip():
                print(f"{path}:{lineno}: bad mention {m}"); bad += 1
            elif re.sub(r"\s+", " ", m["surface"]) not in flat:
                print(f"{path}:{lineno}: surface {m['surface']!r} not in {d['file']} {d['index']}"); bad += 1
    print(f"{path}: {bad} problems")
    return bad


def show(name, indices):
    wanted = set(indices)
    for index, review in reviews(name):
        if index in wanted:
            print(f"=== {name} {index}\n{review.strip()}\n")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("draw")
    d.add_argument("--seed", type=int, default=2026)
    d.add_argument("--n", type=int, default=240)
    d.add_argument("--batch", type=int, default=40)
    s = sub.add_parser("show")
    s.add_argument("file")
    s.add_argument("index", type=int, nargs="+")
    c = sub.add_parser("check")
    c.add_argument("path")
    a = p.parse_args()
    if a.cmd == "draw":
        draw(a.seed, a.n, a.batch)
    elif a.cmd == "check":
        sys.exit(1 if check(a.path) else 0)
    else:
        show(a.file, a.index)
