"""partfinder as a Flyte workflow: one task per stage, each running the project's binary.

Local execution, no cluster (scripts/flyte_local.sh does this on the embedded default):

    PATH=target/release:$PATH pyflyte run flyte/workflow.py pipeline

On a cluster, with the image built by flyte/Dockerfile (binaries on PATH, data/ in /app):

    pyflyte run --remote --image partfinder:latest flyte/workflow.py pipeline \
        --reviews s3://bucket/edmunds/ --rows 1000

Files move between tasks as FlyteFile/FlyteDirectory, which Flyte keeps in its blob store
(MinIO or S3 on a cluster, a temporary directory locally). Tasks are cached by Flyte on their
inputs (`cache=True`); bump CACHE_VERSION when a binary's behaviour changes. The stage
binaries are looked up in $PARTFINDER_BIN_DIR, else on PATH.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from flytekit import Resources, task, workflow
from flytekit.types.directory import FlyteDirectory
from flytekit.types.file import FlyteFile

# The repository (locally) or /app (in the image): where the embedded default data lives.
ROOT = Path(os.environ.get("PARTFINDER_ROOT", Path(__file__).resolve().parent.parent))
CACHE_VERSION = "0.1.0"
RUN_NAME = "partfinder_t_001"


def binary(name: str) -> str:
    """The path of a stage binary: $PARTFINDER_BIN_DIR, else PATH."""
    bin_dir = os.environ.get("PARTFINDER_BIN_DIR")
    if bin_dir:
        path = Path(bin_dir) / name
        if path.is_file():
            return str(path)
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"{name}: stage binary not found in $PARTFINDER_BIN_DIR or on PATH")
    return found


def run(name: str, *args: object) -> None:
    """Runs a stage binary; its stdout and stderr go to the task log. Exit 1 of `label`
    (ragged rows skipped, named in the log) is accepted like the pipeline does."""
    cmd = [binary(name), *map(str, args)]
    print("$", " ".join(cmd), file=sys.stderr, flush=True)
    code = subprocess.run(cmd, stdin=subprocess.DEVNULL).returncode
    if code != 0 and not (name == "label" and code == 1):
        raise RuntimeError(f"{name} exited with status {code}")


def workdir() -> Path:
    return Path(tempfile.mkdtemp(prefix="partfinder-"))


@task(cache=True, cache_version=CACHE_VERSION)
def scrape(lexicon: FlyteFile) -> FlyteFile:
    """Rebuilds the lexicon from an existing one (the default: the committed data/lexicon.csv)."""
    out = workdir() / "lexicon.csv"
    run("scrape", "--lexicon-in", lexicon.download(), "--out", out)
    return FlyteFile(str(out))


@task(cache=True, cache_version=CACHE_VERSION)
def label(reviews: FlyteDirectory, lexicon: FlyteFile) -> FlyteFile:
    out = workdir() / "labeled.parquet"
    run("label", "--input", reviews.download(), "--lexicon", lexicon.download(), "--output", out)
    return FlyteFile(str(out))


@task(cache=True, cache_version=CACHE_VERSION)
def export(labeled: FlyteFile, rows: int, seed: int) -> FlyteDirectory:
    out = workdir() / "dataset"
    # jsonl reads the table type from the extension; Flyte may rename the file it downloads.
    table = workdir() / "labeled.parquet"
    shutil.copy(labeled.download(), table)
    run("jsonl", "export", "--input", table, "--format", "legacy", "--out", out,
        "--seed", seed, "--rows", rows)
    return FlyteDirectory(str(out))


@task(cache=True, cache_version=CACHE_VERSION, requests=Resources(cpu="4", mem="8Gi"))
def finetune(dataset: FlyteDirectory, base: str, epochs: int, learning_rate: float) -> FlyteDirectory:
    """Trains round 1. `base` is a model directory in the image (e.g. /app/models/...) or
    `tiny` for a tiny model made from the training text."""
    data = Path(dataset.download())
    work = workdir()
    if base == "tiny":
        base_dir = work / "base"
        run("finetune", "init-tiny", "--train", data / "train.jsonl", "--out", base_dir,
            "--hidden", 64, "--layers", 2, "--heads", 4, "--kv-heads", 2,
            "--intermediate", 128, "--vocab-size", 512)
    else:
        base_dir = Path(base)
    out = work / RUN_NAME
    run("finetune", "train", "--base", base_dir, "--train", data / "train.jsonl",
        "--valid", data / "valid.jsonl", "--out", out, "--epochs", epochs,
        "--batch-size", 8, "--max-seq-len", 256, "--learning-rate", learning_rate, "--quiet")
    return FlyteDirectory(str(out))


@task(cache=True, cache_version=CACHE_VERSION, requests=Resources(cpu="4", mem="8Gi"))
def predict(model: FlyteDirectory, dataset: FlyteDirectory, max_new_tokens: int) -> FlyteFile:
    data = Path(dataset.download())
    out = workdir() / "predictions.jsonl"
    run("finetune", "predict", "--model", model.download(), "--input", data / "test.jsonl",
        "--out", out, "--max-new-tokens", max_new_tokens, "--quiet")
    return FlyteFile(str(out))


@task(cache=True, cache_version=CACHE_VERSION)
def evaluate(model: FlyteDirectory, predictions: FlyteFile, dataset: FlyteDirectory) -> FlyteDirectory:
    """Scores, curves and the HTML report, in one directory."""
    data = Path(dataset.download())
    trained = Path(model.download())
    out = workdir() / "eval"
    run_dir = out / RUN_NAME
    run_dir.mkdir(parents=True)
    for name in ("results.csv", "hparams.json"):
        if (trained / name).is_file():
            shutil.copy(trained / name, run_dir / name)
    shutil.copy(predictions.download(), run_dir / "predictions.jsonl")
    run("eval", "score", "--predictions", run_dir / "predictions.jsonl",
        "--gold", data / "test.jsonl", "--out", run_dir / "scores.json")
    run("eval", "curves", run_dir, "--out", out / "curves")
    run("eval", "report", run_dir, "--out", out / "report.html", "--title", "partfinder (Flyte)")
    return FlyteDirectory(str(out))


@workflow
def pipeline(
    reviews: FlyteDirectory = FlyteDirectory(str(ROOT / "data" / "reviews")),
    lexicon: FlyteFile = FlyteFile(str(ROOT / "data" / "lexicon.csv")),
    rows: int = 96,
    seed: int = 42,
    base: str = "tiny",
    epochs: int = 1,
    learning_rate: float = 1e-3,
    max_new_tokens: int = 24,
) -> FlyteDirectory:
    """scrape → label → jsonl export → finetune → predict → eval; returns the eval directory
    (report.html, scores, curves)."""
    lex = scrape(lexicon=lexicon)
    labeled = label(reviews=reviews, lexicon=lex)
    dataset = export(labeled=labeled, rows=rows, seed=seed)
    model = finetune(dataset=dataset, base=base, epochs=epochs, learning_rate=learning_rate)
    preds = predict(model=model, dataset=dataset, max_new_tokens=max_new_tokens)
    return evaluate(model=model, predictions=preds, dataset=dataset)
