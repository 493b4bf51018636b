//! NNRepLayer: patch one layer of a ReLU network so that given samples satisfy Ψ.
//!
//! Majd et al., "Safe Robot Learning in Assistive Devices through Neural Network Repair",
//! section 3: only layer `l` changes; its weights become variables of a mixed-integer
//! program whose objective keeps the outputs close to their targets (Σ‖y − t‖² + λ·δ)
//! and whose constraints make every repair sample satisfy Ψ. Gradient repair cannot
//! guarantee constraints; this patch does, for every sample it is given, and
//! [`repair_loop`] (the certified-repair paper's Alg. 1) extends that to whole property
//! domains with the exact verifier.
//!
//! - Ψ is a [`Constraint`] of [`crate::spec`]: "if x ∈ S then (x, y) ∉ unsafe polytopes";
//!   big-M bounds come from [`crate::verify::bounds`];
//! - `encode`: the model; `solve`: the HiGHS toolkit (fixed-pattern LPs and QPs,
//!   tangent cuts, candidates); `start`: first incumbents (projected gradient descent,
//!   local search over activation patterns); `search`: outer approximation of the MIQP
//!   from those starts;
//! - [`repair_loop`]: patch → verify → add counterexamples → patch again, closed by any
//!   [`Verifier`];
//! - [`metrics`]: MAE, repair efficacy, introduced bugs on held-out data;
//! - [`actor`]: repair samples for the actor of a training run.
//!
//! Every patch is re-evaluated with [`ReluNet::forward`]: the reported objective, weight
//! change and violations come from the patched network, not from the solver.

pub mod actor;
mod encode;
pub mod metrics;
mod repair_loop;
mod search;
mod solve;
mod start;

pub use crate::data::Sample;
pub use crate::spec::{Constraint, JointHalfSpace};
pub use repair_loop::{LoopError, LoopOptions, LoopResult, Round, Verifier, repair_loop};

use crate::nn::ReluNet;
use std::time::{Duration, Instant};

/// What to repair and how hard to try.
#[derive(Debug, Clone)]
pub struct PatchOptions {
    /// Index of the repaired layer in `net.layers()` (0 = first; the paper's l − 1).
    pub layer: usize,
    /// Only these neurons (rows) of the layer change; `None` = all of them.
    pub nodes: Option<Vec<usize>>,
    /// Weight of the weight change δ in the objective.
    pub lambda: f64,
    /// Largest change of any single weight or bias: bounds δ and makes big-M finite.
    pub max_change: f64,
    /// Relative margin by which unsafe sets are avoided in the model, so that solver
    /// tolerances and rounding cannot undo the repair.
    pub margin: f64,
    /// Absolute distance (in the units of each unsafe half-space, e.g. degrees) by which
    /// repair samples must stay out of the unsafe sets. The optimal patch puts violating
    /// samples exactly on the boundary, where their unseen neighbours fall back in:
    /// clearance is what makes the repair generalise beyond the samples.
    pub clearance: f64,
    /// Overall solver time limit.
    pub time_limit: Option<Duration>,
    /// Target relative optimality gap.
    pub gap: f64,
    /// Most MILP solves of the outer approximation.
    pub iterations: usize,
}

impl PatchOptions {
    /// Defaults for repairing `layer`: all its neurons, λ = 1, changes up to 1, margin
    /// 1e-4 (above the MILP verifier's tolerance, so patched samples are provably clear of
    /// the unsafe sets), gap 1 %, 20 outer-approximation rounds, no time limit.
    pub fn for_layer(layer: usize) -> Self {
        Self {
            layer,
            nodes: None,
            lambda: 1.0,
            max_change: 1.0,
            margin: 1e-4,
            clearance: 0.0,
            time_limit: None,
            gap: 0.01,
            iterations: 20,
        }
    }
}

