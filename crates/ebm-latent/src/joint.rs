//! Joint inference over (y, z): ŷ, ẑ = argmin_{y, z} E(x, y, z), and the set of predictions
//! {ŷ(z) : z ∈ Z}.
//!
//! Inference leaves the energy's parameters alone: enumeration runs without gradient
//! tracking and gradient descent differentiates y or z only (through ebm-core).

use crate::energy::{LatentEnergy, ZPenalty};
use crate::marginal::{check_width, energies_over_points, random_starts, search_z};
use crate::space::LatentSpace;
use ebm_core::check::{batch_size, ensure_no_nan};
use ebm_core::inference::float_kind;
use ebm_core::{ContinuousSpace, EbmError, Energy, FiniteSpace, GradientDescent, Result};
use tch::{Kind, Tensor};

/// The space y is searched over in joint inference.
#[derive(Debug, Clone, Copy)]
pub enum YSpace<'a> {
    /// A finite answer set: enumerated.
    Finite(&'a FiniteSpace),
    /// A continuous answer space: gradient descent with restarts, once per z.
    Continuous {
        /// Where y lives.
        space: &'a ContinuousSpace,
        /// The search over y.
        gd: &'a GradientDescent,
    },
}

/// The joint minimum ŷ, ẑ = argmin_{y, z} E'(x, y, z) per row, with E' = E + P(z).
#[derive(Debug)]
pub struct JointArgmin {
    /// ŷ, `[B, ...]` (class indices `[B]` Int64 for [`FiniteSpace::Classes`]).
    pub y: Tensor,
    /// ẑ, `[B, dz]`.
    pub z: Tensor,
    /// E'(x, ŷ, ẑ), `[B]`.
    pub energy: Tensor,
}

/// The prediction set {ŷ(z) : z ∈ Z}, ŷ(z) = argmin_y E'(x, y, z), for every row and every
/// point of Z.
#[derive(Debug)]
pub struct PredictionsOverZ {
    /// ŷ(z_k) for row b at `[b, k]`: `[B, Kz, ...]`.
    pub y: Tensor,
    /// The points z_k, `[Kz, dz]` (for Monte Carlo, the draw that was used).
    pub z: Tensor,
    /// E'(x_b, ŷ(z_k), z_k), `[B, Kz]`.
    pub energy: Tensor,
}

/// The set of predictions {ŷ(z) : z ∈ Z}: for each point z_k of `z_space` (a finite set, a
/// grid, or a Monte-Carlo draw), the best y by enumeration or by gradient descent.
///
/// The penalty adds P(z_k) to each row's energies (it does not move ŷ(z_k)). A `Continuous`
/// z has no points to range over: an error (use a grid or Monte-Carlo draw instead).
///
/// ```
/// use ebm_core::{ContinuousSpace, GradientDescentConfig};
/// use ebm_latent::{predictions_over_z, FnLatentEnergy, LatentSpace, YSpace, ZPenalty};
/// use tch::{Device, Kind, Tensor};
/// tch::manual_seed(0);
/// // y = x + ½ z with a hidden sign z: E = ½ (y − x − ½ z)².
/// let e = FnLatentEnergy::new(|x: &Tensor, y: &Tensor, z: &Tensor| {
///     (y - x - z * 0.5).square().sum_dim_intlist(1, false, None) * 0.5
/// });
/// let z = LatentSpace::signs(Kind::Float, Device::Cpu).unwrap();
/// let gd = GradientDescentConfig { restarts: 2, ..Default::default() }.check().unwrap();
/// let y_space = YSpace::Continuous { space: &ContinuousSpace::real(1).unwrap(), gd: &gd };
/// let x = Tensor::from_slice(&[1.0f32]).view([1, 1]);
/// let p = predictions_over_z(&e, &x, y_space, &z, &ZPenalty::NONE).unwrap();
/// let ys: Vec<f32> = Vec::try_from(p.y.view([-1])).unwrap();
/// assert!((ys[0] - 0.5).abs() < 1e-3 && (ys[1] - 1.5).abs() < 1e-3);
/// ```
pub fn predictions_over_z<E: LatentEnergy + ?Sized>(
    energy: &E,
    x: &Tensor,
    y_space: YSpace<'_>,
    z_space: &LatentSpace,
    penalty: &ZPenalty,
) -> Result<PredictionsOverZ> {
    check_width(energy, z_space)?;
    let b = batch_size(x, "x")?;
    let z = z_space.points(float_kind(x), x.device())?.z.detach();
    let kz = z.size()[0];
    match y_space {
        YSpace::Finite(space) => {
            let (ys, table) = finite_table(energy, penalty, x, space, &z)?;
            let _guard = tch::no_grad_guard();
            let (energy, index) = table.f_min_dim(1, false)?;
            let mut shape = vec![b, kz];
            shape.extend_from_slice(&ys.size()[1..]);
            let y = ys
                .f_index_select(0, &index.f_reshape([b * kz])?)?
                .f_reshape(shape.as_slice())?;
            Ok(PredictionsOverZ { y, z, energy })
        }
        YSpace::Continuous { space, gd } => {
            let (y, energy) = search_y_per_z(energy, penalty, x, space, gd, &z)?;
            Ok(PredictionsOverZ { y, z, energy })
        }
    }
}

