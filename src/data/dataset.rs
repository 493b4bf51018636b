//! Input/target pairs, and their CSV form, which `saferl patch --data` reads
//! ([`crate::data::samples::read_samples`], the one reader of such files).
//!
//! CSV: one header line naming the columns `x0 … x{n−1}` then `t0 … t{m−1}`, then one
//! sample per line.

use std::path::{Path, PathBuf};

/// Why demonstration data (a dataset CSV or a recording) could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} line {line}: {message}")]
    Malformed {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("{window}-sample windows need more than {rows} rows")]
    TooShort { window: usize, rows: usize },
}

impl DataError {
    /// The error of a line of `path`.
    pub fn at(path: &Path, line: usize, message: String) -> Self {
        DataError::Malformed {
            path: path.to_path_buf(),
            line,
            message,
        }
    }
}

/// The text of `path`, or the error naming it.
pub(super) fn read_text(path: &Path) -> Result<String, DataError> {
    std::fs::read_to_string(path).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Samples with equally long inputs and equally long targets.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    inputs: Vec<Vec<f64>>,
    targets: Vec<Vec<f64>>,
}

impl Dataset {
    /// `None` when the counts or the row lengths disagree.
    pub fn new(inputs: Vec<Vec<f64>>, targets: Vec<Vec<f64>>) -> Option<Self> {
        let same = |rows: &[Vec<f64>]| rows.iter().all(|r| r.len() == rows[0].len());
        let consistent = inputs.len() == targets.len()
            && (inputs.is_empty() || (same(&inputs) && same(&targets)));
        consistent.then_some(Self { inputs, targets })
    }

    pub fn len(&self) -> usize {
        self.inputs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.inputs.is_empty()
    }

    pub fn input_dim(&self) -> usize {
        self.inputs.first().map_or(0, Vec::len)
    }

    pub fn target_dim(&self) -> usize {
        self.targets.first().map_or(0, Vec::len)
    }

    pub fn inputs(&self) -> &[Vec<f64>] {
        &self.inputs
    }

    pub fn targets(&self) -> &[Vec<f64>] {
        &self.targets
    }

    /// The first `count` samples and the rest (a split in time for recordings, so test
    /// windows never overlap training windows except at the boundary).
    pub fn split_at(mut self, count: usize) -> (Dataset, Dataset) {
        let count = count.min(self.len());
        let rest = Dataset {
            inputs: self.inputs.split_off(count),
            targets: self.targets.split_off(count),
        };
        (self, rest)
    }

    /// The dataset as CSV text (header, then one sample per line, shortest round-trip
    /// decimal form, so reading it back is exact).
    pub fn to_csv(&self) -> String {
        let header: Vec<String> = (0..self.input_dim())
            .map(|i| format!("x{i}"))
            .chain((0..self.target_dim()).map(|j| format!("t{j}")))
            .collect();
        let mut out = header.join(",") + "\n";
        for (x, t) in self.inputs.iter().zip(&self.targets) {
            let row: Vec<String> = x.iter().chain(t).map(|v| v.to_string()).collect();
            out.push_str(&row.join(","));
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_round_trip_through_the_patch_reader_is_exact() {
        let data = Dataset::new(
            vec![vec![0.1, -1e-300], vec![1.0 / 3.0, 7.0]],
            vec![vec![2.5], vec![-0.7]],
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.csv");
        std::fs::write(&path, data.to_csv()).unwrap();
        let samples = crate::data::samples::read_samples(&path, 2, 1).unwrap();
        let back = Dataset::new(
            samples.iter().map(|s| s.input.clone()).collect(),
            samples.iter().map(|s| s.target.clone()).collect(),
        );
        assert_eq!(back, Some(data));
    }
}
