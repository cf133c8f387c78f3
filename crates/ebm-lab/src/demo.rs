//! The demo suite: every config of [`DEMO_CONFIGS`] in turn, a summary table, and a folder
//! `<runs>/demo/<timestamp>/` with `summary.md` and `collapse.png` (the energy spread of the
//! three collapse runs side by side).

use crate::config::RunConfig;
use crate::error::RunError;
use crate::progress::ProgressMode;
use crate::report::{utc_stamp, RunFolder};
use crate::runner::{run, RunOptions, RunOutcome};
use ebm_arch::History;
use ebm_plot::{plot_curves, Curve, Panel};
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

/// The configs of the demo, in the order of the summary.
pub const DEMO_CONFIGS: [&str; 18] = [
    "regression.toml",
    "implicit_regression.toml",
    "regression_two_branch.toml",
    "binary.toml",
    "multi_class.toml",
    "latent.toml",
    "collapse_energy.toml",
    "collapse_square_square.toml",
    "collapse_nll.toml",
    "ntxent.toml",
    "vicreg.toml",
    "barlow_twins.toml",
    "contrastive_divergence.toml",
    "csv_example.toml",
    "iris.toml",
    "digits.toml",
    "diabetes.toml",
    "multimodal_d2.toml",
];

/// The configs `demo --full` adds (each takes minutes on two cores).
pub const FULL_CONFIGS: [&str; 2] = ["multimodal_d8.toml", "multimodal_d16.toml"];

/// The three runs of the tutorial's collapse experiment, drawn together.
const COLLAPSE_CONFIGS: [&str; 3] = [
    "collapse_energy.toml",
    "collapse_square_square.toml",
    "collapse_nll.toml",
];

/// How the demo runs.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// The folder holding the configs (default `configs`).
    pub configs_dir: PathBuf,
    /// Where reports go (default `runs`).
    pub runs_dir: PathBuf,
    /// Shrink every run to seconds (see [`RunConfig::shrink`]).
    pub quick: bool,
    /// Add [`FULL_CONFIGS`], the runs that take minutes.
    pub full: bool,
    /// Progress of each run.
    pub progress: ProgressMode,
}

impl DemoOptions {
    /// The configs this demo runs, in order.
    pub fn configs(&self) -> Vec<&'static str> {
        let mut files = DEMO_CONFIGS.to_vec();
        if self.full {
            files.extend(FULL_CONFIGS);
        }
        files
    }
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions {
            configs_dir: PathBuf::from("configs"),
            runs_dir: PathBuf::from("runs"),
            quick: false,
            full: false,
            progress: ProgressMode::Auto,
        }
    }
}

/// One line of the summary.
#[derive(Debug, Clone)]
pub struct DemoRow {
    /// The config file's name.
    pub config: String,
    /// The run's outcome, or why it failed.
    pub outcome: Result<RunSummary, String>,
}

/// What the summary keeps of a run.
#[derive(Debug, Clone)]
pub struct RunSummary {
    /// Model kind.
    pub model: String,
    /// Loss kind.
    pub loss: String,
    /// The headline metric.
    pub metric: String,
    /// Its value.
    pub value: f64,
    /// The collapse flag.
    pub collapsed: bool,
    /// The report folder.
    pub dir: PathBuf,
    /// The plots in it.
    pub plots: Vec<String>,
    /// Seconds the run took.
    pub seconds: f64,
    history: History,
}

impl RunSummary {
    fn of(outcome: RunOutcome) -> RunSummary {
        RunSummary {
            model: outcome.metrics.model,
            loss: outcome.metrics.loss,
            metric: outcome.metrics.metric,
            value: outcome.metrics.value,
            collapsed: outcome.metrics.collapsed,
            dir: outcome.dir,
            plots: outcome
                .files
                .into_iter()
                .filter(|f| f.ends_with(".png"))
                .collect(),
            seconds: outcome.seconds,
            history: outcome.history,
        }
    }
}

