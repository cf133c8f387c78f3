//! `ebm-lab`: runs experiments described by TOML configs.
//!
//! ```text
//! ebm-lab run CONFIG.toml [--set key=value ...] [--runs-dir DIR] [--quiet]
//! ebm-lab demo [--quick] [--configs DIR] [--runs-dir DIR]
//! ebm-lab check CONFIG.toml ...
//! ```
//!
//! `ebm-lab --help` and `ebm-lab COMMAND --help` list every option.

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use ebm_lab::demo::{plot_locations, summary_table};
use ebm_lab::{demo, DemoOptions, ProgressMode, RunConfig, RunOptions};
use std::path::PathBuf;
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
        config: PathBuf,
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
    /// Run the suite of configs/ and print a summary table.
    Demo {
        /// A few seconds per run (also EBM_LAB_QUICK=1): tiny data, 2 epochs.
        #[arg(long)]
        quick: bool,
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
            overrides,
            runs_dir,
            quiet,
        } => run_command(&config, &overrides, runs_dir, quiet),
        Command::Demo {
            quick,
            configs,
            runs_dir,
        } => demo_command(quick, configs, runs_dir),
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
        let text = cause.to_string();
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
    path: &std::path::Path,
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

fn demo_command(quick: bool, configs_dir: PathBuf, runs_dir: PathBuf) -> Result<ExitCode> {
    let options = DemoOptions {
        quick: quick || std::env::var("EBM_LAB_QUICK").is_ok_and(|v| !v.is_empty() && v != "0"),
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
    fn run_takes_a_config_repeated_sets_and_its_flags() {
        let Command::Run {
            config,
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
        assert_eq!(config, PathBuf::from("configs/binary.toml"));
        assert_eq!(overrides, ["train.epochs=3", "loss.margin=0.5"]);
        assert_eq!(runs_dir, PathBuf::from("out"));
        assert!(quiet);
    }

    #[test]
    fn demo_and_check_parse_with_their_defaults() {
        let Command::Demo {
            quick,
            configs,
            runs_dir,
        } = parse(&["demo"]).expect("parses")
        else {
            panic!("a demo command")
        };
        assert!(!quick);
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
