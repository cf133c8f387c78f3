//! Latent energies E(x, y, z) and the penalties that limit what z can carry.

use ebm_core::check::{check_non_negative, ensure_same_batch, ensure_shape};
use ebm_core::{EbmError, Result};
use serde::{Deserialize, Serialize};
use tch::Tensor;

/// An energy with a latent variable: E(x, y, z), low when x, y and z are compatible.
///
/// Rows are paired along dim 0: `x [B, ...]`, `y [B, ...]` and `z [B, dz]` give `[B]`. z is
/// never observed: [`crate::Marginalized`] integrates or minimises it out, and
/// [`crate::joint_argmin`] searches it together with y. The trait is object safe:
/// `&dyn LatentEnergy` and `Box<dyn LatentEnergy>` work wherever a generic one does.
pub trait LatentEnergy {
    /// E(x_b, y_b, z_b) for each row b: `x [B, ...]`, `y [B, ...]`, `z [B, dz]` → `[B]`.
    fn latent_energy(&self, x: &Tensor, y: &Tensor, z: &Tensor) -> Result<Tensor>;

    /// The width dz this energy expects, when it knows it (a network's input layer does).
    ///
    /// Latent spaces of another width are rejected with a shape error before any energy is
    /// computed. The default, `None`, skips that check.
    fn z_dim(&self) -> Option<i64> {
        None
    }
}

impl<E: LatentEnergy + ?Sized> LatentEnergy for &E {
    fn latent_energy(&self, x: &Tensor, y: &Tensor, z: &Tensor) -> Result<Tensor> {
        (**self).latent_energy(x, y, z)
    }
    fn z_dim(&self) -> Option<i64> {
        (**self).z_dim()
    }
}

impl<E: LatentEnergy + ?Sized> LatentEnergy for Box<E> {
    fn latent_energy(&self, x: &Tensor, y: &Tensor, z: &Tensor) -> Result<Tensor> {
        (**self).latent_energy(x, y, z)
    }
    fn z_dim(&self) -> Option<i64> {
        (**self).z_dim()
    }
}

/// A latent energy written as a closure over paired rows, for hand-written energies and tests.
///
/// The closure gets `x [B, ...]`, `y [B, ...]`, `z [B, dz]` and must return `[B]`. Batch sizes,
/// z's rank (and its width, given [`FnLatentEnergy::with_z_dim`]) and the output shape are
/// checked.
///
/// ```
/// use ebm_latent::{FnLatentEnergy, LatentEnergy};
/// use tch::Tensor;
/// // E(x, y, z) = ½ (y − x − z)².
/// let e = FnLatentEnergy::new(|x: &Tensor, y: &Tensor, z: &Tensor| {
///     (y - x - z).square().sum_dim_intlist(1, false, None) * 0.5
/// });
/// let x = Tensor::from_slice(&[0.0f32, 1.0]).view([2, 1]);
/// let y = Tensor::from_slice(&[1.0f32, 1.0]).view([2, 1]);
/// let z = Tensor::from_slice(&[1.0f32, -1.0]).view([2, 1]);
/// let v: Vec<f32> = Vec::try_from(e.latent_energy(&x, &y, &z).unwrap()).unwrap();
/// assert_eq!(v, vec![0.0, 0.5]);
/// ```
pub struct FnLatentEnergy<F> {
    f: F,
    z_dim: Option<i64>,
}

impl<F> FnLatentEnergy<F>
where
    F: Fn(&Tensor, &Tensor, &Tensor) -> Tensor,
{
    /// Wraps a closure `(x, y, z) -> [B]` that accepts any z width.
    pub fn new(f: F) -> Self {
        FnLatentEnergy { f, z_dim: None }
    }

    /// Wraps a closure that only accepts z of width `dz`.
    pub fn with_z_dim(f: F, dz: i64) -> Self {
        FnLatentEnergy { f, z_dim: Some(dz) }
    }
}

impl<F> LatentEnergy for FnLatentEnergy<F>
where
    F: Fn(&Tensor, &Tensor, &Tensor) -> Tensor,
{
    fn latent_energy(&self, x: &Tensor, y: &Tensor, z: &Tensor) -> Result<Tensor> {
        let b = ensure_same_batch(x, "x", y, "y")?;
        ensure_same_batch(x, "x", z, "z")?;
        check_z_rows(z, self.z_dim)?;
        let e = (self.f)(x, y, z);
        ensure_shape(&e, "latent energy output", &[b])?;
        Ok(e)
    }

    fn z_dim(&self) -> Option<i64> {
        self.z_dim
    }
}

