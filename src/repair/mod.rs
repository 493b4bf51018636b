//! Repair of an unsafe network, two ways.
//!
//! - [`penalized`]: reachability-guided penalized episodes (reachability-repair paper,
//!   sections 3.3, 4.1 and 6.2, Algorithm 2): exact reachability finds every unsafe input
//!   region of the actor; their vertices ([`select`]) start short greedy episodes in which
//!   an unsafe action is penalized, until the actor is verified safe with its return kept.
//! - [`patch`]: gradient repair cannot guarantee the constraints; the MIQP layer patch
//!   (NNRepLayer) re-solves one layer so that every given sample satisfies them, and its
//!   loop with a verifier extends that to the whole property domain.
//!
//! Neither knows run directories, logs or the command line: the jobs compose them.

pub mod patch;
pub mod penalized;
pub mod select;
