//! The error type shared by every `ebm` crate (the checks that raise it are in
//! [`crate::check`]).

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
    /// A tensor has a kind (dtype) the computation cannot take, e.g. integer embeddings.
    #[error("wrong tensor kind in {what}: expected {expected}, got {got}")]
    Dtype {
        /// Which input.
        what: String,
        /// The kinds that are accepted, in words.
        expected: &'static str,
        /// The kind that was given.
        got: String,
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
    /// Training stopped because its loss became NaN or infinite; `detail` says what the loss
    /// did before and which settings are the likely cause.
    #[error("training diverged at epoch {epoch}: {detail}")]
    Diverged {
        /// The epoch (from 1) whose mean loss was not finite.
        epoch: usize,
        /// The loss, its history and the settings to change.
        detail: String,
    },
    /// A checkpoint could not be written or read, or does not fit the model.
    #[error("checkpoint error: {0}")]
    Checkpoint(String),
    /// An error raised by libtorch (shown by its first line, without the C++ stack trace).
    #[error("libtorch error: {}", first_line(.0))]
    Tch(#[from] tch::TchError),
}

impl EbmError {
    /// The same error with its hyperparameter key inside the table `prefix`
    /// (`lr` within `optimizer` is `optimizer.lr`); other errors are returned as they are.
    ///
    /// ```
    /// use ebm_core::check::check_positive;
    /// use ebm_core::EbmError;
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

/// The first line of a libtorch error: the message, without the C++ stack trace after it.
pub fn first_line(error: &tch::TchError) -> String {
    let text = error.to_string();
    let first = text.lines().next().unwrap_or("").trim();
    let cut = first.find(" (Exception raised from").unwrap_or(first.len());
    first[..cut].to_string()
}
