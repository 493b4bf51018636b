//! The run configuration: one serde schema for every TOML file under `configs/`.
//!
//! Unknown keys, wrong types and out-of-range values are rejected with the file, the
//! key path and what was expected, so a typo never silently falls back to a default.
//! Omitted keys take the documented defaults, and the fully resolved config is written
//! into every run directory so the run can be reproduced.

pub mod fit;
pub mod patch;

pub use crate::repair::penalized::{Penalty, RepairConfig};
pub use crate::rl::{Backend, NoiseConfig, NoiseKind};
pub use fit::FitConfig;
pub use patch::{PatchConfig, PatchSettings, VerifierKind};

use crate::rl::DdpgOptions;
use crate::spec::{InputSet, Property, UnsafeSet, linear::parse_inequality};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Why a config could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// A whole training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Run name: the run directory is `runs/<name>-<timestamp>` unless `--run-dir` says otherwise.
    pub name: String,
    #[serde(default)]
    pub seed: u64,
    /// Burn CPU backend that trains the networks.
    #[serde(default)]
    pub backend: Backend,
    pub env: EnvConfig,
    #[serde(default)]
    pub train: TrainConfig,
    #[serde(default = "default_actor")]
    pub actor: NetConfig,
    #[serde(default = "default_critic")]
    pub critic: NetConfig,
    #[serde(default)]
    pub noise: NoiseConfig,
    /// Safety properties over (observation, action): see [`PropertyConfig`].
    #[serde(default, rename = "property")]
    pub properties: Vec<PropertyConfig>,
    /// Reachability-guided repair rounds during training and in `saferl repair`.
    #[serde(default)]
    pub repair: RepairConfig,
    /// NNRepLayer patch of the actor (`saferl patch --run`, and the end of `saferl train`
    /// when enabled): the `--net` patch settings, over the config's properties.
    #[serde(default)]
    pub patch: PatchSettings,
}

/// Which simulator, and its options.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum EnvConfig {
    Pendulum {
        #[serde(default = "default_pendulum_steps")]
        max_steps: usize,
    },
    /// The reachability-repair paper's rocket lander (see `saferl_envs::rocket`).
    Rocket(saferl_envs::RocketConfig),
}

fn default_pendulum_steps() -> usize {
    200
}

/// DDPG and training-loop settings; defaults follow Lillicrap et al. (2016).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    pub episodes: usize,
    /// Steps of uniformly random actions before the actor is used.
    pub warmup_steps: usize,
    /// No gradient updates until the buffer holds this many transitions.
    pub learning_starts: usize,
    pub updates_per_step: usize,
    pub batch_size: usize,
    pub buffer_capacity: usize,
    pub gamma: f64,
    pub tau: f64,
    pub actor_lr: f64,
    pub critic_lr: f64,
    /// Adam's ε (PyTorch's default 1e-8; Burn's own default is 1e-5).
    pub adam_epsilon: f64,
    pub checkpoint_every: usize,
    /// Greedy evaluation every this many episodes (0: only at the end).
    pub eval_every: usize,
    pub eval_episodes: usize,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            episodes: 1000,
            warmup_steps: 1000,
            learning_starts: 1000,
            updates_per_step: 1,
            batch_size: 64,
            buffer_capacity: 1_000_000,
            gamma: 0.99,
            tau: 0.001,
            actor_lr: 1e-4,
            critic_lr: 1e-3,
            adam_epsilon: 1e-8,
            checkpoint_every: 10,
            eval_every: 10,
            eval_episodes: 5,
        }
    }
}

/// Hidden layer widths of an MLP (ReLU after each).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetConfig {
    pub hidden: Vec<usize>,
}

fn default_actor() -> NetConfig {
    NetConfig {
        hidden: vec![400, 300],
    }
}

fn default_critic() -> NetConfig {
    default_actor()
}

