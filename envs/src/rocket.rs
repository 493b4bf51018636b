//! Vertical landing of a rocket's first stage on a barge (the reachability-repair paper's
//! benchmark: Reuben Ferrante's Box2D `RocketLander` gym environment), simulated with
//! Rapier.
//!
//! The rocket is a 0.67 m × 7.57 m body with two sprung legs and a gimballed nozzle. It
//! starts at the top of a 33 m × 26 m world above the barge, pushed down and sideways by a
//! random kick, and must land upright on the barge with its main engine, its gimbal and two
//! cold-gas side thrusters near its top. See [`RocketLander`] for the observation, action
//! and reward, and the submodules for the physical model.

mod body;
mod engines;
mod frame;
mod observe;
#[cfg(test)]
mod tests;

use crate::scene::Scene;
use crate::{Bounds, Env, EnvError, Step, check_vector};
use body::{
    BARGE_CENTER_X, BARGE_HALF_LENGTH, BARGE_TOP, BODY_HALF_WIDTH, BODY_HEIGHT, BODY_MASS, DT,
    Kinematics, LEG_HALF_EXTENTS, NOZZLE_HALF_EXTENTS, SEA_FLOOR, WORLD_HEIGHT, WORLD_WIDTH, World,
};
pub use frame::{PartBox, RocketFrame};
use observe::{ACT_DIM, OBS_DIM, TILT_LIMIT, Y_RANGE};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Fuel at reset, as a share of the body's mass.
const INITIAL_FUEL_SHARE: f64 = 0.2;
/// The reset kick: horizontal force uniform in `±KICK_X`, vertical in `[−KICK_Y_MAX, −KICK_Y_MIN]`
/// (reference `INITIAL_RANDOM = 20000`, ×0.3 and ×1.3), applied to the body for one step.
const KICK_X: f64 = 6000.0;
const KICK_Y_MIN: f64 = 20000.0;
const KICK_Y_MAX: f64 = 26000.0;
/// Start: horizontally within ±0.1 m of the barge centre, at the top of the world.
const START_X_SPREAD: f64 = 0.1;
/// A leg touching down while the previous observation's `vy` is below this (−6.9 m/s) breaks
/// it: the reference's contact listener ends the episode.
const HARD_TOUCHDOWN_VY: f64 = -1.5;
/// Landed: both legs down and the body at rest (speed of its centre of mass below
/// `REST_SPEED`, spin below `REST_SPIN`) for `REST_STEPS` consecutive steps (0.5 s). The
/// reference ends the episode when Box2D puts the rocket to sleep (0.01 m/s, 2°/s for 0.5 s);
/// a rocket standing on Rapier's contacts jitters at up to ~0.01 m/s and a leg yielding on
/// its motor creeps at a few cm/s, so the thresholds are five times looser.
const REST_SPEED: f64 = 0.05;
const REST_SPIN: f64 = 0.05;
const REST_STEPS: usize = 30;
/// Terminal rewards.
const CRASH_REWARD: f64 = -10.0;
const LANDING_REWARD: f64 = 10.0;
/// Engine use costs `ENGINE_COST · power` per step (before the /10 reward scale).
const ENGINE_COST: f64 = 0.3;
const REWARD_SCALE: f64 = 0.1;
/// Disturbances (reference `main_simulation.py`): wind gusts up to `GUST_FORCE` N with
/// probability `GUST_PROBABILITY` per step; the barge shifts by `DRIFT_STEP` m with
/// probability `DRIFT_PROBABILITY` per step. Both only while no leg touches.
const GUST_FORCE: f64 = 2000.0;
const GUST_PROBABILITY: f64 = 0.005;
const DRIFT_STEP: f64 = 0.05;
const DRIFT_PROBABILITY: f64 = 0.05;

