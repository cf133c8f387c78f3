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

use crate::data::{CsvTask, DataConfig, TargetKind};
use ebm_arch::{Coupling, MlpConfig, OptimizerConfig, YRange};
use ebm_contrastive::{
    BarlowTwinsConfig, ContrastiveDivergenceConfig, Distance, InitNoise, NtXentConfig,
    ReplayBufferConfig, VicRegConfig,
};
use ebm_core::{EbmError, GradientDescent, Langevin, LangevinStep};
use ebm_latent::LatentConfig;
use ebm_loss::LossConfig;
use serde::de::{DeserializeSeed, IntoDeserializer, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

mod error;
mod read;

pub use error::ConfigError;
use error::{data_error, hyper, join};
pub use read::LoadedConfig;

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
    pub train: TrainSection,
    /// How the trained model is measured and plotted.
    #[serde(default)]
    pub eval: EvalConfig,
}

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

/// The `[data]` table: a [`DataConfig`] (its `kind` and fields) plus `test_fraction`.
#[derive(Debug, Clone, PartialEq)]
pub struct DataSection {
    /// The generator or CSV file.
    pub source: DataConfig,
    /// Share of the rows held out for testing, in [0, 1) (default 0.2).
    pub test_fraction: f64,
}

/// Default share of the test set.
pub const DEFAULT_TEST_FRACTION: f64 = 0.2;

impl Serialize for DataSection {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Flat<'a> {
            #[serde(flatten)]
            source: &'a DataConfig,
            test_fraction: f64,
        }
        Flat {
            source: &self.source,
            test_fraction: self.test_fraction,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for DataSection {
    /// Takes `test_fraction` out of the table and hands every other key to [`DataConfig`],
    /// field by field, so that its errors keep their positions.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SectionVisitor;
        impl<'de> Visitor<'de> for SectionVisitor {
            type Value = DataSection;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a data table with a `kind`")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<DataSection, A::Error> {
                let mut test_fraction = None;
                let source = DataConfig::deserialize(
                    serde::de::value::MapAccessDeserializer::new(WithoutTestFraction {
                        inner: map,
                        test_fraction: &mut test_fraction,
                    }),
                )?;
                Ok(DataSection {
                    source,
                    test_fraction: test_fraction.unwrap_or(DEFAULT_TEST_FRACTION),
                })
            }
        }
        deserializer.deserialize_map(SectionVisitor)
    }
}

/// A map that reads `test_fraction` aside and passes the other keys on.
struct WithoutTestFraction<'a, A> {
    inner: A,
    test_fraction: &'a mut Option<f64>,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for WithoutTestFraction<'_, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        loop {
            match self.inner.next_key::<String>()? {
                None => return Ok(None),
                Some(key) if key == "test_fraction" => {
                    *self.test_fraction = Some(self.inner.next_value()?);
                }
                Some(key) => {
                    let key: serde::de::value::StringDeserializer<A::Error> =
                        key.into_deserializer();
                    return seed.deserialize(key).map(Some);
                }
            }
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        self.inner.next_value_seed(seed)
    }
}

/// The `[model]` table: an architecture of the 2006 tutorial, or an embedding method trained
/// with a contrastive or non-contrastive loss, or an energy density.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ModelConfig {
    /// E = ½‖G(x) − y‖².
    Regression(RegressionModel),
    /// E = ½‖G_x(x) − G_y(y)‖², ŷ the set of minima.
    ImplicitRegression(ImplicitRegressionModel),
    /// E = −y·G(x), y ∈ {−1, +1}.
    Binary(ClassifierModel),
    /// E(x, k) = G(x)\[k\].
    MultiClass(ClassifierModel),
    /// E(x, y, z) = ½‖G(x, z) − y‖², z marginalised.
    Latent(LatentModelConfig),
    /// An encoder of two noisy views (joint embedding), trained by NT-Xent, VICReg or
    /// Barlow Twins; the energy is a distance between embeddings.
    Siamese(SiameseModel),
    /// An energy E(y) over the data points, trained by contrastive divergence with Langevin
    /// negatives from a replay buffer.
    Density(DensityModel),
}

/// `kind = "regression"`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RegressionModel {
    /// G: x → y.
    pub g: MlpConfig,
    /// The box of y (the energy's probe grid and the landscape plot).
    pub y_range: YRange,
    /// Gradient descent for inference by descent (unused by `predict`, which is closed form).
    pub search: GradientDescent,
}

