//! Learning: DDPG with its replay buffer and exploration noise, greedy evaluation of a
//! policy, and supervised imitation (`saferl fit`).

mod backend;
mod ddpg;
pub mod eval;
pub mod imitation;
pub mod noise;
mod replay;

pub use backend::{Backend, training_device};
pub use ddpg::{Ddpg, DdpgOptions, DdpgState, Losses, StateError};
pub use noise::{Noise, NoiseConfig, NoiseKind};
pub use replay::{Batch, ReplayBuffer, Transition};
