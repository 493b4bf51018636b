//! Every shipped config loads: training configs with properties that fit their
//! environment, `saferl fit` configs (those with a `[data]` table) as such.

mod common;

use saferl::config::Config;
use saferl::config::FitConfig;
use saferl::config::patch::PatchConfig;
use saferl::session::run::Run;

#[test]
fn shipped_configs_load_and_their_properties_resolve() {
    let mut checked = 0;
    for entry in std::fs::read_dir(common::repo_path("configs")).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        if text.lines().any(|l| l.trim() == "[data]") {
            let config = FitConfig::load(&path).unwrap_or_else(|e| panic!("{e}"));
            // The demonstrations are in the repository's data/ (resolved from the config).
            let data = serde_json::to_value(&config.data).unwrap();
            let dir = std::path::Path::new(data["dir"].as_str().unwrap());
            let dir = dir
                .canonicalize()
                .unwrap_or_else(|e| panic!("{}: {}: {e}", path.display(), dir.display()));
            let repo_data = common::repo_path("data").canonicalize().unwrap();
            assert!(
                dir.starts_with(&repo_data) && dir.is_dir(),
                "{}: data dir {} is not in {}",
                path.display(),
                dir.display(),
                repo_data.display()
            );
            checked += 1;
            continue;
        }
        let config = Config::load(&path).unwrap_or_else(|e| panic!("{e}"));
        let run = Run {
            dir: path.clone(),
            config,
        };
        let properties = run.properties().unwrap_or_else(|e| panic!("{e}"));
        assert!(
            !properties.is_empty(),
            "{} declares no property",
            path.display()
        );
        checked += 1;
    }
    assert!(checked >= 3);
}

/// `saferl patch` configs (configs/patch/) load and their constraints resolve for the
/// prosthesis policies they are written for (40 inputs; 50 with the ankle inputs).
#[test]
fn shipped_patch_configs_load_and_their_constraints_resolve() {
    let mut checked = 0;
    for entry in std::fs::read_dir(common::repo_path("configs/patch")).unwrap() {
        let path = entry.unwrap().path();
        let config = PatchConfig::load(&path).unwrap_or_else(|e| panic!("{e}"));
        let inputs = if path.to_string_lossy().contains("rate") {
            50
        } else {
            40
        };
        config
            .constraints(inputs, 1)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        checked += 1;
    }
    assert!(checked >= 3);
}

#[test]
fn rocket_properties_are_the_papers() {
    let config = Config::load(&common::repo_path("configs/rocket.toml")).unwrap();
    let run = Run {
        dir: common::repo_path("configs"),
        config,
    };
    let properties = run.properties().unwrap();
    let [tilt_right, tilt_left] = properties.as_slice() else {
        panic!("expected two properties");
    };
    let deg = std::f64::consts::PI / 180.0;
    // θ ∈ [−20°, −6°], ω ∈ [−0.2, 0], previous side thrust ≤ 0, previous gimbal ≤ 0.
    let inside = [
        0.0,
        0.3,
        0.0,
        0.0,
        -10.0 * deg,
        -0.1,
        0.0,
        0.0,
        0.5,
        -0.5,
        -5.0 * deg,
    ];
    assert!(tilt_right.violated_by(&inside, &[0.5, 0.1, deg]));
    assert!(!tilt_right.violated_by(&inside, &[0.5, -0.1, deg]));
    assert!(!tilt_left.input.contains(&inside));
    let mirrored: Vec<f64> = inside
        .iter()
        .enumerate()
        .map(|(i, &v)| if matches!(i, 4 | 5 | 9 | 10) { -v } else { v })
        .collect();
    assert!(tilt_left.violated_by(&mirrored, &[0.5, -0.1, -deg]));
}