/// `kind = "implicit_regression"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ImplicitRegressionModel {
    /// Width of the shared embedding G_x(x), G_y(y).
    pub embed: i64,
    /// G_x.
    pub gx: MlpConfig,
    /// G_y.
    pub gy: MlpConfig,
    /// The box of y, its quadrature grid, ε of the most offending answer.
    pub y_range: YRange,
    /// Gradient descent with restarts: the inference.
    pub search: GradientDescent,
}

impl Default for ImplicitRegressionModel {
    fn default() -> Self {
        ImplicitRegressionModel {
            embed: 16,
            gx: MlpConfig::default(),
            gy: MlpConfig::default(),
            y_range: YRange::default(),
            search: GradientDescent::default(),
        }
    }
}

/// `kind = "binary"` and `kind = "multi_class"` (the classes come from the data).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClassifierModel {
    /// G: x → one score (binary) or one energy per class.
    pub g: MlpConfig,
}

/// `kind = "latent"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LatentModelConfig {
    /// G_x (additive coupling) or G on [x, z] (concat).
    pub g: MlpConfig,
    /// `"additive"`: G(x, z) = G_x(x) + G_z(z); `"concat"`: G([x, z]).
    pub coupling: Coupling,
    /// G_z of the additive coupling (default: linear, no hidden layer).
    pub g_z: MlpConfig,
    /// z's space, β and penalty.
    pub latent: LatentConfig,
    /// The box of y.
    pub y_range: YRange,
    /// Gradient descent over y for each z.
    pub search: GradientDescent,
}

impl Default for LatentModelConfig {
    fn default() -> Self {
        LatentModelConfig {
            g: MlpConfig::default(),
            coupling: Coupling::Additive,
            g_z: MlpConfig {
                hidden: vec![],
                ..MlpConfig::default()
            },
            latent: LatentConfig::default(),
            y_range: YRange::default(),
            search: GradientDescent::default(),
        }
    }
}

/// `kind = "siamese"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SiameseModel {
    /// The encoder: view → embedding.
    pub encoder: MlpConfig,
    /// Width of the embedding.
    pub embed: i64,
    /// How a view of a data point is made.
    pub views: ViewsConfig,
    /// The energy between embeddings used in evaluation (positive/negative pairs, nearest
    /// neighbours): cosine (default), dot or Lp.
    pub distance: Distance,
}

impl Default for SiameseModel {
    fn default() -> Self {
        SiameseModel {
            encoder: MlpConfig::default(),
            embed: 16,
            views: ViewsConfig::default(),
            distance: Distance::default(),
        }
    }
}

/// A view of x: `x + jitter·ε` next to `nuisance` coordinates of fresh N(0, nuisance_std²)
/// noise, so that two views of a point share only the signal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ViewsConfig {
    /// Standard deviation of the jitter on x, ≥ 0.
    pub jitter: f64,
    /// Number of noise coordinates appended, ≥ 0.
    pub nuisance: usize,
    /// Their standard deviation, ≥ 0.
    pub nuisance_std: f64,
}

impl Default for ViewsConfig {
    fn default() -> Self {
        ViewsConfig {
            jitter: 0.05,
            nuisance: 32,
            nuisance_std: 1.0,
        }
    }
}

/// `kind = "density"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DensityModel {
    /// E: y → one energy.
    pub energy: MlpConfig,
    /// The sampler that makes the negatives (and the evaluation samples, run longer).
    pub langevin: Langevin,
    /// Persistent chains.
    pub replay: ReplayBufferConfig,
}

impl Default for DensityModel {
    fn default() -> Self {
        DensityModel {
            energy: MlpConfig {
                activation: ebm_arch::Activation::Silu,
                ..MlpConfig::default()
            },
            langevin: Langevin {
                step: LangevinStep::Decoupled {
                    step_size: 0.05,
                    noise_std: 0.01,
                },
                steps: 20,
                clamp: Some((-3.0, 3.0)),
                grad_clip: Some(1.0),
            },
            replay: ReplayBufferConfig {
                capacity: 2000,
                reinit_fraction: 0.05,
                init: InitNoise::Uniform { lo: -3.0, hi: 3.0 },
            },
        }
    }
}

