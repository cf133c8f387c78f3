//! Gibbs distribution helpers: free energy, probabilities, quadrature grids.
//!
//! Everything involving e^(−βE) goes through log-sum-exp; β = `f64::INFINITY` is the
//! zero-temperature limit (the minimum, and a uniform distribution over the argmin set).

use crate::check::{check_beta, check_count, ensure_no_nan};
use crate::error::{EbmError, Result};
use tch::{Device, Kind, Tensor};

/// Free energy F_β = −(1/β) log Σ_k e^(−β E_k) along `dim`; β = ∞ gives min_k E_k.
///
/// F_β ≤ min E, and F_β rises to min E as β grows.
///
/// ```
/// use ebm_core::free_energy;
/// use tch::Tensor;
/// let e = Tensor::from_slice(&[0.0f64, 1.0]).view([1, 2]);
/// let f = f64::try_from(free_energy(&e, 1.0, 1).unwrap()).unwrap();
/// assert!((f + (1.0 + (-1.0f64).exp()).ln()).abs() < 1e-12);
/// ```
pub fn free_energy(energies: &Tensor, beta: f64, dim: i64) -> Result<Tensor> {
    check_beta(beta)?;
    check_axis(energies, dim)?;
    ensure_no_nan(energies, "energies")?;
    free_energy_unchecked(energies, None, beta, dim)
}

/// Free energy of a continuous y by quadrature or Monte Carlo:
/// F_β = −(1/β) log Σ_k w_k e^(−β E_k), with `log_weights` the log cell volumes (or log
/// importance weights), broadcastable to `energies`. β = ∞ gives the minimum (weights ignored).
pub fn free_energy_weighted(
    energies: &Tensor,
    log_weights: &Tensor,
    beta: f64,
    dim: i64,
) -> Result<Tensor> {
    check_beta(beta)?;
    check_axis(energies, dim)?;
    ensure_no_nan(energies, "energies")?;
    ensure_no_nan(log_weights, "log weights")?;
    free_energy_unchecked(energies, Some(log_weights), beta, dim)
}

/// [`free_energy_weighted`] without input checks, for hot loops whose inputs are known good.
///
/// F_β = −(1/β) log Σ_k w_k e^(−β E_k) through log-sum-exp. Where β·E overflows the float
/// kind (a β too large for f32), it is computed again as
/// m − (1/β) log Σ_k w_k e^(−β (E_k − m)) with m = min_k E_k, which gives min E (the limit),
/// not inf or NaN; a row whose minimum is ±∞ has F_β equal to it.
pub fn free_energy_unchecked(
    energies: &Tensor,
    log_weights: Option<&Tensor>,
    beta: f64,
    dim: i64,
) -> Result<Tensor> {
    if beta.is_infinite() {
        return Ok(energies.f_amin(dim, false)?);
    }
    let beta = representable_beta(beta, energies.kind());
    let weighted = |scaled: Tensor| -> Result<Tensor> {
        Ok(match log_weights {
            Some(w) => scaled.f_add(w)?,
            None => scaled,
        })
    };
    let plain = weighted(energies.f_mul_scalar(-beta)?)?
        .f_logsumexp(dim, false)?
        .f_mul_scalar(-1.0 / beta)?;
    if bool::try_from(plain.f_isfinite()?.f_all()?)? {
        return Ok(plain);
    }
    let min = energies.f_amin(dim, true)?;
    let finite = min.f_isfinite()?;
    let shift = min.f_where_scalarother(&finite, 0.0)?;
    let f = weighted(energies.f_sub(&shift)?.f_mul_scalar(-beta)?)?
        .f_logsumexp(dim, true)?
        .f_mul_scalar(-1.0 / beta)?
        .f_add(&shift)?;
    Ok(f.f_where_self(&finite, &min)?.f_squeeze_dim(dim)?)
}

/// Gibbs probabilities P_k = e^(−β E_k) / Σ_j e^(−β E_j) along `dim` (a softmax of −βE).
///
/// At β = ∞ the mass is shared equally by the minimal energies, and so it is in a row holding
/// −∞ (the limit). Where β·E overflows the float kind, the energies are shifted by their
/// minimum first, so that no β gives NaN. A row whose every energy is +∞ has no
/// distribution: an [`EbmError::NonFinite`] error.
pub fn gibbs_probabilities(energies: &Tensor, beta: f64, dim: i64) -> Result<Tensor> {
    check_beta(beta)?;
    check_axis(energies, dim)?;
    ensure_no_nan(energies, "energies")?;
    let min = energies.f_amin(dim, true)?;
    if bool::try_from(min.f_eq(f64::INFINITY)?.f_any()?)? {
        return Err(EbmError::NonFinite {
            what: "energies (every energy of a row is +inf: nothing to normalise)".into(),
            kind: "+inf in every entry",
        });
    }
    let at_min = || -> Result<Tensor> {
        let at_min = energies.f_eq_tensor(&min)?.f_to_kind(energies.kind())?;
        let count = at_min.f_sum_dim_intlist(dim, true, energies.kind())?;
        Ok(at_min.f_div(&count)?)
    };
    if beta.is_infinite() {
        return at_min();
    }
    let beta = representable_beta(beta, energies.kind());
    let plain = energies
        .f_mul_scalar(-beta)?
        .f_softmax(dim, energies.kind())?;
    if bool::try_from(plain.f_isfinite()?.f_all()?)? {
        return Ok(plain);
    }
    // β·E overflowed the kind, or a row holds −∞: shift by the minimum first.
    let finite = min.f_isfinite()?;
    let shift = min.f_where_scalarother(&finite, 0.0)?;
    let soft = energies
        .f_sub(&shift)?
        .f_mul_scalar(-beta)?
        .f_softmax(dim, energies.kind())?;
    if bool::try_from(finite.f_all()?)? {
        Ok(soft)
    } else {
        Ok(soft.f_where_self(&finite, &at_min()?)?)
    }
}