/// Joint inference ŷ, ẑ = argmin_{y, z} E'(x, y, z), with E' = E + P(z):
/// - finite y × finite z (set, grid or Monte-Carlo draw): every pair scored in one batched
///   call, then the minimum;
/// - continuous y × finite z: gradient descent on y for each z ([`predictions_over_z`]), then
///   the best z;
/// - finite y × `Continuous` z: gradient descent on z for each candidate y, then the best y.
///
/// Continuous y with a `Continuous` z is not supported (an error): give z a grid or a
/// Monte-Carlo draw.
///
/// ```
/// use ebm_core::FiniteSpace;
/// use ebm_latent::{joint_argmin, FnLatentEnergy, LatentSpace, YSpace, ZPenalty};
/// use tch::{Device, Kind, Tensor};
/// // E = (y − x − z)², y ∈ {0, 1, 2, 3}, z ∈ {0, 0.4}: for x = 1.6, ŷ = 2 and ẑ = 0.4.
/// let e = FnLatentEnergy::new(|x: &Tensor, y: &Tensor, z: &Tensor| {
///     (y - x - z).square().sum_dim_intlist(1, false, None)
/// });
/// let ys = FiniteSpace::Set(Tensor::from_slice(&[0.0f32, 1.0, 2.0, 3.0]).view([4, 1]));
/// let z = LatentSpace::finite(Tensor::from_slice(&[0.0f32, 0.4]).view([2, 1])).unwrap();
/// let x = Tensor::from_slice(&[1.6f32]).view([1, 1]);
/// let best = joint_argmin(&e, &x, YSpace::Finite(&ys), &z, &ZPenalty::NONE).unwrap();
/// assert_eq!(f32::try_from(best.y.view([-1])).unwrap(), 2.0);
/// assert_eq!(f32::try_from(best.z.view([-1])).unwrap(), 0.4);
/// ```
pub fn joint_argmin<E: LatentEnergy + ?Sized>(
    energy: &E,
    x: &Tensor,
    y_space: YSpace<'_>,
    z_space: &LatentSpace,
    penalty: &ZPenalty,
) -> Result<JointArgmin> {
    check_width(energy, z_space)?;
    let b = batch_size(x, "x")?;
    match (y_space, z_space) {
        (YSpace::Finite(space), LatentSpace::Continuous { space: zs, gd }) => {
            let kind = float_kind(x);
            let ys = space.candidates(kind, x.device())?;
            let ky = ys.size()[0];
            let x_rep = x.f_repeat_interleave_self_int(ky, 0, Some(b * ky))?;
            let y_rep = tile(&ys, b)?;
            let found = search_z(energy, penalty, &x_rep, &y_rep, zs, gd)?;
            let _guard = tch::no_grad_guard();
            let table = found.best_energy.f_view([b, ky])?;
            let (energy, index) = table.f_min_dim(1, false)?;
            let flat =
                index.f_add(&Tensor::f_arange(b, (Kind::Int64, x.device()))?.f_mul_scalar(ky)?)?;
            Ok(JointArgmin {
                y: ys.f_index_select(0, &index)?,
                z: found.best_y.f_index_select(0, &flat)?,
                energy,
            })
        }
        (YSpace::Continuous { .. }, LatentSpace::Continuous { .. }) => {
            Err(EbmError::Hyperparameter {
                name: "z".into(),
                reason: "must have points (Finite, Quadrature or MonteCarlo) when y is \
                         continuous: joint descent over a continuous y and z is not supported",
                value: "Continuous".into(),
            })
        }
        (YSpace::Finite(space), _) => {
            let z = z_space.points(float_kind(x), x.device())?.z.detach();
            let kz = z.size()[0];
            let (ys, table) = finite_table(energy, penalty, x, space, &z)?;
            let _guard = tch::no_grad_guard();
            let ky = ys.size()[0];
            let (energy, index) = table.f_reshape([b, ky * kz])?.f_min_dim(1, false)?;
            let y_index = index.f_div_scalar_mode(kz, "floor")?;
            let z_index = index.f_remainder(kz)?;
            Ok(JointArgmin {
                y: ys.f_index_select(0, &y_index)?,
                z: z.f_index_select(0, &z_index)?,
                energy,
            })
        }
        (YSpace::Continuous { .. }, _) => {
            let predictions = predictions_over_z(energy, x, y_space, z_space, penalty)?;
            let _guard = tch::no_grad_guard();
            let (energy, index) = predictions.energy.f_min_dim(1, false)?;
            let kz = predictions.z.size()[0];
            let flat =
                index.f_add(&Tensor::f_arange(b, (Kind::Int64, x.device()))?.f_mul_scalar(kz)?)?;
            let y = predictions.y.f_flatten(0, 1)?.f_index_select(0, &flat)?;
            Ok(JointArgmin {
                y,
                z: predictions.z.f_index_select(0, &index)?,
                energy,
            })
        }
    }
}