/// The `[loss]` table: a loss of the 2006 tutorial ([`LossConfig`]) for the five
/// architectures, or a method's objective for `siamese` and `density` models.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum LossSection {
    /// energy, perceptron, hinge, log, lvq2, mce, square_square, square_exponential, nll, mee.
    Energy(LossConfig),
    /// nt_xent, vicreg, barlow_twins, contrastive_divergence.
    Method(MethodLoss),
}

/// The objectives of the embedding and density methods.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum MethodLoss {
    /// SimCLR's NT-Xent over the 2N views of a batch (contrastive: in-batch negatives).
    NtXent(NtXentConfig),
    /// VICReg (non-contrastive: variance, invariance, covariance).
    Vicreg(VicRegConfig),
    /// Barlow Twins (non-contrastive: cross-correlation to the identity).
    BarlowTwins(BarlowTwinsConfig),
    /// Contrastive divergence with model samples as negatives.
    ContrastiveDivergence(ContrastiveDivergenceConfig),
}

const METHOD_LOSS_KINDS: [&str; 4] = [
    "nt_xent",
    "vicreg",
    "barlow_twins",
    "contrastive_divergence",
];
const ENERGY_LOSS_KINDS: [&str; 10] = [
    "energy",
    "perceptron",
    "hinge",
    "log",
    "lvq2",
    "mce",
    "square_square",
    "square_exponential",
    "nll",
    "mee",
];

impl<'de> Deserialize<'de> for LossSection {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        let value = toml::Value::deserialize(deserializer)?;
        let kind = value
            .get("kind")
            .ok_or_else(|| D::Error::missing_field("kind"))?;
        let kind = kind.as_str().ok_or_else(|| {
            D::Error::custom(format!("field `kind` must be a string, got {kind}"))
        })?;
        // Errors from the inner table lose their position; keep the message only (the
        // caller adds the field and the line).
        let inner = |e: toml::de::Error| D::Error::custom(e.message());
        if METHOD_LOSS_KINDS.contains(&kind) {
            MethodLoss::deserialize(value)
                .map(LossSection::Method)
                .map_err(inner)
        } else if ENERGY_LOSS_KINDS.contains(&kind) {
            LossConfig::deserialize(value)
                .map(LossSection::Energy)
                .map_err(inner)
        } else {
            Err(D::Error::custom(format!(
                "unknown variant `{kind}`, expected one of {}",
                ENERGY_LOSS_KINDS
                    .iter()
                    .chain(&METHOD_LOSS_KINDS)
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )))
        }
    }
}

impl LossSection {
    /// The `kind` as written in configs.
    pub fn kind_name(&self) -> &'static str {
        match self {
            LossSection::Energy(l) => match l {
                LossConfig::Energy {} => "energy",
                LossConfig::Perceptron {} => "perceptron",
                LossConfig::Hinge { .. } => "hinge",
                LossConfig::Log {} => "log",
                LossConfig::Lvq2 { .. } => "lvq2",
                LossConfig::Mce {} => "mce",
                LossConfig::SquareSquare { .. } => "square_square",
                LossConfig::SquareExponential { .. } => "square_exponential",
                LossConfig::Nll { .. } => "nll",
                LossConfig::Mee { .. } => "mee",
            },
            LossSection::Method(m) => match m {
                MethodLoss::NtXent(_) => "nt_xent",
                MethodLoss::Vicreg(_) => "vicreg",
                MethodLoss::BarlowTwins(_) => "barlow_twins",
                MethodLoss::ContrastiveDivergence(_) => "contrastive_divergence",
            },
        }
    }
}

/// The `[train]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainSection {
    /// Adam or SGD and their settings.
    pub optimizer: OptimizerConfig,
    /// Rows per step, ≥ 1 (≥ 2 for siamese models).
    pub batch_size: usize,
    /// Passes over the training set, ≥ 1.
    pub epochs: usize,
    /// Rows (the first of the training set) on which the per-epoch gap and spread are taken.
    pub probe_size: usize,
}

impl Default for TrainSection {
    fn default() -> Self {
        let d = ebm_arch::TrainConfig::default();
        TrainSection {
            optimizer: d.optimizer,
            batch_size: d.batch_size,
            epochs: d.epochs,
            probe_size: d.probe_size,
        }
    }
}