/// How good the returned patch is known to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PatchStatus {
    /// Within the target gap of the optimum.
    Optimal,
    /// Feasible; the gap did not close within the outer-approximation budget.
    FeasibleWithGap,
    /// Feasible; the time limit stopped the search.
    TimeLimit,
}

impl std::fmt::Display for PatchStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PatchStatus::Optimal => "optimal",
            PatchStatus::FeasibleWithGap => "feasible-with-gap",
            PatchStatus::TimeLimit => "time-limit",
        })
    }
}

/// A constraint a repair sample still violates on the patched network.
#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    pub sample: usize,
    pub constraint: String,
}

/// The patched network and what is known about it.
#[derive(Debug, Clone)]
pub struct PatchResult {
    pub net: ReluNet,
    pub status: PatchStatus,
    /// Largest change of any weight or bias of the repaired layer.
    pub delta: f64,
    /// Σ‖net(x) − t‖² + λ·δ over the samples, on the patched network.
    pub objective: f64,
    /// Proven lower bound on the optimal objective.
    pub lower_bound: f64,
    /// `(objective − lower_bound) / objective`.
    pub gap: f64,
    /// MILP solves of the outer approximation.
    pub iterations: usize,
    /// Binary variables in the model.
    pub binaries: usize,
    /// Repair samples that violate a constraint on the patched network (should be none).
    pub violations: Vec<Violation>,
    pub seconds: f64,
}

/// Why no patch was produced.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PatchError {
    #[error("layer {layer} does not exist: the network has layers 0 … {}", .layers - 1)]
    NoSuchLayer { layer: usize, layers: usize },
    #[error("node {node} does not exist: layer {layer} has {nodes} neurons")]
    NoSuchNode {
        node: usize,
        layer: usize,
        nodes: usize,
    },
    #[error("there are no repair samples")]
    NoSamples,
    #[error("sample {sample}: its {what} has {got} values, the network expects {expected}")]
    SampleShape {
        sample: usize,
        what: &'static str,
        got: usize,
        expected: usize,
    },
    #[error("constraint `{name}`: {message}")]
    ConstraintShape { name: String, message: String },
    #[error("{0}")]
    BadOption(String),
    #[error("infeasible: {0}")]
    Infeasible(String),
    #[error("no feasible patch found before the time limit ({seconds:.1} s)")]
    NoSolution { seconds: f64 },
    #[error("HiGHS failed: {0}")]
    Solver(String),
}

/// Patches `options.layer` of `net` so that every sample satisfies every constraint that
/// applies to it, minimising Σ‖y − t‖² + λ·δ.
pub fn patch(
    net: &ReluNet,
    samples: &[Sample],
    constraints: &[Constraint],
    options: &PatchOptions,
) -> Result<PatchResult, PatchError> {
    patch_near(net, samples, constraints, options, None)
}

