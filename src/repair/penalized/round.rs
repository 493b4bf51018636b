//! One repair round (reachability-repair paper, Algorithm 2), as a sequence of passes that
//! can be checkpointed between any two:
//!
//! 1. open: exact reachability on every property; if the actor is unsafe, measure the
//!    greedy return (the performance baseline) and start a round;
//! 2. penalize: re-run reachability; while unsafe, run penalized episodes from the unsafe
//!    vertices (one pass), up to `repair.max_passes`;
//! 3. once verified safe: accept if the greedy return kept within `repair.min_change_ratio`
//!    of the baseline; otherwise replay-only updates, re-verifying whenever the return
//!    improves, keeping the best verified actor.

use super::RepairConfig;
use super::check::{CheckError, SafetyCheck, check};
use super::episodes::{Buffers, PassStats, replay_updates, run_pass};
use crate::nn::Policy;
use crate::repair::select::{select_vertices, start_states};
use crate::rl::eval::{EvalReport, Stream, episode_seed, evaluate};
use crate::rl::{Ddpg, DdpgState, ReplayBuffer, StateError};
use crate::spec::Property;
use rand::Rng;
use saferl_envs::Env;
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// Why a repair step failed.
#[derive(Debug, thiserror::Error)]
pub enum RepairError {
    #[error(transparent)]
    Check(#[from] CheckError),
    #[error("repair agent: {0}")]
    Agent(#[from] StateError),
}

/// Repair progress that checkpoints carry, so a crash mid-round resumes mid-round.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RepairState {
    /// Transitions of penalized episodes only.
    pub buffer: ReplayBuffer,
    /// Rounds finished.
    pub rounds: u64,
    /// Passes (penalized or replay-only) logged, over all rounds: the step of the
    /// `repair/pass_*` scalars.
    pub passes: u64,
    /// Penalized steps, over all rounds.
    pub penalized_steps: u64,
    /// The round under way, if any.
    pub round: Option<RoundState>,
    /// The report of the last finished round (what `saferl repair --resume` reports when
    /// the crash came after the round but before its outputs were written).
    pub last_round: Option<RoundReport>,
}

impl RepairState {
    /// No repair yet: an empty repair buffer for transitions of the given dimensions.
    pub fn new(capacity: usize, obs_dim: usize, act_dim: usize) -> Self {
        Self {
            buffer: ReplayBuffer::new(capacity, obs_dim, act_dim),
            rounds: 0,
            passes: 0,
            penalized_steps: 0,
            round: None,
            last_round: None,
        }
    }

    /// The round under way.
    ///
    /// # Panics
    /// If no round is open: the passes of [`Repairer::advance`] only run inside one.
    fn open_round(&mut self) -> &mut RoundState {
        self.round.as_mut().expect("an open round")
    }
}

/// Where a round stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Phase {
    /// Penalized passes until verified safe.
    Penalize,
    /// Safe but below the performance guard: replay-only updates.
    Replay,
}

/// An open round.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoundState {
    pub phase: Phase,
    /// Verdict per property when the round opened, `name=verdict …`.
    pub verdicts_before: String,
    /// Mean greedy return before the round.
    pub baseline: f64,
    pub regions_before: u64,
    pub passes: u64,
    pub replay_rounds: u64,
    pub penalized_steps: u64,
    /// The best verified-safe actor met so far, with its greedy return.
    pub best_safe: Option<(f64, DdpgState)>,
    /// Time spent in reachability, and in the whole round (both survive a resume).
    pub reach_s: f64,
    pub wall_s: f64,
}

impl RoundState {
    /// The log record of a pass in the current phase; `check` is the reachability run at
    /// the start of the pass, if one ran.
    fn pass_report(
        &self,
        check: Option<&SafetyCheck>,
        stats: PassStats,
        return_mean: Option<f64>,
    ) -> PassReport {
        PassReport {
            pass: 0, // numbered by `advance`
            phase: self.phase,
            verified: check.is_some_and(SafetyCheck::verified),
            unsafe_regions: check.map_or(0, SafetyCheck::regions),
            unsafe_vertices: check.map_or(0, SafetyCheck::vertices),
            // Every start state either ran an episode or was refused by the environment.
            start_states: (stats.episodes + stats.skipped) as usize,
            episodes: stats.episodes,
            penalized_steps: stats.penalized,
            skipped: stats.skipped,
            updates: stats.updates,
            return_mean,
            reach_s: check.map_or(0.0, |c| c.seconds),
            seconds: 0.0,
        }
    }
}

/// How a round ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Verified safe, return within the guard.
    Repaired,
    /// Verified safe, but no safe actor met the performance guard: the best one is kept.
    SafeBelowGuard,
    /// Still unsafe (or unknown) after `repair.max_passes` passes.
    Unrepaired,
}

