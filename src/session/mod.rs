//! A training session and the run directory it lives in: the resolved config, the
//! checkpoint that makes a run resumable bit for bit, the TensorBoard and CSV logs, and
//! the [`trainer::Trainer`] that training and repair both drive.

pub mod checkpoint;
pub mod log;
pub mod repair_log;
pub mod run;
pub mod trainer;
