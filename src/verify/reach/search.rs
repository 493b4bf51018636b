//! Depth-first exploration of the split tree, in parallel with rayon work stealing.
//!
//! A branch is one input polytope plus the affine map from input space to the current
//! layer's pre-activations (columns of decided neurons already hold their post-activation).
//! At each step every neuron of the layer whose sign is fixed on the polytope is decided;
//! one straddling neuron then splits it, and both children are explored with
//! `rayon::join`: the current worker goes depth-first into one, an idle worker may steal
//! the other. Live sets are thus bounded by the depth (the number of hidden neurons) per
//! worker. New sets first meet the filter, which may drop them; in verification, the
//! network is also evaluated at their centroid, which finds most violations early.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use nalgebra::{DMatrix, DVector};

use super::domain::Domain;
use super::overapprox::{At, Filter};
use super::polytope::{Polytope, Side, Split};
use super::region::Finisher;
use super::{
    Counterexample, Mode, Options, ReachError, ReachResult, Stats, UnsafeRegion, Verdict, falsify,
};
use crate::nn::ReluNet;
use crate::spec::Property;

/// Worker stack size: the recursion is as deep as the network has hidden neurons.
const STACK_BYTES: usize = 64 << 20;

/// The progress message is refreshed once per this many new sets.
const PROGRESS_EVERY: u64 = 4096;

/// Runs the whole analysis of one property.
pub fn run(
    net: &ReluNet,
    property: &Property,
    options: &Options,
) -> Result<ReachResult, ReachError> {
    let start = Instant::now();
    let domain = Domain::new(&property.input)?;
    let nothing_unsafe = property.unsafe_set.disjuncts.is_empty();
    let Some(poly) = domain
        .polytope(&property.input)?
        .filter(|_| !nothing_unsafe)
    else {
        return Ok(finished(
            start,
            Stats::default(),
            Verdict::Safe,
            None,
            Vec::new(),
            None,
        ));
    };
    if options.mode == Mode::FirstCounterexample
        && options.attack_samples > 0
        && let Some(cex) = falsify::attack(net, property, options.attack_samples, options.seed)
    {
        let stats = Stats {
            attack_found: true,
            ..Stats::default()
        };
        return Ok(finished(
            start,
            stats,
            Verdict::Unsafe,
            Some(cex),
            Vec::new(),
            None,
        ));
    }
    let search = Search {
        net,
        transposed: net.layers().iter().map(|l| l.weights.transpose()).collect(),
        options,
        filter: options
            .filter
            .then(|| Filter::new(net, property, options.tolerance)),
        finisher: Finisher::new(net, property, &domain, options.tolerance),
        deadline: options.timeout.map(|t| start + t),
        stop: AtomicBool::new(false),
        timed_out: AtomicBool::new(false),
        counters: Counters::default(),
        found: Mutex::new(Found::default()),
    };
    let (mt, bias) = domain.first_map(net);
    let alive = (0..property.unsafe_set.disjuncts.len()).collect();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(options.threads)
        .stack_size(STACK_BYTES)
        .build()
        .map_err(|e| ReachError::Threads(e.to_string()))?;
    pool.install(|| {
        let root = search.branch(poly, 0, mt, bias, alive);
        if options.mode == Mode::FirstCounterexample {
            let (_, cex) = search.finisher.probe(&root.poly);
            if cex.is_some() {
                search.record(None, cex);
            }
        }
        search.explore(root);
    });
    Ok(search.result(start))
}

/// Column `j` of `values` plus `offset`: neuron `j`'s pre-activation at every vertex.
fn shifted(values: &DMatrix<f64>, j: usize, offset: f64) -> Vec<f64> {
    values.column(j).iter().map(|v| v + offset).collect()
}

/// Marks neuron `j` decided: kept as is when active, zeroed (post-activation 0) when not.
fn decide(b: &mut Branch<'_>, j: usize, active: bool) {
    if !active {
        b.mt.column_mut(j).fill(0.0);
        b.bias[j] = 0.0;
    }
    b.decided[j] = true;
}

