//! `ebm-lab`: runs experiments described by TOML configs.
//!
//! ```text
//! ebm-lab run CONFIG.toml [--set key=value ...] [--runs-dir DIR] [--quiet]
//! ebm-lab run --resume RUN_DIR [--set train.epochs=N ...]
//! ebm-lab predict RUN_DIR INPUT.csv [--out FILE]
//! ebm-lab eval RUN_DIR DATA.csv
//! ebm-lab sweep CONFIG.toml --seeds 0,1,2 [--grid key=v1,v2 ...] [--jobs N]
//! ebm-lab demo [--quick] [--full] [--configs DIR] [--runs-dir DIR]
//! ebm-lab check CONFIG.toml ...
//! ```
//!
//! `ebm-lab --help` and `ebm-lab COMMAND --help` list every option.

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use ebm_lab::demo::{plot_locations, summary_table};
use ebm_lab::{demo, DemoOptions, ProgressMode, Resume, RunConfig, RunOptions, TrainedRun};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Runs energy-based-model experiments described by TOML configs.
#[derive(Debug, Parser)]
#[command(name = "ebm-lab", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Train, evaluate and write runs/<name>/<timestamp>/ (config, metrics, history,
    /// checkpoint, plots).
    Run {
        /// The config file.
        #[arg(required_unless_present = "resume", conflicts_with = "resume")]
        config: Option<PathBuf>,
        /// Continue training from a finished run's checkpoint, with its config (and any
        /// --set), into a new run folder that records where it came from. The optimiser's
        /// state starts afresh.
        #[arg(long, value_name = "RUN_DIR")]
        resume: Option<PathBuf>,
        /// Override a value of the config, e.g. --set train.epochs=5 (repeatable; the value
        /// is read as TOML).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        overrides: Vec<String>,
        /// The folder that holds the report folders.
        #[arg(long, value_name = "DIR", default_value = "runs")]
        runs_dir: PathBuf,
        /// No progress output.
        #[arg(long)]
        quiet: bool,
    },
    /// Predict every row of a CSV file with a finished run's model: one output row per input
    /// row (classifiers: label, energies, calibrated probabilities; continuous answers: best
    /// y, its energy, the prediction set).
    Predict {
        /// The run folder (runs/<name>/<timestamp>).
        run_dir: PathBuf,
        /// The rows: a header with the model's feature columns, in order (the target column
        /// may be there too).
        input: PathBuf,
        /// Write the table here (atomically) instead of to stdout.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Measure a finished run on new labelled rows; writes RUN_DIR/eval-<timestamp>.json
    /// (the run's own metrics.json stays as it is) and prints the metrics.
    Eval {
        /// The run folder (runs/<name>/<timestamp>).
        run_dir: PathBuf,
        /// The labelled rows: the model's feature columns and the target column.
        data: PathBuf,
    },
    /// Run a config over seeds and a grid of values, then summarise mean ± std per grid point
    /// under runs/<name>/sweeps/<timestamp>/.
    Sweep {
        /// The config file.
        config: PathBuf,
        /// Seeds, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "0,1,2")]
        seeds: Vec<u64>,
        /// A grid axis, key=v1,v2,... (repeatable; every combination runs).
        #[arg(long = "grid", value_name = "KEY=V1,V2")]
        grid: Vec<String>,
        /// Runs at a time, each its own process.
        #[arg(long, default_value_t = 1)]
        jobs: usize,
        /// The folder that holds the report folders.
        #[arg(long, value_name = "DIR", default_value = "runs")]
        runs_dir: PathBuf,
    },
    /// Run the suite of configs/ and print a summary table.
    Demo {
        /// A few seconds per run (also EBM_LAB_QUICK=1): tiny data, 2 epochs.
        #[arg(long)]
        quick: bool,
        /// Add the runs that take minutes (the multimodal task in 8 and 16 dimensions).
        #[arg(long)]
        full: bool,
        /// The folder of the suite's configs.
        #[arg(long, value_name = "DIR", default_value = "configs")]
        configs: PathBuf,
        /// The folder that holds the report folders.
        #[arg(long, value_name = "DIR", default_value = "runs")]
        runs_dir: PathBuf,
    },
    /// Parse and check configs without running them.
    Check {
        /// The config files.
        #[arg(required = true)]
        configs: Vec<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version print and succeed; usage errors exit with 2.
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    // SIGINT, SIGTERM, SIGHUP: remove the run folders under construction, then die of the
    // signal as if unhandled (no exit handlers run while libtorch works on another thread).
    watch_signals();
    let result = match cli.command {
        Command::Run {
            config,
            resume,
            overrides,
            runs_dir,
            quiet,
        } => run_command(
            config.as_deref(),
            resume.as_deref(),
            &overrides,
            runs_dir,
            quiet,
        ),
        Command::Predict {
            run_dir,
            input,
            out,
        } => predict_command(&run_dir, &input, out.as_deref()),
        Command::Eval { run_dir, data } => eval_command(&run_dir, &data),
        Command::Sweep {
            config,
            seeds,
            grid,
            jobs,
            runs_dir,
        } => sweep_command(config, seeds, &grid, jobs, runs_dir),
        Command::Demo {
            quick,
            full,
            configs,
            runs_dir,
        } => demo_command(quick, full, configs, runs_dir),
        Command::Check { configs } => check_command(&configs),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("ebm-lab: error: {}", describe(&e));
            ExitCode::FAILURE
        }
    }
}

