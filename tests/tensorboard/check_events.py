"""Checks that real TensorBoard reads a saferl run: every row of scalars.csv must be an
event TensorBoard loads from the run directory (same tag, step and float32 value), and
the scalars the trainer promises must be there.

    python check_events.py RUN_DIR
"""
import csv
import struct
import sys

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

REQUIRED = [
    "train/episode_return", "train/episode_length", "loss/actor", "loss/critic",
    "eval/return_mean", "perf/env_steps_per_s", "perf/updates_per_s", "safety/violation_rate",
]


def f32(x):
    return struct.unpack("f", struct.pack("f", float(x)))[0]


run_dir = sys.argv[1]
events = EventAccumulator(run_dir, size_guidance={"scalars": 0})
events.Reload()
tags = set(events.Tags()["scalars"])
missing = [t for t in REQUIRED if t not in tags]
assert not missing, f"TensorBoard does not see {missing} (it sees {sorted(tags)})"

loaded = {(t, e.step, e.value) for t in tags for e in events.Scalars(t)}
with open(f"{run_dir}/scalars.csv") as f:
    rows = [(r["tag"], int(r["step"]), f32(r["value"])) for r in csv.DictReader(f)]
absent = [r for r in rows if r not in loaded]
assert not absent, f"{len(absent)} CSV rows are not in the event files, e.g. {absent[:3]}"
print(f"TensorBoard reads {len(rows)} scalars over {len(tags)} tags from {run_dir}")