/// Options of the rocket lander.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RocketConfig {
    /// Steps after which an episode is truncated.
    pub max_steps: usize,
    /// Random dispersion of the engines' thrust (magnitude, direction and application
    /// point), as in the reference. Off gives exactly the nominal thrust.
    pub engine_dispersion: bool,
    /// Random lateral wind gusts (up to 2000 N for one step, probability 0.005 per step,
    /// direction fixed per episode).
    pub wind: bool,
    /// The barge drifts sideways (0.05 m with probability 0.05 per step, direction fixed per
    /// episode); observations stay relative to its centre.
    pub barge_drift: bool,
}

impl Default for RocketConfig {
    fn default() -> Self {
        Self {
            max_steps: 1000,
            engine_dispersion: true,
            wind: false,
            barge_drift: false,
        }
    }
}

/// Why an episode ended badly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Crash {
    /// The body or the nozzle touched the barge or the sea.
    HullContact,
    /// A leg touched down faster than 6.9 m/s.
    HardTouchdown,
    /// `|x| ≥ 1`: left the barge's side of the world.
    OutOfBoundsX,
    /// `y ∉ [0, 1.3]`: below the landing height or above the world.
    OutOfBoundsY,
    /// Tilted beyond 35°.
    Tilt,
    /// The tank ran dry.
    OutOfFuel,
}

/// Where the current episode stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    /// Still going (or truncated by the step limit).
    Flying,
    /// Came to rest on both legs.
    Landed,
    Crashed(Crash),
}

/// The rocket lander.
///
/// **Observation** (11 numbers, the reference's normalisation; `x, y` is the body's bottom
/// centre, the reference's `lander.position`, and `vx, vy` the velocity of its centre of mass):
/// `[(x − xb)/16.5, (y − 5.21)/16.5 − 0.03, vx·16.5/60, vy·13/60, θ, ω/3, leg₊ₓ, leg₋ₓ,
/// a0, a1, a2]` with `xb` the barge centre, `θ` counter-clockwise, leg contacts 0/1 (the leg on
/// the +x side first, as the reference's `legs[0]`), then the previous (clipped) action.
///
/// **Action** `[a0, a1, a2]`: main throttle in `[0, 1]` (fires when `a0 > 0`, power
/// `0.3·(1 + a0)`), side thrusters in `[−1, 1]` (fire when `|a1| > 0.5`, power `|a1|`,
/// `a1 > 0` turns the rocket clockwise), gimbal in `±15°` (radians; positive swings the
/// nozzle's exit towards +x, pushing the rocket towards −x and turning it clockwise).
/// All engines are cut for good after the first leg contact.
///
/// **Reward**: `(S − S_prev − 0.3·m − 0.3·s)/10` with the shaping
/// `S = −200‖(x, y)‖ − 100‖(vx, vy)‖ − 1000|θ| − 30|ω/3| + 20·(leg₊ₓ + leg₋ₓ) − [vy > 0]`
/// on observation units; −10 and the end of the episode on a [`Crash`]; +10 and the end on
/// landing (both legs down and the body at rest, see [`Outcome::Landed`]).
pub struct RocketLander {
    config: RocketConfig,
    world: World,
    rng: ChaCha8Rng,
    /// Fuel left (kg) and the body's current mass.
    fuel: f64,
    body_mass: f64,
    prev_action: [f64; ACT_DIM],
    legs: [bool; 2],
    /// Latched at the first leg contact: the engines stay off from then on.
    engines_cut: bool,
    prev_shaping: f64,
    /// Powers used in the last step: main, and side signed by direction.
    powers: (f64, f64),
    steps: usize,
    rest_steps: usize,
    outcome: Outcome,
    /// Per-episode directions (±1) of the wind and of the barge drift.
    wind_dir: f64,
    drift_dir: f64,
}

