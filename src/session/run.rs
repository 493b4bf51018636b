//! A run directory and what it holds:
//!
//! ```text
//! runs/<name>-<timestamp>/
//!   config.toml                 the resolved config (every default filled in)
//!   checkpoint.bin              latest checkpoint (atomic; see `checkpoint`)
//!   events.out.tfevents.*       TensorBoard scalars (one file per training session)
//!   scalars.csv                 the same scalars as tag,step,value rows
//!   summary.json                final evaluation of a finished run
//! ```

use crate::config::{Config, ConfigError, EnvConfig};
use crate::nn::actor_constraints;
use crate::nn::nnet::{NnetError, NnetFile, Normalization, write_nnet};
use crate::nn::{ActionScaling, Policy};
use crate::rl::{Ddpg, StateError};
use crate::session::checkpoint::{self, Checkpoint, CheckpointError};
use crate::spec::Constraint;
use crate::spec::Property;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use saferl_envs::{Env, Pendulum, RocketLander};
use std::path::{Path, PathBuf};

/// Why a run could not be created, opened or continued.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(String),
    #[error("checkpoint {path} does not fit the run's config ({source})")]
    State { path: PathBuf, source: StateError },
}

impl RunError {
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        RunError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Builds the simulator a config names.
pub fn make_env(config: &EnvConfig) -> Box<dyn Env> {
    match config {
        EnvConfig::Pendulum { max_steps } => Box::new(Pendulum::new(*max_steps)),
        EnvConfig::Rocket(rocket) => Box::new(RocketLander::new(rocket.clone())),
    }
}

/// An existing or new run directory with its resolved config.
#[derive(Debug, Clone)]
pub struct Run {
    pub dir: PathBuf,
    pub config: Config,
}

impl Run {
    /// Creates `dir` (it must not already hold a run) and writes the resolved config.
    ///
    /// The config's properties are checked first (with `[patch] enabled`, also that the
    /// patch can take them), so a bad config leaves no directory.
    pub fn create(dir: &Path, config: Config) -> Result<Self, RunError> {
        let run = Self {
            dir: dir.to_path_buf(),
            config,
        };
        run.properties()?;
        if run.config.patch.enabled {
            run.patch_constraints()?;
        }
        if dir.join("config.toml").exists() {
            return Err(RunError::Invalid(format!(
                "{} already holds a run: continue it with `saferl train --resume {}` (a repair: `saferl repair --resume {}`) or use another --run-dir",
                dir.display(),
                dir.display(),
                dir.display()
            )));
        }
        std::fs::create_dir_all(dir).map_err(|e| RunError::io(dir, e))?;
        run.write_config()?;
        Ok(run)
    }

    /// Opens the run in `dir` by reading its resolved config.
    pub fn open(dir: &Path) -> Result<Self, RunError> {
        let config_path = dir.join("config.toml");
        if !config_path.exists() {
            return Err(RunError::Invalid(format!(
                "{} is not a saferl run directory (no config.toml)",
                dir.display()
            )));
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            config: Config::load(&config_path)?,
        })
    }

    /// (Re)writes `config.toml` atomically, e.g. after `--episodes` changed it.
    pub fn write_config(&self) -> Result<(), RunError> {
        let path = self.dir.join("config.toml");
        crate::atomic::write(&path, self.config.to_toml().as_bytes())
            .map_err(|e| RunError::io(&path, e))
    }

    pub fn checkpoint_path(&self) -> PathBuf {
        checkpoint::path_in(&self.dir)
    }

    pub fn env(&self) -> Box<dyn Env> {
        make_env(&self.config.env)
    }

    /// The config's safety properties, checked against the environment's dimensions.
    pub fn properties(&self) -> Result<Vec<Property>, RunError> {
        let env = self.env();
        self.config
            .properties(env.observation_bounds().dim(), env.action_bounds().dim())
            .map_err(|e| {
                RunError::Invalid(format!("{}: {e}", self.dir.join("config.toml").display()))
            })
    }

    /// The properties restated over the actor's pre-tanh outputs, as patch constraints.
    pub fn patch_constraints(&self) -> Result<Vec<Constraint>, RunError> {
        let bounds = self.env().action_bounds();
        let scaling = ActionScaling::from_bounds(&bounds.lower, &bounds.upper);
        actor_constraints(&self.properties()?, &scaling).map_err(|e| {
            RunError::Invalid(format!(
                "{}: {e} (the patch works on the pre-tanh outputs)",
                self.dir.join("config.toml").display()
            ))
        })
    }

    /// A fresh agent for this run's config and environment.
    pub fn new_agent(&self, rng: &mut ChaCha8Rng) -> Ddpg {
        let env = self.env();
        let bounds = env.action_bounds();
        let scaling = ActionScaling::from_bounds(&bounds.lower, &bounds.upper);
        Ddpg::new(
            &self.config.ddpg_options(),
            env.observation_bounds().dim(),
            scaling,
            rng,
        )
    }

    /// The agent of the latest checkpoint, and the checkpoint itself.
    pub fn load_agent(&self) -> Result<(Ddpg, Checkpoint), RunError> {
        let path = self.checkpoint_path();
        let checkpoint = Checkpoint::load(&path)?;
        let mut agent = self.new_agent(&mut ChaCha8Rng::seed_from_u64(self.config.seed));
        agent
            .restore(&checkpoint.agent)
            .map_err(|source| RunError::State {
                path: path.clone(),
                source,
            })?;
        let (obs_dim, act_dim) = checkpoint.buffer.dims();
        let env = self.env();
        if (obs_dim, act_dim) != (env.observation_bounds().dim(), env.action_bounds().dim()) {
            return Err(RunError::Invalid(format!(
                "checkpoint {} holds a replay buffer for {obs_dim} observations and {act_dim} actions; the config's env has {} and {}",
                path.display(),
                env.observation_bounds().dim(),
                env.action_bounds().dim()
            )));
        }
        Ok((agent, checkpoint))
    }

    /// Writes `policy` as `.nnet`: the pre-tanh network, the environment's observation
    /// bounds as input bounds, and the output transform in the comment lines.
    pub fn write_policy(&self, policy: &Policy, path: &Path) -> Result<(), NnetError> {
        let bounds = self.env().observation_bounds();
        let mut normalization = Normalization::identity(policy.net.input_dim());
        normalization.input_min = bounds.lower;
        normalization.input_max = bounds.upper;
        let comments = vec![
            format!("saferl actor of run {}", self.dir.display()),
            "outputs are pre-tanh: action = offset + scale * tanh(y)".to_string(),
            format!("scale = {:?}", policy.scaling.scale),
            format!("offset = {:?}", policy.scaling.offset),
        ];
        let file = NnetFile {
            net: policy.net.clone(),
            normalization,
            comments,
        };
        write_nnet(path, &file)
    }

    /// Where training keeps the actor with the best greedy evaluation so far.
    pub fn best_actor_path(&self) -> PathBuf {
        self.dir.join("best-actor.nnet")
    }

    /// The greedy policy of the latest checkpoint.
    pub fn load_policy(&self) -> Result<Policy, RunError> {
        Ok(self.load_agent()?.0.policy())
    }
}
