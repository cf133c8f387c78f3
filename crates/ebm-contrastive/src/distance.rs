//! Distances and energies between embeddings: cosine, dot product, Lp.
//!
//! Each [`Distance`] is an energy: low means compatible. Pairwise tables `[N, M]` come from
//! one matrix product (cosine, dot, Euclidean), never from a loop or an `[N, M, D]` tensor.

use crate::check;
use ebm_core::check::{batch_size, check_positive};
use ebm_core::{EbmError, Energy, Result};
use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

/// A distance between embeddings, used as an energy (low = compatible).
///
/// ```
/// use ebm_contrastive::Distance;
/// use tch::Tensor;
/// let a = Tensor::from_slice(&[1.0f32, 0.0, 0.0, 2.0]).view([2, 2]);
/// let b = Tensor::from_slice(&[0.0f32, 3.0]).view([1, 2]);
/// let e = Distance::default().pairwise(&a, &b).unwrap(); // cosine: 1 − cos
/// assert_eq!(Vec::<f32>::try_from(e.flatten(0, -1)).unwrap(), vec![1.0, 0.0]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Distance {
    /// E = 1 − cos(a, b), with each row normalised as a / max(‖a‖, eps). Lies in [0, 2]; a
    /// zero row has cosine 0 with everything (E = 1).
    Cosine {
        /// Normalisation floor, > 0.
        eps: f64,
    },
    /// E = −a·b: a large inner product is a low energy. Unbounded.
    Dot,
    /// E = ‖a − b‖_p, p ≥ 1 (p = 2: the Euclidean distance, not squared).
    Lp {
        /// The order p ≥ 1.
        p: f64,
    },
}

impl Default for Distance {
    /// Cosine with eps = 1e-8.
    fn default() -> Self {
        Distance::Cosine { eps: 1e-8 }
    }
}

impl Distance {
    /// The Euclidean distance ‖a − b‖₂.
    pub const EUCLIDEAN: Distance = Distance::Lp { p: 2.0 };

    /// Checks the parameters: eps > 0, p ≥ 1; the error names the key (`eps`, `p`). A
    /// distance is its own config (its fields are public), so each use checks again.
    pub fn check(&self) -> Result<()> {
        match *self {
            Distance::Cosine { eps } => {
                check_positive("eps", eps)?;
            }
            Distance::Dot => {}
            Distance::Lp { p } => {
                if !(p.is_finite() && p >= 1.0) {
                    return Err(EbmError::Hyperparameter {
                        name: "p".into(),
                        reason: "must be finite and >= 1",
                        value: p.to_string(),
                    });
                }
            }
        }
        Ok(())
    }

    /// The distance of each row of `a [N, D]` to the same row of `b [N, D]`: `[N]`.
    pub fn paired(&self, a: &Tensor, b: &Tensor) -> Result<Tensor> {
        self.check()?;
        check::views(a, "a", b, "b", 0)?;
        Ok(match *self {
            Distance::Cosine { eps } => {
                let cos = normalize(a, eps)?
                    .f_mul(&normalize(b, eps)?)?
                    .f_sum_dim_intlist(1, false, None)?;
                cosine_energy(&cos)?
            }
            Distance::Dot => a.f_mul(b)?.f_sum_dim_intlist(1, false, None)?.f_neg()?,
            // torch's norm gives the subgradient 0 at a = b, so identical rows are safe.
            Distance::Lp { p } => a.f_sub(b)?.f_norm_scalaropt_dim(p, [1], false)?,
        })
    }

    /// The distance of every row of `a [N, D]` to every row of `b [M, D]`: `[N, M]`.
    ///
    /// Cosine, dot and Euclidean take one matrix product; other p use `cdist`, which also
    /// keeps memory at O(N·M).
    pub fn pairwise(&self, a: &Tensor, b: &Tensor) -> Result<Tensor> {
        self.check()?;
        let (_, d) = check::embeddings(a, "a", 0)?;
        let (_, e) = check::embeddings(b, "b", 0)?;
        if d != e {
            return Err(EbmError::Shape {
                what: "b".into(),
                expected: format!("[M, {d}], the width of a"),
                got: b.size(),
            });
        }
        Ok(match *self {
            Distance::Cosine { eps } => {
                let cos = normalize(a, eps)?.f_matmul(&normalize(b, eps)?.f_transpose(0, 1)?)?;
                cosine_energy(&cos)?
            }
            Distance::Dot => a.f_matmul(&b.f_transpose(0, 1)?)?.f_neg()?,
            Distance::Lp { p: 2.0 } => {
                let a2 = a.f_square()?.f_sum_dim_intlist(1, true, None)?;
                let b2 = b.f_square()?.f_sum_dim_intlist(1, true, None)?;
                let ab = a.f_matmul(&b.f_transpose(0, 1)?)?;
                let sq = a2
                    .f_add(&b2.f_transpose(0, 1)?)?
                    .f_sub(&ab.f_mul_scalar(2.0)?)?;
                safe_sqrt(&sq)?
            }
            Distance::Lp { p } => Tensor::f_cdist(a, b, p, None::<i64>)?,
        })
    }
}

/// E = 1 − cos, with cos clamped into [−1, 1] against rounding.
fn cosine_energy(cos: &Tensor) -> Result<Tensor> {
    Ok(cos.f_clamp(-1.0, 1.0)?.f_neg()?.f_add_scalar(1.0)?)
}

/// √max(x, 0) with a finite gradient everywhere (zero where x is at or below a tiny floor).
fn safe_sqrt(x: &Tensor) -> Result<Tensor> {
    let floor = match x.kind() {
        Kind::Half => 1e-6,
        _ => 1e-12,
    };
    let positive = x.f_gt(floor)?;
    let root = x.f_clamp_min(floor)?.f_sqrt()?;
    Ok(root.f_where_self(&positive, &root.f_zeros_like()?)?)
}

/// Each row divided by max(‖row‖₂, eps): `[N, D]` → `[N, D]`.
pub fn normalize(a: &Tensor, eps: f64) -> Result<Tensor> {
    let norm = a.f_norm_scalaropt_dim(2.0, [1], true)?.f_clamp_min(eps)?;
    Ok(a.f_div(&norm)?)
}

/// A distance is an energy over embeddings: E(x, y) = distance(x, y) for `x, y [B, D]`.
/// Candidate tables use one pairwise product.
impl Energy for Distance {
    fn energy(&self, x: &Tensor, y: &Tensor) -> Result<Tensor> {
        self.paired(x, y)
    }

    fn candidate_energies(&self, x: &Tensor, ys: &Tensor) -> Result<Tensor> {
        if batch_size(ys, "candidates")? == 0 {
            return Err(EbmError::EmptyCandidates(
                "the candidate set has no element".into(),
            ));
        }
        self.pairwise(x, ys)
    }
}
