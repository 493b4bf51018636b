//! Engine forces and fuel use, as pure functions of the action, the part poses and the
//! random dispersion, so they can be tested without a physics world.
//!
//! The reference builds each force from an offset vector `o` (metres) that also serves as
//! the lever from the part's origin to where the force acts: the body receives
//! `−POWER · power · o` at `origin + o`. A dispersion `d = (d0, d1)`, each uniform in
//! `±1/30` and drawn fresh every step, perturbs `o`: the main engine's thrust magnitude by up
//! to ±50 % and its direction by up to ±14°, the side thrusters' by up to ±30 % and ±6°.

use super::body::{BODY_HALF_WIDTH, BODY_HEIGHT};

/// Main engine force scale (reference `MAIN_ENGINE_POWER = FPS · 227 / 2.1`).
pub const MAIN_ENGINE_POWER: f64 = 60.0 * 227.0 / 2.1;
/// Side thruster force scale (reference `MAIN_ENGINE_POWER / 50`).
pub const SIDE_ENGINE_POWER: f64 = MAIN_ENGINE_POWER / 50.0;
/// The main engine's lever below the nozzle's origin (4 px), which makes its thrust
/// `MAIN_ENGINE_POWER · 4/30 · m` ≈ 260–520 N for `m` ∈ [0.3, 0.6].
pub const MAIN_ENGINE_OFFSET: f64 = 4.0 / 30.0;
/// Height of the side thrusters above the body's bottom (5 px below the top): 7.4 m.
pub const SIDE_ENGINE_HEIGHT: f64 = BODY_HEIGHT - 5.0 / 30.0;
/// Side thruster lever across the body (10 px = the body's half width), which makes its
/// thrust `SIDE_ENGINE_POWER / 3 · s` ≈ 22–43 N for `s` ∈ [0.5, 1].
pub const SIDE_ENGINE_AWAY: f64 = BODY_HALF_WIDTH;
/// Half-range of each dispersion component (1 px).
pub const DISPERSION: f64 = 1.0 / 30.0;

/// A force (N) and the world point where it acts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thrust {
    pub force: [f64; 2],
    pub point: [f64; 2],
}

/// Main engine power for throttle `a0`: off for `a0 ≤ 0`, else `0.3 · (1 + a0)` ∈ (0.3, 0.6].
pub fn main_power(a0: f64) -> f64 {
    if a0 > 0.0 {
        0.3 * (1.0 + a0.min(1.0))
    } else {
        0.0
    }
}

/// Side thruster power and direction (±1) for command `a1`: off for `|a1| ≤ 0.5`.
pub fn side_power(a1: f64) -> (f64, f64) {
    if a1.abs() > 0.5 {
        (a1.abs().min(1.0), a1.signum())
    } else {
        (0.0, 0.0)
    }
}

/// Fuel (kg) burnt in one step at main power `m` and side power `s`: the main engine costs
/// 50 times as much per unit of power (the ratio of the two force scales).
pub fn fuel_burnt(m: f64, s: f64) -> f64 {
    0.009 * (MAIN_ENGINE_POWER / SIDE_ENGINE_POWER * m + s) / 30.0
}

/// Main engine thrust at power `m` from a nozzle whose origin (bottom centre) is `origin`
/// and whose world angle is `angle`. Undispersed, it pushes along the nozzle's axis
/// (`(−sin, cos)` of its angle) at `MAIN_ENGINE_OFFSET` below the nozzle.
pub fn main_engine(origin: [f64; 2], angle: f64, m: f64, d: [f64; 2]) -> Thrust {
    let (s, c) = angle.sin_cos();
    let along = MAIN_ENGINE_OFFSET + 2.0 * d[0];
    let o = [s * along - c * d[1], -c * along - s * d[1]];
    Thrust {
        force: [-o[0] * MAIN_ENGINE_POWER * m, -o[1] * MAIN_ENGINE_POWER * m],
        point: [origin[0] + o[0], origin[1] + o[1]],
    }
}

/// Side thruster thrust at power `s` in direction `dir` (+1 pushes the top towards the
/// body's +x, turning it clockwise) for a body with origin `origin` and angle `angle`.
/// It acts on the side opposite `dir`, at [`SIDE_ENGINE_HEIGHT`].
pub fn side_engine(origin: [f64; 2], angle: f64, s: f64, dir: f64, d: [f64; 2]) -> Thrust {
    let (sn, c) = angle.sin_cos();
    let rotate = |v: [f64; 2]| [c * v[0] - sn * v[1], sn * v[0] + c * v[1]];
    let local_force = [
        (3.0 * d[1] + dir * SIDE_ENGINE_AWAY) * SIDE_ENGINE_POWER * s,
        d[0] * SIDE_ENGINE_POWER * s,
    ];
    let lever = rotate([-dir * SIDE_ENGINE_AWAY, SIDE_ENGINE_HEIGHT]);
    Thrust {
        force: rotate(local_force),
        point: [origin[0] + lever[0], origin[1] + lever[1]],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn powers_follow_the_reference_thresholds() {
        assert_eq!(main_power(0.0), 0.0);
        assert!((main_power(1e-9) - 0.3).abs() < 1e-8);
        assert!((main_power(1.0) - 0.6).abs() < 1e-12);
        assert_eq!(side_power(0.5), (0.0, 0.0));
        assert_eq!(side_power(-0.7), (0.7, -1.0));
        assert_eq!(side_power(2.0), (1.0, 1.0));
        assert!((fuel_burnt(0.6, 1.0) - 0.009 * 31.0 / 30.0).abs() < 1e-12);
    }

    #[test]
    fn undispersed_main_thrust_points_along_the_nozzle() {
        let t = main_engine([0.0, 0.0], 0.0, 0.6, [0.0, 0.0]);
        assert!(t.force[0].abs() < 1e-12);
        assert!((t.force[1] - MAIN_ENGINE_POWER * 0.6 * 4.0 / 30.0).abs() < 1e-9);
        assert!((t.point[1] + MAIN_ENGINE_OFFSET).abs() < 1e-12);
        // Nozzle turned counter-clockwise: the thrust leans towards −x.
        let t = main_engine([0.0, 0.0], 0.2, 0.6, [0.0, 0.0]);
        assert!(t.force[0] < 0.0 && (t.force[0] / t.force[1] + 0.2f64.tan()).abs() < 1e-12);
    }

    #[test]
    fn side_thrust_pushes_the_top_sideways() {
        let t = side_engine([0.0, 0.0], 0.0, 1.0, 1.0, [0.0, 0.0]);
        assert!((t.force[0] - SIDE_ENGINE_POWER / 3.0).abs() < 1e-9 && t.force[1] == 0.0);
        assert!((t.point[0] + SIDE_ENGINE_AWAY).abs() < 1e-12);
        assert!((t.point[1] - 7.4).abs() < 1e-12);
    }
}