impl RocketLander {
    /// A rocket lander with the given options, reset with seed 0.
    pub fn new(config: RocketConfig) -> Self {
        let start = Kinematics {
            x: BARGE_CENTER_X,
            y: WORLD_HEIGHT,
            angle: 0.0,
            vx: 0.0,
            vy: 0.0,
            omega: 0.0,
        };
        let mut env = Self {
            config,
            world: World::new(&start, 0.0, BODY_MASS),
            rng: ChaCha8Rng::seed_from_u64(0),
            fuel: 0.0,
            body_mass: BODY_MASS,
            prev_action: [0.0; ACT_DIM],
            legs: [false; 2],
            engines_cut: false,
            prev_shaping: 0.0,
            powers: (0.0, 0.0),
            steps: 0,
            rest_steps: 0,
            outcome: Outcome::Flying,
            wind_dir: 1.0,
            drift_dir: 1.0,
        };
        env.reset(0);
        env
    }

    /// How the current episode stands (after a terminal step: how it ended).
    pub fn outcome(&self) -> Outcome {
        self.outcome
    }

    /// Whether the episode ended by landing.
    pub fn landed(&self) -> bool {
        self.outcome == Outcome::Landed
    }

    /// Fuel left in the tank (kg).
    pub fn fuel(&self) -> f64 {
        self.fuel
    }

    /// A drawable snapshot of the scene.
    pub fn frame(&self) -> RocketFrame {
        // Box centre in each part's frame: the body and nozzle boxes sit above their origins.
        let part = |handle, local_center: [f64; 2], half_extents: [f64; 2]| {
            let (origin, angle) = self.world.pose(handle);
            let (s, c) = angle.sin_cos();
            PartBox {
                center: [
                    origin[0] + c * local_center[0] - s * local_center[1],
                    origin[1] + s * local_center[0] + c * local_center[1],
                ],
                angle,
                half_extents,
            }
        };
        let bx = self.world.barge_center_x();
        RocketFrame {
            world: [WORLD_WIDTH, WORLD_HEIGHT],
            body: part(
                self.world.body,
                [0.0, 0.5 * BODY_HEIGHT],
                [BODY_HALF_WIDTH, 0.5 * BODY_HEIGHT],
            ),
            legs: self
                .world
                .legs
                .map(|leg| part(leg, [0.0; 2], LEG_HALF_EXTENTS)),
            nozzle: part(
                self.world.nozzle,
                [0.0, NOZZLE_HALF_EXTENTS[1]],
                NOZZLE_HALF_EXTENTS,
            ),
            barge: [
                bx - BARGE_HALF_LENGTH,
                0.1,
                bx + BARGE_HALF_LENGTH,
                BARGE_TOP,
            ],
            sea_floor: SEA_FLOOR,
            main_power: self.powers.0,
            side_power: self.powers.1,
            leg_contacts: self.legs,
        }
    }

    fn observation(&self) -> Vec<f64> {
        observe::observe(
            &self.world.kinematics(),
            self.world.barge_center_x(),
            self.legs,
            self.prev_action,
        )
    }

    /// Starts an episode from `state` with a full tank and the given contacts and previous
    /// action.
    fn start(&mut self, state: &Kinematics, legs: [bool; 2], prev_action: [f64; ACT_DIM]) {
        self.body_mass = BODY_MASS;
        self.fuel = INITIAL_FUEL_SHARE * BODY_MASS;
        let gimbal = if legs.contains(&true) {
            0.0
        } else {
            prev_action[2]
        };
        self.world = World::new(state, gimbal, BODY_MASS);
        self.prev_action = prev_action;
        self.legs = legs;
        self.engines_cut = legs.contains(&true);
        self.powers = (0.0, 0.0);
        self.steps = 0;
        self.rest_steps = 0;
        self.outcome = Outcome::Flying;
        self.prev_shaping = observe::shaping(&self.observation());
    }

