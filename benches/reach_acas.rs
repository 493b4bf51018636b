//! Runs the ACAS Xu benchmark (VNN-COMP 2021 instances) through the exact verifier.
//!
//! Reads `expected.csv` from the data directory, verifies each selected instance with a
//! per-instance timeout, writes one CSV row per instance and prints the totals and the
//! slowest instances. A wrong verdict is a bug in the verifier: the exit code is then 1.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

mod common;

use clap::Parser;
use saferl::nn::nnet::read_nnet;
use saferl::spec::vnnlib::read_vnnlib;
use saferl::verify::reach::{self, Mode, Options, Verdict};

/// The data shipped in the repository.
const DEFAULT_DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/acasxu");

#[derive(Debug, Parser)]
#[command(about = "Verify ACAS Xu instances with the exact reachability verifier")]
struct Args {
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
    /// Directory with expected.csv, prop_*.vnnlib and nnet/.
    #[arg(long, default_value = DEFAULT_DATA)]
    data: PathBuf,
    /// Seconds per instance before the verdict becomes `unknown`.
    #[arg(long, default_value_t = 60.0)]
    timeout: f64,
    /// Properties to run (numbers, comma-separated).
    #[arg(long, value_delimiter = ',', default_values_t = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])]
    props: Vec<u32>,
    /// Only networks whose name contains this (e.g. `_1_1_`).
    #[arg(long)]
    networks: Option<String>,
    /// Switch the over-approximation filter off.
    #[arg(long)]
    no_filter: bool,
    /// Switch the falsification attack off (the exact search alone must find violations).
    #[arg(long)]
    no_attack: bool,
    /// Worker threads (0 = one per core).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Where to write the per-instance CSV.
    #[arg(long, default_value = "acas_results.csv")]
    csv: PathBuf,
}

struct Row {
    instance: String,
    expected: String,
    verdict: Verdict,
    seconds: f64,
    sets: u64,
}

fn main() -> ExitCode {
    match run(&Args::parse()) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &Args) -> Result<bool, Box<dyn std::error::Error>> {
    let expected = std::fs::read_to_string(args.data.join("expected.csv"))?;
    let mut rows = Vec::new();
    for line in expected.lines().skip(1) {
        let fields: Vec<&str> = line.split(',').collect();
        let [network, property, verdict, ..] = fields.as_slice() else {
            return Err(format!("bad line in expected.csv: {line}").into());
        };
        let number: u32 = property
            .trim_start_matches("prop_")
            .trim_end_matches(".vnnlib")
            .parse()?;
        if !args.props.contains(&number)
            || args
                .networks
                .as_ref()
                .is_some_and(|n| !network.contains(n.as_str()))
        {
            continue;
        }
        let row = verify_instance(args, network, property, verdict)?;
        println!(
            "{:<45} expected {:<6} got {:<7} {:>8.2} s {:>9} sets{}",
            row.instance,
            row.expected,
            row.verdict,
            row.seconds,
            row.sets,
            if is_wrong(&row) { "   <-- WRONG" } else { "" }
        );
        rows.push(row);
    }
    write_csv(&args.csv, &rows)?;
    Ok(report(&rows))
}

fn verify_instance(
    args: &Args,
    network: &str,
    property: &str,
    expected: &str,
) -> Result<Row, Box<dyn std::error::Error>> {
    let net = read_nnet(&args.data.join("nnet").join(network))?.net;
    let properties = read_vnnlib(&args.data.join(property))?;
    let start = Instant::now();
    let budget = Duration::from_secs_f64(args.timeout);
    let mut verdicts = Vec::new();
    let mut sets = 0;
    for p in &properties {
        let options = Options {
            mode: Mode::FirstCounterexample,
            filter: !args.no_filter,
            timeout: Some(budget.saturating_sub(start.elapsed())),
            threads: args.threads,
            attack_samples: if args.no_attack {
                0
            } else {
                Options::default().attack_samples
            },
            ..Options::default()
        };
        let result = reach::verify(&net, p, &options)?;
        sets += result.stats.sets;
        if let Some(cex) = &result.counterexample {
            // Belt and braces: the verifier already checked this.
            if !p.violated_by(&cex.input, &net.forward(&cex.input)) {
                return Err(format!(
                    "{network} {property}: the counterexample does not re-evaluate as a violation"
                )
                .into());
            }
        }
        verdicts.push(result.verdict);
        if result.verdict == Verdict::Unsafe {
            break;
        }
    }
    Ok(Row {
        instance: format!(
            "{}:{}",
            network.trim_end_matches(".nnet"),
            property.trim_end_matches(".vnnlib")
        ),
        expected: expected.to_string(),
        verdict: Verdict::combine(verdicts),
        seconds: start.elapsed().as_secs_f64(),
        sets,
    })
}

fn is_wrong(row: &Row) -> bool {
    row.verdict != Verdict::Unknown && row.verdict.to_string() != row.expected
}

fn write_csv(path: &Path, rows: &[Row]) -> std::io::Result<()> {
    let mut out = String::from("instance,expected,verdict,seconds,sets\n");
    for r in rows {
        out.push_str(&format!(
            "{},{},{},{:.3},{}\n",
            r.instance, r.expected, r.verdict, r.seconds, r.sets
        ));
    }
    saferl::atomic::write(path, out.as_bytes())
}

/// Prints totals and the slowest instances; true when no verdict is wrong.
fn report(rows: &[Row]) -> bool {
    let wrong = rows.iter().filter(|r| is_wrong(r)).count();
    let unknown = rows
        .iter()
        .filter(|r| r.verdict == Verdict::Unknown)
        .count();
    let total: f64 = rows.iter().map(|r| r.seconds).sum();
    println!(
        "\n{} instances: {} correct, {} wrong, {} unknown; {:.1} s in total",
        rows.len(),
        rows.len() - wrong - unknown,
        wrong,
        unknown,
        total
    );
    let mut slowest: Vec<&Row> = rows.iter().collect();
    slowest.sort_by(|a, b| b.seconds.total_cmp(&a.seconds));
    if let Some(mib) = common::peak_rss_mib() {
        println!("peak resident memory: {mib:.1} MiB");
    }
    println!("slowest:");
    for r in slowest.iter().take(10) {
        println!("  {:<45} {:<7} {:>8.2} s", r.instance, r.verdict, r.seconds);
    }
    wrong == 0
}
