//! Input checks shared by the losses: shapes, finiteness, labels.

use ebm_core::error::{batch_size, ensure_finite};
use ebm_core::{EbmError, Result};
use tch::{Kind, Tensor};

/// Checks `t` is a finite `[N, D]` embedding matrix with at least `min_rows` rows; returns (N, D).
pub(crate) fn embeddings(t: &Tensor, what: &str, min_rows: i64) -> Result<(i64, i64)> {
    let dims = embedding_shape(t, what, min_rows)?;
    ensure_finite(t, what)?;
    Ok(dims)
}

/// Checks `t` is an `[N, D]` matrix with at least `min_rows` rows (its shape only).
fn embedding_shape(t: &Tensor, what: &str, min_rows: i64) -> Result<(i64, i64)> {
    let dims = t.size();
    if dims.len() != 2 || dims[0] < min_rows {
        return Err(EbmError::Shape {
            what: what.to_string(),
            expected: format!("[N, D] embeddings with N >= {min_rows}"),
            got: dims,
        });
    }
    Ok((dims[0], dims[1]))
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
    let (n, d) = embedding_shape(a, a_name, min_rows)?;
    let (m, e) = embedding_shape(b, b_name, min_rows)?;
    if n != m {
        return Err(EbmError::BatchMismatch {
            what: format!("{a_name} and {b_name}"),
            left: n,
            right: m,
        });
    }
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
    let dims = t.size();
    if dims.len() != 1 {
        return Err(EbmError::Shape {
            what: what.to_string(),
            expected: "[B]".into(),
            got: dims,
        });
    }
    ensure_finite(t, what)?;
    Ok(dims[0])
}

/// True for the integer kinds class labels may use.
fn is_integer(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::Uint8 | Kind::Int8 | Kind::Int16 | Kind::Int | Kind::Int64
    )
}

/// Checks class labels: an integer tensor `[N]` matching `n` embeddings.
fn labels(labels: &Tensor, n: i64) -> Result<()> {
    let dims = labels.size();
    if dims.len() != 1 {
        return Err(EbmError::Shape {
            what: "labels".into(),
            expected: "[N]".into(),
            got: dims,
        });
    }
    if !is_integer(labels.kind()) {
        return Err(EbmError::InvalidLabel(format!(
            "labels must be an integer tensor, got {:?}",
            labels.kind()
        )));
    }
    let m = batch_size(labels, "labels")?;
    if m != n {
        return Err(EbmError::BatchMismatch {
            what: "embeddings and labels".into(),
            left: n,
            right: m,
        });
    }
    Ok(())
}

/// Checks a similar/dissimilar indicator `[B]` (Bool, or numbers in {0, 1}) and returns it as Bool.
pub(crate) fn pair_labels(similar: &Tensor, b: i64) -> Result<Tensor> {
    let dims = similar.size();
    if dims.len() != 1 {
        return Err(EbmError::Shape {
            what: "similar".into(),
            expected: "[B]".into(),
            got: dims,
        });
    }
    if dims[0] != b {
        return Err(EbmError::BatchMismatch {
            what: "distances and similar".into(),
            left: b,
            right: dims[0],
        });
    }
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

/// Checks integer `labels` against `n` embeddings and returns the same-label mask `[N, N]`
/// and the positive mask (same label, off the diagonal), both Bool on `device`.
pub(crate) fn label_masks(
    labels: &Tensor,
    n: i64,
    device: tch::Device,
) -> Result<(Tensor, Tensor)> {
    self::labels(labels, n)?;
    let labels = labels.f_to_device(device)?;
    let same = labels
        .f_unsqueeze(1)?
        .f_eq_tensor(&labels.f_unsqueeze(0)?)?;
    let off_diagonal = Tensor::f_eye(n, (Kind::Bool, device))?.f_logical_not()?;
    let positive = same.f_logical_and(&off_diagonal)?;
    Ok((same, positive))
}
