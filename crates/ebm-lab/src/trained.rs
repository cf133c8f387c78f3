//! Using a finished run: load its folder ([`TrainedRun::load`]), predict on new rows
//! ([`TrainedRun::predict_csv`]) and measure it on new labelled data
//! ([`TrainedRun::evaluate_csv`]). The command line's `ebm-lab predict` and `ebm-lab eval` are
//! these functions.
//!
//! ```
//! use ebm_lab::{run, ProgressMode, RunConfig, RunOptions, TrainedRun};
//!
//! // Train a small classifier of two moons into a temporary runs folder...
//! let config = RunConfig::parse(r#"
//!     name = "moons"
//!     [data]
//!     kind = "two_moons"
//!     n = 80
//!     [model]
//!     kind = "binary"
//!     [loss]
//!     kind = "hinge"
//!     [train]
//!     epochs = 5
//! "#)?;
//! let runs = tempfile::tempdir()?;
//! let options = RunOptions {
//!     runs_dir: runs.path().to_path_buf(),
//!     progress: ProgressMode::Quiet,
//!     ..RunOptions::default()
//! };
//! let outcome = run(&config.into(), &options)?;
//!
//! // ...then load its folder as a program would, and predict two new points.
//! let trained = TrainedRun::load(&outcome.dir)?;
//! let x = tch::Tensor::from_slice(&[0.0f32, 1.0, 1.5, -0.5]).view([2, 2]);
//! let table = trained.predict(&x)?;
//! assert_eq!(table.header, ["predicted", "energy_-1", "energy_+1", "p_-1", "p_+1"]);
//! assert_eq!(table.rows.len(), 2);
//!
//! // New labelled rows in a CSV file (generated data names its columns x1, x2 and y).
//! let file = runs.path().join("labelled.csv");
//! std::fs::write(&file, "x1,x2,y\n0.0,1.0,-1\n1.5,-0.5,1\n")?;
//! let metrics = trained.evaluate_csv(&file)?;
//! assert_eq!(metrics["n"], 2.0);
//! assert!((0.0..=1.0).contains(&metrics["accuracy"]));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::config::RunConfig;
use crate::error::RunError;
use crate::evaluate::{accuracy, calibration_scores, continuous_scores};
use crate::experiment::Dims;
use crate::predictions::{predict_table, PredictionTable};
use crate::preprocess::Preprocess;
use ebm_arch::{load_checkpoint, Answers, Architecture};
use ebm_data::{encode_targets, read_inputs, CsvTask, Dataset, Missing, TargetKind};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tch::Tensor;

/// The files of a run folder that `predict` and `eval` need.
pub const RUN_FILES: &[&str] = &[
    "config.toml",
    "scaler.json",
    "model.safetensors",
    "metrics.json",
];

/// A run folder loaded for use: its config, scalers, labels, calibrated β and model.
pub struct TrainedRun {
    /// The run folder.
    pub dir: PathBuf,
    /// The resolved config of the run.
    pub config: RunConfig,
    /// The scalers fitted on its training rows.
    pub preprocess: Preprocess,
    /// The user's label of each class index (empty for continuous answers).
    pub classes: Vec<String>,
    /// β of the Gibbs probabilities (1 when the run did not calibrate).
    pub beta: f64,
    model: Box<dyn Architecture>,
}

impl std::fmt::Debug for TrainedRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrainedRun")
            .field("dir", &self.dir)
            .field("model", &self.model.name())
            .field("classes", &self.classes)
            .field("beta", &self.beta)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct LabelsFile {
    classes: Vec<String>,
}

#[derive(Deserialize)]
struct MetricsFile {
    metrics: BTreeMap<String, Option<f64>>,
}

impl TrainedRun {
    /// Loads the run folder `dir`. A missing or broken file is a [`RunError::RunFolder`]
    /// naming it.
    pub fn load(dir: &Path) -> Result<TrainedRun, RunError> {
        let broken = |reason: String| RunError::RunFolder {
            dir: dir.to_path_buf(),
            reason,
        };
        if !dir.is_dir() {
            return Err(broken("is not a folder".into()));
        }
        for file in RUN_FILES {
            if !dir.join(file).is_file() {
                return Err(broken(format!(
                    "has no {file}: is it a run folder of `ebm-lab run` that finished?"
                )));
            }
        }
        let read = |file: &str| {
            std::fs::read_to_string(dir.join(file))
                .map_err(|e| broken(format!("cannot read {file}: {e}")))
        };
        let config = RunConfig::read_resolved(&dir.join("config.toml"))
            .map_err(|e| broken(format!("config.toml: {e}")))?;
        let preprocess: Preprocess = serde_json::from_str(&read("scaler.json")?)
            .map_err(|e| broken(format!("scaler.json: {e}")))?;
        let metrics: MetricsFile = serde_json::from_str(&read("metrics.json")?)
            .map_err(|e| broken(format!("metrics.json: {e}")))?;
        let beta = metrics
            .metrics
            .get("beta")
            .copied()
            .flatten()
            .unwrap_or(1.0);
        let classes = match dir.join("labels.json").is_file() {
            true => {
                let labels: LabelsFile = serde_json::from_str(&read("labels.json")?)
                    .map_err(|e| broken(format!("labels.json: {e}")))?;
                labels.classes
            }
            false => vec![],
        };
        let dims = Dims {
            x: preprocess.features.len() as i64,
            y: preprocess.y.as_ref().map_or(1, |y| y.width() as i64),
            classes: classes.len().max(2) as i64,
        };
        let device = config.device.device()?;
        let kind = config.model.kind_name();
        let mut model = config
            .model
            .experiment()
            .architecture(dims, device)?
            .ok_or_else(|| {
                RunError::Usage(format!(
                    "model kind \"{kind}\" gives no answer per row to predict or evaluate (its metrics are in metrics.json)"
                ))
            })?;
        if matches!(model.answers(), Answers::Finite(_)) && classes.is_empty() {
            return Err(broken(
                "has no labels.json, which a classifier's run writes".into(),
            ));
        }
        load_checkpoint(model.var_store_mut(), &dir.join("model.safetensors"))
            .map_err(|e| broken(format!("model.safetensors: {e}")))?;
        Ok(TrainedRun {
            dir: dir.to_path_buf(),
            config,
            preprocess,
            classes,
            beta,
            model,
        })
    }

