//! One [`Experiment`] per model kind: what data and losses it takes, what it measures, how it
//! is checked, shrunk for a quick run, trained, evaluated and plotted. The runner
//! ([`crate::runner`]) does the rest of a run the same way for every kind: the data, the
//! split, the report folder, `metrics.json`, `history.csv`, the curves and `run.json`.
//!
//! # Adding a model kind
//! Write `experiment/NAME.rs` with a config type (serde, `Default`, `deny_unknown_fields`;
//! usually the model's own config from `ebm-arch`) and `impl Experiment` for it, then add
//! `mod NAME;` and one line to the `model_kinds!` list below. The `[model]` table's
//! `kind = "NAME"` then parses, checks, runs and reports through it; nothing else changes.

mod architecture;
mod base;
mod binary;
mod density;
mod implicit_regression;
mod latent;
mod multi_class;
mod regression;
mod siamese;

pub use base::{Dims, Experiment, Losses, ResumeFrom, RunContext, Split, Targets, Trained};
pub use binary::BinaryConfig;
pub use multi_class::MultiClassConfig;

/// Declares the model kinds: the [`ModelConfig`] enum (`kind = "…"` of the `[model]` table),
/// its kind list and its dispatch to each kind's [`Experiment`]. One line per kind.
macro_rules! model_kinds {
    ($($(#[$doc:meta])* $kind:literal => $variant:ident($config:ty),)+) => {
        /// The `[model]` table: an architecture of the 2006 tutorial, an embedding method or an
        /// energy density, tagged by `kind`.
        #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
        #[serde(tag = "kind", deny_unknown_fields)]
        pub enum ModelConfig {
            $($(#[$doc])* #[serde(rename = $kind)] $variant($config),)+
        }

        impl ModelConfig {
            /// Every `kind`, as written in configs.
            pub const KINDS: &'static [&'static str] = &[$($kind),+];

            /// The `kind` as written in configs.
            pub fn kind_name(&self) -> &'static str {
                match self {
                    $(ModelConfig::$variant(_) => $kind,)+
                }
            }

            /// The experiment of this kind.
            pub fn experiment(&self) -> &dyn Experiment {
                match self {
                    $(ModelConfig::$variant(m) => m,)+
                }
            }

            /// The experiment of this kind, to shrink it.
            pub fn experiment_mut(&mut self) -> &mut dyn Experiment {
                match self {
                    $(ModelConfig::$variant(m) => m,)+
                }
            }
        }
    };
}

model_kinds! {
    /// E = ½‖G(x) − y‖².
    "regression" => Regression(ebm_arch::RegressionConfig),
    /// E = ½‖G_x(x) − G_y(y)‖², ŷ the set of minima.
    "implicit_regression" => ImplicitRegression(ebm_arch::ImplicitRegressionConfig),
    /// E = −y·G(x), y ∈ {−1, +1}.
    "binary" => Binary(BinaryConfig),
    /// E(x, k) = G(x)\[k\].
    "multi_class" => MultiClass(MultiClassConfig),
    /// E(x, y, z) = ½‖G(x, z) − y‖², z marginalised.
    "latent" => Latent(ebm_arch::LatentModelConfig),
    /// An encoder of two noisy views (joint embedding), trained by NT-Xent, VICReg or
    /// Barlow Twins; the energy is a distance between embeddings.
    "siamese" => Siamese(ebm_arch::SiameseConfig),
    /// An energy E(y) over the data points, trained by contrastive divergence with Langevin
    /// negatives from a replay buffer.
    "density" => Density(ebm_arch::DensityConfig),
}
