#!/usr/bin/env bash
# Type-checks the trainer's `cuda` feature on a machine without a GPU or a CUDA installation:
# installs NVIDIA's CUDA 13.4 compiler and headers from PyPI into .venv-cuda (nvcc, nvvm, crt,
# runtime headers, cccl), then runs `cargo check -p finetune --features cuda --all-targets`,
# which compiles candle's CUDA kernels to PTX for CUDA_COMPUTE_CAP (default 90, an H100) and
# checks every crate against the CUDA backend.
#
#   bash scripts/check_cuda_build.sh
#
# cudarc 0.19 accepts CUDA 12.x up to 13.4, and nvcc, nvvm and crt must be the same release
# (a newer nvvm writes PTX that an older ptxas rejects), hence the pins. The CUDA build uses its
# own target directory ($CARGO_TARGET_DIR-cuda, default target-cuda). Running on a GPU needs the
# driver's libcuda, which is loaded at run time.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv-cuda/lib/python3*/site-packages/nvidia/cu13/bin/nvcc ]; then
  python3 -m venv .venv-cuda
  .venv-cuda/bin/pip install -q "nvidia-cuda-nvcc==13.4.*" "nvidia-nvvm==13.4.*" \
    "nvidia-cuda-crt==13.4.*" "nvidia-cuda-runtime==13.4.*" "nvidia-cuda-cccl==13.3.5.0.6"
fi
cu="$(echo "$PWD"/.venv-cuda/lib/python3*/site-packages/nvidia/cu13)"
export PATH="$cu/bin:$PATH" CUDA_ROOT="$cu" CUDA_PATH="$cu"
export CUDA_COMPUTE_CAP="${CUDA_COMPUTE_CAP:-90}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}-cuda"
nvcc --version | tail -n 1
cargo check -p finetune --features cuda --all-targets
echo "cuda feature: check OK (compute capability $CUDA_COMPUTE_CAP)"
