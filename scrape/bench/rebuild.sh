#!/usr/bin/env bash
# Rebuilds data/lexicon.csv from the real sources and checks the bars of issue 3.
#
#   bash scrape/bench/rebuild.sh [--write]
#
# Reads ../shared/data/lexicon/ (never copied into the repository). Prints the summary of the
# full build, the canonical count of the Wikipedia page alone, whether serving the page on
# 127.0.0.1 gives the same lexicon as reading the file, and whether the committed
# data/lexicon.csv is up to date (--write replaces it).
set -euo pipefail
cd "$(dirname "$0")/../.."
src=../shared/data/lexicon
target="${CARGO_TARGET_DIR:-target}"
cargo build -q -p scrape
bin="$target/debug/scrape"  # dev profile: dependencies are built with opt-level 3
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"; [ -n "${server:-}" ] && kill "$server" 2>/dev/null || true' EXIT

common=(--extra-aliases data/lexicon-extra-aliases.csv --stoplist data/lexicon-stoplist.txt)
t0=$(date +%s.%N)
"$bin" --file "$src/wikipedia_list_of_auto_parts.html" --file "$src/DMD_project_car_parts.txt" \
  --file "$src/visnyaisoma_carparts.txt" --lexicon-in data/lexicon-handmade.csv "${common[@]}" \
  --out "$tmp/lexicon.csv"
t1=$(date +%s.%N)
echo "full build: $(echo "$t1 - $t0" | bc) s"

echo "--- Wikipedia page alone (stop-list applied, no extra aliases):"
"$bin" --file "$src/wikipedia_list_of_auto_parts.html" --stoplist data/lexicon-stoplist.txt \
  --out "$tmp/wiki-file.csv" 2>&1 | grep '^lexicon'

echo "--- the same page served on 127.0.0.1:"
mkdir "$tmp/www"
cp "$src/wikipedia_list_of_auto_parts.html" "$tmp/www/"
port=$((20000 + RANDOM % 20000))
(cd "$tmp/www" && exec python3 -m http.server "$port" --bind 127.0.0.1 >/dev/null 2>&1) &
server=$!
for _ in $(seq 50); do
  curl -s -o /dev/null "http://127.0.0.1:$port/" && break
  sleep 0.1
done
"$bin" --url "http://127.0.0.1:$port/wikipedia_list_of_auto_parts.html" --no-cache --delay 0 \
  --stoplist data/lexicon-stoplist.txt --out "$tmp/wiki-url.csv" 2>&1 | grep '^lexicon'
if cmp -s "$tmp/wiki-file.csv" "$tmp/wiki-url.csv"; then
  echo "--url and --file give the same lexicon"
else
  echo "--url and --file DIFFER"; exit 1
fi

if [ "${1:-}" = "--write" ]; then
  cp "$tmp/lexicon.csv" data/lexicon.csv
  echo "wrote data/lexicon.csv"
elif cmp -s "$tmp/lexicon.csv" data/lexicon.csv; then
  echo "data/lexicon.csv is up to date"
else
  echo "data/lexicon.csv is OUT OF DATE (run with --write)"; exit 1
fi
