//! Marginalising z out: F_β(x, y) = −(1/β) log ∫_z e^(−β E(x, y, z)), and min_z E at β = ∞.

use crate::energy::{check_z_rows, LatentEnergy, ZPenalty};
use crate::space::{LatentPoints, LatentSpace};
use ebm_core::check::{check_beta, ensure_same_batch, ensure_shape};
use ebm_core::inference::float_kind;
use ebm_core::{
    argmin_table, free_energy, free_energy_weighted, ContinuousSpace, EbmError, Energy,
    GradientDescent, Minima, Result,
};
use tch::{Kind, Tensor};

/// A latent energy with z marginalised out: an [`Energy`] of (x, y) alone,
///
/// F_β(x, y) = −(1/β) log ∫_z e^(−β E'(x, y, z)),  E'(x, y, z) = E(x, y, z) + P(z),
///
/// with P the [`ZPenalty`] and the integral taken as [`LatentSpace`] says (a sum over a finite
/// Z, quadrature or Monte Carlo over a continuous z). At `beta = f64::INFINITY` it is
/// min_z E'(x, y, z): by enumeration over the points of a finite set, grid or Monte-Carlo
/// draw, or by gradient descent for [`LatentSpace::Continuous`] (which allows β = ∞ only).
///
/// Every z of a batch is scored in one call of the latent energy on `B·Kz` rows, and the
/// integral goes through log-sum-exp. The result stays differentiable in the energy's
/// parameters and in y: at β = ∞ with a continuous z, the search for ẑ runs detached (no
/// parameter gradient is touched, no graph is kept) and E'(x, y, ẑ) is then recomputed with
/// gradients, which is the gradient of min_z E' (envelope theorem).
///
/// Because it implements [`Energy`], every inference routine, loss and trainer written for
/// E(x, y) works on F_β.
///
/// ```
/// use ebm_core::Energy;
/// use ebm_latent::{FnLatentEnergy, LatentSpace, Marginalized, ZPenalty};
/// use tch::{Device, Kind, Tensor};
/// // E(y, z) = ½ (y − z)² with z ∈ {−1, +1}.
/// let e = FnLatentEnergy::new(|_x: &Tensor, y: &Tensor, z: &Tensor| {
///     (y - z).square().sum_dim_intlist(1, false, None) * 0.5
/// });
/// let z = LatentSpace::signs(Kind::Double, Device::Cpu).unwrap();
/// let f = Marginalized::new(e, z, 1.0, ZPenalty::NONE).unwrap();
/// let x = Tensor::zeros([1, 1], (Kind::Double, Device::Cpu));
/// let y = Tensor::from_slice(&[0.0f64]).view([1, 1]);
/// let value = f64::try_from(f.energy(&x, &y).unwrap().get(0)).unwrap();
/// // Both z have energy ½: F₁(0) = ½ − log 2.
/// assert!((value - (0.5 - 2f64.ln())).abs() < 1e-12);
/// ```
pub struct Marginalized<E> {
    /// The latent energy E(x, y, z).
    pub energy: E,
    /// The space z ranges over, and how it is integrated.
    pub z: LatentSpace,
    /// Inverse temperature β > 0; `f64::INFINITY` takes the minimum over z.
    pub beta: f64,
    /// The penalty P(z) added to the energy.
    pub penalty: ZPenalty,
}

impl<E> std::fmt::Debug for Marginalized<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Marginalized")
            .field("z", &self.z)
            .field("beta", &self.beta)
            .field("penalty", &self.penalty)
            .finish_non_exhaustive()
    }
}

/// The best z per row, min_z E'(x_b, y_b, z).
#[derive(Debug)]
pub struct LatentArgmin {
    /// ẑ, `[B, dz]`. From a finite set it keeps the set's graph; from gradient descent it has
    /// none.
    pub z: Tensor,
    /// E'(x, y, ẑ), `[B]`, differentiable in the energy's parameters and in y.
    pub energy: Tensor,
}

