//! The recorded walking data (`data/prosthesis`): three IMUs (femur, shin, foot),
//! each a CSV of `time, angle [deg], angular velocity [deg/s]` rows.

use std::path::Path;

use super::Dataset;
use super::dataset::{DataError, read_text};

/// Sensor files of the recording, in the order femur, shin, foot.
const FILES: [&str; 3] = ["GeoffFTF_1.csv", "GeoffFTF_2.csv", "GeoffFTF_3.csv"];

/// One IMU's angle and angular velocity per sample.
struct Imu {
    angle: Vec<f64>,
    velocity: Vec<f64>,
}

/// The three synchronized IMUs, cut to their common length.
pub struct GaitRecording {
    femur: Imu,
    shin: Imu,
    foot: Imu,
}

impl GaitRecording {
    /// Reads the three sensor files of `dir`. The files differ by a few trailing rows;
    /// every sensor is cut to the shortest (row `i` of each is the same instant).
    pub fn load(dir: &Path) -> Result<Self, DataError> {
        let [femur, shin, foot] = FILES.map(|name| read_imu(&dir.join(name)));
        let (mut femur, mut shin, mut foot) = (femur?, shin?, foot?);
        let rows = femur
            .angle
            .len()
            .min(shin.angle.len())
            .min(foot.angle.len());
        for imu in [&mut femur, &mut shin, &mut foot] {
            imu.angle.truncate(rows);
            imu.velocity.truncate(rows);
        }
        Ok(Self { femur, shin, foot })
    }

    pub fn rows(&self) -> usize {
        self.femur.angle.len()
    }

    /// The ankle angle at every sample: shin angle minus foot angle (both in the world
    /// frame), as the recording's authors define it.
    pub fn ankle(&self) -> Vec<f64> {
        self.shin
            .angle
            .iter()
            .zip(&self.foot.angle)
            .map(|(s, f)| s - f)
            .collect()
    }

    /// The imitation task: input `i` is samples `i … i+window−1` of
    /// `[femur angle, femur velocity, shin angle, shin velocity]` (oldest first, 4 values
    /// per sample; with `with_ankle`, the ankle angle of each sample as a 5th value — the
    /// previous commands that a rate constraint `|y − ankle(t−1)| ≤ Δ` refers to), target
    /// `i` the ankle angle at sample `i + window`, the next command.
    pub fn windows(&self, window: usize, with_ankle: bool) -> Result<Dataset, DataError> {
        let rows = self.rows();
        if window == 0 || rows <= window {
            return Err(DataError::TooShort { window, rows });
        }
        let ankle = self.ankle();
        let sample = |t: usize| {
            let ankle = with_ankle.then_some(ankle[t]);
            [
                self.femur.angle[t],
                self.femur.velocity[t],
                self.shin.angle[t],
                self.shin.velocity[t],
            ]
            .into_iter()
            .chain(ankle)
        };
        let inputs = (0..rows - window)
            .map(|i| (i..i + window).flat_map(sample).collect())
            .collect();
        let targets = (window..rows).map(|t| vec![ankle[t]]).collect();
        Ok(Dataset::new(inputs, targets).expect("windows have consistent shapes"))
    }
}

fn read_imu(path: &Path) -> Result<Imu, DataError> {
    let text = read_text(path)?;
    let mut imu = Imu {
        angle: Vec::new(),
        velocity: Vec::new(),
    };
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let malformed = |message: String| DataError::at(path, index + 1, message);
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        let [_, angle, velocity] = fields.as_slice() else {
            return Err(malformed(format!(
                "expected 3 fields (time, angle, angular velocity), found {}",
                fields.len()
            )));
        };
        let number = |text: &str| {
            text.parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| malformed(format!("bad number '{text}'")))
        };
        imu.angle.push(number(angle)?);
        imu.velocity.push(number(velocity)?);
    }
    Ok(imu)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_recording(dir: &Path, rows: [usize; 3]) {
        for (k, (name, n)) in FILES.iter().zip(rows).enumerate() {
            let text: String = (0..n)
                .map(|t| format!("{},{},{}\n", t as f64 * 0.01, 100 * k + t, -(t as f64)))
                .collect();
            std::fs::write(dir.join(name), text).unwrap();
        }
    }

    #[test]
    fn windows_hold_past_samples_and_the_next_ankle_angle() {
        let dir = tempfile::tempdir().unwrap();
        write_recording(dir.path(), [8, 7, 9]);
        let recording = GaitRecording::load(dir.path()).unwrap();
        assert_eq!(recording.rows(), 7);
        let data = recording.windows(3, false).unwrap();
        assert_eq!(data.len(), 4);
        // Window 1: samples 1, 2, 3 of [femur angle, femur velocity, shin angle, shin velocity].
        assert_eq!(
            data.inputs()[1],
            vec![
                1.0, -1.0, 101.0, -1.0, 2.0, -2.0, 102.0, -2.0, 3.0, -3.0, 103.0, -3.0
            ]
        );
        // Target: ankle (shin − foot angle) at sample 4.
        assert_eq!(data.targets()[1], vec![104.0 - 204.0]);
        // With the ankle as a fifth value per sample: the last one is the previous command.
        let data = recording.windows(3, true).unwrap();
        assert_eq!(data.input_dim(), 15);
        assert_eq!(data.inputs()[1][14], 103.0 - 203.0);
    }

    #[test]
    fn bad_rows_are_named_with_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        write_recording(dir.path(), [5, 5, 5]);
        std::fs::write(dir.path().join(FILES[1]), "0,1,2\n0.1,x,3\n").unwrap();
        let error = GaitRecording::load(dir.path()).err().unwrap().to_string();
        assert!(
            error.contains("GeoffFTF_2.csv line 2: bad number 'x'"),
            "{error}"
        );
        std::fs::write(dir.path().join(FILES[2]), "0,1\n").unwrap();
        write_recording(dir.path(), [5, 5, 0]);
        std::fs::write(dir.path().join(FILES[2]), "0,1\n").unwrap();
        let error = GaitRecording::load(dir.path()).err().unwrap().to_string();
        assert!(
            error.contains("GeoffFTF_3.csv line 1: expected 3 fields"),
            "{error}"
        );
    }
}
