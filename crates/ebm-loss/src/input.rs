//! What a loss reads (the energies of the correct answer, of the most offending incorrect
//! answer, and over all of Y), what it needs, and how per-sample losses are reduced.

use ebm_core::check::{candidate_table, ensure_batch_sizes, ensure_finite, ensure_no_nan};
use ebm_core::{EbmError, Result};
use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

/// How per-sample losses `[B]` become the value to minimise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reduction {
    /// The mean over the batch (the default).
    #[default]
    Mean,
    /// The sum over the batch.
    Sum,
    /// No reduction: the per-sample losses `[B]`.
    None,
}

impl Reduction {
    /// Reduces per-sample losses `[B]` to a scalar (or keeps them, for [`Reduction::None`]).
    pub fn apply(self, per_sample: &Tensor) -> Result<Tensor> {
        match self {
            Reduction::Mean => Ok(per_sample.f_mean(per_sample.kind())?),
            Reduction::Sum => Ok(per_sample.f_sum(per_sample.kind())?),
            Reduction::None => Ok(per_sample.shallow_clone()),
        }
    }
}

/// Which energies a loss reads besides E_C, so that a trainer knows what to compute.
///
/// The perceptron reports `all`, but takes E_I in its place when no `e_all` is given
/// (min_y E = min(E_C, E_I)); that is the way to use it over a continuous Y without a grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Needs {
    /// E_I, the energy of the most offending incorrect answer, `[B]`.
    pub incorrect: bool,
    /// The energies over all of Y, `[B, K]` (every element of a finite Y, or quadrature or
    /// Monte Carlo points of a continuous Y with their log weights).
    pub all: bool,
}

/// The energies a loss is computed from. Every tensor is batched along dim 0 and may carry an
/// autograd graph: the losses are differentiable in all of them.
///
/// - `e_correct` `[B]`: E_C = E(x_i, y_i).
/// - `e_incorrect` `[B]`: E_I = E(x_i, ȳ_i), ȳ_i the most offending incorrect answer (see
///   [`crate::most_offending_finite`] and [`crate::most_offending_continuous`]).
/// - `e_all` `[B, K]`: the energies over all of Y. For a finite Y these are the energies of
///   every answer, **the correct one included** (so E_C is one of them). For a continuous Y
///   they are the energies at K quadrature or Monte Carlo points.
/// - `log_weights`, broadcastable to `e_all`: log cell volumes (quadrature) or log importance
///   weights (Monte Carlo), so that Σ_k e^(log w_k) f(y_k) ≈ ∫ f(y) dy. `None` for a finite Y.
///
/// Finite energies only, except that `e_all` may hold `+inf` for answers that are excluded
/// (they get probability zero); `log_weights` may hold `-inf` (weight zero).
#[derive(Debug, Clone, Copy)]
pub struct LossInput<'a> {
    /// E_C, `[B]`.
    pub e_correct: &'a Tensor,
    /// E_I, `[B]`.
    pub e_incorrect: Option<&'a Tensor>,
    /// The energies over all of Y, `[B, K]`.
    pub e_all: Option<&'a Tensor>,
    /// Log weights of the points of `e_all`, broadcastable to `[B, K]`.
    pub log_weights: Option<&'a Tensor>,
}

impl<'a> LossInput<'a> {
    /// E_C alone (enough for the energy loss).
    pub fn correct(e_correct: &'a Tensor) -> Self {
        LossInput {
            e_correct,
            e_incorrect: None,
            e_all: None,
            log_weights: None,
        }
    }

    /// E_C and E_I (enough for hinge, log, LVQ2, MCE, square-square, square-exponential, and
    /// the perceptron).
    pub fn pair(e_correct: &'a Tensor, e_incorrect: &'a Tensor) -> Self {
        LossInput {
            e_incorrect: Some(e_incorrect),
            ..LossInput::correct(e_correct)
        }
    }

    /// E_C, E_I and the energies over all of Y: enough for every loss.
    pub fn with_all(e_correct: &'a Tensor, e_incorrect: &'a Tensor, e_all: &'a Tensor) -> Self {
        LossInput {
            e_all: Some(e_all),
            ..LossInput::pair(e_correct, e_incorrect)
        }
    }

    /// E_C and the energies over all of Y (enough for the perceptron, NLL and MEE).
    pub fn over_all(e_correct: &'a Tensor, e_all: &'a Tensor) -> Self {
        LossInput {
            e_all: Some(e_all),
            ..LossInput::correct(e_correct)
        }
    }

