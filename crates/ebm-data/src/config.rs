//! [`DataConfig`]: the `data` table of a run config, with defaults and checks.

use super::bundled::{bundled, Bundled};
use super::csv_loader::{load_csv_file, CsvColumns, CsvTask, Loaded, Missing};
use super::generators::{self, check_at_least, check_n, check_noise, check_positive, BinaryLabels};
use super::Dataset;
use crate::error::{DataError, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Default number of examples of the built-in generators.
pub const DEFAULT_N: usize = 512;

fn default_n() -> usize {
    DEFAULT_N
}

/// Where a run's data comes from: a built-in generator or a CSV file.
///
/// In TOML the variant is the `kind` field, the other fields are the variant's (every one has a
/// default except the CSV file's `path`, `target` and `task`), and unknown fields are errors:
///
/// ```toml
/// data = { kind = "two_moons", n = 400, noise = 0.1 }
/// ```
///
/// The seed is not part of this table: [`DataConfig::generate`] takes it (the run's seed).
///
/// Deserialising reads every field directly (not through serde's buffered internal tagging),
/// so a wrong type is reported at the field's own line, and a field that exists but does not
/// apply to the kind (`classes` for `sine`) is an error that names it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", try_from = "RawDataConfig")]
pub enum DataConfig {
    /// [`generators::sine`].
    Sine(SineConfig),
    /// [`generators::two_branch`].
    TwoBranch(TwoBranchConfig),
    /// [`generators::parabola`].
    Parabola(ParabolaConfig),
    /// [`generators::circle`].
    Circle(CircleConfig),
    /// [`generators::two_moons`].
    TwoMoons(TwoMoonsConfig),
    /// [`generators::blobs`].
    Blobs(BlobsConfig),
    /// [`generators::spirals`].
    Spirals(SpiralsConfig),
    /// [`generators::rings`].
    Rings(RingsConfig),
    /// [`generators::eight_gaussians`].
    EightGaussians(EightGaussiansConfig),
    /// [`generators::latent_mixture`].
    LatentMixture(LatentMixtureConfig),
    /// [`generators::gaussian_mixture`]: a density in any dimension.
    GaussianMixture(GaussianMixtureConfig),
    /// [`generators::multimodal`]: `modes` answers in R^`dim` at every x.
    Multimodal(MultimodalConfig),
    /// [`crate::load_csv_file`].
    Csv(CsvConfig),
    /// [`Bundled::Iris`]: 150 × 4, three species.
    Iris(NoFields),
    /// [`Bundled::Digits`]: 1,797 × 64, ten digits.
    Digits(NoFields),
    /// [`Bundled::Diabetes`]: 442 × 10, a real-valued target.
    Diabetes(NoFields),
}

/// The (empty) table of a bundled data set: it takes no fields.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoFields {}

/// Configs of generators that take only `n` and `noise`.
macro_rules! n_noise_config {
    ($(#[$doc:meta])* $name:ident, $noise:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(default, deny_unknown_fields)]
        pub struct $name {
            /// Number of examples, ≥ 1 (default 512).
            pub n: usize,
            #[doc = concat!("Noise standard deviation, ≥ 0 (default ", stringify!($noise), ").")]
            pub noise: f64,
        }

        impl Default for $name {
            fn default() -> Self {
                Self {
                    n: default_n(),
                    noise: $noise,
                }
            }
        }
    };
}

n_noise_config!(
    /// `kind = "sine"`: y = sin(3x) + noise.
    SineConfig,
    0.1
);
n_noise_config!(
    /// `kind = "two_branch"`: y = ±√x + noise.
    TwoBranchConfig,
    0.05
);
n_noise_config!(
    /// `kind = "parabola"`: Y = X² + noise.
    ParabolaConfig,
    0.05
);
n_noise_config!(
    /// `kind = "circle"`: x = cos θ, y = sin θ + noise.
    CircleConfig,
    0.05
);
n_noise_config!(
    /// `kind = "latent_mixture"`: y = x + 0.5·z + noise with hidden z ∈ {−1, +1}.
    LatentMixtureConfig,
    0.05
);

/// `kind = "two_moons"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TwoMoonsConfig {
    /// Number of examples, ≥ 1 (default 512).
    pub n: usize,
    /// Noise standard deviation, ≥ 0 (default 0.1).
    pub noise: f64,
    /// `"signs"` (−1/+1, default) or `"indices"` (0/1).
    pub labels: BinaryLabels,
}

impl Default for TwoMoonsConfig {
    fn default() -> Self {
        Self {
            n: default_n(),
            noise: 0.1,
            labels: BinaryLabels::Signs,
        }
    }
}

/// `kind = "blobs"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BlobsConfig {
    /// Number of examples, ≥ 1 (default 512).
    pub n: usize,
    /// Number of classes, ≥ 2 (default 3).
    pub classes: usize,
    /// Standard deviation of each blob, ≥ 0 (default 0.3).
    pub noise: f64,
}

