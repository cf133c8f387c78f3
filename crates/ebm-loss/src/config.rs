//! The loss as a config value: `loss = { kind = "hinge", margin = 1.0 }`.

use crate::losses::{
    EnergyLoss, Hinge, Log, Loss, Lvq2, Mce, MinimumEmpiricalError, NegativeLogLikelihood,
    Perceptron, SquareExponential, SquareSquare,
};
use ebm_core::Result;
use serde::{Deserialize, Serialize};

/// A loss and its hyperparameters, as written in a TOML config.
///
/// Tagged by `kind`; omitted hyperparameters take their defaults (margin m = 1, δ = 0.5,
/// γ = 1, β = 1). An unknown `kind` or an unknown field is a parse error that lists the valid
/// ones. Values are checked by [`LossConfig::build`], not by parsing.
///
/// `LossConfig` is the config route to a loss, the `XConfig` of this crate: `build()` is its
/// `check()` and returns the checked loss. It calls the typed constructors
/// ([`Hinge::new`], [`Lvq2::new`], …), which check their own hyperparameter, so a loss
/// built in code (`Hinge::new(0.5)?`) and one read from a config get the same error.
///
/// | `kind` | fields (default) | loss |
/// |---|---|---|
/// | `energy` | | [`EnergyLoss`] |
/// | `perceptron` | | [`Perceptron`] |
/// | `hinge` | `margin` (1) | [`Hinge`] |
/// | `log` | | [`Log`] |
/// | `lvq2` | `delta` (0.5) | [`Lvq2`] |
/// | `mce` | | [`Mce`] |
/// | `square_square` | `margin` (1) | [`SquareSquare`] |
/// | `square_exponential` | `gamma` (1) | [`SquareExponential`] |
/// | `nll` | `beta` (1) | [`NegativeLogLikelihood`] |
/// | `mee` | `beta` (1) | [`MinimumEmpiricalError`] |
///
/// The losses without hyperparameters are empty struct variants (`LossConfig::Log {}`) so
/// that a stray field on them is rejected too.
///
/// ```
/// use ebm_loss::LossConfig;
/// use serde::Deserialize;
/// #[derive(Deserialize)]
/// struct Run { loss: LossConfig }
/// let run: Run = toml::from_str(r#"loss = { kind = "hinge", margin = 0.5 }"#).unwrap();
/// assert_eq!(run.loss, LossConfig::Hinge { margin: 0.5 });
/// assert_eq!(run.loss.build().unwrap().name(), "hinge");
/// ```
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum LossConfig {
    /// L = E_C.
    Energy {},
    /// L = E_C − min_y E.
    Perceptron {},
    /// L = max(0, m + E_C − E_I).
    Hinge {
        /// Margin m > 0.
        #[serde(default = "one")]
        margin: f64,
    },
    /// L = log(1 + e^(E_C − E_I)).
    Log {},
    /// L = min(1, max(0, (E_C − E_I) / (δ E_I))).
    Lvq2 {
        /// δ > 0.
        #[serde(default = "half")]
        delta: f64,
    },
    /// L = σ(E_C − E_I).
    Mce {},
    /// L = E_C² + max(0, m − E_I)².
    SquareSquare {
        /// Margin m > 0.
        #[serde(default = "one")]
        margin: f64,
    },
    /// L = E_C² + γ e^(−E_I).
    SquareExponential {
        /// γ > 0.
        #[serde(default = "one")]
        gamma: f64,
    },
    /// L = E_C − F_β over all of Y.
    Nll {
        /// Inverse temperature β > 0.
        #[serde(default = "one")]
        beta: f64,
    },
    /// L = 1 − P_β(y_i | x_i).
    Mee {
        /// Inverse temperature β > 0.
        #[serde(default = "one")]
        beta: f64,
    },
}

fn one() -> f64 {
    1.0
}

fn half() -> f64 {
    0.5
}

impl Default for LossConfig {
    /// The hinge loss with margin 1.
    fn default() -> Self {
        LossConfig::Hinge { margin: one() }
    }
}

impl LossConfig {
    /// Every `kind`, as written in configs, in the order of the variants.
    pub const KINDS: [&'static str; 10] = [
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

    /// The `kind` as written in configs.
    pub fn kind_name(&self) -> &'static str {
        match self {
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
        }
    }

    /// Checks the hyperparameters and makes the loss, through its typed constructor
    /// (`Hinge::new(margin)`, …); the error names the key (`margin`, `delta`, `gamma`,
    /// `beta`).
    pub fn build(&self) -> Result<Box<dyn Loss>> {
        Ok(match *self {
            LossConfig::Energy {} => Box::new(EnergyLoss),
            LossConfig::Perceptron {} => Box::new(Perceptron),
            LossConfig::Hinge { margin } => Box::new(Hinge::new(margin)?),
            LossConfig::Log {} => Box::new(Log),
            LossConfig::Lvq2 { delta } => Box::new(Lvq2::new(delta)?),
            LossConfig::Mce {} => Box::new(Mce),
            LossConfig::SquareSquare { margin } => Box::new(SquareSquare::new(margin)?),
            LossConfig::SquareExponential { gamma } => Box::new(SquareExponential::new(gamma)?),
            LossConfig::Nll { beta } => Box::new(NegativeLogLikelihood::new(beta)?),
            LossConfig::Mee { beta } => Box::new(MinimumEmpiricalError::new(beta)?),
        })
    }

    /// Every loss with its default hyperparameters, in the order of the table above.
    pub fn all_defaults() -> Vec<LossConfig> {
        vec![
            LossConfig::Energy {},
            LossConfig::Perceptron {},
            LossConfig::Hinge { margin: one() },
            LossConfig::Log {},
            LossConfig::Lvq2 { delta: half() },
            LossConfig::Mce {},
            LossConfig::SquareSquare { margin: one() },
            LossConfig::SquareExponential { gamma: one() },
            LossConfig::Nll { beta: one() },
            LossConfig::Mee { beta: one() },
        ]
    }
}
