//! The `saferl` command line: parses arguments, calls the library, reports errors as
//! one line naming the problem (never a panic).

use crate::config::{Config, default_run_dir};
use crate::jobs;
use crate::jobs::render;
use crate::nn::nnet::read_nnet;
use crate::nn::{ActionScaling, Policy};
use crate::rl::eval::{Stream, episode_seed, evaluate};
use crate::session::run::Run;
use crate::session::trainer::Trainer;
use crate::spec::vnnlib::read_vnnlib;
use crate::verify;
use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "saferl",
    version,
    about = "Train reinforcement-learning agents that are provably safe"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Train a DDPG agent from a config, or resume an interrupted run.
    Train(TrainArgs),
    /// Evaluate the greedy policy of a run.
    Eval(EvalArgs),
    /// Write the actor of a run as a .nnet file (pre-tanh ReLU network).
    Export(ExportArgs),
    /// Draw a greedy episode of a run as an animated GIF (or its last frame as PNG).
    Render(RenderArgs),
    /// Prove a network safe on a VNNLIB property by exact reachability, or find a counterexample.
    Verify(VerifyArgs),
    /// Fit a ReLU network to recorded demonstrations (imitation), e.g. the prosthesis policy.
    Fit(FitArgs),
    /// Repair a trained agent until it is verified safe on its config's properties, with
    /// reachability-guided penalized episodes; writes a new run directory.
    Repair(RepairArgs),
    /// Patch one layer of a network (NNRepLayer MIQP) until its constraints hold on the
    /// repair samples and, where the verifier can check them, on their whole domains.
    Patch(PatchArgs),
}

#[derive(Debug, Args)]
struct FitArgs {
    /// TOML fit config (see configs/prosthesis-imitation.toml).
    #[arg(long)]
    config: PathBuf,
    /// Where to write the output (default: runs/<name>-<timestamp>).
    #[arg(long)]
    run_dir: Option<PathBuf>,
    /// Override the config's seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Override fit.epochs.
    #[arg(long)]
    epochs: Option<usize>,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

#[derive(Debug, Args)]
struct RepairArgs {
    /// Repair the agent of this run (latest checkpoint, with its replay buffer).
    #[arg(
        long,
        value_name = "RUN_DIR",
        required_unless_present_any = ["net", "resume"],
        conflicts_with_all = ["net", "resume"]
    )]
    run: Option<PathBuf>,
    /// Repair this .nnet actor (pre-tanh outputs) instead; its critic is trained first.
    #[arg(long, requires = "config")]
    net: Option<PathBuf>,
    /// Config (env, properties, [repair] settings); default with --run: the run's own.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Where to write the repair run (default: runs/<name>-repair-<timestamp>).
    #[arg(long)]
    run_dir: Option<PathBuf>,
    /// Continue the interrupted repair in this directory from its latest checkpoint.
    #[arg(long, value_name = "REPAIR_DIR", conflicts_with_all = ["net", "config", "run_dir"])]
    resume: Option<PathBuf>,
    /// No progress bar or round lines.
    #[arg(long)]
    quiet: bool,
}

#[derive(Debug, Args)]
struct PatchArgs {
    /// The network to patch (.nnet).
    #[arg(
        long,
        required_unless_present = "run",
        conflicts_with = "run",
        requires_all = ["config", "data"]
    )]
    net: Option<PathBuf>,
    /// Patch the actor of this run instead (latest checkpoint): the properties and
    /// `[patch]` settings of its config, samples from its replay buffer.
    #[arg(long, value_name = "RUN_DIR")]
    run: Option<PathBuf>,
    /// With --net: the patch config (TOML: the constraints and the patch settings, see
    /// `saferl::config::patch`). With --run: a config replacing the run's own.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Samples (CSV: the inputs, then the targets, one sample per line; optional header).
    #[arg(long, requires = "net")]
    data: Option<PathBuf>,
    /// Held-out test samples (same format); without it they are drawn from --data.
    #[arg(long, requires = "net")]
    test_data: Option<PathBuf>,
    /// Repair this layer (index into the network's layers, 0 = first; default: the last).
    #[arg(long)]
    layer: Option<usize>,
    /// Most patch-and-verify rounds (at least 1).
    #[arg(long, value_parser = positive_count)]
    max_rounds: Option<usize>,
    /// Repair samples drawn from the data (--run: from the replay buffer; at least 1).
    #[arg(long, value_parser = positive_count)]
    samples: Option<usize>,
    /// Seed of the data split.
    #[arg(long)]
    seed: Option<u64>,
    /// With --net: output directory (default: runs/patch-<timestamp>).
    #[arg(long, conflicts_with = "run")]
    out: Option<PathBuf>,
    /// With --run: the new run directory (default: runs/<name>-patch-<timestamp>).
    #[arg(long, conflicts_with = "net")]
    run_dir: Option<PathBuf>,
    /// Print the report as one JSON object.
    #[arg(long)]
    json: bool,
    /// No progress indicator or per-round lines.
    #[arg(long)]
    quiet: bool,
}