impl Default for BlobsConfig {
    fn default() -> Self {
        Self {
            n: default_n(),
            classes: 3,
            noise: 0.3,
        }
    }
}

/// `kind = "spirals"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SpiralsConfig {
    /// Number of examples, ≥ 1 (default 512).
    pub n: usize,
    /// Number of arms (= classes), ≥ 2 (default 2).
    pub arms: usize,
    /// Turns of each arm, > 0 (default 1).
    pub turns: f64,
    /// Noise standard deviation, ≥ 0 (default 0.05).
    pub noise: f64,
}

impl Default for SpiralsConfig {
    fn default() -> Self {
        Self {
            n: default_n(),
            arms: 2,
            turns: 1.0,
            noise: 0.05,
        }
    }
}

/// `kind = "rings"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RingsConfig {
    /// Number of examples, ≥ 1 (default 512).
    pub n: usize,
    /// Number of concentric rings, ≥ 1 (default 1).
    pub rings: usize,
    /// Noise standard deviation, ≥ 0 (default 0.05).
    pub noise: f64,
}

impl Default for RingsConfig {
    fn default() -> Self {
        Self {
            n: default_n(),
            rings: 1,
            noise: 0.05,
        }
    }
}

/// `kind = "eight_gaussians"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EightGaussiansConfig {
    /// Number of examples, ≥ 1 (default 512).
    pub n: usize,
    /// Radius of the circle of centres, > 0 (default 2).
    pub radius: f64,
    /// Standard deviation of each Gaussian, ≥ 0 (default 0.1).
    pub noise: f64,
}

impl Default for EightGaussiansConfig {
    fn default() -> Self {
        Self {
            n: default_n(),
            radius: 2.0,
            noise: 0.1,
        }
    }
}

/// `kind = "gaussian_mixture"`: `modes` Gaussians at ±`radius` on the axes of R^`dim`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GaussianMixtureConfig {
    /// Number of examples, ≥ 1 (default 512).
    pub n: usize,
    /// Dimension of the points, ≥ 1 (default 8).
    pub dim: usize,
    /// Number of modes, in 1..=2·dim (default 8).
    pub modes: usize,
    /// Distance of every centre from the origin, > 0 (default 2).
    pub radius: f64,
    /// Standard deviation of each Gaussian, > 0 (default 0.3).
    pub noise: f64,
}

impl Default for GaussianMixtureConfig {
    fn default() -> Self {
        Self {
            n: default_n(),
            dim: 8,
            modes: 8,
            radius: 2.0,
            noise: 0.3,
        }
    }
}

/// `kind = "multimodal"`: x ∈ [−1, 1]^`inputs`, `modes` answers s_m ⊙ g(x) ∈ R^`dim`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MultimodalConfig {
    /// Number of examples, ≥ 1 (default 512).
    pub n: usize,
    /// Dimension k of x, ≥ 1 (default 2).
    pub inputs: usize,
    /// Dimension d of y, ≥ 1 (default 2).
    pub dim: usize,
    /// Answers per x, M in 1..=2^dim (default 4).
    pub modes: usize,
    /// Noise standard deviation on y, ≥ 0 (default 0.02).
    pub noise: f64,
}

impl Default for MultimodalConfig {
    fn default() -> Self {
        Self {
            n: default_n(),
            inputs: 2,
            dim: 2,
            modes: 4,
            noise: 0.02,
        }
    }
}

/// `kind = "csv"`: a user's file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CsvConfig {
    /// The file. A relative path is taken from the working directory, or from the config's
    /// folder after [`DataConfig::resolve_paths`].
    pub path: PathBuf,
    /// Feature columns by header name; omitted: every column but the target.
    #[serde(default)]
    pub features: Option<Vec<String>>,
    /// The target (or label) column's header name.
    pub target: String,
    /// `"regression"`, `"classification"` or `"binary"`.
    pub task: CsvTask,
    /// A row with an empty or `NA` cell: `"error"` (default, naming line and column) or
    /// `"drop_rows"`.
    #[serde(default)]
    pub missing: Missing,
}