impl<E: LatentEnergy> Marginalized<E> {
    /// Builds a marginalised energy and checks it (see [`Marginalized::check`]).
    pub fn new(energy: E, z: LatentSpace, beta: f64, penalty: ZPenalty) -> Result<Self> {
        let marginalized = Marginalized {
            energy,
            z,
            beta,
            penalty,
        };
        marginalized.check()?;
        Ok(marginalized)
    }

    /// Checks β (> 0, ∞ allowed; ∞ required by a `Continuous` z), the latent space, and that
    /// its width matches the energy's [`LatentEnergy::z_dim`] (the penalty was checked when
    /// it was made). The fields are public, so every evaluation checks again.
    pub fn check(&self) -> Result<()> {
        check_beta(self.beta)?;
        if self.beta.is_finite() && matches!(self.z, LatentSpace::Continuous { .. }) {
            return Err(EbmError::Hyperparameter {
                name: "beta".into(),
                reason: "must be infinite for a Continuous latent space \
                         (use MonteCarlo or Quadrature for a finite β)",
                value: self.beta.to_string(),
            });
        }
        check_width(&self.energy, &self.z)
    }

    /// E'(x_b, y_b, z_k) for every row and every point of the latent space: `[B, Kz]`.
    ///
    /// Monte Carlo draws fresh points on each call. A `Continuous` z has no points: an error.
    pub fn energies_over_z(&self, x: &Tensor, y: &Tensor) -> Result<Tensor> {
        Ok(self.table(x, y)?.1)
    }

    /// E'(x_b, y_b, z_k) against given points `z [K, dz]`: `[B, K]`, in one batched call.
    pub fn energies_at(&self, x: &Tensor, y: &Tensor, z: &Tensor) -> Result<Tensor> {
        energies_over_points(&self.energy, &self.penalty, x, y, z)
    }

    /// min_z E'(x, y, z) and its argmin, per row: enumeration for points, gradient descent
    /// for a `Continuous` z. β plays no part.
    pub fn argmin_z(&self, x: &Tensor, y: &Tensor) -> Result<LatentArgmin> {
        check_width(&self.energy, &self.z)?;
        match &self.z {
            LatentSpace::Continuous { space, gd } => {
                let found = search_z(&self.energy, &self.penalty, x, y, space, gd)?;
                let z = found.best_y;
                let e = self.energy.latent_energy(x, y, &z)?;
                let energy = self.penalty.add_to(&e, &z)?;
                Ok(LatentArgmin { z, energy })
            }
            _ => {
                let (points, energies) = self.table(x, y)?;
                let (index, energy) = argmin_table(&energies)?;
                let z = points.z.f_index_select(0, &index)?;
                Ok(LatentArgmin { z, energy })
            }
        }
    }

    /// The points used and the energies against them, `[B, K]`.
    fn table(&self, x: &Tensor, y: &Tensor) -> Result<(LatentPoints, Tensor)> {
        check_width(&self.energy, &self.z)?;
        ensure_same_batch(x, "x", y, "y")?;
        let points = self.z.points(latent_kind(x, y), y.device())?;
        let energies = energies_over_points(&self.energy, &self.penalty, x, y, &points.z)?;
        Ok((points, energies))
    }
}

impl<E: LatentEnergy> Energy for Marginalized<E> {
    /// F_β(x_b, y_b) for each row: `x [B, ...]`, `y [B, ...]` → `[B]`.
    fn energy(&self, x: &Tensor, y: &Tensor) -> Result<Tensor> {
        self.check()?;
        if let LatentSpace::Continuous { .. } = self.z {
            return Ok(self.argmin_z(x, y)?.energy);
        }
        let (points, energies) = self.table(x, y)?;
        match &points.log_weights {
            Some(log_weights) => free_energy_weighted(&energies, log_weights, self.beta, 1),
            None => free_energy(&energies, self.beta, 1),
        }
    }
}

/// Fails with a shape error when the energy declares a z width the space does not have.
pub(crate) fn check_width<E: LatentEnergy + ?Sized>(energy: &E, z: &LatentSpace) -> Result<()> {
    let dz = z.dim()?;
    match energy.z_dim() {
        Some(expected) if expected != dz => Err(EbmError::Shape {
            what: "latent space z".into(),
            expected: format!("width {expected} (the energy's z_dim)"),
            got: match z {
                LatentSpace::Finite(points) => points.size(),
                _ => vec![dz],
            },
        }),
        _ => Ok(()),
    }
}

