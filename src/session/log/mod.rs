//! Where training curves go: TensorBoard event files and a plain CSV twin.
//!
//! Every scalar is written to both, indexed by the global environment step (repair
//! passes: by pass), so the CSV can be read without TensorBoard and rolled back to a
//! checkpoint on resume.

mod csv;
mod tensorboard;

pub use self::csv::ScalarCsv;
pub use self::tensorboard::TensorBoard;
use std::path::Path;

/// Which `scalars.csv` rows, by `(tag, step)`, a checkpoint covers: a resumed run keeps
/// only those.
pub type Covered<'a> = &'a dyn Fn(&str, u64) -> bool;

/// Writes scalars to TensorBoard and CSV at once.
pub struct Metrics {
    tensorboard: TensorBoard,
    csv: ScalarCsv,
}

impl Metrics {
    /// Opens the logs of `run_dir`. When resuming, `covered(tag, step)` says which CSV
    /// rows the checkpoint covers; the others are dropped (they belong to work the
    /// checkpoint does not contain and will be redone).
    pub fn open(run_dir: &Path, covered: Option<Covered<'_>>) -> std::io::Result<Self> {
        Ok(Self {
            tensorboard: TensorBoard::open(run_dir),
            csv: ScalarCsv::open(&run_dir.join("scalars.csv"), covered)?,
        })
    }

    pub fn scalar(&mut self, tag: &str, value: f64, step: u64) -> std::io::Result<()> {
        self.tensorboard.scalar(tag, value, step);
        self.csv.scalar(tag, value, step)
    }

    /// Pushes buffered records to disk (called at checkpoints and at the end).
    pub fn flush(&mut self) -> std::io::Result<()> {
        self.tensorboard.flush();
        self.csv.flush()
    }
}

/// Rewrites the log at `path`, if there is one, with only the lines `keep` accepts: how a
/// resumed run drops what it logged after its checkpoint. Atomic, so a crash keeps the
/// old file.
pub fn keep_lines(path: &Path, keep: impl Fn(&str) -> bool) -> std::io::Result<()> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    let kept: String = text
        .lines()
        .filter(|line| keep(line))
        .flat_map(|line| [line, "\n"])
        .collect();
    crate::atomic::write(path, kept.as_bytes())
}
