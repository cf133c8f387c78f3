//! Answer spaces: the sets y ranges over.

use crate::check::check_count;
use crate::error::{EbmError, Result};
use tch::{Device, Kind, Tensor};

/// A finite answer set: its elements can be enumerated.
#[derive(Debug)]
pub enum FiniteSpace {
    /// Class indices {0, …, K−1}; a y is an `Int64` tensor `[B]`.
    Classes(i64),
    /// Signs {−1, +1}; a y is a float tensor `[B]`.
    Signs,
    /// An explicit list of vectors `[K, ...]`; a y is `[B, ...]`.
    Set(Tensor),
}

impl FiniteSpace {
    /// Every element as one tensor `[K, ...]`, on `device`; float elements take `kind`.
    pub fn candidates(&self, kind: Kind, device: Device) -> Result<Tensor> {
        match self {
            FiniteSpace::Classes(k) => {
                if *k <= 0 {
                    return Err(EbmError::EmptyCandidates(format!(
                        "Classes({k}): the number of classes must be >= 1"
                    )));
                }
                Ok(Tensor::f_arange(*k, (Kind::Int64, device))?)
            }
            FiniteSpace::Signs => Ok(Tensor::f_from_slice(&[-1.0f64, 1.0])?
                .f_to_kind(kind)?
                .f_to_device(device)?),
            FiniteSpace::Set(t) => {
                if t.dim() == 0 || t.size()[0] == 0 {
                    return Err(EbmError::EmptyCandidates(format!(
                        "Set of shape {:?} has no element",
                        t.size()
                    )));
                }
                Ok(t.f_to_device(device)?)
            }
        }
    }

    /// The number of elements K.
    pub fn len(&self) -> i64 {
        match self {
            FiniteSpace::Classes(k) => *k,
            FiniteSpace::Signs => 2,
            FiniteSpace::Set(t) => t.size().first().copied().unwrap_or(0),
        }
    }

    /// True when the set has no element.
    pub fn is_empty(&self) -> bool {
        self.len() <= 0
    }
}

/// A continuous answer space: all of R^d, or a box [lo, hi]^d.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ContinuousSpace {
    /// R^d.
    Real {
        /// Dimension d.
        dim: i64,
    },
    /// The box [lo, hi]^d.
    Box {
        /// Dimension d.
        dim: i64,
        /// Lower bound of every coordinate.
        lo: f64,
        /// Upper bound of every coordinate.
        hi: f64,
    },
}

impl ContinuousSpace {
    /// R^d, checked.
    pub fn real(dim: i64) -> Result<Self> {
        check_count("dim", usize::try_from(dim).unwrap_or(0))?;
        Ok(ContinuousSpace::Real { dim })
    }

    /// [lo, hi]^d, checked: finite bounds with lo < hi.
    pub fn boxed(dim: i64, lo: f64, hi: f64) -> Result<Self> {
        check_count("dim", usize::try_from(dim).unwrap_or(0))?;
        if !(lo.is_finite() && hi.is_finite() && lo < hi) {
            return Err(EbmError::Hyperparameter {
                name: "box".into(),
                reason: "needs finite bounds with lo < hi",
                value: format!("[{lo}, {hi}]"),
            });
        }
        Ok(ContinuousSpace::Box { dim, lo, hi })
    }

    /// The dimension d.
    pub fn dim(&self) -> i64 {
        match self {
            ContinuousSpace::Real { dim } | ContinuousSpace::Box { dim, .. } => *dim,
        }
    }

    /// The bounds, for a box.
    pub fn bounds(&self) -> Option<(f64, f64)> {
        match self {
            ContinuousSpace::Real { .. } => None,
            ContinuousSpace::Box { lo, hi, .. } => Some((*lo, *hi)),
        }
    }

    /// Clamps y into the space (a no-op on R^d).
    pub fn project(&self, y: &Tensor) -> Result<Tensor> {
        match self.bounds() {
            None => Ok(y.shallow_clone()),
            Some((lo, hi)) => Ok(y.f_clamp(lo, hi)?),
        }
    }

    /// `n` random points `[n, d]`: uniform in a box, N(0, `scale`²) on R^d.
    pub fn sample(&self, n: i64, scale: f64, kind: Kind, device: Device) -> Result<Tensor> {
        let d = self.dim();
        match self.bounds() {
            Some((lo, hi)) => Ok(Tensor::f_rand([n, d], (kind, device))? * (hi - lo) + lo),
            None => Ok(Tensor::f_randn([n, d], (kind, device))? * scale),
        }
    }
}
