//! Penalized repair episodes (reachability-repair paper, section 4.1): short greedy
//! episodes started at unsafe vertices, where an unsafe action is punished and ends the
//! episode, learned from through a separate repair buffer.

use super::{Penalty, RepairConfig};
use crate::rl::eval::violates;
use crate::rl::{Batch, Ddpg, ReplayBuffer, Transition};
use crate::spec::Property;
use rand::Rng;
use saferl_envs::Env;

/// How far (per component) the state `reset_to` reports may differ from the requested
/// vertex and still be the vertex: the rocket reproduces it up to f32 rounding (~1e-7).
const SAME_STATE: f64 = 1e-6;

/// The reward and end of one repair step after the penalty rule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Judged {
    pub reward: f64,
    pub terminal: bool,
    pub penalized: bool,
}

/// The penalty rule: when `observation` lies in some property's input set and `action`
/// (environment units) in that same property's unsafe set, the step gets `penalty` and
/// ends the episode; otherwise the environment's reward and ending stand.
pub fn judge(
    properties: &[Property],
    observation: &[f64],
    action: &[f64],
    reward: f64,
    terminal: bool,
    penalty: f64,
) -> Judged {
    if violates(properties, observation, action) {
        Judged {
            reward: penalty,
            terminal: true,
            penalized: true,
        }
    } else {
        Judged {
            reward,
            terminal,
            penalized: false,
        }
    }
}

/// The replay buffer of training and the repair buffer; updates draw from both.
pub struct Buffers<'a> {
    pub replay: &'a ReplayBuffer,
    pub repair: &'a mut ReplayBuffer,
}

/// What one pass over the start states did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PassStats {
    pub episodes: u64,
    pub steps: u64,
    pub penalized: u64,
    /// Start states the environment refused (`reset_to` failed).
    pub skipped: u64,
    pub updates: u64,
}

/// One greedy episode of at most `config.episode_steps` steps from each start state,
/// with one gradient update per step (batch: `config.batch` replay + `config.repair_batch`
/// repair transitions).
///
/// With [`Penalty::Lowest`], an unsafe step gets the lowest reward seen so far: the
/// minimum over the replay buffer, the repair buffer and the steps of this pass up to and
/// including the unsafe one. It is derived from the buffers rather than tracked, so it
/// needs no state of its own and survives a resume with them; it forgets rewards the
/// replay buffer has overwritten (`train.buffer_capacity`; the default holds 1000 rocket
/// episodes). Penalties in the repair buffer are themselves lowest rewards seen earlier,
/// so they never lower it.
pub fn run_pass(
    agent: &mut Ddpg,
    env: &mut dyn Env,
    buffers: Buffers<'_>,
    starts: &[Vec<f64>],
    properties: &[Property],
    config: &RepairConfig,
    rng: &mut impl Rng,
) -> PassStats {
    let mut stats = PassStats::default();
    let mut lowest = [buffers.replay.min_reward(), buffers.repair.min_reward()]
        .into_iter()
        .flatten()
        .fold(f64::INFINITY, f64::min);
    for start in starts {
        let Ok(reported) = env.reset_to(start) else {
            stats.skipped += 1;
            continue;
        };
        let same = reported
            .iter()
            .zip(start)
            .all(|(a, b)| (a - b).abs() <= SAME_STATE);
        let mut observation = if same { start.clone() } else { reported };
        stats.episodes += 1;
        for t in 0..config.episode_steps {
            let normalized = agent.act_normalized(&observation);
            let action = agent.scaling().to_env(&normalized);
            let step = env.step(&action);
            lowest = lowest.min(step.reward);
            let penalty = match config.penalty {
                Penalty::Fixed(penalty) => penalty,
                Penalty::Lowest => lowest,
            };
            let judged = judge(
                properties,
                &observation,
                &action,
                step.reward,
                step.terminated,
                penalty,
            );
            buffers.repair.push(&Transition {
                observation: &observation,
                action: &normalized,
                reward: judged.reward,
                next_observation: &step.observation,
                terminal: judged.terminal,
            });
            stats.steps += 1;
            stats.penalized += u64::from(judged.penalized);
            agent.update(&mixed_batch(buffers.replay, buffers.repair, config, rng));
            stats.updates += 1;
            if judged.terminal || step.truncated || t + 1 == config.episode_steps {
                break;
            }
            observation = step.observation;
        }
    }
    stats
}

