#!/usr/bin/env bash
# Trains a short run with the release binary, then has real TensorBoard (from PyPI, in a
# venv) read it back: the event files must hold every scalar of scalars.csv.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
venv="${CARGO_TARGET_DIR:-$root/target}/tensorboard-venv"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -c "import tensorboard" 2>/dev/null || "$venv/bin/pip" install --quiet tensorboard
run_dir="$(mktemp -d)/run"
"${CARGO_TARGET_DIR:-$root/target}/release/saferl" train --quiet --config "$root/configs/pendulum.toml" \
  --episodes 12 --run-dir "$run_dir" >/dev/null
"$venv/bin/python" "$root/tests/tensorboard/check_events.py" "$run_dir"