    /// The same input with log weights for the points of `e_all` (continuous Y).
    pub fn weighted(self, log_weights: &'a Tensor) -> Self {
        LossInput {
            log_weights: Some(log_weights),
            ..self
        }
    }

    /// Checks E_C: a finite float tensor `[B]` with B ≥ 1. Returns B.
    pub(crate) fn checked_correct(&self, loss: &str) -> Result<i64> {
        let t = self.e_correct;
        let size = t.size();
        if size.len() != 1 || size[0] == 0 || !is_float(t) {
            return Err(EbmError::Shape {
                what: format!("{loss} loss: e_correct"),
                expected: "a float tensor [B] with B >= 1".into(),
                got: size,
            });
        }
        ensure_finite(t, &format!("{loss} loss: e_correct"))?;
        Ok(size[0])
    }

    /// Checks E_C and E_I: finite float tensors `[B]` of the same B.
    pub(crate) fn checked_pair(&self, loss: &str) -> Result<(&'a Tensor, &'a Tensor)> {
        let b = self.checked_correct(loss)?;
        let what = format!("{loss} loss: e_incorrect");
        let Some(t) = self.e_incorrect else {
            return Err(missing(&what, "[B] (this loss needs E_I; none was given)"));
        };
        let size = t.size();
        if size.len() != 1 || !is_float(t) {
            return Err(EbmError::Shape {
                what,
                expected: "a float tensor [B]".into(),
                got: size,
            });
        }
        ensure_batch_sizes(
            b,
            &format!("{loss} loss: e_correct"),
            size[0],
            "e_incorrect",
        )?;
        ensure_finite(t, &what)?;
        Ok((self.e_correct, t))
    }

    /// Checks E_C, `e_all` `[B, K]` (K ≥ 1, no NaN, no `-inf`) and the log weights.
    pub(crate) fn checked_all(&self, loss: &str) -> Result<(&'a Tensor, &'a Tensor)> {
        let b = self.checked_correct(loss)?;
        let what = format!("{loss} loss: e_all");
        let Some(t) = self.e_all else {
            return Err(missing(
                &what,
                "[B, K] (this loss needs the energies over all of Y; none were given)",
            ));
        };
        check_all(t, b, &what, loss)?;
        if let Some(w) = self.log_weights {
            check_log_weights(w, &t.size(), loss)?;
        }
        Ok((self.e_correct, t))
    }
}

fn missing(what: &str, expected: &str) -> EbmError {
    EbmError::Shape {
        what: what.to_string(),
        expected: expected.to_string(),
        got: vec![],
    }
}

fn is_float(t: &Tensor) -> bool {
    matches!(
        t.kind(),
        Kind::Half | Kind::BFloat16 | Kind::Float | Kind::Double
    )
}

fn check_all(t: &Tensor, b: i64, what: &str, loss: &str) -> Result<()> {
    let (rows, _) = candidate_table(t, what)?;
    if !is_float(t) {
        return Err(EbmError::Shape {
            what: what.to_string(),
            expected: "a float tensor [B, K]".into(),
            got: t.size(),
        });
    }
    ensure_batch_sizes(b, &format!("{loss} loss: e_correct"), rows, "e_all")?;
    ensure_no_nan(t, what)?;
    if bool::try_from(t.f_isneginf()?.f_any()?)? {
        return Err(EbmError::NonFinite {
            what: what.to_string(),
            kind: "-inf (only +inf, for an excluded answer, is allowed)",
        });
    }
    Ok(())
}

fn check_log_weights(w: &Tensor, all: &[i64], loss: &str) -> Result<()> {
    let what = format!("{loss} loss: log_weights");
    let size = w.size();
    let broadcastable = size.len() <= all.len()
        && size
            .iter()
            .rev()
            .zip(all.iter().rev())
            .all(|(&s, &a)| s == 1 || s == a);
    if !broadcastable || !is_float(w) {
        return Err(EbmError::Shape {
            what,
            expected: format!("a float tensor broadcastable to e_all {all:?}"),
            got: size,
        });
    }
    ensure_no_nan(w, &what)?;
    if bool::try_from(w.f_isposinf()?.f_any()?)? {
        return Err(EbmError::NonFinite {
            what,
            kind: "+inf (only -inf, a zero weight, is allowed)",
        });
    }
    Ok(())
}
