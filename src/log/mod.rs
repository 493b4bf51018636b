//! Where training curves go: TensorBoard event files and a plain CSV twin.
//!
//! Every scalar is written to both, indexed by the global environment step, so the CSV
//! can be read without TensorBoard and rolled back to a checkpoint on resume.

mod csv;
mod tensorboard;

pub use self::csv::ScalarCsv;
pub use self::tensorboard::TensorBoard;
use std::path::Path;

/// Writes scalars to TensorBoard and CSV at once.
pub struct Metrics {
    tensorboard: TensorBoard,
    csv: ScalarCsv,
}

impl Metrics {
    /// Opens the logs of `run_dir`, dropping CSV rows after `resume_step` when resuming
    /// (they belong to work the checkpoint does not contain and will be redone).
    pub fn open(run_dir: &Path, resume_step: Option<u64>) -> std::io::Result<Self> {
        Ok(Self {
            tensorboard: TensorBoard::open(run_dir),
            csv: ScalarCsv::open(&run_dir.join("scalars.csv"), resume_step)?,
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
