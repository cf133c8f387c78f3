//! The tables of a run config that every model kind shares: `[data]`, `[loss]` and
//! `[eval]`. The `[model]` table is [`crate::experiment::ModelConfig`]; `[train]` is
//! `ebm-arch`'s [`ebm_arch::TrainConfig`]; the whole config is [`crate::config::RunConfig`].

use ebm_contrastive::ObjectiveConfig;
use ebm_data::{CsvTask, DataConfig, ScaleKind};
use ebm_loss::LossConfig;
use serde::de::{DeserializeSeed, IntoDeserializer, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// The `[data]` table: a [`DataConfig`] (its `kind` and fields) plus how the run splits and
/// scales it.
#[derive(Debug, Clone, PartialEq)]
pub struct DataSection {
    /// The generator or table.
    pub source: DataConfig,
    /// Share of the rows held out for testing, in [0, 1) (default 0.2).
    pub test_fraction: f64,
    /// Feature scaling, fitted on the training rows (default `standard` for tables, `none` for
    /// generators).
    pub scale: ScaleKind,
    /// Target scaling of real-valued targets (default `standard` for tables with a regression
    /// target, `none` otherwise); metrics and predictions are in the user's units.
    pub target_scale: ScaleKind,
    /// Whether classification targets split by class, every class on both sides (default true).
    pub stratify: bool,
}

/// Default share of the test set.
pub const DEFAULT_TEST_FRACTION: f64 = 0.2;

/// The keys of the `[data]` table that are the run's, not the data source's.
pub const SECTION_KEYS: &[&str] = &["test_fraction", "scale", "target_scale", "stratify"];

impl DataSection {
    /// The section of `source` with every other key at its default.
    pub fn of(source: DataConfig) -> DataSection {
        let (scale, target_scale) = default_scales(&source);
        DataSection {
            source,
            test_fraction: DEFAULT_TEST_FRACTION,
            scale,
            target_scale,
            stratify: true,
        }
    }
}

/// The default (feature, target) scaling of a source: tables are standardised (features, and a
/// regression target), generated data is used as generated.
fn default_scales(source: &DataConfig) -> (ScaleKind, ScaleKind) {
    match source.table_target() {
        Some((_, CsvTask::Regression)) => (ScaleKind::Standard, ScaleKind::Standard),
        Some((_, CsvTask::Classification | CsvTask::Binary)) => {
            (ScaleKind::Standard, ScaleKind::None)
        }
        None => (ScaleKind::None, ScaleKind::None),
    }
}

impl Serialize for DataSection {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Flat<'a> {
            #[serde(flatten)]
            source: &'a DataConfig,
            test_fraction: f64,
            scale: ScaleKind,
            target_scale: ScaleKind,
            stratify: bool,
        }
        Flat {
            source: &self.source,
            test_fraction: self.test_fraction,
            scale: self.scale,
            target_scale: self.target_scale,
            stratify: self.stratify,
        }
        .serialize(serializer)
    }
}

/// The run's keys of the `[data]` table, as read.
#[derive(Default)]
struct SectionKeys {
    test_fraction: Option<f64>,
    scale: Option<ScaleKind>,
    target_scale: Option<ScaleKind>,
    stratify: Option<bool>,
}

impl<'de> Deserialize<'de> for DataSection {
    /// Takes the run's keys ([`SECTION_KEYS`]) out of the table and hands every other key to
    /// [`DataConfig`], field by field, so that its errors keep their positions.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SectionVisitor;
        impl<'de> Visitor<'de> for SectionVisitor {
            type Value = DataSection;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a data table with a `kind`")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<DataSection, A::Error> {
                let mut keys = SectionKeys::default();
                let source = DataConfig::deserialize(
                    serde::de::value::MapAccessDeserializer::new(WithoutSectionKeys {
                        inner: map,
                        keys: &mut keys,
                    }),
                )?;
                let (scale, target_scale) = default_scales(&source);
                Ok(DataSection {
                    source,
                    test_fraction: keys.test_fraction.unwrap_or(DEFAULT_TEST_FRACTION),
                    scale: keys.scale.unwrap_or(scale),
                    target_scale: keys.target_scale.unwrap_or(target_scale),
                    stratify: keys.stratify.unwrap_or(true),
                })
            }
        }
        deserializer.deserialize_map(SectionVisitor)
    }
}

/// A map that reads the run's keys aside and passes the other keys on.
struct WithoutSectionKeys<'a, A> {
    inner: A,
    keys: &'a mut SectionKeys,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for WithoutSectionKeys<'_, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        loop {
            match self.inner.next_key::<String>()? {
                None => return Ok(None),
                Some(key) if key == "test_fraction" => {
                    self.keys.test_fraction = Some(self.inner.next_value()?);
                }
                Some(key) if key == "scale" => self.keys.scale = Some(self.inner.next_value()?),
                Some(key) if key == "target_scale" => {
                    self.keys.target_scale = Some(self.inner.next_value()?);
                }
                Some(key) if key == "stratify" => {
                    self.keys.stratify = Some(self.inner.next_value()?);
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

/// The `[loss]` table: a loss of the 2006 tutorial ([`LossConfig`]) for the five
/// architectures, or a method's objective ([`ObjectiveConfig`]) for `siamese` and `density`
/// models.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum LossSection {
    /// energy, perceptron, hinge, log, lvq2, mce, square_square, square_exponential, nll, mee.
    Energy(LossConfig),
    /// nt_xent, vicreg, barlow_twins, contrastive_divergence.
    Method(ObjectiveConfig),
}

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
        if ObjectiveConfig::KINDS.contains(&kind) {
            ObjectiveConfig::deserialize(value)
                .map(LossSection::Method)
                .map_err(inner)
        } else if LossConfig::KINDS.contains(&kind) {
            LossConfig::deserialize(value)
                .map(LossSection::Energy)
                .map_err(inner)
        } else {
            Err(D::Error::custom(format!(
                "unknown variant `{kind}`, expected one of {}",
                LossConfig::KINDS
                    .iter()
                    .chain(&ObjectiveConfig::KINDS)
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
            LossSection::Energy(l) => l.kind_name(),
            LossSection::Method(m) => m.kind_name(),
        }
    }

    /// Checks the hyperparameters; errors name the key within `[loss]`.
    pub fn check(&self) -> ebm_core::Result<()> {
        match self {
            LossSection::Energy(l) => l.build().map(drop),
            LossSection::Method(m) => m.check(),
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
    /// Classifiers: the share of the training rows held out (stratified) to fit β of the Gibbs
    /// probabilities P(y|x) ∝ e^(−βE) by their NLL, in [0, 1); 0 keeps β = 1 and every
    /// training row for training.
    pub calibration_fraction: f64,
    /// Classifiers: equal-width confidence bins of the expected calibration error (≥ 1).
    pub calibration_bins: usize,
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
            calibration_fraction: 0.1,
            calibration_bins: 15,
        }
    }
}
