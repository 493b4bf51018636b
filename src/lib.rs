//! saferl: train reinforcement-learning agents that are provably safe.
//!
//! The library is layered and data flows one way; each module imports only the ones
//! listed before it (checked by `tests/layers.rs`):
//!
//! - [`atomic`]: atomic file writes (a leaf utility every layer may use);
//! - [`spec`]: properties and constraints, their parsers, VNNLIB;
//! - [`nn`]: the ReLU network, the Burn MLP, action scaling and the pre-tanh
//!   restatement of properties, `.nnet` files;
//! - [`data`]: samples and datasets: the CSV reader and writer, the gait recording;
//! - [`verify`]: verdicts, exact reachability, the MILP verifier, unsafe volume;
//! - [`rl`]: DDPG, replay, noise, greedy evaluation, imitation fitting;
//! - [`repair`]: penalized (reachability-guided) episodes and the NNRepLayer patch;
//! - [`config`]: every TOML schema and its validation;
//! - [`session`]: the run directory, checkpoints, logs and the training session;
//! - [`jobs`]: what each subcommand does, composed of the above;
//! - [`cli`]: the `saferl` binary's front end.

pub mod atomic;
pub mod cli;
pub mod config;
pub mod data;
pub mod jobs;
pub mod nn;
pub mod repair;
pub mod rl;
pub mod session;
pub mod spec;
pub mod verify;

pub use saferl_envs as envs;
