//! `saferl patch` end to end: a small network, a CSV of samples and a constraint with a
//! bounded domain are patched and verified, and bad input fails with one line.

mod common;

use nalgebra::{DMatrix, DVector};
use saferl::nn::nnet::{NnetFile, Normalization, read_nnet, write_nnet};
use saferl::nn::{Layer, ReluNet};
use std::fmt::Write as _;
use std::path::Path;

fn tiny_net() -> ReluNet {
    ReluNet::new(vec![
        Layer {
            weights: DMatrix::from_row_slice(3, 2, &[1.0, 0.5, -0.7, 1.0, 0.3, -0.8]),
            bias: DVector::from_column_slice(&[0.1, 0.0, -0.2]),
        },
        Layer {
            weights: DMatrix::from_row_slice(1, 3, &[1.0, 0.8, -0.6]),
            bias: DVector::from_column_slice(&[0.05]),
        },
    ])
    .unwrap()
}

/// Writes the network, a grid of samples over [-1, 1]² (targets: the network's outputs)
/// and a config capping y0 over the whole box.
fn write_inputs(dir: &Path, net: &ReluNet, cap: f64) {
    write_nnet(
        &dir.join("net.nnet"),
        &NnetFile {
            net: net.clone(),
            normalization: Normalization::identity(2),
            comments: vec![],
        },
    )
    .unwrap();
    let mut csv = String::from("x0,x1,y0\n");
    for i in 0..21 {
        for k in 0..21 {
            let x = [-1.0 + 0.1 * i as f64, -1.0 + 0.1 * k as f64];
            writeln!(csv, "{},{},{}", x[0], x[1], net.forward(&x)[0]).unwrap();
        }
    }
    std::fs::write(dir.join("data.csv"), csv).unwrap();
    let config = format!(
        "[patch]\nsamples = 40\ntest = 200\nmax_rounds = 8\n\n[[constraint]]\nname = \"cap\"\nlower = [-1.0, -1.0]\nupper = [1.0, 1.0]\nunsafe = [[\"y0 >= {cap}\"]]\n"
    );
    std::fs::write(dir.join("patch.toml"), config).unwrap();
}

#[test]
fn patch_repairs_verifies_and_reports() {
    let dir = tempfile::tempdir().unwrap();
    let net = tiny_net();
    write_inputs(dir.path(), &net, 1.0);
    let out = dir.path().join("out");
    let report = patch_json(dir.path(), &[]);
    assert_eq!(report["verified"], true, "{report}");
    assert_eq!(report["repair_violations"], 0);
    let test = &report["test"];
    assert!(
        test["originally_violating"].as_u64().unwrap() > 0,
        "{report}"
    );
    assert_eq!(
        test["efficacy"], 1.0,
        "proved safe on the box: every test point is repaired"
    );
    assert_eq!(test["introduced"], 0);
    // The MILP verifier's box is reported: within the data, not degenerate.
    let domain = &report["verification_domain"];
    for i in 0..2 {
        let (lo, hi) = (
            domain["lower"][i].as_f64().unwrap(),
            domain["upper"][i].as_f64().unwrap(),
        );
        assert!(
            (-1.0..1.0).contains(&lo) && lo < hi && hi <= 1.0,
            "{domain}"
        );
    }
    let patched = read_nnet(&out.join("patched.nnet")).unwrap().net;
    for i in 0..41 {
        for k in 0..41 {
            let x = [-1.0 + 0.05 * i as f64, -1.0 + 0.05 * k as f64];
            assert!(patched.forward(&x)[0] < 1.0, "{x:?}");
        }
    }
    assert!(out.join("report.json").exists() && out.join("patch.toml").exists());
    assert!(out.join("scalars.csv").exists());
}

#[test]
fn bad_data_fails_with_one_line_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    write_inputs(dir.path(), &tiny_net(), 1.0);
    std::fs::write(
        dir.path().join("data.csv"),
        "x0,x1,y0\n0.1,0.2,0.3\n0.1,oops,0.3\n",
    )
    .unwrap();
    let output = patch_command(dir.path()).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("data.csv line 3") && stderr.contains("'oops'"),
        "{stderr}"
    );
}

#[test]
fn an_escalation_cap_without_a_first_time_limit_is_refused_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    write_inputs(dir.path(), &tiny_net(), 1.0);
    let config = "[patch]\nverify_timeout_max = 60.0\n\n[[constraint]]\nname = \"cap\"\nunsafe = [[\"y0 >= 1.0\"]]\n";
    std::fs::write(dir.path().join("patch.toml"), config).unwrap();
    let output = patch_command(dir.path()).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("patch.verify_timeout_max")
            && stderr.contains("needs `patch.verify_timeout`"),
        "{stderr}"
    );
}

/// Runs `saferl patch` with the data check (`[patch]` lines `settings`, y0 capped at 1)
/// on the tiny network, every row of data.csv checked (it is also the --test-data), and
/// returns the JSON report.
fn patch_with_the_data_check(dir: &Path, settings: &str) -> serde_json::Value {
    write_inputs(dir, &tiny_net(), 1.0);
    let config = format!(
        "[patch]\n{settings}\nverifier = \"data\"\n\n[[constraint]]\nname = \"cap\"\nunsafe = [[\"y0 >= 1.0\"]]\n"
    );
    std::fs::write(dir.join("patch.toml"), config).unwrap();
    let test_data = dir.join("data.csv").to_string_lossy().into_owned();
    patch_json(dir, &["--test-data", &test_data])
}