/// The float kind for z made for these inputs: y's if y is float, else x's, else `Float`.
pub(crate) fn latent_kind(x: &Tensor, y: &Tensor) -> Kind {
    match y.kind() {
        k @ (Kind::Half | Kind::BFloat16 | Kind::Float | Kind::Double) => k,
        _ => float_kind(x),
    }
}

/// E'(x_b, y_b, z_k) for every row b and point k, `z [K, dz]` → `[B, K]`, in one call on
/// `B·K` rows (row b's K copies are consecutive).
pub(crate) fn energies_over_points<E: LatentEnergy + ?Sized>(
    energy: &E,
    penalty: &ZPenalty,
    x: &Tensor,
    y: &Tensor,
    z: &Tensor,
) -> Result<Tensor> {
    let b = ensure_same_batch(x, "x", y, "y")?;
    check_z_rows(z, energy.z_dim())?;
    let (k, dz) = (z.size()[0], z.size()[1]);
    if k == 0 {
        return Err(EbmError::EmptyCandidates(
            "the latent set Z has no element".into(),
        ));
    }
    let x_rep = x.f_repeat_interleave_self_int(k, 0, Some(b * k))?;
    let y_rep = y.f_repeat_interleave_self_int(k, 0, Some(b * k))?;
    let z_rep = z
        .f_unsqueeze(0)?
        .f_expand([b, k, dz], false)?
        .f_reshape([b * k, dz])?;
    let e = energy.latent_energy(&x_rep, &y_rep, &z_rep)?;
    ensure_shape(&e, "latent energy output", &[b * k])?;
    penalty.add_to(&e.f_view([b, k])?, z)
}

/// The latent energy as an [`Energy`] of z, for fixed rows of x and y picked by index: the
/// "x" it is given is a `[N]` Int64 tensor of row indices into `x` and `y`.
struct ZGivenXY<'a, E: ?Sized> {
    energy: &'a E,
    penalty: &'a ZPenalty,
    x: Tensor,
    y: Tensor,
}

impl<E: LatentEnergy + ?Sized> Energy for ZGivenXY<'_, E> {
    fn energy(&self, rows: &Tensor, z: &Tensor) -> Result<Tensor> {
        let x = self.x.f_index_select(0, rows)?;
        let y = self.y.f_index_select(0, rows)?;
        let e = self.energy.latent_energy(&x, &y, z)?;
        self.penalty.add_to(&e, z)
    }
}

/// Gradient descent on z for each row of (x, y), from random starts in `space`, on detached
/// copies of x and y: only z is differentiated, nothing else keeps a graph.
pub(crate) fn search_z<E: LatentEnergy + ?Sized>(
    energy: &E,
    penalty: &ZPenalty,
    x: &Tensor,
    y: &Tensor,
    space: &ContinuousSpace,
    gd: &GradientDescent,
) -> Result<Minima> {
    let b = ensure_same_batch(x, "x", y, "y")?;
    let device = y.device();
    let starts = random_starts(space, gd, b, latent_kind(x, y), device)?;
    let rows = Tensor::f_arange(b, (Kind::Int64, device))?;
    let conditioned = ZGivenXY {
        energy,
        penalty,
        x: x.detach(),
        y: y.detach(),
    };
    gd.minimize_from(&conditioned, &rows, space, &starts, None)
}

/// `gd.restarts()` random starts per row in `space`: `[n, R, d]`, without a graph.
pub(crate) fn random_starts(
    space: &ContinuousSpace,
    gd: &GradientDescent,
    n: i64,
    kind: Kind,
    device: tch::Device,
) -> Result<Tensor> {
    let r = i64::try_from(gd.restarts()).map_err(|_| EbmError::Hyperparameter {
        name: "restarts".into(),
        reason: "is too large",
        value: gd.restarts().to_string(),
    })?;
    let _guard = tch::no_grad_guard();
    Ok(space
        .sample(n * r, gd.init_scale(), kind, device)?
        .f_view([n, r, space.dim()])?)
}
