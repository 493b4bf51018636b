//! Deep Deterministic Policy Gradient (Lillicrap et al., 2016) on Burn's CPU backends.
//!
//! The actor outputs `tanh(z)` in `[-1, 1]` per action; [`ActionScaling`] maps that to
//! the environment's bounds. The replay buffer and the critic work in the normalized
//! space so every action dimension has the same scale.

use super::backend::{Backend, training_device};
use super::replay::Batch;
use crate::nn::{ActionScaling, Mlp, Policy, ReluNet};
use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::store::ModuleRecord;
use burn::tensor::{Bytes, Device, Tensor, TensorData};
use rand::Rng;
use serde::{Deserialize, Serialize};

/// Scale of the output layers' initial weights (as in the DDPG paper).
const FINAL_LAYER_INIT: f64 = 3e-3;

/// Mean losses of one gradient update.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Losses {
    pub critic: f32,
    pub actor: f32,
}

/// What a [`Ddpg`] is built from: the networks' shapes, the backend and the update's
/// hyper-parameters (a run config's `[train]`, `[actor]` and `[critic]` tables).
#[derive(Debug, Clone, PartialEq)]
pub struct DdpgOptions {
    pub backend: Backend,
    pub actor_hidden: Vec<usize>,
    pub critic_hidden: Vec<usize>,
    pub gamma: f64,
    pub tau: f64,
    pub actor_lr: f64,
    pub critic_lr: f64,
    /// Adam's ε.
    pub adam_epsilon: f64,
}

/// Hyper-parameters the update needs at every step.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Hyper {
    gamma: f64,
    tau: f64,
    actor_lr: f64,
    critic_lr: f64,
}

/// Serialized networks and optimizer states (Burn's burnpack bytes), for checkpoints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DdpgState {
    pub actor: Vec<u8>,
    pub critic: Vec<u8>,
    pub actor_target: Vec<u8>,
    pub critic_target: Vec<u8>,
    pub actor_optim: Vec<u8>,
    pub critic_optim: Vec<u8>,
}

/// Why a saved agent state could not be restored.
#[derive(Debug, thiserror::Error)]
#[error("{part}: {message}")]
pub struct StateError {
    pub part: &'static str,
    pub message: String,
}

pub struct Ddpg {
    device: Device,
    actor: Mlp,
    critic: Mlp,
    actor_target: Mlp,
    critic_target: Mlp,
    actor_optim: ModuleOptimizer,
    critic_optim: ModuleOptimizer,
    scaling: ActionScaling,
    obs_dim: usize,
    hyper: Hyper,
}

impl Ddpg {
    /// A fresh agent for `obs_dim` observations and actions within `scaling`'s bounds.
    pub fn new(
        options: &DdpgOptions,
        obs_dim: usize,
        scaling: ActionScaling,
        rng: &mut impl Rng,
    ) -> Self {
        let device = training_device(options.backend);
        let act_dim = scaling.dim();
        let sizes = |input: usize, hidden: &[usize], output: usize| {
            std::iter::once(input)
                .chain(hidden.iter().copied())
                .chain(std::iter::once(output))
                .collect::<Vec<_>>()
        };
        let actor = Mlp::init(
            &sizes(obs_dim, &options.actor_hidden, act_dim),
            FINAL_LAYER_INIT,
            rng,
            &device,
        );
        let critic = Mlp::init(
            &sizes(obs_dim + act_dim, &options.critic_hidden, 1),
            FINAL_LAYER_INIT,
            rng,
            &device,
        );
        let adam = AdamConfig::new().with_epsilon(options.adam_epsilon as f32);
        let t = options;
        Self {
            actor_target: actor.clone(),
            critic_target: critic.clone(),
            actor,
            critic,
            actor_optim: adam.init(),
            critic_optim: adam.init(),
            device,
            scaling,
            obs_dim,
            hyper: Hyper {
                gamma: t.gamma,
                tau: t.tau,
                actor_lr: t.actor_lr,
                critic_lr: t.critic_lr,
            },
        }
    }

    /// Changes the learning rates of the following updates (repair learns slower than
    /// training); the networks and the optimizers' moments are kept.
    pub fn set_learning_rates(&mut self, actor_lr: f64, critic_lr: f64) {
        self.hyper.actor_lr = actor_lr;
        self.hyper.critic_lr = critic_lr;
    }

    /// The learning rates of the next update, `(actor, critic)`.
    pub fn learning_rates(&self) -> (f64, f64) {
        (self.hyper.actor_lr, self.hyper.critic_lr)
    }

    pub fn act_dim(&self) -> usize {
        self.scaling.dim()
    }

    /// The actor's action for one observation, in the normalized space `[-1, 1]`.
    pub fn act_normalized(&self, observation: &[f64]) -> Vec<f64> {
        let obs: Vec<f32> = observation.iter().map(|&x| x as f32).collect();
        let input = Tensor::<2>::from_data(TensorData::new(obs, [1, self.obs_dim]), &self.device);
        let output = self.actor.valid().forward(input).tanh();
        output
            .into_data()
            .try_into_vec::<f32>()
            .expect("actor output is f32")
            .into_iter()
            .map(f64::from)
            .collect()
    }

    /// The greedy action in environment units.
    pub fn act(&self, observation: &[f64]) -> Vec<f64> {
        self.scaling.to_env(&self.act_normalized(observation))
    }

