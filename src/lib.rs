//! saferl: train reinforcement-learning agents that are provably safe.
//!
//! Data flows one way: environment → [`rl`] → [`nn`] → (reachability, repair) → [`log`].
//! The [`cli`] module is the `saferl` binary's front end.

pub mod atomic;
pub mod checkpoint;
pub mod cli;
pub mod config;
pub mod eval;
pub mod log;
pub mod nn;
pub mod reach;
pub mod render;
pub mod repair;
pub mod rl;
pub mod run;
pub mod spec;
pub mod train;
pub mod verify;

pub use saferl_envs as envs;