/// `n` gradient updates on both buffers without new experience: the paper's way to win
/// back performance once the actor is safe.
pub fn replay_updates(
    agent: &mut Ddpg,
    buffers: Buffers<'_>,
    n: usize,
    config: &RepairConfig,
    rng: &mut impl Rng,
) {
    for _ in 0..n {
        agent.update(&mixed_batch(buffers.replay, buffers.repair, config, rng));
    }
}

/// `config.batch` samples of the replay buffer followed by `config.repair_batch` of the
/// repair buffer (either part is left out while its buffer is empty).
fn mixed_batch(
    replay: &ReplayBuffer,
    repair: &ReplayBuffer,
    config: &RepairConfig,
    rng: &mut impl Rng,
) -> Batch {
    let mut batch = Batch::default();
    for (buffer, size) in [(replay, config.batch), (repair, config.repair_batch)] {
        if buffer.is_empty() {
            continue;
        }
        let part = buffer.sample(size, rng);
        batch.size += part.size;
        batch.observations.extend(part.observations);
        batch.actions.extend(part.actions);
        batch.rewards.extend(part.rewards);
        batch.next_observations.extend(part.next_observations);
        batch.terminals.extend(part.terminals);
    }
    batch
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{HalfSpace, InputSet, UnsafeSet};
    use rand::SeedableRng;

    /// x0 ∈ [0, 1] must not get y0 ≥ 0.5; x0 ∈ [2, 3] must not get y0 ≤ −0.5.
    fn properties() -> Vec<Property> {
        let property = |lo: f64, hi: f64, coeff: f64| Property {
            name: format!("p{lo}"),
            input: InputSet {
                lower: vec![lo],
                upper: vec![hi],
                constraints: Vec::new(),
            },
            unsafe_set: UnsafeSet {
                disjuncts: vec![vec![HalfSpace {
                    coeffs: vec![coeff],
                    rhs: -0.5,
                }]],
            },
        };
        vec![property(0.0, 1.0, -1.0), property(2.0, 3.0, 1.0)]
    }

    #[test]
    fn the_penalty_fires_exactly_for_an_unsafe_action_in_the_same_property() {
        let properties = properties();
        let xs = [-0.5, 0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5];
        let ys = [-1.0, -0.5, -0.49, 0.0, 0.49, 0.5, 1.0];
        for &x in &xs {
            for &y in &ys {
                let in_first = (0.0..=1.0).contains(&x) && y >= 0.5;
                let in_second = (2.0..=3.0).contains(&x) && y <= -0.5;
                let expected = in_first || in_second;
                let judged = judge(&properties, &[x], &[y], 1.25, false, -30.0);
                assert_eq!(judged.penalized, expected, "x = {x}, y = {y}");
                if expected {
                    assert_eq!((judged.reward, judged.terminal), (-30.0, true));
                } else {
                    assert_eq!((judged.reward, judged.terminal), (1.25, false));
                }
            }
        }
        // A state of one property with the unsafe action of the other is not penalized.
        assert!(!judge(&properties, &[0.5], &[-1.0], 0.0, false, -30.0).penalized);
        assert!(!judge(&properties, &[2.5], &[1.0], 0.0, false, -30.0).penalized);
        // The environment's own ending is kept when no penalty applies.
        assert!(judge(&properties, &[5.0], &[1.0], 0.0, true, -30.0).terminal);
    }

    /// A penalized pass from each start: every action anywhere is unsafe, so each episode
    /// is one penalized step. Returns the rewards of the repair buffer afterwards.
    fn lowest_penalty_pass(
        replay: &ReplayBuffer,
        repair: &mut ReplayBuffer,
        starts: &[Vec<f64>],
    ) -> Vec<f32> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/pendulum.toml");
        let mut config = crate::config::Config::load(&path).unwrap();
        config.actor.hidden = vec![4];
        config.critic.hidden = vec![4];
        config.repair = RepairConfig {
            penalty: Penalty::Lowest,
            batch: 4,
            repair_batch: 4,
            ..RepairConfig::default()
        };
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let scaling = crate::nn::ActionScaling::from_bounds(&[-2.0], &[2.0]);
        let mut agent = Ddpg::new(&config.ddpg_options(), 3, scaling, &mut rng);
        let everywhere = Property {
            name: "no action at all".to_string(),
            input: InputSet {
                lower: vec![-1.0, -1.0, -8.0],
                upper: vec![1.0, 1.0, 8.0],
                constraints: Vec::new(),
            },
            unsafe_set: UnsafeSet {
                disjuncts: vec![vec![HalfSpace {
                    coeffs: vec![0.0],
                    rhs: 0.0,
                }]],
            },
        };
        let stats = run_pass(
            &mut agent,
            &mut saferl_envs::Pendulum::new(200),
            Buffers { replay, repair },
            starts,
            &[everywhere],
            &config.repair,
            &mut rng,
        );
        assert_eq!(
            (stats.episodes, stats.penalized),
            (starts.len() as u64, starts.len() as u64)
        );
        repair.sample(200, &mut rng).rewards
    }

    fn buffer_with_rewards(rewards: &[f64]) -> ReplayBuffer {
        let mut buffer = ReplayBuffer::new(100, 3, 1);
        for &reward in rewards {
            buffer.push(&Transition {
                observation: &[1.0, 0.0, 0.0],
                action: &[0.0],
                reward,
                next_observation: &[1.0, 0.0, 0.0],
                terminal: false,
            });
        }
        buffer
    }

    #[test]
    fn the_lowest_penalty_is_the_lowest_reward_seen_so_far() {
        let upright = vec![vec![1.0, 0.0, 0.0]; 3];
        // The replay buffer's lowest reward (an upright step itself costs at most 0.004).
        let replay = buffer_with_rewards(&[-3.5, -12.25, -0.5]);
        let mut repair = buffer_with_rewards(&[]);
        let rewards = lowest_penalty_pass(&replay, &mut repair, &upright);
        assert_eq!(repair.len(), 3);
        assert!(rewards.iter().all(|&r| r == -12.25), "{rewards:?}");
        // A lower reward in the repair buffer (from an earlier pass) counts too.
        let mut repair = buffer_with_rewards(&[-20.0]);
        let rewards = lowest_penalty_pass(&replay, &mut repair, &upright);
        assert_eq!(repair.len(), 4);
        assert!(rewards.iter().all(|&r| r == -20.0), "{rewards:?}");
        // So does the unsafe step's own reward when it is the lowest: hanging down costs
        // π² + 0.001·u² ∈ [9.8696, 9.8736].
        let replay = buffer_with_rewards(&[-0.5]);
        let mut repair = buffer_with_rewards(&[]);
        let rewards = lowest_penalty_pass(&replay, &mut repair, &[vec![-1.0, 0.0, 0.0]]);
        assert!(
            rewards.iter().all(|&r| (-9.8737..=-9.8695).contains(&r)),
            "{rewards:?}"
        );
    }

    #[test]
    fn a_mixed_batch_takes_both_buffers() {
        let config = RepairConfig {
            batch: 7,
            repair_batch: 3,
            ..RepairConfig::default()
        };
        let mut replay = ReplayBuffer::new(10, 1, 1);
        let mut repair = ReplayBuffer::new(10, 1, 1);
        let push = |buffer: &mut ReplayBuffer, reward: f64| {
            buffer.push(&Transition {
                observation: &[0.0],
                action: &[0.0],
                reward,
                next_observation: &[0.0],
                terminal: false,
            })
        };
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        push(&mut repair, -30.0);
        let only_repair = mixed_batch(&replay, &repair, &config, &mut rng);
        assert_eq!(only_repair.rewards, vec![-30.0; 3]);
        push(&mut replay, 1.0);
        let both = mixed_batch(&replay, &repair, &config, &mut rng);
        assert_eq!(both.size, 10);
        assert_eq!(both.rewards[..7], [1.0; 7]);
        assert_eq!(both.rewards[7..], [-30.0; 3]);
        assert_eq!(both.observations.len(), 10);
    }
}
