//! The observation map (the reference's normalisation), its inverse, the reward shaping and
//! the observation bounds.

use super::body::{BARGE_TOP, GIMBAL_LIMIT, Kinematics, WORLD_HEIGHT, WORLD_WIDTH};
use crate::Bounds;

/// Observation length: 8 state numbers and the 3 numbers of the previous action.
pub const OBS_DIM: usize = 11;
/// Action length: main throttle, side thrusters, gimbal.
pub const ACT_DIM: usize = 3;

const FPS: f64 = 60.0;
/// The reference divides positions by half the world width.
const HALF_W: f64 = 0.5 * WORLD_WIDTH;
const HALF_H: f64 = 0.5 * WORLD_HEIGHT;
/// Height of the landing reference: barge top plus the reference's `LEG_DOWN / SCALE`.
const LANDING_Y: f64 = BARGE_TOP + 0.3 / 30.0;
/// The reference's `LANDING_VERTICAL_CALIBRATION`.
const Y_CALIBRATION: f64 = 0.03;
/// The reference scales angular velocity by `20 / FPS`.
const OMEGA_SCALE: f64 = 20.0 / FPS;

/// Tilt beyond which the episode ends as a crash (35°).
pub const TILT_LIMIT: f64 = 35.0 * std::f64::consts::PI / 180.0;
/// Non-terminal altitude range of the normalised `y`.
pub const Y_RANGE: [f64; 2] = [0.0, 1.3];

/// Normalises the body state, the leg contacts and the previous action into an observation:
/// `[(x − xb)/16.5, (y − 5.21)/16.5 − 0.03, vx·16.5/60, vy·13/60, θ, ω/3, leg0, leg1, a0, a1, a2]`
/// with `xb` the barge centre.
pub fn observe(k: &Kinematics, barge_x: f64, legs: [bool; 2], prev: [f64; 3]) -> Vec<f64> {
    let flag = |b: bool| if b { 1.0 } else { 0.0 };
    vec![
        (k.x - barge_x) / HALF_W,
        (k.y - LANDING_Y) / HALF_W - Y_CALIBRATION,
        k.vx * HALF_W / FPS,
        normalised_vy(k.vy),
        k.angle,
        k.omega * OMEGA_SCALE,
        flag(legs[0]),
        flag(legs[1]),
        prev[0],
        prev[1],
        prev[2],
    ]
}

/// The observation's vertical speed.
pub fn normalised_vy(vy: f64) -> f64 {
    vy * HALF_H / FPS
}

/// Inverse of [`observe`] for the body state.
pub fn kinematics_of(obs: &[f64], barge_x: f64) -> Kinematics {
    Kinematics {
        x: barge_x + obs[0] * HALF_W,
        y: LANDING_Y + (obs[1] + Y_CALIBRATION) * HALF_W,
        angle: obs[4],
        vx: obs[2] * FPS / HALF_W,
        vy: obs[3] * FPS / HALF_H,
        omega: obs[5] / OMEGA_SCALE,
    }
}

/// Potential whose per-step difference is the dense reward: distance to the pad, speed,
/// tilt and spin cost, leg contacts pay, and climbing costs 1.
pub fn shaping(obs: &[f64]) -> f64 {
    let climbing = if obs[3] > 0.0 { 1.0 } else { 0.0 };
    -200.0 * obs[0].hypot(obs[1])
        - 100.0 * obs[2].hypot(obs[3])
        - 1000.0 * obs[4].abs()
        - 30.0 * obs[5].abs()
        + 20.0 * (obs[6] + obs[7])
        - climbing
}

/// Action bounds: throttle `[0, 1]`, side `[−1, 1]`, gimbal `±15°` in radians.
pub fn action_bounds() -> Bounds {
    Bounds {
        lower: vec![0.0, -1.0, -GIMBAL_LIMIT],
        upper: vec![1.0, 1.0, GIMBAL_LIMIT],
    }
}

/// Observation bounds: every observation an episode can produce, terminal ones included.
///
/// - `x`: episodes end at `|x| ≥ 1`; one step moves less than 0.04 → `±1.1`.
/// - `y`: episodes end outside `[0, 1.3]`; one step moves less than 0.03 → `[−0.2, 1.4]`.
/// - `vx`: thrust tilted at most 35° + 15° accelerates sideways by at most ~16 m/s² over at
///   most 33 m, ≈ 33 m/s → `±10` (36 m/s).
/// - `vy`: the fastest descent is the 26 000 N reset push (−14 m/s) plus free fall from at
///   most 27 m to the barge, ≈ 25 m/s; the fastest climb (≈ 11 m/s² over ≤ 22 m) ≈ 22 m/s
///   → `±6` (28 m/s).
/// - `θ`: episodes end beyond 35°; one step turns less than 0.2 rad → `±1` rad.
/// - `ω/3`: engine torques (≤ 700 N·m on ≥ 120 kg·m²) spin up at most ~6 rad/s² within the
///   ±35° band (≈ 4 rad/s), plus the reset kick → `±3` (9 rad/s).
/// - Contacts `[0, 1]`, previous action within the action bounds.
pub fn observation_bounds() -> Bounds {
    let a = action_bounds();
    let mut lower = vec![-1.1, -0.2, -10.0, -6.0, -1.0, -3.0, 0.0, 0.0];
    let mut upper = vec![1.1, 1.4, 10.0, 6.0, 1.0, 3.0, 1.0, 1.0];
    lower.extend(a.lower);
    upper.extend(a.upper);
    Bounds { lower, upper }
}
