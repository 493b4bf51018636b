//! Patching the actor of a training run: `saferl patch --run` and `saferl train` with
//! `[patch] enabled = true`, on a few-episode pendulum run whose actor breaks a strict
//! property; the written network is re-checked here, independently of the job.

mod common;

use saferl::config::patch::VerifierKind;
use saferl::config::{Config, PropertyConfig};
use saferl::data::samples::read_samples;
use saferl::nn::ActionScaling;
use saferl::nn::actor_constraints;
use saferl::nn::nnet::read_nnet;
use saferl::repair::patch::violations;
use saferl::session::run::Run;
use saferl::verify::reach::{self, Options, Verdict};
use std::path::Path;

/// A 3-episode pendulum run whose property near upright allows only gentle torques
/// (|u| < 0.1): an untrained actor breaks it somewhere on the box.
fn strict_config(patch_enabled: bool) -> Config {
    let mut config = common::tiny_pendulum_config(3, 3);
    config.properties = vec![PropertyConfig {
        name: "gentle-near-upright".into(),
        lower: vec![0.995, -0.0998, -8.0],
        upper: vec![1.0, 0.0998, 8.0],
        constraints: vec![],
        unsafe_set: vec![vec!["y0 >= 0.1".into()], vec!["y0 <= -0.1".into()]],
    }];
    config.patch.enabled = patch_enabled;
    config.patch.samples = 60;
    config.patch.test = 200;
    config
}

fn train(dir: &Path, config: &Config) -> std::process::Output {
    let path = common::write_config(dir, "config.toml", config);
    common::saferl()
        .args(["train", "--quiet", "--config"])
        .arg(path)
        .arg("--run-dir")
        .arg(dir.join("run"))
        .output()
        .unwrap()
}

/// Every repair sample of `dir` satisfies the properties on the written patched actor,
/// and, when `verified`, exact reachability proves every property on it.
fn recheck(dir: &Path, verified: bool) {
    let config = Config::load(&dir.join("config.toml")).unwrap();
    let run = Run {
        dir: dir.to_path_buf(),
        config,
    };
    let net = read_nnet(&dir.join("patched-actor.nnet")).unwrap().net;
    let scaling = ActionScaling::from_bounds(&[-2.0], &[2.0]);
    let constraints = actor_constraints(&run.properties().unwrap(), &scaling).unwrap();
    let samples = read_samples(&dir.join("patch-samples.csv"), 3, 1).unwrap();
    assert!(!samples.is_empty());
    assert_eq!(violations(&net, &samples, &constraints), vec![]);
    if verified {
        for c in &constraints {
            let property = c.to_property().unwrap();
            let result = reach::verify(&net, &property, &Options::default()).unwrap();
            assert_eq!(result.verdict, Verdict::Safe, "{}", c.name);
        }
    }
}

fn scalar_tags(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("scalars.csv")).unwrap()
}

#[test]
fn patch_run_writes_a_patched_actor_that_satisfies_its_samples_and_is_verified() {
    let dir = tempfile::tempdir().unwrap();
    let trained = train(dir.path(), &strict_config(false));
    assert!(
        trained.status.success(),
        "{}",
        String::from_utf8_lossy(&trained.stderr)
    );
    let out = dir.path().join("patched");
    let output = common::saferl()
        .args(["patch", "--json", "--quiet", "--max-rounds", "6", "--run"])
        .arg(dir.path().join("run"))
        .arg("--run-dir")
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        report["verdicts_before"][0][1], "unsafe",
        "the untrained actor breaks the property: {report}"
    );
    assert!(report["vertex_samples"].as_u64().unwrap() > 0, "{report}");
    assert_eq!(report["buffer_samples"], 60);
    assert_eq!(report["repair_violations"], 0);
    assert_eq!(report["verified"], true, "{report}");
    assert_eq!(report["test"]["samples"], 200);
    assert_eq!(report["test"]["introduced"], 0);
    assert!(report["eval_after"]["return_mean"].is_number());
    recheck(&out, true);
    // The resolved config names the patched layer (the actor's last); the rounds are logged.
    let resolved = Config::load(&out.join("config.toml")).unwrap();
    assert_eq!(resolved.patch.layer, Some(2));
    assert_eq!(report["layer"], 2);
    let rounds = report["rounds"].as_array().unwrap().len();
    let tags = scalar_tags(&out);
    assert_eq!(tags.matches("patch/objective,").count(), rounds, "{tags}");
    assert!(tags.contains("patch/verified,"), "{tags}");
    assert!(out.join("report.json").exists());
}

#[test]
fn train_with_patch_enabled_ends_with_a_patched_actor_and_its_verdict() {
    let dir = tempfile::tempdir().unwrap();
    // Closed by exact reachability here (`patch --run` above uses the default, MILP).
    let mut config = strict_config(true);
    config.patch.verifier = VerifierKind::Reach;
    let output = train(dir.path(), &config);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("patch: verified safe"), "{stdout}");
    let run = dir.path().join("run");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("summary.json")).unwrap()).unwrap();
    let patch = &summary["patch"];
    assert_eq!(patch["verified"], true, "{summary}");
    assert_eq!(patch["repair_violations"], 0);
    assert!(!patch["rounds"].as_array().unwrap().is_empty());
    recheck(&run, true);
    assert!(scalar_tags(&run).contains("patch/verified,"));
}

#[test]
fn a_bad_patch_setting_fails_with_one_line_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let text = strict_config(true).to_toml();
    let base = &text[..text.find("[patch]").unwrap()];
    for (table, key) in [
        ("[patch]\nlayr = 1\n", "layr"),
        ("[patch]\nsamples = 0\n", "patch.samples"),
        ("[patch]\nlayer = 7\n", "patch.layer"),
        ("[patch]\ngap = -1.0\n", "patch.gap"),
    ] {
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, format!("{base}{table}")).unwrap();
        let output = common::saferl()
            .args(["train", "--quiet", "--config"])
            .arg(&path)
            .arg("--run-dir")
            .arg(dir.path().join("never"))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.contains("bad.toml") && stderr.contains(key),
            "{stderr}"
        );
        assert!(!dir.path().join("never").exists());
    }
}
