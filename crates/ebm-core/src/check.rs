//! The checks every `ebm` crate shares, one rule each: hyperparameters (a value and its
//! config key) and the tensors users hand in (labels, candidate tables, ranks and batch
//! sizes).
//!
//! The other crates call these rather than their own versions, so a bad input gets the
//! same error wherever it goes in.
//!
//! ```
//! use ebm_core::check::{candidate_table, check_positive, class_labels};
//! use ebm_core::EbmError;
//! use tch::Tensor;
//!
//! assert!(matches!(
//!     check_positive("lr", -1.0),
//!     Err(EbmError::Hyperparameter { name, .. }) if name == "lr"
//! ));
//! let table = Tensor::zeros([2, 3], (tch::Kind::Float, tch::Device::Cpu));
//! assert_eq!(candidate_table(&table, "energies").unwrap(), (2, 3));
//! let labels = Tensor::from_slice(&[0i64, 3]);
//! let err = class_labels(&labels, "labels", Some(3)).unwrap_err();
//! assert!(err.to_string().contains("class label 3 is out of range"));
//! ```

use crate::error::{EbmError, Result};
use tch::{Kind, Tensor};

// ---------------------------------------------------------------------------------------------
// Hyperparameters: each takes the config key it reports, relative to its config.

/// Checks a hyperparameter is finite and strictly positive.
pub fn check_positive(name: &'static str, value: f64) -> Result<f64> {
    if value.is_finite() && value > 0.0 {
        Ok(value)
    } else {
        Err(EbmError::hyperparameter(
            name,
            "must be finite and > 0",
            value,
        ))
    }
}

/// Checks a hyperparameter is finite and non-negative.
pub fn check_non_negative(name: &'static str, value: f64) -> Result<f64> {
    if value.is_finite() && value >= 0.0 {
        Ok(value)
    } else {
        Err(EbmError::hyperparameter(
            name,
            "must be finite and >= 0",
            value,
        ))
    }
}

/// Checks an inverse temperature: β > 0, `f64::INFINITY` allowed (it means the minimum).
pub fn check_beta(beta: f64) -> Result<f64> {
    if beta > 0.0 && !beta.is_nan() {
        Ok(beta)
    } else {
        Err(EbmError::hyperparameter(
            "beta",
            "must be > 0 (infinity means the minimum)",
            beta,
        ))
    }
}

/// Checks a count is at least 1.
pub fn check_count(name: &'static str, value: usize) -> Result<usize> {
    if value >= 1 {
        Ok(value)
    } else {
        Err(EbmError::hyperparameter(name, "must be >= 1", value))
    }
}

/// Checks a momentum coefficient lies in [0, 1).
pub fn check_momentum(name: &'static str, value: f64) -> Result<f64> {
    if (0.0..1.0).contains(&value) {
        Ok(value)
    } else {
        Err(EbmError::hyperparameter(name, "must be in [0, 1)", value))
    }
}

/// Checks a probability lies in [0, 1].
pub fn check_probability(name: &'static str, value: f64) -> Result<f64> {
    if (0.0..=1.0).contains(&value) {
        Ok(value)
    } else {
        Err(EbmError::hyperparameter(name, "must be in [0, 1]", value))
    }
}

// ---------------------------------------------------------------------------------------------
// Values.

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

// ---------------------------------------------------------------------------------------------
// Shapes and batch sizes.

/// The size of dim 0, or a shape error for a scalar.
pub fn batch_size(t: &Tensor, what: &str) -> Result<i64> {
    t.size().first().copied().ok_or_else(|| EbmError::Shape {
        what: what.to_string(),
        expected: "a batch dimension [B, ...]".into(),
        got: vec![],
    })
}

/// Checks two batch sizes agree: `left` rows of `left_name`, `right` rows of `right_name`.
/// Returns the batch size.
pub fn ensure_batch_sizes(left: i64, left_name: &str, right: i64, right_name: &str) -> Result<i64> {
    if left != right {
        return Err(EbmError::BatchMismatch {
            what: format!("{left_name} and {right_name}"),
            left,
            right,
        });
    }
    Ok(left)
}