/// A safety property as written in a config:
///
/// ```toml
/// [[property]]
/// name = "no-hard-torque-when-upright"
/// lower = [0.995, -0.0998, -8.0]          # input box over the observation x0 … xn
/// upper = [1.0, 0.0998, 8.0]
/// constraints = ["x0 + x1 <= 1.2"]        # optional extra half-spaces over x
/// unsafe = [["y0 >= 1.5"], ["y0 <= -1.5"]] # disjunction of conjunctions over actions y
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PropertyConfig {
    pub name: String,
    pub lower: Vec<f64>,
    pub upper: Vec<f64>,
    #[serde(default)]
    pub constraints: Vec<String>,
    #[serde(rename = "unsafe")]
    pub unsafe_set: Vec<Vec<String>>,
}

impl Config {
    /// Reads, parses and validates a config file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Parses and validates config text; `path` only names the source in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            message,
        };
        let config: Config = deserialize_toml(text, path)?;
        config.validate().map_err(invalid)?;
        Ok(config)
    }

    /// What the agent is built from: the `[actor]`, `[critic]` and `[train]` tables.
    pub fn ddpg_options(&self) -> DdpgOptions {
        let t = &self.train;
        DdpgOptions {
            backend: self.backend,
            actor_hidden: self.actor.hidden.clone(),
            critic_hidden: self.critic.hidden.clone(),
            gamma: t.gamma,
            tau: t.tau,
            actor_lr: t.actor_lr,
            critic_lr: t.critic_lr,
            adam_epsilon: t.adam_epsilon,
        }
    }

    /// The config as TOML, with every default filled in.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("a Config always serializes")
    }

    /// Checks every value, naming the key of the first bad one (also after a command line
    /// changed the config).
    pub fn validate(&self) -> Result<(), String> {
        let t = &self.train;
        positive("train.episodes", t.episodes)?;
        positive("train.batch_size", t.batch_size)?;
        positive("train.updates_per_step", t.updates_per_step)?;
        positive("train.checkpoint_every", t.checkpoint_every)?;
        positive("train.eval_episodes", t.eval_episodes)?;
        if t.buffer_capacity < t.batch_size {
            return Err(format!(
                "key `train.buffer_capacity`: expected at least train.batch_size ({}), got {}",
                t.batch_size, t.buffer_capacity
            ));
        }
        in_range("train.gamma", t.gamma, 0.0, 1.0)?;
        in_range("train.tau", t.tau, f64::MIN_POSITIVE, 1.0)?;
        in_range("train.actor_lr", t.actor_lr, f64::MIN_POSITIVE, 1.0)?;
        in_range("train.critic_lr", t.critic_lr, f64::MIN_POSITIVE, 1.0)?;
        in_range("train.adam_epsilon", t.adam_epsilon, f64::MIN_POSITIVE, 1.0)?;
        match &self.env {
            EnvConfig::Pendulum { max_steps } => positive("env.max_steps", *max_steps)?,
            EnvConfig::Rocket(rocket) => positive("env.max_steps", rocket.max_steps)?,
        }
        for (name, net) in [("actor", &self.actor), ("critic", &self.critic)] {
            if net.hidden.is_empty() || net.hidden.contains(&0) {
                return Err(format!(
                    "key `{name}.hidden`: expected at least one layer, all of positive width, got {:?}",
                    net.hidden
                ));
            }
        }
        let n = &self.noise;
        in_range("noise.sigma", n.sigma, 0.0, 10.0)?;
        in_range("noise.theta", n.theta, 0.0, 1.0)?;
        in_range("noise.decay", n.decay, f64::MIN_POSITIVE, 1.0)?;
        in_range("noise.sigma_min", n.sigma_min, 0.0, n.sigma.max(0.0))?;
        self.repair.validate()?;
        self.patch.validate()?;
        if self.patch.verifier == crate::config::patch::VerifierKind::Data {
            return Err(crate::config::patch::DATA_VERIFIER_NEEDS_A_DATASET.into());
        }
        self.validate_patch_layer()
    }

    /// The patched layer and neurons must exist in the actor.
    fn validate_patch_layer(&self) -> Result<(), String> {
        let Some(layer) = self.patch.layer else {
            return Ok(());
        };
        let last = self.actor.hidden.len();
        if layer > last {
            return Err(format!(
                "key `patch.layer`: expected a layer of the actor, 0 … {last} ({last}: the output layer), got {layer}"
            ));
        }
        // The output layer's width is the environment's action count, checked by the patch.
        if let Some(&width) = self.actor.hidden.get(layer)
            && let Some(node) = self.patch.nodes.iter().flatten().find(|&&n| n >= width)
        {
            return Err(format!(
                "key `patch.nodes`: layer {layer} has {width} neurons, got neuron {node}"
            ));
        }
        Ok(())
    }

    /// The config's properties, checked against the environment's dimensions.
    pub fn properties(&self, obs_dim: usize, act_dim: usize) -> Result<Vec<Property>, String> {
        self.properties
            .iter()
            .enumerate()
            .map(|(i, p)| {
                p.resolve(obs_dim, act_dim)
                    .map_err(|e| format!("key `property[{i}]` ({}): {e}", p.name))
            })
            .collect()
    }
}

