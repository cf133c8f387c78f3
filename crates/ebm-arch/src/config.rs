//! The configs of the five architectures: serde tables with defaults and unknown fields
//! rejected, each checked once by `check()` (errors name the key, relative to the table:
//! `g.hidden`, `y_range.epsilon`, `search.steps`) and turned into its model by `build()`.
//!
//! ```
//! use ebm_arch::{Architecture, RegressionConfig};
//! let config: RegressionConfig = toml::from_str("y_range = { lo = -1.0, hi = 1.0 }").unwrap();
//! let model = config.build(2, 1, tch::Device::Cpu).unwrap();
//! assert_eq!(model.x_dim(), 2);
//!
//! let bad: RegressionConfig = toml::from_str("y_range = { epsilon = -1.0 }").unwrap();
//! assert!(bad.check().unwrap_err().to_string().contains("y_range.epsilon"));
//! ```

use crate::architecture::YRange;
use crate::latent::{Coupling, LatentModel};
use crate::mlp::MlpConfig;
use crate::models::{Binary, ImplicitRegression, MultiClass, Regression};
use ebm_core::check::{check_count, check_positive};
use ebm_core::{EbmError, Result, Search, SearchConfig};
use ebm_latent::LatentConfig;
use serde::{Deserialize, Serialize};
use tch::Device;

impl YRange {
    /// Checks the box, the grid, ε and the offending search's steps; errors name the key.
    pub fn check(&self) -> Result<()> {
        if !(self.lo.is_finite() && self.hi.is_finite() && self.lo < self.hi) {
            return Err(EbmError::hyperparameter(
                "hi",
                "must be finite with lo < hi (lo finite too)",
                format!("[{}, {}]", self.lo, self.hi),
            ));
        }
        if self.grid_points < 2 {
            return Err(EbmError::hyperparameter(
                "grid_points",
                "must be >= 2",
                self.grid_points,
            ));
        }
        check_positive("epsilon", self.epsilon)?;
        check_count("offending_steps", self.offending_steps)?;
        if let Some(c) = &self.counter_examples {
            c.check()?;
        }
        // A 1-D grid at least: its points and a batch's energies over them.
        let points = self.grid_points as u128;
        ebm_core::check::check_memory(
            "grid_points",
            points.saturating_mul(4 * (1 + 256)),
            &format!("a grid of {points} points (with a batch's energies over it)"),
        )?;
        Ok(())
    }
}

/// Checks a continuous answer's box and search; gives the checked search.
fn check_continuous(y_range: &YRange, search: &SearchConfig) -> Result<Search> {
    y_range.check().map_err(|e| e.within("y_range"))?;
    search.check().map_err(|e| e.within("search"))
}

fn check_embed(embed: i64) -> Result<()> {
    if embed < 1 {
        return Err(EbmError::hyperparameter("embed", "must be >= 1", embed));
    }
    Ok(())
}

/// `kind = "regression"`: E = ½‖G(x) − y‖².
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RegressionConfig {
    /// G: x → y.
    pub g: MlpConfig,
    /// The box of y (the energy's probe grid and the landscape plot).
    pub y_range: YRange,
    /// The search for inference by descent (unused by `predict`, which is closed form).
    pub search: SearchConfig,
}

impl RegressionConfig {
    /// Checks every value.
    pub fn check(&self) -> Result<()> {
        self.checked_search().map(drop)
    }

    fn checked_search(&self) -> Result<Search> {
        self.g.check().map_err(|e| e.within("g"))?;
        check_continuous(&self.y_range, &self.search)
    }

    /// The model for `x_dim` inputs and `y_dim` outputs.
    pub fn build(&self, x_dim: i64, y_dim: i64, device: Device) -> Result<Regression> {
        let search = self.checked_search()?;
        Regression::new(x_dim, y_dim, &self.g, &self.y_range, search, device)
    }
}

/// `kind = "implicit_regression"`: E = ½‖G_x(x) − G_y(y)‖², ŷ the set of minima.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ImplicitRegressionConfig {
    /// Width of the shared embedding G_x(x), G_y(y).
    pub embed: i64,
    /// G_x.
    pub gx: MlpConfig,
    /// G_y.
    pub gy: MlpConfig,
    /// The box of y, its quadrature grid, ε of the most offending answer.
    pub y_range: YRange,
    /// The inference: gradient descent with restarts (the default), DFO or Langevin.
    pub search: SearchConfig,
}

impl Default for ImplicitRegressionConfig {
    fn default() -> Self {
        ImplicitRegressionConfig {
            embed: 16,
            gx: MlpConfig::default(),
            gy: MlpConfig::default(),
            y_range: YRange::default(),
            search: SearchConfig::default(),
        }
    }
}

impl ImplicitRegressionConfig {
    /// Checks every value.
    pub fn check(&self) -> Result<()> {
        self.checked_search().map(drop)
    }

    fn checked_search(&self) -> Result<Search> {
        check_embed(self.embed)?;
        self.gx.check().map_err(|e| e.within("gx"))?;
        self.gy.check().map_err(|e| e.within("gy"))?;
        check_continuous(&self.y_range, &self.search)
    }

    /// The model for `x_dim` inputs and `y_dim` outputs.
    pub fn build(&self, x_dim: i64, y_dim: i64, device: Device) -> Result<ImplicitRegression> {
        let search = self.checked_search()?;
        ImplicitRegression::new(
            x_dim,
            y_dim,
            self.embed,
            &self.gx,
            &self.gy,
            &self.y_range,
            search,
            device,
        )
    }
}

/// `kind = "binary"` (E = −y·G(x)) and `kind = "multi_class"` (E(x, k) = G(x)\[k\]; the
/// classes come from the data).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClassifierConfig {
    /// G: x → one score (binary) or one energy per class.
    pub g: MlpConfig,
}

impl ClassifierConfig {
    /// Checks every value.
    pub fn check(&self) -> Result<()> {
        self.g.check().map_err(|e| e.within("g"))
    }

    /// A binary classifier for `x_dim` inputs.
    pub fn build_binary(&self, x_dim: i64, device: Device) -> Result<Binary> {
        self.check()?;
        Binary::new(x_dim, &self.g, device)
    }

    /// A classifier of `classes` classes for `x_dim` inputs.
    pub fn build_multi_class(
        &self,
        x_dim: i64,
        classes: i64,
        device: Device,
    ) -> Result<MultiClass> {
        self.check()?;
        MultiClass::new(x_dim, classes, &self.g, device)
    }
}

/// `kind = "latent"`: E(x, y, z) = ½‖G(x, z) − y‖², z marginalised.
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
    pub search: SearchConfig,
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
            search: SearchConfig::default(),
        }
    }
}

impl LatentModelConfig {
    /// Checks every value.
    pub fn check(&self) -> Result<()> {
        self.checked_search().map(drop)
    }

    fn checked_search(&self) -> Result<Search> {
        self.g.check().map_err(|e| e.within("g"))?;
        self.g_z.check().map_err(|e| e.within("g_z"))?;
        self.latent.check().map_err(|e| e.within("latent"))?;
        check_continuous(&self.y_range, &self.search)
    }

    /// The model for `x_dim` inputs and `y_dim` outputs.
    pub fn build(&self, x_dim: i64, y_dim: i64, device: Device) -> Result<LatentModel> {
        let search = self.checked_search()?;
        LatentModel::new(
            x_dim,
            y_dim,
            &self.g,
            self.coupling,
            &self.g_z,
            &self.latent,
            &self.y_range,
            search,
            device,
        )
    }
}
