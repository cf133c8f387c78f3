//! One run: config → data → model → training → evaluation → report.
//!
//! The report goes to `<runs>/<name>/<timestamp>/` (UTC, `YYYYMMDD-HHMMSS`; `-2`, `-3`, … when
//! that folder exists): `config.toml` (resolved), `metrics.json`, `history.csv`,
//! `model.safetensors`, `optimizer.safetensors` (the optimiser's state), `scaler.json` (the fitted scalers), `labels.json` (classes),
//! `predictions.csv` (the five architectures), `run.json` (time, machine settings) and PNG plots: `curves.png` always,
//! `energy_landscape.png` for 1-D x and y, `decision_regions.png` for 2-D classification,
//! `density.png` for 2-D densities. Everything is written to a temporary folder beside it and
//! renamed into place at the end; a run that fails leaves nothing behind.

use crate::config::read::LoadedConfig;
use crate::error::RunError;
use crate::evaluate::training_curves;
use crate::experiment::{ResumeFrom, RunContext, Split};
use crate::preprocess::Preprocess;
use crate::progress::{Progress, ProgressMode};
use crate::report::{utc_rfc3339, utc_stamp, write_history, Metrics, RunFolder, COLLAPSE_RATIO};
use ebm_arch::{History, OptimizerState};
use ebm_core::check::human_bytes;
use ebm_data::{split_rows, Dataset, TargetKind};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Instant, SystemTime};

/// Where reports go and how progress is shown.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The folder holding `<name>/<timestamp>/` report folders (default `runs`).
    pub runs_dir: PathBuf,
    /// Progress bar, plain lines or nothing.
    pub progress: ProgressMode,
    /// Start from a finished run's checkpoint (`run --resume RUN_DIR`).
    pub resume: Option<Resume>,
}

/// Where a resumed run starts from.
#[derive(Debug, Clone)]
pub struct Resume {
    /// The run folder it continues.
    pub dir: PathBuf,
    /// Its checkpoint.
    pub checkpoint: PathBuf,
    /// Its optimiser's final state (Adam's moments and step counts, or SGD's momentum).
    pub optimizer: PathBuf,
}

impl Resume {
    /// The finished run in `dir`: its `model.safetensors` and `optimizer.safetensors`.
    pub fn from_dir(dir: &Path) -> Self {
        Resume {
            dir: dir.to_path_buf(),
            checkpoint: dir.join("model.safetensors"),
            optimizer: dir.join("optimizer.safetensors"),
        }
    }
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            runs_dir: PathBuf::from("runs"),
            progress: ProgressMode::Auto,
            resume: None,
        }
    }
}

/// A finished run.
#[derive(Debug)]
pub struct RunOutcome {
    /// The report folder.
    pub dir: PathBuf,
    /// What `metrics.json` holds.
    pub metrics: Metrics,
    /// The per-epoch history.
    pub history: History,
    /// The files of the report, by name, sorted.
    pub files: Vec<String>,
    /// Seconds the whole run took.
    pub seconds: f64,
}

/// libtorch's random generator and thread count are global to the process: one run at a time.
static RUN_LOCK: Mutex<()> = Mutex::new(());

