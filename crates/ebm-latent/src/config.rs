//! Serde configuration of the latent variable: β, the space of z and its penalty.
//!
//! ```
//! use ebm_latent::{LatentConfig, LatentSpaceConfig, ZPenaltyConfig};
//! let config: LatentConfig = serde_json::from_str(
//!     r#"{ "beta": 2.0, "z": { "kind": "one_hot", "count": 3 }, "penalty": { "l2": 0.1 } }"#,
//! ).unwrap();
//! assert_eq!(config.z, LatentSpaceConfig::OneHot { count: 3 });
//! assert_eq!(config.penalty, ZPenaltyConfig::L2(0.1));
//! config.check().unwrap();
//! ```

use crate::energy::{LatentEnergy, ZPenaltyConfig};
use crate::marginal::Marginalized;
use crate::space::LatentSpace;
use ebm_core::check::{check_beta, check_count};
use ebm_core::{ContinuousSpace, EbmError, GradientDescentConfig, Quadrature, Result};
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

/// The latent variable of a model: how z is limited and how it is marginalised.
///
/// In TOML: `beta = inf` (min over z) or a finite β > 0; `z = { kind = "finite", points =
/// [[-1.0], [1.0]] }`; `penalty = { l1 = 0.1 }`. Missing fields take the defaults: β = ∞,
/// z ∈ {−1, +1}, no penalty.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LatentConfig {
    /// Inverse temperature β > 0; infinity means min over z.
    pub beta: f64,
    /// The space z ranges over.
    pub z: LatentSpaceConfig,
    /// The penalty on z added to the energy.
    pub penalty: ZPenaltyConfig,
}

impl Default for LatentConfig {
    fn default() -> Self {
        LatentConfig {
            beta: f64::INFINITY,
            z: LatentSpaceConfig::default(),
            penalty: ZPenaltyConfig::None,
        }
    }
}

impl LatentConfig {
    /// Checks β, the penalty weight and the space (without building any tensor); errors
    /// name the key (`beta`, `penalty.l1`, `z.count`, …).
    pub fn check(&self) -> Result<()> {
        check_beta(self.beta)?;
        self.penalty.check().map_err(|e| e.within("penalty"))?;
        self.z.check()?;
        if self.beta.is_finite() && matches!(self.z, LatentSpaceConfig::Continuous { .. }) {
            return Err(EbmError::Hyperparameter {
                name: "beta".into(),
                reason: "must be infinite for a continuous z searched by gradient descent \
                         (use monte_carlo or grid for a finite β)",
                value: self.beta.to_string(),
            });
        }
        Ok(())
    }

    /// The marginalised energy F_β of `energy` that this config describes, with z's points
    /// made in `kind` on `device`.
    pub fn marginalize<E: LatentEnergy>(
        &self,
        energy: E,
        kind: Kind,
        device: Device,
    ) -> Result<Marginalized<E>> {
        self.check()?;
        let penalty = self.penalty.check().map_err(|e| e.within("penalty"))?;
        Marginalized::new(energy, self.z.build(kind, device)?, self.beta, penalty)
    }
}

/// The space z ranges over, as written in a config (`kind` names the variant).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum LatentSpaceConfig {
    /// An explicit finite set, one row per element (all rows of the same width).
    Finite {
        /// The elements of Z.
        points: Vec<Vec<f64>>,
    },
    /// The `count` one-hot vectors of width `count`.
    OneHot {
        /// The number of elements K ≥ 1.
        count: usize,
    },
    /// A midpoint grid of `points` cells per axis over [lo, hi]^dim, dim 1 or 2.
    Grid {
        /// The dimension of z: 1 or 2.
        dim: usize,
        /// Lower bound of every coordinate.
        lo: f64,
        /// Upper bound of every coordinate.
        hi: f64,
        /// Cells per axis ≥ 1.
        points: usize,
    },
    /// Monte Carlo: uniform in [lo, hi]^dim when `bounds = [lo, hi]` is given, else Gaussian
    /// importance sampling on R^dim with proposal N(0, scale² I) (see [`LatentSpace`]).
    MonteCarlo {
        /// The dimension of z ≥ 1.
        dim: usize,
        /// Draws per evaluation ≥ 1.
        samples: usize,
        /// Proposal standard deviation on R^dim (> 0; ignored in a box).
        #[serde(default = "one")]
        scale: f64,
        /// `[lo, hi]` for a box; absent for R^dim.
        #[serde(default)]
        bounds: Option<[f64; 2]>,
    },
    /// A continuous z for β = ∞, searched by gradient descent.
    Continuous {
        /// The dimension of z ≥ 1.
        dim: usize,
        /// `[lo, hi]` for a box; absent for R^dim.
        #[serde(default)]
        bounds: Option<[f64; 2]>,
        /// The gradient-descent settings (ebm-core's, with its defaults for missing fields).
        #[serde(default)]
        search: GradientDescentConfig,
    },
}

