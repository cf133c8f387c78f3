//! The run config: one TOML file describes one experiment (data, model, loss, training,
//! evaluation), read with every unknown field rejected and every value checked.
//!
//! ```toml
//! name = "binary"          # the run folder: runs/binary/<timestamp>/
//! seed = 0                 # data, split, initialisation and training
//! threads = 1              # libtorch CPU threads (1 gives bit-identical reruns)
//! device = "cpu"           # or "cuda"
//!
//! [data]
//! kind = "two_moons"
//! n = 400
//! noise = 0.1
//! test_fraction = 0.2
//!
//! [model]
//! kind = "binary"
//! g = { hidden = [64, 64], activation = "softplus" }
//!
//! [loss]
//! kind = "hinge"
//! margin = 1.0
//!
//! [train]
//! optimizer = { kind = "adam", lr = 0.01 }
//! batch_size = 100
//! epochs = 100
//! ```
//!
//! Errors say where: the file, the line and the dotted field (`train.optimizer.lr`), for
//! syntax errors, unknown fields, wrong types and out-of-range values alike.
//!
//! `--set key=value` overrides apply to the resolved config (the file with every default
//! filled in): the value is read as a TOML value (`--set train.epochs=5`,
//! `--set 'model.g.hidden=[32, 32]'`, `--set name=other`; a value that is not valid TOML is
//! taken as a string), and a key that the config does not have is an error that names it.

use crate::experiment::{ModelConfig, Targets};
use crate::sections::{DataSection, EvalConfig, LossSection};
use ebm_arch::TrainConfig;
use ebm_data::{DataConfig, TargetKind};
use serde::{Deserialize, Serialize};

mod error;
mod locate;
pub mod read;

use crate::error::ConfigError;
use error::{data_error, hyper, join};

// ---------------------------------------------------------------------------------------------
// The config.

/// One experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    /// The run's name: its reports go to `runs/<name>/<timestamp>/`. Letters, digits, `-`, `_`.
    pub name: String,
    /// Seed of the data, the train/test split, the initialisation and the training.
    #[serde(default)]
    pub seed: u64,
    /// libtorch CPU threads, ≥ 1 (default 1: reruns give identical numbers).
    #[serde(default = "one_thread")]
    pub threads: usize,
    /// `"cpu"` (default) or `"cuda"`.
    #[serde(default)]
    pub device: DeviceChoice,
    /// The data set and the share held out for testing.
    pub data: DataSection,
    /// The architecture or method and its networks.
    pub model: ModelConfig,
    /// The loss.
    pub loss: LossSection,
    /// Optimizer, batch size, epochs.
    #[serde(default)]
    pub train: TrainConfig,
    /// How the trained model is measured and plotted.
    #[serde(default)]
    pub eval: EvalConfig,
}

/// The most libtorch threads a run may ask for (libtorch takes an i32; more threads than this
/// are a typo, not a plan).
pub const MAX_THREADS: usize = 1024;

/// The most points per axis of a heatmap: 4 million energies to compute and draw.
pub const MAX_PLOT_GRID: usize = 2000;

fn one_thread() -> usize {
    1
}

/// Where tensors live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceChoice {
    /// The CPU.
    #[default]
    Cpu,
    /// The first CUDA device.
    Cuda,
}

