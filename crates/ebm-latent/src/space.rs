//! The sets z ranges over, and the points and weights that integrate over them.

use crate::energy::check_z_rows;
use ebm_core::check::{check_count, check_positive};
use ebm_core::{ContinuousSpace, EbmError, GradientDescent, Quadrature, Result};
use std::f64::consts::PI;
use tch::{Device, Kind, Tensor};

/// The latent space Z, and with it how ∫_z e^(−β E(x, y, z)) is computed.
///
/// Its cardinality (finite) or dimension (continuous) is the first limit on the information
/// z carries; [`crate::ZPenalty`] is the second.
///
/// Every variant but `Continuous` hands out points z_k with log weights log w_k, and the
/// integral is Σ_k w_k e^(−β E(z_k)):
///
/// | variant | points | log w_k | the integral it is |
/// |---|---|---|---|
/// | `Finite` | the rows of the tensor | 0 | the sum over Z (counting measure) |
/// | `Quadrature` | the grid's midpoints | log cell volume | ∫_box e^(−βE) dz (midpoint rule) |
/// | `MonteCarlo` on a box | S uniform draws | log(volume / S) | ∫_box e^(−βE) dz, unbiased |
/// | `MonteCarlo` on R^d | S draws from q = N(0, scale² I) | −log q(z_k) − log S | ∫_{R^d} e^(−βE) dz, importance sampling |
///
/// So `Quadrature` and `MonteCarlo` over the same box estimate the same number, and
/// `MonteCarlo` on R^d estimates the Lebesgue integral over all of R^d, not an expectation
/// under a Gaussian prior (put a prior −log p(z)/β into the energy, or use a penalty, for that).
/// The Monte-Carlo estimate of ∫ is unbiased, but its log is biased low (Jensen), so F_β
/// comes out high by about (1/β)·Var/(2 S mean²) of the weighted terms w e^(−βE); it is
/// consistent as S grows. Monte-Carlo points are drawn afresh, from
/// libtorch's generator (`tch::manual_seed`), on every call.
///
/// `Continuous` has no points: it serves β = ∞ only, min_z E by gradient descent.
#[derive(Debug)]
pub enum LatentSpace {
    /// An explicit finite set Z, `[Kz, dz]` (one row per element).
    Finite(Tensor),
    /// Monte-Carlo integration over a continuous z: uniform draws in a box, or Gaussian
    /// importance sampling on R^d (see the table above).
    MonteCarlo {
        /// Where z lives: a box, or R^d.
        space: ContinuousSpace,
        /// Draws per evaluation S, ≥ 1 (shared by every row of a batch).
        samples: usize,
        /// Standard deviation of the Gaussian proposal on R^d, > 0 (ignored on a box).
        scale: f64,
    },
    /// A midpoint-rule grid over a box (see [`Quadrature::grid_1d`], [`Quadrature::grid_2d`]).
    Quadrature(Quadrature),
    /// A continuous z searched by gradient descent: only for β = ∞ (min over z).
    Continuous {
        /// Where z lives: a box, or R^d.
        space: ContinuousSpace,
        /// The search over z (restarts, steps, step size), checked by
        /// `GradientDescentConfig::check`; its starts are random.
        gd: GradientDescent,
    },
}

/// Points of a latent space and their log weights, ready to integrate over.
#[derive(Debug)]
pub struct LatentPoints {
    /// The points z_k, `[K, dz]`.
    pub z: Tensor,
    /// log w_k, `[K]` or a scalar; `None` means every weight is 1 (a plain sum).
    pub log_weights: Option<Tensor>,
}

impl LatentSpace {
    /// A finite set from a tensor `[Kz, dz]`, checked.
    pub fn finite(points: Tensor) -> Result<Self> {
        let space = LatentSpace::Finite(points);
        space.check()?;
        Ok(space)
    }

    /// The two signs {−1, +1} as a 1-D finite set.
    pub fn signs(kind: Kind, device: Device) -> Result<Self> {
        let points = Tensor::f_from_slice(&[-1.0f64, 1.0])?
            .f_view([2, 1])?
            .f_to_kind(kind)?
            .f_to_device(device)?;
        Ok(LatentSpace::Finite(points))
    }

    /// The K one-hot vectors of width K: z picks one of K modes and carries log₂ K bits.
    pub fn one_hot(count: usize, kind: Kind, device: Device) -> Result<Self> {
        let k =
            i64::try_from(check_count("count", count)?).map_err(|_| EbmError::Hyperparameter {
                name: "count".into(),
                reason: "is too large",
                value: count.to_string(),
            })?;
        Ok(LatentSpace::Finite(Tensor::f_eye(k, (kind, device))?))
    }

    /// Monte-Carlo integration over `space` with `samples` draws, checked.
    pub fn monte_carlo(space: ContinuousSpace, samples: usize, scale: f64) -> Result<Self> {
        let z = LatentSpace::MonteCarlo {
            space,
            samples,
            scale,
        };
        z.check()?;
        Ok(z)
    }

    /// A continuous z for β = ∞, searched by `gd`, checked.
    pub fn continuous(space: ContinuousSpace, gd: GradientDescent) -> Result<Self> {
        let z = LatentSpace::Continuous { space, gd };
        z.check()?;
        Ok(z)
    }

