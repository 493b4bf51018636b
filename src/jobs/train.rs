//! `saferl train`: trains a run to its episode count (with repair rounds when the config
//! enables them), then, with `[patch] enabled`, patches the final actor; writes
//! `summary.json`.

use super::patch_log::round_line;
use super::patch_run::{ActorPatchReport, patch_actor};
use crate::session::run::RunError;
use crate::session::trainer::{TrainStats, Trainer};
use indicatif::ProgressBar;
use serde::Serialize;

/// What a finished run reports (also written to `summary.json`).
#[derive(Debug, Clone, Serialize)]
pub struct TrainSummary {
    #[serde(flatten)]
    pub training: TrainStats,
    /// The patch of the final actor, with `[patch] enabled = true`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patch: Option<ActorPatchReport>,
}

/// Trains `trainer`'s run to its end, patches the final actor if the config asks for it
/// (the trained actor stays in the checkpoint; the patched one is `patched-actor.nnet`),
/// and writes `summary.json`.
pub fn train(trainer: &mut Trainer, progress: &ProgressBar) -> Result<TrainSummary, RunError> {
    let training = trainer.run(progress)?;
    let patch = if trainer.opened_run().config.patch.enabled {
        let run = trainer.opened_run().clone();
        let policy = trainer.agent().policy();
        let states = trainer.replay_states();
        let report = patch_actor(
            &run,
            run.checkpoint_path(),
            &policy,
            states,
            trainer.metrics(),
            progress,
            &mut |round| progress.println(round_line(round)),
        )
        .map_err(|e| RunError::Invalid(format!("patch: {e}")))?;
        Some(report)
    } else {
        None
    };
    let summary = TrainSummary { training, patch };
    let path = trainer.opened_run().dir.join("summary.json");
    let json = serde_json::to_string_pretty(&summary).expect("summary serializes");
    crate::atomic::write(&path, json.as_bytes()).map_err(|e| RunError::io(&path, e))?;
    Ok(summary)
}
