//! The settings of penalized repair, with their defaults (the `[repair]` table of a run
//! config deserializes straight into [`RepairConfig`]).

use serde::{Deserialize, Serialize};

/// Repair with reachability-guided penalized episodes (reachability-repair paper,
/// Algorithm 2); the defaults are the paper's rocket-lander settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RepairConfig {
    /// Run repair rounds inside `saferl train` (`saferl repair` always repairs).
    pub enabled: bool,
    /// Training episodes between repair rounds (and one round at the end).
    pub every_episodes: usize,
    /// No round before this episode. An actor early in training has tens of thousands of
    /// unsafe regions (38 % of the rocket's property boxes at episode 100) that the next
    /// updates reshuffle anyway; repair pays off once the policy has taken shape.
    pub start_episode: usize,
    /// Greedy steps of a repair episode started at an unsafe vertex.
    pub episode_steps: usize,
    /// Reward of a step whose action is unsafe at its state (the episode ends there).
    pub penalty: Penalty,
    /// Adam learning rates while repairing (smaller than training's: repair should move
    /// the actor only as far as safety needs).
    pub actor_lr: f64,
    pub critic_lr: f64,
    /// Capacity of the repair buffer (penalized-episode transitions only).
    pub buffer_capacity: usize,
    /// Samples per update drawn from the repair buffer…
    pub repair_batch: usize,
    /// …and from the ordinary replay buffer.
    pub batch: usize,
    /// Most unsafe vertices started from per property and pass (chosen round-robin over
    /// the regions, so every region is covered).
    pub max_points: usize,
    /// Most penalized passes in a round before it gives up.
    pub max_passes: usize,
    /// Timeout of one reachability analysis of one property, in seconds.
    pub reach_timeout_s: f64,
    /// The performance guard: the greedy return may change by at most this ratio of its
    /// value before repair (−0.2: at most 20 % worse).
    pub min_change_ratio: f64,
    /// Greedy episodes of the performance guard (the paper uses 49).
    pub eval_episodes: usize,
    /// When the safe actor fails the guard: up to this many rounds of replay-only updates…
    pub replay_rounds: usize,
    /// …of this many updates each.
    pub replay_updates: usize,
    /// `saferl repair --net`: episodes of fresh experience that train the new critic
    /// (with the actor frozen) before repairing.
    pub critic_warmup_episodes: usize,
    /// Uniform samples per property estimating the unsafe volume fraction.
    pub volume_samples: usize,
}

impl Default for RepairConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            every_episodes: 50,
            start_episode: 0,
            episode_steps: 5,
            penalty: Penalty::Fixed(-30.0),
            actor_lr: 1e-5,
            critic_lr: 1e-4,
            buffer_capacity: 200,
            repair_batch: 20,
            batch: 1000,
            max_points: 1000,
            max_passes: 20,
            reach_timeout_s: 600.0,
            min_change_ratio: -0.2,
            eval_episodes: 20,
            replay_rounds: 10,
            replay_updates: 1000,
            critic_warmup_episodes: 100,
            volume_samples: 2000,
        }
    }
}

/// The reward of an unsafe repair step: `penalty = -30.0` or `penalty = "lowest"`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Penalty {
    /// This reward (the paper's rocket lander: −30).
    Fixed(f64),
    /// The lowest reward seen so far, which the paper recommends ("normally set to the
    /// least reward in the old experience"); see `repair::penalized::episodes::run_pass` for how it
    /// is found.
    Lowest,
}

/// The string that selects [`Penalty::Lowest`].
const LOWEST: &str = "lowest";

impl Serialize for Penalty {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Penalty::Fixed(reward) => serializer.serialize_f64(*reward),
            Penalty::Lowest => serializer.serialize_str(LOWEST),
        }
    }
}

/// Written by hand rather than `#[serde(untagged)]`, whose error ("did not match any
/// variant") would not say what is accepted.
impl<'de> Deserialize<'de> for Penalty {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Penalty;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                write!(f, "a number or \"{LOWEST}\"")
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Penalty, E> {
                Ok(Penalty::Fixed(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Penalty, E> {
                Ok(Penalty::Fixed(v as f64))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Penalty, E> {
                Ok(Penalty::Fixed(v as f64))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Penalty, E> {
                if v == LOWEST {
                    Ok(Penalty::Lowest)
                } else {
                    Err(E::invalid_value(serde::de::Unexpected::Str(v), &self))
                }
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}
