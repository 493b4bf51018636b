//! Repair and test data for `saferl patch --data`.
//!
//! The CSV has one sample per line: the network's inputs, then its targets (the
//! ground-truth outputs), comma-separated. A first line that is not all numbers is a
//! header and skipped; blank lines are skipped.

use super::Sample;
use crate::nn::ReluNet;
use crate::spec::Constraint;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use std::path::{Path, PathBuf};

/// Why the data file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} line {line}: {message}")]
    Parse {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("{path}: no samples")]
    Empty { path: PathBuf },
}

/// Reads samples with `inputs` input columns followed by `outputs` target columns.
pub fn read_samples(path: &Path, inputs: usize, outputs: usize) -> Result<Vec<Sample>, DataError> {
    let text = std::fs::read_to_string(path).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut samples = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        let values: Result<Vec<f64>, _> = fields.iter().map(|f| f.parse::<f64>()).collect();
        let fail = |message: String| DataError::Parse {
            path: path.to_path_buf(),
            line: i + 1,
            message,
        };
        let values = match values {
            Err(_) if i == 0 => continue, // header
            Err(_) => {
                let bad = fields
                    .iter()
                    .find(|f| f.parse::<f64>().is_err())
                    .unwrap_or(&"");
                return Err(fail(format!("'{bad}' is not a number")));
            }
            Ok(v) => v,
        };
        if values.len() != inputs + outputs {
            return Err(fail(format!(
                "{} columns, expected {} ({inputs} inputs then {outputs} targets)",
                values.len(),
                inputs + outputs
            )));
        }
        if values.iter().any(|v| !v.is_finite()) {
            return Err(fail("a value is not finite".to_string()));
        }
        samples.push(Sample {
            input: values[..inputs].to_vec(),
            target: values[inputs..].to_vec(),
        });
    }
    if samples.is_empty() {
        return Err(DataError::Empty {
            path: path.to_path_buf(),
        });
    }
    Ok(samples)
}

/// Repair samples and held-out test samples.
#[derive(Debug, Clone)]
pub struct Split {
    pub repair: Vec<Sample>,
    pub test: Vec<Sample>,
    /// Every sample not held out (the repair samples among them): what the data check
    /// of the loop scans (empty for a replay buffer's split, which it does not apply to).
    pub pool: Vec<Sample>,
}

/// Shuffles `samples` (seeded), holds out up to `test` of them, and draws `repair` repair
/// samples from the rest: `violating_share` of them among those the network violates Ψ
/// on (as in the paper's repair sets), the others among the rest, topping up from
/// either group when one runs short.
pub fn split(
    net: &ReluNet,
    samples: Vec<Sample>,
    constraints: &[Constraint],
    repair: usize,
    test: usize,
    violating_share: f64,
    seed: u64,
) -> Split {
    let mut samples = samples;
    samples.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(seed));
    let test_count = test.min(samples.len().saturating_sub(1));
    let test_set = samples.split_off(samples.len() - test_count);
    let pool = samples.clone();
    let (violating, safe): (Vec<Sample>, Vec<Sample>) = samples.into_iter().partition(|s| {
        let y = net.forward(&s.input);
        constraints.iter().any(|c| c.violated_by(&s.input, &y))
    });
    let want_violating = ((repair as f64) * violating_share).round() as usize;
    let take_violating = want_violating.min(violating.len());
    let take_safe = (repair - take_violating).min(safe.len());
    let take_violating = (repair - take_safe).min(violating.len());
    let mut chosen: Vec<Sample> = violating.into_iter().take(take_violating).collect();
    chosen.extend(safe.into_iter().take(take_safe));
    Split {
        repair: chosen,
        test: test_set,
        pool,
    }
}