/// One pass, for the logs.
#[derive(Debug, Clone, Serialize)]
pub struct PassReport {
    pub pass: u64,
    pub phase: Phase,
    pub verified: bool,
    pub unsafe_regions: usize,
    pub unsafe_vertices: usize,
    pub start_states: usize,
    pub episodes: u64,
    pub penalized_steps: u64,
    pub skipped: u64,
    pub updates: u64,
    pub return_mean: Option<f64>,
    pub reach_s: f64,
    pub seconds: f64,
}

/// A finished round, for the logs and `saferl repair`'s summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoundReport {
    pub round: u64,
    pub outcome: Outcome,
    pub verified: bool,
    /// Verdict per property when the round opened…
    pub verdicts_before: String,
    /// …and when it ended.
    pub verdicts: String,
    pub regions_before: u64,
    pub unsafe_regions: usize,
    pub unsafe_vertices: usize,
    pub unsafe_volume_fraction: f64,
    pub passes: u64,
    pub replay_rounds: u64,
    pub penalized_steps: u64,
    pub baseline_return: f64,
    pub final_return: f64,
    pub return_change_ratio: f64,
    pub reach_s: f64,
    pub wall_s: f64,
}

/// What a repair round of the trainer found and did.
#[derive(Debug, Clone)]
pub struct RoundResult {
    /// Verdict per property before the round, `name=verdict …`.
    pub verdicts_before: String,
    /// The round, or `None` when the actor was verified safe and none was needed.
    pub report: Option<RoundReport>,
}

/// What [`Repairer::advance`] did.
pub enum Advance {
    Pass(PassReport),
    Done(Box<RoundReport>),
}

/// `(after − before) / |before|`: the paper's normalized return change.
pub fn change_ratio(before: f64, after: f64) -> f64 {
    (after - before) / before.abs().max(1e-9)
}

/// Runs repair rounds on a run's agent in one environment.
pub struct Repairer<'a> {
    /// The `[repair]` settings.
    pub options: &'a RepairConfig,
    /// The run's seed: the guard's evaluation episodes derive from it.
    pub seed: u64,
    /// Where penalized episodes and guard evaluations run.
    pub env: &'a mut dyn Env,
    /// The properties over actions in environment units.
    pub properties: &'a [Property],
}

