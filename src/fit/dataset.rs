//! Input/target pairs, and their CSV form (what `saferl patch --data` reads).
//!
//! CSV: one header line naming the columns `x0 … x{n−1}` then `t0 … t{m−1}`, then one
//! sample per line. The header makes the input/target split explicit, so a file cannot be
//! read with the wrong number of inputs by accident.

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

    /// Reads a dataset written by [`Dataset::to_csv`] (or by hand in the same form).
    pub fn read_csv(path: &Path) -> Result<Self, DataError> {
        let text = read_text(path)?;
        let malformed = |line: usize, message: String| DataError::at(path, line, message);
        let mut lines = text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty());
        let (_, header) = lines
            .next()
            .ok_or_else(|| malformed(1, "empty file: expected a header x0,…,t0,…".into()))?;
        let (inputs, targets) = parse_header(header).map_err(|m| malformed(1, m))?;
        let mut data = Dataset {
            inputs: Vec::new(),
            targets: Vec::new(),
        };
        for (index, line) in lines {
            let values: Vec<&str> = line.split(',').map(str::trim).collect();
            if values.len() != inputs + targets {
                return Err(malformed(
                    index + 1,
                    format!(
                        "expected {} values ({inputs} inputs, {targets} targets), found {}",
                        inputs + targets,
                        values.len()
                    ),
                ));
            }
            let mut row = Vec::with_capacity(values.len());
            for text in values {
                let value = text
                    .parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite())
                    .ok_or_else(|| malformed(index + 1, format!("bad number '{text}'")))?;
                row.push(value);
            }
            data.targets.push(row.split_off(inputs));
            data.inputs.push(row);
        }
        Ok(data)
    }
}

/// Counts the `x<i>` and `t<j>` columns of a header, which must be `x0 … t0 …` in order.
fn parse_header(header: &str) -> Result<(usize, usize), String> {
    let names: Vec<&str> = header.split(',').map(str::trim).collect();
    let inputs = names.iter().take_while(|n| n.starts_with('x')).count();
    let targets = names.len() - inputs;
    let expected = (0..inputs)
        .map(|i| format!("x{i}"))
        .chain((0..targets).map(|j| format!("t{j}")));
    if let Some((found, wanted)) = names.iter().zip(expected).find(|(n, e)| **n != e.as_str()) {
        return Err(format!(
            "header: expected column '{wanted}', found '{found}' (columns are x0,…,x(n−1),t0,…,t(m−1))"
        ));
    }
    if inputs == 0 || targets == 0 {
        return Err("header: expected at least one x column and one t column".into());
    }
    Ok((inputs, targets))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_round_trip_is_exact() {
        let data = Dataset::new(
            vec![vec![0.1, -1e-300], vec![1.0 / 3.0, 7.0]],
            vec![vec![2.5], vec![-0.7]],
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.csv");
        std::fs::write(&path, data.to_csv()).unwrap();
        assert_eq!(Dataset::read_csv(&path).unwrap(), data);
    }

    #[test]
    fn malformed_files_name_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.csv");
        for (text, expected) in [
            ("x0,t0\n1,2\n3\n", "line 3: expected 2 values"),
            ("x0,t0\n1,nan\n", "line 2: bad number 'nan'"),
            (
                "x0,y0\n1,2\n",
                "line 1: header: expected column 't0', found 'y0'",
            ),
            (
                "x0,x1\n1,2\n",
                "line 1: header: expected at least one x column",
            ),
            ("", "line 1: empty file"),
        ] {
            std::fs::write(&path, text).unwrap();
            let error = Dataset::read_csv(&path).err().unwrap().to_string();
            assert!(error.contains(expected), "{text:?}: {error}");
        }
    }
}
