//! DDPG throughput at the paper's rocket-lander sizes, on each Burn CPU backend:
//! actor 11 → 5×20 ReLU → 3 (tanh), critic 14 → 5×20 ReLU → 1.
//!
//! `cargo bench --bench ddpg [-- --updates N --json]` prints gradient updates per second
//! at batch 64 and 400, acting (batch-1 actor forward) per second, and end-to-end
//! training env steps per second on the pendulum; `benches/torch/run.sh` times the same
//! update and acting in PyTorch for comparison (see benches/README.md).

use indicatif::ProgressBar;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use saferl::config::{Backend, Config, NetConfig};
use saferl::nn::ActionScaling;
use saferl::rl::{Ddpg, ReplayBuffer, Transition};
use saferl::session::run::Run;
use saferl::session::trainer::Trainer;
use std::time::Instant;

const OBS: usize = 11;
const ACT: usize = 3;

fn rocket_config(backend: Backend) -> Config {
    let mut config = Config::parse(
        "name = \"bench\"\n[env]\nkind = \"pendulum\"\n",
        std::path::Path::new("<bench>"),
    )
    .expect("bench config parses");
    config.backend = backend;
    config.actor = NetConfig {
        hidden: vec![20; 5],
    };
    config.critic = NetConfig {
        hidden: vec![20; 5],
    };
    config.train.actor_lr = 1e-4;
    config.train.critic_lr = 1e-3;
    config.train.tau = 0.001;
    config
}

fn random_vec(rng: &mut ChaCha8Rng, n: usize) -> Vec<f64> {
    (0..n).map(|_| rng.random_range(-1.0..1.0)).collect()
}

fn filled_buffer(rng: &mut ChaCha8Rng) -> ReplayBuffer {
    let mut buffer = ReplayBuffer::new(100_000, OBS, ACT);
    for _ in 0..100_000 {
        let (o, a, n) = (
            random_vec(rng, OBS),
            random_vec(rng, ACT),
            random_vec(rng, OBS),
        );
        buffer.push(&Transition {
            observation: &o,
            action: &a,
            reward: rng.random_range(-1.0..1.0),
            next_observation: &n,
            terminal: rng.random_bool(0.05),
        });
    }
    buffer
}

/// Median of three timed repeats of `work(n)`, as operations per second.
fn rate(n: usize, mut work: impl FnMut(usize)) -> f64 {
    let mut rates: Vec<f64> = (0..3)
        .map(|_| {
            let t = Instant::now();
            work(n);
            n as f64 / t.elapsed().as_secs_f64()
        })
        .collect();
    rates.sort_by(f64::total_cmp);
    rates[1]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let updates = args
        .iter()
        .position(|a| a == "--updates")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let json = args.iter().any(|a| a == "--json");
    let mut results = Vec::new();
    for backend in [Backend::Flex, Backend::Ndarray] {
        let config = rocket_config(backend);
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let scaling = ActionScaling::from_bounds(&[-1.0; ACT], &[1.0; ACT]);
        let mut agent = Ddpg::new(&config.ddpg_options(), OBS, scaling, &mut rng);
        let buffer = filled_buffer(&mut rng);
        for batch in [64usize, 400] {
            for _ in 0..200 {
                agent.update(&buffer.sample(batch, &mut rng));
            }
            let updates_per_s = rate(updates, |n| {
                for _ in 0..n {
                    agent.update(&buffer.sample(batch, &mut rng));
                }
            });
            let obs = random_vec(&mut rng, OBS);
            let act_per_s = rate(20_000, |n| {
                for _ in 0..n {
                    std::hint::black_box(agent.act_normalized(&obs));
                }
            });
            results.push(serde_json::json!({
                "backend": format!("{backend:?}").to_lowercase(),
                "batch": batch,
                "updates_per_s": updates_per_s,
                "act_per_s": act_per_s,
            }));
        }
        // End-to-end: the shipped pendulum config, acting + env + buffer + update per step.
        let mut pendulum = Config::load(std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/configs/pendulum.toml"
        )))
        .expect("shipped config");
        pendulum.backend = backend;
        pendulum.train.episodes = 15;
        pendulum.train.eval_every = 0;
        pendulum.train.eval_episodes = 1;
        let dir = tempfile::tempdir().expect("temp dir");
        let run = Run::create(&dir.path().join("run"), pendulum).expect("run dir");
        let summary = Trainer::start(run)
            .expect("trainer")
            .run(&ProgressBar::hidden())
            .expect("training");
        results.push(serde_json::json!({
            "backend": format!("{backend:?}").to_lowercase(),
            "pendulum_train_env_steps_per_s": summary.env_steps as f64 / summary.wall_time_s,
        }));
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if json {
        println!(
            "{}",
            serde_json::json!({ "cores": threads, "results": results })
        );
    } else {
        println!("saferl DDPG throughput ({threads} cores)");
        for r in &results {
            println!("{r}");
        }
    }
}
