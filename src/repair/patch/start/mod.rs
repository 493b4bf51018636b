//! First incumbents of the patch search: where the original activation pattern cannot
//! hold the samples, projected gradient descent picks another ([`descent`]); local search
//! over activation patterns improves and mends a pattern by fixed-pattern LPs
//! ([`local_search`]).

pub mod descent;
pub mod local_search;