    /// Fires the engines for this step (forces on the bodies, fuel burnt) and returns the
    /// main and side powers used.
    fn fire(&mut self, action: [f64; ACT_DIM]) -> (f64, f64) {
        let [a0, a1, gimbal] = if self.engines_cut {
            [0.0; ACT_DIM]
        } else {
            action
        };
        self.world.set_gimbal(gimbal);
        let k = self.world.kinematics();
        let mut dispersion = || {
            if self.config.engine_dispersion {
                let d = engines::DISPERSION;
                [self.rng.random_range(-d..d), self.rng.random_range(-d..d)]
            } else {
                [0.0; 2]
            }
        };
        let (d_main, d_side) = (dispersion(), dispersion());
        let m = engines::main_power(a0);
        let (s, dir) = engines::side_power(a1);
        if m > 0.0 {
            let (origin, angle) = self.world.pose(self.world.nozzle);
            let t = engines::main_engine(origin, angle, m, d_main);
            self.world.add_force(self.world.nozzle, t.force, t.point);
        }
        if s > 0.0 {
            let t = engines::side_engine([k.x, k.y], k.angle, s, dir, d_side);
            self.world.add_force(self.world.body, t.force, t.point);
        }
        if m > 0.0 || s > 0.0 {
            let burnt = engines::fuel_burnt(m, s).min(self.fuel);
            self.fuel -= burnt;
            self.body_mass -= burnt;
            self.world.set_body_mass(self.body_mass);
        }
        self.powers = (m, s * dir);
        (m, s)
    }

    /// Wind gusts and barge drift, while no leg touches.
    fn disturb(&mut self) {
        if self.legs.contains(&true) {
            return;
        }
        if self.config.wind && self.rng.random_bool(GUST_PROBABILITY) {
            let f = self.wind_dir * self.rng.random_range(0.0..GUST_FORCE);
            self.world.kick([f * DT, 0.0]);
        }
        if self.config.barge_drift && self.rng.random_bool(DRIFT_PROBABILITY) {
            self.world.shift_barge(self.drift_dir * DRIFT_STEP);
        }
    }

    /// The crash the observation `obs` (after a step) shows, if any.
    fn crash(&self, obs: &[f64], hull: bool, hard_touchdown: bool) -> Option<Crash> {
        if hull {
            Some(Crash::HullContact)
        } else if hard_touchdown {
            Some(Crash::HardTouchdown)
        } else if obs[0].abs() >= 1.0 {
            Some(Crash::OutOfBoundsX)
        } else if obs[1] < Y_RANGE[0] || obs[1] > Y_RANGE[1] {
            Some(Crash::OutOfBoundsY)
        } else if obs[4].abs() > TILT_LIMIT {
            Some(Crash::Tilt)
        } else if self.fuel <= 0.0 {
            Some(Crash::OutOfFuel)
        } else {
            None
        }
    }
}

impl Env for RocketLander {
    fn observation_bounds(&self) -> Bounds {
        observe::observation_bounds()
    }

    fn action_bounds(&self) -> Bounds {
        observe::action_bounds()
    }

    /// Drops the rocket at the top of the world, within ±0.1 m of the barge centre, and
    /// kicks it for one step (the reference's `ApplyForceToCenter` before its first
    /// `Step`): the returned observation is the state after that step.
    fn reset(&mut self, seed: u64) -> Vec<f64> {
        self.rng = ChaCha8Rng::seed_from_u64(seed);
        let x = BARGE_CENTER_X + self.rng.random_range(-START_X_SPREAD..START_X_SPREAD);
        let kick = [
            self.rng.random_range(-KICK_X..KICK_X),
            self.rng.random_range(-KICK_Y_MAX..-KICK_Y_MIN),
        ];
        self.wind_dir = if self.rng.random_bool(0.5) { 1.0 } else { -1.0 };
        self.drift_dir = if self.rng.random_bool(0.5) { 1.0 } else { -1.0 };
        let start = Kinematics {
            x,
            y: WORLD_HEIGHT,
            angle: 0.0,
            vx: 0.0,
            vy: 0.0,
            omega: 0.0,
        };
        self.start(&start, [false; 2], [0.0; ACT_DIM]);
        self.world.kick(kick.map(|f| f * DT));
        self.step(&[0.0; ACT_DIM]);
        self.steps = 0;
        self.observation()
    }

