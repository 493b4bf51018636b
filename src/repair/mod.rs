//! Repair of an unsafe network.
//!
//! Repair of an unsafe actor with reachability-guided penalized episodes
//! (reachability-repair paper, sections 3.3, 4.1 and 6.2, Algorithm 2).
//!
//! Exact reachability finds every unsafe input region of the actor ([`check`]); their
//! vertices ([`select`]) become start states of short greedy episodes in which an unsafe
//! action is penalized ([`episodes`]); a round repeats this until the actor is verified
//! safe and its return is kept ([`round`]). The trainer runs rounds between training
//! episodes, `saferl repair` runs one on a trained agent ([`offline`]).
//!
//! Gradient repair cannot guarantee the constraints; the MIQP layer patch ([`patch`],
//! NNRepLayer) re-solves one layer so that every given sample satisfies them, and its
//! loop with the verifier extends that to the whole property domain.

pub mod agent;
pub mod check;
pub mod episodes;
pub mod log;
pub mod offline;
pub mod patch;
pub mod round;
pub mod select;

pub use check::{CheckError, SafetyCheck};
pub use round::{
    Advance, Outcome, PassReport, RepairError, RepairState, Repairer, RoundReport, RoundResult,
};
