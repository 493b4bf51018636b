//! The classic inverted pendulum swing-up (Gym `Pendulum-v1` dynamics), the standard
//! sanity benchmark for DDPG.

use crate::scene::{Scene, Shape, Viewport};
use crate::{Bounds, Env, EnvError, Step, check_vector};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::f64::consts::PI;

const GRAVITY: f64 = 10.0;
const MASS: f64 = 1.0;
const LENGTH: f64 = 1.0;
const DT: f64 = 0.05;
/// Angular speed limit (rad/s).
pub const MAX_SPEED: f64 = 8.0;
/// Torque limit (N·m).
pub const MAX_TORQUE: f64 = 2.0;

/// Pendulum state: angle θ (0 = upright) and angular velocity θ̇.
///
/// Observation: `[cos θ, sin θ, θ̇]`; action: torque in `[-2, 2]`;
/// reward `-(θ² + 0.1 θ̇² + 0.001 u²)` with θ wrapped to `[-π, π)`.
#[derive(Debug, Clone)]
pub struct Pendulum {
    theta: f64,
    theta_dot: f64,
    steps: usize,
    max_steps: usize,
}

impl Pendulum {
    /// A pendulum whose episodes are truncated after `max_steps` steps (200 in Gym).
    pub fn new(max_steps: usize) -> Self {
        Self {
            theta: 0.0,
            theta_dot: 0.0,
            steps: 0,
            max_steps,
        }
    }

    fn observation(&self) -> Vec<f64> {
        vec![self.theta.cos(), self.theta.sin(), self.theta_dot]
    }
}

/// Wraps an angle into `[-π, π)`.
fn wrap_angle(x: f64) -> f64 {
    (x + PI).rem_euclid(2.0 * PI) - PI
}

impl Env for Pendulum {
    fn observation_bounds(&self) -> Bounds {
        Bounds {
            lower: vec![-1.0, -1.0, -MAX_SPEED],
            upper: vec![1.0, 1.0, MAX_SPEED],
        }
    }

    fn action_bounds(&self) -> Bounds {
        Bounds {
            lower: vec![-MAX_TORQUE],
            upper: vec![MAX_TORQUE],
        }
    }

    fn reset(&mut self, seed: u64) -> Vec<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        self.theta = rng.random_range(-PI..PI);
        self.theta_dot = rng.random_range(-1.0..1.0);
        self.steps = 0;
        self.observation()
    }

    fn step(&mut self, action: &[f64]) -> Step {
        let u = action[0].clamp(-MAX_TORQUE, MAX_TORQUE);
        let cost =
            wrap_angle(self.theta).powi(2) + 0.1 * self.theta_dot.powi(2) + 0.001 * u.powi(2);
        let accel =
            3.0 * GRAVITY / (2.0 * LENGTH) * self.theta.sin() + 3.0 / (MASS * LENGTH * LENGTH) * u;
        self.theta_dot = (self.theta_dot + accel * DT).clamp(-MAX_SPEED, MAX_SPEED);
        self.theta += self.theta_dot * DT;
        self.steps += 1;
        Step {
            observation: self.observation(),
            reward: -cost,
            terminated: false,
            truncated: self.steps >= self.max_steps,
        }
    }

    fn reset_to(&mut self, observation: &[f64]) -> Result<Vec<f64>, EnvError> {
        check_vector(observation, 3)?;
        let (cos, sin, theta_dot) = (observation[0], observation[1], observation[2]);
        if cos == 0.0 && sin == 0.0 {
            return Err(EnvError::Invalid(
                "cos θ and sin θ are both 0: no angle".into(),
            ));
        }
        if theta_dot.abs() > MAX_SPEED {
            return Err(EnvError::OutOfBounds {
                index: 2,
                value: theta_dot,
                lower: -MAX_SPEED,
                upper: MAX_SPEED,
            });
        }
        self.theta = sin.atan2(cos);
        self.theta_dot = theta_dot;
        self.steps = 0;
        Ok(self.observation())
    }

    /// The rod from the pivot (origin) to the bob, θ = 0 pointing up.
    fn scene(&self) -> Option<Scene> {
        let (sin, cos) = self.theta.sin_cos();
        let tip = [-LENGTH * sin, LENGTH * cos];
        let rod_center = [tip[0] / 2.0, tip[1] / 2.0];
        let angle = self.theta + std::f64::consts::FRAC_PI_2;
        Some(Scene {
            viewport: Viewport {
                x_min: -1.3,
                x_max: 1.3,
                y_min: -1.3,
                y_max: 1.3,
            },
            seconds_per_step: DT,
            background: [255, 255, 255],
            shapes: vec![
                Shape::rect(rod_center, [LENGTH / 2.0, 0.05], angle, [200, 60, 60]),
                Shape::rect(tip, [0.08, 0.08], angle, [60, 60, 60]),
                Shape::rect([0.0, 0.0], [0.04, 0.04], 0.0, [0, 0, 0]),
            ],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hanging_still_pendulum_stays_down_and_costs_pi_squared() {
        let mut env = Pendulum::new(200);
        env.reset_to(&[-1.0, 0.0, 0.0]).unwrap();
        let step = env.step(&[0.0]);
        assert!((step.reward + PI * PI).abs() < 1e-9);
        assert!((step.observation[0] + 1.0).abs() < 1e-9);
    }

    #[test]
    fn matches_gym_update_rule() {
        let mut env = Pendulum::new(200);
        env.reset_to(&[0.5f64.cos(), 0.5f64.sin(), 1.0]).unwrap();
        let step = env.step(&[1.0]);
        let thdot: f64 = 1.0 + (15.0 * 0.5f64.sin() + 3.0) * 0.05;
        let th = 0.5 + thdot * 0.05;
        assert!((step.observation[2] - thdot).abs() < 1e-12);
        assert!((step.observation[1] - th.sin()).abs() < 1e-12);
        assert!((step.reward + (0.25 + 0.1 + 0.001)).abs() < 1e-12);
    }

    #[test]
    fn truncates_after_max_steps_and_clips_torque_and_speed() {
        let mut env = Pendulum::new(3);
        env.reset(7);
        assert!(!env.step(&[100.0]).truncated);
        assert!(!env.step(&[100.0]).truncated);
        let last = env.step(&[100.0]);
        assert!(last.truncated && !last.terminated);
        assert!(last.observation[2].abs() <= MAX_SPEED);
    }

    #[test]
    fn reset_is_a_function_of_the_seed() {
        let mut a = Pendulum::new(200);
        let mut b = Pendulum::new(200);
        assert_eq!(a.reset(42), b.reset(42));
        assert_ne!(a.reset(42), a.reset(43));
    }

    #[test]
    fn reset_to_round_trips_observations_and_rejects_bad_ones() {
        let mut env = Pendulum::new(200);
        let obs = env.reset(3);
        let again = env.reset_to(&obs).unwrap();
        for (a, b) in obs.iter().zip(&again) {
            assert!((a - b).abs() < 1e-12);
        }
        assert!(env.reset_to(&[1.0, 0.0]).is_err());
        assert!(env.reset_to(&[1.0, 0.0, f64::NAN]).is_err());
        assert!(env.reset_to(&[1.0, 0.0, 9.0]).is_err());
    }
}
