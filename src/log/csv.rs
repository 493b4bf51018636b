//! `scalars.csv`: one `tag,step,value` row per scalar, appended as training goes.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;

const HEADER: &str = "tag,step,value";

pub struct ScalarCsv {
    out: BufWriter<File>,
}

impl ScalarCsv {
    /// Opens `path` for appending; with `resume_step`, first rewrites it without the rows
    /// logged after that step (atomically, so a crash keeps the old file).
    pub fn open(path: &Path, resume_step: Option<u64>) -> std::io::Result<Self> {
        if let Some(step) = resume_step
            && path.exists()
        {
            truncate_after(path, step)?;
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

fn truncate_after(path: &Path, step: u64) -> std::io::Result<()> {
    let mut kept = String::new();
    for line in BufReader::new(File::open(path)?).lines() {
        let line = line?;
        let row_step = line.split(',').nth(1).and_then(|s| s.parse::<u64>().ok());
        // Keep the header and every row at or before the checkpoint; a torn last line
        // from a crash has no parsable step and is dropped too.
        if line == HEADER || row_step.is_some_and(|s| s <= step) && line.split(',').count() == 3 {
            kept.push_str(&line);
            kept.push('\n');
        }
    }
    crate::atomic::write(path, kept.as_bytes())
}
