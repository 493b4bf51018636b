//! How repair shows itself: TensorBoard scalars, one JSON line per pass and per round in
//! `repair.jsonl`, and a one-line summary per round for the terminal.
//!
//! A resumed run rolls both logs back to its checkpoint ([`roll_back`],
//! [`scalar_covered`]): pass records and scalars are numbered by the pass count, round
//! records by the round count, and the checkpoint holds both counts.

use crate::repair::penalized::SafetyCheck;
use crate::repair::penalized::{PassReport, RepairState, RoundReport};
use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The `event` of a pass record, numbered by its `pass` field…
const PASS_EVENT: &str = "repair/pass";
/// …and of a round record, numbered by its `round` field.
const ROUND_EVENT: &str = "repair/round";
/// What the tags of [`pass_scalars`] start with: they are indexed by pass, not by
/// environment step.
const PASS_SCALAR_PREFIX: &str = "repair/pass_";

/// The repair log of a run directory.
pub fn jsonl_path(run_dir: &Path) -> PathBuf {
    run_dir.join("repair.jsonl")
}

/// Appends a pass record to `repair.jsonl`.
pub fn append_pass(run_dir: &Path, pass: &PassReport) -> std::io::Result<()> {
    append(run_dir, PASS_EVENT, pass)
}

/// Appends a round record to `repair.jsonl`.
pub fn append_round(run_dir: &Path, round: &RoundReport) -> std::io::Result<()> {
    append(run_dir, ROUND_EVENT, round)
}

/// Drops the records of `repair.jsonl` that `state` (a checkpoint's) does not cover:
/// passes and rounds logged after it, which the resumed run redoes, and a line torn by a
/// crash.
pub fn roll_back(run_dir: &Path, state: &RepairState) -> std::io::Result<()> {
    crate::session::log::keep_lines(&jsonl_path(run_dir), |line| {
        let Ok(record) = serde_json::from_str::<serde_json::Value>(line) else {
            return false;
        };
        let (count, done) = match record["event"].as_str() {
            Some(PASS_EVENT) => (&record["pass"], state.passes),
            Some(ROUND_EVENT) => (&record["round"], state.rounds),
            _ => return false,
        };
        count.as_u64().is_some_and(|n| n <= done)
    })
}

/// Whether a checkpoint at `env_steps` with repair progress `state` covers a
/// `scalars.csv` row: pass scalars count passes, every other scalar environment steps.
pub fn scalar_covered(tag: &str, step: u64, env_steps: u64, state: &RepairState) -> bool {
    if tag.starts_with(PASS_SCALAR_PREFIX) {
        step <= state.passes
    } else {
        step <= env_steps
    }
}

/// Appends `{"event": event, ...record}` as one line to `repair.jsonl`.
fn append(run_dir: &Path, event: &str, record: &impl Serialize) -> std::io::Result<()> {
    let mut value = serde_json::to_value(record).map_err(std::io::Error::other)?;
    value["event"] = serde_json::Value::from(event);
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(jsonl_path(run_dir))?;
    // One write per line, so a crash can tear at most the last line.
    file.write_all(format!("{value}\n").as_bytes())?;
    file.flush()
}

/// The safety of the actor as reachability found it, logged at every round.
pub fn safety_scalars(check: &SafetyCheck) -> Vec<(&'static str, f64)> {
    vec![
        ("safety/unsafe_regions", check.regions() as f64),
        ("safety/unsafe_vertices", check.vertices() as f64),
        ("safety/unsafe_volume_fraction", check.volume_fraction()),
        ("safety/verified", f64::from(u8::from(check.verified()))),
        ("perf/reach_s", check.seconds),
    ]
}

/// One repair pass, indexed by the pass count.
pub fn pass_scalars(pass: &PassReport) -> Vec<(&'static str, f64)> {
    let mut scalars = vec![
        ("repair/pass_unsafe_regions", pass.unsafe_regions as f64),
        ("repair/pass_penalized_steps", pass.penalized_steps as f64),
        ("repair/pass_reach_s", pass.reach_s),
        ("repair/pass_s", pass.seconds),
    ];
    scalars.extend(pass.return_mean.map(|r| ("repair/pass_return", r)));
    scalars
}

/// One finished round.
pub fn round_scalars(report: &RoundReport) -> Vec<(&'static str, f64)> {
    vec![
        ("repair/round", report.round as f64),
        ("repair/verified", f64::from(u8::from(report.verified))),
        ("repair/unsafe_regions", report.unsafe_regions as f64),
        ("repair/passes", report.passes as f64),
        ("repair/penalized_steps", report.penalized_steps as f64),
        ("repair/return_change_ratio", report.return_change_ratio),
        ("repair/wall_s", report.wall_s),
    ]
}

/// The terminal line of a round.
pub fn round_line(report: &RoundReport) -> String {
    format!(
        "repair round {}: {:?} ({}), {} unsafe regions before, {} after; {} passes, {} penalized steps; return {:.2} -> {:.2} (change {:+.3}); {:.1} s ({:.1} s reachability)",
        report.round,
        report.outcome,
        report.verdicts,
        report.regions_before,
        report.unsafe_regions,
        report.passes,
        report.penalized_steps,
        report.baseline_return,
        report.final_return,
        report.return_change_ratio,
        report.wall_s,
        report.reach_s
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roll_back_keeps_exactly_the_records_the_checkpoint_covers() {
        let dir = tempfile::tempdir().unwrap();
        let lines = [
            r#"{"event":"repair/pass","pass":1}"#,
            r#"{"event":"repair/pass","pass":2}"#,
            r#"{"event":"repair/round","round":1}"#,
            r#"{"event":"repair/pass","pass":3}"#,
            r#"{"event":"repair/pass","pass":4}"#,
            r#"{"event":"repair/round","round":2}"#,
            r#"{"event":"repair/pa"#,
        ];
        std::fs::write(jsonl_path(dir.path()), lines.join("\n")).unwrap();
        let mut state = RepairState::new(1, 1, 1);
        (state.passes, state.rounds) = (3, 1);
        roll_back(dir.path(), &state).unwrap();
        let kept = std::fs::read_to_string(jsonl_path(dir.path())).unwrap();
        assert_eq!(kept, format!("{}\n", lines[..4].join("\n")));
        // Nothing to roll back in a run without repair.
        let empty = tempfile::tempdir().unwrap();
        roll_back(empty.path(), &state).unwrap();
        assert!(!jsonl_path(empty.path()).exists());
    }

    #[test]
    fn pass_scalars_are_rolled_back_by_pass_and_the_others_by_step() {
        let mut state = RepairState::new(1, 1, 1);
        state.passes = 4;
        let pass = PassReport {
            pass: 5,
            phase: crate::repair::penalized::round::Phase::Penalize,
            verified: false,
            unsafe_regions: 0,
            unsafe_vertices: 0,
            start_states: 0,
            episodes: 0,
            penalized_steps: 0,
            skipped: 0,
            updates: 0,
            return_mean: Some(1.0),
            reach_s: 0.0,
            seconds: 0.0,
        };
        for (tag, _) in pass_scalars(&pass) {
            assert!(scalar_covered(tag, 4, 0, &state), "{tag}");
            assert!(!scalar_covered(tag, 5, 1000, &state), "{tag}");
        }
        assert!(scalar_covered("repair/round", 1000, 1000, &state));
        assert!(!scalar_covered("repair/round", 1001, 1000, &state));
        assert!(!scalar_covered("train/episode_return", 5, 4, &state));
    }
}
