#!/usr/bin/env bash
# Runs the Flyte workflow (flyte/workflow.py) locally with `pyflyte run`, no cluster, on the
# embedded default data: scrape → label → jsonl export → finetune (tiny model) → predict → eval.
#
#   bash scripts/flyte_local.sh [extra pyflyte workflow inputs, e.g. --rows 64]
#
# Installs flytekit into .venv-flyte on first use, builds the stage binaries (PROFILE=dev by
# default, PROFILE=release for release binaries; or give PARTFINDER_BIN_DIR) for the tasks.
# Exit 0 when the workflow succeeds and its output directory holds report.html, which is
# copied with the scores and curves to out/flyte/.
set -euo pipefail
cd "$(dirname "$0")/.."
profile="${PROFILE:-dev}"
target="${CARGO_TARGET_DIR:-$PWD/target}"
case "$profile" in dev) bindir="$target/debug" ;; *) bindir="$target/$profile" ;; esac

if [ ! -x .venv-flyte/bin/pyflyte ]; then
  python3 -m venv .venv-flyte
  .venv-flyte/bin/pip install -q flytekit
fi
if [ -z "${PARTFINDER_BIN_DIR:-}" ]; then
  cargo build -q --profile "$profile" -p scrape -p label -p jsonl -p finetune -p eval
  export PARTFINDER_BIN_DIR="$bindir"
fi
# flytekit keeps local task outputs and its cache under the home directory; a temporary home
# keeps the run self-contained (and its cache from hiding changes between runs).
home="$(mktemp -d)"
trap 'rm -rf "$home"' EXIT
export HOME="$home" FLYTE_SDK_LOGGING_LEVEL="${FLYTE_SDK_LOGGING_LEVEL:-30}"

t0=$(date +%s.%N)
out=$(.venv-flyte/bin/pyflyte run flyte/workflow.py pipeline "$@" 2>"$home/pyflyte.log") || {
  cat "$home/pyflyte.log"; echo "FAIL: pyflyte run failed"; exit 1; }
t1=$(date +%s.%N)
tail -n 20 "$home/pyflyte.log" | grep -v '^\s*$' | tail -n 8 || true
echo "$out"
# The workflow returns the eval directory; pyflyte prints its local path.
dir=$(printf '%s\n' "$out" | grep -o '/[^ "]*' | while read -r p; do [ -d "$p" ] && echo "$p"; done | tail -n 1)
if [ -z "$dir" ] || [ ! -f "$dir/report.html" ]; then
  echo "FAIL: no report.html in the workflow output"; exit 1
fi
rm -rf out/flyte && mkdir -p out && cp -r "$dir" out/flyte
printf 'pyflyte run (local): %.1f s; report: %s/report.html (%s bytes)\n' \
  "$(echo "$t1 - $t0" | bc)" "out/flyte" "$(wc -c <"$dir/report.html")"
echo "flyte local run: OK"
