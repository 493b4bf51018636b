#!/usr/bin/env bash
# PyTorch CPU reference for saferl's DDPG update/acting speed.
#   benches/torch/run.sh --batch 64 400 --threads 1 [--json]   (args go to ddpg_torch.py)
#
# Only PyPI is reachable (not the pytorch.org CPU wheel index), and PyPI's linux x86_64
# torch is the CUDA build: its default install pulls ~2.5 GB of nvidia-*/triton wheels.
# We install torch with --no-deps (~540 MB) plus its pure-python deps, and satisfy the
# CUDA DT_NEEDED entries (libcudart, libcublas, libcudnn, ...) with tiny generated stub
# libraries (make_cuda_stubs.py). CPU kernels never call them; torch sees 0 GPUs.
# Idempotent: the venv, the install and the stubs are reused when already present.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="$here/.venv"
TORCH_VERSION="${TORCH_VERSION:-2.15.0}"
py="$venv/bin/python"
stubs="$venv/cuda-stubs"

[ -x "$py" ] || python3 -m venv "$venv"
if ! "$py" -c "import importlib.metadata as m, sys; sys.exit(m.version('torch') != '$TORCH_VERSION')" 2>/dev/null; then
  nice -n 10 "$py" -m pip install --quiet --no-warn-conflicts --no-deps "torch==$TORCH_VERSION"
  # What torch imports on CPU (sympy -> mpmath, jinja2 -> markupsafe); numpy for the env-loop I/O.
  nice -n 10 "$py" -m pip install --quiet --no-warn-conflicts typing-extensions sympy mpmath networkx jinja2 \
    markupsafe filelock fsspec numpy
  rm -rf "$stubs"
fi
if [ ! -d "$stubs" ]; then  # built in a temp dir so an interrupted run is redone next time
  rm -rf "$stubs.tmp"
  nice -n 10 "$py" "$here/make_cuda_stubs.py" "$(echo "$venv"/lib/python3*/site-packages/torch/lib)" "$stubs.tmp" >/dev/null
  mv "$stubs.tmp" "$stubs"
fi

# nice: the benchmark host is often shared with cargo builds; on an idle machine it's a no-op.
export LD_LIBRARY_PATH="$stubs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
exec nice -n 10 "$py" "$here/ddpg_torch.py" "$@"
