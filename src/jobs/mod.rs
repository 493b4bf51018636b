//! What each subcommand does: thin compositions of the library layers that own the run
//! directories, the output files and the reports.

pub mod fit;
pub mod patch_log;
pub mod patch_net;
pub mod patch_run;
pub mod render;
pub mod repair;
pub mod train;
pub mod verify;