    /// The model.
    pub fn model(&self) -> &dyn Architecture {
        self.model.as_ref()
    }

    /// The target column's name: the table's, or `y` for generated data.
    fn target_name(&self) -> &str {
        self.preprocess
            .target
            .as_ref()
            .map_or("y", |(name, _)| name.as_str())
    }

    fn missing(&self) -> Missing {
        match &self.config.data.source {
            ebm_data::DataConfig::Csv(c) => c.missing,
            _ => Missing::Error,
        }
    }

    /// The prediction of every row of `x` (features in the user's units, in the order of
    /// [`Preprocess::features`]): see [`crate::predictions`] for the columns.
    pub fn predict(&self, x: &Tensor) -> Result<PredictionTable, RunError> {
        let scaled = self.preprocess.x.apply(x)?;
        predict_table(
            self.model(),
            &scaled,
            &self.preprocess,
            &self.classes,
            self.beta,
            self.config.eval.energy_window,
            self.config.seed,
        )
    }

    /// Reads `input` (a header with the model's feature columns, in order; the target column may
    /// be there too and is ignored) and predicts every row. The first column, `row`, numbers the
    /// rows from 0 in file order.
    pub fn predict_csv(&self, input: &Path) -> Result<PredictionTable, RunError> {
        let rows = read_inputs(
            input,
            &self.preprocess.features,
            self.target_name(),
            &self.preprocess.unused_columns,
            false,
            self.missing(),
        )?;
        let index: Vec<String> = (0..rows.lines.len()).map(|i| i.to_string()).collect();
        Ok(self.predict(&rows.x)?.with_first_column("row", &index))
    }

    /// The run's metrics on the labelled rows of `data` (the target column required): for
    /// classifiers `accuracy`, and `nll` and `ece` at the run's β; for continuous answers `mse`,
    /// `r2`, `coverage`, `argmin_error` and `prediction_set_size`, in the user's units; and `n`,
    /// the rows measured.
    pub fn evaluate_csv(&self, data: &Path) -> Result<BTreeMap<String, f64>, RunError> {
        let target = self.target_name();
        let rows = read_inputs(
            data,
            &self.preprocess.features,
            target,
            &self.preprocess.unused_columns,
            true,
            self.missing(),
        )?;
        let cells = rows.target.as_deref().unwrap_or_default();
        let model = self.model();
        let (task, kind) = match model.answers() {
            Answers::Continuous(_) => (CsvTask::Regression, TargetKind::Regression),
            Answers::Finite(_) if self.classes.len() == 2 && model.name() == "binary" => {
                (CsvTask::Binary, TargetKind::Binary)
            }
            Answers::Finite(_) => (
                CsvTask::Classification,
                TargetKind::Classes {
                    n_classes: self.classes.len() as i64,
                },
            ),
        };
        let y = encode_targets(data, target, cells, task, &self.classes)?;
        let device = model.var_store().device();
        let dataset = self
            .preprocess
            .apply(&Dataset {
                x: rows.x,
                y,
                kind,
                latent: None,
                answer_sets: None,
                feature_names: self.preprocess.features.clone(),
                class_names: self.classes.clone(),
            })?
            .to_device(device);
        let mut out = BTreeMap::new();
        out.insert("n".to_string(), dataset.len() as f64);
        if rows.dropped_rows > 0 {
            out.insert("dropped_rows".to_string(), rows.dropped_rows as f64);
        }
        tch::manual_seed(self.config.seed as i64);
        match model.answers() {
            Answers::Finite(_) => {
                out.insert("accuracy".into(), accuracy(model, &dataset)?);
                let bins = self.config.eval.calibration_bins;
                if let Some((nll, ece, _)) = calibration_scores(model, &dataset, self.beta, bins)? {
                    out.insert("nll".into(), nll);
                    out.insert("ece".into(), ece);
                }
            }
            Answers::Continuous(_) => {
                let scores = continuous_scores(
                    model,
                    &dataset,
                    &self.config.eval,
                    self.preprocess.y.as_ref(),
                )?;
                out.extend(scores.into_iter().map(|(k, v)| (k.to_string(), v)));
            }
        }
        Ok(out)
    }
}
