//! The rocket-lander table: the three unsafe DDPG actors × properties 1 and 2, all unsafe
//! regions computed, with and without the over-approximation filter.
//!
//! Prints one row per (agent, property, filter): verdict, unsafe regions, their vertices,
//! sets explored, time, and peak memory two ways: the bytes held by live sets (the
//! search's own accounting) and the peak resident size of the process (which also holds
//! the regions found). Each run is a child process of its own (`--single`), so that its
//! peak resident size is its own.

use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::Duration;

mod common;

use clap::Parser;
use saferl::nn::nnet::read_nnet;
use saferl::spec::vnnlib::read_vnnlib;
use saferl::verify::reach::{self, Mode, Options};

/// The data shipped in the repository.
const DEFAULT_DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/rocket-agents");

#[derive(Debug, Parser)]
#[command(about = "All unsafe regions of the rocket-lander actors, with and without the filter")]
struct Args {
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
    /// Directory with unsafe_agent{0,1,2}.nnet and property{1,2}.vnnlib.
    #[arg(long, default_value = DEFAULT_DATA)]
    data: PathBuf,
    /// Seconds per run before it stops with verdict `unknown`.
    #[arg(long, default_value_t = 600.0)]
    timeout: f64,
    /// Agents to run.
    #[arg(long, value_delimiter = ',', default_values_t = [0, 1, 2])]
    agents: Vec<u32>,
    /// Properties to run.
    #[arg(long, value_delimiter = ',', default_values_t = [1, 2])]
    props: Vec<u32>,
    /// Filter settings to run: `on`, `off` or both.
    #[arg(long, value_delimiter = ',', default_values_t = [String::from("on"), String::from("off")])]
    filter: Vec<String>,
    /// Worker threads (0 = one per core).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Where to write the table as CSV.
    #[arg(long, default_value = "rocket_results.csv")]
    csv: PathBuf,
    /// Run one configuration `AGENT,PROPERTY,FILTER` in this process and print its CSV row
    /// (what the table runs in each child process).
    #[arg(long, value_name = "AGENT,PROPERTY,FILTER")]
    single: Option<String>,
}

const COLUMNS: [&str; 12] = [
    "agent",
    "property",
    "filter",
    "verdict",
    "regions",
    "region_verts",
    "sets",
    "filtered",
    "seconds",
    "peak_sets",
    "live_set_MiB",
    "peak_RSS_MiB",
];

const MIB: f64 = 1024.0 * 1024.0;

fn main() -> ExitCode {
    let args = Args::parse();
    let result = match &args.single {
        Some(config) => single(&args, config).map(|row| println!("{row}")),
        None => table(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs every configuration in a child process and collects the rows.
fn table(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let mut csv = COLUMNS.join(",") + "\n";
    println!("{}", COLUMNS.map(|c| format!("{c:>14}")).join(""));
    let exe = std::env::current_exe()?;
    for agent in &args.agents {
        for prop in &args.props {
            for filter in &args.filter {
                let output = Command::new(&exe)
                    .arg("--data")
                    .arg(&args.data)
                    .args(["--timeout", &args.timeout.to_string()])
                    .args(["--threads", &args.threads.to_string()])
                    .args(["--single", &format!("{agent},{prop},{filter}")])
                    .output()?;
                if !output.status.success() {
                    return Err(String::from_utf8_lossy(&output.stderr).into_owned().into());
                }
                for row in String::from_utf8(output.stdout)?.lines() {
                    println!(
                        "{}",
                        row.split(',')
                            .map(|c| format!("{c:>14}"))
                            .collect::<String>()
                    );
                    csv.push_str(&(row.to_string() + "\n"));
                }
            }
        }
    }
    saferl::atomic::write(&args.csv, csv.as_bytes())?;
    Ok(())
}

/// One configuration: all unsafe regions of one agent for one property; one CSV row per
/// input region of the property.
fn single(args: &Args, config: &str) -> Result<String, Box<dyn std::error::Error>> {
    let fields: Vec<String> = config.split(',').map(str::to_string).collect();
    let [agent, prop, filter] = fields.as_slice() else {
        return Err("--single needs AGENT,PROPERTY,FILTER".into());
    };
    let net = read_nnet(&args.data.join(format!("unsafe_agent{agent}.nnet")))?.net;
    let properties = read_vnnlib(&args.data.join(format!("property{prop}.vnnlib")))?;
    let options = Options {
        mode: Mode::AllRegions,
        filter: filter == "on",
        timeout: Some(Duration::from_secs_f64(args.timeout)),
        threads: args.threads,
        ..Options::default()
    };
    let mut rows = Vec::new();
    for property in &properties {
        let r = reach::verify(&net, property, &options)?;
        let cells = [
            agent.clone(),
            prop.clone(),
            filter.clone(),
            r.verdict.to_string(),
            r.regions.len().to_string(),
            r.regions
                .iter()
                .map(|g| g.vertices.len())
                .sum::<usize>()
                .to_string(),
            r.stats.sets.to_string(),
            r.stats.filtered.to_string(),
            format!("{:.2}", r.stats.seconds),
            r.stats.peak_live_sets.to_string(),
            format!("{:.2}", r.stats.peak_live_bytes as f64 / MIB),
            common::peak_rss_mib().map_or("-".to_string(), |m| format!("{m:.1}")),
        ];
        rows.push(cells.join(","));
    }
    Ok(rows.join("\n"))
}