/// Checks z is `[N, dz]`, with `dz` the expected width when one is given.
pub(crate) fn check_z_rows(z: &Tensor, width: Option<i64>) -> Result<()> {
    let dims = z.size();
    let ok = dims.len() == 2 && dims[1] >= 1 && width.is_none_or(|d| dims[1] == d);
    if ok {
        Ok(())
    } else {
        Err(EbmError::Shape {
            what: "latent z".into(),
            expected: match width {
                Some(d) => format!("[N, {d}]"),
                None => "[N, dz] with dz >= 1".into(),
            },
            got: dims,
        })
    }
}

/// A penalty on z as written in a config: `penalty = "none"`, `penalty = { l1 = 0.1 }`,
/// `penalty = { l2 = 0.1 }`. [`ZPenaltyConfig::check`] checks the weight and gives the
/// [`ZPenalty`] that the energies use.
///
/// ```
/// use ebm_latent::{ZPenalty, ZPenaltyConfig};
/// assert_eq!(ZPenaltyConfig::L2(0.1).check().unwrap(), ZPenalty::l2(0.1).unwrap());
/// // A negative weight is an error that names the key.
/// assert!(ZPenaltyConfig::L1(-1.0).check().unwrap_err().to_string().contains("l1"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ZPenaltyConfig {
    /// No penalty.
    #[default]
    None,
    /// λ‖z‖₁ = λ Σ_j |z_j|, with λ ≥ 0.
    L1(f64),
    /// λ‖z‖² = λ Σ_j z_j² (the squared Euclidean norm), with λ ≥ 0.
    L2(f64),
}

impl ZPenaltyConfig {
    /// Checks the weight λ is finite and ≥ 0 and gives the penalty; the error names the key
    /// (`l1` or `l2`).
    pub fn check(&self) -> Result<ZPenalty> {
        match *self {
            ZPenaltyConfig::None => Ok(ZPenalty::NONE),
            ZPenaltyConfig::L1(weight) => ZPenalty::l1(weight),
            ZPenaltyConfig::L2(weight) => ZPenalty::l2(weight),
        }
    }
}

/// A penalty on z added to the energy, E'(x, y, z) = E(x, y, z) + P(z), to limit the
/// information z can carry (a z free to take any value explains every y and flattens the
/// energy).
///
/// Made by [`ZPenaltyConfig::check`] or the typed constructors ([`ZPenalty::l1`],
/// [`ZPenalty::l2`], [`ZPenalty::NONE`]), so its weight is valid and is not checked again.
///
/// ```compile_fail
/// // The weight is private: a penalty cannot skip the check.
/// let p = ebm_latent::ZPenalty(ebm_latent::ZPenaltyConfig::L1(-1.0));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ZPenalty(ZPenaltyConfig);

impl ZPenalty {
    /// No penalty.
    pub const NONE: ZPenalty = ZPenalty(ZPenaltyConfig::None);

    /// λ‖z‖₁, with λ finite and ≥ 0 (an error naming `l1` otherwise).
    pub fn l1(weight: f64) -> Result<Self> {
        Ok(ZPenalty(ZPenaltyConfig::L1(check_non_negative(
            "l1", weight,
        )?)))
    }

    /// λ‖z‖², with λ finite and ≥ 0 (an error naming `l2` otherwise).
    pub fn l2(weight: f64) -> Result<Self> {
        Ok(ZPenalty(ZPenaltyConfig::L2(check_non_negative(
            "l2", weight,
        )?)))
    }

    /// The config this penalty was checked from.
    pub fn config(&self) -> ZPenaltyConfig {
        self.0
    }

    /// P(z) for each row of `z [N, dz]` → `[N]` (zeros for [`ZPenalty::NONE`]).
    pub fn value(&self, z: &Tensor) -> Result<Tensor> {
        check_z_rows(z, None)?;
        let kind = z.kind();
        Ok(match self.0 {
            ZPenaltyConfig::None => Tensor::f_zeros([z.size()[0]], (kind, z.device()))?,
            ZPenaltyConfig::L1(weight) => z
                .f_abs()?
                .f_sum_dim_intlist(1, false, kind)?
                .f_mul_scalar(weight)?,
            ZPenaltyConfig::L2(weight) => z
                .f_square()?
                .f_sum_dim_intlist(1, false, kind)?
                .f_mul_scalar(weight)?,
        })
    }

    /// `energies + P(z)`, where `z [K, dz]` and the last axis of `energies` runs over its K rows
    /// (`[K]`, or `[B, K]` for every row of a batch against the same K points).
    pub fn add_to(&self, energies: &Tensor, z: &Tensor) -> Result<Tensor> {
        match self.0 {
            ZPenaltyConfig::None => Ok(energies.shallow_clone()),
            ZPenaltyConfig::L1(_) | ZPenaltyConfig::L2(_) => Ok(energies.f_add(&self.value(z)?)?),
        }
    }
}