/// Runs a loaded config and writes its report.
pub fn run(loaded: &LoadedConfig, options: &RunOptions) -> Result<RunOutcome, RunError> {
    let _lock = RUN_LOCK
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let started = SystemTime::now();
    let clock = Instant::now();
    let config = &loaded.config;
    config.check()?;
    let device = config.device.device()?;

    // The optimiser state to continue from, read before anything is written: a broken one
    // stops the run before its folder exists. Another optimiser kind starts fresh.
    let resumed = match &options.resume {
        Some(resume) => {
            let state = OptimizerState::load(&resume.optimizer)?;
            let kind = config.train.optimizer.kind_name();
            let continues = state.kind() == kind;
            let note = match continues {
                true => format!("continued after {} steps", state.steps()?),
                false => format!(
                    "fresh: the resumed run trained with {}, this one with {kind}",
                    state.kind()
                ),
            };
            Some((resume, continues.then_some(state), note))
        }
        None => None,
    };

    tch::set_num_threads(config.threads as i32);
    tch::manual_seed(config.seed as i64);
    let loaded_data = config.data.source.load(config.seed)?;
    let data = loaded_data.dataset;
    config.check_targets(data.kind)?;
    config.check_rows(data.len() as usize)?;
    check_disk(&options.runs_dir, &data)?;
    let folder = RunFolder::create(&options.runs_dir, &config.name, &utc_stamp(started))
        .map_err(RunError::io(&options.runs_dir))?;
    let rows = split_rows(
        &data,
        config.data.test_fraction,
        config.seed,
        config.data.stratify,
    )?;
    // The scalers see the training rows only; every other row goes through them unchanged.
    let preprocess = Preprocess::fit(
        &config.data,
        &data.select(&rows.train)?,
        &loaded_data.unused_columns,
    )?;
    let all_cpu = preprocess.apply(&data)?;
    let train_cpu = all_cpu.select(&rows.train)?;
    let test_cpu = all_cpu.select(&rows.test)?;
    let split_data = Split {
        train: train_cpu.to_device(device),
        test: test_cpu.to_device(device),
        train_cpu,
        all_cpu,
        rows,
        preprocess,
        device,
    };
    let progress = Progress::new(options.progress, &config.name, config.train.epochs);
    let train_clock = Instant::now();
    let context = RunContext {
        name: &config.name,
        seed: config.seed,
        loss: &config.loss,
        train: &config.train,
        eval: &config.eval,
        data: &split_data,
        folder: &folder,
        progress: &progress,
        resume: resumed.as_ref().map(|(resume, state, _)| ResumeFrom {
            checkpoint: resume.checkpoint.as_path(),
            optimizer: state.as_ref(),
        }),
    };
    let trained = config.model.experiment().run(&context)?;
    let train_seconds = train_clock.elapsed().as_secs_f64();

    let calibration_rows = trained.calibration_rows;
    let history = trained.history;
    let last = history.last();
    let spread_ratio = history.spread_ratio();
    let mut trained_metrics = trained.metrics;
    trained_metrics.insert("spread_ratio".to_string(), spread_ratio);
    let metric = config.headline_metric().to_string();
    let value = trained_metrics.get(&metric).copied().unwrap_or(f64::NAN);
    let metrics = Metrics {
        name: config.name.clone(),
        model: config.model.kind_name().into(),
        loss: config.loss.kind_name().into(),
        data: config.data.source.kind_name().into(),
        seed: config.seed,
        n_train: split_data.train.len() - calibration_rows as i64,
        n_calibration: (calibration_rows > 0).then_some(calibration_rows),
        n_test: split_data.test.len(),
        n_dropped: (loaded_data.dropped_rows > 0).then_some(loaded_data.dropped_rows),
        n_classes: (!split_data.all_cpu.class_names.is_empty())
            .then_some(split_data.all_cpu.class_names.len()),
        epochs: history.epochs.len(),
        final_loss: last.map_or(f64::NAN, |r| r.loss),
        final_gap: last.map_or(f64::NAN, |r| r.gap),
        initial_spread_std: history.initial_spread_std,
        final_spread_std: last.map_or(f64::NAN, |r| r.spread_std),
        spread_ratio,
        collapsed: spread_ratio < COLLAPSE_RATIO,
        metric,
        value,
        metrics: trained_metrics,
    };

    let write = |name: &str, text: String| -> Result<(), RunError> {
        let path = folder.file(name);
        std::fs::write(&path, text).map_err(RunError::io(&path))
    };
    write("config.toml", resolved_config_text(loaded)?)?;
    let json = serde_json::to_string_pretty(&metrics)
        .map_err(|e| RunError::io(&folder.file("metrics.json"))(e.into()))?;
    write("metrics.json", json + "\n")?;
    if !split_data.all_cpu.class_names.is_empty() {
        // The model's class index i is the user's label classes[i] (binary: −1, then +1).
        let labels = serde_json::json!({
            "kind": match split_data.all_cpu.kind {
                TargetKind::Binary => "binary",
                TargetKind::Classes { .. } => "classes",
                TargetKind::Regression | TargetKind::Density => "none",
            },
            "classes": split_data.all_cpu.class_names,
        });
        write(
            "labels.json",
            serde_json::to_string_pretty(&labels).unwrap_or_default() + "\n",
        )?;
    }
    write(
        "scaler.json",
        serde_json::to_string_pretty(&split_data.preprocess).unwrap_or_default() + "\n",
    )?;
    let history_path = folder.file("history.csv");
    write_history(&history_path, &history).map_err(RunError::io(&history_path))?;
    training_curves(&folder.file("curves.png"), &history, trained.gap_title)?;
    let seconds = clock.elapsed().as_secs_f64();
    let run_info = serde_json::json!({
        "started_utc": utc_rfc3339(started),
        "wall_seconds": seconds,
        "train_and_evaluate_seconds": train_seconds,
        "config_file": loaded.path.as_ref().map(|p| p.display().to_string()),
        "overrides": loaded.overrides,
        "device": format!("{device:?}"),
        "threads": config.threads,
        "resumed_from": options.resume.as_ref().map(|r| r.dir.display().to_string()),
        "optimizer_state": resumed.as_ref().map(|(_, _, note)| note.as_str()),
        "ebm_lab_version": env!("CARGO_PKG_VERSION"),
    });
    write(
        "run.json",
        serde_json::to_string_pretty(&run_info).unwrap_or_default() + "\n",
    )?;
    let mut files: Vec<String> = std::fs::read_dir(folder.path())
        .map_err(RunError::io(folder.path()))?
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect();
    files.sort();
    progress.finish();
    let tmp = folder.path().to_path_buf();
    let dir = folder.commit().map_err(RunError::io(&tmp))?;
    Ok(RunOutcome {
        dir,
        metrics,
        history,
        files,
        seconds,
    })
}

