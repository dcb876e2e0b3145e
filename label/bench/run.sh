#!/usr/bin/env bash
# Labeling benchmark: the project's `label` end to end (read, match, write) on the real corpus,
# beside the Python anchors (match loop only) on the same corpus and lexicon, in one run.
#
#   bash label/bench/run.sh [EDMUNDS_DIR] [LEXICON]
#
# Defaults: ../shared/data/edmunds and data/lexicon.csv. Installs flashtext and pyahocorasick
# into .venv-bench/ on first use. Prints each figure and the ratio.
set -euo pipefail
cd "$(dirname "$0")/../.."
corpus="${1:-../shared/data/edmunds}"
lexicon="${2:-data/lexicon.csv}"
runs="${RUNS:-5}"

if [ ! -x .venv-bench/bin/python ]; then
  python3 -m venv .venv-bench
  .venv-bench/bin/pip install -q flashtext==2.7 pyahocorasick==2.1.0
fi
cargo build -q --release -p label
bin="${CARGO_TARGET_DIR:-target}/release/label"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

bytes=$(cat "$corpus"/*.csv | wc -c)
echo "corpus: $corpus ($(ls "$corpus"/*.csv | wc -l) files, $bytes bytes); lexicon: $lexicon; $(nproc) cores"
best_csv=999; best_pq=999
for i in $(seq "$runs"); do
  for fmt in csv parquet; do
    # Flush unrelated dirty pages first: label fsyncs its output, and on ext4 that fsync also
    # waits for whatever else is dirty (a training run's checkpoint, the previous output).
    sync
    t0=$(date +%s.%N)
    "$bin" --quiet --input "$corpus" --lexicon "$lexicon" --output "$out/labeled.$fmt"
    t1=$(date +%s.%N)
    s=$(echo "$t1 - $t0" | bc -l)
    if [ "$fmt" = csv ]; then best_csv=$(echo "if ($s < $best_csv) $s else $best_csv" | bc -l);
    else best_pq=$(echo "if ($s < $best_pq) $s else $best_pq" | bc -l); fi
  done
done
mbps() { echo "scale=1; $bytes / 1000000 / $1" | bc -l; }
echo "label end to end -> csv:     best of $runs $(printf %.3f "$best_csv") s, $(mbps "$best_csv") MB/s of input"
echo "label end to end -> parquet: best of $runs $(printf %.3f "$best_pq") s, $(mbps "$best_pq") MB/s of input"
"$bin" --input "$corpus" --lexicon "$lexicon" --output "$out/labeled.parquet" --top 0 2>&1 | sed 's/^/label summary: /'
.venv-bench/bin/python label/bench/anchor.py "$corpus" "$lexicon" | tee "$out/anchor.txt"
pyac=$(grep 'anchor pyahocorasick' "$out/anchor.txt" | sed -E 's/.* s, ([0-9.]+) MB\/s.*/\1/')
flash=$(grep 'anchor flashtext' "$out/anchor.txt" | sed -E 's/.* s, ([0-9.]+) MB\/s.*/\1/')
echo "ratio label(csv, end to end)/pyahocorasick(match only): $(echo "scale=1; $(mbps "$best_csv") / $pyac" | bc -l)x"
echo "ratio label(csv, end to end)/flashtext(match only): $(echo "scale=1; $(mbps "$best_csv") / $flash" | bc -l)x"
