//! TensorBoard scalars through `tensorboard-rs`.
//!
//! Only `add_scalar` is used: that crate's text, hparams and histogram writers are
//! `unimplemented!()`. TensorBoard merges every event file in a directory into one run,
//! so a resumed run simply opens a new file next to the old ones.

use std::path::Path;
use tensorboard_rs::summary_writer::SummaryWriter;

pub struct TensorBoard {
    writer: SummaryWriter,
}

impl TensorBoard {
    /// Opens a new event file in `dir` (which must exist).
    pub fn open(dir: &Path) -> Self {
        wait_for_unique_file_name(dir);
        Self {
            writer: SummaryWriter::new(dir),
        }
    }

    pub fn scalar(&mut self, tag: &str, value: f64, step: u64) {
        self.writer.add_scalar(tag, value as f32, step as usize);
    }

    pub fn flush(&mut self) {
        self.writer.flush();
    }
}

/// `tensorboard-rs` names files by (second, host, pid) and truncates an existing file of
/// that name; a second writer opened by this process within the same second (a resume
/// right after a short run) would erase the first file. Wait for the next second then.
fn wait_for_unique_file_name(dir: &Path) {
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    };
    let suffix = format!(".{}.0", std::process::id());
    let taken = |secs: u64| {
        let prefix = format!("events.out.tfevents.{secs:010}.");
        std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .any(|entry| {
                let name = entry.file_name().to_string_lossy().into_owned();
                name.starts_with(&prefix) && name.ends_with(&suffix)
            })
    };
    while taken(now()) {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
