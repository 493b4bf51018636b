//! How a patch-and-verify loop shows itself: TensorBoard/CSV scalars and one terminal
//! line per round, the same for `saferl patch --net`, `--run` and the end of training.

use crate::repair::patch::Round;

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
        "round {}: {} samples, {} (objective {:.4}, gap {:.2}%, δ {:.4}) in {:.1} s; verify: {} ({} unsafe regions, {} new samples) in {:.1} s{}",
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
        r.verify_seconds,
        // The limit changes when it escalates, so it is shown.
        r.verify_timeout
            .map_or(String::new(), |t| format!(" (limit {t:.0} s)"))
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repair::patch::PatchStatus;

    #[test]
    fn the_line_shows_the_verification_time_limit_when_there_is_one() {
        let mut round = Round {
            round: 3,
            samples: 170,
            status: PatchStatus::Optimal,
            objective: 1.0,
            gap: 0.0,
            delta: 0.5,
            patch_seconds: 0.1,
            verify_seconds: 60.0,
            verify_timeout: Some(60.0),
            verdicts: vec![("cap".into(), "unknown".into())],
            unsafe_regions: 0,
            new_samples: 1,
        };
        let line = round_line(&round);
        assert!(line.starts_with("round 3: 170 samples"), "{line}");
        assert!(line.ends_with("in 60.0 s (limit 60 s)"), "{line}");
        round.verify_timeout = None;
        assert!(!round_line(&round).contains("limit"));
    }
}