fn finished(
    start: Instant,
    mut stats: Stats,
    verdict: Verdict,
    counterexample: Option<Counterexample>,
    regions: Vec<UnsafeRegion>,
    note: Option<String>,
) -> ReachResult {
    stats.seconds = start.elapsed().as_secs_f64();
    ReachResult {
        verdict,
        counterexample,
        regions,
        stats,
        note,
    }
}

#[derive(Default)]
struct Counters {
    sets: AtomicU64,
    filtered: AtomicU64,
    leaves: AtomicU64,
    live_sets: AtomicU64,
    live_bytes: AtomicU64,
    peak_sets: AtomicU64,
    peak_bytes: AtomicU64,
}

#[derive(Default)]
struct Found {
    regions: Vec<UnsafeRegion>,
    counterexample: Option<Counterexample>,
}

struct Search<'a> {
    net: &'a ReluNet,
    /// `Wᵀ` of every layer, to advance the maps (kept transposed, neuron per column).
    transposed: Vec<DMatrix<f64>>,
    options: &'a Options,
    filter: Option<Filter<'a>>,
    finisher: Finisher<'a>,
    deadline: Option<Instant>,
    stop: AtomicBool,
    timed_out: AtomicBool,
    counters: Counters,
    found: Mutex<Found>,
}

/// One set under exploration.
struct Branch<'a> {
    poly: Polytope,
    /// Layer whose pre-activations `mt`, `bias` describe.
    layer: usize,
    /// Which neurons of `layer` are decided; their columns hold post-activations.
    decided: Vec<bool>,
    /// `free inputs × neurons`: column `j` is neuron `j`'s normal in input space.
    mt: DMatrix<f64>,
    bias: DVector<f64>,
    /// Unsafe disjuncts not yet ruled out for this set.
    alive: Vec<usize>,
    /// Whether the filter should look at this set before it goes on.
    check: bool,
    _live: Live<'a>,
}

/// Accounts a branch in the live-set statistics for as long as it exists.
struct Live<'a> {
    counters: &'a Counters,
    bytes: u64,
}

impl<'a> Live<'a> {
    fn new(counters: &'a Counters, bytes: u64) -> Self {
        counters.sets.fetch_add(1, Ordering::Relaxed);
        let sets = counters.live_sets.fetch_add(1, Ordering::Relaxed) + 1;
        let total = counters.live_bytes.fetch_add(bytes, Ordering::Relaxed) + bytes;
        counters.peak_sets.fetch_max(sets, Ordering::Relaxed);
        counters.peak_bytes.fetch_max(total, Ordering::Relaxed);
        Self { counters, bytes }
    }
}

impl Drop for Live<'_> {
    fn drop(&mut self) {
        self.counters.live_sets.fetch_sub(1, Ordering::Relaxed);
        self.counters
            .live_bytes
            .fetch_sub(self.bytes, Ordering::Relaxed);
    }
}

