//! The whole `saferl fit` job: data → network → output directory.
//!
//! ```text
//! runs/<name>-<timestamp>/
//!   config.toml         the resolved config (data folder made absolute)
//!   model.nnet          the fitted network, raw units in and out; its input bounds are
//!                       the bounding box of all windows (the domain to verify on)
//!   train.csv, test.csv the split, in the CSV form `saferl patch --data` reads
//!   events.out.tfevents.*, scalars.csv   per-epoch fit/train_mse, fit/train_mae, fit/test_mae
//!   summary.json        the final FitReport
//! ```

use std::path::{Path, PathBuf};

use indicatif::ProgressBar;

use crate::config::FitConfig;
use crate::config::fit::DataConfig;
use crate::data::DataError;
use crate::data::gait::GaitRecording;
use crate::nn::nnet::{NnetError, NnetFile, Normalization, write_nnet};
use crate::rl::imitation::{FitReport, fit};
use crate::session::log::Metrics;
use crate::spec::InputSet;

/// Why a fit job failed.
#[derive(Debug, thiserror::Error)]
pub enum FitError {
    #[error(transparent)]
    Data(#[from] DataError),
    #[error(transparent)]
    Nnet(#[from] NnetError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(String),
}

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> FitError + '_ {
    move |source| FitError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Runs `config` into `dir` (created; must not hold another job's output).
pub fn run_fit(
    config: &FitConfig,
    dir: &Path,
    progress: &ProgressBar,
) -> Result<FitReport, FitError> {
    if dir.join("config.toml").exists() {
        return Err(FitError::Invalid(format!(
            "{} already holds a run: choose another --run-dir",
            dir.display()
        )));
    }
    std::fs::create_dir_all(dir).map_err(io_error(dir))?;
    let config_path = dir.join("config.toml");
    crate::atomic::write(&config_path, config.to_toml().as_bytes())
        .map_err(io_error(&config_path))?;

    let DataConfig::Prosthesis {
        dir: data_dir,
        window,
        train_windows,
        ankle_inputs,
    } = &config.data;
    let all = GaitRecording::load(data_dir)?.windows(*window, *ankle_inputs)?;
    if *train_windows >= all.len() {
        return Err(FitError::Invalid(format!(
            "data.train_windows = {train_windows} leaves no test windows: the recording has {} windows",
            all.len()
        )));
    }
    let InputSet { lower, upper, .. } =
        InputSet::bounding_box(all.inputs().iter().map(Vec::as_slice))
            .expect("a recording with more windows than train_windows has windows");
    let (train, test) = all.split_at(*train_windows);

    let mut metrics = Metrics::open(dir, None).map_err(io_error(dir))?;
    let (net, report) = fit(
        &config.fit,
        &config.model.hidden,
        config.seed,
        config.backend,
        &train,
        &test,
        progress,
        &mut |tag, value, step| metrics.scalar(tag, value, step),
    )
    .map_err(io_error(dir))?;
    metrics.flush().map_err(io_error(dir))?;

    for (name, data) in [("train.csv", &train), ("test.csv", &test)] {
        let path = dir.join(name);
        crate::atomic::write(&path, data.to_csv().as_bytes()).map_err(io_error(&path))?;
    }
    let inputs = net.input_dim();
    let file = NnetFile {
        net,
        normalization: Normalization {
            input_min: lower,
            input_max: upper,
            ..Normalization::identity(inputs)
        },
        comments: vec![
            format!("saferl fit: {}, raw units in and out", config.name),
            "input bounds: bounding box of all windows of the recording".to_string(),
        ],
    };
    write_nnet(&dir.join("model.nnet"), &file)?;
    let summary = dir.join("summary.json");
    let json = serde_json::to_string_pretty(&report).expect("a FitReport serializes");
    crate::atomic::write(&summary, json.as_bytes()).map_err(io_error(&summary))?;
    Ok(report)
}
