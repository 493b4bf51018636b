use super::engines::{MAIN_ENGINE_OFFSET, MAIN_ENGINE_POWER};
use super::observe::shaping;
use super::*;
use std::f64::consts::PI;

const NO_THRUST: [f64; 3] = [0.0, 0.0, 0.0];

fn undispersed() -> RocketLander {
    RocketLander::new(RocketConfig {
        engine_dispersion: false,
        ..RocketConfig::default()
    })
}

/// An observation at rest at normalised height `y`, tilted by `theta`, no contact, no action.
fn still(x: f64, y: f64, theta: f64) -> Vec<f64> {
    vec![x, y, 0.0, 0.0, theta, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
}

/// Vertical speed (m/s) of an observation.
fn vy(obs: &[f64]) -> f64 {
    obs[3] * 60.0 / 13.0
}

fn vx(obs: &[f64]) -> f64 {
    obs[2] * 60.0 / 16.5
}

#[test]
fn free_fall_matches_gravity() {
    let mut env = undispersed();
    env.reset_to(&still(0.0, 1.0, 0.0)).unwrap();
    let n = 60;
    let mut obs = vec![];
    for _ in 0..n {
        obs = env.step(&NO_THRUST).observation;
    }
    let expected = -9.81 * n as f64 * DT;
    assert!(
        (vy(&obs) - expected).abs() < 1e-3 * expected.abs(),
        "{}",
        vy(&obs)
    );
    assert!(vx(&obs).abs() < 0.01 && obs[4].abs() < 1e-3);
    // The legs rest on their 40° stops in flight.
    assert!((env.world.leg_angle(0) - 40f64.to_radians()).abs() < 1e-3);
    assert!((env.world.leg_angle(1) + 40f64.to_radians()).abs() < 1e-3);
}

#[test]
fn main_engine_accelerates_the_rocket_by_thrust_over_mass() {
    let mut env = undispersed();
    let start = env.reset_to(&still(0.0, 0.8, 0.0)).unwrap();
    let (mass, _) = env.world.momentum();
    let n = 30;
    let mut obs = vec![];
    for _ in 0..n {
        obs = env.step(&[1.0, 0.0, 0.0]).observation;
    }
    let thrust = MAIN_ENGINE_POWER * MAIN_ENGINE_OFFSET * 0.6;
    assert!((thrust - 518.86).abs() < 0.01);
    // ≈ 30.6 kg: body 25.2, legs 2 × 1.9, nozzle 1.6; 30 steps burn ≈ 0.28 kg.
    assert!((mass - 30.58).abs() < 0.01, "{mass}");
    let mean_mass = mass - 0.5 * (INITIAL_FUEL_SHARE * BODY_MASS - env.fuel());
    let accel = (vy(&obs) - vy(&start)) / (n as f64 * DT);
    let expected = thrust / mean_mass - 9.81;
    assert!(
        (accel - expected).abs() < 0.01 * expected,
        "{accel} vs {expected}"
    );
    assert!(vx(&obs).abs() < 1e-2 && obs[4].abs() < 1e-3);
}

#[test]
fn thrust_follows_the_gimbal_and_side_thrusters_turn_the_rocket() {
    let first_step = |action: [f64; 3]| {
        let mut env = undispersed();
        env.reset_to(&still(0.0, 0.8, 0.0)).unwrap();
        let obs = env.step(&action).observation;
        let (mass, p) = env.world.momentum();
        (obs, p[0] / mass)
    };
    let gimbal = 15f64.to_radians();
    // Exit swung towards +x: the thrust pushes towards −x and turns the rocket clockwise.
    let (right, right_vx) = first_step([1.0, 0.0, gimbal]);
    assert!(vx(&right) < -0.01 && right[5] < 0.0, "{right:?}");
    let (left, left_vx) = first_step([1.0, 0.0, -gimbal]);
    assert!(vx(&left) > 0.01 && left[5] > 0.0, "{left:?}");
    // The whole rocket's lateral acceleration is thrust · sin 15° / mass.
    let thrust = MAIN_ENGINE_POWER * MAIN_ENGINE_OFFSET * 0.6;
    let expected = thrust * gimbal.sin() / 30.58 * DT;
    assert!(
        (left_vx - expected).abs() < 1e-3 * expected,
        "{left_vx} vs {expected}"
    );
    assert!(
        (right_vx + expected).abs() < 1e-3 * expected,
        "{right_vx} vs {expected}"
    );
    // Side thrusters: a1 > 0.5 turns clockwise, a1 < −0.5 counter-clockwise, |a1| ≤ 0.5 idles.
    assert!(first_step([0.0, 1.0, 0.0]).0[5] < 0.0);
    assert!(first_step([0.0, -1.0, 0.0]).0[5] > 0.0);
    assert!(first_step([0.0, 0.5, 0.0]).0[5].abs() < 1e-3);
}

#[test]
fn rocket_touches_down_and_stands_on_its_legs() {
    let mut env = undispersed();
    env.reset_to(&still(0.0, 0.02, 0.0)).unwrap();
    let mut touched = false;
    let mut last = None;
    for _ in 0..400 {
        // Full throttle once a leg is down: the engines must stay off.
        let step = env.step(&[if touched { 1.0 } else { 0.0 }, 0.0, 0.0]);
        touched |= step.observation[6] == 1.0 || step.observation[7] == 1.0;
        if step.terminated {
            last = Some(step);
            break;
        }
    }
    let last = last.expect("the rocket never came to rest");
    assert!(touched);
    assert_eq!(env.outcome(), Outcome::Landed);
    assert!(env.landed() && env.succeeded() == Some(true));
    assert_eq!(last.reward, LANDING_REWARD);
    assert_eq!(&last.observation[6..8], &[1.0, 1.0]);
    assert!(last.observation[4].abs() < 0.05, "{:?}", last.observation);
    assert_eq!(env.fuel(), INITIAL_FUEL_SHARE * BODY_MASS);
    // Standing on compressed legs, the body's bottom is about 0.6 m above the barge.
    let frame = env.frame();
    let bottom = frame.body.center[1] - frame.body.half_extents[1];
    assert!((bottom - BARGE_TOP - 0.6).abs() < 0.1, "{bottom}");
}

#[test]
fn reward_is_the_shaping_difference_minus_engine_costs() {
    // Handcrafted: ‖(0.3, 0.4)‖ = 0.5, ‖(0.6, 0.8)‖ = 1, climbing, one leg down.
    let obs = [0.3, 0.4, 0.6, 0.8, 0.1, -0.3, 1.0, 0.0, 0.0, 0.0, 0.0];
    let expected = -200.0 * 0.5 - 100.0 * 1.0 - 1000.0 * 0.1 - 30.0 * 0.3 + 20.0 - 1.0;
    assert!((shaping(&obs) - expected).abs() < 1e-9);

    let mut env = undispersed();
    let start = env.reset_to(&[0.1, 0.6, 0.2, -0.5, 0.05, 0.1, 0.0, 0.0, 0.0, 0.0, 0.0]);
    let start = start.unwrap();
    let step = env.step(&[0.5, -0.8, 0.1]);
    let (m, s) = (0.3 * 1.5, 0.8);
    let expected = (shaping(&step.observation) - shaping(&start) - 0.3 * (m + s)) / 10.0;
    assert!((step.reward - expected).abs() < 1e-9);
    assert_eq!(&step.observation[8..], &[0.5, -0.8, 0.1]);
    assert!(!step.terminated && !step.truncated);
}

#[test]
fn tilting_beyond_35_degrees_crashes() {
    let mut env = undispersed();
    env.reset_to(&still(0.0, 0.8, 34f64.to_radians())).unwrap();
    let step = env.step(&NO_THRUST);
    assert!(!step.terminated);
    env.reset_to(&still(0.0, 0.8, -36f64.to_radians())).unwrap();
    let step = env.step(&NO_THRUST);
    assert!(step.terminated && !step.truncated);
    assert_eq!(step.reward, CRASH_REWARD);
    assert_eq!(env.outcome(), Outcome::Crashed(Crash::Tilt));
    assert_eq!(env.succeeded(), Some(false));
}

#[test]
fn leaving_the_world_or_the_tank_running_dry_crashes() {
    let mut env = undispersed();
    env.reset_to(&[0.999, 0.8, 0.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])
        .unwrap();
    assert!(env.step(&NO_THRUST).terminated);
    assert_eq!(env.outcome(), Outcome::Crashed(Crash::OutOfBoundsX));
    // Beside the barge, falling below the landing height.
    env.reset_to(&[0.5, 0.001, 0.0, -1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])
        .unwrap();
    assert!(env.step(&NO_THRUST).terminated);
    assert_eq!(env.outcome(), Outcome::Crashed(Crash::OutOfBoundsY));
    env.reset_to(&still(0.0, 0.8, 0.0)).unwrap();
    env.fuel = 0.005;
    let step = env.step(&[1.0, 0.0, 0.0]);
    assert!(step.terminated && step.reward == CRASH_REWARD);
    assert_eq!(env.outcome(), Outcome::Crashed(Crash::OutOfFuel));
}

#[test]
fn touching_the_barge_with_the_hull_crashes() {
    let mut env = undispersed();
    // The body's bottom 5 cm above the barge: the nozzle (0.2 m below it) touches.
    let y = (BARGE_TOP + 0.05 - 5.21) / 16.5 - 0.03;
    env.reset_to(&still(0.0, y, 0.0)).unwrap();
    let step = env.step(&NO_THRUST);
    assert!(step.terminated && step.reward == CRASH_REWARD);
    assert_eq!(env.outcome(), Outcome::Crashed(Crash::HullContact));
}

#[test]
fn reset_kicks_the_rocket_for_one_step() {
    let mut env = RocketLander::new(RocketConfig::default());
    let mut spread = [f64::INFINITY, f64::NEG_INFINITY];
    for seed in 0..40 {
        let obs = env.reset(seed);
        let (mass, p) = env.world.momentum();
        // Momentum after the reset step: one step of the kick plus one of gravity.
        let (vx_com, vy_com) = (p[0] / mass, p[1] / mass);
        let g = 9.81 * DT;
        assert!(vx_com.abs() <= KICK_X * DT / mass + 1e-3, "{vx_com}");
        assert!(vy_com <= -KICK_Y_MIN * DT / mass - g + 1e-3, "{vy_com}");
        assert!(vy_com >= -KICK_Y_MAX * DT / mass - g - 1e-3, "{vy_com}");
        spread = [spread[0].min(vy_com), spread[1].max(vy_com)];
        // Start: at the top, within ±0.1 m of the barge centre, no contact, no action.
        assert!(obs[0].abs() < 0.11 / 16.5 + 0.01 && (obs[1] - 1.22).abs() < 0.01);
        assert_eq!(&obs[6..], &[0.0; 5]);
    }
    // The kicks span most of the −20 000…−26 000 N range (−10.9…−14.2 m/s).
    assert!(spread[0] < -13.5 && spread[1] > -11.5, "{spread:?}");
}

#[test]
fn reset_to_round_trips_the_property_domains() {
    let mut env = RocketLander::new(RocketConfig::default());
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let deg = PI / 180.0;
    for i in 0..200 {
        // Property 1 (tilting right) for even i, its mirror image for odd i.
        let sign = if i % 2 == 0 { -1.0 } else { 1.0 };
        let mut u = |lo: f64, hi: f64| rng.random_range(lo..=hi);
        let obs = vec![
            u(-0.2, 0.2),
            u(0.02, 0.5),
            u(-0.5, 0.5),
            u(-1.0, 1.0),
            sign * u(6.0 * deg, 20.0 * deg),
            sign * u(0.0, 0.2),
            0.0,
            0.0,
            u(0.0, 1.0),
            sign * u(0.0, 1.0),
            sign * u(0.0, 15.0 * deg),
        ];
        let back = env.reset_to(&obs).unwrap();
        for (a, b) in obs.iter().zip(&back) {
            assert!((a - b).abs() < 1e-6, "{obs:?} → {back:?}");
        }
    }
    assert!(matches!(
        env.reset_to(&[0.0; 10]),
        Err(EnvError::WrongSize { .. })
    ));
    let mut bad = still(0.0, 0.5, 0.0);
    bad[3] = f64::NAN;
    assert!(matches!(
        env.reset_to(&bad),
        Err(EnvError::NotFinite { .. })
    ));
    bad[3] = 7.0;
    assert!(matches!(
        env.reset_to(&bad),
        Err(EnvError::OutOfBounds { index: 3, .. })
    ));
    bad[3] = 0.0;
    bad[6] = 0.5;
    assert!(matches!(env.reset_to(&bad), Err(EnvError::Invalid(_))));
}

#[test]
fn same_seed_same_trajectory() {
    let run = |env: &mut RocketLander, seed| {
        let mut observations = vec![env.reset(seed)];
        for t in 0..150 {
            let t = t as f64;
            let action = [
                0.5 + 0.5 * (t / 7.0).sin(),
                (t / 5.0).cos(),
                0.2 * (t / 3.0).sin(),
            ];
            let step = env.step(&action);
            observations.push(step.observation);
            if step.terminated {
                break;
            }
        }
        observations
    };
    let config = RocketConfig {
        wind: true,
        barge_drift: true,
        ..RocketConfig::default()
    };
    let mut a = RocketLander::new(config.clone());
    let mut b = RocketLander::new(config);
    let first = run(&mut a, 5);
    assert!(first.len() > 20);
    assert_eq!(first, run(&mut b, 5));
    // Nothing carries over from one episode to the next.
    assert_ne!(run(&mut a, 6), first);
    assert_eq!(run(&mut a, 5), first);
}

#[test]
fn random_episodes_stay_within_the_observation_bounds() {
    let mut env = RocketLander::new(RocketConfig {
        wind: true,
        barge_drift: true,
        ..RocketConfig::default()
    });
    let bounds = env.observation_bounds();
    let actions = env.action_bounds();
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    for seed in 0..20 {
        let mut obs = env.reset(seed);
        for _ in 0..1000 {
            assert_eq!(bounds.clamp(&obs), obs, "{obs:?}");
            let action: Vec<f64> = (0..3)
                .map(|i| rng.random_range(actions.lower[i]..=actions.upper[i]))
                .collect();
            let step = env.step(&action);
            obs = step.observation;
            if step.terminated || step.truncated {
                break;
            }
        }
        assert_eq!(bounds.clamp(&obs), obs, "{obs:?}");
    }
}

#[test]
fn episodes_are_truncated_at_max_steps() {
    let mut env = RocketLander::new(RocketConfig {
        max_steps: 5,
        ..RocketConfig::default()
    });
    env.reset_to(&still(0.0, 1.0, 0.0)).unwrap();
    for _ in 0..4 {
        assert!(!env.step(&[0.1, 0.0, 0.0]).truncated);
    }
    let last = env.step(&[0.1, 0.0, 0.0]);
    assert!(last.truncated && !last.terminated);
    assert_eq!(env.outcome(), Outcome::Flying);
}

#[test]
fn barge_drift_moves_the_target() {
    let mut env = RocketLander::new(RocketConfig {
        barge_drift: true,
        ..RocketConfig::default()
    });
    env.reset(1);
    let x0 = env.frame().barge[0];
    let mut obs = vec![];
    for _ in 0..60 {
        obs = env.step(&[0.2, 0.0, 0.0]).observation;
    }
    let frame = env.frame();
    let shift = frame.barge[0] - x0;
    assert!(shift.abs() >= 0.05 - 1e-4, "{shift}");
    let barge_center = 0.5 * (frame.barge[0] + frame.barge[2]);
    let x = frame.body.center[0] + frame.body.half_extents[1] * frame.body.angle.sin();
    assert!((obs[0] - (x - barge_center) / 16.5).abs() < 1e-5);
}

#[test]
fn frame_matches_the_observation() {
    let mut env = undispersed();
    let obs = env
        .reset_to(&[0.1, 0.5, 0.0, 0.0, 0.2, 0.0, 0.0, 0.0, 1.0, 0.0, -0.1])
        .unwrap();
    let f = env.frame();
    // The body's bottom centre is the observed position.
    let (s, c) = f.body.angle.sin_cos();
    let bottom = [
        f.body.center[0] + s * f.body.half_extents[1],
        f.body.center[1] - c * f.body.half_extents[1],
    ];
    assert!((bottom[0] - (16.5 + 0.1 * 16.5)).abs() < 1e-4);
    assert!((bottom[1] - (5.21 + 0.53 * 16.5)).abs() < 1e-4);
    assert!((f.body.angle - obs[4]).abs() < 1e-6);
    // The nozzle sits at the previous gimbal command, the legs splay outwards.
    assert!((f.nozzle.angle - (0.2 - 0.1)).abs() < 1e-6);
    assert!(f.legs[0].center[0] > f.legs[1].center[0]);
    assert_eq!(f.barge, [11.55, 0.1, 21.45, 5.2]);
    env.step(&[1.0, 1.0, 0.0]);
    let f = env.frame();
    assert!((f.main_power - 0.6).abs() < 1e-12 && f.side_power == 1.0);
    let scene = env.scene().unwrap();
    assert_eq!(scene.shapes.len(), 2 + 2 + 2 + 2);
    assert!((scene.seconds_per_step - 1.0 / 60.0).abs() < 1e-12);
}
