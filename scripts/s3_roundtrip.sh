#!/usr/bin/env bash
# S3 round trip of `partfinder pipeline` against a real S3-compatible server on 127.0.0.1
# (moto's server from PyPI, installed into .venv-s3), on the embedded default data.
#
#   bash scripts/s3_roundtrip.sh
#
# 1. starts moto on a free local port and uploads data/reviews/*.csv and data/lexicon.csv to
#    s3://partfinder/inputs/;
# 2. runs the pipeline with s3:// inputs and --artifacts s3://partfinder/runs (a fresh local
#    out dir): every stage runs and its directory is uploaded, .done last;
# 3. runs it again with another empty local out dir: every stage is fetched from the
#    artifacts, none runs, and the report arrives locally;
# 4. stops the server (also on failure). Exit 0 when every check passes.
#
# Builds partfinder with the `s3` feature and the stage binaries (PROFILE=dev by default;
# PROFILE=release for release binaries) into $CARGO_TARGET_DIR (default: target).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
profile="${PROFILE:-dev}"
target="${CARGO_TARGET_DIR:-$root/target}"
case "$profile" in dev) bindir="$target/debug" ;; *) bindir="$target/$profile" ;; esac

if [ ! -x .venv-s3/bin/moto_server ]; then
  python3 -m venv .venv-s3
  .venv-s3/bin/pip install -q 'moto[server]'
fi

cargo build -q --profile "$profile" -p partfinder --features s3
cargo build -q --profile "$profile" -p scrape -p label -p jsonl -p finetune -p eval

tmp="$(mktemp -d)"
server=""
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

port=$(.venv-s3/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
.venv-s3/bin/moto_server -H 127.0.0.1 -p "$port" >"$tmp/moto.log" 2>&1 &
server=$!
export AWS_ENDPOINT_URL="http://127.0.0.1:$port"
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1
for _ in $(seq 100); do
  if .venv-s3/bin/python -c "import urllib.request; urllib.request.urlopen('$AWS_ENDPOINT_URL')" 2>/dev/null; then
    break
  fi
  sleep 0.1
done

.venv-s3/bin/python - <<'PY'
import glob, os, boto3
s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
s3.create_bucket(Bucket="partfinder")
for path in sorted(glob.glob("data/reviews/*.csv")):
    s3.upload_file(path, "partfinder", "inputs/reviews/" + os.path.basename(path))
s3.upload_file("data/lexicon.csv", "partfinder", "inputs/lexicon.csv")
print("uploaded the inputs to s3://partfinder/inputs/")
PY

cat >"$tmp/pipeline.toml" <<'TOML'
[scrape]
sources = [{ lexicon = "s3://partfinder/inputs/lexicon.csv" }]
[label]
inputs = ["s3://partfinder/inputs/reviews/"]
TOML

run() {
  "$bindir/partfinder" pipeline --quiet --config "$tmp/pipeline.toml" --bin-dir "$bindir" \
    --artifacts s3://partfinder/runs --out "$1" 2>"$1.log"
}

t0=$(date +%s.%N)
report=$(run "$tmp/out1")
t1=$(date +%s.%N)
cat "$tmp/out1.log"
test -f "$report" || { echo "FAIL: no report after the first run"; exit 1; }
[ "$(grep -c '^uploaded: ' "$tmp/out1.log")" = 6 ] || { echo "FAIL: not every stage uploaded"; exit 1; }

.venv-s3/bin/python - <<'PY'
import os, boto3
s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
keys = [o["Key"] for o in s3.list_objects_v2(Bucket="partfinder", Prefix="runs/")["Contents"]]
done = sorted(k.split("/")[1].split("-")[0] for k in keys if k.endswith("/.done"))
assert done == sorted(["scrape", "label", "jsonl", "finetune", "predict", "eval"]), done
assert any(k.endswith("/report.html") for k in keys), keys
print(f"artifacts: {len(keys)} objects under s3://partfinder/runs/, a .done for each stage")
PY

t2=$(date +%s.%N)
report2=$(run "$tmp/out2")
t3=$(date +%s.%N)
cat "$tmp/out2.log"
[ "$(grep -c '^fetched: ' "$tmp/out2.log")" = 6 ] || { echo "FAIL: not every stage fetched"; exit 1; }
if grep -q '^running: ' "$tmp/out2.log"; then echo "FAIL: a stage ran again"; exit 1; fi
cmp "$report" "$report2" || { echo "FAIL: the fetched report differs"; exit 1; }
printf 'first run (all stages, upload): %.1f s; second run (fetch all): %.1f s\n' \
  "$(echo "$t1 - $t0" | bc)" "$(echo "$t3 - $t2" | bc)"
echo "s3 round trip: OK"
