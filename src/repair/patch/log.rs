//! How a patch-and-verify loop shows itself: TensorBoard/CSV scalars and one terminal
//! line per round, the same for `saferl patch --net`, `--run` and the end of training.

use super::Round;

/// The scalars of one round, indexed by the round number.
pub fn round_scalars(round: &Round) -> Vec<(&'static str, f64)> {
    vec![
        ("patch/objective", round.objective),
        ("patch/gap", round.gap),
        ("patch/delta", round.delta),
        ("patch/samples", round.samples as f64),
        ("patch/unsafe_regions", round.unsafe_regions as f64),
        ("patch/seconds", round.patch_seconds),
    ]
}

/// The terminal line of one round.
pub fn round_line(r: &Round) -> String {
    let verdicts: Vec<String> = r.verdicts.iter().map(|(n, v)| format!("{n} {v}")).collect();
    format!(
        "round {}: {} samples, {} (objective {:.4}, gap {:.2}%, δ {:.4}) in {:.1} s; verify: {} ({} unsafe regions, {} new samples) in {:.1} s",
        r.round,
        r.samples,
        r.status,
        r.objective,
        100.0 * r.gap,
        r.delta,
        r.patch_seconds,
        if verdicts.is_empty() {
            "nothing verifiable".to_string()
        } else {
            verdicts.join(", ")
        },
        r.unsafe_regions,
        r.new_samples,
        r.verify_seconds
    )
}
