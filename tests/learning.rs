//! DDPG must actually learn: the greedy policy after a short budget beats a random one
//! by a wide margin on the same evaluation episodes.

mod common;

use indicatif::ProgressBar;
use rand::{Rng, SeedableRng};
use saferl::rl::eval::{Stream, episode_seed};
use saferl::session::run::Run;
use saferl::session::trainer::Trainer;

/// Mean return of uniformly random torques on the evaluation seeds of `seed`.
fn random_policy_return(seed: u64, episodes: u64) -> f64 {
    let mut env = saferl::envs::Pendulum::new(200);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(99);
    let mut total = 0.0;
    for i in 0..episodes {
        use saferl::envs::Env;
        env.reset(episode_seed(seed, Stream::Eval, i));
        loop {
            let step = env.step(&[rng.random_range(-2.0..=2.0)]);
            total += step.reward;
            if step.truncated || step.terminated {
                break;
            }
        }
    }
    total / episodes as f64
}

#[test]
fn ddpg_learns_pendulum_on_a_short_budget() {
    let mut config = common::pendulum_config();
    config.train.episodes = 40;
    config.train.eval_every = 0;
    config.train.eval_episodes = 10;
    let seed = config.seed;
    let dir = tempfile::tempdir().unwrap();
    let run = Run::create(&dir.path().join("run"), config).unwrap();
    let summary = Trainer::start(run)
        .unwrap()
        .run(&ProgressBar::hidden())
        .unwrap();

    let random = random_policy_return(seed, 10);
    let learned = summary.final_eval.return_mean;
    eprintln!("random policy {random:.1}, DDPG after 40 episodes {learned:.1}");
    assert!(random < -1000.0, "random policy return {random}");
    assert!(
        learned > -400.0,
        "greedy return after 40 episodes: {learned}"
    );
}