impl<'a> Search<'a> {
    fn branch(
        &'a self,
        poly: Polytope,
        layer: usize,
        mt: DMatrix<f64>,
        bias: DVector<f64>,
        alive: Vec<usize>,
    ) -> Branch<'a> {
        let bytes = poly.bytes() + 8 * (mt.len() + bias.len() + alive.len());
        self.show_progress();
        Branch {
            poly,
            layer,
            decided: vec![false; bias.len()],
            mt,
            bias,
            alive,
            check: true,
            _live: Live::new(&self.counters, bytes as u64),
        }
    }

    /// Refreshes the progress message every [`PROGRESS_EVERY`] sets.
    fn show_progress(&self) {
        let Some(bar) = &self.options.progress else {
            return;
        };
        let c = &self.counters;
        let sets = c.sets.load(Ordering::Relaxed);
        if sets.is_multiple_of(PROGRESS_EVERY) {
            let regions = self.found.lock().map_or(0, |found| found.regions.len());
            bar.set_message(format!(
                "{sets} sets, {} filtered, {} linear pieces, {regions} unsafe regions",
                c.filtered.load(Ordering::Relaxed),
                c.leaves.load(Ordering::Relaxed),
            ));
        }
    }

    fn should_stop(&self) -> bool {
        if self.stop.load(Ordering::Relaxed) {
            return true;
        }
        if self.deadline.is_some_and(|d| Instant::now() >= d) {
            self.timed_out.store(true, Ordering::Relaxed);
            self.stop.store(true, Ordering::Relaxed);
            return true;
        }
        false
    }

    fn explore(&'a self, mut b: Branch<'a>) {
        let last = self.net.layers().len() - 1;
        let vertices = b.poly.vertex_matrix();
        loop {
            if self.should_stop() {
                return;
            }
            if b.layer == last {
                self.counters.leaves.fetch_add(1, Ordering::Relaxed);
                self.finish(&b);
                return;
            }
            // The layer's pre-activations (less the bias) at every vertex, in one product.
            let values = &vertices * &b.mt;
            let mut influence = None;
            if b.check {
                b.check = false;
                if let Some(filter) = &self.filter {
                    let at = At {
                        vertices: &vertices,
                        values: &values,
                        layer: b.layer,
                        decided: &b.decided,
                        mt: &b.mt,
                        bias: &b.bias,
                    };
                    let filtered = filter.alive(&at, &b.alive);
                    if filtered.alive.is_empty() {
                        self.counters.filtered.fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                    b.alive = filtered.alive;
                    influence = Some(filtered.influence);
                }
            }
            while let Some(j) = self.screen(&mut b, &values, influence.as_deref()) {
                let column = shifted(&values, j, b.bias[j]);
                let dim = b.mt.nrows();
                let normal = &b.mt.as_slice()[j * dim..(j + 1) * dim];
                match b.poly.split_values(&column, normal, b.bias[j]) {
                    Split::NonPositive => decide(&mut b, j, false),
                    Split::NonNegative => decide(&mut b, j, true),
                    Split::Both { neg, pos } => {
                        // Only the children live on while they are explored.
                        drop((values, vertices, column));
                        let (mut off, mut on) = self.children(b, *neg, *pos);
                        decide(&mut off, j, false);
                        decide(&mut on, j, true);
                        let (first, second) = self.order(off, on);
                        if !self.should_stop() {
                            rayon::join(|| self.explore(first), || self.explore(second));
                        }
                        return;
                    }
                }
            }
            let next = &self.net.layers()[b.layer + 1];
            b.mt = &b.mt * &self.transposed[b.layer + 1];
            b.bias = &next.weights * &b.bias + &next.bias;
            b.layer += 1;
            b.decided = vec![false; b.bias.len()];
            b.check = true;
        }
    }

    /// Decides every neuron of the layer whose sign is fixed on the set, and returns the
    /// straddling neuron to split next, if any: the one whose relaxation costs the filter's
    /// bounds most (largest relaxation gap `u·(−l)/(u − l)`, weighted by its influence on
    /// the surviving unsafe disjuncts). Splitting it first gives the filter its best chance
    /// to drop the children; the order does not change the final linear pieces.
    fn screen(
        &self,
        b: &mut Branch<'a>,
        values: &DMatrix<f64>,
        influence: Option<&[f64]>,
    ) -> Option<usize> {
        let mut best: Option<(f64, usize)> = None;
        for j in 0..b.bias.len() {
            if b.decided[j] {
                continue;
            }
            let column = shifted(values, j, b.bias[j]);
            let dim = b.mt.nrows();
            let normal = &b.mt.as_slice()[j * dim..(j + 1) * dim];
            match b.poly.side(&column, normal, b.bias[j]) {
                Side::NonPositive => decide(b, j, false),
                Side::NonNegative => decide(b, j, true),
                Side::Straddles => {
                    let (l, u) = column
                        .iter()
                        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, u), &v| {
                            (l.min(v), u.max(v))
                        });
                    let gap = u * -l / (u - l);
                    let score = gap * influence.map_or(1.0, |w| w[j]);
                    if best.is_none_or(|(s, _)| score > s) {
                        best = Some((score, j));
                    }
                }
            }
        }
        best.map(|(_, j)| j)
    }

    /// The two children of a split (the caller decides the split neuron in each).
    fn children(&'a self, b: Branch<'a>, neg: Polytope, pos: Polytope) -> (Branch<'a>, Branch<'a>) {
        let Branch {
            layer,
            decided,
            mt,
            bias,
            alive,
            ..
        } = b;
        let mut off = self.branch(neg, layer, mt.clone(), bias.clone(), alive.clone());
        let mut on = self.branch(pos, layer, mt, bias, alive);
        off.decided.clone_from(&decided);
        on.decided = decided;
        (off, on)
    }

    fn finish(&self, b: &Branch<'_>) {
        for &k in &b.alive {
            let Some(found) = self.finisher.region(&b.poly, &b.mt, &b.bias, k) else {
                continue;
            };
            self.record(Some(found.region), found.counterexample);
        }
    }

    /// In verification, probes both children (a counterexample stops the search) and puts
    /// the one whose centroid is deeper in the unsafe set first: depth-first search then
    /// heads for violations. In repair every set is explored anyway: no probing.
    fn order(&self, off: Branch<'a>, on: Branch<'a>) -> (Branch<'a>, Branch<'a>) {
        if self.options.mode != Mode::FirstCounterexample {
            return (off, on);
        }
        let (depth_off, cex) = self.finisher.probe(&off.poly);
        let (depth_on, cex) = match cex {
            Some(cex) => (0.0, Some(cex)),
            None => self.finisher.probe(&on.poly),
        };
        if cex.is_some() {
            self.record(None, cex);
        }
        if depth_on > depth_off {
            (on, off)
        } else {
            (off, on)
        }
    }

    /// Stores a region and/or a confirmed counterexample; the first counterexample stops a
    /// verification.
    fn record(&self, region: Option<UnsafeRegion>, counterexample: Option<Counterexample>) {
        let mut guard = self.found.lock().unwrap_or_else(|e| e.into_inner());
        if guard.counterexample.is_none() {
            guard.counterexample = counterexample;
        }
        guard.regions.extend(region);
        if guard.counterexample.is_some() && self.options.mode == Mode::FirstCounterexample {
            self.stop.store(true, Ordering::Relaxed);
        }
    }

    fn result(self, start: Instant) -> ReachResult {
        let c = &self.counters;
        let stats = Stats {
            seconds: 0.0,
            sets: c.sets.load(Ordering::Relaxed),
            filtered: c.filtered.load(Ordering::Relaxed),
            leaves: c.leaves.load(Ordering::Relaxed),
            peak_live_sets: c.peak_sets.load(Ordering::Relaxed),
            peak_live_bytes: c.peak_bytes.load(Ordering::Relaxed),
            attack_found: false,
        };
        let timed_out = self.timed_out.load(Ordering::Relaxed);
        let found = self.found.into_inner().unwrap_or_else(|e| e.into_inner());
        let mut regions = found.regions;
        regions.sort_by(|a, b| {
            a.vertices
                .partial_cmp(&b.vertices)
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        let (verdict, note) = match (&found.counterexample, timed_out, regions.is_empty()) {
            (Some(_), _, _) => (Verdict::Unsafe, None),
            (None, true, _) => (Verdict::Unknown, Some("timed out".to_string())),
            (None, false, true) => (Verdict::Safe, None),
            (None, false, false) => (
                Verdict::Unknown,
                Some(format!(
                    "{} region(s) reach the unsafe set only within the rounding tolerance; no counterexample confirmed",
                    regions.len()
                )),
            ),
        };
        finished(start, stats, verdict, found.counterexample, regions, note)
    }
}
