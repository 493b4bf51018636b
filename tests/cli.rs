//! The command line on good and bad input: every bad input exits non-zero with one
//! line naming the problem, and nothing panics.

mod common;

use std::path::Path;
use std::process::Output;

fn run(args: &[&str]) -> Output {
    common::saferl().args(args).output().unwrap()
}

/// Runs saferl and asserts it succeeded.
fn run_ok(args: &[&str]) -> Output {
    let output = run(args);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Asserts a clean failure: non-zero exit, one `error:` line mentioning every needle.
fn assert_clean_error(output: &Output, needles: &[&str]) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "expected failure, stderr: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "panic: {stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "expected one line, got: {stderr}");
    assert!(lines[0].starts_with("error: "), "{stderr}");
    for needle in needles {
        assert!(stderr.contains(needle), "{needle:?} not in: {stderr}");
    }
}

/// The shipped pendulum config with `edit` applied to its text.
fn edited_config(dir: &Path, edit: impl Fn(String) -> String) -> String {
    let text = std::fs::read_to_string(common::repo_path("configs/pendulum.toml")).unwrap();
    let path = dir.join("bad.toml");
    std::fs::write(&path, edit(text)).unwrap();
    path.to_string_lossy().into_owned()
}

fn train_with(config: &str, dir: &Path) -> Output {
    let run_dir = dir.join("run");
    run(&[
        "train",
        "--quiet",
        "--config",
        config,
        "--run-dir",
        run_dir.to_str().unwrap(),
    ])
}

#[test]
fn unknown_key_is_named_with_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = edited_config(dir.path(), |t| {
        t.replace("tau = 0.005", "tau = 0.005\ntua = 1")
    });
    assert_clean_error(
        &train_with(&config, dir.path()),
        &["bad.toml", "train", "tua"],
    );
    assert!(
        !dir.path().join("run").exists(),
        "no run dir for a bad config"
    );
}

#[test]
fn wrong_type_is_named_with_its_key_path() {
    let dir = tempfile::tempdir().unwrap();
    let config = edited_config(dir.path(), |t| {
        t.replace("episodes = 150", "episodes = \"150\"")
    });
    assert_clean_error(
        &train_with(&config, dir.path()),
        &["bad.toml", "train.episodes"],
    );
}

#[test]
fn negative_learning_rate_is_out_of_range() {
    let dir = tempfile::tempdir().unwrap();
    let config = edited_config(dir.path(), |t| {
        t.replace("actor_lr = 1e-3", "actor_lr = -1e-3")
    });
    assert_clean_error(
        &train_with(&config, dir.path()),
        &["train.actor_lr", "-0.001"],
    );
}

#[test]
fn malformed_property_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let config = edited_config(dir.path(), |t| t.replace("\"y0 >= 1.5\"", "\"y1 >= 1.5\""));
    assert_clean_error(
        &train_with(&config, dir.path()),
        &[
            "property[0]",
            "no-hard-torque-near-upright",
            "y1",
            "out of range",
        ],
    );
}

#[test]
fn missing_config_file_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.toml");
    assert_clean_error(
        &train_with(missing.to_str().unwrap(), dir.path()),
        &["nope.toml"],
    );
}

#[test]
fn not_a_run_directory_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(&["eval", "--run", dir.path().to_str().unwrap()]);
    assert_clean_error(&output, &["not a saferl run directory"]);
}

