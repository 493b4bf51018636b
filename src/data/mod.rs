//! Samples and datasets: input/target pairs, their one CSV form (written by `saferl fit`,
//! read by `saferl patch --data`), and the recorded gait the prosthesis policy imitates.

pub mod dataset;
pub mod gait;
pub mod samples;

pub use dataset::{DataError, Dataset};

/// One repair sample: an input and the output the patch should stay close to (the
/// original network's output to keep its behaviour, or a ground-truth label).
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub input: Vec<f64>,
    pub target: Vec<f64>,
}
