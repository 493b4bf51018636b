//! The TOML file of `saferl patch --config`: the constraints Ψ and the patch settings.
//!
//! ```toml
//! [patch]
//! layer = 2            # index into the network's layers (0 = first); default: the last
//! samples = 150        # repair samples drawn from the data
//! test = 2000          # held-out test samples
//! violating_share = 0.75
//! lambda = 1.0         # weight of δ in the objective
//! max_change = 1.0     # largest change of one weight (bounds δ; big-M needs it finite)
//! time_limit = 300.0   # seconds per patch
//! gap = 0.01
//! max_rounds = 5       # patch-and-verify rounds
//! verifier = "milp"    # "milp": over the test data's bounding box; "reach": exact
//!                      # reachability on each constraint's (bounded) condition box;
//!                      # "off": a single patch
//!
//! [[constraint]]
//! name = "ankle-max"
//! unsafe = [["y0 >= 10"]]                 # union of conjunctions over x and y
//!
//! [[constraint]]
//! name = "femur-box"
//! lower = [-2.0, -inf, …]                 # optional input condition box
//! upper = [-0.5, inf, …]
//! unsafe = [["y0 >= 1", "y0 <= 3"]]
//! ```

use crate::config::{ConfigError, deserialize_toml};
use crate::repair::patch::{LoopOptions, PatchOptions, Verifier};
use crate::spec::Constraint;
use crate::spec::InputSet;
use crate::spec::constraint::parse_joint_inequality;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::Duration;

/// The whole file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchConfig {
    #[serde(default)]
    pub patch: PatchSettings,
    #[serde(rename = "constraint")]
    pub constraints: Vec<ConstraintConfig>,
}

/// Patch and loop settings (all optional): the `[patch]` table of a patch config and
/// of a training config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PatchSettings {
    /// Patch the final actor at the end of `saferl train` (training configs only;
    /// `saferl patch` always patches).
    pub enabled: bool,
    pub layer: Option<usize>,
    pub nodes: Option<Vec<usize>>,
    pub samples: usize,
    pub test: usize,
    pub violating_share: f64,
    pub lambda: f64,
    pub max_change: f64,
    pub margin: f64,
    pub clearance: f64,
    pub time_limit: Option<f64>,
    pub gap: f64,
    pub iterations: usize,
    pub max_rounds: usize,
    pub verify_timeout: Option<f64>,
    pub verify_timeout_max: Option<f64>,
    pub max_new_samples: usize,
    pub verifier: VerifierKind,
    pub seed: u64,
}

/// Why a run (`patch --run`, `[patch]` in a training config) cannot use the data check.
pub const DATA_VERIFIER_NEEDS_A_DATASET: &str = "key `patch.verifier`: \"data\" needs a dataset (saferl patch --net … --data); a run's properties are verified by \"reach\" or \"milp\"";

/// Which verifier closes the patch loop (see [`crate::repair::patch::Verifier`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VerifierKind {
    /// MILP over the bounding box of the held-out data: every constraint kind, any input
    /// dimension.
    Milp,
    /// Exact reachability: all unsafe regions, but only bounded condition boxes, unsafe
    /// sets over outputs, and small input dimensions.
    Reach,
    /// A falsifier, not a verifier: every non-held-out row of the dataset (`saferl patch
    /// --net … --data` only) is checked and violating rows join the samples. It stops
    /// the loop when no row violates Ψ, but never reports `verified`.
    Data,
    /// One patch, no verification (guarantees hold on the repair samples only).
    Off,
}

impl Default for PatchSettings {
    fn default() -> Self {
        let o = PatchOptions::for_layer(0);
        Self {
            enabled: false,
            layer: None,
            nodes: None,
            samples: 150,
            test: 2000,
            violating_share: 0.75,
            lambda: o.lambda,
            max_change: o.max_change,
            margin: o.margin,
            clearance: o.clearance,
            time_limit: None,
            gap: o.gap,
            iterations: o.iterations,
            max_rounds: 5,
            verify_timeout: None,
            verify_timeout_max: None,
            max_new_samples: 200,
            verifier: VerifierKind::Milp,
            seed: 0,
        }
    }
}

