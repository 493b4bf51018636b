//! Supervised imitation: fitting a ReLU policy to recorded demonstrations (`saferl fit`).
//!
//! The MIQP patch experiments (NNRepLayer, section 4) start from a prosthesis policy
//! trained by imitation on recorded walking: windows of thigh and shank IMU readings in,
//! the next ankle angle out. The recordings become a [`crate::data::Dataset`]; this
//! module trains the network with Burn and exports a [`ReluNet`](crate::nn::ReluNet)
//! that reads *raw* sensor units (the z-scoring is folded into its first and last
//! layers), so properties and repair constraints are written in degrees, as the paper
//! states them.

mod normalize;
mod train;

pub use normalize::Standardizer;
pub use train::{FitOptions, FitReport, fit, mae};
