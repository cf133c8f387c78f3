//! # ebm-core
//!
//! The base of `ebm`: energy functions E(x, y) (low = compatible), the spaces answers live in,
//! inference ŷ = argmin_y E(x, y) (exhaustive, or by the [`Minimizer`]s: gradient descent,
//! derivative-free optimisation, Langevin inference), sampling, and Gibbs helpers (free energy,
//! probabilities, quadrature). Everything works on `tch::Tensor`s batched along dim 0, on any
//! device and float kind.
//!
//! ```
//! use ebm_core::{exhaustive_argmin, free_energy, Energy, FiniteSpace, FnEnergy};
//! use tch::{Kind, Tensor};
//!
//! // E(x, y) = (x − y)² over the answer set {−1, 0, 2}.
//! let energy = FnEnergy::new(|x: &Tensor, y: &Tensor| (x - y).square().sum_dim_intlist(1, false, None));
//! let space = FiniteSpace::Set(Tensor::from_slice(&[-1.0f32, 0.0, 2.0]).view([3, 1]));
//! let x = Tensor::from_slice(&[-0.8f32, 1.4]).view([2, 1]);
//! let best = exhaustive_argmin(&energy, &x, &space).unwrap();
//! assert_eq!(Vec::<i64>::try_from(&best.index).unwrap(), vec![0, 2]);
//!
//! // The free energy over the candidates at β = 1 is below the minimum energy.
//! let f = free_energy(&best.energies, 1.0, 1).unwrap();
//! let below: bool = f.le_tensor(&best.energy).all().try_into().unwrap();
//! assert!(below);
//! ```
//!
//! One way to configure, in every `ebm` crate: a serde `XConfig` with defaults and unknown
//! fields rejected (`GradientDescentConfig`, `LangevinConfig`) whose `check()` returns the
//! validated type (`GradientDescent`, `Langevin`) with private fields, checked once; an
//! error names the key within its config ([`EbmError::within`] prefixes the enclosing
//! table). The [`check`] module holds every check of hyperparameters, labels, candidate
//! tables, ranks and batch sizes, so each rule is written once.
//!
//! What it does not do: it knows no networks, losses or training (see `ebm-arch`,
//! `ebm-loss`), and it never updates parameters: inference differentiates with respect to y
//! only and leaves every parameter gradient untouched.

pub mod ais;
pub mod calibration;
pub mod check;
pub mod energy;
pub mod error;
pub mod gibbs;
pub mod inference;
pub mod langevin;
pub mod mcmc;
pub mod minimize;
pub mod space;

pub use ais::{ais_log_z, AisBase, AisConfig, LogZ};
pub use energy::{Energy, FnEnergy};
pub use error::{EbmError, Result};
pub use gibbs::{free_energy, free_energy_weighted, gibbs_probabilities, Quadrature};
pub use inference::{
    argmin_table, energy_and_grad_y, exhaustive_argmin, grad_y, Exclusion, FiniteArgmin,
    GradientDescent, GradientDescentConfig, Minima, Minimum,
};
pub use langevin::{Langevin, LangevinConfig, LangevinStep};
pub use mcmc::{Chains, Diagnostics, Hmc, HmcConfig, Mala, MalaConfig, Sampler};
pub use minimize::{
    polynomial_schedule, Dfo, DfoConfig, LangevinSearch, LangevinSearchConfig, Minimizer, Search,
    SearchConfig,
};
pub use space::{ContinuousSpace, FiniteSpace};
