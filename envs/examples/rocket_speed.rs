//! Simulation speed of the rocket lander: environment steps per second under uniformly
//! random actions, resetting (with a fresh seed) whenever an episode ends. Resets are
//! included in the timing, as they are in training.
//!
//! `cargo run --release -p saferl-envs --example rocket_speed [steps]` (default 200 000).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use saferl_envs::{Env, RocketConfig, RocketLander};
use std::time::Instant;

fn main() {
    let steps: usize = match std::env::args().nth(1) {
        Some(arg) => arg.parse().expect("the argument is the number of steps"),
        None => 200_000,
    };
    let mut env = RocketLander::new(RocketConfig::default());
    let bounds = env.action_bounds();
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let mut episodes = 0u64;
    let mut landings = 0u64;
    env.reset(episodes);
    let start = Instant::now();
    for _ in 0..steps {
        let action: Vec<f64> = (0..bounds.dim())
            .map(|i| rng.random_range(bounds.lower[i]..=bounds.upper[i]))
            .collect();
        let step = env.step(&action);
        if step.terminated || step.truncated {
            landings += u64::from(env.landed());
            episodes += 1;
            env.reset(episodes);
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "rocket lander: {steps} steps in {seconds:.2} s = {:.0} steps/s \
         ({episodes} episodes, {:.0} steps each on average, {landings} landed)",
        steps as f64 / seconds,
        steps as f64 / episodes.max(1) as f64,
    );
}
