//! One run: config → data → model → training → evaluation → report.
//!
//! The report goes to `<runs>/<name>/<timestamp>/` (UTC, `YYYYMMDD-HHMMSS`; `-2`, `-3`, … when
//! that folder exists): `config.toml` (resolved), `metrics.json`, `history.csv`,
//! `model.safetensors`, `run.json` (time, machine settings) and PNG plots: `curves.png` always,
//! `energy_landscape.png` for 1-D x and y, `decision_regions.png` for 2-D classification,
//! `density.png` for 2-D densities. Everything is written to a temporary folder beside it and
//! renamed into place at the end; a run that fails leaves nothing behind.

use crate::config::{LoadedConfig, LossSection, ModelConfig, RunConfig};
use crate::data::{split, Dataset, TargetKind};
use crate::error::RunError;
use crate::evaluate::{
    accuracy, continuous_scores, decision_regions, density_figure, energy_landscape,
    training_curves,
};
use crate::methods::{mean_distance_to, DensityNet, Siamese};
use crate::progress::{Progress, ProgressMode};
use crate::report::{utc_rfc3339, utc_stamp, write_history, Metrics, RunFolder, COLLAPSE_RATIO};
use ebm_arch::{
    fit, save_checkpoint, Answers, Architecture, Binary, History, ImplicitRegression, LatentModel,
    MultiClass, Regression,
};
use ebm_core::{EbmError, Energy};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Instant, SystemTime};
use tch::{Device, Kind, Tensor};