/// The `kind` names of [`DataConfig`], with the fields each one takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum DataKind {
    Sine,
    TwoBranch,
    Parabola,
    Circle,
    TwoMoons,
    Blobs,
    Spirals,
    Rings,
    EightGaussians,
    LatentMixture,
    GaussianMixture,
    Multimodal,
    Csv,
    Iris,
    Digits,
    Diabetes,
}

impl DataKind {
    fn name(self) -> &'static str {
        match self {
            DataKind::Sine => "sine",
            DataKind::TwoBranch => "two_branch",
            DataKind::Parabola => "parabola",
            DataKind::Circle => "circle",
            DataKind::TwoMoons => "two_moons",
            DataKind::Blobs => "blobs",
            DataKind::Spirals => "spirals",
            DataKind::Rings => "rings",
            DataKind::EightGaussians => "eight_gaussians",
            DataKind::LatentMixture => "latent_mixture",
            DataKind::GaussianMixture => "gaussian_mixture",
            DataKind::Multimodal => "multimodal",
            DataKind::Csv => "csv",
            DataKind::Iris => "iris",
            DataKind::Digits => "digits",
            DataKind::Diabetes => "diabetes",
        }
    }

    fn fields(self) -> &'static [&'static str] {
        match self {
            DataKind::Sine
            | DataKind::TwoBranch
            | DataKind::Parabola
            | DataKind::Circle
            | DataKind::LatentMixture => &["n", "noise"],
            DataKind::TwoMoons => &["n", "noise", "labels"],
            DataKind::Blobs => &["n", "classes", "noise"],
            DataKind::Spirals => &["n", "arms", "turns", "noise"],
            DataKind::Rings => &["n", "rings", "noise"],
            DataKind::EightGaussians => &["n", "radius", "noise"],
            DataKind::GaussianMixture => &["n", "dim", "modes", "radius", "noise"],
            DataKind::Multimodal => &["n", "inputs", "dim", "modes", "noise"],
            DataKind::Csv => &["path", "features", "target", "task", "missing"],
            DataKind::Iris | DataKind::Digits | DataKind::Diabetes => &[],
        }
    }
}

/// Every field of every kind, read in one pass; [`DataConfig`]'s `TryFrom` keeps those of the
/// kind and rejects the others.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDataConfig {
    kind: DataKind,
    n: Option<usize>,
    noise: Option<f64>,
    labels: Option<BinaryLabels>,
    classes: Option<usize>,
    arms: Option<usize>,
    turns: Option<f64>,
    rings: Option<usize>,
    radius: Option<f64>,
    dim: Option<usize>,
    inputs: Option<usize>,
    modes: Option<usize>,
    path: Option<PathBuf>,
    features: Option<Vec<String>>,
    target: Option<String>,
    task: Option<CsvTask>,
    missing: Option<Missing>,
}

impl TryFrom<RawDataConfig> for DataConfig {
    type Error = String;