#[derive(Debug, Args)]
struct VerifyArgs {
    /// The network (.nnet; its normalization block is ignored).
    #[arg(
        long,
        required_unless_present = "run",
        conflicts_with = "run",
        requires = "property"
    )]
    net: Option<PathBuf>,
    /// The property (VNNLIB: the assertions describe a violation).
    #[arg(long, requires = "net")]
    property: Option<PathBuf>,
    /// Verify the actor of this run on every property of its config instead (action
    /// bounds are mapped exactly onto the pre-tanh outputs).
    #[arg(long, value_name = "RUN_DIR")]
    run: Option<PathBuf>,
    /// Give up after this many seconds per property (verdict `unknown`).
    #[arg(long)]
    timeout: Option<f64>,
    /// Print one JSON object (one per property with --run).
    #[arg(long)]
    json: bool,
    /// Explore everything and write every unsafe input region to this JSON file.
    #[arg(long, conflicts_with_all = ["run", "method"])]
    regions: Option<PathBuf>,
    /// `reach` (exact reachability: every unsafe region; for few inputs) or `milp` (a
    /// mixed-integer program per property; for wide boxes of many inputs).
    #[arg(long, value_enum, default_value_t = VerifyMethod::Reach, conflicts_with = "run")]
    method: VerifyMethod,
    /// No progress indicator.
    #[arg(long)]
    quiet: bool,
}

/// How `saferl verify` decides a property.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum VerifyMethod {
    Reach,
    Milp,
}

#[derive(Debug, Args)]
struct RenderArgs {
    #[command(flatten)]
    source: PolicySource,
    /// Output file: `.gif` for the animation, `.png` for the final frame.
    #[arg(long)]
    out: PathBuf,
    /// Seed of the episode (default: the run's first evaluation episode).
    #[arg(long)]
    seed: Option<u64>,
    /// Draw every N-th simulation step (at least 1).
    #[arg(long, default_value_t = 3, value_parser = positive_count)]
    every: usize,
    /// Image width in pixels.
    #[arg(long, default_value_t = 480)]
    width: u32,
}

#[derive(Debug, Args)]
struct TrainArgs {
    /// TOML run config (see configs/).
    #[arg(long, required_unless_present = "resume", conflicts_with = "resume")]
    config: Option<PathBuf>,
    /// Continue the run in this directory from its latest checkpoint.
    #[arg(long, value_name = "RUN_DIR")]
    resume: Option<PathBuf>,
    /// Where to write the run (default: runs/<name>-<timestamp>).
    #[arg(long, conflicts_with = "resume")]
    run_dir: Option<PathBuf>,
    /// Override train.episodes (with --resume: the new total).
    #[arg(long)]
    episodes: Option<usize>,
    /// Override the config's seed.
    #[arg(long, conflicts_with = "resume")]
    seed: Option<u64>,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

#[derive(Debug, Args)]
struct EvalArgs {
    #[command(flatten)]
    source: PolicySource,
    /// Greedy episodes to run (at least 1).
    #[arg(long, default_value_t = 10, value_parser = positive_count)]
    episodes: usize,
    /// Seed of the evaluation episodes (default: the run's seed).
    #[arg(long)]
    seed: Option<u64>,
    /// Print one JSON object instead of a sentence.
    #[arg(long)]
    json: bool,
}

/// Which policy a command acts on: a run's latest checkpoint, or a .nnet actor.
#[derive(Debug, Args)]
struct PolicySource {
    /// The run whose latest checkpoint to use.
    #[arg(
        long,
        value_name = "RUN_DIR",
        required_unless_present = "net",
        conflicts_with = "net"
    )]
    run: Option<PathBuf>,
    /// Use this .nnet actor (pre-tanh outputs) instead, in the env of --config.
    #[arg(long, requires = "config")]
    net: Option<PathBuf>,
    /// Config naming the env and properties for --net.
    #[arg(long, requires = "net")]
    config: Option<PathBuf>,
}

