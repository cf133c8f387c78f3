//! # ebm-latent
//!
//! Latent-variable energies E(x, y, z), where z is never observed. Two ways to get rid of z:
//!
//! - **marginalise** it with the β soft-min F_β(x, y) = −(1/β) log ∫_z e^(−β E(x, y, z))
//!   ([`Marginalized`], an `ebm_core::Energy` of (x, y), so every inference routine, loss and
//!   trainer works on it). The integral is a sum over a finite Z, a quadrature grid or a
//!   Monte-Carlo estimate over a continuous z (see [`LatentSpace`] for exactly which
//!   integral each computes); at β = ∞ it is min_z E, by enumeration or by gradient descent.
//! - **infer it jointly** with y: ŷ, ẑ = argmin_{y, z} E ([`joint_argmin`]), or keep the whole
//!   set of predictions {ŷ(z) : z ∈ Z} ([`predictions_over_z`]).
//!
//! z must carry limited information, or it explains every y and the energy goes flat: its
//! cardinality or dimension comes from the [`LatentSpace`], and an L1 or L2 [`ZPenalty`] is
//! added to the energy. [`LatentConfig`] describes all of this in a config file; as in every
//! `ebm` crate, a config's `check()` names the bad key, and [`ZPenaltyConfig::check`] gives
//! the checked [`ZPenalty`] (private weight, checked once).
//!
//! ```
//! use ebm_core::Energy;
//! use ebm_latent::{FnLatentEnergy, LatentSpace, Marginalized, ZPenalty};
//! use tch::{Device, Kind, Tensor};
//!
//! // Two modes: E(y, z) = ½ (y − z)², z ∈ {−1, +1}.
//! let e = FnLatentEnergy::new(|_x: &Tensor, y: &Tensor, z: &Tensor| {
//!     (y - z).square().sum_dim_intlist(1, false, None) * 0.5
//! });
//! let z = LatentSpace::signs(Kind::Double, Device::Cpu).unwrap();
//! let mut f = Marginalized::new(e, z, 1.0, ZPenalty::NONE).unwrap();
//! let x = Tensor::zeros([2, 1], (Kind::Double, Device::Cpu));
//! let y = Tensor::from_slice(&[0.9f64, -0.9]).view([2, 1]);
//!
//! // β = ∞: min over z, ½ (0.9 − 1)² = 0.005 for both rows (the energy is symmetric in y).
//! f.beta = f64::INFINITY;
//! let hard: Vec<f64> = Vec::try_from(f.energy(&x, &y).unwrap()).unwrap();
//! assert!(hard.iter().all(|v| (v - 0.005).abs() < 1e-12));
//!
//! // β = 1: the soft-min lies below the minimum.
//! f.beta = 1.0;
//! let soft: Vec<f64> = Vec::try_from(f.energy(&x, &y).unwrap()).unwrap();
//! assert!(soft[0] < hard[0] && (soft[0] - soft[1]).abs() < 1e-12);
//! ```
//!
//! What it does not do: it defines no networks and trains nothing (that is `ebm-arch`), it
//! learns no encoder from (x, y) to z (no amortised inference), and it has no finite-β
//! integral over a continuous z other than quadrature and Monte Carlo (no Laplace
//! approximation); joint inference over a continuous y *and* a continuous z is not
//! supported.

pub mod config;
pub mod energy;
pub mod joint;
pub mod marginal;
pub mod space;

pub use config::{LatentConfig, LatentSpaceConfig};
pub use energy::{FnLatentEnergy, LatentEnergy, ZPenalty, ZPenaltyConfig};
pub use joint::{joint_argmin, predictions_over_z, JointArgmin, PredictionsOverZ, YSpace};
pub use marginal::{LatentArgmin, Marginalized};
pub use space::{LatentPoints, LatentSpace};