/// Checks that `a` and `b` have the same batch size (dim 0); returns it.
pub fn ensure_same_batch(a: &Tensor, a_name: &str, b: &Tensor, b_name: &str) -> Result<i64> {
    let left = batch_size(a, a_name)?;
    let right = batch_size(b, b_name)?;
    ensure_batch_sizes(left, a_name, right, b_name)
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

/// Checks `t` is a vector `[B]`; returns B.
pub fn vector(t: &Tensor, what: &str) -> Result<i64> {
    match *t.size().as_slice() {
        [b] => Ok(b),
        _ => Err(EbmError::Shape {
            what: what.to_string(),
            expected: "[B]".into(),
            got: t.size(),
        }),
    }
}

/// Checks `t` is a matrix `[N, D]` with N ≥ `min_rows` and, when `width` is given,
/// D = `width`; returns (N, D).
pub fn matrix(t: &Tensor, what: &str, min_rows: i64, width: Option<i64>) -> Result<(i64, i64)> {
    match *t.size().as_slice() {
        [n, d] if n >= min_rows && width.is_none_or(|w| w == d) => Ok((n, d)),
        _ => {
            let columns = width.map_or_else(|| "D".to_string(), |w| w.to_string());
            let rows = if min_rows > 0 {
                format!(" with N >= {min_rows}")
            } else {
                String::new()
            };
            Err(EbmError::Shape {
                what: what.to_string(),
                expected: format!("[N, {columns}]{rows}"),
                got: t.size(),
            })
        }
    }
}

/// The memory this machine can still give, in bytes (Linux's `MemAvailable`), if known.
pub fn available_memory() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// Checks that `bytes` (what `name` asks for, e.g. the parameters of the layers of `hidden`)
/// fits in the memory this machine has available: a size the machine cannot hold is a typed
/// error naming the key and the size, not an allocation failure later.
pub fn check_memory(name: &'static str, bytes: u128, what: &str) -> Result<()> {
    let available = available_memory().map_or(u128::from(u64::MAX), u128::from);
    if bytes > available {
        return Err(EbmError::Hyperparameter {
            name: name.into(),
            reason: "asks for more memory than this machine has available",
            value: format!(
                "{what}: {} needed, {} available",
                human_bytes(bytes),
                human_bytes(available)
            ),
        });
    }
    Ok(())
}

/// `1.5 GiB`, `12 MiB`, `512 B`.
pub fn human_bytes(bytes: u128) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// Checks `t` holds floating-point values (f16, bf16, f32 or f64): integer or boolean
/// embeddings, energies or samples are a typed error, not a libtorch panic.
pub fn floating(t: &Tensor, what: &str) -> Result<()> {
    if t.is_floating_point() {
        Ok(())
    } else {
        Err(EbmError::Dtype {
            what: what.to_string(),
            expected: "a floating-point kind (f32 or f64)",
            got: format!("{:?}", t.kind()),
        })
    }
}

/// Checks a table of candidate energies `[B, K]` with K ≥ 1 (one column per candidate
/// answer); returns (B, K). Its values are not read: NaN or infinity checks are the caller's.
pub fn candidate_table(table: &Tensor, what: &str) -> Result<(i64, i64)> {
    match *table.size().as_slice() {
        [_, 0] => Err(EbmError::EmptyCandidates(format!(
            "{what} has no column (K = 0)"
        ))),
        [b, k] => Ok((b, k)),
        _ => Err(EbmError::Shape {
            what: what.to_string(),
            expected: "[B, K]".into(),
            got: table.size(),
        }),
    }
}

// ---------------------------------------------------------------------------------------------
// Labels.

/// Checks class labels: an Int64 vector `[B]` with every value in {0, …, `classes` − 1}, or
/// any value when `classes` is `None` (group ids, as the contrastive losses take). Returns B.
///
/// A wrong rank is a shape error, a wrong kind or a value out of range an
/// [`EbmError::InvalidLabel`] that names `what` and the bad value.
pub fn class_labels(labels: &Tensor, what: &str, classes: Option<i64>) -> Result<i64> {
    let b = vector(labels, what).map_err(|_| EbmError::Shape {
        what: what.to_string(),
        expected: "Int64 class labels [B]".into(),
        got: labels.size(),
    })?;
    if labels.kind() != Kind::Int64 {
        return Err(EbmError::InvalidLabel(format!(
            "{what} must be Int64 class indices, got {:?}",
            labels.kind()
        )));
    }
    if let (Some(k), true) = (classes, b > 0) {
        let lo = i64::try_from(labels.f_min()?)?;
        let hi = i64::try_from(labels.f_max()?)?;
        if lo < 0 || hi >= k {
            let bad = if lo < 0 { lo } else { hi };
            return Err(EbmError::InvalidLabel(format!(
                "{what}: class label {bad} is out of range: labels must be in [0, {k}), \
                 got values in [{lo}, {hi}]"
            )));
        }
    }
    Ok(b)
}

/// Checks sign labels: a vector `[B]` (any numeric kind) of −1 and +1 only. Returns B.
///
/// A wrong rank is a shape error; a value other than ±1 an [`EbmError::InvalidLabel`] that
/// names `what` and the first bad value.
pub fn sign_labels(labels: &Tensor, what: &str) -> Result<i64> {
    let b = vector(labels, what).map_err(|_| EbmError::Shape {
        what: what.to_string(),
        expected: "sign labels [B] of -1/+1".into(),
        got: labels.size(),
    })?;
    let values = labels.f_to_kind(Kind::Double)?;
    let ok = values.f_eq(1.0)?.f_logical_or(&values.f_eq(-1.0)?)?;
    if !bool::try_from(ok.f_all()?)? {
        let bad = f64::try_from(values.f_masked_select(&ok.f_logical_not()?)?.f_get(0)?)?;
        return Err(EbmError::InvalidLabel(format!(
            "{what}: label {bad} is not in {{-1, +1}}"
        )));
    }
    Ok(b)
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes_beyond_the_machine_are_named_with_both_sizes() {
        check_memory("hidden", 1024, "a small net").expect("fits");
        let err = check_memory("hidden", u128::MAX, "a huge net").expect_err("too big");
        let text = err.to_string();
        assert!(
            text.contains("hidden") && text.contains("available"),
            "{text}"
        );
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(3 * 1024 * 1024 / 2), "1.5 MiB");
        assert!(
            available_memory().is_some_and(|b| b > 0),
            "Linux reports MemAvailable"
        );
    }

    #[test]
    fn libtorch_errors_keep_their_first_line_only() {
        let err = tch::TchError::Torch(
            "mat1 and mat2 must have the same dtype (Exception raised from foo at bar.cpp:1)\nframe #0: ...\nframe #1: ...".into(),
        );
        assert_eq!(
            crate::error::first_line(&err),
            "Internal torch error: mat1 and mat2 must have the same dtype"
        );
        let wrapped = EbmError::from(err).to_string();
        assert!(!wrapped.contains("frame #"), "{wrapped}");
    }

    use super::*;
    use rstest::rstest;
    use tch::Device;

    fn ints(v: &[i64]) -> Tensor {
        Tensor::from_slice(v)
    }

    fn floats(v: &[f64]) -> Tensor {
        Tensor::from_slice(v)
    }

    fn zeros(shape: &[i64]) -> Tensor {
        Tensor::zeros(shape, (Kind::Float, Device::Cpu))
    }

    fn hyper_name<T: std::fmt::Debug>(r: Result<T>) -> String {
        match r {
            Err(EbmError::Hyperparameter { name, .. }) => name,
            other => panic!("expected a hyperparameter error, got {other:?}"),
        }
    }

    #[rstest]
    #[case::positive_zero(check_positive("a", 0.0).map(drop), "a")]
    #[case::positive_nan(check_positive("a", f64::NAN).map(drop), "a")]
    #[case::positive_inf(check_positive("a", f64::INFINITY).map(drop), "a")]
    #[case::non_negative(check_non_negative("b", -1e-9).map(drop), "b")]
    #[case::non_negative_inf(check_non_negative("b", f64::INFINITY).map(drop), "b")]
    #[case::beta_zero(check_beta(0.0).map(drop), "beta")]
    #[case::beta_nan(check_beta(f64::NAN).map(drop), "beta")]
    #[case::count(check_count("c", 0).map(drop), "c")]
    #[case::momentum_one(check_momentum("m", 1.0).map(drop), "m")]
    #[case::momentum_negative(check_momentum("m", -0.1).map(drop), "m")]
    #[case::probability(check_probability("p", 1.5).map(drop), "p")]
    #[case::probability_nan(check_probability("p", f64::NAN).map(drop), "p")]
    fn bad_hyperparameters_name_their_key(#[case] result: Result<()>, #[case] key: &str) {
        assert_eq!(hyper_name(result), key);
    }

    #[test]
    fn good_hyperparameters_pass_through() {
        assert_eq!(check_positive("a", 2.0).ok(), Some(2.0));
        assert_eq!(check_non_negative("b", 0.0).ok(), Some(0.0));
        assert_eq!(check_beta(f64::INFINITY).ok(), Some(f64::INFINITY));
        assert_eq!(check_count("c", 3).ok(), Some(3));
        assert_eq!(check_momentum("m", 0.0).ok(), Some(0.0));
        assert_eq!(check_probability("p", 1.0).ok(), Some(1.0));
    }

    #[rstest]
    #[case::in_range(ints(&[0, 2, 1]), Some(3), Ok(3))]
    #[case::empty(Tensor::zeros([0], (Kind::Int64, Device::Cpu)), Some(3), Ok(0))]
    #[case::any_ids(ints(&[-4, 100]), None, Ok(2))]
    #[case::too_high(ints(&[0, 3]), Some(3), Err("class label 3 is out of range"))]
    #[case::negative(ints(&[-1, 0]), Some(3), Err("class label -1 is out of range"))]
    #[case::float(floats(&[0.0, 1.0]), Some(3), Err("must be Int64 class indices, got Double"))]
    #[case::int32(ints(&[0, 1]).to_kind(Kind::Int), None, Err("must be Int64"))]
    fn class_label_rule(
        #[case] labels: Tensor,
        #[case] classes: Option<i64>,
        #[case] expected: std::result::Result<i64, &str>,
    ) {
        match (class_labels(&labels, "the labels", classes), expected) {
            (Ok(b), Ok(want)) => assert_eq!(b, want),
            (Err(EbmError::InvalidLabel(m)), Err(says)) => {
                assert!(m.starts_with("the labels") && m.contains(says), "{m}");
            }
            (got, want) => panic!("got {got:?}, expected {want:?}"),
        }
    }

    #[test]
    fn class_labels_of_the_wrong_rank_are_a_shape_error() {
        let err =
            class_labels(&ints(&[0, 1]).view([2, 1]), "labels", Some(2)).expect_err("rejected");
        assert!(
            matches!(&err, EbmError::Shape { what, got, .. } if what == "labels" && got == &[2, 1]),
            "{err}"
        );
    }

    #[rstest]
    #[case::floats(floats(&[1.0, -1.0, 1.0]), None)]
    #[case::ints(ints(&[-1, 1]), None)]
    #[case::zero(floats(&[1.0, 0.0]), Some("label 0 is not in {-1, +1}"))]
    #[case::two(ints(&[2, 1]), Some("label 2 is not in {-1, +1}"))]
    fn sign_label_rule(#[case] labels: Tensor, #[case] bad: Option<&str>) {
        match (sign_labels(&labels, "signs"), bad) {
            (Ok(b), None) => assert_eq!(b, labels.size()[0]),
            (Err(EbmError::InvalidLabel(m)), Some(says)) => {
                assert!(m.starts_with("signs") && m.contains(says), "{m}");
            }
            (got, want) => panic!("got {got:?}, expected {want:?}"),
        }
        let err = sign_labels(&floats(&[1.0, -1.0]).view([1, 2]), "signs").expect_err("rejected");
        assert!(matches!(err, EbmError::Shape { .. }), "{err}");
    }

    #[test]
    fn candidate_tables_need_a_column() {
        assert_eq!(candidate_table(&zeros(&[0, 2]), "t").ok(), Some((0, 2)));
        let err = candidate_table(&zeros(&[3, 0]), "the table").expect_err("rejected");
        assert!(
            matches!(&err, EbmError::EmptyCandidates(m) if m.contains("the table has no column")),
            "{err}"
        );
        for shape in [&[3][..], &[2, 2, 2]] {
            let err = candidate_table(&zeros(shape), "t").expect_err("rejected");
            assert!(matches!(err, EbmError::Shape { .. }), "{err}");
        }
    }

    #[rstest]
    #[case::any_width(&[3, 2], 1, None, Some((3, 2)))]
    #[case::width(&[3, 2], 0, Some(2), Some((3, 2)))]
    #[case::no_rows_allowed(&[0, 4], 0, None, Some((0, 4)))]
    #[case::too_few_rows(&[1, 2], 2, None, None)]
    #[case::wrong_width(&[3, 2], 0, Some(3), None)]
    #[case::vector(&[3], 0, None, None)]
    #[case::rank_three(&[1, 2, 3], 0, None, None)]
    fn matrix_rule(
        #[case] shape: &[i64],
        #[case] min_rows: i64,
        #[case] width: Option<i64>,
        #[case] expected: Option<(i64, i64)>,
    ) {
        match (matrix(&zeros(shape), "m", min_rows, width), expected) {
            (Ok(dims), Some(want)) => assert_eq!(dims, want),
            (Err(EbmError::Shape { what, got, .. }), None) => {
                assert_eq!((what.as_str(), got.as_slice()), ("m", shape));
            }
            (got, want) => panic!("got {got:?}, expected {want:?}"),
        }
    }

    #[test]
    fn shape_errors_say_what_was_expected() {
        let err = matrix(&zeros(&[1, 2]), "z", 2, Some(2)).expect_err("rejected");
        assert_eq!(
            err.to_string(),
            "shape error in z: expected [N, 2] with N >= 2, got [1, 2]"
        );
        let err = vector(&zeros(&[1, 2]), "v").expect_err("rejected");
        assert_eq!(
            err.to_string(),
            "shape error in v: expected [B], got [1, 2]"
        );
    }

    #[test]
    fn batch_sizes_must_agree() {
        assert_eq!(ensure_batch_sizes(2, "a", 2, "b").ok(), Some(2));
        let err = ensure_same_batch(&zeros(&[2, 1]), "x", &zeros(&[3]), "y").expect_err("rejected");
        assert_eq!(err.to_string(), "batch size mismatch: x and y (2 vs 3)");
        let err = batch_size(&Tensor::from(1.0), "s").expect_err("rejected");
        assert!(matches!(err, EbmError::Shape { .. }), "{err}");
    }

    #[test]
    fn non_finite_values_are_named() {
        let t = floats(&[1.0, f64::INFINITY]);
        assert!(ensure_no_nan(&t, "t").is_ok());
        let err = ensure_finite(&t, "t").expect_err("rejected");
        assert!(matches!(err, EbmError::NonFinite { ref what, .. } if what == "t"));
        let err = ensure_no_nan(&floats(&[f64::NAN]), "n").expect_err("rejected");
        assert!(matches!(err, EbmError::NonFinite { kind: "NaN", .. }));
    }
}