impl PolicySource {
    fn load(&self) -> Result<(Run, Policy)> {
        match (&self.run, &self.net, &self.config) {
            (Some(dir), None, None) => {
                let run = Run::open(dir)?;
                let policy = run.load_policy()?;
                Ok((run, policy))
            }
            (None, Some(net), Some(config)) => {
                let run = Run {
                    dir: PathBuf::from("."),
                    config: Config::load(config)?,
                };
                let policy = policy_from_nnet(net, &run)?;
                Ok((run, policy))
            }
            _ => unreachable!("clap requires --run, or --net with --config"),
        }
    }
}

#[derive(Debug, Args)]
struct ExportArgs {
    #[arg(long, value_name = "RUN_DIR")]
    run: PathBuf,
    #[arg(long)]
    out: PathBuf,
}

/// A count that must be at least 1: a zero is refused with the flag's name (by clap)
/// instead of being raised to 1 or running nothing.
fn positive_count(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("expected a positive integer, got 0".to_string()),
        Ok(n) => Ok(n),
        Err(e) => Err(format!("expected a positive integer: {e}")),
    }
}

/// Runs the CLI and maps errors to a one-line message and exit code 1.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Train(args) => train(args),
        Command::Eval(args) => eval(args),
        Command::Export(args) => export(args),
        Command::Render(args) => render_episode(args),
        Command::Verify(args) => verify_net(args),
        Command::Fit(args) => fit(args),
        Command::Repair(args) => repair_agent(args),
        Command::Patch(args) => patch_net(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}", one_line_chain(&error));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line, skipping causes whose text the message above
/// them already includes (library errors name their cause themselves).
fn one_line_chain(error: &anyhow::Error) -> String {
    let mut message = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if !message.contains(&text) {
            if !message.is_empty() {
                message.push_str(": ");
            }
            message.push_str(&text);
        }
    }
    message.replace('\n', " ")
}

fn train(args: TrainArgs) -> Result<()> {
    let mut trainer = match (&args.config, &args.resume) {
        (Some(path), None) => {
            let mut config = Config::load(path)?;
            if let Some(episodes) = args.episodes {
                config.train.episodes = episodes;
            }
            if let Some(seed) = args.seed {
                config.seed = seed;
            }
            let dir = args
                .run_dir
                .clone()
                .unwrap_or_else(|| default_run_dir(&config));
            Trainer::start(Run::create(&dir, config)?)?
        }
        (None, Some(dir)) => {
            if crate::jobs::repair::is_unfinished(dir) {
                bail!(
                    "{} holds an unfinished `saferl repair`: continue it with `saferl repair --resume {}`",
                    dir.display(),
                    dir.display()
                );
            }
            let mut run = Run::open(dir)?;
            if let Some(episodes) = args.episodes {
                run.config.train.episodes = episodes;
                run.write_config()?;
            }
            Trainer::resume(run)?
        }
        _ => unreachable!("clap requires exactly one of --config and --resume"),
    };
    let progress = progress_bar(args.quiet, "episodes");
    let summary = jobs::train::train(&mut trainer, &progress)?;
    progress.finish_and_clear();
    let e = &summary.training.final_eval;
    let success = e
        .success_rate
        .map(|rate| format!(", success rate {rate:.3}"))
        .unwrap_or_default();
    println!(
        "trained {} episodes ({} env steps, {} updates) in {:.1} s; greedy return {:.1} ± {:.1} over {} episodes, violation rate {:.4}{success}",
        summary.training.episodes,
        summary.training.env_steps,
        summary.training.updates,
        summary.training.wall_time_s,
        e.return_mean,
        e.return_std,
        e.episodes,
        e.violation_rate
    );
    if let Some(report) = &summary.patch {
        println!("{}", crate::jobs::patch_run::report_line(report));
    }
    Ok(())
}

fn eval(args: EvalArgs) -> Result<()> {
    let (run, policy) = args.source.load()?;
    let properties = run.properties()?;
    let seed = args.seed.unwrap_or(run.config.seed);
    let mut env = run.env();
    let report = evaluate(
        &policy,
        env.as_mut(),
        &properties,
        (0..args.episodes as u64).map(|i| episode_seed(seed, Stream::Eval, i)),
    );
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        let success = report
            .success_rate
            .map(|rate| format!(", success rate {rate:.3}"))
            .unwrap_or_default();
        println!(
            "return {:.2} ± {:.2} over {} greedy episodes (mean length {:.1}), violation rate {:.4}{success}",
            report.return_mean,
            report.return_std,
            report.episodes,
            report.length_mean,
            report.violation_rate
        );
    }
    Ok(())
}

