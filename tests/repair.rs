//! Repair: a deliberately unsafe actor comes out of a repair round verified safe, and a
//! crash in the middle of a round, in training or in `saferl repair`, resumes cleanly.

mod common;

use indicatif::ProgressBar;
use nalgebra::{DMatrix, DVector};
use saferl::config::{Config, Penalty};
use saferl::nn::nnet::read_nnet;
use saferl::nn::pre_tanh_property;
use saferl::nn::{ActionScaling, Layer, ReluNet};
use saferl::session::checkpoint::Checkpoint;
use saferl::session::run::Run;
use saferl::verify::reach::{self, Mode, Options, Verdict};
use std::path::Path;
use std::time::{Duration, Instant};

/// A pendulum actor 3 → 8 → 1 that answers a fast spin with a hard torque:
/// y = 0.15·θ̇, so |u| = 2·tanh(0.15·|θ̇|) > 1.5 for |θ̇| > 6.5, which the shipped property
/// forbids near upright.
fn unsafe_pendulum_actor() -> ReluNet {
    let mut w1 = DMatrix::zeros(8, 3);
    w1[(0, 2)] = 1.0;
    w1[(1, 2)] = -1.0;
    let mut w2 = DMatrix::zeros(1, 8);
    w2[(0, 0)] = 0.15;
    w2[(0, 1)] = -0.15;
    ReluNet::new(vec![
        Layer {
            weights: w1,
            bias: DVector::zeros(8),
        },
        Layer {
            weights: w2,
            bias: DVector::zeros(1),
        },
    ])
    .unwrap()
}

/// The pendulum config with an 8-neuron actor and a quick repair.
fn repair_config() -> Config {
    let mut config = common::pendulum_config();
    config.actor.hidden = vec![8];
    config.critic.hidden = vec![32, 32];
    let r = &mut config.repair;
    r.critic_warmup_episodes = 10;
    r.eval_episodes = 5;
    r.actor_lr = 1e-3;
    r.critic_lr = 1e-3;
    r.batch = 128;
    r.penalty = Penalty::Fixed(-1000.0);
    r.max_passes = 40;
    r.reach_timeout_s = 60.0;
    config
}

/// The verdict of the exact verifier on `net` for the config's (only) property.
fn verdict(net: &ReluNet, config: &Config) -> Verdict {
    let run = Run {
        dir: ".".into(),
        config: config.clone(),
    };
    let property = run.properties().unwrap().remove(0);
    let scaling = ActionScaling::from_bounds(&[-2.0], &[2.0]);
    let mapped = pre_tanh_property(&property, &scaling).unwrap();
    let options = Options {
        mode: Mode::AllRegions,
        ..Options::default()
    };
    reach::verify(net, &mapped, &options).unwrap().verdict
}

#[test]
fn a_repair_round_makes_an_unsafe_actor_verified_safe() {
    let tmp = tempfile::tempdir().unwrap();
    let config = repair_config();
    let actor = unsafe_pendulum_actor();
    assert_eq!(verdict(&actor, &config), Verdict::Unsafe);

    let run = Run::create(&tmp.path().join("repair"), config.clone()).unwrap();
    let summary = saferl::jobs::repair::repair_net(
        &tmp.path().join("unsafe.nnet"),
        &actor,
        run,
        &ProgressBar::hidden(),
    )
    .unwrap();
    eprintln!("{summary:#?}");
    let round = summary
        .round
        .as_ref()
        .expect("the actor needed a repair round");
    assert!(round.regions_before > 0);
    assert!(round.penalized_steps > 0, "penalized episodes ran");
    assert!(summary.verified_after);
    // Independently of the repair's own check: read the written actor back and verify it.
    let repaired = read_nnet(&summary.actor).unwrap().net;
    assert_ne!(repaired, actor);
    assert_eq!(verdict(&repaired, &config), Verdict::Safe);
    let log = std::fs::read_to_string(tmp.path().join("repair/repair.jsonl")).unwrap();
    assert!(
        log.lines()
            .any(|l| l.contains("\"event\":\"repair/round\""))
    );
}

