//! # ebm-loss
//!
//! The LeCun loss family for energy-based models (energy, generalized perceptron, hinge,
//! log, LVQ2, MCE, square-square, square-exponential, negative log-likelihood, minimum
//! empirical error), the most offending incorrect answer they are computed from, and a
//! diagnostic for an energy surface that went flat. Everything works on `tch::Tensor`s
//! batched along dim 0, on any device and float kind, and is differentiable in the energies.
//!
//! ```
//! use ebm_loss::{energy_at, most_offending_finite, Hinge, Loss, LossInput, Reduction};
//! use tch::Tensor;
//!
//! // Energies of three classes for two inputs, whose correct classes are 0 and 2.
//! let e_all = Tensor::from_slice(&[0.5f32, 1.0, 3.0, 2.0, 0.0, 1.0]).view([2, 3]);
//! let labels = Tensor::from_slice(&[0i64, 2]);
//! let e_correct = energy_at(&e_all, &labels)?;
//! let offending = most_offending_finite(&e_all, &labels)?;
//! assert_eq!(Vec::<i64>::try_from(&offending.index)?, vec![1, 1]);
//!
//! // Row 0: E_C = 0.5, E_I = 1 → max(0, 1 + 0.5 − 1) = 0.5; row 1: E_C = 1, E_I = 0 → 2.
//! let hinge = Hinge::new(1.0)?;
//! let input = LossInput::pair(&e_correct, &offending.energy);
//! let per_sample = hinge.loss(&input, Reduction::None)?;
//! assert_eq!(Vec::<f32>::try_from(&per_sample)?, vec![0.5, 2.0]);
//! assert_eq!(f32::try_from(hinge.loss(&input, Reduction::Mean)?)?, 1.25);
//!
//! // A bad hyperparameter is an error, not a panic.
//! assert!(Hinge::new(-1.0).is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The pieces:
//! - [`Loss`], one type per loss with checked hyperparameters and a typed constructor
//!   (`Hinge::new(margin)?`), and [`LossConfig`] to name one in a TOML config
//!   (`loss = { kind = "hinge", margin = 1.0 }`): [`LossConfig::build`] is the config route,
//!   which calls those constructors;
//! - [`LossInput`]: E_C, E_I and the energies over all of Y (with log weights for
//!   quadrature or Monte Carlo over a continuous Y); [`Needs`] says which a loss reads;
//! - [`most_offending_finite`], [`most_offending_finite_masked`] and
//!   [`most_offending_continuous`]: ȳ and E_I, through `ebm-core`'s inference (labels and
//!   energy tables are checked by `ebm_core::check`, the same rule as everywhere);
//! - [`energy_spread`]: the collapse diagnostic.
//!
//! What it does not do: it holds no networks, optimisers or training loops (see `ebm-arch`),
//! has no search of its own (it calls `ebm-core`'s exhaustive and gradient-descent
//! inference), and has no contrastive or non-contrastive embedding losses (see
//! `ebm-contrastive`) or marginalisation over latent variables (see `ebm-latent`).

pub mod config;
pub mod input;
pub mod losses;
pub mod offending;
pub mod penalty;
pub mod spread;

pub use config::LossConfig;
pub use input::{LossInput, Needs, Reduction};
pub use losses::{
    EnergyLoss, Hinge, Log, Loss, Lvq2, Mce, MinimumEmpiricalError, NegativeLogLikelihood,
    Perceptron, SquareExponential, SquareSquare,
};
pub use offending::{
    energy_at, most_offending_continuous, most_offending_finite, most_offending_finite_masked,
    MostOffending,
};
pub use penalty::{energy_magnitude_penalty, gradient_penalty};
pub use spread::{energy_spread, Spread, SpreadSummary};
