//! Exact reachability of ReLU networks: every unsafe input region, or a proof of safety.
//!
//! This is the verifier the repair loop stands on (reachability-repair paper, sections 2,
//! 3.2 and 5). The input polytope is pushed through the network neuron by neuron; a set
//! that a neuron's hyperplane cuts is split in two, so every final set is a linear region
//! of the network restricted to the input set, and its output is an exact affine image.
//! Intersecting each final set with each unsafe polytope gives the unsafe input regions.
//!
//! - Sets are vertex polytopes with facet incidence, vertices kept in input space, plus the
//!   accumulated affine map to the current layer (`polytope.rs`): neuron screening and exact
//!   bounds are maxima over vertices, no LP.
//! - An over-approximation filter (symbolic intervals forward, CROWN-style linear bounds
//!   backward, both concretized exactly over the set's vertices) drops sets that provably
//!   cannot reach the unsafe outputs (`overapprox.rs`); it can be switched off to measure it.
//! - The search is depth-first with rayon work stealing, so live sets are bounded by the
//!   depth (the number of neurons) per worker (`search.rs`).
//!
//! Soundness: every floating-point doubt errs towards "unsafe". Unsafe polytopes are
//! widened by a small margin (`Options::tolerance`), the filter only drops a set whose
//! bound clears that margin, and a region is reported `Unsafe` only with a counterexample
//! that [`ReluNet::forward`] confirms; a region without one makes the verdict `Unknown`.

mod domain;
pub mod falsify;
mod overapprox;
mod polytope;
mod region;
mod search;

use std::time::Duration;

use crate::nn::{Layer, ReluNet};
use crate::spec::{HalfSpace, Property};

pub use domain::MAX_FREE_INPUTS;

/// What the analysis concluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Proved: no input of the set produces an unsafe output.
    Safe,
    /// A confirmed counterexample exists.
    Unsafe,
    /// Timed out, or unsafe only within the rounding tolerance (no confirmed counterexample).
    Unknown,
}

impl Verdict {
    /// The verdict of a property made of several parts (one per input region): unsafe if
    /// any part is, safe only if every part is.
    pub fn combine(parts: impl IntoIterator<Item = Verdict>) -> Verdict {
        parts
            .into_iter()
            .fold(Verdict::Safe, |acc, v| match (acc, v) {
                (Verdict::Unsafe, _) | (_, Verdict::Unsafe) => Verdict::Unsafe,
                (Verdict::Unknown, _) | (_, Verdict::Unknown) => Verdict::Unknown,
                _ => Verdict::Safe,
            })
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Verdict::Safe => "safe",
            Verdict::Unsafe => "unsafe",
            Verdict::Unknown => "unknown",
        })
    }
}

/// When the search stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Verification: stop at the first confirmed counterexample (a quick falsification
    /// attack runs first).
    FirstCounterexample,
    /// Repair: explore everything and return every unsafe region.
    AllRegions,
}

/// How to run the analysis.
#[derive(Debug, Clone)]
pub struct Options {
    /// Stop at the first counterexample, or collect every unsafe region.
    pub mode: Mode,
    /// Use the over-approximation filter to drop sets that are provably safe.
    pub filter: bool,
    /// Give up (verdict `Unknown`) after this long.
    pub timeout: Option<Duration>,
    /// Worker threads; 0 means one per available core.
    pub threads: usize,
    /// Relative width of the margin by which unsafe polytopes are widened so that rounding
    /// errs towards unsafe: a half-space `a·y <= c` becomes `a·y <= c + tolerance·(1 + |c|)`.
    pub tolerance: f64,
    /// Random samples of the falsification attack run before the search in
    /// [`Mode::FirstCounterexample`] (0 switches the attack off).
    pub attack_samples: usize,
    /// Seed of the attack's random numbers.
    pub seed: u64,
    /// Where to show how far a long analysis has got (sets explored, unsafe regions found);
    /// `None` for silence.
    pub progress: Option<indicatif::ProgressBar>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            mode: Mode::FirstCounterexample,
            filter: true,
            timeout: None,
            threads: 0,
            tolerance: 1e-10,
            attack_samples: 4000,
            seed: 0,
            progress: None,
        }
    }
}

/// An input that violates the property, with the network's output on it.
#[derive(Debug, Clone, PartialEq)]
pub struct Counterexample {
    pub input: Vec<f64>,
    pub output: Vec<f64>,
}

