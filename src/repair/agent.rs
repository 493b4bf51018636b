//! The DDPG agent in the shapes repair needs: with repair learning rates, with a given
//! actor, or with the actor frozen.

use crate::nn::{Mlp, ReluNet};
use crate::rl::{Ddpg, DdpgState, StateError, training_device};
use crate::run::Run;
use burn::module::Module;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// An agent with `state` (networks and Adam moments) that learns at other rates.
///
/// Learning rates are fixed when a [`Ddpg`] is built, so repair builds one from the run's
/// config with its rates replaced and restores the state into it; the initial weights of
/// that build are overwritten, so its generator does not matter.
pub fn with_learning_rates(
    run: &Run,
    state: &DdpgState,
    actor_lr: f64,
    critic_lr: f64,
) -> Result<Ddpg, StateError> {
    let mut retuned = run.clone();
    retuned.config.train.actor_lr = actor_lr;
    retuned.config.train.critic_lr = critic_lr;
    let mut agent = retuned.new_agent(&mut ChaCha8Rng::seed_from_u64(0));
    agent.restore(state)?;
    Ok(agent)
}

/// `agent`'s state with its actor (and actor target) replaced by `net`.
pub fn state_with_actor(run: &Run, agent: &Ddpg, net: &ReluNet) -> DdpgState {
    let device = training_device(run.config.backend);
    let actor = Mlp::from_relu_net(net, &device)
        .into_record()
        .into_bytes()
        .expect("a Burn record always serializes")
        .to_vec();
    let mut state = agent.state();
    state.actor_target = actor.clone();
    state.actor = actor;
    state
}