impl RepairConfig {
    fn validate(&self) -> Result<(), String> {
        positive("repair.every_episodes", self.every_episodes)?;
        positive("repair.episode_steps", self.episode_steps)?;
        positive("repair.buffer_capacity", self.buffer_capacity)?;
        positive("repair.repair_batch", self.repair_batch)?;
        positive("repair.batch", self.batch)?;
        positive("repair.max_points", self.max_points)?;
        positive("repair.max_passes", self.max_passes)?;
        positive("repair.eval_episodes", self.eval_episodes)?;
        positive("repair.volume_samples", self.volume_samples)?;
        if let Penalty::Fixed(penalty) = self.penalty
            && !penalty.is_finite()
        {
            return Err(format!(
                "key `repair.penalty`: expected a finite number or \"lowest\", got {penalty}"
            ));
        }
        in_range("repair.actor_lr", self.actor_lr, f64::MIN_POSITIVE, 1.0)?;
        in_range("repair.critic_lr", self.critic_lr, f64::MIN_POSITIVE, 1.0)?;
        in_range(
            "repair.reach_timeout_s",
            self.reach_timeout_s,
            f64::MIN_POSITIVE,
            1e7,
        )?;
        in_range("repair.min_change_ratio", self.min_change_ratio, -1.0, 1.0)
    }
}

impl PropertyConfig {
    fn resolve(&self, obs_dim: usize, act_dim: usize) -> Result<Property, String> {
        for (key, v) in [("lower", &self.lower), ("upper", &self.upper)] {
            if v.len() != obs_dim {
                return Err(format!(
                    "`{key}` has {} numbers, expected {obs_dim} (one per observation component)",
                    v.len()
                ));
            }
        }
        if let Some((key, i)) = [("lower", &self.lower), ("upper", &self.upper)]
            .iter()
            .find_map(|(key, v)| v.iter().position(|x| !x.is_finite()).map(|i| (key, i)))
        {
            return Err(format!("`{key}[{i}]` is not a finite number"));
        }
        if let Some(i) = (0..obs_dim).find(|&i| self.lower[i] > self.upper[i]) {
            return Err(format!(
                "`lower[{i}]` = {} is above `upper[{i}]` = {}",
                self.lower[i], self.upper[i]
            ));
        }
        let constraints = self
            .constraints
            .iter()
            .map(|c| parse_inequality(c, 'x', obs_dim))
            .collect::<Result<_, _>>()
            .map_err(|e| format!("`constraints`: {e}"))?;
        if self.unsafe_set.is_empty() || self.unsafe_set.iter().any(Vec::is_empty) {
            return Err("`unsafe` must list at least one non-empty conjunction".to_string());
        }
        let disjuncts = self
            .unsafe_set
            .iter()
            .map(|conj| {
                conj.iter()
                    .map(|c| parse_inequality(c, 'y', act_dim))
                    .collect()
            })
            .collect::<Result<_, _>>()
            .map_err(|e| format!("`unsafe`: {e}"))?;
        Ok(Property {
            name: self.name.clone(),
            input: InputSet {
                lower: self.lower.clone(),
                upper: self.upper.clone(),
                constraints,
            },
            unsafe_set: UnsafeSet { disjuncts },
        })
    }
}