/// One convex region of inputs whose outputs are all unsafe (up to the tolerance).
#[derive(Debug, Clone)]
pub struct UnsafeRegion {
    /// The region's vertices (full input vectors).
    pub vertices: Vec<Vec<f64>>,
    /// The region as half-spaces over full inputs (fixed inputs appear as equalities).
    pub constraints: Vec<HalfSpace>,
    /// The network output at each vertex: the output image is their convex hull.
    pub output_vertices: Vec<Vec<f64>>,
    /// The network on this region: `y = W x + b` (the region lies in one linear piece).
    pub output_map: Layer,
    /// Index of the unsafe disjunct (of `property.unsafe_set.disjuncts`) it reaches.
    pub disjunct: usize,
}

impl UnsafeRegion {
    /// Whether `x` satisfies every constraint up to `tol`.
    pub fn contains(&self, x: &[f64], tol: f64) -> bool {
        self.constraints.iter().all(|h| h.slack(x) >= -tol)
    }
}

/// Effort and memory of one analysis.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stats {
    /// Wall-clock time of the whole analysis (attack included).
    pub seconds: f64,
    /// Sets created (the input set and every split child).
    pub sets: u64,
    /// Sets dropped because the over-approximation proved them safe.
    pub filtered: u64,
    /// Sets that reached the output layer.
    pub leaves: u64,
    /// Most sets alive at once (bounded by the depth-first search).
    pub peak_live_sets: u64,
    /// Most bytes held by live sets at once (vertices, incidence, affine maps).
    pub peak_live_bytes: u64,
    /// True when the counterexample came from the falsification attack, before any search.
    pub attack_found: bool,
}

/// The outcome of [`verify`].
#[derive(Debug, Clone)]
pub struct ReachResult {
    /// Safe (proved), unsafe (with a confirmed counterexample) or unknown.
    pub verdict: Verdict,
    /// A violation confirmed with [`ReluNet::forward`] (present iff the verdict is `Unsafe`).
    pub counterexample: Option<Counterexample>,
    /// Unsafe regions found: all of them in [`Mode::AllRegions`] (unless timed out), those
    /// met before stopping in [`Mode::FirstCounterexample`]; sorted by their vertices, so
    /// the order does not depend on how the parallel search met them.
    pub regions: Vec<UnsafeRegion>,
    /// Effort and memory.
    pub stats: Stats,
    /// Why the verdict is `Unknown`, when it is.
    pub note: Option<String>,
}

/// Why the analysis cannot run.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ReachError {
    #[error("the property has {property} inputs but the network takes {network}")]
    InputDim { property: usize, network: usize },
    #[error(
        "an unsafe half-space has {property} coefficients but the network has {network} outputs"
    )]
    OutputDim { property: usize, network: usize },
    #[error("input {input} is unbounded: exact reachability needs a bounded box")]
    Unbounded { input: usize },
    #[error("{free} free inputs: at most {max} are supported (the box has 2^inputs vertices)")]
    TooManyInputs { free: usize, max: usize },
    #[error(
        "input constraint {constraint} flattens the input set; lower-dimensional sets other than fixed inputs are not supported"
    )]
    FlatInput { constraint: usize },
    #[error("the network or the property contains a non-finite number")]
    NotFinite,
    #[error("cannot start the worker threads: {0}")]
    Threads(String),
}

/// Decides whether `net` satisfies `property`, returning unsafe regions as asked by
/// `options.mode`.
pub fn verify(
    net: &ReluNet,
    property: &Property,
    options: &Options,
) -> Result<ReachResult, ReachError> {
    check_dims(net, property)?;
    search::run(net, property, options)
}

fn check_dims(net: &ReluNet, property: &Property) -> Result<(), ReachError> {
    let input = &property.input;
    if input.lower.len() != net.input_dim() || input.upper.len() != net.input_dim() {
        return Err(ReachError::InputDim {
            property: input.lower.len().max(input.upper.len()),
            network: net.input_dim(),
        });
    }
    if let Some(h) = input
        .constraints
        .iter()
        .find(|h| h.coeffs.len() != net.input_dim())
    {
        return Err(ReachError::InputDim {
            property: h.coeffs.len(),
            network: net.input_dim(),
        });
    }
    let outputs = property.unsafe_set.disjuncts.iter().flatten();
    if let Some(h) = outputs.clone().find(|h| h.coeffs.len() != net.output_dim()) {
        return Err(ReachError::OutputDim {
            property: h.coeffs.len(),
            network: net.output_dim(),
        });
    }
    let finite = |h: &HalfSpace| h.rhs.is_finite() && h.coeffs.iter().all(|c| c.is_finite());
    let finite_net = net
        .layers()
        .iter()
        .all(|l| l.weights.iter().chain(l.bias.iter()).all(|w| w.is_finite()));
    if !finite_net || !outputs.chain(&input.constraints).all(finite) {
        return Err(ReachError::NotFinite);
    }
    Ok(())
}
