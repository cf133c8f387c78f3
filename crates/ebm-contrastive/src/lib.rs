//! # ebm-contrastive
//!
//! Contrastive and non-contrastive learning for energy-based models: the energy is a
//! distance between embeddings, and the losses lower it for positive pairs and raise it
//! for negatives, or (non-contrastive) keep the embeddings from collapsing without
//! negatives.
//!
//! - Distances as energies: [`Distance`] (cosine 1 − cos, dot product, Lp), paired `[N]` or
//!   pairwise `[N, M]` from one matrix product; a `Distance` is an [`ebm_core::Energy`].
//! - Contrastive losses: [`NtXent`] (SimCLR's NT-Xent / InfoNCE over 2N views),
//!   [`InfoNce`] over explicit counter-examples from any energy, [`SupCon`],
//!   [`MarginContrastive`] (Hadsell, Chopra, LeCun 2006), [`TripletMargin`].
//! - Miners: [`hardest_negative`], [`semi_hard_negative`] return [`Triplets`] of indices.
//! - Non-contrastive losses: [`VicReg`], [`BarlowTwins`], [`NegativeCosine`] (SimSiam/BYOL).
//! - Model-sampled negatives: a [`ReplayBuffer`] of persistent Langevin chains and the
//!   [`ContrastiveDivergence`] loss, for any energy E(x, y).
//!
//! Hyperparameters are `serde` structs with `Default` (`NtXentConfig`, …,
//! [`ReplayBufferConfig`]); `check()` turns one into the checked value it configures (the
//! loss, or the [`ReplayBufferParams`] a buffer is made from) or returns a typed
//! [`ebm_core::EbmError`] that names the key. Inputs are checked by `ebm_core::check`'s
//! rules (ranks, batch sizes, Int64 class labels), the same as in every crate.
//!
//! ```
//! use ebm_contrastive::NtXentConfig;
//! use tch::Tensor;
//!
//! // Two views of two items, τ = 0.5: the loss is log(1 + 2e^−2).
//! let z = Tensor::from_slice(&[1.0f64, 0.0, 0.0, 1.0]).view([2, 2]);
//! let nt_xent = NtXentConfig { temperature: 0.5, ..Default::default() }.check()?;
//! let loss = f64::try_from(nt_xent.loss(&z, &z)?)?;
//! assert!((loss - (1.0 + 2.0 * (-2.0f64).exp()).ln()).abs() < 1e-12);
//!
//! // τ ≤ 0 is a typed error, not a panic.
//! assert!(NtXentConfig { temperature: 0.0, ..Default::default() }.check().is_err());
//! # Ok::<(), ebm_core::EbmError>(())
//! ```
//!
//! What it does not do: it holds no encoders, optimisers or training loops (bring a
//! `tch::nn` module; `ebm-arch` builds the siamese encoders and densities and trains them), makes no data augmentations, and has
//! no sampler of its own — model samples come from `ebm_core::Langevin`. It never builds an
//! `[N, N, N]` tensor: every all-pairs loss is O(N²) in memory.

mod check;
pub mod contrastive;
pub mod density;
pub mod distance;
pub mod miner;
pub mod non_contrastive;
pub mod objective;
pub mod sampling;

pub use contrastive::{
    InfoNce, InfoNceConfig, MarginContrastive, MarginContrastiveConfig, NtXent, NtXentConfig,
    SupCon, SupConConfig, TripletMargin, TripletMarginConfig,
};
pub use density::{
    denoising_score_matching, gaussian_log_density, nce_loss, score_matching,
    sliced_score_matching, DenoisingScoreMatchingConfig, NceConfig, NceNoise, Projection,
    ScoreMatchingConfig, SlicedScoreMatchingConfig,
};
pub use distance::{normalize, Distance};
pub use miner::{hardest_negative, semi_hard_negative, Triplets};
pub use non_contrastive::{
    BarlowTwins, BarlowTwinsConfig, BarlowTwinsTerms, NegativeCosine, NegativeCosineConfig, VicReg,
    VicRegConfig, VicRegTerms,
};
pub use objective::ObjectiveConfig;
pub use sampling::{
    CdTerms, ContrastiveDivergence, ContrastiveDivergenceConfig, InitNoise, ReplayBuffer,
    ReplayBufferConfig, ReplayBufferParams,
};
