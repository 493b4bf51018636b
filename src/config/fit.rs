//! The `saferl fit` configuration (`configs/prosthesis-imitation.toml`).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::{Backend, ConfigError, deserialize_toml, in_range, positive};
use crate::rl::imitation::FitOptions;

/// An imitation-learning job: which demonstrations, which network, how to train it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FitConfig {
    /// Job name: the output directory is `runs/<name>-<timestamp>` unless `--run-dir`.
    pub name: String,
    #[serde(default)]
    pub seed: u64,
    #[serde(default)]
    pub backend: Backend,
    pub data: DataConfig,
    #[serde(default)]
    pub model: ModelConfig,
    #[serde(default)]
    pub fit: FitOptions,
}

/// The demonstrations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum DataConfig {
    /// The recorded prosthesis walking (`data/prosthesis`).
    Prosthesis {
        /// Folder of the recording; a relative path is relative to the config file.
        dir: PathBuf,
        /// Past samples per input (the paper: 10, so 40 inputs).
        #[serde(default = "default_window")]
        window: usize,
        /// The first this many windows train, the rest test (the paper: 18 200).
        #[serde(default = "default_train_windows")]
        train_windows: usize,
        /// Add each sample's ankle angle to the inputs (5 values per sample): the
        /// input-output experiment bounds the change from the last of them.
        #[serde(default)]
        ankle_inputs: bool,
    },
}

fn default_window() -> usize {
    10
}

fn default_train_windows() -> usize {
    18_200
}

/// The network: a ReLU MLP from the inputs to the targets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// Hidden widths (the paper: three layers of 32).
    pub hidden: Vec<usize>,
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self {
            hidden: vec![32, 32, 32],
        }
    }
}

impl FitConfig {
    /// Reads and validates a config; a relative data folder is resolved against the
    /// config's own folder (and stored absolute, so the resolved copy works anywhere).
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let mut config: FitConfig = deserialize_toml(&text, path)?;
        let invalid = |message: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            message,
        };
        config.validate().map_err(invalid)?;
        let DataConfig::Prosthesis { dir, .. } = &mut config.data;
        if dir.is_relative() {
            let base = path.parent().unwrap_or(Path::new("."));
            let joined = base.join(&*dir);
            *dir = std::path::absolute(&joined).unwrap_or(joined);
        }
        Ok(config)
    }

    /// The config as TOML, with every default filled in.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("a FitConfig always serializes")
    }

    fn validate(&self) -> Result<(), String> {
        let DataConfig::Prosthesis {
            window,
            train_windows,
            ..
        } = &self.data;
        positive("data.window", *window)?;
        positive("data.train_windows", *train_windows)?;
        if self.model.hidden.contains(&0) {
            return Err(format!(
                "key `model.hidden`: expected positive widths, got {:?}",
                self.model.hidden
            ));
        }
        positive("fit.epochs", self.fit.epochs)?;
        positive("fit.batch_size", self.fit.batch_size)?;
        in_range(
            "fit.learning_rate",
            self.fit.learning_rate,
            f64::MIN_POSITIVE,
            1.0,
        )
    }
}