/// On SIGINT, SIGTERM or SIGHUP: removes the unfinished run folders, says so, and lets the
/// signal's default action end the process.
fn watch_signals() {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    use signal_hook::iterator::Signals;
    match Signals::new([SIGINT, SIGTERM, SIGHUP]) {
        Ok(mut signals) => {
            std::thread::spawn(move || {
                if let Some(signal) = signals.forever().next() {
                    ebm_lab::report::remove_unfinished();
                    eprintln!("ebm-lab: stopped by a signal: the unfinished run folder was removed");
                    let _ = signal_hook::low_level::emulate_default_handler(signal);
                }
            });
        }
        Err(e) => eprintln!(
            "ebm-lab: warning: no signal handler ({e}): a killed run may leave a .tmp-… folder, which the next run of its config removes"
        ),
    }
}

/// The error and its causes, each said once: a cause whose text the error before it already
/// holds (`cannot write …: Directory not empty`) is not repeated.
fn describe(error: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in error.chain() {
        // A libtorch error's text goes on with its C++ stack (`Exception raised from …`,
        // `frame #0: …`): the lines before it say what happened.
        let full = cause.to_string();
        let text = full
            .lines()
            .take_while(|l| !l.starts_with("frame #") && !l.starts_with("Exception raised from"))
            .collect::<Vec<_>>()
            .join("\n");
        if out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

fn run_command(
    config: Option<&Path>,
    resume: Option<&Path>,
    overrides: &[String],
    runs_dir: PathBuf,
    quiet: bool,
) -> Result<ExitCode> {
    let mut options = RunOptions {
        runs_dir,
        ..RunOptions::default()
    };
    if quiet {
        options.progress = ProgressMode::Quiet;
    }
    let (path, resume) = match (config, resume) {
        (Some(path), None) => (path.to_path_buf(), None),
        (None, Some(dir)) => {
            for file in ["config.toml", "model.safetensors", "optimizer.safetensors"] {
                if !dir.join(file).is_file() {
                    bail!(
                        "run folder {}: has no {file}, so it cannot be resumed",
                        dir.display()
                    );
                }
            }
            let resume = Resume::from_dir(dir);
            (dir.join("config.toml"), Some(resume))
        }
        _ => bail!("give a config file or --resume RUN_DIR"),
    };
    options.resume = resume;
    let path = path.as_path();
    let loaded = RunConfig::load_with(path, overrides)?;
    let outcome = ebm_lab::run(&loaded, &options)
        .with_context(|| format!("run {} failed", path.display()))?;
    let m = &outcome.metrics;
    println!(
        "{}: {} with {} loss on {}: {} = {:.4}{}",
        m.name,
        m.model,
        m.loss,
        m.data,
        m.metric,
        m.value,
        if m.collapsed {
            " (the energy collapsed)"
        } else {
            ""
        }
    );
    if let Some(k) = m.n_classes {
        println!("  {:<26} {k} (their labels: labels.json)", "classes found");
    }
    for (name, value) in &m.metrics {
        println!("  {name:<26} {value:.6}");
    }
    println!(
        "  {:<26} {:.3e} -> {:.3e} (ratio {:.3e})",
        "energy spread", m.initial_spread_std, m.final_spread_std, m.spread_ratio
    );
    println!(
        "report ({:.1} s): {}/{{{}}}",
        outcome.seconds,
        outcome.dir.display(),
        outcome.files.join(",")
    );
    Ok(ExitCode::SUCCESS)
}

fn predict_command(run_dir: &Path, input: &Path, out: Option<&Path>) -> Result<ExitCode> {
    let run = TrainedRun::load(run_dir)?;
    let table = run
        .predict_csv(input)
        .with_context(|| format!("predict {}", input.display()))?;
    match out {
        Some(path) => {
            table.write(path)?;
            eprintln!("{} rows predicted: {}", table.rows.len(), path.display());
        }
        None => {
            let mut writer = csv::Writer::from_writer(std::io::stdout().lock());
            writer.write_record(&table.header)?;
            for row in &table.rows {
                writer.write_record(row)?;
            }
            writer.flush()?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn eval_command(run_dir: &Path, data: &Path) -> Result<ExitCode> {
    let run = TrainedRun::load(run_dir)?;
    let metrics = run
        .evaluate_csv(data)
        .with_context(|| format!("eval {}", data.display()))?;
    let stamp = ebm_lab::report::utc_stamp(std::time::SystemTime::now());
    let path = (1..)
        .map(|i| match i {
            1 => run_dir.join(format!("eval-{stamp}.json")),
            i => run_dir.join(format!("eval-{stamp}-{i}.json")),
        })
        .find(|p| !p.exists())
        .unwrap_or_else(|| run_dir.join(format!("eval-{stamp}.json")));
    let record = serde_json::json!({
        "data": std::path::absolute(data).unwrap_or_else(|_| data.to_path_buf()).display().to_string(),
        "evaluated_utc": ebm_lab::report::utc_rfc3339(std::time::SystemTime::now()),
        "metrics": metrics,
    });
    let tmp = tempfile::NamedTempFile::new_in(run_dir)?;
    std::fs::write(tmp.path(), serde_json::to_string_pretty(&record)? + "\n")?;
    tmp.persist_noclobber(&path)
        .map_err(|e| e.error)
        .with_context(|| format!("cannot write {}", path.display()))?;
    println!("{} on {}:", run_dir.display(), data.display());
    for (name, value) in &metrics {
        println!("  {name:<26} {value:.6}");
    }
    println!("written: {}", path.display());
    Ok(ExitCode::SUCCESS)
}

fn sweep_command(
    config: PathBuf,
    seeds: Vec<u64>,
    grid: &[String],
    jobs: usize,
    runs_dir: PathBuf,
) -> Result<ExitCode> {
    let grid = grid
        .iter()
        .map(|g| ebm_lab::sweep::parse_grid(g))
        .collect::<Result<Vec<_>, _>>()?;
    let options = ebm_lab::sweep::SweepOptions {
        config,
        seeds,
        grid,
        jobs,
        runs_dir,
        program: std::env::current_exe().context("cannot find the ebm-lab program")?,
    };
    let report = ebm_lab::sweep::sweep(&options)?;
    print!("{}", report.markdown);
    println!("\nsummary: {}", report.dir.display());
    Ok(if report.runs.iter().all(|r| r.outcome.is_ok()) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn demo_command(
    quick: bool,
    full: bool,
    configs_dir: PathBuf,
    runs_dir: PathBuf,
) -> Result<ExitCode> {
    let options = DemoOptions {
        quick: quick || std::env::var("EBM_LAB_QUICK").is_ok_and(|v| !v.is_empty() && v != "0"),
        full,
        configs_dir,
        runs_dir,
        ..DemoOptions::default()
    };
    let missing = ebm_lab::demo::missing_configs(&options.configs_dir);
    if !missing.is_empty() {
        bail!(
            "{} lacks the demo's configs {} (run from the workspace root, or pass --configs DIR)",
            options.configs_dir.display(),
            missing.join(", ")
        );
    }
    let report = demo(&options)?;
    println!();
    println!(
        "ebm-lab demo{}: {} runs in {:.0} s",
        if options.quick { " (quick)" } else { "" },
        report.rows.len(),
        report.seconds
    );
    println!();
    print!("{}", summary_table(&report.rows));
    println!();
    println!("plots:");
    print!("{}", plot_locations(&report));
    Ok(if report.all_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn check_command(paths: &[PathBuf]) -> Result<ExitCode> {
    let mut failed = false;
    for path in paths {
        match RunConfig::load(path) {
            Ok(c) => println!(
                "{}: ok ({} with {} loss on {})",
                path.display(),
                c.model.kind_name(),
                c.loss.kind_name(),
                c.data.source.kind_name()
            ),
            Err(e) => {
                failed = true;
                eprintln!("{e}");
            }
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Result<Command, clap::Error> {
        Cli::try_parse_from(std::iter::once("ebm-lab").chain(args.iter().copied()))
            .map(|c| c.command)
    }

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
        let help = Cli::command().render_long_help().to_string();
        for command in ["run", "demo", "check"] {
            assert!(help.contains(command), "{command} missing from --help");
        }
        let run_help = Cli::command()
            .find_subcommand_mut("run")
            .expect("run")
            .render_long_help()
            .to_string();
        for flag in ["--set", "--runs-dir", "--quiet"] {
            assert!(run_help.contains(flag), "{flag} missing from run --help");
        }
    }

    #[test]
    fn resume_predict_eval_and_sweep_parse() {
        let Ok(Command::Run {
            config,
            resume,
            overrides,
            ..
        }) = parse(&["run", "--resume", "runs/a/1", "--set", "train.epochs=5"])
        else {
            panic!("a resumed run")
        };
        assert_eq!((config, resume), (None, Some(PathBuf::from("runs/a/1"))));
        assert_eq!(overrides, ["train.epochs=5"]);
        assert!(parse(&["run", "c.toml", "--resume", "runs/a/1"]).is_err());
        assert!(parse(&["run"]).is_err());
        let Ok(Command::Predict {
            run_dir,
            input,
            out,
        }) = parse(&["predict", "runs/a/1", "new.csv", "--out", "p.csv"])
        else {
            panic!("predict")
        };
        assert_eq!(
            (run_dir, input, out),
            ("runs/a/1".into(), "new.csv".into(), Some("p.csv".into()))
        );
        assert!(parse(&["predict", "runs/a/1"]).is_err());
        assert!(matches!(
            parse(&["eval", "r", "d.csv"]),
            Ok(Command::Eval { .. })
        ));
        let Ok(Command::Sweep {
            seeds, grid, jobs, ..
        }) = parse(&[
            "sweep",
            "c.toml",
            "--seeds",
            "3,4",
            "--grid",
            "train.epochs=1,2",
            "--jobs",
            "2",
        ])
        else {
            panic!("sweep")
        };
        assert_eq!(
            (seeds, grid, jobs),
            (vec![3, 4], vec!["train.epochs=1,2".to_string()], 2)
        );
        let Ok(Command::Sweep { seeds, .. }) = parse(&["sweep", "c.toml"]) else {
            panic!("sweep")
        };
        assert_eq!(seeds, [0, 1, 2]);
    }

    #[test]
    fn run_takes_a_config_repeated_sets_and_its_flags() {
        let Command::Run {
            config,
            resume,
            overrides,
            runs_dir,
            quiet,
        } = parse(&[
            "run",
            "configs/binary.toml",
            "--set",
            "train.epochs=3",
            "--set=loss.margin=0.5",
            "--runs-dir",
            "out",
            "--quiet",
        ])
        .expect("parses")
        else {
            panic!("a run command")
        };
        assert_eq!(config, Some(PathBuf::from("configs/binary.toml")));
        assert_eq!(resume, None);
        assert_eq!(overrides, ["train.epochs=3", "loss.margin=0.5"]);
        assert_eq!(runs_dir, PathBuf::from("out"));
        assert!(quiet);
    }

    #[test]
    fn demo_and_check_parse_with_their_defaults() {
        let Command::Demo {
            quick,
            full,
            configs,
            runs_dir,
        } = parse(&["demo"]).expect("parses")
        else {
            panic!("a demo command")
        };
        assert!(!quick && !full);
        assert_eq!((configs, runs_dir), ("configs".into(), "runs".into()));
        let Command::Check { configs } = parse(&["check", "a.toml", "b.toml"]).expect("parses")
        else {
            panic!("a check command")
        };
        assert_eq!(configs.len(), 2);
    }

    #[test]
    fn an_error_says_each_cause_once() {
        let io = std::io::Error::other("Directory not empty (os error 39)");
        let run = ebm_lab::RunError::Io {
            path: "runs/x".into(),
            source: io,
        };
        let error = anyhow::Error::new(run).context("run configs/x.toml failed");
        let text = describe(&error);
        assert_eq!(text.matches("Directory not empty").count(), 1, "{text}");
        assert!(
            text.starts_with("run configs/x.toml failed: cannot write runs/x"),
            "{text}"
        );
    }

    #[test]
    fn a_libtorch_stack_is_not_repeated_to_the_user() {
        #[derive(Debug, thiserror::Error)]
        #[error("libtorch error: can't allocate memory")]
        struct Outer(#[source] std::io::Error);
        let stack = "can't allocate memory: you tried to allocate 360000000000 bytes\nException raised from alloc_cpu at alloc_cpu.cpp:127\nframe #0: c10::ThrowEnforceNotMet(...)\nframe #1: c10::alloc_cpu(unsigned long)";
        let error = anyhow::Error::new(Outer(std::io::Error::other(stack)));
        let text = describe(&error);
        assert!(
            !text.contains("frame #") && !text.contains("Exception raised"),
            "{text}"
        );
        assert!(text.contains("360000000000 bytes"), "{text}");
    }

    #[rstest::rstest]
    #[case::no_command(&[])]
    #[case::unknown_command(&["train"])]
    #[case::run_without_config(&["run"])]
    #[case::two_configs(&["run", "a.toml", "b.toml"])]
    #[case::unknown_flag(&["run", "a.toml", "--epochs", "3"])]
    #[case::set_without_value(&["run", "a.toml", "--set"])]
    #[case::check_without_files(&["check"])]
    fn bad_command_lines_are_usage_errors(#[case] args: &[&str]) {
        let err = parse(args).expect_err("a usage error");
        assert!(err.use_stderr(), "{err}");
    }
}
