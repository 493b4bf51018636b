//! Reinforcement learning: DDPG, its replay buffer and exploration noise.

mod ddpg;
mod noise;
mod replay;

pub use ddpg::{Ddpg, DdpgState, Losses, StateError, training_device};
pub use noise::Noise;
pub use replay::{Batch, ReplayBuffer, Transition};