impl TrainSection {
    /// As `ebm-arch`'s training settings, with the run's seed.
    pub fn train_config(&self, seed: u64) -> ebm_arch::TrainConfig {
        ebm_arch::TrainConfig {
            optimizer: self.optimizer.clone(),
            batch_size: self.batch_size,
            epochs: self.epochs,
            seed,
            probe_size: self.probe_size,
        }
    }
}

/// The `[eval]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EvalConfig {
    /// The metric the summary shows (default: the model's own, e.g. `test_accuracy`); every
    /// model also reports `spread_ratio`, the energy spread after training over its start.
    pub metric: Option<String>,
    /// Continuous y: a test point is covered when some answer of its prediction set lies
    /// within this distance of its y (> 0).
    pub coverage_tolerance: f64,
    /// Continuous y: the prediction set is the distinct minima within this energy of the best
    /// one (≥ 0).
    pub energy_window: f64,
    /// Points per axis of the heatmaps (≥ 2).
    pub plot_grid: usize,
    /// x values at which the energy landscape shows the prediction set (≥ 1).
    pub plot_predictions: usize,
    /// Density models: Langevin samples drawn from fresh noise for the evaluation (≥ 1).
    pub samples: usize,
    /// Density models: steps of those chains (≥ 1; longer than in training).
    pub sample_steps: usize,
}

impl Default for EvalConfig {
    fn default() -> Self {
        EvalConfig {
            metric: None,
            coverage_tolerance: 0.1,
            energy_window: 1.0,
            plot_grid: 80,
            plot_predictions: 25,
            samples: 500,
            sample_steps: 100,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// What a model needs of the data, and what it measures.

/// The target a model trains on, as far as the config tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Targets {
    Regression,
    Binary,
    Classes,
    Density,
}

impl Targets {
    fn of_data(data: &DataConfig) -> Targets {
        use crate::data::BinaryLabels;
        match data {
            DataConfig::Sine(_)
            | DataConfig::TwoBranch(_)
            | DataConfig::Parabola(_)
            | DataConfig::Circle(_)
            | DataConfig::LatentMixture(_) => Targets::Regression,
            DataConfig::TwoMoons(c) => match c.labels {
                BinaryLabels::Signs => Targets::Binary,
                BinaryLabels::Indices => Targets::Classes,
            },
            DataConfig::Blobs(_) | DataConfig::Spirals(_) => Targets::Classes,
            DataConfig::Rings(_) | DataConfig::EightGaussians(_) => Targets::Density,
            DataConfig::Csv(c) => match c.task {
                CsvTask::Regression => Targets::Regression,
                CsvTask::Classification => Targets::Classes,
                CsvTask::Binary => Targets::Binary,
            },
        }
    }

    fn of_kind(kind: TargetKind) -> Targets {
        match kind {
            TargetKind::Regression => Targets::Regression,
            TargetKind::Classes { .. } => Targets::Classes,
            TargetKind::Binary => Targets::Binary,
            TargetKind::Density => Targets::Density,
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Targets::Regression => "real-valued targets (sine, two_branch, parabola, circle, latent_mixture, or csv with task = \"regression\")",
            Targets::Binary => "labels -1/+1 (two_moons, or csv with task = \"binary\")",
            Targets::Classes => "class labels (blobs, spirals, two_moons with labels = \"indices\", or csv with task = \"classification\")",
            Targets::Density => "density samples (rings, eight_gaussians)",
        }
    }
}

impl ModelConfig {
    /// The `kind` as written in configs.
    pub fn kind_name(&self) -> &'static str {
        match self {
            ModelConfig::Regression(_) => "regression",
            ModelConfig::ImplicitRegression(_) => "implicit_regression",
            ModelConfig::Binary(_) => "binary",
            ModelConfig::MultiClass(_) => "multi_class",
            ModelConfig::Latent(_) => "latent",
            ModelConfig::Siamese(_) => "siamese",
            ModelConfig::Density(_) => "density",
        }
    }

    /// The targets this model trains on (siamese models take labelled data and use the
    /// labels only to measure nearest-neighbour accuracy).
    fn accepts(&self, targets: Targets) -> bool {
        match self {
            ModelConfig::Regression(_)
            | ModelConfig::ImplicitRegression(_)
            | ModelConfig::Latent(_) => targets == Targets::Regression,
            ModelConfig::Binary(_) => targets == Targets::Binary,
            ModelConfig::MultiClass(_) => targets == Targets::Classes,
            ModelConfig::Siamese(_) => matches!(targets, Targets::Binary | Targets::Classes),
            ModelConfig::Density(_) => targets == Targets::Density,
        }
    }

    fn needed(&self) -> Targets {
        match self {
            ModelConfig::Regression(_)
            | ModelConfig::ImplicitRegression(_)
            | ModelConfig::Latent(_) => Targets::Regression,
            ModelConfig::Binary(_) => Targets::Binary,
            ModelConfig::MultiClass(_) | ModelConfig::Siamese(_) => Targets::Classes,
            ModelConfig::Density(_) => Targets::Density,
        }
    }

    /// The metrics an evaluation of this model reports (the names in `metrics.json`), the
    /// default summary metric first.
    pub fn metric_names(&self) -> &'static [&'static str] {
        match self {
            ModelConfig::Regression(_) => &[
                "test_mse",
                "train_mse",
                "coverage",
                "argmin_error",
                "prediction_set_size",
                "mode_coverage_min",
            ],
            ModelConfig::ImplicitRegression(_) | ModelConfig::Latent(_) => &[
                "coverage",
                "argmin_error",
                "test_mse",
                "prediction_set_size",
                "mode_coverage_min",
            ],
            ModelConfig::Binary(_) | ModelConfig::MultiClass(_) => {
                &["test_accuracy", "train_accuracy"]
            }
            ModelConfig::Siamese(_) => &[
                "nn_accuracy",
                "raw_nn_accuracy",
                "positive_energy",
                "negative_energy",
                "energy_margin",
            ],
            ModelConfig::Density(_) => &[
                "sample_distance",
                "noise_distance",
                "untrained_sample_distance",
                "improvement",
                "energy_gap",
            ],
        }
    }

