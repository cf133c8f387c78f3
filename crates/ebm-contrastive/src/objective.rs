//! [`ObjectiveConfig`]: the `[loss]` table of the embedding and density methods, one
//! serde-tagged enum with the list of its kinds (the counterpart of `ebm_loss::LossConfig`).

use crate::density::{
    DenoisingScoreMatchingConfig, NceConfig, ScoreMatchingConfig, SlicedScoreMatchingConfig,
};
use crate::{BarlowTwinsConfig, ContrastiveDivergenceConfig, NtXentConfig, VicRegConfig};
use ebm_core::Result;
use serde::{Deserialize, Serialize};

/// The objective of an embedding method (two views per item) or of an energy density.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ObjectiveConfig {
    /// SimCLR's NT-Xent over the 2N views of a batch (contrastive: in-batch negatives).
    NtXent(NtXentConfig),
    /// VICReg (non-contrastive: variance, invariance, covariance).
    Vicreg(VicRegConfig),
    /// Barlow Twins (non-contrastive: cross-correlation to the identity).
    BarlowTwins(BarlowTwinsConfig),
    /// Contrastive divergence with model samples as negatives (densities).
    ContrastiveDivergence(ContrastiveDivergenceConfig),
    /// Exact score matching (densities, small d).
    ScoreMatching(ScoreMatchingConfig),
    /// Denoising score matching (densities).
    DenoisingScoreMatching(DenoisingScoreMatchingConfig),
    /// Sliced score matching (densities).
    SlicedScoreMatching(SlicedScoreMatchingConfig),
    /// Noise-contrastive estimation with a learnt log-normaliser (densities).
    Nce(NceConfig),
}

impl ObjectiveConfig {
    /// Every `kind`, as written in configs, in the order of the variants.
    pub const KINDS: [&'static str; 8] = [
        "nt_xent",
        "vicreg",
        "barlow_twins",
        "contrastive_divergence",
        "score_matching",
        "denoising_score_matching",
        "sliced_score_matching",
        "nce",
    ];

    /// The `kind` as written in configs.
    pub fn kind_name(&self) -> &'static str {
        match self {
            ObjectiveConfig::NtXent(_) => "nt_xent",
            ObjectiveConfig::Vicreg(_) => "vicreg",
            ObjectiveConfig::BarlowTwins(_) => "barlow_twins",
            ObjectiveConfig::ContrastiveDivergence(_) => "contrastive_divergence",
            ObjectiveConfig::ScoreMatching(_) => "score_matching",
            ObjectiveConfig::DenoisingScoreMatching(_) => "denoising_score_matching",
            ObjectiveConfig::SlicedScoreMatching(_) => "sliced_score_matching",
            ObjectiveConfig::Nce(_) => "nce",
        }
    }

    /// Whether the objective trains an encoder of paired views (as opposed to a density).
    pub fn is_embedding(&self) -> bool {
        match self {
            ObjectiveConfig::NtXent(_)
            | ObjectiveConfig::Vicreg(_)
            | ObjectiveConfig::BarlowTwins(_) => true,
            ObjectiveConfig::ContrastiveDivergence(_)
            | ObjectiveConfig::ScoreMatching(_)
            | ObjectiveConfig::DenoisingScoreMatching(_)
            | ObjectiveConfig::SlicedScoreMatching(_)
            | ObjectiveConfig::Nce(_) => false,
        }
    }

    /// Checks the hyperparameters.
    pub fn check(&self) -> Result<()> {
        match self {
            ObjectiveConfig::NtXent(c) => c.check().map(drop),
            ObjectiveConfig::Vicreg(c) => c.check().map(drop),
            ObjectiveConfig::BarlowTwins(c) => c.check().map(drop),
            ObjectiveConfig::ContrastiveDivergence(c) => c.check().map(drop),
            ObjectiveConfig::ScoreMatching(c) => c.check(),
            ObjectiveConfig::DenoisingScoreMatching(c) => c.check(),
            ObjectiveConfig::SlicedScoreMatching(c) => c.check(),
            ObjectiveConfig::Nce(c) => c.check(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_names_agree() {
        let all = [
            ObjectiveConfig::NtXent(NtXentConfig::default()),
            ObjectiveConfig::Vicreg(VicRegConfig::default()),
            ObjectiveConfig::BarlowTwins(BarlowTwinsConfig::default()),
            ObjectiveConfig::ContrastiveDivergence(ContrastiveDivergenceConfig::default()),
            ObjectiveConfig::ScoreMatching(ScoreMatchingConfig::default()),
            ObjectiveConfig::DenoisingScoreMatching(DenoisingScoreMatchingConfig::default()),
            ObjectiveConfig::SlicedScoreMatching(SlicedScoreMatchingConfig::default()),
            ObjectiveConfig::Nce(NceConfig::default()),
        ];
        let names: Vec<_> = all.iter().map(ObjectiveConfig::kind_name).collect();
        assert_eq!(names, ObjectiveConfig::KINDS);
        assert_eq!(all.iter().filter(|o| o.is_embedding()).count(), 3);
        for o in &all {
            o.check().expect("defaults are valid");
        }
    }

    #[test]
    fn a_bad_hyperparameter_is_a_typed_error() {
        let bad = ObjectiveConfig::NtXent(NtXentConfig {
            temperature: -1.0,
            ..NtXentConfig::default()
        });
        let err = bad.check().expect_err("τ < 0");
        assert!(err.to_string().contains("temperature"), "{err}");
    }
}