/// `saferl patch` on dir's net.nnet, patch.toml and data.csv, writing to dir/out.
fn patch_command(dir: &Path) -> std::process::Command {
    let p = |name: &str| dir.join(name).to_string_lossy().into_owned();
    let mut command = common::saferl();
    command
        .args([
            "patch",
            "--net",
            &p("net.nnet"),
            "--config",
            &p("patch.toml"),
        ])
        .args(["--data", &p("data.csv"), "--out", &p("out")]);
    command
}

/// [`patch_command`] with `--json` and `extra` arguments; it must succeed. Returns the
/// JSON report.
fn patch_json(dir: &Path, extra: &[&str]) -> serde_json::Value {
    let output = patch_command(dir)
        .arg("--json")
        .args(extra)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn the_data_check_closes_the_loop_on_every_row_but_never_claims_verified() {
    let dir = tempfile::tempdir().unwrap();
    // Few repair samples, so later rounds must add the violating rows the first missed.
    let report = patch_with_the_data_check(
        dir.path(),
        "samples = 5\ntest = 100\nmax_rounds = 20\nmax_new_samples = 10\nclearance = 0.01",
    );
    assert_eq!(report["verified"], false, "a data check proves nothing");
    let rounds = report["rounds"].as_array().unwrap();
    assert!(rounds.len() > 1, "{report}");
    let last = rounds.last().unwrap()["verdicts"][0][1].as_str().unwrap();
    assert_eq!(last, "no violation on 441 data points", "{report}");
    let net = tiny_net();
    let patched = read_nnet(&dir.path().join("out/patched.nnet")).unwrap().net;
    let data = std::fs::read_to_string(dir.path().join("data.csv")).unwrap();
    let mut violating_before = 0;
    for line in data.lines().skip(1) {
        let v: Vec<f64> = line.split(',').map(|t| t.parse().unwrap()).collect();
        violating_before += usize::from(net.forward(&v[..2])[0] >= 1.0);
        assert!(patched.forward(&v[..2])[0] < 1.0, "{line}");
    }
    assert!(violating_before > 5, "{violating_before}");
}

#[test]
fn the_data_check_returns_the_round_with_the_fewest_violating_rows() {
    let dir = tempfile::tempdir().unwrap();
    // One new sample per round: the loop cannot close in three rounds.
    let report = patch_with_the_data_check(
        dir.path(),
        "samples = 5\ntest = 100\nmax_rounds = 3\nmax_new_samples = 1\nclearance = 0.01",
    );
    let rounds = report["rounds"].as_array().unwrap();
    let found: Vec<u64> = rounds
        .iter()
        .map(|r| r["unsafe_regions"].as_u64().unwrap())
        .collect();
    assert!(found.iter().all(|&n| n > 0), "the loop closed: {report}");
    let kept = report["result_round"].as_u64().unwrap() as usize;
    assert_eq!(found[kept - 1], *found.iter().min().unwrap(), "{report}");
    // The written network is that round's: re-evaluated, it violates as many rows.
    let patched = read_nnet(&dir.path().join("out/patched.nnet")).unwrap().net;
    let data = std::fs::read_to_string(dir.path().join("data.csv")).unwrap();
    let violating = data
        .lines()
        .skip(1)
        .map(|line| {
            line.split(',')
                .map(|t| t.parse().unwrap())
                .collect::<Vec<f64>>()
        })
        .filter(|v| patched.forward(&v[..2])[0] >= 1.0)
        .count();
    assert_eq!(violating as u64, found[kept - 1], "{report}");
}

#[test]
fn a_training_config_refuses_the_data_check() {
    let dir = tempfile::tempdir().unwrap();
    let config = std::fs::read_to_string("configs/pendulum.toml").unwrap()
        + "\n[patch]\nverifier = \"data\"\n";
    std::fs::write(dir.path().join("c.toml"), config).unwrap();
    let output = common::saferl()
        .args([
            "train",
            "--config",
            &dir.path().join("c.toml").to_string_lossy(),
        ])
        .args(["--run-dir", &dir.path().join("run").to_string_lossy()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("patch.verifier") && stderr.contains("needs a dataset"),
        "{stderr}"
    );
}

#[test]
fn a_failed_later_round_keeps_the_previous_patch_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    // Round 1 has only safe samples (nothing to change); the data check then adds
    // violating rows that no change of at most 0.05 per weight can repair.
    let report = patch_with_the_data_check(
        dir.path(),
        "samples = 5\ntest = 100\nmax_rounds = 5\nmax_new_samples = 10\nmax_change = 0.05\nviolating_share = 0.0",
    );
    let stopped = report["stopped"].as_str().unwrap();
    assert!(stopped.starts_with("round 2: infeasible"), "{stopped}");
    assert_eq!(report["rounds"].as_array().unwrap().len(), 1);
    assert_eq!(report["result_round"], 1);
    assert_eq!(report["repair_samples"], 5, "round 1's samples");
    assert_eq!(report["repair_violations"], 0);
    assert_eq!(report["verified"], false);
    assert!(dir.path().join("out/patched.nnet").exists());
}