impl Repairer<'_> {
    /// Exact reachability of `policy` on every property.
    pub fn check(&self, policy: &Policy) -> Result<SafetyCheck, CheckError> {
        let r = self.options;
        check(
            policy,
            self.properties,
            Duration::from_secs_f64(r.reach_timeout_s),
            r.volume_samples,
        )
    }

    /// Greedy episodes on the run's evaluation seeds (the same ones every time, so the
    /// guard compares like with like).
    pub fn evaluate(&mut self, policy: &Policy) -> EvalReport {
        let seed = self.seed;
        let episodes = self.options.eval_episodes as u64;
        evaluate(
            policy,
            &mut *self.env,
            self.properties,
            (0..episodes).map(|i| episode_seed(seed, Stream::Eval, i)),
        )
    }

    /// Opens a round when `check` (of `agent`'s actor) is not a proof of safety.
    pub fn open(&mut self, agent: &Ddpg, check: &SafetyCheck, state: &mut RepairState) {
        if check.verified() {
            return;
        }
        let started = Instant::now();
        let baseline = self.evaluate(&agent.policy()).return_mean;
        state.round = Some(RoundState {
            phase: Phase::Penalize,
            verdicts_before: check.verdicts(),
            baseline,
            regions_before: check.regions() as u64,
            passes: 0,
            replay_rounds: 0,
            penalized_steps: 0,
            best_safe: None,
            reach_s: check.seconds,
            wall_s: check.seconds + started.elapsed().as_secs_f64(),
        });
    }

    /// Advances the open round of `state` by one pass.
    ///
    /// # Panics
    /// If no round is open.
    pub fn advance(
        &mut self,
        agent: &mut Ddpg,
        replay: &ReplayBuffer,
        state: &mut RepairState,
        rng: &mut impl Rng,
    ) -> Result<Advance, RepairError> {
        let started = Instant::now();
        let phase = state.open_round().phase;
        let result = match phase {
            Phase::Penalize => self.penalize(agent, replay, state, rng),
            Phase::Replay => self.replay(agent, replay, state, rng),
        };
        let elapsed = started.elapsed().as_secs_f64();
        match result? {
            Advance::Pass(mut pass) => {
                state.open_round().wall_s += elapsed;
                state.passes += 1;
                pass.pass = state.passes;
                pass.seconds = elapsed;
                Ok(Advance::Pass(pass))
            }
            Advance::Done(mut report) => {
                report.wall_s += elapsed;
                state.last_round = Some((*report).clone());
                Ok(Advance::Done(report))
            }
        }
    }

    fn penalize(
        &mut self,
        agent: &mut Ddpg,
        replay: &ReplayBuffer,
        state: &mut RepairState,
        rng: &mut impl Rng,
    ) -> Result<Advance, RepairError> {
        let config = self.options;
        let mut check = self.check(&agent.policy())?;
        state.open_round().reach_s += check.seconds;
        if check.verified() {
            let return_mean = self.evaluate(&agent.policy()).return_mean;
            let round = state.open_round();
            if change_ratio(round.baseline, return_mean) >= config.min_change_ratio {
                return Ok(self.finish(state, Outcome::Repaired, &check, return_mean));
            }
            let pass = round.pass_report(Some(&check), PassStats::default(), Some(return_mean));
            round.best_safe = Some((return_mean, agent.state()));
            round.phase = Phase::Replay;
            return Ok(Advance::Pass(pass));
        }
        let passes = state.open_round().passes;
        if passes >= config.max_passes as u64 {
            let final_return = self.evaluate(&agent.policy()).return_mean;
            return Ok(self.finish(state, Outcome::Unrepaired, &check, final_return));
        }
        let selections = check
            .properties
            .iter()
            .zip(self.properties)
            .map(|(c, p)| select_vertices(&c.regions, &p.input, config.max_points, passes));
        let starts = start_states(selections, rng);
        check.forget_regions();
        let rates = agent.learning_rates();
        agent.set_learning_rates(config.actor_lr, config.critic_lr);
        let stats = run_pass(
            agent,
            &mut *self.env,
            Buffers {
                replay,
                repair: &mut state.buffer,
            },
            &starts,
            self.properties,
            config,
            rng,
        );
        agent.set_learning_rates(rates.0, rates.1);
        state.penalized_steps += stats.penalized;
        let round = state.open_round();
        round.passes += 1;
        round.penalized_steps += stats.penalized;
        Ok(Advance::Pass(round.pass_report(Some(&check), stats, None)))
    }

    fn replay(
        &mut self,
        agent: &mut Ddpg,
        replay: &ReplayBuffer,
        state: &mut RepairState,
        rng: &mut impl Rng,
    ) -> Result<Advance, RepairError> {
        let config = self.options;
        let round = state.open_round();
        let (best_return, best_state) = round.best_safe.clone().expect("a safe actor in replay");
        if round.replay_rounds >= config.replay_rounds as u64 {
            agent.restore(&best_state)?;
            let check = self.check(&agent.policy())?;
            return Ok(self.finish(state, Outcome::SafeBelowGuard, &check, best_return));
        }
        let rates = agent.learning_rates();
        agent.set_learning_rates(config.actor_lr, config.critic_lr);
        replay_updates(
            agent,
            Buffers {
                replay,
                repair: &mut state.buffer,
            },
            config.replay_updates,
            config,
            rng,
        );
        agent.set_learning_rates(rates.0, rates.1);
        let return_mean = self.evaluate(&agent.policy()).return_mean;
        state.open_round().replay_rounds += 1;
        let stats = PassStats {
            updates: config.replay_updates as u64,
            ..PassStats::default()
        };
        if return_mean <= best_return {
            let round = state.open_round();
            return Ok(Advance::Pass(round.pass_report(
                None,
                stats,
                Some(return_mean),
            )));
        }
        let check = self.check(&agent.policy())?;
        let round = state.open_round();
        round.reach_s += check.seconds;
        if check.verified() {
            round.best_safe = Some((return_mean, agent.state()));
            if change_ratio(round.baseline, return_mean) >= config.min_change_ratio {
                return Ok(self.finish(state, Outcome::Repaired, &check, return_mean));
            }
        }
        Ok(Advance::Pass(round.pass_report(
            Some(&check),
            stats,
            Some(return_mean),
        )))
    }

    /// Closes the round of `state` and reports it.
    fn finish(
        &self,
        state: &mut RepairState,
        outcome: Outcome,
        check: &SafetyCheck,
        final_return: f64,
    ) -> Advance {
        let round = state.round.take().expect("an open round");
        state.rounds += 1;
        Advance::Done(Box::new(RoundReport {
            round: state.rounds,
            outcome,
            verified: check.verified(),
            verdicts: check.verdicts(),
            verdicts_before: round.verdicts_before,
            regions_before: round.regions_before,
            unsafe_regions: check.regions(),
            unsafe_vertices: check.vertices(),
            unsafe_volume_fraction: check.volume_fraction(),
            passes: round.passes,
            replay_rounds: round.replay_rounds,
            penalized_steps: round.penalized_steps,
            baseline_return: round.baseline,
            final_return,
            return_change_ratio: change_ratio(round.baseline, final_return),
            reach_s: round.reach_s,
            wall_s: round.wall_s,
        }))
    }
}