/// A .nnet actor with the output transform of `run`'s environment.
fn policy_from_nnet(path: &Path, run: &Run) -> Result<Policy> {
    let net = read_nnet(path)?.net;
    let env = run.env();
    let (obs, act) = (env.observation_bounds(), env.action_bounds());
    if (net.input_dim(), net.output_dim()) != (obs.dim(), act.dim()) {
        bail!(
            "{}: the network maps {} inputs to {} outputs, but the env observes {} and acts with {}",
            path.display(),
            net.input_dim(),
            net.output_dim(),
            obs.dim(),
            act.dim()
        );
    }
    Ok(Policy {
        net,
        scaling: ActionScaling::from_bounds(&act.lower, &act.upper),
    })
}

fn export(args: ExportArgs) -> Result<()> {
    let run = Run::open(&args.run)?;
    let policy = run.load_policy()?;
    run.write_policy(&policy, &args.out)
        .with_context(|| format!("exporting the actor of {}", args.run.display()))?;
    println!("wrote {}", args.out.display());
    Ok(())
}

fn render_episode(args: RenderArgs) -> Result<()> {
    let (run, policy) = args.source.load()?;
    let seed = episode_seed(args.seed.unwrap_or(run.config.seed), Stream::Eval, 0);
    let mut env = run.env();
    let (scenes, total) = render::record_episode(&policy, env.as_mut(), seed, args.every)?;
    let frames: Vec<_> = scenes
        .iter()
        .map(|s| render::rasterize(s, args.width))
        .collect();
    match args.out.extension().and_then(|e| e.to_str()) {
        Some("gif") => {
            let seconds = scenes[0].seconds_per_step * args.every as f64;
            let delay_cs = (100.0 * seconds).round() as u16;
            render::write_gif(&frames, &args.out, delay_cs.max(2))?
        }
        Some("png") => render::write_png(frames.last().expect("at least one frame"), &args.out)?,
        _ => bail!(
            "{}: expected a .gif or .png output file",
            args.out.display()
        ),
    }
    println!(
        "wrote {} ({} frames, episode return {total:.1})",
        args.out.display(),
        frames.len()
    );
    Ok(())
}

