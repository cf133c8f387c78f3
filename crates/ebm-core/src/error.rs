//! The error type shared by every `ebm` crate.

use tch::Tensor;

/// Everything that can go wrong in `ebm`: bad shapes, bad hyperparameters, non-finite
/// values, and errors from libtorch itself.
#[derive(Debug, thiserror::Error)]
pub enum EbmError {
    /// Two inputs that must agree along the batch dimension (dim 0) do not.
    #[error("batch size mismatch: {what} ({left} vs {right})")]
    BatchMismatch {
        /// Which inputs disagree.
        what: String,
        /// Batch size of the first input.
        left: i64,
        /// Batch size of the second input.
        right: i64,
    },
    /// A tensor has the wrong shape.
    #[error("shape error in {what}: expected {expected}, got {got:?}")]
    Shape {
        /// Which input.
        what: String,
        /// The shape that was expected, in words.
        expected: String,
        /// The shape that was given.
        got: Vec<i64>,
    },
    /// A hyperparameter is outside its valid range.
    #[error("invalid hyperparameter: {name} {reason}, got {value}")]
    Hyperparameter {
        /// The hyperparameter's config key, relative to the config that checked it
        /// (`lr`, `step.epsilon`); [`EbmError::within`] prefixes the enclosing table.
        name: String,
        /// The rule it breaks, e.g. "must be > 0".
        reason: &'static str,
        /// The offending value, printed.
        value: String,
    },
    /// NaN (or, where forbidden, infinite) values in an input or in computed energies.
    #[error("non-finite values: {what} contains {kind}")]
    NonFinite {
        /// Which tensor.
        what: String,
        /// "NaN" or "NaN or infinite values".
        kind: &'static str,
    },
    /// A value outside the domain where a formula is defined (e.g. LVQ2 needs E_I > 0).
    #[error("out of domain: {what}: {reason}")]
    OutOfDomain {
        /// Which quantity.
        what: String,
        /// The rule it breaks.
        reason: String,
    },
    /// A finite answer set with no element.
    #[error("empty candidate set: {0}")]
    EmptyCandidates(String),
    /// A label outside the answer space (a class index out of range, a sign not in {-1, +1}).
    #[error("invalid label: {0}")]
    InvalidLabel(String),
    /// A checkpoint could not be written or read, or does not fit the model.
    #[error("checkpoint error: {0}")]
    Checkpoint(String),
    /// An error raised by libtorch.
    #[error("libtorch error: {0}")]
    Tch(#[from] tch::TchError),
}

impl EbmError {
    /// The same error with its hyperparameter key inside the table `prefix`
    /// (`lr` within `optimizer` is `optimizer.lr`); other errors are returned as they are.
    ///
    /// ```
    /// use ebm_core::error::{check_positive, EbmError};
    /// let e = check_positive("lr", -1.0).unwrap_err().within("optimizer").within("train");
    /// assert!(matches!(&e, EbmError::Hyperparameter { name, .. } if name == "train.optimizer.lr"));
    /// ```
    pub fn within(self, prefix: &str) -> EbmError {
        match self {
            EbmError::Hyperparameter {
                name,
                reason,
                value,
            } if !prefix.is_empty() => EbmError::Hyperparameter {
                name: if name.is_empty() {
                    prefix.to_string()
                } else {
                    format!("{prefix}.{name}")
                },
                reason,
                value,
            },
            other => other,
        }
    }

    /// A hyperparameter error on the key `name`.
    pub fn hyperparameter(
        name: impl Into<String>,
        reason: &'static str,
        value: impl ToString,
    ) -> EbmError {
        EbmError::Hyperparameter {
            name: name.into(),
            reason,
            value: value.to_string(),
        }
    }
}

/// Shorthand for `Result<T, EbmError>`.
pub type Result<T> = std::result::Result<T, EbmError>;

/// Checks a hyperparameter is finite and strictly positive.
pub fn check_positive(name: &'static str, value: f64) -> Result<f64> {
    if value.is_finite() && value > 0.0 {
        Ok(value)
    } else {
        Err(EbmError::Hyperparameter {
            name: name.into(),
            reason: "must be finite and > 0",
            value: value.to_string(),
        })
    }
}

/// Checks a hyperparameter is finite and non-negative.
pub fn check_non_negative(name: &'static str, value: f64) -> Result<f64> {
    if value.is_finite() && value >= 0.0 {
        Ok(value)
    } else {
        Err(EbmError::Hyperparameter {
            name: name.into(),
            reason: "must be finite and >= 0",
            value: value.to_string(),
        })
    }
}

/// Checks an inverse temperature: β > 0, `f64::INFINITY` allowed (it means the minimum).
pub fn check_beta(beta: f64) -> Result<f64> {
    if beta > 0.0 && !beta.is_nan() {
        Ok(beta)
    } else {
        Err(EbmError::Hyperparameter {
            name: "beta".into(),
            reason: "must be > 0 (infinity means the minimum)",
            value: beta.to_string(),
        })
    }
}

/// Checks a count is at least 1.
pub fn check_count(name: &'static str, value: usize) -> Result<usize> {
    if value >= 1 {
        Ok(value)
    } else {
        Err(EbmError::Hyperparameter {
            name: name.into(),
            reason: "must be >= 1",
            value: value.to_string(),
        })
    }
}

/// Fails with [`EbmError::NonFinite`] if `t` holds a NaN.
pub fn ensure_no_nan(t: &Tensor, what: &str) -> Result<()> {
    let any_nan = bool::try_from(t.f_isnan()?.f_any()?)?;
    if any_nan {
        return Err(EbmError::NonFinite {
            what: what.to_string(),
            kind: "NaN",
        });
    }
    Ok(())
}

/// Fails with [`EbmError::NonFinite`] if `t` holds a NaN or an infinity.
pub fn ensure_finite(t: &Tensor, what: &str) -> Result<()> {
    let all_finite = bool::try_from(t.f_isfinite()?.f_all()?)?;
    if !all_finite {
        return Err(EbmError::NonFinite {
            what: what.to_string(),
            kind: "NaN or infinite values",
        });
    }
    Ok(())
}

/// The size of dim 0, or a shape error for a scalar.
pub fn batch_size(t: &Tensor, what: &str) -> Result<i64> {
    t.size().first().copied().ok_or_else(|| EbmError::Shape {
        what: what.to_string(),
        expected: "a batch dimension [B, ...]".into(),
        got: vec![],
    })
}

/// Checks that `a` and `b` have the same batch size.
pub fn ensure_same_batch(a: &Tensor, a_name: &str, b: &Tensor, b_name: &str) -> Result<i64> {
    let left = batch_size(a, a_name)?;
    let right = batch_size(b, b_name)?;
    if left != right {
        return Err(EbmError::BatchMismatch {
            what: format!("{a_name} and {b_name}"),
            left,
            right,
        });
    }
    Ok(left)
}

/// Checks `t` has exactly the shape `expected`.
pub fn ensure_shape(t: &Tensor, what: &str, expected: &[i64]) -> Result<()> {
    let got = t.size();
    if got != expected {
        return Err(EbmError::Shape {
            what: what.to_string(),
            expected: format!("{expected:?}"),
            got,
        });
    }
    Ok(())
}
