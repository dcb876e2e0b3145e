#!/usr/bin/env python3
"""Python anchors for the labeling benchmark: the match loop only, on the same corpus and lexicon.

- flashtext: KeywordProcessor.extract_keywords (case-insensitive, whole words);
- pyahocorasick: Automaton.iter_long over lower-cased text with a word-boundary check.

Both get the lexicon's surfaces plus their simple plural (+s), close to what the labeler matches.
The reviews are read with the bare-CR fix (a bare CR is a line break) and the csv module; reading
is not timed. Prints one line per anchor: `anchor NAME: S s, MB/s, reviews with a part`.
"""
import csv
import glob
import io
import re
import sys
import time

import ahocorasick
from flashtext import KeywordProcessor


def load_reviews(directory):
    reviews = []
    for path in sorted(glob.glob(f"{directory}/*.csv")):
        data = open(path, newline="", encoding="utf-8").read()
        data = re.sub(r"\r(?!\n)", "\n", data)
        rows = csv.reader(io.StringIO(data, newline=""))
        header = next(rows)
        col = [h.strip().lower() for h in header].index("review")
        for row in rows:
            if len(row) > col:
                reviews.append(row[col].strip())
    return reviews


def load_surfaces(lexicon):
    out = []
    with open(lexicon, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            s, c = row["surface"], row["canonical"]
            out.append((s, c))
            if s[-1:].isalpha():
                out.append((s + "s", c))
    return out


def bench_flashtext(reviews, surfaces):
    kp = KeywordProcessor(case_sensitive=False)
    for s, c in surfaces:
        kp.add_keyword(s, c)
    t = time.perf_counter()
    tagged = sum(1 for r in reviews if kp.extract_keywords(r))
    return time.perf_counter() - t, tagged


def bench_pyahocorasick(reviews, surfaces):
    a = ahocorasick.Automaton()
    for s, c in surfaces:
        a.add_word(s.lower(), (len(s), c))
    a.make_automaton()
    t = time.perf_counter()
    tagged = 0
    for r in reviews:
        low = r.lower()
        n = len(low)
        found = False
        for end, (length, c) in a.iter_long(low):
            start = end - length + 1
            if (start == 0 or not low[start - 1].isalnum()) and (end + 1 == n or not low[end + 1].isalnum()):
                found = True
        tagged += found
    return time.perf_counter() - t, tagged


def main():
    directory, lexicon = sys.argv[1], sys.argv[2]
    reviews = load_reviews(directory)
    surfaces = load_surfaces(lexicon)
    mb = sum(len(r.encode()) for r in reviews) / 1e6
    print(f"anchor corpus: {len(reviews)} reviews, {mb:.1f} MB of Review text, {len(surfaces)} patterns")
    for name, fn in [("flashtext", bench_flashtext), ("pyahocorasick", bench_pyahocorasick)]:
        secs, tagged = fn(reviews, surfaces)
        print(f"anchor {name}: {secs:.2f} s, {mb / secs:.1f} MB/s of Review text, {tagged} reviews with a part")


if __name__ == "__main__":
    main()
