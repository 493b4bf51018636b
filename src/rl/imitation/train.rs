//! Minibatch Adam on standardized data, reported in raw units.

use std::time::Instant;

use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Device, Tensor, TensorData};
use indicatif::ProgressBar;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use super::normalize::{Standardizer, fold};
use crate::data::Dataset;
use crate::nn::{Mlp, ReluNet};
use crate::rl::{Backend, training_device};
use serde::{Deserialize, Serialize};

/// Minibatch Adam on the mean squared error of the standardized targets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FitOptions {
    pub epochs: usize,
    pub batch_size: usize,
    pub learning_rate: f64,
}

impl Default for FitOptions {
    fn default() -> Self {
        Self {
            epochs: 20,
            batch_size: 32,
            learning_rate: 1e-3,
        }
    }
}

/// How well the fitted network imitates, in the targets' raw units.
#[derive(Debug, Clone, Serialize)]
pub struct FitReport {
    pub epochs: usize,
    pub train_samples: usize,
    pub test_samples: usize,
    pub train_mae: f64,
    pub test_mae: f64,
    /// Test MAE of always predicting the training targets' mean: what "learned
    /// something" is measured against.
    pub test_mae_of_mean: f64,
    pub wall_time_s: f64,
}

/// Trains a ReLU MLP from `train` and returns it with the standardization folded in (it
/// reads and writes raw units), reporting `fit/train_mse`, `fit/train_mae` and
/// `fit/test_mae` per epoch (step = epoch) to `log`, whose error stops the fit.
#[allow(clippy::too_many_arguments)] // the fit's inputs, each of its own kind
pub fn fit<E>(
    options: &FitOptions,
    hidden: &[usize],
    seed: u64,
    backend: Backend,
    train: &Dataset,
    test: &Dataset,
    progress: &ProgressBar,
    log: &mut dyn FnMut(&str, f64, u64) -> Result<(), E>,
) -> Result<(ReluNet, FitReport), E> {
    let started = Instant::now();
    let device = training_device(backend);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let inp = Standardizer::fit(train.inputs());
    let out = Standardizer::fit(train.targets());
    let (n_in, n_out) = (train.input_dim(), train.target_dim());
    let x = flat_f32(train.inputs().iter().map(|r| inp.apply(r)));
    let y = flat_f32(train.targets().iter().map(|r| out.apply(r)));

    let sizes: Vec<usize> = std::iter::once(n_in)
        .chain(hidden.iter().copied())
        .chain(std::iter::once(n_out))
        .collect();
    let last_fan_in = sizes[sizes.len() - 2] as f64;
    let mut model = Mlp::init(&sizes, 1.0 / last_fan_in.sqrt(), &mut rng, &device);
    let mut optim = AdamConfig::new().init();
    let mut order: Vec<usize> = (0..train.len()).collect();
    let batch_size = options.batch_size.min(train.len());
    progress.set_length(options.epochs as u64);

    // The folded network and its errors after the latest epoch.
    let mut fitted = None;
    for epoch in 1..=options.epochs {
        order.shuffle(&mut rng);
        let mut squared = 0.0;
        for batch in order.chunks(batch_size) {
            let xb = gather(&x, batch, n_in, &device);
            let yb = gather(&y, batch, n_out, &device);
            let loss = (model.forward(xb) - yb).powi_scalar(2).mean();
            squared += f64::from(loss.clone().into_scalar::<f32>()) * batch.len() as f64;
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(options.learning_rate, model, grads);
        }
        let net = fold(&model.to_relu_net(), &inp, &out);
        let (train_mae, test_mae) = (mae(&net, train), mae(&net, test));
        let step = epoch as u64;
        log("fit/train_mse", squared / train.len() as f64, step)?;
        log("fit/train_mae", train_mae, step)?;
        log("fit/test_mae", test_mae, step)?;
        progress.set_message(format!("train MAE {train_mae:.3}, test MAE {test_mae:.3}"));
        progress.inc(1);
        fitted = Some((net, train_mae, test_mae));
    }
    let (net, train_mae, test_mae) = fitted.unwrap_or_else(|| {
        // No epoch (a config built in code with 0 epochs): the untrained network.
        let net = fold(&model.to_relu_net(), &inp, &out);
        let errors = (mae(&net, train), mae(&net, test));
        (net, errors.0, errors.1)
    });
    let report = FitReport {
        epochs: options.epochs,
        train_samples: train.len(),
        test_samples: test.len(),
        train_mae,
        test_mae,
        test_mae_of_mean: mean_predictor_mae(&out.mean, test),
        wall_time_s: started.elapsed().as_secs_f64(),
    };
    Ok((net, report))
}

fn flat_f32(rows: impl Iterator<Item = Vec<f64>>) -> Vec<f32> {
    rows.flatten().map(|v| v as f32).collect()
}

/// The rows `indices` of a row-major `values` matrix with `cols` columns, as a tensor.
fn gather(values: &[f32], indices: &[usize], cols: usize, device: &Device) -> Tensor<2> {
    let data: Vec<f32> = indices
        .iter()
        .flat_map(|&i| values[i * cols..(i + 1) * cols].iter().copied())
        .collect();
    Tensor::from_data(TensorData::new(data, [indices.len(), cols]), device)
}

/// Mean absolute error of `net` over every target component of `data`.
pub fn mae(net: &ReluNet, data: &Dataset) -> f64 {
    let total: f64 = data
        .inputs()
        .iter()
        .zip(data.targets())
        .map(|(x, t)| {
            net.forward(x)
                .iter()
                .zip(t)
                .map(|(y, t)| (y - t).abs())
                .sum::<f64>()
        })
        .sum();
    total / (data.len() * data.target_dim()).max(1) as f64
}

fn mean_predictor_mae(mean: &[f64], data: &Dataset) -> f64 {
    let total: f64 = data
        .targets()
        .iter()
        .map(|t| t.iter().zip(mean).map(|(t, m)| (t - m).abs()).sum::<f64>())
        .sum();
    total / (data.len() * data.target_dim()).max(1) as f64
}