/// `t [K, ...]` repeated for each of `b` rows: `[b·K, ...]`, row r's K copies consecutive.
fn tile(t: &Tensor, b: i64) -> Result<Tensor> {
    let mut shape = vec![b];
    shape.extend_from_slice(&t.size());
    Ok(t.f_unsqueeze(0)?
        .f_expand(shape.as_slice(), false)?
        .f_flatten(0, 1)?)
}

/// Every candidate y against every z, without gradients: `(ys [Ky, ...], E' [B, Ky, Kz])`.
fn finite_table<E: LatentEnergy + ?Sized>(
    energy: &E,
    penalty: &ZPenalty,
    x: &Tensor,
    space: &FiniteSpace,
    z: &Tensor,
) -> Result<(Tensor, Tensor)> {
    let _guard = tch::no_grad_guard();
    let b = batch_size(x, "x")?;
    let ys = space.candidates(float_kind(x), x.device())?;
    let ky = ys.size()[0];
    let x_rep = x.f_repeat_interleave_self_int(ky, 0, Some(b * ky))?;
    let y_rep = tile(&ys, b)?;
    let table = energies_over_points(energy, penalty, &x_rep, &y_rep, z)?;
    ensure_no_nan(&table, "latent energies")?;
    let kz = z.size()[0];
    Ok((ys, table.f_view([b, ky, kz])?))
}

/// The latent energy as an [`Energy`] of y, for fixed rows of (x, z) picked by index.
struct YGivenXZ<'a, E: ?Sized> {
    energy: &'a E,
    penalty: &'a ZPenalty,
    x: Tensor,
    z: Tensor,
}

impl<E: LatentEnergy + ?Sized> Energy for YGivenXZ<'_, E> {
    fn energy(&self, rows: &Tensor, y: &Tensor) -> Result<Tensor> {
        let x = self.x.f_index_select(0, rows)?;
        let z = self.z.f_index_select(0, rows)?;
        let e = self.energy.latent_energy(&x, y, &z)?;
        self.penalty.add_to(&e, &z)
    }
}

/// Gradient descent on y for every (x_b, z_k): `(ŷ [B, Kz, dy], E' [B, Kz])`.
fn search_y_per_z<E: LatentEnergy + ?Sized>(
    energy: &E,
    penalty: &ZPenalty,
    x: &Tensor,
    space: &ContinuousSpace,
    gd: &GradientDescent,
    z: &Tensor,
) -> Result<(Tensor, Tensor)> {
    let b = batch_size(x, "x")?;
    let kz = z.size()[0];
    let n = b * kz;
    let conditioned = YGivenXZ {
        energy,
        penalty,
        x: x.detach().f_repeat_interleave_self_int(kz, 0, Some(n))?,
        z: tile(z, b)?,
    };
    let rows = Tensor::f_arange(n, (Kind::Int64, x.device()))?;
    let starts = random_starts(space, gd, n, z.kind(), x.device())?;
    let found = gd.minimize_from(&conditioned, &rows, space, &starts, None)?;
    Ok((
        found.best_y.f_view([b, kz, space.dim()])?,
        found.best_energy.f_view([b, kz])?,
    ))
}
