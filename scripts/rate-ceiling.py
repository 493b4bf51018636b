#!/usr/bin/env python3
"""How well can a one-layer change generalise the rate constraint |y - x49| < BOUND?

An experiment, not part of saferl (it needs numpy). The MIQP patch guarantees the
constraint on its repair samples; its repair efficacy (RE) on held-out windows depends
on how far that generalises. This script separates the two: it fine-tunes one layer of
a `saferl fit` rate policy by gradient descent (Adam; minibatches of 1024 windows, or all of them when fewer)
on  mean((y - y_original)^2) + PENALTY * mean(relu(|y - x49| - (BOUND - CLEARANCE))^2),
with no guarantee and no weight bound, on N training windows drawn like the patch's
repair samples (75 % violating), on every training window, and on every window with the
penalty on the N drawn ones only (the others only keep their outputs). It reports RE,
introduced bugs (IB) and MAE on the fit's held-out windows (test.csv).

    scripts/rate-ceiling.py FIT_DIR LAYER [N=150] [SEED=0]

LAYER is 0 (first) ... 3 (last), or "all" (every layer: what the architecture can do).
The environment variables BOUND (2), CLEARANCE (1), PENALTY (1000) and STEPS (4000)
override the constants below, e.g. BOUND=1.5 CLEARANCE=0.5 for the stricter bound.
"""
import os
import sys

import numpy as np

PENALTY = float(os.environ.get("PENALTY", 1000.0))
CLEARANCE = float(os.environ.get("CLEARANCE", 1.0))
BOUND = float(os.environ.get("BOUND", 2.0))
STEPS = int(os.environ.get("STEPS", 4000))
BATCH = 1024
LEARNING_RATE = 1e-3


def load_nnet(path):
    lines = [l for l in open(path) if not l.startswith("//")]
    rows = iter(lines)
    n_layers = int(next(rows).split(",")[0])
    sizes = [int(v) for v in next(rows).strip().strip(",").split(",")]
    for _ in range(5):  # symmetric flag, input min/max, means, ranges
        next(rows)
    weights, biases = [], []
    for k in range(n_layers):
        weights.append(np.array([[float(v) for v in next(rows).strip().strip(",").split(",")]
                                 for _ in range(sizes[k + 1])]))
        biases.append(np.array([float(next(rows).strip().strip(",")) for _ in range(sizes[k + 1])]))
    return weights, biases


def forward(weights, biases, x):
    """Activations of every layer (input first, output last)."""
    acts = [x]
    for k, (w, b) in enumerate(zip(weights, biases)):
        z = acts[-1] @ w.T + b
        acts.append(np.maximum(z, 0) if k < len(weights) - 1 else z)
    return acts


def violates(x, y):
    return np.abs(y - x[:, 49]) >= BOUND


def fine_tune(weights, biases, layers, x_all, y_all, penalised, rng):
    """Adam on the loss above; the penalty applies where `penalised` is 1."""
    weights = [w.copy() for w in weights]
    biases = [b.copy() for b in biases]
    params = [weights[k] for k in layers] + [biases[k] for k in layers]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    limit = BOUND - CLEARANCE
    for step in range(1, STEPS + 1):
        rows = rng.integers(0, len(x_all), BATCH) if len(x_all) > BATCH else slice(None)
        x, y_original, p_on = x_all[rows], y_all[rows], penalised[rows]
        acts = forward(weights, biases, x)
        y = acts[-1][:, 0]
        e = y - x[:, 49]
        g = 2 * (y - y_original) + p_on * PENALTY * 2 * np.maximum(np.abs(e) - limit, 0) * np.sign(e)
        g = g[:, None] / len(x)
        grads_w, grads_b = {}, {}
        for k in range(len(weights) - 1, min(layers) - 1, -1):
            grads_w[k], grads_b[k] = g.T @ acts[k], g.sum(0)
            if k > min(layers):
                g = (g @ weights[k]) * (acts[k] > 0)
        grads = [grads_w[k] for k in layers] + [grads_b[k] for k in layers]
        for i, (p, gp) in enumerate(zip(params, grads)):
            m[i] = 0.9 * m[i] + 0.1 * gp
            v[i] = 0.999 * v[i] + 0.001 * gp**2
            p -= LEARNING_RATE * (m[i] / (1 - 0.9**step)) / (np.sqrt(v[i] / (1 - 0.999**step)) + 1e-8)
    return weights, biases


def main():
    fit, layer = sys.argv[1], sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 150
    seed = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    weights, biases = load_nnet(f"{fit}/model.nnet")
    layers = list(range(len(weights))) if layer == "all" else [int(layer)]
    train = np.loadtxt(f"{fit}/train.csv", delimiter=",", skiprows=1)
    test = np.loadtxt(f"{fit}/test.csv", delimiter=",", skiprows=1)
    x, xt = train[:, :50], test[:, :50]
    y0, yt0 = forward(weights, biases, x)[-1][:, 0], forward(weights, biases, xt)[-1][:, 0]
    bad_before = violates(xt, yt0)
    rng = np.random.default_rng(seed)
    bad, good = np.where(violates(x, y0))[0], np.where(~violates(x, y0))[0]
    drawn = np.concatenate([rng.choice(bad, int(0.75 * n), replace=False),
                            rng.choice(good, n - int(0.75 * n), replace=False)])
    everything = np.arange(len(x))
    # The drawn windows repeated, so that most minibatches hold some of them.
    kept_and_drawn = np.concatenate([everything] + [drawn] * 20)
    penalised_drawn = np.concatenate([np.zeros(len(x))] + [np.ones(n)] * 20)
    runs = ((f"{n} windows", drawn, np.ones(n)),
            (f"all {len(x)} windows", everything, np.ones(len(x))),
            (f"{n} windows constrained, all kept", kept_and_drawn, penalised_drawn))
    for name, rows, penalised in runs:
        w, b = fine_tune(weights, biases, layers, x[rows], y0[rows], penalised, rng)
        yt = forward(w, b, xt)[-1][:, 0]
        bad_after = violates(xt, yt)
        re = 1 - (bad_before & bad_after).sum() / bad_before.sum()
        ib = (~bad_before & bad_after).sum() / (~bad_before).sum()
        print(f"layer {layer}, {name}: RE {100 * re:.1f} %, IB {100 * ib:.2f} %, "
              f"MAE {np.abs(yt - yt0).mean():.2f}, test violations before {bad_before.sum()}")


if __name__ == "__main__":
    main()