fn verify_net(args: VerifyArgs) -> Result<()> {
    if let Some(t) = args.timeout
        && !(t.is_finite() && t > 0.0)
    {
        bail!("--timeout: expected a positive number of seconds, got {t}");
    }
    let timeout = args.timeout.map(std::time::Duration::from_secs_f64);
    let (net_path, property_path) = match (&args.run, &args.net, &args.property) {
        (Some(dir), None, None) => return verify_run(dir, timeout, args.json, args.quiet),
        (None, Some(net), Some(property)) => (net, property),
        _ => unreachable!("clap requires --run, or --net with --property"),
    };
    let net = read_nnet(net_path)?.net;
    let parts = read_vnnlib(property_path)?;
    if args.method == VerifyMethod::Milp {
        let report = verify::verify_parts_by_milp(&net, &parts, timeout)
            .with_context(|| format!("{} on {}", net_path.display(), property_path.display()))?;
        if args.json {
            println!("{}", serde_json::to_string(&report)?);
        } else {
            println!(
                "{}: MILP with {} ReLU binaries in {:.2} s",
                report.result,
                report.stats.milp_binaries.unwrap_or(0),
                report.stats.time_s
            );
        }
        return Ok(());
    }
    let spinner = spinner(
        args.quiet,
        &format!("verifying {} ", property_path.display()),
    );
    let searched = verify::verify_parts(&net, &parts, timeout, args.regions.is_some(), &spinner);
    spinner.finish_and_clear();
    let (mut report, regions) = searched
        .with_context(|| format!("{} on {}", net_path.display(), property_path.display()))?;
    if let Some(path) = &args.regions {
        report.unsafe_volume = parts
            .first()
            .map(|p| verify::unsafe_volume(p, &regions, 20_000));
        let json = serde_json::json!({
            "network": net_path,
            "property": property_path,
            "regions": jobs::verify::regions_json(&regions),
        });
        crate::atomic::write(path, serde_json::to_string(&json)?.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        let s = &report.stats;
        let volume = report
            .unsafe_volume
            .as_ref()
            .map(|v| format!(", unsafe volume {:.2e} ± {:.1e}", v.fraction, v.ci95))
            .unwrap_or_default();
        println!(
            "{}: {} sets explored (peak {}) in {:.2} s, {} unsafe regions with {} vertices{volume}",
            report.result, s.sets, s.peak_sets, s.time_s, s.regions, s.region_vertices
        );
    }
    Ok(())
}

/// Verifies a run's actor on each property of its config.
fn verify_run(
    dir: &Path,
    timeout: Option<std::time::Duration>,
    json: bool,
    quiet: bool,
) -> Result<()> {
    let run = Run::open(dir)?;
    let policy = run.load_policy()?;
    for property in run.properties()? {
        let pre_tanh = crate::nn::pre_tanh_property(&property, &policy.scaling)
            .with_context(|| format!("property `{}`", property.name))?;
        let spinner = spinner(quiet, &format!("verifying {} ", property.name));
        let searched = verify::verify_parts(&policy.net, &[pre_tanh], timeout, false, &spinner);
        spinner.finish_and_clear();
        let (report, _) = searched?;
        if json {
            let mut value = serde_json::to_value(&report)?;
            value["property"] = serde_json::Value::from(property.name.clone());
            println!("{value}");
        } else {
            println!(
                "{}: {} ({} sets in {:.2} s)",
                property.name, report.result, report.stats.sets, report.stats.time_s
            );
        }
    }
    Ok(())
}

fn fit(args: FitArgs) -> Result<()> {
    let mut config = crate::config::FitConfig::load(&args.config)?;
    if let Some(seed) = args.seed {
        config.seed = seed;
    }
    if let Some(epochs) = args.epochs {
        if epochs == 0 {
            bail!("--epochs: expected a positive number");
        }
        config.fit.epochs = epochs;
    }
    let dir = args
        .run_dir
        .unwrap_or_else(|| crate::config::timestamped_run_dir(&config.name));
    let bar = progress_bar(args.quiet, "epochs");
    let report = jobs::fit::run_fit(&config, &dir, &bar)?;
    bar.finish_and_clear();
    println!(
        "{}: {} epochs in {:.1} s; MAE train {:.3}, test {:.3} (predicting the mean: {:.3}); model.nnet, train.csv, test.csv written",
        dir.display(),
        report.epochs,
        report.wall_time_s,
        report.train_mae,
        report.test_mae,
        report.test_mae_of_mean
    );
    Ok(())
}

fn repair_agent(args: RepairArgs) -> Result<()> {
    let progress = spinner(args.quiet, "");
    let summary = match &args.resume {
        Some(dir) => crate::jobs::repair::resume(Run::open(dir)?, &progress)?,
        None => start_repair(&args, &progress)?,
    };
    progress.finish_and_clear();
    println!("before: {}", summary.verdicts_before);
    match &summary.round {
        Some(round) => println!("{}", crate::session::repair_log::round_line(round)),
        None => println!("already verified safe: nothing to repair"),
    }
    println!(
        "after: {} ({}); {:.1} s in total; repaired actor {}",
        summary.verdicts_after,
        if summary.verified_after {
            "verified safe"
        } else {
            "NOT verified safe"
        },
        summary.wall_time_s,
        summary.actor.display()
    );
    Ok(())
}

/// `saferl repair --run | --net` in a new run directory.
fn start_repair(
    args: &RepairArgs,
    progress: &ProgressBar,
) -> Result<crate::jobs::repair::RepairSummary> {
    let config = match (&args.config, &args.run) {
        (Some(path), _) => Config::load(path)?,
        (None, Some(dir)) => Run::open(dir)?.config,
        (None, None) => unreachable!("clap requires --config with --net"),
    };
    let dir = args.run_dir.clone().unwrap_or_else(|| {
        let mut named = config.clone();
        named.name = format!("{}-repair", config.name);
        default_run_dir(&named)
    });
    Ok(match (&args.run, &args.net) {
        (Some(source), None) => {
            let (_, checkpoint) = Run::open(source)?.load_agent()?;
            let run = Run::create(&dir, config)?;
            crate::jobs::repair::repair_run(source, checkpoint, run, progress)?
        }
        (None, Some(path)) => {
            let net = read_nnet(path)?.net;
            let run = Run {
                dir: dir.clone(),
                config,
            };
            crate::jobs::repair::check_actor_shape(path, &net, &run)?;
            let run = Run::create(&dir, run.config)?;
            crate::jobs::repair::repair_net(path, &net, run, progress)?
        }
        _ => unreachable!("clap requires exactly one of --run, --net and --resume"),
    })
}

/// A spinner for work without a known length (a reachability search, a repair): the
/// work writes its counts into the message; `what` prefixes it.
fn spinner(quiet: bool, what: &str) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner();
    let template = format!("{{spinner}} {what}[{{elapsed_precise}}] {{msg}}");
    bar.set_style(ProgressStyle::with_template(&template).expect("valid spinner template"));
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}