    fn try_from(raw: RawDataConfig) -> std::result::Result<Self, String> {
        let kind = raw.kind;
        let present = [
            ("n", raw.n.is_some()),
            ("noise", raw.noise.is_some()),
            ("labels", raw.labels.is_some()),
            ("classes", raw.classes.is_some()),
            ("arms", raw.arms.is_some()),
            ("turns", raw.turns.is_some()),
            ("rings", raw.rings.is_some()),
            ("radius", raw.radius.is_some()),
            ("dim", raw.dim.is_some()),
            ("inputs", raw.inputs.is_some()),
            ("modes", raw.modes.is_some()),
            ("path", raw.path.is_some()),
            ("features", raw.features.is_some()),
            ("target", raw.target.is_some()),
            ("task", raw.task.is_some()),
            ("missing", raw.missing.is_some()),
        ];
        if let Some((field, _)) = present
            .iter()
            .find(|(field, set)| *set && !kind.fields().contains(field))
        {
            return Err(match kind.fields() {
                [] => format!(
                    "field `{field}` does not apply to kind = \"{}\" (a bundled data set takes no fields)",
                    kind.name()
                ),
                fields => format!(
                    "field `{field}` does not apply to kind = \"{}\" (its fields: {})",
                    kind.name(),
                    fields.join(", ")
                ),
            });
        }
        let n = raw.n.unwrap_or(DEFAULT_N);
        let noise = |default: f64| raw.noise.unwrap_or(default);
        let required = |field: &str| format!("kind = \"csv\" needs the field `{field}`");
        Ok(match kind {
            DataKind::Sine => DataConfig::Sine(SineConfig {
                n,
                noise: noise(SineConfig::default().noise),
            }),
            DataKind::TwoBranch => DataConfig::TwoBranch(TwoBranchConfig {
                n,
                noise: noise(TwoBranchConfig::default().noise),
            }),
            DataKind::Parabola => DataConfig::Parabola(ParabolaConfig {
                n,
                noise: noise(ParabolaConfig::default().noise),
            }),
            DataKind::Circle => DataConfig::Circle(CircleConfig {
                n,
                noise: noise(CircleConfig::default().noise),
            }),
            DataKind::LatentMixture => DataConfig::LatentMixture(LatentMixtureConfig {
                n,
                noise: noise(LatentMixtureConfig::default().noise),
            }),
            DataKind::TwoMoons => {
                let d = TwoMoonsConfig::default();
                DataConfig::TwoMoons(TwoMoonsConfig {
                    n,
                    noise: noise(d.noise),
                    labels: raw.labels.unwrap_or(d.labels),
                })
            }
            DataKind::Blobs => {
                let d = BlobsConfig::default();
                DataConfig::Blobs(BlobsConfig {
                    n,
                    classes: raw.classes.unwrap_or(d.classes),
                    noise: noise(d.noise),
                })
            }
            DataKind::Spirals => {
                let d = SpiralsConfig::default();
                DataConfig::Spirals(SpiralsConfig {
                    n,
                    arms: raw.arms.unwrap_or(d.arms),
                    turns: raw.turns.unwrap_or(d.turns),
                    noise: noise(d.noise),
                })
            }
            DataKind::Rings => {
                let d = RingsConfig::default();
                DataConfig::Rings(RingsConfig {
                    n,
                    rings: raw.rings.unwrap_or(d.rings),
                    noise: noise(d.noise),
                })
            }
            DataKind::EightGaussians => {
                let d = EightGaussiansConfig::default();
                DataConfig::EightGaussians(EightGaussiansConfig {
                    n,
                    radius: raw.radius.unwrap_or(d.radius),
                    noise: noise(d.noise),
                })
            }
            DataKind::GaussianMixture => {
                let d = GaussianMixtureConfig::default();
                DataConfig::GaussianMixture(GaussianMixtureConfig {
                    n,
                    dim: raw.dim.unwrap_or(d.dim),
                    modes: raw.modes.unwrap_or(d.modes),
                    radius: raw.radius.unwrap_or(d.radius),
                    noise: noise(d.noise),
                })
            }
            DataKind::Multimodal => {
                let d = MultimodalConfig::default();
                DataConfig::Multimodal(MultimodalConfig {
                    n,
                    inputs: raw.inputs.unwrap_or(d.inputs),
                    dim: raw.dim.unwrap_or(d.dim),
                    modes: raw.modes.unwrap_or(d.modes),
                    noise: noise(d.noise),
                })
            }
            DataKind::Csv => DataConfig::Csv(CsvConfig {
                path: raw.path.ok_or_else(|| required("path"))?,
                features: raw.features,
                target: raw.target.ok_or_else(|| required("target"))?,
                task: raw.task.ok_or_else(|| required("task"))?,
                missing: raw.missing.unwrap_or_default(),
            }),
            DataKind::Iris => DataConfig::Iris(NoFields {}),
            DataKind::Digits => DataConfig::Digits(NoFields {}),
            DataKind::Diabetes => DataConfig::Diabetes(NoFields {}),
        })
    }
}