/// Where reports go and how progress is shown.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The folder holding `<name>/<timestamp>/` report folders (default `runs`).
    pub runs_dir: PathBuf,
    /// Progress bar, plain lines or nothing.
    pub progress: ProgressMode,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            runs_dir: PathBuf::from("runs"),
            progress: ProgressMode::Auto,
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
    config.validate()?;
    let device = config.device.device()?;
    let folder = RunFolder::create(&options.runs_dir, &config.name, &utc_stamp(started))
        .map_err(RunError::io(&options.runs_dir))?;

    tch::set_num_threads(config.threads as i32);
    tch::manual_seed(config.seed as i64);
    let data = config.data.source.generate(config.seed)?;
    config.check_targets(data.kind)?;
    let (train_cpu, test_cpu) = split(&data, config.data.test_fraction, config.seed)?;
    let split_data = Split {
        train: train_cpu.to_device(device),
        test: test_cpu.to_device(device),
        train_cpu,
        all_cpu: data,
        device,
    };
    let progress = Progress::new(options.progress, &config.name, config.train.epochs);
    let train_clock = Instant::now();
    let trained = match &config.model {
        ModelConfig::Siamese(_) => run_siamese(config, &split_data, &folder, &progress)?,
        ModelConfig::Density(_) => run_density(config, &split_data, &folder, &progress)?,
        _ => run_architecture(config, &split_data, &folder, &progress)?,
    };
    let train_seconds = train_clock.elapsed().as_secs_f64();

    let history = trained.history;
    let last = history.last();
    let spread_ratio = history.spread_ratio();
    let mut trained_metrics = trained.metrics;
    insert(&mut trained_metrics, "spread_ratio", spread_ratio);
    let metric = config.headline_metric().to_string();
    let value = trained_metrics.get(&metric).copied().unwrap_or(f64::NAN);
    let metrics = Metrics {
        name: config.name.clone(),
        model: config.model.kind_name().into(),
        loss: config.loss.kind_name().into(),
        data: config.data.source.kind_name().into(),
        seed: config.seed,
        n_train: split_data.train.len(),
        n_test: split_data.test.len(),
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

/// The data of a run.
struct Split {
    train: Dataset,
    test: Dataset,
    train_cpu: Dataset,
    all_cpu: Dataset,
    device: Device,
}

/// What training and evaluation produced.
struct Trained {
    history: History,
    metrics: BTreeMap<String, f64>,
    gap_title: &'static str,
}

fn insert(metrics: &mut BTreeMap<String, f64>, name: &str, value: f64) {
    metrics.insert(name.to_string(), value);
}

/// One of the five architectures, by its config.
pub fn build_architecture(
    model: &ModelConfig,
    data: &Dataset,
    device: Device,
) -> Result<Box<dyn Architecture>, EbmError> {
    let x_dim = data.x_dim();
    let y_dim = data.y_dim().unwrap_or(1);
    Ok(match model {
        ModelConfig::Regression(m) => Box::new(Regression::new(
            x_dim,
            y_dim,
            &m.g,
            &m.y_range,
            m.search.clone(),
            device,
        )?),
        ModelConfig::ImplicitRegression(m) => Box::new(ImplicitRegression::new(
            x_dim,
            y_dim,
            m.embed,
            &m.gx,
            &m.gy,
            &m.y_range,
            m.search.clone(),
            device,
        )?),
        ModelConfig::Binary(m) => Box::new(Binary::new(x_dim, &m.g, device)?),
        ModelConfig::MultiClass(m) => {
            let classes = match data.kind {
                TargetKind::Classes { n_classes } => n_classes,
                _ => 2,
            };
            Box::new(MultiClass::new(x_dim, classes, &m.g, device)?)
        }
        ModelConfig::Latent(m) => Box::new(LatentModel::new(
            x_dim,
            y_dim,
            &m.g,
            m.coupling,
            &m.g_z,
            &m.latent,
            &m.y_range,
            m.search.clone(),
            device,
        )?),
        ModelConfig::Siamese(_) | ModelConfig::Density(_) => {
            return Err(EbmError::Hyperparameter {
                name: "model.kind",
                reason: "is not one of the five architectures",
                value: model.kind_name().into(),
            })
        }
    })
}

fn title(config: &RunConfig, what: &str) -> String {
    format!("{}: {what}, {} loss", config.name, config.loss.kind_name())
}

fn run_architecture(
    config: &RunConfig,
    data: &Split,
    folder: &RunFolder,
    progress: &Progress,
) -> Result<Trained, RunError> {
    let LossSection::Energy(loss) = &config.loss else {
        return Err(EbmError::Hyperparameter {
            name: "loss.kind",
            reason: "does not go with an architecture of the tutorial",
            value: config.loss.kind_name().into(),
        }
        .into());
    };
    let model = build_architecture(&config.model, &data.train, data.device)?;
    let loss = loss.build()?;
    let history = fit(
        model.as_ref(),
        loss.as_ref(),
        &data.train.x,
        &data.train.y,
        &config.train.train_config(config.seed),
        |r| progress.epoch(r),
    )?;
    progress.finish();
    let mut metrics = BTreeMap::new();
    match model.answers() {
        Answers::Finite(_) => {
            insert(
                &mut metrics,
                "train_accuracy",
                accuracy(model.as_ref(), &data.train)?,
            );
            insert(
                &mut metrics,
                "test_accuracy",
                accuracy(model.as_ref(), &data.test)?,
            );
        }
        Answers::Continuous(_) => {
            let on = if data.test.is_empty() {
                &data.train
            } else {
                &data.test
            };
            for (name, value) in continuous_scores(model.as_ref(), on, &config.eval)? {
                let name = if name == "mse" { "test_mse" } else { name };
                insert(&mut metrics, name, value);
            }
            if matches!(config.model, ModelConfig::Regression(_)) {
                let train = continuous_scores(model.as_ref(), &data.train, &config.eval)?;
                insert(
                    &mut metrics,
                    "train_mse",
                    train.get("mse").copied().unwrap_or(f64::NAN),
                );
            }
        }
    }
    let checkpoint = folder.file("model.safetensors");
    save_checkpoint(model.var_store(), &checkpoint)?;
    let x_dim = data.train.x_dim();
    match (model.answers(), config.model.y_range()) {
        (Answers::Continuous(_), Some(range)) if x_dim == 1 && data.train.y_dim() == Some(1) => {
            energy_landscape(
                &folder.file("energy_landscape.png"),
                model.as_ref(),
                &data.train_cpu,
                (range.lo, range.hi),
                &config.eval,
                &title(config, "E(x, y)"),
            )?;
        }
        (Answers::Finite(_), _) if x_dim == 2 => {
            let classes = match data.train.kind {
                TargetKind::Classes { n_classes } => n_classes as usize,
                _ => 2,
            };
            decision_regions(
                &folder.file("decision_regions.png"),
                model.as_ref(),
                &data.train_cpu,
                classes,
                &config.eval,
                &title(config, "decision regions"),
            )?;
        }
        _ => {}
    }
    Ok(Trained {
        history,
        metrics,
        gap_title: "Energy gap E_I − E_C",
    })
}

fn labels_on(data: &Dataset, device: Device) -> Result<Tensor, RunError> {
    let labels = data.label_indices()?.unwrap_or_default();
    Ok(Tensor::from_slice(&labels).to_device(device))
}

fn run_siamese(
    config: &RunConfig,
    data: &Split,
    folder: &RunFolder,
    progress: &Progress,
) -> Result<Trained, RunError> {
    let (ModelConfig::Siamese(m), LossSection::Method(loss)) = (&config.model, &config.loss) else {
        return Err(EbmError::Hyperparameter {
            name: "loss.kind",
            reason: "a siamese model takes nt_xent, vicreg or barlow_twins",
            value: config.loss.kind_name().into(),
        }
        .into());
    };
    let net = Siamese::new(data.train.x_dim(), m, data.device)?;
    let history = net.fit(loss, &data.train.x, &config.train, config.seed, |r| {
        progress.epoch(r)
    })?;
    progress.finish();
    let queries = if data.test.len() >= 2 {
        &data.test
    } else {
        &data.train
    };
    let scores = net.evaluate(
        &data.train.x,
        &labels_on(&data.train, data.device)?,
        &queries.x,
        &labels_on(queries, data.device)?,
    )?;
    let mut metrics = BTreeMap::new();
    insert(&mut metrics, "nn_accuracy", scores.nn_accuracy);
    insert(&mut metrics, "raw_nn_accuracy", scores.raw_nn_accuracy);
    insert(&mut metrics, "positive_energy", scores.positive_energy);
    insert(&mut metrics, "negative_energy", scores.negative_energy);
    insert(
        &mut metrics,
        "energy_margin",
        scores.negative_energy - scores.positive_energy,
    );
    save_checkpoint(net.var_store(), &folder.file("model.safetensors"))?;
    Ok(Trained {
        history,
        metrics,
        gap_title: "Energy gap: negative − positive pairs",
    })
}

fn run_density(
    config: &RunConfig,
    data: &Split,
    folder: &RunFolder,
    progress: &Progress,
) -> Result<Trained, RunError> {
    let (ModelConfig::Density(m), LossSection::Method(loss)) = (&config.model, &config.loss) else {
        return Err(EbmError::Hyperparameter {
            name: "loss.kind",
            reason: "a density model takes contrastive_divergence",
            value: config.loss.kind_name().into(),
        }
        .into());
    };
    let dim = data.train.y_dim().unwrap_or(2);
    let net = DensityNet::new(dim, m, data.device)?;
    // The same noise starts the chains before and after training.
    let start = net.noise(config.eval.samples as i64)?;
    let untrained = net.sample(&start, config.eval.sample_steps)?;
    let history = net.fit(loss, &data.train.y, &config.train, config.seed, |r| {
        progress.epoch(r)
    })?;
    progress.finish();
    let samples = net.sample(&start, config.eval.sample_steps)?;
    let all = data.all_cpu.y.to_device(data.device);
    let sample_distance = mean_distance_to(&samples, &all)?;
    let noise_distance = mean_distance_to(&start, &all)?;
    let mut metrics = BTreeMap::new();
    insert(&mut metrics, "sample_distance", sample_distance);
    insert(&mut metrics, "noise_distance", noise_distance);
    insert(
        &mut metrics,
        "untrained_sample_distance",
        mean_distance_to(&untrained, &all)?,
    );
    insert(
        &mut metrics,
        "improvement",
        noise_distance / sample_distance,
    );
    let mean_energy = |t: &Tensor| -> Result<f64, RunError> {
        Ok(f64::try_from(net.energies(t)?.f_mean(Kind::Double)?)?)
    };
    insert(
        &mut metrics,
        "energy_gap",
        mean_energy(&start)? - mean_energy(&all)?,
    );
    save_checkpoint(net.var_store(), &folder.file("model.safetensors"))?;
    if dim == 2 {
        density_figure(
            &folder.file("density.png"),
            |points| {
                let _guard = tch::no_grad_guard();
                let no_x = Tensor::f_zeros([points.size()[0], 0], (Kind::Float, data.device))?;
                net.energy().energy(&no_x, points)
            },
            data.device,
            &data.all_cpu,
            &samples,
            &config.eval,
            &title(config, "energy and Langevin samples"),
        )?;
    }
    Ok(Trained {
        history,
        metrics,
        gap_title: "Energy gap: noise − data",
    })
}