/// A run's files, at most: plots and small files (8 MiB), a checkpoint (32 MiB is ample for the
/// widths the memory check lets through on most machines; larger ones are rare) and the
/// optimiser's state (twice the checkpoint: Adam's two moments), and
/// `predictions.csv` (about 24 bytes a cell, a cell per class and per probability, or per
/// coordinate of the answers in the prediction set).
fn disk_needed(data: &Dataset) -> u64 {
    let cells = match data.kind {
        TargetKind::Classes { n_classes } => 2 * n_classes as u64 + 3,
        TargetKind::Binary => 7,
        TargetKind::Regression | TargetKind::Density => 8 * data.y_dim().unwrap_or(1) as u64 + 5,
    };
    (8 + 3 * 32) * 1024 * 1024 + data.len().max(0) as u64 * cells * 24
}

/// Refuses to start a run whose report would not fit on the disk of `runs_dir` (its nearest
/// existing ancestor: the folder is made later).
fn check_disk(runs_dir: &Path, data: &Dataset) -> Result<(), RunError> {
    let existing = runs_dir
        .ancestors()
        .find(|p| p.exists())
        .unwrap_or(Path::new("."));
    let existing = if existing.as_os_str().is_empty() {
        Path::new(".")
    } else {
        existing
    };
    let Ok(stat) = rustix::fs::statvfs(existing) else {
        // A file system that cannot say: the writes themselves will report a full disk.
        return Ok(());
    };
    let available = stat.f_bavail.saturating_mul(stat.f_frsize);
    let needed = disk_needed(data);
    if available < needed {
        return Err(RunError::Disk {
            dir: runs_dir.to_path_buf(),
            needed: human_bytes(u128::from(needed)),
            available: human_bytes(u128::from(available)),
        });
    }
    Ok(())
}

/// `config.toml` of the report: a header, then the config with every default written out.
fn resolved_config_text(loaded: &LoadedConfig) -> Result<String, RunError> {
    let mut text = String::from(
        "# The resolved config of this run: every default written out and every --set\n\
         # override applied. `ebm-lab run` takes this file as it is.\n",
    );
    if let Some(path) = &loaded.path {
        text.push_str(&format!("# From: {}\n", path.display()));
    }
    for o in &loaded.overrides {
        text.push_str(&format!("# --set {o}\n"));
    }
    text.push('\n');
    text.push_str(&loaded.config.to_toml()?);
    Ok(text)
}
