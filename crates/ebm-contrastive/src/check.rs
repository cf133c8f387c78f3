//! The input checks that are the contrastive losses' own (finite embeddings, two views of one
//! shape, similar/dissimilar indicators), built on `ebm_core::check`, whose rules (ranks,
//! batch sizes, class labels) are the same in every crate.

use ebm_core::check::{
    class_labels, ensure_batch_sizes, ensure_finite, floating, matrix, vector as rank_one,
};
use ebm_core::{EbmError, Result};
use tch::{Kind, Tensor};

/// Checks `t` is a finite `[N, D]` embedding matrix with at least `min_rows` rows; returns (N, D).
pub(crate) fn embeddings(t: &Tensor, what: &str, min_rows: i64) -> Result<(i64, i64)> {
    let dims = matrix(t, what, min_rows, None)?;
    at_least_one_dimension(t, what, dims.1)?;
    floating(t, what)?;
    ensure_finite(t, what)?;
    Ok(dims)
}

/// An embedding of width D = 0 has no direction, norm or statistics: a shape error.
fn at_least_one_dimension(t: &Tensor, what: &str, d: i64) -> Result<()> {
    if d < 1 {
        return Err(EbmError::Shape {
            what: what.to_string(),
            expected: "[N, D] embeddings with D >= 1".into(),
            got: t.size(),
        });
    }
    Ok(())
}

/// Checks two views are finite embeddings of the same shape `[N, D]`, N ≥ `min_rows`.
pub(crate) fn views(
    a: &Tensor,
    a_name: &str,
    b: &Tensor,
    b_name: &str,
    min_rows: i64,
) -> Result<(i64, i64)> {
    let dims = view_shapes(a, a_name, b, b_name, min_rows)?;
    ensure_finite(a, a_name)?;
    ensure_finite(b, b_name)?;
    Ok(dims)
}

/// Checks two views have the same shape `[N, D]`, N ≥ `min_rows` (shapes only, no pass over
/// the values).
pub(crate) fn view_shapes(
    a: &Tensor,
    a_name: &str,
    b: &Tensor,
    b_name: &str,
    min_rows: i64,
) -> Result<(i64, i64)> {
    let (n, d) = matrix(a, a_name, min_rows, None)?;
    let (m, e) = matrix(b, b_name, min_rows, None)?;
    at_least_one_dimension(a, a_name, d)?;
    floating(a, a_name)?;
    floating(b, b_name)?;
    ensure_batch_sizes(n, a_name, m, b_name)?;
    if d != e {
        return Err(EbmError::Shape {
            what: b_name.to_string(),
            expected: format!("[{n}, {d}], the shape of {a_name}"),
            got: b.size(),
        });
    }
    Ok((n, d))
}

/// Checks a finite vector of per-row values `[B]` (distances, energies); returns B.
pub(crate) fn vector(t: &Tensor, what: &str) -> Result<i64> {
    let b = rank_one(t, what)?;
    ensure_finite(t, what)?;
    Ok(b)
}

/// Checks a similar/dissimilar indicator `[B]` (Bool, or numbers in {0, 1}) and returns it as Bool.
pub(crate) fn pair_labels(similar: &Tensor, b: i64) -> Result<Tensor> {
    let rows = rank_one(similar, "similar")?;
    ensure_batch_sizes(b, "distances", rows, "similar")?;
    if similar.kind() == Kind::Bool {
        return Ok(similar.shallow_clone());
    }
    let binary = similar.f_eq(0)?.f_logical_or(&similar.f_eq(1)?)?.f_all()?;
    if !bool::try_from(binary)? {
        return Err(EbmError::InvalidLabel(
            "similar must be Bool or hold only 0 and 1".into(),
        ));
    }
    Ok(similar.f_ne(0)?)
}

/// A zero loss that is still connected to the graph of `t` (its gradient is zero).
pub(crate) fn connected_zero(t: &Tensor) -> Result<Tensor> {
    Ok(t.f_sum(t.kind())?.f_mul_scalar(0.0)?)
}

/// Int64 `[0, 1, …, n−1]` on `t`'s device.
pub(crate) fn arange(n: i64, t: &Tensor) -> Result<Tensor> {
    Ok(Tensor::f_arange(n, (Kind::Int64, t.device()))?)
}

/// Checks `labels` against `n` embeddings (class labels by `ebm_core::check`'s rule: Int64
/// `[N]`, any ids) and returns the same-label mask `[N, N]` and the positive mask (same
/// label, off the diagonal), both Bool on `device`.
pub(crate) fn label_masks(
    labels: &Tensor,
    n: i64,
    device: tch::Device,
) -> Result<(Tensor, Tensor)> {
    let m = class_labels(labels, "labels", None)?;
    ensure_batch_sizes(n, "embeddings", m, "labels")?;
    let labels = labels.f_to_device(device)?;
    let same = labels
        .f_unsqueeze(1)?
        .f_eq_tensor(&labels.f_unsqueeze(0)?)?;
    let off_diagonal = Tensor::f_eye(n, (Kind::Bool, device))?.f_logical_not()?;
    let positive = same.f_logical_and(&off_diagonal)?;
    Ok((same, positive))
}
