//! `scalars.csv`: one `tag,step,value` row per scalar, appended as training goes.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::Path;

const HEADER: &str = "tag,step,value";

pub struct ScalarCsv {
    out: BufWriter<File>,
}

impl ScalarCsv {
    /// Opens `path` for appending; with `covered`, first rewrites it with only the rows
    /// `covered(tag, step)` accepts.
    pub fn open(path: &Path, covered: Option<super::Covered<'_>>) -> std::io::Result<Self> {
        if let Some(covered) = covered {
            // A torn last line from a crash does not parse as a row and is dropped too.
            super::keep_lines(path, |line| {
                line == HEADER || parse_row(line).is_some_and(|(tag, step)| covered(tag, step))
            })?;
        }
        let fresh = !path.exists();
        let mut out = BufWriter::new(OpenOptions::new().create(true).append(true).open(path)?);
        if fresh {
            writeln!(out, "{HEADER}")?;
        }
        Ok(Self { out })
    }

    pub fn scalar(&mut self, tag: &str, value: f64, step: u64) -> std::io::Result<()> {
        writeln!(self.out, "{tag},{step},{value}")
    }

    pub fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// The tag and step of a complete `tag,step,value` row.
fn parse_row(line: &str) -> Option<(&str, u64)> {
    let mut fields = line.split(',');
    let (tag, step, value) = (fields.next()?, fields.next()?, fields.next()?);
    if fields.next().is_some() || value.parse::<f64>().is_err() {
        return None;
    }
    Some((tag, step.parse().ok()?))
}
