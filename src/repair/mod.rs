//! Repairing a network so that it satisfies its safety properties.
pub mod patch;
