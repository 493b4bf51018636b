//! Repair with reachability-guided penalized episodes (reachability-repair paper,
//! Algorithm 2).
//!
//! Exact reachability finds every unsafe input region of the actor ([`check`]); their
//! vertices ([`super::select`]) become start states of short greedy episodes in which an
//! unsafe action is penalized ([`episodes`]); a round repeats this until the actor is
//! verified safe and its return is kept ([`round`]). The training session runs rounds
//! between training episodes; `saferl repair` runs one on a trained agent.

pub mod check;
pub mod episodes;
pub mod options;
pub mod round;

pub use check::{CheckError, SafetyCheck};
pub use options::{Penalty, RepairConfig};
pub use round::{
    Advance, Outcome, PassReport, RepairError, RepairState, Repairer, RoundReport, RoundResult,
};
