//! Checkpoint and resume: an interrupted run continues exactly where it stopped, and a
//! `kill -9` leaves no corrupt file behind.

mod common;

use indicatif::ProgressBar;
use saferl::session::checkpoint::Checkpoint;
use saferl::session::run::Run;
use saferl::session::trainer::Trainer;
use std::path::Path;
use std::time::{Duration, Instant};

/// `scalars.csv` rows whose tag starts with `prefix`.
fn scalars(run_dir: &Path, prefix: &str) -> Vec<String> {
    std::fs::read_to_string(run_dir.join("scalars.csv"))
        .unwrap()
        .lines()
        .filter(|l| l.starts_with(prefix))
        .map(str::to_string)
        .collect()
}

#[test]
fn resumed_run_reproduces_the_uninterrupted_one() {
    let tmp = tempfile::tempdir().unwrap();
    let config = common::tiny_pendulum_config(6, 3);

    let straight = tmp.path().join("straight");
    Trainer::start(Run::create(&straight, config.clone()).unwrap())
        .unwrap()
        .run(&ProgressBar::hidden())
        .unwrap();

    let interrupted = tmp.path().join("interrupted");
    let mut first_half = config.clone();
    first_half.train.episodes = 3;
    Trainer::start(Run::create(&interrupted, first_half).unwrap())
        .unwrap()
        .run(&ProgressBar::hidden())
        .unwrap();
    let mut run = Run::open(&interrupted).unwrap();
    run.config.train.episodes = 6;
    run.write_config().unwrap();
    Trainer::resume(run)
        .unwrap()
        .run(&ProgressBar::hidden())
        .unwrap();

    let a = Checkpoint::load(&straight.join("checkpoint.bin")).unwrap();
    let b = Checkpoint::load(&interrupted.join("checkpoint.bin")).unwrap();
    assert_eq!(a.counters, b.counters);
    assert_eq!(a.counters.episodes, 6);
    assert!(
        a.counters.updates > 0,
        "the test must exercise gradient updates"
    );
    assert_eq!(a.rng, b.rng);
    assert_eq!(a.buffer, b.buffer);
    let policy = |dir: &Path| Run::open(dir).unwrap().load_policy().unwrap();
    assert_eq!(policy(&straight), policy(&interrupted));
    // The resumed log continues the first one with the same numbers, row for row.
    for prefix in ["train/", "loss/", "safety/"] {
        assert_eq!(
            scalars(&straight, prefix),
            scalars(&interrupted, prefix),
            "{prefix}"
        );
    }
    // The interrupted run also holds the final evaluation of its first half.
    let resumed_evals = scalars(&interrupted, "eval/");
    assert!(
        scalars(&straight, "eval/")
            .iter()
            .all(|row| resumed_evals.contains(row))
    );
}

#[test]
fn kill_minus_nine_then_resume_continues_from_an_intact_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let config = common::tiny_pendulum_config(1000, 1);
    let config_path = common::write_config(tmp.path(), "tiny.toml", &config);
    let run_dir = tmp.path().join("run");
    let mut child = common::saferl()
        .args(["train", "--quiet", "--config"])
        .arg(&config_path)
        .arg("--run-dir")
        .arg(&run_dir)
        .spawn()
        .unwrap();
    let checkpoint = run_dir.join("checkpoint.bin");
    let deadline = Instant::now() + Duration::from_secs(120);
    // Wait for a few checkpoints, so the kill lands while they are being rewritten.
    while Checkpoint::load(&checkpoint).map_or(true, |c| c.counters.episodes < 3) {
        assert!(Instant::now() < deadline, "no checkpoint after 120 s");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    let saved = Checkpoint::load(&checkpoint).expect("checkpoint intact after kill -9");
    let target = saved.counters.episodes + 2;
    common::resume_to(&run_dir, target);
    let resumed = Checkpoint::load(&checkpoint).unwrap();
    assert_eq!(resumed.counters.episodes, target);
    assert!(resumed.counters.env_steps > saved.counters.env_steps);
}
