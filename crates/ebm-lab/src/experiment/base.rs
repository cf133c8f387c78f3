//! The [`Experiment`] trait and what a run hands it: the targets and losses a kind takes, the
//! data split, the run's context and what training produced.

use crate::error::RunError;
use crate::preprocess::Preprocess;
use crate::progress::Progress;
use crate::report::RunFolder;
use crate::sections::{EvalConfig, LossSection};
use ebm_arch::{
    load_checkpoint, save_checkpoint, Architecture, History, OptimizerState, TrainConfig,
};
use ebm_data::{CsvTask, DataConfig, Dataset, SplitRows, TargetKind};
use std::collections::BTreeMap;
use std::path::Path;
use tch::Device;

/// What a model trains on, as far as the config tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Targets {
    /// Real-valued targets.
    Regression,
    /// Labels −1/+1.
    Binary,
    /// Class labels.
    Classes,
    /// Samples of a density, no input.
    Density,
}

impl Targets {
    /// The targets a data config gives.
    pub fn of_data(data: &DataConfig) -> Targets {
        use ebm_data::BinaryLabels;
        match data {
            DataConfig::Sine(_)
            | DataConfig::TwoBranch(_)
            | DataConfig::Parabola(_)
            | DataConfig::Circle(_)
            | DataConfig::LatentMixture(_)
            | DataConfig::Multimodal(_) => Targets::Regression,
            DataConfig::TwoMoons(c) => match c.labels {
                BinaryLabels::Signs => Targets::Binary,
                BinaryLabels::Indices => Targets::Classes,
            },
            DataConfig::Blobs(_) | DataConfig::Spirals(_) => Targets::Classes,
            DataConfig::Rings(_)
            | DataConfig::EightGaussians(_)
            | DataConfig::GaussianMixture(_) => Targets::Density,
            DataConfig::Csv(_)
            | DataConfig::Iris(_)
            | DataConfig::Digits(_)
            | DataConfig::Diabetes(_) => match data.table_target().map(|(_, task)| task) {
                Some(CsvTask::Regression) | None => Targets::Regression,
                Some(CsvTask::Classification) => Targets::Classes,
                Some(CsvTask::Binary) => Targets::Binary,
            },
        }
    }

    /// The targets of a data set.
    pub fn of_kind(kind: TargetKind) -> Targets {
        match kind {
            TargetKind::Regression => Targets::Regression,
            TargetKind::Classes { .. } => Targets::Classes,
            TargetKind::Binary => Targets::Binary,
            TargetKind::Density => Targets::Density,
        }
    }

    /// In words, with the data kinds that give them.
    pub fn describe(self) -> &'static str {
        match self {
            Targets::Regression => "real-valued targets (sine, two_branch, parabola, circle, latent_mixture, diabetes, or csv with task = \"regression\")",
            Targets::Binary => "labels -1/+1 (two_moons, or csv with task = \"binary\")",
            Targets::Classes => "class labels (blobs, spirals, iris, digits, two_moons with labels = \"indices\", or csv with task = \"classification\")",
            Targets::Density => "density samples (rings, eight_gaussians, gaussian_mixture)",
        }
    }
}

/// The family of losses a model kind trains with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Losses {
    /// The tutorial's losses (`ebm_loss::LossConfig`).
    Tutorial,
    /// The embedding objectives: nt_xent, vicreg, barlow_twins.
    Embedding,
    /// The density objectives: contrastive divergence, score matching (exact, denoising,
    /// sliced), NCE.
    Density,
}

impl Losses {
    /// Whether `loss` belongs to the family.
    pub fn accepts(self, loss: &LossSection) -> bool {
        match (self, loss) {
            (Losses::Tutorial, LossSection::Energy(_)) => true,
            (Losses::Embedding, LossSection::Method(m)) => m.is_embedding(),
            (Losses::Density, LossSection::Method(m)) => !m.is_embedding(),
            (Losses::Tutorial, LossSection::Method(_))
            | (Losses::Embedding | Losses::Density, LossSection::Energy(_)) => false,
        }
    }

    /// The family in words, for errors.
    pub fn hint(self) -> &'static str {
        match self {
            Losses::Tutorial => "one of the tutorial's losses: energy, perceptron, hinge, log, lvq2, mce, square_square, square_exponential, nll, mee",
            Losses::Embedding => "nt_xent, vicreg or barlow_twins",
            Losses::Density => "contrastive_divergence, score_matching, denoising_score_matching, sliced_score_matching or nce",
        }
    }
}

/// The data of a run as the model sees it (scaled by [`Preprocess`]): the split on the run's
/// device, and CPU copies for plots and the predictions table.
#[derive(Debug)]
pub struct Split {
    /// The training rows, on the device.
    pub train: Dataset,
    /// The test rows, on the device.
    pub test: Dataset,
    /// The training rows on the CPU.
    pub train_cpu: Dataset,
    /// Every row on the CPU, in the data's order.
    pub all_cpu: Dataset,
    /// Which rows of `all_cpu` are training and test rows.
    pub rows: SplitRows,
    /// The scalers, fitted on the training rows.
    pub preprocess: Preprocess,
    /// Where the model lives.
    pub device: Device,
}

