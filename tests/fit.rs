//! `saferl fit` on the recorded prosthesis walking: the fitted policy imitates (far
//! better than predicting the mean), and what it writes is what it reports.

mod common;

use common::{repo_path, saferl};
use saferl::config::FitConfig;
use saferl::data::Dataset;
use saferl::data::samples::read_samples;
use saferl::nn::nnet::read_nnet;
use saferl::rl::imitation::mae;

/// A CSV written by `fit`, read as `saferl patch --data` reads it.
fn read_dataset(path: &std::path::Path, inputs: usize) -> Dataset {
    let samples = read_samples(path, inputs, 1).unwrap();
    Dataset::new(
        samples.iter().map(|s| s.input.clone()).collect(),
        samples.iter().map(|s| s.target.clone()).collect(),
    )
    .unwrap()
}

#[test]
fn fitted_prosthesis_policy_imitates_the_ankle_and_its_files_agree() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("fit");
    let status = saferl()
        .args(["fit", "--config"])
        .arg(repo_path("configs/prosthesis-imitation.toml"))
        .args(["--epochs", "3", "--quiet", "--run-dir"])
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());

    let net = read_nnet(&out.join("model.nnet")).unwrap().net;
    assert_eq!(net.input_dim(), 40);
    let train = read_dataset(&out.join("train.csv"), 40);
    let test = read_dataset(&out.join("test.csv"), 40);
    assert_eq!((train.len(), test.len()), (18_200, 2_154));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let test_mae = mae(&net, &test);
    let reported = summary["test_mae"].as_f64().unwrap();
    assert!(
        (test_mae - reported).abs() < 1e-9,
        "{test_mae} vs {reported}"
    );
    let of_mean = summary["test_mae_of_mean"].as_f64().unwrap();
    assert!(
        test_mae < 0.4 * of_mean,
        "test MAE {test_mae}° vs {of_mean}° predicting the mean"
    );
    // The resolved config names the data folder absolutely, so it runs from anywhere.
    let resolved = FitConfig::load(&out.join("config.toml")).unwrap();
    assert_eq!(resolved.fit.epochs, 3);
}

#[test]
fn bad_fit_config_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    let text = std::fs::read_to_string(repo_path("configs/prosthesis-imitation.toml"))
        .unwrap()
        .replace("epochs = 20", "epochs = 0");
    std::fs::write(&path, text).unwrap();
    let output = saferl()
        .args(["fit", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("bad.toml") && stderr.contains("fit.epochs"),
        "{stderr}"
    );
}