    /// The deployable policy: the actor's pre-tanh ReLU network plus the output transform.
    pub fn policy(&self) -> Policy {
        Policy {
            net: self.actor.to_relu_net(),
            scaling: self.scaling.clone(),
        }
    }

    pub fn scaling(&self) -> &ActionScaling {
        &self.scaling
    }

    fn matrix(&self, data: &[f32], cols: usize) -> Tensor<2> {
        Tensor::from_data(
            TensorData::new(data.to_vec(), [data.len() / cols, cols]),
            &self.device,
        )
    }

    /// One DDPG gradient step on `batch`: critic towards the TD target, actor up the
    /// critic's gradient, then soft updates of both targets.
    pub fn update(&mut self, batch: &Batch) -> Losses {
        let act_dim = self.act_dim();
        let n = batch.size;
        let obs = self.matrix(&batch.observations, self.obs_dim);
        let actions = self.matrix(&batch.actions, act_dim);
        let next_obs = self.matrix(&batch.next_observations, self.obs_dim);
        let rewards = self.matrix(&batch.rewards, 1);
        let not_terminal = self.matrix(&batch.terminals, 1).neg().add_scalar(1.0);

        let next_actions = self.actor_target.forward(next_obs.clone()).tanh();
        let next_q = self
            .critic_target
            .forward(Tensor::cat(vec![next_obs, next_actions], 1))
            .detach();
        let target = (rewards + next_q * not_terminal * self.hyper.gamma).detach();

        let q = self
            .critic
            .forward(Tensor::cat(vec![obs.clone(), actions], 1));
        let critic_loss = (q - target).powi_scalar(2).mean();
        let critic_loss_value = critic_loss.clone().into_scalar::<f32>();
        let grads = GradientsParams::from_grads(critic_loss.backward(), &self.critic);
        self.critic = self
            .critic_optim
            .step(self.hyper.critic_lr, self.critic.clone(), grads);

        let policy_actions = self.actor.forward(obs.clone()).tanh();
        let actor_loss = self
            .critic
            .forward(Tensor::cat(vec![obs, policy_actions], 1))
            .mean()
            .neg();
        let actor_loss_value = actor_loss.clone().into_scalar::<f32>();
        let grads = GradientsParams::from_grads(actor_loss.backward(), &self.actor);
        self.actor = self
            .actor_optim
            .step(self.hyper.actor_lr, self.actor.clone(), grads);

        let tau = self.hyper.tau;
        self.actor_target = self.actor_target.clone().soft_update(&self.actor, tau);
        self.critic_target = self.critic_target.clone().soft_update(&self.critic, tau);
        debug_assert_eq!(n, batch.rewards.len());
        Losses {
            critic: critic_loss_value,
            actor: actor_loss_value,
        }
    }

    /// Everything needed to continue training exactly: networks and optimizer moments.
    pub fn state(&self) -> DdpgState {
        let module = |m: &Mlp| {
            m.clone()
                .into_record()
                .into_bytes()
                .expect("a Burn record always serializes")
                .to_vec()
        };
        let optim = |o: &ModuleOptimizer| {
            o.into_bytes()
                .expect("an optimizer record always serializes")
                .to_vec()
        };
        DdpgState {
            actor: module(&self.actor),
            critic: module(&self.critic),
            actor_target: module(&self.actor_target),
            critic_target: module(&self.critic_target),
            actor_optim: optim(&self.actor_optim),
            critic_optim: optim(&self.critic_optim),
        }
    }

    /// Replaces the actor and its target by `net` (e.g. a `.nnet` actor that repair takes
    /// over), keeping the critic and the optimizers.
    pub fn replace_actor(&mut self, net: &ReluNet) -> Result<(), StateError> {
        let actor = Mlp::from_relu_net(net, &self.device)
            .into_record()
            .into_bytes()
            .map_err(|e| StateError {
                part: "actor",
                message: e.to_string(),
            })?
            .to_vec();
        let mut state = self.state();
        state.actor_target = actor.clone();
        state.actor = actor;
        self.restore(&state)
    }

    /// Restores a state saved by [`Ddpg::state`] into an agent built from the same config.
    pub fn restore(&mut self, state: &DdpgState) -> Result<(), StateError> {
        let module = |part: &'static str, m: &Mlp, bytes: &[u8]| {
            ModuleRecord::from_bytes(Bytes::from_bytes_vec(bytes.to_vec()))
                .and_then(|record| m.clone().try_load_record(record))
                .map_err(|e| StateError {
                    part,
                    message: e.to_string(),
                })
        };
        let optim = |part: &'static str, o: &ModuleOptimizer, bytes: &[u8]| {
            o.clone()
                .from_bytes(Bytes::from_bytes_vec(bytes.to_vec()))
                .map_err(|e| StateError {
                    part,
                    message: e.to_string(),
                })
        };
        self.actor = module("actor", &self.actor, &state.actor)?;
        self.critic = module("critic", &self.critic, &state.critic)?;
        self.actor_target = module("actor target", &self.actor_target, &state.actor_target)?;
        self.critic_target = module("critic target", &self.critic_target, &state.critic_target)?;
        self.actor_optim = optim("actor optimizer", &self.actor_optim, &state.actor_optim)?;
        self.critic_optim = optim("critic optimizer", &self.critic_optim, &state.critic_optim)?;
        Ok(())
    }
}