fn patch_net(args: PatchArgs) -> Result<()> {
    use crate::jobs::patch_net as job;
    let sources = (args.net.clone(), args.run.clone());
    let (net, config, data) = match (sources, args.config.clone(), args.data.clone()) {
        ((Some(net), None), Some(config), Some(data)) => (net, config, data),
        ((None, Some(run)), config, None) => return patch_run(&args, run, config),
        _ => unreachable!("clap requires --run, or --net with --config and --data"),
    };
    let out = args.out.clone().unwrap_or_else(|| {
        let stamp = chrono::Local::now().format("%Y%m%d-%H%M%S");
        PathBuf::from("runs").join(format!("patch-{stamp}"))
    });
    let input = job::JobInput {
        net,
        config,
        data,
        test_data: args.test_data,
        out,
        layer: args.layer,
        max_rounds: args.max_rounds,
        samples: args.samples,
        seed: args.seed,
    };
    let quiet = args.quiet || args.json;
    let report = job::run(&input, &mut |r| {
        if !quiet {
            eprintln!("{}", crate::jobs::patch_log::round_line(r));
        }
    })?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        let t = &report.test;
        let pct = |v: Option<f64>| v.map_or("n/a".to_string(), |v| format!("{:.2}%", 100.0 * v));
        println!(
            "{}: layer {}, {} repair samples, {} in {:.1} s (gap {:.2}%, δ {:.4}, {} repair-sample violations); test ({} samples): MAE {:.4}, efficacy {} ({}/{}), introduced bugs {} ({}/{}); verified: {}",
            report.patched_network.display(),
            report.layer,
            report.repair_samples,
            report.status,
            report.runtime_s,
            100.0 * report.gap,
            report.delta,
            report.repair_violations,
            t.samples,
            t.mae,
            pct(t.efficacy),
            t.repaired,
            t.originally_violating,
            pct(t.introduced_bugs),
            t.introduced,
            t.originally_safe,
            report.verified
        );
        for (name, reason) in &report.unverifiable {
            println!("not verifiable: `{name}`: {reason}");
        }
        if let Some(reason) = &report.stopped {
            println!("stopped early: {reason}");
        }
        if report.result_round < report.rounds.len() || report.stopped.is_some() {
            println!("result: round {}'s patch", report.result_round);
        }
    }
    Ok(())
}

/// `saferl patch --run`: patches a run's actor into a new run directory.
fn patch_run(args: &PatchArgs, source: PathBuf, config: Option<PathBuf>) -> Result<()> {
    use crate::jobs::{patch_log::round_line, patch_run as actor_job};
    let dir = match &args.run_dir {
        Some(dir) => dir.clone(),
        None => {
            let name = Run::open(&source)?.config.name;
            crate::config::timestamped_run_dir(&format!("{name}-patch"))
        }
    };
    let input = actor_job::RunInput {
        source,
        config,
        out: dir,
        layer: args.layer,
        samples: args.samples,
        max_rounds: args.max_rounds,
        seed: args.seed,
    };
    let quiet = args.quiet || args.json;
    let progress = spinner(quiet, "patching ");
    let report = actor_job::patch_run(&input, &progress, &mut |round| {
        if !quiet {
            progress.suspend(|| eprintln!("{}", round_line(round)));
        }
    });
    progress.finish_and_clear();
    let report = report?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!("{}", actor_job::report_line(&report));
    }
    Ok(())
}

fn progress_bar(quiet: bool, unit: &str) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(0);
    let template =
        format!("{{bar:40}} {{pos}}/{{len}} {unit} [{{elapsed_precise}}<{{eta}}] {{msg}}");
    bar.set_style(ProgressStyle::with_template(&template).expect("valid progress template"));
    bar
}