#[test]
fn a_crash_during_a_repair_round_resumes_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let mut config = common::tiny_pendulum_config(1000, 1);
    // An easy-to-violate property: no positive torque at all near upright. A freshly
    // initialized actor violates it somewhere, so the first round has work to do.
    config.properties[0].unsafe_set = vec![vec!["y0 >= 0".to_string()]];
    config.repair.enabled = true;
    config.repair.every_episodes = 2;
    config.repair.eval_episodes = 2;
    config.repair.batch = 64;
    config.repair.penalty = Penalty::Fixed(-1000.0);
    config.repair.actor_lr = 1e-3;
    config.repair.critic_lr = 1e-3;
    config.repair.max_passes = 200;
    let config_path = common::write_config(tmp.path(), "tiny.toml", &config);
    let run_dir = tmp.path().join("run");
    let child = common::saferl()
        .args(["train", "--quiet", "--config"])
        .arg(&config_path)
        .arg("--run-dir")
        .arg(&run_dir)
        .spawn()
        .unwrap();
    let checkpoint = run_dir.join("checkpoint.bin");
    kill_mid_round(child, &checkpoint);

    let saved = Checkpoint::load(&checkpoint).expect("checkpoint intact after kill -9");
    let open = saved.repair.round.clone().expect("killed inside a round");
    forge_a_pass_after_the_checkpoint(&run_dir, saved.repair.passes + 1);
    let target = saved.counters.episodes + 2;
    common::resume_to(&run_dir, target);
    let resumed = Checkpoint::load(&checkpoint).unwrap();
    assert_eq!(resumed.counters.episodes, target);
    assert!(resumed.repair.round.is_none(), "every round finished");
    assert!(resumed.repair.rounds > saved.repair.rounds);
    assert_logs_count_each_pass_and_round_once(&run_dir, &resumed);
    // The interrupted round went on from where it stopped: its report counts the passes
    // made before the kill and keeps the baseline measured before it.
    let log = std::fs::read_to_string(run_dir.join("repair.jsonl")).unwrap();
    let report: serde_json::Value = log
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["event"] == "repair/round" && v["round"] == saved.repair.rounds + 1)
        .expect("the interrupted round reported");
    assert!(report["passes"].as_u64().unwrap() >= open.passes);
    // (serde_json's default float parsing may be off by one ulp.)
    let baseline = report["baseline_return"].as_f64().unwrap();
    assert!(
        (baseline - open.baseline).abs() <= 1e-12 * open.baseline.abs().max(1.0),
        "baseline {baseline} vs {}",
        open.baseline
    );
}