impl DataConfig {
    /// The `kind` as written in configs (`"two_moons"`, `"csv"`, ...).
    pub fn kind_name(&self) -> &'static str {
        self.kind().name()
    }

    /// The number of rows the config makes, where the config tells it (every generator's
    /// `n`); `None` for a CSV file, known only once read.
    pub fn rows(&self) -> Option<usize> {
        match self {
            DataConfig::Sine(c) => Some(c.n),
            DataConfig::TwoBranch(c) => Some(c.n),
            DataConfig::Parabola(c) => Some(c.n),
            DataConfig::Circle(c) => Some(c.n),
            DataConfig::TwoMoons(c) => Some(c.n),
            DataConfig::Blobs(c) => Some(c.n),
            DataConfig::Spirals(c) => Some(c.n),
            DataConfig::Rings(c) => Some(c.n),
            DataConfig::EightGaussians(c) => Some(c.n),
            DataConfig::LatentMixture(c) => Some(c.n),
            DataConfig::GaussianMixture(c) => Some(c.n),
            DataConfig::Multimodal(c) => Some(c.n),
            DataConfig::Csv(_) => None,
            DataConfig::Iris(_) => Some(150),
            DataConfig::Digits(_) => Some(1797),
            DataConfig::Diabetes(_) => Some(442),
        }
    }

    /// The bundled data set this config names, if it names one.
    pub fn bundled(&self) -> Option<Bundled> {
        match self {
            DataConfig::Iris(_) => Some(Bundled::Iris),
            DataConfig::Digits(_) => Some(Bundled::Digits),
            DataConfig::Diabetes(_) => Some(Bundled::Diabetes),
            _ => None,
        }
    }

    /// Whether the data is a table of real measurements (a CSV file or a bundled set), whose
    /// features are scaled by default, rather than a generator's.
    pub fn is_table(&self) -> bool {
        matches!(self, DataConfig::Csv(_)) || self.bundled().is_some()
    }

    /// The target column and task of a table (CSV or bundled); `None` for generators.
    pub fn table_target(&self) -> Option<(&str, CsvTask)> {
        match self {
            DataConfig::Csv(c) => Some((c.target.as_str(), c.task)),
            _ => self.bundled().map(|b| (b.target(), b.task())),
        }
    }

    fn kind(&self) -> DataKind {
        match self {
            DataConfig::Sine(_) => DataKind::Sine,
            DataConfig::TwoBranch(_) => DataKind::TwoBranch,
            DataConfig::Parabola(_) => DataKind::Parabola,
            DataConfig::Circle(_) => DataKind::Circle,
            DataConfig::TwoMoons(_) => DataKind::TwoMoons,
            DataConfig::Blobs(_) => DataKind::Blobs,
            DataConfig::Spirals(_) => DataKind::Spirals,
            DataConfig::Rings(_) => DataKind::Rings,
            DataConfig::EightGaussians(_) => DataKind::EightGaussians,
            DataConfig::LatentMixture(_) => DataKind::LatentMixture,
            DataConfig::GaussianMixture(_) => DataKind::GaussianMixture,
            DataConfig::Multimodal(_) => DataKind::Multimodal,
            DataConfig::Csv(_) => DataKind::Csv,
            DataConfig::Iris(_) => DataKind::Iris,
            DataConfig::Digits(_) => DataKind::Digits,
            DataConfig::Diabetes(_) => DataKind::Diabetes,
        }
    }

    /// Checks every field (n ≥ 1, noise ≥ 0, classes ≥ 2, ...) without making data. A CSV
    /// file's existence and contents are checked when it is loaded.
    pub fn check(&self) -> Result<()> {
        match self {
            DataConfig::Sine(SineConfig { n, noise })
            | DataConfig::TwoBranch(TwoBranchConfig { n, noise })
            | DataConfig::Parabola(ParabolaConfig { n, noise })
            | DataConfig::Circle(CircleConfig { n, noise })
            | DataConfig::LatentMixture(LatentMixtureConfig { n, noise })
            | DataConfig::TwoMoons(TwoMoonsConfig { n, noise, .. }) => {
                check_n(*n)?;
                check_noise(*noise)
            }
            DataConfig::Blobs(c) => {
                check_n(c.n)?;
                check_at_least("classes", c.classes, 2)?;
                check_noise(c.noise)
            }
            DataConfig::Spirals(c) => {
                check_n(c.n)?;
                check_at_least("arms", c.arms, 2)?;
                check_positive("turns", c.turns)?;
                check_noise(c.noise)
            }
            DataConfig::Rings(c) => {
                check_n(c.n)?;
                check_at_least("rings", c.rings, 1)?;
                check_noise(c.noise)
            }
            DataConfig::EightGaussians(c) => {
                check_n(c.n)?;
                check_positive("radius", c.radius)?;
                check_noise(c.noise)
            }
            DataConfig::GaussianMixture(c) => {
                check_n(c.n)?;
                generators::check_mixture(c.dim, c.modes, c.radius, c.noise)
            }
            DataConfig::Multimodal(c) => {
                check_n(c.n)?;
                generators::check_multimodal(c.inputs, c.dim, c.modes)?;
                check_noise(c.noise)
            }
            DataConfig::Csv(c) => {
                if c.target.trim().is_empty() {
                    return Err(DataError::Invalid {
                        field: "target",
                        reason: "must name a column".into(),
                        value: format!("{:?}", c.target),
                    });
                }
                if matches!(&c.features, Some(f) if f.is_empty()) {
                    return Err(DataError::Invalid {
                        field: "features",
                        reason:
                            "must list at least one column (or be left out for all but the target)"
                                .into(),
                        value: "[]".into(),
                    });
                }
                Ok(())
            }
            DataConfig::Iris(_) | DataConfig::Digits(_) | DataConfig::Diabetes(_) => Ok(()),
        }
    }

    /// Makes (or loads) the data set; `seed` fixes generated data and is unused for tables.
    pub fn generate(&self, seed: u64) -> Result<Dataset> {
        Ok(self.load(seed)?.dataset)
    }

    /// [`DataConfig::generate`], with what loading a table left out (rows dropped for missing
    /// cells) and the line of each row in its file (empty for generators).
    pub fn load(&self, seed: u64) -> Result<Loaded> {
        self.check()?;
        let generated = match self {
            DataConfig::Sine(c) => generators::sine(c.n, c.noise, seed),
            DataConfig::TwoBranch(c) => generators::two_branch(c.n, c.noise, seed),
            DataConfig::Parabola(c) => generators::parabola(c.n, c.noise, seed),
            DataConfig::Circle(c) => generators::circle(c.n, c.noise, seed),
            DataConfig::TwoMoons(c) => generators::two_moons(c.n, c.noise, c.labels, seed),
            DataConfig::Blobs(c) => generators::blobs(c.n, c.classes, c.noise, seed),
            DataConfig::Spirals(c) => generators::spirals(c.n, c.arms, c.turns, c.noise, seed),
            DataConfig::Rings(c) => generators::rings(c.n, c.rings, c.noise, seed),
            DataConfig::EightGaussians(c) => {
                generators::eight_gaussians(c.n, c.radius, c.noise, seed)
            }
            DataConfig::LatentMixture(c) => generators::latent_mixture(c.n, c.noise, seed),
            DataConfig::GaussianMixture(c) => {
                generators::gaussian_mixture(c.n, c.dim, c.modes, c.radius, c.noise, seed)
            }
            DataConfig::Multimodal(c) => {
                generators::multimodal(c.n, c.inputs, c.dim, c.modes, c.noise, seed)
            }
            DataConfig::Csv(c) => {
                return load_csv_file(
                    &c.path,
                    CsvColumns {
                        features: c.features.as_deref(),
                        target: &c.target,
                        task: c.task,
                        missing: c.missing,
                    },
                )
            }
            DataConfig::Iris(_) => return bundled(Bundled::Iris),
            DataConfig::Digits(_) => return bundled(Bundled::Digits),
            DataConfig::Diabetes(_) => return bundled(Bundled::Diabetes),
        }?;
        Ok(Loaded {
            dataset: generated,
            lines: vec![],
            dropped_rows: 0,
            unused_columns: vec![],
        })
    }

    /// Takes a relative CSV path from `base` (the config file's folder) instead of the working
    /// directory. Other kinds are unchanged.
    pub fn resolve_paths(&mut self, base: &Path) {
        if let DataConfig::Csv(c) = self {
            if c.path.is_relative() {
                c.path = base.join(&c.path);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TargetKind;
    use rstest::rstest;

    /// Parses `data = { ... }` as a run config would hold it.
    fn parse(table: &str) -> std::result::Result<DataConfig, toml::de::Error> {
        #[derive(Deserialize)]
        struct Run {
            data: DataConfig,
        }
        toml::from_str::<Run>(&format!("data = {table}")).map(|r| r.data)
    }

    #[rstest]
    #[case(r#"{ kind = "sine" }"#, DataConfig::Sine(SineConfig::default()))]
    #[case(r#"{ kind = "sine", n = 64, noise = 0 }"#, DataConfig::Sine(SineConfig { n: 64, noise: 0.0 }))]
    #[case(r#"{ kind = "two_branch", noise = 0.02 }"#, DataConfig::TwoBranch(TwoBranchConfig { noise: 0.02, ..Default::default() }))]
    #[case(r#"{ kind = "parabola", n = 100 }"#, DataConfig::Parabola(ParabolaConfig { n: 100, ..Default::default() }))]
    #[case(r#"{ kind = "circle" }"#, DataConfig::Circle(CircleConfig::default()))]
    #[case(r#"{ kind = "two_moons", n = 400, noise = 0.1 }"#, DataConfig::TwoMoons(TwoMoonsConfig { n: 400, noise: 0.1, labels: BinaryLabels::Signs }))]
    #[case(r#"{ kind = "two_moons", labels = "indices" }"#, DataConfig::TwoMoons(TwoMoonsConfig { labels: BinaryLabels::Indices, ..Default::default() }))]
    #[case(r#"{ kind = "blobs", classes = 5, noise = 0.2 }"#, DataConfig::Blobs(BlobsConfig { classes: 5, noise: 0.2, ..Default::default() }))]
    #[case(r#"{ kind = "spirals", arms = 3, turns = 1.5 }"#, DataConfig::Spirals(SpiralsConfig { arms: 3, turns: 1.5, ..Default::default() }))]
    #[case(r#"{ kind = "rings", rings = 2 }"#, DataConfig::Rings(RingsConfig { rings: 2, ..Default::default() }))]
    #[case(r#"{ kind = "eight_gaussians", radius = 3.0 }"#, DataConfig::EightGaussians(EightGaussiansConfig { radius: 3.0, ..Default::default() }))]
    #[case(r#"{ kind = "latent_mixture", n = 256 }"#, DataConfig::LatentMixture(LatentMixtureConfig { n: 256, ..Default::default() }))]
    #[case(r#"{ kind = "iris" }"#, DataConfig::Iris(NoFields {}))]
    #[case(r#"{ kind = "digits" }"#, DataConfig::Digits(NoFields {}))]
    #[case(r#"{ kind = "diabetes" }"#, DataConfig::Diabetes(NoFields {}))]
    #[case(
        r#"{ kind = "csv", path = "data/iris.csv", target = "species", task = "classification" }"#,
        DataConfig::Csv(CsvConfig { path: "data/iris.csv".into(), features: None, target: "species".into(), task: CsvTask::Classification, missing: Missing::Error })
    )]
    #[case(
        r#"{ kind = "csv", path = "a.csv", features = ["u", "v"], target = "w", task = "regression", missing = "drop_rows" }"#,
        DataConfig::Csv(CsvConfig { path: "a.csv".into(), features: Some(vec!["u".into(), "v".into()]), target: "w".into(), task: CsvTask::Regression, missing: Missing::DropRows })
    )]
    fn parses_with_defaults(#[case] table: &str, #[case] expected: DataConfig) {
        let config = parse(table).expect("parses");
        assert_eq!(config, expected);
        config.check().expect("valid");
        // The serialised form parses back to the same config.
        let back: DataConfig =
            toml::from_str(&toml::to_string(&config).expect("serialises")).expect("parses back");
        assert_eq!(back, config);
    }

    #[rstest]
    #[case::unknown_field(r#"{ kind = "sine", nosie = 0.1 }"#, "nosie")]
    #[case::field_of_another_kind(r#"{ kind = "sine", classes = 3 }"#, "classes")]
    #[case::unknown_kind(r#"{ kind = "moons" }"#, "moons")]
    #[case::missing_kind(r#"{ n = 10 }"#, "kind")]
    #[case::wrong_type(r#"{ kind = "blobs", classes = "three" }"#, "three")]
    #[case::negative_count(r#"{ kind = "blobs", n = -5 }"#, "-5")]
    #[case::bad_label_encoding(r#"{ kind = "two_moons", labels = "bits" }"#, "bits")]
    #[case::csv_without_target(r#"{ kind = "csv", path = "a.csv", task = "binary" }"#, "target")]
    #[case::csv_bad_task(
        r#"{ kind = "csv", path = "a.csv", target = "y", task = "ranking" }"#,
        "ranking"
    )]
    fn bad_tables_are_rejected_naming_the_culprit(#[case] table: &str, #[case] culprit: &str) {
        let message = parse(table).expect_err("must be rejected").to_string();
        assert!(message.contains(culprit), "{culprit:?} not in: {message}");
    }

    #[rstest]
    #[case::wrong_type("kind = \"blobs\"\nn = 300\nclasses = \"three\"\n", 5, "classes")]
    #[case::negative("kind = \"sine\"\nn = -5\n", 4, "n")]
    #[case::misspelt("kind = \"sine\"\n\nnosie = 0.1\n", 5, "nosie")]
    #[case::not_of_this_kind("kind = \"rings\"\narms = 3\n", 2, "arms")]
    #[case::csv_missing_task("kind = \"csv\"\npath = \"a.csv\"\ntarget = \"y\"\n", 2, "task")]
    fn errors_in_a_data_table_name_the_line_and_field(
        #[case] body: &str,
        #[case] line: usize,
        #[case] field: &str,
    ) {
        // As a run config holds it: a `[data]` table on line 2, its body from line 3.
        let text = format!("name = \"demo\"\n[data]\n{body}");
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Run {
            name: String,
            data: DataConfig,
        }
        let message = toml::from_str::<Run>(&text)
            .expect_err("rejected")
            .to_string();
        assert!(
            message.contains(&format!("line {line}")),
            "line {line} not in: {message}"
        );
        assert!(message.contains(field), "{field} not in: {message}");
    }

    #[rstest]
    #[case(r#"{ kind = "sine", n = 0 }"#, "n")]
    #[case(r#"{ kind = "two_moons", noise = -1 }"#, "noise")]
    #[case(r#"{ kind = "blobs", classes = 1 }"#, "classes")]
    #[case(r#"{ kind = "spirals", arms = 1 }"#, "arms")]
    #[case(r#"{ kind = "spirals", turns = -1.0 }"#, "turns")]
    #[case(r#"{ kind = "rings", rings = 0 }"#, "rings")]
    #[case(r#"{ kind = "eight_gaussians", radius = 0.0 }"#, "radius")]
    #[case(
        r#"{ kind = "csv", path = "a.csv", target = " ", task = "binary" }"#,
        "target"
    )]
    #[case(
        r#"{ kind = "csv", path = "a.csv", features = [], target = "y", task = "binary" }"#,
        "features"
    )]
    fn out_of_range_values_fail_validation(#[case] table: &str, #[case] field: &str) {
        let config = parse(table).expect("parses");
        for err in [
            config.check().expect_err("invalid"),
            config.generate(0).expect_err("invalid"),
        ] {
            match err {
                DataError::Invalid { field: f, .. } => assert_eq!(f, field),
                other => panic!("expected an invalid {field}, got {other:?}"),
            }
        }
        let message = config.check().expect_err("invalid").to_string();
        assert!(message.contains(field), "{message}");
    }

    #[test]
    fn generate_follows_the_config_and_the_seed() {
        let config = parse(r#"{ kind = "spirals", n = 90, arms = 3, noise = 0.0 }"#).expect("ok");
        let a = config.generate(1).expect("ok");
        assert_eq!(a.kind, TargetKind::Classes { n_classes: 3 });
        assert_eq!(a.x.size(), [90, 2]);
        assert!(a
            .x
            .equal(&crate::spirals(90, 3, 1.0, 0.0, 1).expect("ok").x));
        assert!(!a.x.equal(&config.generate(2).expect("ok").x));
        assert_eq!(config.kind_name(), "spirals");
    }

    #[test]
    fn csv_paths_resolve_from_the_config_folder() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        std::fs::write(dir.path().join("points.csv"), "u,label\n0.5,a\n1.5,b\n").expect("writes");
        let mut config =
            parse(r#"{ kind = "csv", path = "points.csv", target = "label", task = "binary" }"#)
                .expect("ok");
        config.resolve_paths(dir.path());
        let data = config.generate(0).expect("loads");
        assert_eq!(data.kind, TargetKind::Binary);
        assert_eq!(data.class_names, ["a", "b"]);

        let mut absolute = DataConfig::Csv(CsvConfig {
            path: "/data/x.csv".into(),
            features: None,
            target: "y".into(),
            task: CsvTask::Regression,
            missing: Missing::Error,
        });
        let before = absolute.clone();
        absolute.resolve_paths(dir.path());
        assert_eq!(absolute, before);
    }
}
