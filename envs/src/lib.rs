//! Simulators for saferl, behind one [`Env`] trait.
//!
//! This crate knows nothing about learning: the trainer, verifier and repair code all
//! reach the dynamics only through [`Env`], so a new simulator plugs in without
//! touching them.

pub mod pendulum;
pub mod rocket;
pub mod scene;

pub use pendulum::Pendulum;
pub use rocket::{RocketConfig, RocketLander};

/// Per-dimension bounds of an observation or action vector.
#[derive(Debug, Clone, PartialEq)]
pub struct Bounds {
    pub lower: Vec<f64>,
    pub upper: Vec<f64>,
}

impl Bounds {
    pub fn dim(&self) -> usize {
        self.lower.len()
    }

    /// Clamps every component of `v` into the bounds.
    pub fn clamp(&self, v: &[f64]) -> Vec<f64> {
        v.iter()
            .zip(self.lower.iter().zip(&self.upper))
            .map(|(x, (lo, hi))| x.clamp(*lo, *hi))
            .collect()
    }
}

/// What one simulation step returns.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub observation: Vec<f64>,
    pub reward: f64,
    /// The episode ended inside the task (crash, landing, ...): no bootstrapping past it.
    pub terminated: bool,
    /// The episode was cut by the step limit: the state itself is not terminal.
    pub truncated: bool,
}

/// Why an environment refused a request.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum EnvError {
    #[error("expected a vector of {expected} numbers, got {got}")]
    WrongSize { expected: usize, got: usize },
    #[error("component {index} is {value}, which is not a finite number")]
    NotFinite { index: usize, value: f64 },
    #[error("component {index} = {value} is outside the observation bounds [{lower}, {upper}]")]
    OutOfBounds {
        index: usize,
        value: f64,
        lower: f64,
        upper: f64,
    },
    #[error("{0}")]
    Invalid(String),
}

/// A simulator with continuous observations and actions.
///
/// Episodes are seeded explicitly (`reset(seed)`) so that a run is a pure function of
/// its seed, which is what makes checkpoint/resume reproduce trajectories exactly.
pub trait Env {
    fn observation_bounds(&self) -> Bounds;
    fn action_bounds(&self) -> Bounds;

    /// Starts a new episode whose randomness is fully determined by `seed`.
    fn reset(&mut self, seed: u64) -> Vec<f64>;

    /// Advances one step. Actions outside the bounds are clipped by the environment.
    fn step(&mut self, action: &[f64]) -> Step;

    /// Places the system in the state `observation` describes and starts an episode there.
    ///
    /// Repair starts episodes from the vertices of unsafe input regions, which are given
    /// as observations; this inverts the observation map exactly.
    fn reset_to(&mut self, observation: &[f64]) -> Result<Vec<f64>, EnvError>;

    /// What the current state looks like, for rendering; `None` if this env cannot be drawn.
    fn scene(&self) -> Option<scene::Scene> {
        None
    }

    /// Whether the last episode reached the task's goal (the rocket landed), so training
    /// can report a success rate through `dyn Env`; `None` for tasks without a goal state.
    fn succeeded(&self) -> Option<bool> {
        None
    }
}

/// Checks that `v` has `expected` finite components.
pub fn check_vector(v: &[f64], expected: usize) -> Result<(), EnvError> {
    if v.len() != expected {
        return Err(EnvError::WrongSize {
            expected,
            got: v.len(),
        });
    }
    match v.iter().position(|x| !x.is_finite()) {
        Some(index) => Err(EnvError::NotFinite {
            index,
            value: v[index],
        }),
        None => Ok(()),
    }
}