fn one() -> f64 {
    1.0
}

impl Default for LatentSpaceConfig {
    fn default() -> Self {
        LatentSpaceConfig::Finite {
            points: vec![vec![-1.0], vec![1.0]],
        }
    }
}

impl LatentSpaceConfig {
    /// Checks the description: non-empty rectangular points, counts ≥ 1, valid bounds and
    /// search settings. Errors name the key as in a `[latent]` table (`z.count`,
    /// `z.search.steps`).
    pub fn check(&self) -> Result<()> {
        match self {
            LatentSpaceConfig::Finite { points } => {
                let width = points.first().map_or(0, Vec::len);
                if points.is_empty() {
                    return Err(EbmError::EmptyCandidates(
                        "the latent set Z in the config has no point".into(),
                    ));
                }
                if width == 0 || points.iter().any(|p| p.len() != width) {
                    return Err(EbmError::Hyperparameter {
                        name: "z.points".into(),
                        reason: "must all have the same width >= 1",
                        value: format!(
                            "widths {:?}",
                            points.iter().map(Vec::len).collect::<Vec<_>>()
                        ),
                    });
                }
                Ok(())
            }
            LatentSpaceConfig::OneHot { count } => check_count("z.count", *count).map(|_| ()),
            LatentSpaceConfig::Grid {
                dim,
                lo,
                hi,
                points,
            } => {
                if !(1..=2).contains(dim) {
                    return Err(EbmError::Hyperparameter {
                        name: "z.dim".into(),
                        reason: "must be 1 or 2 for a grid",
                        value: dim.to_string(),
                    });
                }
                check_count("z.points", *points)?;
                continuous(*dim, Some([*lo, *hi])).map(|_| ())
            }
            LatentSpaceConfig::MonteCarlo {
                dim,
                samples,
                scale,
                bounds,
            } => {
                check_count("z.samples", *samples)?;
                LatentSpace::MonteCarlo {
                    space: continuous(*dim, *bounds)?,
                    samples: *samples,
                    scale: *scale,
                }
                .check()
            }
            LatentSpaceConfig::Continuous {
                dim,
                bounds,
                search,
            } => {
                continuous(*dim, *bounds)?;
                search.check().map(drop).map_err(|e| e.within("z.search"))
            }
        }
    }

    /// The latent space this describes, with its points in `kind` on `device`: checked
    /// first ([`LatentSpaceConfig::check`]), then built (it needs the kind and the device,
    /// hence `build` rather than `check` alone).
    pub fn build(&self, kind: Kind, device: Device) -> Result<LatentSpace> {
        self.check()?;
        match self {
            LatentSpaceConfig::Finite { points } => {
                let width = points.first().map_or(0, Vec::len) as i64;
                let flat: Vec<f64> = points.iter().flatten().copied().collect();
                let t = Tensor::f_from_slice(&flat)?
                    .f_view([points.len() as i64, width])?
                    .f_to_kind(kind)?
                    .f_to_device(device)?;
                LatentSpace::finite(t)
            }
            LatentSpaceConfig::OneHot { count } => LatentSpace::one_hot(*count, kind, device),
            LatentSpaceConfig::Grid {
                dim,
                lo,
                hi,
                points,
            } => {
                let q = if *dim == 1 {
                    Quadrature::grid_1d(*lo, *hi, *points, kind, device)?
                } else {
                    Quadrature::grid_2d([*lo; 2], [*hi; 2], [*points; 2], kind, device)?
                };
                Ok(LatentSpace::Quadrature(q))
            }
            LatentSpaceConfig::MonteCarlo {
                dim,
                samples,
                scale,
                bounds,
            } => LatentSpace::monte_carlo(continuous(*dim, *bounds)?, *samples, *scale),
            LatentSpaceConfig::Continuous {
                dim,
                bounds,
                search,
            } => LatentSpace::continuous(
                continuous(*dim, *bounds)?,
                search.check().map_err(|e| e.within("z.search"))?,
            ),
        }
    }
}

fn continuous(dim: usize, bounds: Option<[f64; 2]>) -> Result<ContinuousSpace> {
    let dim = i64::try_from(dim).unwrap_or(0);
    match bounds {
        Some([lo, hi]) => ContinuousSpace::boxed(dim, lo, hi),
        None => ContinuousSpace::real(dim),
    }
}