/// β capped at the largest finite value of the energies' float kind: a larger β would become
/// ∞ in that kind (and 0 · ∞ = NaN at the minimum), while the capped one already gives the
/// limit to the kind's precision.
pub fn representable_beta(beta: f64, kind: Kind) -> f64 {
    let largest = match kind {
        Kind::Half => 65504.0,
        Kind::BFloat16 => 3.38e38,
        Kind::Float => f64::from(f32::MAX),
        _ => f64::MAX,
    };
    beta.min(largest)
}

fn check_axis(energies: &Tensor, dim: i64) -> Result<()> {
    let n = energies.dim() as i64;
    let axis = if dim < 0 { dim + n } else { dim };
    if axis < 0 || axis >= n {
        return Err(EbmError::Shape {
            what: "energies".into(),
            expected: format!("a tensor with axis {dim}"),
            got: energies.size(),
        });
    }
    if energies.size()[axis as usize] == 0 {
        return Err(EbmError::EmptyCandidates(format!(
            "axis {dim} of the energies has no element"
        )));
    }
    Ok(())
}

/// A midpoint-rule grid over a 1-D or 2-D box of continuous y, with its log cell volume.
///
/// `∫ f(y) dy ≈ Σ_k f(points_k) · e^(log_volume)`; pass `log_volume` to
/// [`free_energy_weighted`] (as a scalar tensor) to integrate e^(−βE).
#[derive(Debug)]
pub struct Quadrature {
    /// Grid points `[K, d]`.
    pub points: Tensor,
    /// Log of the volume of one cell.
    pub log_volume: f64,
}

impl Quadrature {
    /// `n` cell midpoints over [lo, hi].
    pub fn grid_1d(lo: f64, hi: f64, n: usize, kind: Kind, device: Device) -> Result<Self> {
        check_interval(lo, hi)?;
        check_count("n", n)?;
        let h = (hi - lo) / n as f64;
        let points = Tensor::f_arange(n as i64, (kind, device))?
            .f_add_scalar(0.5)?
            .f_mul_scalar(h)?
            .f_add_scalar(lo)?
            .f_unsqueeze(1)?;
        Ok(Quadrature {
            points,
            log_volume: h.ln(),
        })
    }

    /// `n[0] × n[1]` cell midpoints over [lo₀, hi₀] × [lo₁, hi₁], row-major in the first axis.
    pub fn grid_2d(
        lo: [f64; 2],
        hi: [f64; 2],
        n: [usize; 2],
        kind: Kind,
        device: Device,
    ) -> Result<Self> {
        let a = Quadrature::grid_1d(lo[0], hi[0], n[0], kind, device)?;
        let b = Quadrature::grid_1d(lo[1], hi[1], n[1], kind, device)?;
        let (n0, n1) = (n[0] as i64, n[1] as i64);
        let first = a
            .points
            .f_repeat_interleave_self_int(n1, 0, Some(n0 * n1))?;
        let second = b.points.f_repeat([n0, 1])?;
        Ok(Quadrature {
            points: Tensor::f_cat(&[first, second], 1)?,
            log_volume: a.log_volume + b.log_volume,
        })
    }

    /// The log weights as a scalar tensor on the points' device, for [`free_energy_weighted`].
    pub fn log_weights(&self) -> Result<Tensor> {
        Ok(Tensor::f_from_slice(&[self.log_volume])?
            .f_to_kind(self.points.kind())?
            .f_to_device(self.points.device())?
            .f_squeeze()?)
    }
}

fn check_interval(lo: f64, hi: f64) -> Result<()> {
    if lo.is_finite() && hi.is_finite() && lo < hi {
        Ok(())
    } else {
        Err(EbmError::Hyperparameter {
            name: "hi".into(),
            reason: "need finite lo < hi",
            value: format!("[{lo}, {hi}]"),
        })
    }
}
