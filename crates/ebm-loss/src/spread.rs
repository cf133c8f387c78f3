//! A collapse diagnostic: how much the energy varies over Y for each x.
//!
//! A loss without a margin (the energy loss, the perceptron) can make the energy surface
//! flat: every answer gets the same energy and inference means nothing. The spread of the
//! energies over Y shows it: both the standard deviation and the range go to 0.

use ebm_core::check::{candidate_table, ensure_finite};
use ebm_core::{EbmError, Result};
use tch::{Kind, Tensor};

/// The spread of the energy over Y for each x.
#[derive(Debug)]
pub struct Spread {
    /// The standard deviation over Y (population, divided by K), `[B]`.
    pub std: Tensor,
    /// max − min over Y, `[B]`.
    pub range: Tensor,
}

/// The batch means of a [`Spread`], read back to the host.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpreadSummary {
    /// The mean over the batch of the per-x standard deviation.
    pub mean_std: f64,
    /// The mean over the batch of the per-x range.
    pub mean_range: f64,
    /// The smallest per-x range (the flattest row).
    pub min_range: f64,
}

/// The spread of `e_all [B, K]` (energies over Y, finite; B, K ≥ 1) along Y, detached.
///
/// ```
/// use ebm_loss::energy_spread;
/// use tch::Tensor;
/// // Row 0 is flat, row 1 is not.
/// let e = Tensor::from_slice(&[2.0f64, 2.0, 2.0, 0.0, 1.0, 5.0]).view([2, 3]);
/// let spread = energy_spread(&e).unwrap();
/// assert_eq!(Vec::<f64>::try_from(&spread.range).unwrap(), vec![0.0, 5.0]);
/// let summary = spread.summary().unwrap();
/// assert_eq!((summary.mean_range, summary.min_range), (2.5, 0.0));
/// ```
pub fn energy_spread(e_all: &Tensor) -> Result<Spread> {
    let (b, _) = candidate_table(e_all, "energy table e_all")?;
    if b == 0 {
        return Err(EbmError::Shape {
            what: "energy table e_all".into(),
            expected: "[B, K] with B >= 1".into(),
            got: e_all.size(),
        });
    }
    ensure_finite(e_all, "energy table e_all")?;
    let _guard = tch::no_grad_guard();
    let e = e_all.detach();
    let std = e.f_std_dim([1i64].as_slice(), false, false)?;
    let range = e.f_amax(1, false)?.f_sub(&e.f_amin(1, false)?)?;
    Ok(Spread { std, range })
}

impl Spread {
    /// Batch means (and the smallest range), as host numbers for a report.
    pub fn summary(&self) -> Result<SpreadSummary> {
        let mean = |t: &Tensor| -> Result<f64> {
            Ok(f64::try_from(
                t.f_to_kind(Kind::Double)?.f_mean(Kind::Double)?,
            )?)
        };
        Ok(SpreadSummary {
            mean_std: mean(&self.std)?,
            mean_range: mean(&self.range)?,
            min_range: f64::try_from(self.range.f_min()?.f_to_kind(Kind::Double)?)?,
        })
    }
}