/// What a crash just after logging a pass, before checkpointing it, leaves behind: the
/// pass's record and scalar, which the resumed run logs again when it redoes the pass,
/// and a torn line.
/// Waits until `checkpoint` holds a repair round under way with at least one pass done,
/// then SIGKILLs `child`.
fn kill_mid_round(mut child: std::process::Child, checkpoint: &Path) {
    let deadline = Instant::now() + Duration::from_secs(120);
    let mid_round = |c: &Checkpoint| c.repair.round.as_ref().is_some_and(|r| r.passes >= 1);
    while !Checkpoint::load(checkpoint).is_ok_and(|c| mid_round(&c)) {
        assert!(
            Instant::now() < deadline,
            "no mid-round checkpoint after 120 s"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the job ended before a repair round was caught"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
}

fn forge_a_pass_after_the_checkpoint(run_dir: &Path, pass: u64) {
    let append = |file: &str, text: String| {
        let path = run_dir.join(file);
        let old = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, old + &text).unwrap();
    };
    append(
        "repair.jsonl",
        format!("{{\"event\":\"repair/pass\",\"pass\":{pass}}}\n{{\"event\":\"repair/ro"),
    );
    append("scalars.csv", format!("repair/pass_s,{pass},1.5\n"));
}

/// `repair.jsonl` holds passes 1, 2, … and rounds 1, 2, … up to the checkpoint's counts,
/// each once and in order, and `scalars.csv` one `repair/pass_s` row per pass.
fn assert_logs_count_each_pass_and_round_once(run_dir: &Path, checkpoint: &Checkpoint) {
    let log = std::fs::read_to_string(run_dir.join("repair.jsonl")).unwrap();
    let records: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    let numbers = |event: &str, field: &str| -> Vec<u64> {
        records
            .iter()
            .filter(|r| r["event"] == event)
            .map(|r| r[field].as_u64().unwrap())
            .collect()
    };
    let passes: Vec<u64> = (1..=checkpoint.repair.passes).collect();
    assert_eq!(numbers("repair/pass", "pass"), passes);
    let rounds: Vec<u64> = (1..=checkpoint.repair.rounds).collect();
    assert_eq!(numbers("repair/round", "round"), rounds);
    let csv = std::fs::read_to_string(run_dir.join("scalars.csv")).unwrap();
    let pass_rows: Vec<u64> = csv
        .lines()
        .filter_map(|l| l.strip_prefix("repair/pass_s,"))
        .map(|rest| rest.split(',').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(pass_rows, passes);
}

/// Writes `config` into `dir` and trains it into `dir/trained`; returns both paths.
fn train_tiny_run(dir: &Path, config: &Config) -> (std::path::PathBuf, std::path::PathBuf) {
    let config_path = common::write_config(dir, "tiny.toml", config);
    let trained = dir.join("trained");
    saferl_ok(&[
        "train".as_ref(),
        "--quiet".as_ref(),
        "--config".as_ref(),
        config_path.as_os_str(),
        "--run-dir".as_ref(),
        trained.as_os_str(),
    ]);
    (config_path, trained)
}

/// Runs saferl and asserts it succeeded.
fn saferl_ok(args: &[&std::ffi::OsStr]) -> String {
    let output = common::saferl().args(args).output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn saferl_repair_repairs_a_trained_run_and_rejects_a_wrong_network() {
    let tmp = tempfile::tempdir().unwrap();
    let mut config = common::tiny_pendulum_config(4, 2);
    config.properties[0].unsafe_set = vec![vec!["y0 >= 0".to_string()]];
    config.repair.eval_episodes = 2;
    config.repair.batch = 64;
    config.repair.penalty = Penalty::Fixed(-1000.0);
    config.repair.actor_lr = 1e-3;
    config.repair.critic_lr = 1e-3;
    config.repair.max_passes = 100;
    let (config_path, trained) = train_tiny_run(tmp.path(), &config);
    let repaired = tmp.path().join("repaired");
    let os = |s: &str| std::ffi::OsString::from(s);
    let stdout = saferl_ok(&[
        &os("repair"),
        &os("--quiet"),
        &os("--run"),
        trained.as_os_str(),
        &os("--run-dir"),
        repaired.as_os_str(),
    ]);
    assert!(stdout.contains("(verified safe)"), "{stdout}");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(repaired.join("repair.json")).unwrap())
            .unwrap();
    assert_eq!(summary["verified_after"], true);
    // The repaired run is a run like any other: its checkpoint verifies safe.
    let verdict = saferl_ok(&[&os("verify"), &os("--run"), repaired.as_os_str()]);
    assert!(verdict.contains(": safe"), "{verdict}");

    // A network that does not fit the config's actor: one line naming the file, and no
    // run directory left behind.
    let wrong = tmp.path().join("narrow.nnet");
    let file = saferl::nn::nnet::NnetFile {
        net: unsafe_pendulum_actor(),
        normalization: saferl::nn::nnet::Normalization::identity(3),
        comments: Vec::new(),
    };
    saferl::nn::nnet::write_nnet(&wrong, &file).unwrap();
    let output = common::saferl()
        .args(["repair", "--quiet", "--net"])
        .arg(&wrong)
        .arg("--config")
        .arg(&config_path)
        .arg("--run-dir")
        .arg(tmp.path().join("wrong"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("narrow.nnet"), "{stderr}");
    assert!(!tmp.path().join("wrong").exists());
}

#[test]
fn a_killed_saferl_repair_resumes_to_the_outputs_of_an_uninterrupted_one() {
    let tmp = tempfile::tempdir().unwrap();
    let mut config = common::tiny_pendulum_config(4, 2);
    // Near upright, any torque above −1.5 is unsafe: a round of several passes.
    config.properties[0].unsafe_set = vec![vec!["y0 >= -1.5".to_string()]];
    config.repair.eval_episodes = 2;
    config.repair.batch = 64;
    config.repair.penalty = Penalty::Lowest;
    config.repair.actor_lr = 1e-3;
    config.repair.critic_lr = 1e-3;
    config.repair.max_passes = 6;
    let (_, trained) = train_tiny_run(tmp.path(), &config);
    let os = |s: &str| std::ffi::OsString::from(s);
    let repair = |dir: &Path| {
        let mut command = common::saferl();
        command
            .args(["repair", "--quiet", "--run"])
            .arg(&trained)
            .arg("--run-dir")
            .arg(dir);
        command
    };
    let straight = tmp.path().join("straight");
    assert!(repair(&straight).status().unwrap().success());

    let killed = tmp.path().join("killed");
    let child = repair(&killed).spawn().unwrap();
    let checkpoint = killed.join("checkpoint.bin");
    kill_mid_round(child, &checkpoint);
    assert!(!killed.join("repair.json").exists());
    let saved = Checkpoint::load(&checkpoint).expect("checkpoint intact after kill -9");
    forge_a_pass_after_the_checkpoint(&killed, saved.repair.passes + 1);

    // The unfinished repair is not a training run to continue.
    let output = common::saferl()
        .args(["train", "--quiet", "--resume"])
        .arg(&killed)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("saferl repair --resume"), "{stderr}");

    saferl_ok(&[
        &os("repair"),
        &os("--quiet"),
        &os("--resume"),
        killed.as_os_str(),
    ]);
    let net = |dir: &Path| read_nnet(&dir.join("repaired-actor.nnet")).unwrap().net;
    assert_eq!(net(&killed), net(&straight));
    let summary = |dir: &Path| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(dir.join("repair.json")).unwrap()).unwrap()
    };
    let (a, b) = (summary(&straight), summary(&killed));
    for key in [
        "source",
        "verdicts_before",
        "verdicts_after",
        "verified_after",
    ] {
        assert_eq!(a[key], b[key], "{key}");
    }
    for key in [
        "outcome",
        "verdicts_before",
        "verdicts",
        "regions_before",
        "unsafe_regions",
        "passes",
        "replay_rounds",
        "penalized_steps",
        "baseline_return",
        "final_return",
    ] {
        assert_eq!(a["round"][key], b["round"][key], "round.{key}");
    }
    assert!(b["round"]["passes"].as_u64().unwrap() > saved.repair.passes);
    // The same final state: besides the actor, the generator and the repair buffer.
    let finished = Checkpoint::load(&checkpoint).unwrap();
    let uninterrupted = Checkpoint::load(&straight.join("checkpoint.bin")).unwrap();
    assert!(finished.rng == uninterrupted.rng, "the generators differ");
    assert!(
        finished.repair.buffer == uninterrupted.repair.buffer,
        "the repair buffers differ"
    );
    assert_eq!(finished.repair.passes, uninterrupted.repair.passes);
    assert_logs_count_each_pass_and_round_once(&killed, &finished);

    // A finished repair is not resumed again.
    let output = common::saferl()
        .args(["repair", "--quiet", "--resume"])
        .arg(&killed)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("repair.json"), "{stderr}");
}
