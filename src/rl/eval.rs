//! Greedy evaluation of a policy: returns and safety-violation rate.
//!
//! Evaluation runs the exported [`Policy`] (f64 ReLU network + output transform), the
//! very network the verifier analyses, not the f32 Burn model.

use crate::nn::Policy;
use crate::spec::Property;
use saferl_envs::Env;
use serde::Serialize;

/// What greedy episodes of a policy achieved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvalReport {
    pub episodes: usize,
    pub return_mean: f64,
    pub return_std: f64,
    pub length_mean: f64,
    /// Fraction of steps whose (observation, action) lies in some property's unsafe set.
    pub violation_rate: f64,
    /// Fraction of episodes that reached the task's goal (landings), for tasks that have one.
    pub success_rate: Option<f64>,
    pub returns: Vec<f64>,
}

/// True when the (observation, action) pair violates any of `properties`.
pub fn violates(properties: &[Property], observation: &[f64], action: &[f64]) -> bool {
    properties
        .iter()
        .any(|p| p.violated_by(observation, action))
}

/// Runs one greedy episode per seed.
pub fn evaluate(
    policy: &Policy,
    env: &mut dyn Env,
    properties: &[Property],
    seeds: impl IntoIterator<Item = u64>,
) -> EvalReport {
    let mut returns = Vec::new();
    let mut steps = 0usize;
    let mut violations = 0usize;
    let mut successes = Vec::new();
    for seed in seeds {
        let mut observation = env.reset(seed);
        let mut total = 0.0;
        loop {
            let action = policy.act(&observation);
            violations += usize::from(violates(properties, &observation, &action));
            let step = env.step(&action);
            steps += 1;
            total += step.reward;
            if step.terminated || step.truncated {
                break;
            }
            observation = step.observation;
        }
        returns.push(total);
        successes.extend(env.succeeded());
    }
    let n = returns.len().max(1) as f64;
    let mean = returns.iter().sum::<f64>() / n;
    let var = returns.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / n;
    EvalReport {
        episodes: returns.len(),
        return_mean: mean,
        return_std: var.sqrt(),
        length_mean: steps as f64 / n,
        violation_rate: if steps == 0 {
            0.0
        } else {
            violations as f64 / steps as f64
        },
        success_rate: (!successes.is_empty())
            .then(|| successes.iter().filter(|&&s| s).count() as f64 / successes.len() as f64),
        returns,
    }
}

/// Seeds of a family of episodes, derived from the run seed so that training,
/// evaluation and user-requested evaluations never share episodes by accident.
pub fn episode_seed(run_seed: u64, stream: Stream, index: u64) -> u64 {
    splitmix64(splitmix64(run_seed ^ stream.salt()).wrapping_add(index))
}

/// Independent families of episode seeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Train,
    Eval,
}

impl Stream {
    /// A constant that separates this family's seeds from the others'.
    fn salt(self) -> u64 {
        match self {
            Stream::Train => 0x5452_4149_4e00_0000,
            Stream::Eval => 0x4556_414c_0000_0000,
        }
    }
}

fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