/// [`patch`], also trying the activation pattern of `hint` (an earlier patch of `net`,
/// e.g. the previous loop round's) as a starting point: when new samples make the
/// original pattern infeasible, the earlier patch's pattern often is not.
pub fn patch_near(
    net: &ReluNet,
    samples: &[Sample],
    constraints: &[Constraint],
    options: &PatchOptions,
    hint: Option<&ReluNet>,
) -> Result<PatchResult, PatchError> {
    let started = Instant::now();
    check(net, samples, constraints, options)?;
    let layer = &net.layers()[options.layer];
    let mut free_rows = vec![options.nodes.is_none(); layer.outputs()];
    for &node in options.nodes.iter().flatten() {
        free_rows[node] = true;
    }
    let spec = encode::Spec {
        net,
        layer: options.layer,
        free_rows: &free_rows,
        samples,
        constraints,
        lambda: options.lambda,
        max_change: options.max_change,
        margin: options.margin,
        clearance: options.clearance,
    };
    let solved = search::solve(
        &spec,
        &search::SolveOptions {
            time_limit: options.time_limit,
            gap: options.gap,
            iterations: options.iterations,
            hint,
        },
    )?;
    let violations = violations(&solved.net, samples, constraints);
    Ok(PatchResult {
        delta: solve::weight_change(net, &solved.net, options.layer),
        gap: solve::relative_gap(solved.objective, solved.lower_bound),
        net: solved.net,
        status: solved.status,
        objective: solved.objective,
        lower_bound: solved.lower_bound,
        iterations: solved.iterations,
        binaries: solved.binaries,
        violations,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Every (sample, constraint) pair violated by `net`, evaluated with `ReluNet::forward`.
pub fn violations(net: &ReluNet, samples: &[Sample], constraints: &[Constraint]) -> Vec<Violation> {
    let mut found = Vec::new();
    for (n, sample) in samples.iter().enumerate() {
        let y = net.forward(&sample.input);
        for c in constraints {
            if c.violated_by(&sample.input, &y) {
                found.push(Violation {
                    sample: n,
                    constraint: c.name.clone(),
                });
            }
        }
    }
    found
}

fn check(
    net: &ReluNet,
    samples: &[Sample],
    constraints: &[Constraint],
    options: &PatchOptions,
) -> Result<(), PatchError> {
    let layers = net.layers().len();
    if options.layer >= layers {
        return Err(PatchError::NoSuchLayer {
            layer: options.layer,
            layers,
        });
    }
    let nodes = net.layers()[options.layer].outputs();
    if let Some(&node) = options.nodes.iter().flatten().find(|&&n| n >= nodes) {
        return Err(PatchError::NoSuchNode {
            node,
            layer: options.layer,
            nodes,
        });
    }
    if samples.is_empty() {
        return Err(PatchError::NoSamples);
    }
    let (inputs, outputs) = (net.input_dim(), net.output_dim());
    for (n, s) in samples.iter().enumerate() {
        for (what, got, expected) in [
            ("input", s.input.len(), inputs),
            ("target", s.target.len(), outputs),
        ] {
            if got != expected {
                return Err(PatchError::SampleShape {
                    sample: n,
                    what,
                    got,
                    expected,
                });
            }
        }
        if s.input.iter().chain(&s.target).any(|v| !v.is_finite()) {
            return Err(PatchError::BadOption(format!(
                "sample {n} contains a non-finite number"
            )));
        }
    }
    for c in constraints {
        let fail = |message: String| PatchError::ConstraintShape {
            name: c.name.clone(),
            message,
        };
        if c.condition.dim() != inputs || c.condition.upper.len() != inputs {
            return Err(fail(format!(
                "its input condition has {} dimensions, the network takes {inputs} inputs",
                c.condition.dim()
            )));
        }
        if let Some(h) = c
            .unsafe_set
            .iter()
            .flatten()
            .find(|h| h.input.len() != inputs || h.output.len() != outputs)
        {
            return Err(fail(format!(
                "a half-space has {} input and {} output coefficients, expected {inputs} and {outputs}",
                h.input.len(),
                h.output.len()
            )));
        }
    }
    let positive = |name: &str, v: f64| {
        if v.is_finite() && v > 0.0 {
            Ok(())
        } else {
            Err(PatchError::BadOption(format!(
                "{name}: expected a positive number, got {v}"
            )))
        }
    };
    positive("max_change", options.max_change)?;
    positive("gap", options.gap)?;
    if !(options.lambda.is_finite() && options.lambda >= 0.0) {
        return Err(PatchError::BadOption(format!(
            "lambda: expected a number ≥ 0, got {}",
            options.lambda
        )));
    }
    for (name, value) in [("margin", options.margin), ("clearance", options.clearance)] {
        if !(value.is_finite() && value >= 0.0) {
            return Err(PatchError::BadOption(format!(
                "{name}: expected a number ≥ 0, got {value}"
            )));
        }
    }
    if options.iterations == 0 {
        return Err(PatchError::BadOption(
            "iterations: expected at least 1".to_string(),
        ));
    }
    Ok(())
}
