//! Supervised imitation: fitting a ReLU policy to recorded demonstrations (`saferl fit`).
//!
//! The MIQP patch experiments (NNRepLayer, section 4) start from a prosthesis policy
//! trained by imitation on recorded walking: windows of thigh and shank IMU readings in,
//! the next ankle angle out. This module turns the recordings into a [`Dataset`], trains
//! the network with Burn, and exports a [`ReluNet`](crate::nn::ReluNet) that reads *raw*
//! sensor units (the z-scoring is folded into its first and last layers), so properties
//! and repair constraints are written in degrees, as the paper states them.

pub mod config;
pub mod dataset;
pub mod gait;
mod job;
mod normalize;
mod train;

pub use config::FitConfig;
pub use dataset::{DataError, Dataset};
pub use job::{FitError, run_fit};
pub use normalize::Standardizer;
pub use train::{FitReport, fit, mae};