/// The sizes a model is built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dims {
    /// Width of x.
    pub x: i64,
    /// Width of y for real-valued targets (1 for labels).
    pub y: i64,
    /// Number of classes for class labels (2 otherwise).
    pub classes: i64,
}

impl Dims {
    /// The sizes of a data set.
    pub fn of(data: &Dataset) -> Dims {
        Dims {
            x: data.x_dim(),
            y: data.y_dim().unwrap_or(1),
            classes: match data.kind {
                TargetKind::Classes { n_classes } => n_classes,
                TargetKind::Binary | TargetKind::Regression | TargetKind::Density => 2,
            },
        }
    }
}

/// Everything an experiment's run reads.
pub struct RunContext<'a> {
    /// The run's name (plot titles).
    pub name: &'a str,
    /// The run's seed.
    pub seed: u64,
    /// The `[loss]` table (checked to go with the model).
    pub loss: &'a LossSection,
    /// The `[train]` table.
    pub train: &'a TrainConfig,
    /// The `[eval]` table.
    pub eval: &'a EvalConfig,
    /// The data.
    pub data: &'a Split,
    /// The report folder being written.
    pub folder: &'a RunFolder,
    /// Progress display: call `epoch` from training and `finish` after it.
    pub progress: &'a Progress,
    /// A finished run to continue (`run --resume`) instead of a fresh initialisation.
    pub resume: Option<ResumeFrom<'a>>,
}

/// What a resumed run starts from.
#[derive(Debug, Clone, Copy)]
pub struct ResumeFrom<'a> {
    /// The checkpoint to load before training.
    pub checkpoint: &'a Path,
    /// The optimiser state to start from; `None` when the config changed the optimiser's kind
    /// (the new one starts fresh).
    pub optimizer: Option<&'a OptimizerState>,
}

impl RunContext<'_> {
    /// Loads the checkpoint of the run being resumed into `vs` (nothing for a fresh run) and
    /// returns the optimiser state training starts from (`None`: fresh).
    pub fn start(&self, vs: &mut tch::nn::VarStore) -> Result<Option<&OptimizerState>, RunError> {
        match self.resume {
            Some(resume) => {
                load_checkpoint(vs, resume.checkpoint)?;
                Ok(resume.optimizer)
            }
            None => Ok(None),
        }
    }

    /// Saves the trained model (`model.safetensors`) and the optimiser's final state
    /// (`optimizer.safetensors`, what a later `run --resume` continues from), as soon as
    /// training ends: a full disk shows before evaluating.
    pub fn save_trained(
        &self,
        vs: &tch::nn::VarStore,
        optimizer: &OptimizerState,
    ) -> Result<(), RunError> {
        save_checkpoint(vs, &self.folder.file("model.safetensors"))?;
        optimizer.save(&self.folder.file("optimizer.safetensors"))?;
        Ok(())
    }

    /// A plot title: the run's name, what is shown, the loss.
    pub fn title(&self, what: &str) -> String {
        format!("{}: {what}, {} loss", self.name, self.loss.kind_name())
    }
}

/// What training and evaluation produced.
#[derive(Debug)]
pub struct Trained {
    /// The per-epoch history.
    pub history: History,
    /// The metrics, by the names of [`Experiment::metric_names`].
    pub metrics: BTreeMap<String, f64>,
    /// Title of the energy-gap panel of `curves.png`.
    pub gap_title: &'static str,
    /// Training rows held out to calibrate β (not trained on).
    pub calibration_rows: usize,
}

/// A model kind of the runner.
pub trait Experiment {
    /// The targets it trains on; the first is the one errors name.
    fn targets(&self) -> &'static [Targets];

    /// The losses it trains with.
    fn losses(&self) -> Losses;

    /// The metrics an evaluation reports (the names in `metrics.json`), the default summary
    /// metric first.
    fn metric_names(&self) -> &'static [&'static str];

    /// The fewest (training, test) rows its training and metrics need: a metric named
    /// `test_…` is computed on test rows only, so a split that leaves fewer is refused.
    fn min_rows(&self) -> (usize, usize);

    /// Checks the model's values; errors name the full dotted key (`model.g.hidden`,
    /// `train.batch_size`). `train` is the `[train]` table, for the rules that tie the two
    /// (a replay buffer holds a batch, a siamese batch has pairs).
    fn check(&self, train: &TrainConfig) -> ebm_core::Result<()>;

    /// Shrinks the searches and chains for a run of seconds (`demo --quick`, tests), after
    /// `train` was shrunk.
    fn shrink(&mut self, train: &TrainConfig);

    /// The model of this kind for data of `dims`, untrained, to load a checkpoint into
    /// (`ebm-lab predict`, `eval`); `None` for kinds that predict no answer (siamese, density).
    fn architecture(
        &self,
        dims: Dims,
        device: Device,
    ) -> ebm_core::Result<Option<Box<dyn Architecture>>>;

    /// Builds, trains, evaluates and plots the model, and saves its checkpoint.
    fn run(&self, context: &RunContext<'_>) -> Result<Trained, RunError>;
}

/// Inserts a metric.
pub(super) fn insert(metrics: &mut BTreeMap<String, f64>, name: &str, value: f64) {
    metrics.insert(name.to_string(), value);
}