    /// Checks the space: a non-empty `[K, dz]` set or grid, a valid continuous space, a
    /// sample count ≥ 1 and a scale > 0 (the search settings of `Continuous` were checked
    /// when its `GradientDescent` was made).
    pub fn check(&self) -> Result<()> {
        match self {
            LatentSpace::Finite(points) => check_points(points, "latent set Z"),
            LatentSpace::Quadrature(q) => {
                check_points(&q.points, "latent quadrature grid")?;
                if q.log_volume.is_finite() {
                    Ok(())
                } else {
                    Err(EbmError::Hyperparameter {
                        name: "log_volume".into(),
                        reason: "must be finite",
                        value: q.log_volume.to_string(),
                    })
                }
            }
            LatentSpace::MonteCarlo {
                space,
                samples,
                scale,
            } => {
                check_space(space)?;
                check_count("samples", *samples)?;
                i64::try_from(*samples).map_err(|_| EbmError::Hyperparameter {
                    name: "samples".into(),
                    reason: "is too large",
                    value: samples.to_string(),
                })?;
                if space.bounds().is_none() {
                    check_positive("scale", *scale)?;
                }
                Ok(())
            }
            LatentSpace::Continuous { space, .. } => check_space(space),
        }
    }

    /// The width dz of z.
    pub fn dim(&self) -> Result<i64> {
        self.check()?;
        Ok(match self {
            LatentSpace::Finite(points) => points.size()[1],
            LatentSpace::Quadrature(q) => q.points.size()[1],
            LatentSpace::MonteCarlo { space, .. } | LatentSpace::Continuous { space, .. } => {
                space.dim()
            }
        })
    }

    /// The number of points integrated over (elements, grid cells or draws); `None` for
    /// `Continuous`.
    pub fn cardinality(&self) -> Option<i64> {
        match self {
            LatentSpace::Finite(points) => points.size().first().copied(),
            LatentSpace::Quadrature(q) => q.points.size().first().copied(),
            LatentSpace::MonteCarlo { samples, .. } => i64::try_from(*samples).ok(),
            LatentSpace::Continuous { .. } => None,
        }
    }

    /// The points and log weights to integrate over, in `kind` on `device` (Monte Carlo draws
    /// fresh ones). A finite set keeps its autograd graph, so a learnable set of codes gets
    /// gradients. `Continuous` has no points: an error.
    pub fn points(&self, kind: Kind, device: Device) -> Result<LatentPoints> {
        self.check()?;
        match self {
            LatentSpace::Finite(points) => Ok(LatentPoints {
                z: points.f_to_device(device)?.f_to_kind(kind)?,
                log_weights: None,
            }),
            LatentSpace::Quadrature(q) => Ok(LatentPoints {
                z: q.points.f_to_device(device)?.f_to_kind(kind)?,
                log_weights: Some(q.log_weights()?.f_to_device(device)?.f_to_kind(kind)?),
            }),
            LatentSpace::MonteCarlo {
                space,
                samples,
                scale,
            } => {
                let _guard = tch::no_grad_guard();
                let s = *samples as i64;
                let d = space.dim();
                let z = space.sample(s, *scale, kind, device)?;
                let log_s = (*samples as f64).ln();
                let log_weights = match space.bounds() {
                    Some((lo, hi)) => Tensor::f_from_slice(&[d as f64 * (hi - lo).ln() - log_s])?
                        .f_squeeze()?
                        .f_to_kind(kind)?
                        .f_to_device(device)?,
                    None => {
                        // −log q(z) = (d/2) log(2π scale²) + ‖z‖² / (2 scale²).
                        let log_norm = 0.5 * d as f64 * (2.0 * PI * scale * scale).ln();
                        z.f_square()?
                            .f_sum_dim_intlist(1, false, kind)?
                            .f_mul_scalar(0.5 / (scale * scale))?
                            .f_add_scalar(log_norm - log_s)?
                    }
                };
                Ok(LatentPoints {
                    z,
                    log_weights: Some(log_weights),
                })
            }
            LatentSpace::Continuous { .. } => Err(not_enumerable()),
        }
    }
}

/// The error for asking a `Continuous` latent space for points.
pub(crate) fn not_enumerable() -> EbmError {
    EbmError::Hyperparameter {
        name: "z".into(),
        reason: "is Continuous, which has no points to enumerate or integrate over \
                 (use MonteCarlo or Quadrature, or β = ∞ through Marginalized)",
        value: "Continuous".into(),
    }
}

fn check_points(points: &Tensor, what: &str) -> Result<()> {
    let dims = points.size();
    if dims.first() == Some(&0) {
        return Err(EbmError::EmptyCandidates(format!(
            "the {what} has no element (shape {dims:?})"
        )));
    }
    check_z_rows(points, None).map_err(|_| EbmError::Shape {
        what: what.to_string(),
        expected: "[K, dz] with K >= 1 and dz >= 1".into(),
        got: dims,
    })
}

fn check_space(space: &ContinuousSpace) -> Result<()> {
    match *space {
        ContinuousSpace::Real { dim } => ContinuousSpace::real(dim).map(|_| ()),
        ContinuousSpace::Box { dim, lo, hi } => ContinuousSpace::boxed(dim, lo, hi).map(|_| ()),
    }
}