    /// The box of y of the models with a continuous answer.
    pub fn y_range(&self) -> Option<&YRange> {
        match self {
            ModelConfig::Regression(m) => Some(&m.y_range),
            ModelConfig::ImplicitRegression(m) => Some(&m.y_range),
            ModelConfig::Latent(m) => Some(&m.y_range),
            _ => None,
        }
    }

    /// Whether the loss goes with this model.
    fn takes(&self, loss: &LossSection) -> bool {
        match (self, loss) {
            (ModelConfig::Siamese(_), LossSection::Method(m)) => {
                !matches!(m, MethodLoss::ContrastiveDivergence(_))
            }
            (ModelConfig::Density(_), LossSection::Method(m)) => {
                matches!(m, MethodLoss::ContrastiveDivergence(_))
            }
            (ModelConfig::Siamese(_) | ModelConfig::Density(_), LossSection::Energy(_)) => false,
            (_, LossSection::Energy(_)) => true,
            (_, LossSection::Method(_)) => false,
        }
    }

    fn loss_hint(&self) -> &'static str {
        match self {
            ModelConfig::Siamese(_) => "nt_xent, vicreg or barlow_twins",
            ModelConfig::Density(_) => "contrastive_divergence",
            _ => "one of the tutorial's losses: energy, perceptron, hinge, log, lvq2, mce, square_square, square_exponential, nll, mee",
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Checking values.

impl RunConfig {
    /// Checks every value, with an error naming the dotted field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let name_ok = !self.name.is_empty()
            && self.name != "."
            && self.name != ".."
            && self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            && !self.name.starts_with('.');
        if !name_ok {
            return Err(ConfigError::invalid(
                "name",
                format!(
                    "must be a folder name of letters, digits, '-', '_' or '.' (not starting with '.'), got {:?}",
                    self.name
                ),
            ));
        }
        if i64::try_from(self.seed).is_err() {
            return Err(ConfigError::invalid(
                "seed",
                format!("must be at most {}, got {}", i64::MAX, self.seed),
            ));
        }
        if self.threads == 0 {
            return Err(ConfigError::invalid("threads", "must be >= 1, got 0"));
        }
        self.data.source.validate().map_err(data_error)?;
        let f = self.data.test_fraction;
        if !(0.0..1.0).contains(&f) {
            return Err(ConfigError::invalid(
                "data.test_fraction",
                format!("must be in [0, 1), got {f}"),
            ));
        }
        self.validate_model()?;
        self.validate_loss()?;
        self.validate_train()?;
        self.validate_eval()?;
        let targets = Targets::of_data(&self.data.source);
        if !self.model.accepts(targets) {
            return Err(ConfigError::invalid(
                "model.kind",
                format!(
                    "model kind \"{}\" needs {}, but data kind \"{}\" gives {}",
                    self.model.kind_name(),
                    self.model.needed().describe(),
                    self.data.source.kind_name(),
                    targets.describe()
                ),
            ));
        }
        Ok(())
    }

    fn validate_model(&self) -> Result<(), ConfigError> {
        let mlp =
            |name: &str, c: &MlpConfig| c.validate().map_err(|e| hyper(&join("model", name), e));
        let search = |c: &GradientDescent| c.validate().map_err(|e| hyper("model.search", e));
        match &self.model {
            ModelConfig::Regression(m) => {
                mlp("g", &m.g)?;
                validate_y_range(&m.y_range)?;
                search(&m.search)
            }
            ModelConfig::ImplicitRegression(m) => {
                if m.embed < 1 {
                    return Err(ConfigError::invalid(
                        "model.embed",
                        format!("must be >= 1, got {}", m.embed),
                    ));
                }
                mlp("gx", &m.gx)?;
                mlp("gy", &m.gy)?;
                validate_y_range(&m.y_range)?;
                search(&m.search)
            }
            ModelConfig::Binary(m) | ModelConfig::MultiClass(m) => mlp("g", &m.g),
            ModelConfig::Latent(m) => {
                mlp("g", &m.g)?;
                mlp("g_z", &m.g_z)?;
                m.latent
                    .penalty
                    .validate()
                    .map_err(|e| hyper("model.latent.penalty", e))?;
                m.latent.validate().map_err(|e| hyper("model.latent", e))?;
                validate_y_range(&m.y_range)?;
                search(&m.search)
            }
            ModelConfig::Siamese(m) => {
                mlp("encoder", &m.encoder)?;
                if m.embed < 1 {
                    return Err(ConfigError::invalid(
                        "model.embed",
                        format!("must be >= 1, got {}", m.embed),
                    ));
                }
                for (name, v) in [
                    ("jitter", m.views.jitter),
                    ("nuisance_std", m.views.nuisance_std),
                ] {
                    if !(v.is_finite() && v >= 0.0) {
                        return Err(ConfigError::invalid(
                            &join("model.views", name),
                            format!("must be finite and >= 0, got {v}"),
                        ));
                    }
                }
                m.distance
                    .validate()
                    .map_err(|e| hyper("model.distance", e))
            }
            ModelConfig::Density(m) => {
                mlp("energy", &m.energy)?;
                m.langevin.validate().map_err(|e| {
                    let step_field = matches!(
                        &e,
                        EbmError::Hyperparameter { name, .. }
                            if ["epsilon", "beta", "step_size", "noise_std"].contains(name)
                    );
                    hyper(
                        if step_field {
                            "model.langevin.step"
                        } else {
                            "model.langevin"
                        },
                        e,
                    )
                })?;
                m.replay.validate().map_err(|e| hyper("model.replay", e))?;
                if m.replay.capacity < self.train.batch_size {
                    return Err(ConfigError::invalid(
                        "model.replay.capacity",
                        format!(
                            "must be >= train.batch_size ({}), got {}",
                            self.train.batch_size, m.replay.capacity
                        ),
                    ));
                }
                Ok(())
            }
        }
    }

    fn validate_loss(&self) -> Result<(), ConfigError> {
        if !self.model.takes(&self.loss) {
            return Err(ConfigError::invalid(
                "loss.kind",
                format!(
                    "loss \"{}\" does not go with model kind \"{}\": use {}",
                    self.loss.kind_name(),
                    self.model.kind_name(),
                    self.model.loss_hint()
                ),
            ));
        }
        match &self.loss {
            LossSection::Energy(l) => l.build().map(drop),
            LossSection::Method(MethodLoss::NtXent(c)) => c.check().map(drop),
            LossSection::Method(MethodLoss::Vicreg(c)) => c.check().map(drop),
            LossSection::Method(MethodLoss::BarlowTwins(c)) => c.check().map(drop),
            LossSection::Method(MethodLoss::ContrastiveDivergence(c)) => c.check().map(drop),
        }
        .map_err(|e| hyper("loss", e))
    }

    fn validate_train(&self) -> Result<(), ConfigError> {
        self.train
            .optimizer
            .validate()
            .map_err(|e| hyper("train.optimizer", e))?;
        for (name, v) in [
            ("batch_size", self.train.batch_size),
            ("epochs", self.train.epochs),
            ("probe_size", self.train.probe_size),
        ] {
            if v == 0 {
                return Err(ConfigError::invalid(
                    &join("train", name),
                    "must be >= 1, got 0",
                ));
            }
        }
        if matches!(self.model, ModelConfig::Siamese(_)) && self.train.batch_size < 2 {
            return Err(ConfigError::invalid(
                "train.batch_size",
                format!(
                    "must be >= 2 for a siamese model (pairs of a batch are the negatives and the statistics), got {}",
                    self.train.batch_size
                ),
            ));
        }
        Ok(())
    }

    fn validate_eval(&self) -> Result<(), ConfigError> {
        let e = &self.eval;
        if let Some(metric) = &e.metric {
            let names = self.model.metric_names();
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
        for (name, v, min) in [
            ("plot_grid", e.plot_grid, 2),
            ("plot_predictions", e.plot_predictions, 1),
            ("samples", e.samples, 1),
            ("sample_steps", e.sample_steps, 1),
        ] {
            if v < min {
                return Err(ConfigError::invalid(
                    &join("eval", name),
                    format!("must be >= {min}, got {v}"),
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
            .unwrap_or(self.model.metric_names()[0])
    }

    /// Checks the data set a run made against the model (CSV files are only known once read).
    pub fn check_targets(&self, kind: TargetKind) -> Result<(), ConfigError> {
        let targets = Targets::of_kind(kind);
        if self.model.accepts(targets) {
            Ok(())
        } else {
            Err(ConfigError::invalid(
                "model.kind",
                format!(
                    "model kind \"{}\" needs {}, but the data has {}",
                    self.model.kind_name(),
                    self.model.needed().describe(),
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
            DataConfig::Csv(_) => {}
        }
        self.train.epochs = self.train.epochs.min(2);
        let shrink_search = |s: &mut GradientDescent| {
            s.steps = s.steps.min(20);
            s.restarts = s.restarts.min(2);
        };
        let shrink_range = |r: &mut YRange| {
            r.grid_points = r.grid_points.min(12);
            r.offending_steps = r.offending_steps.min(2);
        };
        match &mut self.model {
            ModelConfig::Regression(m) => {
                shrink_range(&mut m.y_range);
                shrink_search(&mut m.search);
            }
            ModelConfig::ImplicitRegression(m) => {
                shrink_range(&mut m.y_range);
                shrink_search(&mut m.search);
            }
            ModelConfig::Latent(m) => {
                shrink_range(&mut m.y_range);
                shrink_search(&mut m.search);
                if let ebm_latent::LatentSpaceConfig::Continuous { search, .. } = &mut m.latent.z {
                    shrink_search(search);
                }
            }
            ModelConfig::Density(m) => {
                m.langevin.steps = m.langevin.steps.min(5);
                m.replay.capacity = m.replay.capacity.min(self.train.batch_size.max(200));
            }
            ModelConfig::Binary(_) | ModelConfig::MultiClass(_) | ModelConfig::Siamese(_) => {}
        }
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

fn validate_y_range(r: &YRange) -> Result<(), ConfigError> {
    let field = |name: &str| join("model.y_range", name);
    if !(r.lo.is_finite() && r.hi.is_finite() && r.lo < r.hi) {
        return Err(ConfigError::invalid(
            &field("hi"),
            format!(
                "lo and hi must be finite with lo < hi, got [{}, {}]",
                r.lo, r.hi
            ),
        ));
    }
    if r.grid_points < 2 {
        return Err(ConfigError::invalid(
            &field("grid_points"),
            format!("must be >= 2, got {}", r.grid_points),
        ));
    }
    if !(r.epsilon.is_finite() && r.epsilon > 0.0) {
        return Err(ConfigError::invalid(
            &field("epsilon"),
            format!("must be finite and > 0, got {}", r.epsilon),
        ));
    }
    if r.offending_steps == 0 {
        return Err(ConfigError::invalid(
            &field("offending_steps"),
            "must be >= 1, got 0",
        ));
    }
    Ok(())
}