impl DeviceChoice {
    /// The libtorch device, or an error when CUDA is asked for and not available.
    pub fn device(self) -> Result<tch::Device, ConfigError> {
        match self {
            DeviceChoice::Cpu => Ok(tch::Device::Cpu),
            DeviceChoice::Cuda if tch::Cuda::is_available() => Ok(tch::Device::Cuda(0)),
            DeviceChoice::Cuda => Err(ConfigError::invalid(
                "device",
                "device = \"cuda\" but libtorch sees no CUDA device on this machine; \
                 use device = \"cpu\" (or --set device=cpu)",
            )),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Checking values.

impl RunConfig {
    /// Checks every value, with an error naming the dotted field.
    pub fn check(&self) -> Result<(), ConfigError> {
        let name_ok = !self.name.is_empty()
            && self.name != "."
            && self.name != ".."
            && self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            && !self.name.starts_with('.')
            && self.name.len() <= 255;
        if !name_ok {
            return Err(ConfigError::invalid(
                "name",
                format!(
                    "must be a folder name of at most 255 letters, digits, '-', '_' or '.' (not starting with '.'), got {:?}",
                    self.name
                ),
            ));
        }
        self.device.device()?;
        if i64::try_from(self.seed).is_err() {
            return Err(ConfigError::invalid(
                "seed",
                format!("must be at most {}, got {}", i64::MAX, self.seed),
            ));
        }
        if self.threads == 0 {
            return Err(ConfigError::invalid("threads", "must be >= 1, got 0"));
        }
        if self.threads > MAX_THREADS {
            return Err(ConfigError::invalid(
                "threads",
                format!("must be at most {MAX_THREADS}, got {}", self.threads),
            ));
        }
        self.data.source.check().map_err(data_error)?;
        let f = self.data.test_fraction;
        if !(0.0..1.0).contains(&f) {
            return Err(ConfigError::invalid(
                "data.test_fraction",
                format!("must be in [0, 1), got {f}"),
            ));
        }
        if self.data.target_scale != ebm_data::ScaleKind::None
            && Targets::of_data(&self.data.source) != Targets::Regression
        {
            return Err(ConfigError::invalid(
                "data.target_scale",
                format!(
                    "scales real-valued targets; data kind \"{}\" gives {} (use \"none\")",
                    self.data.source.kind_name(),
                    Targets::of_data(&self.data.source).describe()
                ),
            ));
        }
        if let Some(n) = self.data.source.rows() {
            self.check_rows(n)?;
        }
        if let DataConfig::Csv(c) = &self.data.source {
            if !c.path.is_file() {
                return Err(ConfigError::invalid(
                    "data.path",
                    format!(
                        "no such file: {} (a relative path is taken from the config's folder)",
                        c.path.display()
                    ),
                ));
            }
        }
        self.check_model()?;
        self.check_loss()?;
        self.check_train()?;
        self.check_eval()?;
        let targets = Targets::of_data(&self.data.source);
        let accepted = self.model.experiment().targets();
        if !accepted.contains(&targets) {
            return Err(ConfigError::invalid(
                "model.kind",
                format!(
                    "model kind \"{}\" needs {}, but data kind \"{}\" gives {}",
                    self.model.kind_name(),
                    accepted[0].describe(),
                    self.data.source.kind_name(),
                    targets.describe()
                ),
            ));
        }
        Ok(())
    }

    fn check_model(&self) -> Result<(), ConfigError> {
        self.model
            .experiment()
            .check(&self.train)
            .map_err(|e| hyper("", e))
    }

    fn check_loss(&self) -> Result<(), ConfigError> {
        let losses = self.model.experiment().losses();
        if !losses.accepts(&self.loss) {
            return Err(ConfigError::invalid(
                "loss.kind",
                format!(
                    "loss \"{}\" does not go with model kind \"{}\": use {}",
                    self.loss.kind_name(),
                    self.model.kind_name(),
                    losses.hint()
                ),
            ));
        }
        self.loss.check().map_err(|e| hyper("loss", e))?;
        if self.loss.kind_name() == "nt_xent" {
            // NT-Xent compares every view of a batch with every other: 2B × 2B similarities,
            // with their exponentials, softmax and gradients (four tables of f32).
            let rows = self.data.source.rows().map_or(usize::MAX, |n| {
                ebm_data::split_sizes(n, self.data.test_fraction).0
            });
            let views = 2 * self.train.batch_size.min(rows) as u128;
            ebm_core::check::check_memory(
                "batch_size",
                views.saturating_mul(views).saturating_mul(16),
                &format!("NT-Xent's similarity tables of {views} × {views} views"),
            )
            .map_err(|e| hyper("train", e))?;
        }
        Ok(())
    }

    fn check_train(&self) -> Result<(), ConfigError> {
        self.train.check().map_err(|e| hyper("train", e))
    }

    fn check_eval(&self) -> Result<(), ConfigError> {
        let e = &self.eval;
        if let Some(metric) = &e.metric {
            let names = self.model.experiment().metric_names();
            if !names.contains(&metric.as_str()) && metric != "spread_ratio" {
                return Err(ConfigError::invalid(
                    "eval.metric",
                    format!(
                        "model kind \"{}\" reports {} and spread_ratio, not {metric:?}",
                        self.model.kind_name(),
                        names.join(", ")
                    ),
                ));
            }
        }
        if !(e.coverage_tolerance.is_finite() && e.coverage_tolerance > 0.0) {
            return Err(ConfigError::invalid(
                "eval.coverage_tolerance",
                format!("must be finite and > 0, got {}", e.coverage_tolerance),
            ));
        }
        if !(e.energy_window.is_finite() && e.energy_window >= 0.0) {
            return Err(ConfigError::invalid(
                "eval.energy_window",
                format!("must be finite and >= 0, got {}", e.energy_window),
            ));
        }
        if !(0.0..1.0).contains(&e.calibration_fraction) {
            return Err(ConfigError::invalid(
                "eval.calibration_fraction",
                format!("must be in [0, 1), got {}", e.calibration_fraction),
            ));
        }
        for (name, v, min, max) in [
            ("plot_grid", e.plot_grid, 2, MAX_PLOT_GRID),
            ("plot_predictions", e.plot_predictions, 1, MAX_PLOT_GRID),
            ("samples", e.samples, 1, 10_000_000),
            ("sample_steps", e.sample_steps, 1, 100_000_000),
            ("calibration_bins", e.calibration_bins, 1, 1000),
        ] {
            if v < min || v > max {
                return Err(ConfigError::invalid(
                    &join("eval", name),
                    format!("must be in [{min}, {max}], got {v}"),
                ));
            }
        }
        Ok(())
    }

    /// The metric the summary shows.
    pub fn headline_metric(&self) -> &str {
        self.eval
            .metric
            .as_deref()
            .unwrap_or(self.model.experiment().metric_names()[0])
    }

    /// Checks that `n` rows split by `data.test_fraction` leave the rows the model's training
    /// and metrics need (see [`crate::experiment::Experiment::min_rows`]).
    pub fn check_rows(&self, n: usize) -> Result<(), ConfigError> {
        let (train, test) = ebm_data::split_sizes(n, self.data.test_fraction);
        let (min_train, min_test) = self.model.experiment().min_rows();
        let kind = self.model.kind_name();
        if train < min_train {
            let field = if self.data.source.rows().is_some() {
                "data.n"
            } else {
                "data"
            };
            return Err(ConfigError::invalid(
                field,
                format!(
                    "{n} rows leave {train} to train on; model kind \"{kind}\" needs at least {min_train}"
                ),
            ));
        }
        if test < min_test {
            return Err(ConfigError::invalid(
                "data.test_fraction",
                format!(
                    "{} of {n} rows leaves {test} test rows; model kind \"{kind}\" measures its test metrics on at least {min_test} (raise data.test_fraction or the number of rows)",
                    self.data.test_fraction
                ),
            ));
        }
        Ok(())
    }

    /// Checks the data set a run made against the model (CSV files are only known once read).
    pub fn check_targets(&self, kind: TargetKind) -> Result<(), ConfigError> {
        let targets = Targets::of_kind(kind);
        let accepted = self.model.experiment().targets();
        if accepted.contains(&targets) {
            Ok(())
        } else {
            Err(ConfigError::invalid(
                "model.kind",
                format!(
                    "model kind \"{}\" needs {}, but the data has {}",
                    self.model.kind_name(),
                    accepted[0].describe(),
                    targets.describe()
                ),
            ))
        }
    }

    /// Shrinks the run to a few seconds (tests and `demo --quick`): a small data set, two
    /// epochs, short searches and chains, coarse plots. The result is still checked.
    pub fn shrink(&mut self) {
        const N: usize = 96;
        match &mut self.data.source {
            DataConfig::Sine(c) => c.n = c.n.min(N),
            DataConfig::TwoBranch(c) => c.n = c.n.min(N),
            DataConfig::Parabola(c) => c.n = c.n.min(N),
            DataConfig::Circle(c) => c.n = c.n.min(N),
            DataConfig::LatentMixture(c) => c.n = c.n.min(N),
            DataConfig::TwoMoons(c) => c.n = c.n.min(N),
            DataConfig::Blobs(c) => c.n = c.n.min(N),
            DataConfig::Spirals(c) => c.n = c.n.min(N),
            DataConfig::Rings(c) => c.n = c.n.min(N),
            DataConfig::EightGaussians(c) => c.n = c.n.min(N),
            DataConfig::GaussianMixture(c) => c.n = c.n.min(N),
            DataConfig::Multimodal(c) => c.n = c.n.min(N),
            // Tables keep their rows: the real sets are small, and two epochs are quick.
            DataConfig::Csv(_)
            | DataConfig::Iris(_)
            | DataConfig::Digits(_)
            | DataConfig::Diabetes(_) => {}
        }
        self.train.epochs = self.train.epochs.min(2);
        self.model.experiment_mut().shrink(&self.train);
        self.eval.plot_grid = self.eval.plot_grid.min(24);
        self.eval.plot_predictions = self.eval.plot_predictions.min(6);
        self.eval.samples = self.eval.samples.min(100);
        self.eval.sample_steps = self.eval.sample_steps.min(5);
    }

    /// The config as TOML, every default written out.
    pub fn to_toml(&self) -> Result<String, ConfigError> {
        toml::to_string_pretty(self)
            .map_err(|e| ConfigError::invalid("", format!("cannot write the config as TOML: {e}")))
    }
}