/// Deserializes TOML text into `T`, naming the key path of any problem; `path` only
/// names the source in errors.
pub(crate) fn deserialize_toml<T: serde::de::DeserializeOwned>(
    text: &str,
    path: &Path,
) -> Result<T, ConfigError> {
    let invalid = |message: String| ConfigError::Invalid {
        path: path.to_path_buf(),
        message,
    };
    let deserializer = toml::Deserializer::parse(text).map_err(|e| invalid(one_line(&e)))?;
    serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let key = e.path().to_string();
        invalid(format!("key `{key}`: {}", one_line(e.inner())))
    })
}

pub(crate) fn positive(key: &str, value: usize) -> Result<(), String> {
    if value == 0 {
        return Err(format!("key `{key}`: expected a positive integer, got 0"));
    }
    Ok(())
}

pub(crate) fn in_range(key: &str, value: f64, lo: f64, hi: f64) -> Result<(), String> {
    if !(lo..=hi).contains(&value) {
        let lo_text = if lo == f64::MIN_POSITIVE {
            "0 (exclusive)".to_string()
        } else {
            lo.to_string()
        };
        return Err(format!(
            "key `{key}`: expected a number in [{lo_text}, {hi}], got {value}"
        ));
    }
    Ok(())
}

/// Error messages from toml span several lines with a source excerpt (`19 | tua = 1`
/// and a `^` marker); keep the sentences, joined on one line.
fn one_line(e: &dyn std::fmt::Display) -> String {
    let is_excerpt = |l: &str| {
        let gutter = l.split('|').next().unwrap_or("").trim();
        l.contains('|') && gutter.chars().all(|c| c.is_ascii_digit())
    };
    e.to_string()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !is_excerpt(l) && !l.chars().all(|c| c == '^' || c == ' '))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Where a run directory is resolved from `--run-dir` or `runs/<name>-<timestamp>`.
pub fn default_run_dir(config: &Config) -> PathBuf {
    timestamped_run_dir(&config.name)
}

/// `runs/<name>-<timestamp>`: the default place of any job's output.
pub fn timestamped_run_dir(name: &str) -> PathBuf {
    let stamp = chrono::Local::now().format("%Y%m%d-%H%M%S");
    PathBuf::from("runs").join(format!("{name}-{stamp}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shipped pendulum config with `penalty = <value>` in its `[repair]` table.
    fn with_penalty(value: &str) -> Result<Config, ConfigError> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/pendulum.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            !text.contains("[repair]"),
            "the test adds its own [repair] table"
        );
        Config::parse(&format!("{text}\n[repair]\npenalty = {value}\n"), &path)
    }

    #[test]
    fn the_penalty_is_a_number_or_lowest_and_anything_else_names_the_key() {
        let penalty = |value| with_penalty(value).unwrap().repair.penalty;
        assert_eq!(penalty("-12.5"), Penalty::Fixed(-12.5));
        assert_eq!(penalty("-30"), Penalty::Fixed(-30.0));
        assert_eq!(penalty("\"lowest\""), Penalty::Lowest);
        for (value, found) in [
            ("\"lowest-ever\"", "lowest-ever"),
            ("true", "boolean"),
            ("[-30.0]", "sequence"),
            ("nan", "NaN"),
        ] {
            let error = with_penalty(value).unwrap_err().to_string();
            assert!(error.contains("pendulum.toml"), "{error}");
            assert!(error.contains("key `repair.penalty`"), "{error}");
            assert!(error.contains("\"lowest\""), "{error}");
            assert!(error.contains(found), "{value}: {error}");
        }
    }

    #[test]
    fn both_penalties_survive_the_resolved_config() {
        for value in ["-7.25", "\"lowest\""] {
            let config = with_penalty(value).unwrap();
            let again = Config::parse(&config.to_toml(), Path::new("config.toml")).unwrap();
            assert_eq!(again.repair.penalty, config.repair.penalty);
        }
    }
}