/// The whole demo.
#[derive(Debug)]
pub struct DemoReport {
    /// One row per config.
    pub rows: Vec<DemoRow>,
    /// The demo's own folder (`summary.md`, `collapse.png`).
    pub dir: PathBuf,
    /// Seconds the demo took.
    pub seconds: f64,
}

impl DemoReport {
    /// Whether every run succeeded.
    pub fn all_ok(&self) -> bool {
        self.rows.iter().all(|r| r.outcome.is_ok())
    }
}

/// Runs the suite. A failing config is reported in its row and does not stop the others.
pub fn demo(options: &DemoOptions) -> Result<DemoReport, RunError> {
    let clock = Instant::now();
    let started = SystemTime::now();
    let run_options = RunOptions {
        runs_dir: options.runs_dir.clone(),
        progress: options.progress,
        resume: None,
    };
    let mut rows = Vec::with_capacity(DEMO_CONFIGS.len() + FULL_CONFIGS.len());
    for file in options.configs() {
        let path = options.configs_dir.join(file);
        let outcome = RunConfig::load_with(&path, &[])
            .map_err(RunError::from)
            .and_then(|mut loaded| {
                if options.quick {
                    loaded.config.shrink();
                }
                run(&loaded, &run_options)
            });
        if let Err(e) = &outcome {
            eprintln!("{file}: failed: {e}");
        }
        rows.push(DemoRow {
            config: file.to_string(),
            outcome: outcome.map(RunSummary::of).map_err(|e| e.to_string()),
        });
    }
    let seconds = clock.elapsed().as_secs_f64();
    let dir = write_demo_folder(options, &rows, started, seconds)?;
    Ok(DemoReport { rows, dir, seconds })
}

fn write_demo_folder(
    options: &DemoOptions,
    rows: &[DemoRow],
    started: SystemTime,
    seconds: f64,
) -> Result<PathBuf, RunError> {
    let folder = RunFolder::create(&options.runs_dir, "demo", &utc_stamp(started))
        .map_err(RunError::io(&options.runs_dir))?;
    let mut text = format!(
        "# ebm-lab demo{}\n\n{}\n{} runs in {:.0} s.\n\n",
        if options.quick { " (quick)" } else { "" },
        summary_markdown(rows),
        rows.len(),
        seconds
    );
    for row in rows {
        if let Ok(s) = &row.outcome {
            text.push_str(&format!(
                "- {}: {} ({})\n",
                row.config,
                s.dir.display(),
                s.plots.join(", ")
            ));
        }
    }
    let path = folder.file("summary.md");
    std::fs::write(&path, text).map_err(RunError::io(&path))?;
    let collapse: Vec<(&str, &History)> = COLLAPSE_CONFIGS
        .iter()
        .filter_map(|name| {
            rows.iter()
                .find(|r| r.config == *name)
                .and_then(|r| r.outcome.as_ref().ok())
                .map(|s| (s.loss.as_str(), &s.history))
        })
        .collect();
    if !collapse.is_empty() {
        collapse_figure(&folder.file("collapse.png"), &collapse)?;
    }
    let tmp = folder.path().to_path_buf();
    folder.commit().map_err(RunError::io(&tmp))
}

/// The spread of each collapse run relative to its start and the energy gap, both on log
/// scales (the NLL's spread grows by orders of magnitude while the energy loss's vanishes).
fn collapse_figure(path: &Path, runs: &[(&str, &History)]) -> Result<(), RunError> {
    let epochs = runs.iter().map(|(_, h)| h.epochs.len()).max().unwrap_or(0);
    let mut spread: Vec<Curve> = runs
        .iter()
        .map(|(loss, h)| Curve {
            label: format!("{loss} loss"),
            values: h
                .epochs
                .iter()
                .map(|r| (r.spread_std / h.initial_spread_std).log10())
                .collect(),
        })
        .collect();
    spread.push(Curve {
        label: "collapse threshold (1%)".into(),
        values: vec![-2.0; epochs],
    });
    let gap = runs
        .iter()
        .map(|(loss, h)| Curve {
            label: format!("{loss} loss"),
            values: h
                .epochs
                .iter()
                .map(|r| r.gap.signum() * r.gap.abs().ln_1p() / std::f64::consts::LN_10)
                .collect(),
        })
        .collect();
    plot_curves(
        path,
        &[
            Panel {
                title: "Collapse experiment (y = x²): energy spread over Y / its start".into(),
                y_label: "log10 spread ratio".into(),
                curves: spread,
            },
            Panel {
                title: "Energy gap E_I − E_C".into(),
                y_label: "sign · log10(1 + |gap|)".into(),
                curves: gap,
            },
        ],
    )?;
    Ok(())
}

fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v != 0.0 && (v.abs() < 1e-3 || v.abs() >= 1e4) {
        format!("{v:.3e}")
    } else {
        format!("{v:.4}")
    }
}

/// The rows as cells: config, architecture, loss, metric, value, collapsed, seconds.
fn cells(rows: &[DemoRow]) -> Vec<[String; 7]> {
    rows.iter()
        .map(|row| match &row.outcome {
            Ok(s) => [
                row.config.trim_end_matches(".toml").to_string(),
                s.model.clone(),
                s.loss.clone(),
                s.metric.clone(),
                format_value(s.value),
                if s.collapsed { "yes" } else { "no" }.to_string(),
                format!("{:.1}", s.seconds),
            ],
            Err(e) => [
                row.config.trim_end_matches(".toml").to_string(),
                "FAILED".into(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                e.lines().next().unwrap_or("").chars().take(80).collect(),
            ],
        })
        .collect()
}

const HEADER: [&str; 7] = [
    "config",
    "architecture",
    "loss",
    "metric",
    "value",
    "collapsed",
    "seconds",
];

/// The summary as an aligned text table.
pub fn summary_table(rows: &[DemoRow]) -> String {
    let cells = cells(rows);
    let widths: Vec<usize> = (0..HEADER.len())
        .map(|c| {
            cells
                .iter()
                .map(|r| r[c].chars().count())
                .chain([HEADER[c].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |row: &[String]| -> String {
        row.iter()
            .zip(&widths)
            .map(|(cell, &w)| format!("{cell:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    let header: Vec<String> = HEADER.iter().map(|h| h.to_string()).collect();
    let mut out = line(&header);
    out.push('\n');
    out.push_str(&line(
        &widths.iter().map(|&w| "-".repeat(w)).collect::<Vec<_>>(),
    ));
    out.push('\n');
    for row in &cells {
        out.push_str(&line(row));
        out.push('\n');
    }
    out
}

/// The summary as a Markdown table.
pub fn summary_markdown(rows: &[DemoRow]) -> String {
    let mut out = format!("| {} |\n", HEADER.join(" | "));
    out.push_str(&format!("|{}\n", "---|".repeat(HEADER.len())));
    for row in cells(rows) {
        out.push_str(&format!("| {} |\n", row.join(" | ")));
    }
    out
}

/// Where the plots of each run are, one line per run.
pub fn plot_locations(report: &DemoReport) -> String {
    let mut out = String::new();
    for row in &report.rows {
        if let Ok(s) = &row.outcome {
            out.push_str(&format!(
                "  {}: {}/{{{}}}\n",
                row.config.trim_end_matches(".toml"),
                s.dir.display(),
                s.plots.join(",")
            ));
        }
    }
    out.push_str(&format!(
        "  demo: {}/{{summary.md,collapse.png}}\n",
        report.dir.display()
    ));
    out
}

/// The demo's configs that are missing from `dir`.
pub fn missing_configs(dir: &Path) -> Vec<String> {
    DEMO_CONFIGS
        .iter()
        .chain(FULL_CONFIGS.iter())
        .filter(|f| !dir.join(f).is_file())
        .map(|f| f.to_string())
        .collect()
}
