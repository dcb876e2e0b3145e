#!/usr/bin/env bash
# Builds the Flyte image from flyte/Dockerfile and checks it: inside the image, `partfinder
# pipeline` runs on the embedded default, and so does the Flyte workflow (`pyflyte run`, local
# execution, the stage binaries found on the image's PATH, the data in /app/data).
#
#   bash scripts/flyte_image.sh [--tag partfinder:latest] [--local-bases] [--no-check]
#
# With a running Docker engine: `docker build` / `docker run`. Without one (no daemon, as on the
# project's CI machines): buildah with chroot isolation (`apt-get install buildah`), which needs
# root but no daemon; its containers run with `buildah run`.
#
# --local-bases is for machines that reach Debian's and the Rust and Python package registries
# but not Docker Hub (the project's own machines): it first builds stand-ins for the Dockerfile's
# two base images and tags them with their Docker Hub names, so that the Dockerfile itself is
# built unchanged: `rust:1.95-bookworm` = Debian bookworm (debootstrap) + C compilers + this
# machine's Rust toolchain (which must be 1.95) under /usr/local, CARGO_HOME=/usr/local/cargo;
# `python:3.11-slim-bookworm` = Debian bookworm + its Python 3.11 in a virtual environment first
# on PATH (so `pip install` works as in the official image). Both carry this machine's extra CA
# certificates (/usr/local/share/ca-certificates), for networks that reach the registries through
# an HTTPS proxy of their own. Needs debootstrap, podman (its `import`) and root.
set -euo pipefail
cd "$(dirname "$0")/.."
tag="partfinder:latest"
local_bases=0
check=1
while [ $# -gt 0 ]; do
  case "$1" in
    --tag) tag="$2"; shift 2 ;;
    --local-bases) local_bases=1; shift ;;
    --no-check) check=0; shift ;;
    *) echo "usage: $0 [--tag NAME] [--local-bases] [--no-check]" >&2; exit 2 ;;
  esac
done

if docker info >/dev/null 2>&1; then
  engine=docker
elif command -v buildah >/dev/null; then
  engine=buildah
else
  echo "FAIL: neither a Docker engine nor buildah (apt-get install buildah)"; exit 1
fi
echo "engine: $engine"
bud() {
  if [ "$engine" = docker ]; then
    DOCKER_BUILDKIT=1 docker build "$@"
  else
    buildah bud --isolation chroot --network host --layers --pull=never "$@"
  fi
}

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

if [ "$local_bases" = 1 ]; then
  [ "$engine" = buildah ] || { echo "FAIL: --local-bases is for buildah"; exit 1; }
  rustc_version="$(rustc --version)"
  case "$rustc_version" in
    "rustc 1.95."*) ;;
    *) echo "FAIL: --local-bases needs Rust 1.95 here (found: $rustc_version)"; exit 1 ;;
  esac
  if ! buildah inspect --type image localhost/partfinder-bookworm >/dev/null 2>&1; then
    echo "debootstrap: Debian bookworm (minbase)"
    debootstrap --variant=minbase bookworm "$work/rootfs" http://deb.debian.org/debian \
      >"$work/debootstrap.log" 2>&1 || { tail -n 20 "$work/debootstrap.log"; exit 1; }
    tar -C "$work/rootfs" -c . | podman import --quiet - localhost/partfinder-bookworm >/dev/null
    rm -rf "$work/rootfs"
  fi
  # rustc finds its standard library next to its binary (/usr/local/lib/rustlib).
  sysroot="$(rustc --print sysroot)"
  mkdir -p "$work/rust/toolchain" "$work/rust/ca" "$work/python/ca"
  cp -a "$sysroot/bin" "$sysroot/lib" "$sysroot/libexec" "$work/rust/toolchain/"
  # This machine's own CA certificates (a network whose HTTPS goes through a proxy of its own):
  # the registries are reached through it from inside the build too.
  for dir in "$work/rust/ca" "$work/python/ca"; do
    cp /usr/local/share/ca-certificates/*.crt "$dir/" 2>/dev/null || true
  done
  # Builds the stand-in in directory $2 as $1, its log shown only when it fails.
  stand_in() {
    echo "stand-in: $1"
    bud -t "docker.io/library/$1" "$2" >"$2.log" 2>&1 || { tail -n 30 "$2.log"; exit 1; }
  }
  cat >"$work/rust/Containerfile" <<'EOF'
FROM localhost/partfinder-bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc g++ libc6-dev make pkg-config git ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY ca/ /usr/local/share/ca-certificates/
RUN update-ca-certificates
COPY toolchain/ /usr/local/
ENV CARGO_HOME=/usr/local/cargo PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
RUN mkdir -p /usr/local/cargo/bin && cargo --version && rustc --version
EOF
  stand_in rust:1.95-bookworm "$work/rust"
  cat >"$work/python/Containerfile" <<'EOF'
FROM localhost/partfinder-bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && python3 -m venv /usr/local/python
COPY ca/ /usr/local/share/ca-certificates/
RUN update-ca-certificates
ENV PATH=/usr/local/python/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt
RUN python --version && pip --version
EOF
  stand_in python:3.11-slim-bookworm "$work/python"
  rm -rf "$work/rust/toolchain"
fi

echo "build: $tag from flyte/Dockerfile"
t0=$(date +%s)
ignore=()
[ "$engine" = buildah ] && ignore=(--ignorefile flyte/Dockerfile.dockerignore)
bud "${ignore[@]}" -f flyte/Dockerfile -t "$tag" . >"$work/build.log" 2>&1 \
  || { tail -n 40 "$work/build.log"; echo "FAIL: image build"; exit 1; }
t1=$(date +%s)
echo "built $tag in $((t1 - t0)) s"
[ "$check" = 1 ] || exit 0

# Inside the image: the CLI, the pipeline on the embedded default, then the Flyte workflow.
check_script='set -e
cd "$(mktemp -d)"
export HOME="$PWD/home"; mkdir -p "$HOME"
partfinder pipeline --help >/dev/null
partfinder pipeline --out pipe >pipeline.log 2>&1 || { cat pipeline.log; exit 1; }
tail -n 3 pipeline.log
out=$(FLYTE_SDK_LOGGING_LEVEL=30 pyflyte run /app/flyte/workflow.py pipeline 2>pyflyte.log) \
  || { tail -n 40 pyflyte.log; exit 1; }
echo "$out"
dir=$(printf "%s\n" "$out" | grep -o "/[^ \"]*" | while read -r p; do [ -d "$p" ] && echo "$p"; done | tail -n 1)
test -f "$dir/report.html"
echo "report.html: $(wc -c <"$dir/report.html") bytes"'
if [ "$engine" = docker ]; then
  docker run --rm "$tag" bash -c "$check_script"
else
  ctr=$(buildah from --pull=never "$tag")
  trap 'buildah rm "$ctr" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
  buildah run --isolation chroot --network host "$ctr" -- bash -c "$check_script"
fi
echo "image check: OK ($tag)"
