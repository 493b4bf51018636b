//! Helpers shared by the integration tests.
#![allow(dead_code)] // each test binary uses a different subset

use saferl::config::Config;
use std::path::{Path, PathBuf};

pub fn repo_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// The shipped pendulum config.
pub fn pendulum_config() -> Config {
    Config::load(&repo_path("configs/pendulum.toml")).expect("shipped config loads")
}

/// A pendulum config small enough for a test run of a few seconds.
pub fn tiny_pendulum_config(episodes: usize, checkpoint_every: usize) -> Config {
    let mut config = pendulum_config();
    config.train.episodes = episodes;
    config.train.checkpoint_every = checkpoint_every;
    config.train.eval_every = 2;
    config.train.eval_episodes = 2;
    config.train.warmup_steps = 100;
    config.train.learning_starts = 100;
    config.train.batch_size = 32;
    config.actor.hidden = vec![16, 16];
    config.critic.hidden = vec![16, 16];
    config
}

/// Writes `config` as a TOML file in `dir`.
pub fn write_config(dir: &Path, name: &str, config: &Config) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, config.to_toml()).unwrap();
    path
}

/// The `saferl` binary built for this test run.
pub fn saferl() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_saferl"))
}

/// `saferl train --resume run_dir --episodes target`, asserting it succeeded.
pub fn resume_to(run_dir: &Path, target: u64) {
    let output = saferl()
        .args(["train", "--quiet", "--resume"])
        .arg(run_dir)
        .args(["--episodes", &target.to_string()])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "resume failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}
