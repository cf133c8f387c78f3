//! `ebm-lab`: runs experiments described by TOML configs.
//!
//! ```text
//! ebm-lab run CONFIG.toml [--set key=value ...] [--runs-dir DIR]
//! ebm-lab demo [--quick] [--configs DIR] [--runs-dir DIR]
//! ebm-lab check CONFIG.toml ...
//! ```

use anyhow::{bail, Context, Result};
use ebm_lab::demo::{plot_locations, summary_table};
use ebm_lab::{demo, DemoOptions, ProgressMode, RunConfig, RunOptions};
use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "\
usage:
  ebm-lab run CONFIG.toml [--set key=value ...] [--runs-dir DIR]
      train, evaluate and write runs/<name>/<timestamp>/ (config, metrics, history,
      checkpoint, plots); --set overrides a value of the config, e.g. --set train.epochs=5
  ebm-lab demo [--quick] [--configs DIR] [--runs-dir DIR]
      run the suite of configs/ and print a summary table (--quick, or EBM_LAB_QUICK=1:
      a few seconds per run)
  ebm-lab check CONFIG.toml ...
      parse and check configs without running them";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match dispatch(&args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("ebm-lab: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The value after a flag (`--flag value` or `--flag=value`).
fn flag_value(args: &[String], i: &mut usize, flag: &str) -> Result<Option<String>> {
    let arg = &args[*i];
    if let Some(v) = arg.strip_prefix(&format!("{flag}=")) {
        return Ok(Some(v.to_string()));
    }
    if arg == flag {
        *i += 1;
        return match args.get(*i) {
            Some(v) => Ok(Some(v.clone())),
            None => bail!("{flag} needs a value\n{USAGE}"),
        };
    }
    Ok(None)
}

fn dispatch(args: &[String]) -> Result<ExitCode> {
    let Some(command) = args.first() else {
        eprintln!("{USAGE}");
        return Ok(ExitCode::from(2));
    };
    let rest = &args[1..];
    match command.as_str() {
        "run" => run_command(rest),
        "demo" => demo_command(rest),
        "check" => check_command(rest),
        "help" | "--help" | "-h" => {
            println!("{USAGE}");
            Ok(ExitCode::SUCCESS)
        }
        other => bail!("unknown command `{other}`\n{USAGE}"),
    }
}

fn run_command(args: &[String]) -> Result<ExitCode> {
    let mut config = None;
    let mut overrides = Vec::new();
    let mut options = RunOptions::default();
    let mut i = 0;
    while i < args.len() {
        if let Some(v) = flag_value(args, &mut i, "--set")? {
            overrides.push(v);
        } else if let Some(v) = flag_value(args, &mut i, "--runs-dir")? {
            options.runs_dir = PathBuf::from(v);
        } else if args[i] == "--quiet" {
            options.progress = ProgressMode::Quiet;
        } else if args[i].starts_with("--") {
            bail!("unknown option `{}`\n{USAGE}", args[i]);
        } else if config.is_none() {
            config = Some(PathBuf::from(&args[i]));
        } else {
            bail!("one config per run (got `{}` too)\n{USAGE}", args[i]);
        }
        i += 1;
    }
    let Some(path) = config else {
        bail!("`run` needs a config file\n{USAGE}");
    };
    let loaded = RunConfig::load_with(&path, &overrides)?;
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

fn demo_command(args: &[String]) -> Result<ExitCode> {
    let mut options = DemoOptions {
        quick: std::env::var("EBM_LAB_QUICK").is_ok_and(|v| !v.is_empty() && v != "0"),
        ..DemoOptions::default()
    };
    let mut i = 0;
    while i < args.len() {
        if args[i] == "--quick" {
            options.quick = true;
        } else if let Some(v) = flag_value(args, &mut i, "--configs")? {
            options.configs_dir = PathBuf::from(v);
        } else if let Some(v) = flag_value(args, &mut i, "--runs-dir")? {
            options.runs_dir = PathBuf::from(v);
        } else {
            bail!("unknown option `{}`\n{USAGE}", args[i]);
        }
        i += 1;
    }
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

fn check_command(args: &[String]) -> Result<ExitCode> {
    if args.is_empty() {
        bail!("`check` needs config files\n{USAGE}");
    }
    let mut failed = false;
    for path in args {
        match RunConfig::load(std::path::Path::new(path)) {
            Ok(c) => println!(
                "{path}: ok ({} with {} loss on {})",
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