    fn step(&mut self, action: &[f64]) -> Step {
        let bounds = observe::action_bounds();
        let mut a = [0.0; ACT_DIM];
        for (i, ai) in a.iter_mut().enumerate() {
            let v = action.get(i).copied().unwrap_or(0.0);
            *ai = if v.is_nan() {
                0.0
            } else {
                v.clamp(bounds.lower[i], bounds.upper[i])
            };
        }
        let vy_before = self.world.kinematics().vy;
        let (m, s) = self.fire(a);
        self.disturb();
        self.world.step();
        self.prev_action = a;
        self.steps += 1;

        let contacts = self.world.contacts();
        let touchdown = (0..2).any(|i| contacts.legs[i] && !self.legs[i]);
        self.legs = contacts.legs;
        self.engines_cut |= self.legs.contains(&true);
        let obs = self.observation();
        let hard = touchdown && observe::normalised_vy(vy_before) < HARD_TOUCHDOWN_VY;

        let shaping = observe::shaping(&obs);
        let mut reward = (shaping - self.prev_shaping - ENGINE_COST * (m + s)) * REWARD_SCALE;
        self.prev_shaping = shaping;

        let k = self.world.kinematics();
        let resting =
            self.legs == [true; 2] && k.vx.hypot(k.vy) < REST_SPEED && k.omega.abs() < REST_SPIN;
        self.rest_steps = if resting { self.rest_steps + 1 } else { 0 };

        if let Some(crash) = self.crash(&obs, contacts.hull, hard) {
            self.outcome = Outcome::Crashed(crash);
            reward = CRASH_REWARD;
        } else if self.rest_steps >= REST_STEPS {
            self.outcome = Outcome::Landed;
            reward = LANDING_REWARD;
        }
        let terminated = self.outcome != Outcome::Flying;
        Step {
            observation: obs,
            reward,
            terminated,
            truncated: !terminated && self.steps >= self.config.max_steps,
        }
    }

    /// Places the rocket at the pose and velocity `observation` describes, relative to the
    /// barge at its start position: legs on their 40° stops and the nozzle at the previous
    /// gimbal command, all moving rigidly with the body; full tank. The leg-contact flags are
    /// taken as given (the next step measures them); a set flag also cuts the engines, as a
    /// touchdown would have. Low, tilted poses can put a leg into the barge (about 2 % of the
    /// paper's property boxes, near `y = 0.02`, `|θ| = 20°`): the rocket is placed as given
    /// and the first step pushes the leg out and reports its contact. The returned
    /// observation equals `observation` up to f32 rounding (~1e-7).
    fn reset_to(&mut self, observation: &[f64]) -> Result<Vec<f64>, EnvError> {
        check_vector(observation, OBS_DIM)?;
        let bounds = observe::observation_bounds();
        for (index, &value) in observation.iter().enumerate() {
            let (lower, upper) = (bounds.lower[index], bounds.upper[index]);
            if value < lower || value > upper {
                return Err(EnvError::OutOfBounds {
                    index,
                    value,
                    lower,
                    upper,
                });
            }
        }
        let flag = |i: usize| match observation[i] {
            0.0 => Ok(false),
            1.0 => Ok(true),
            v => Err(EnvError::Invalid(format!(
                "leg contact {i} is {v}, expected 0 or 1"
            ))),
        };
        let legs = [flag(6)?, flag(7)?];
        let state = observe::kinematics_of(observation, BARGE_CENTER_X);
        let prev = [observation[8], observation[9], observation[10]];
        self.start(&state, legs, prev);
        Ok(self.observation())
    }

    fn scene(&self) -> Option<Scene> {
        Some(self.frame().scene())
    }

    fn succeeded(&self) -> Option<bool> {
        Some(self.landed())
    }
}