impl PatchSettings {
    /// Checks every setting, naming the key (`patch.…`) of the first bad one.
    pub fn validate(&self) -> Result<(), String> {
        for (key, v) in [
            ("samples", self.samples),
            ("max_rounds", self.max_rounds),
            ("iterations", self.iterations),
        ] {
            crate::config::positive(&format!("patch.{key}"), v)?;
        }
        crate::config::in_range("patch.violating_share", self.violating_share, 0.0, 1.0)?;
        for (key, v, zero_allowed) in [
            ("max_change", self.max_change, false),
            ("gap", self.gap, false),
            ("lambda", self.lambda, true),
            ("margin", self.margin, true),
            ("clearance", self.clearance, true),
        ] {
            if !(v.is_finite() && (v > 0.0 || zero_allowed && v == 0.0)) {
                let expected = if zero_allowed { "≥ 0" } else { "> 0" };
                return Err(format!(
                    "key `patch.{key}`: expected a finite number {expected}, got {v}"
                ));
            }
        }
        for (key, v) in [
            ("time_limit", self.time_limit),
            ("verify_timeout", self.verify_timeout),
            ("verify_timeout_max", self.verify_timeout_max),
        ] {
            if let Some(v) = v
                && !(v.is_finite() && v > 0.0)
            {
                return Err(format!(
                    "key `patch.{key}`: expected a positive number of seconds, got {v}"
                ));
            }
        }
        if let Some(cap) = self.verify_timeout_max {
            match self.verify_timeout {
                None => {
                    return Err("key `patch.verify_timeout_max`: needs `patch.verify_timeout` (the first round's time limit, which it caps as it doubles)".into());
                }
                Some(first) if cap < first => {
                    return Err(format!(
                        "key `patch.verify_timeout_max`: expected at least `patch.verify_timeout` ({first} s), got {cap}"
                    ));
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    /// The loop options for a network with `layers` layers, closed by `verifier` (built
    /// from [`Self::verifier`] by the job, which knows the verification domain).
    pub fn loop_options(&self, layers: usize, verifier: Verifier) -> LoopOptions {
        LoopOptions {
            patch: self.patch_options(layers),
            max_rounds: self.max_rounds,
            verify_timeout: self.verify_timeout.map(Duration::from_secs_f64),
            verify_timeout_max: self.verify_timeout_max.map(Duration::from_secs_f64),
            max_new_samples: self.max_new_samples,
            verifier,
        }
    }

    /// The patch options for a network with `layers` layers.
    pub fn patch_options(&self, layers: usize) -> PatchOptions {
        PatchOptions {
            layer: self.layer.unwrap_or(layers - 1),
            nodes: self.nodes.clone(),
            lambda: self.lambda,
            max_change: self.max_change,
            margin: self.margin,
            clearance: self.clearance,
            time_limit: self.time_limit.map(Duration::from_secs_f64),
            gap: self.gap,
            iterations: self.iterations,
        }
    }
}

/// One constraint: optional input box (missing bounds are unbounded) and unsafe set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConstraintConfig {
    pub name: String,
    pub lower: Option<Vec<f64>>,
    pub upper: Option<Vec<f64>>,
    #[serde(rename = "unsafe")]
    pub unsafe_set: Vec<Vec<String>>,
}

impl PatchConfig {
    /// Reads and checks a patch config.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let config: PatchConfig = deserialize_toml(&text, path)?;
        config.check().map_err(|message| ConfigError::Invalid {
            path: path.to_path_buf(),
            message,
        })?;
        Ok(config)
    }

    fn check(&self) -> Result<(), String> {
        self.patch.validate()?;
        if self.constraints.is_empty() {
            return Err("expected at least one [[constraint]]".into());
        }
        Ok(())
    }

    /// The constraints for a network with `inputs` inputs and `outputs` outputs.
    pub fn constraints(&self, inputs: usize, outputs: usize) -> Result<Vec<Constraint>, String> {
        self.constraints
            .iter()
            .enumerate()
            .map(|(i, c)| {
                c.resolve(inputs, outputs)
                    .map_err(|e| format!("key `constraint[{i}]` ({}): {e}", c.name))
            })
            .collect()
    }
}

impl ConstraintConfig {
    fn resolve(&self, inputs: usize, outputs: usize) -> Result<Constraint, String> {
        let bound = |key: &str, v: &Option<Vec<f64>>, fill: f64| match v {
            None => Ok(vec![fill; inputs]),
            Some(v) if v.len() == inputs => Ok(v.clone()),
            Some(v) => Err(format!(
                "`{key}` has {} numbers, expected {inputs} (one per network input)",
                v.len()
            )),
        };
        let lower = bound("lower", &self.lower, f64::NEG_INFINITY)?;
        let upper = bound("upper", &self.upper, f64::INFINITY)?;
        if let Some(i) = (0..inputs).find(|&i| lower[i] > upper[i] || lower[i].is_nan()) {
            return Err(format!(
                "`lower[{i}]` = {} is above `upper[{i}]` = {}",
                lower[i], upper[i]
            ));
        }
        if self.unsafe_set.is_empty() || self.unsafe_set.iter().any(Vec::is_empty) {
            return Err("`unsafe` must list at least one non-empty conjunction".into());
        }
        let unsafe_set = self
            .unsafe_set
            .iter()
            .map(|conj| {
                conj.iter()
                    .map(|t| parse_joint_inequality(t, inputs, outputs))
                    .collect::<Result<Vec<_>, _>>()
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("`unsafe`: {e}"))?;
        Ok(Constraint {
            name: self.name.clone(),
            condition: InputSet {
                lower,
                upper,
                constraints: vec![],
            },
            unsafe_set,
        })
    }
}
