//! How repair shows itself: TensorBoard scalars, one JSON line per pass and per round in
//! `repair.jsonl`, and a one-line summary per round for the terminal.

use super::check::SafetyCheck;
use super::round::{PassReport, RoundReport};
use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The repair log of a run directory.
pub fn jsonl_path(run_dir: &Path) -> PathBuf {
    run_dir.join("repair.jsonl")
}

/// Appends `{"event": event, ...record}` as one line to `repair.jsonl`.
pub fn append(run_dir: &Path, event: &str, record: &impl Serialize) -> std::io::Result<()> {
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