#[test]
fn truncated_checkpoint_and_malformed_nnet_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let config = common::tiny_pendulum_config(2, 1);
    let config_path = common::write_config(dir.path(), "tiny.toml", &config);
    let run_dir = dir.path().join("run");
    let run_dir_text = run_dir.to_str().unwrap();
    run_ok(&[
        "train",
        "--quiet",
        "--config",
        config_path.to_str().unwrap(),
        "--run-dir",
        run_dir_text,
    ]);

    // Export works and evaluates the same as the run.
    let nnet = dir.path().join("actor.nnet");
    run_ok(&[
        "export",
        "--run",
        run_dir_text,
        "--out",
        nnet.to_str().unwrap(),
    ]);
    let from_run = run(&["eval", "--run", run_dir_text, "--episodes", "3", "--json"]);
    let from_nnet = run(&[
        "eval",
        "--net",
        nnet.to_str().unwrap(),
        "--config",
        config_path.to_str().unwrap(),
        "--episodes",
        "3",
        "--json",
    ]);
    assert!(from_run.status.success() && from_nnet.status.success());
    assert_eq!(
        from_run.stdout, from_nnet.stdout,
        "exported actor behaves like the run's"
    );

    // `verify --run` checks the actor on the config's property through the tanh transform:
    // a counterexample must replay on the policy in action units, a proof must survive
    // dense sampling.
    let verified = run_ok(&["verify", "--run", run_dir_text, "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&verified.stdout).unwrap();
    let opened = saferl::session::run::Run::open(&run_dir).unwrap();
    let policy = opened.load_policy().unwrap();
    let property = opened.properties().unwrap().remove(0);
    match report["result"].as_str().unwrap() {
        "unsafe" => {
            let x: Vec<f64> =
                serde_json::from_value(report["counterexample"]["input"].clone()).unwrap();
            assert!(property.violated_by(&x, &policy.act(&x)));
        }
        "safe" => {
            use rand::{Rng, SeedableRng};
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
            for _ in 0..20_000 {
                let x: Vec<f64> = (0..3)
                    .map(|i| rng.random_range(property.input.lower[i]..=property.input.upper[i]))
                    .collect();
                assert!(!property.violated_by(&x, &policy.act(&x)), "missed {x:?}");
            }
        }
        other => panic!("unexpected verdict {other}"),
    }

    // Training kept the actor of its best evaluation; it is a usable .nnet too.
    let best = run_dir.join("best-actor.nnet");
    run_ok(&[
        "eval",
        "--net",
        best.to_str().unwrap(),
        "--config",
        config_path.to_str().unwrap(),
    ]);

    // A .nnet cut in the middle of its weights.
    let text = std::fs::read_to_string(&nnet).unwrap();
    let cut: String = text.lines().take(12).collect::<Vec<_>>().join("\n");
    std::fs::write(&nnet, cut).unwrap();
    let output = run(&[
        "eval",
        "--net",
        nnet.to_str().unwrap(),
        "--config",
        config_path.to_str().unwrap(),
    ]);
    assert_clean_error(&output, &["actor.nnet", "line"]);

    // A checkpoint cut in half.
    let checkpoint = run_dir.join("checkpoint.bin");
    let bytes = std::fs::read(&checkpoint).unwrap();
    std::fs::write(&checkpoint, &bytes[..bytes.len() / 2]).unwrap();
    assert_clean_error(
        &run(&["eval", "--run", run_dir_text]),
        &["checkpoint.bin", "truncated"],
    );
    assert_clean_error(
        &run(&["train", "--quiet", "--resume", run_dir_text]),
        &["checkpoint.bin", "truncated"],
    );
}

#[test]
fn rocket_trains_from_the_shipped_config_and_renders() {
    let dir = tempfile::tempdir().unwrap();
    let run_dir = dir.path().join("rocket");
    let run_dir_text = run_dir.to_str().unwrap();
    let config = common::repo_path("configs/rocket.toml");
    let trained = run_ok(&[
        "train",
        "--quiet",
        "--config",
        config.to_str().unwrap(),
        "--episodes",
        "2",
        "--run-dir",
        run_dir_text,
    ]);
    assert!(String::from_utf8_lossy(&trained.stdout).contains("success rate"));
    for out in ["landing.gif", "landing.png"] {
        let path = dir.path().join(out);
        run_ok(&[
            "render",
            "--run",
            run_dir_text,
            "--out",
            path.to_str().unwrap(),
        ]);
        let bytes = std::fs::read(&path).unwrap();
        let magic: &[u8] = if out.ends_with(".gif") {
            b"GIF89a"
        } else {
            b"\x89PNG"
        };
        assert!(bytes.starts_with(magic), "{out} is not a {magic:?} file");
    }
    let wrong = dir.path().join("landing.bmp");
    assert_clean_error(
        &run(&[
            "render",
            "--run",
            run_dir_text,
            "--out",
            wrong.to_str().unwrap(),
        ]),
        &["landing.bmp", ".gif or .png"],
    );
}

#[test]
fn verify_reports_counterexamples_that_replay_and_proves_safe_ones() {
    let data = |rel: &str| {
        common::repo_path("data/rocket-agents")
            .join(rel)
            .to_string_lossy()
            .into_owned()
    };
    let (agent0, property1) = (data("unsafe_agent0.nnet"), data("property1.vnnlib"));
    let output = run_ok(&[
        "verify",
        "--net",
        &agent0,
        "--property",
        &property1,
        "--json",
    ]);
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["result"], "unsafe");
    let input: Vec<f64> =
        serde_json::from_value(report["counterexample"]["input"].clone()).unwrap();
    let net = saferl::nn::nnet::read_nnet(std::path::Path::new(&agent0))
        .unwrap()
        .net;
    let property = saferl::spec::vnnlib::read_vnnlib(std::path::Path::new(&property1))
        .unwrap()
        .remove(0);
    assert!(
        property.violated_by(&input, &net.forward(&input)),
        "counterexample replays"
    );

    let agent2 = data("unsafe_agent2.nnet");
    let output = run_ok(&[
        "verify",
        "--net",
        &agent2,
        "--property",
        &property1,
        "--json",
    ]);
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["result"], "safe");

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.vnnlib");
    std::fs::write(&bad, "(declare-const X_0 Real)\n(assert (<= X_9 1.0))\n").unwrap();
    assert_clean_error(
        &run(&[
            "verify",
            "--net",
            &agent0,
            "--property",
            bad.to_str().unwrap(),
        ]),
        &["bad.vnnlib", "line 2"],
    );
}

#[test]
fn zero_counts_on_the_command_line_are_refused_with_the_flag_named() {
    for args in [
        vec![
            "patch",
            "--net",
            "n.nnet",
            "--config",
            "c.toml",
            "--data",
            "d.csv",
            "--max-rounds",
            "0",
        ],
        vec![
            "patch",
            "--net",
            "n.nnet",
            "--config",
            "c.toml",
            "--data",
            "d.csv",
            "--samples",
            "0",
        ],
        vec!["render", "--run", "r", "--out", "x.gif", "--every", "0"],
        vec!["eval", "--run", "r", "--episodes", "0"],
    ] {
        let out = common::saferl().args(&args).output().unwrap();
        assert!(!out.status.success(), "{args:?} was accepted");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let flag = args[args.len() - 2];
        assert!(stderr.contains(flag), "{args:?}: {stderr}");
        assert!(
            stderr.contains("expected a positive integer"),
            "{args:?}: {stderr}"
        );
    }
}
