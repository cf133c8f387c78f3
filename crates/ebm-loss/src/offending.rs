//! The most offending incorrect answer ȳ_i: the lowest-energy y ≠ y_i (finite Y), or the
//! lowest-energy y at least ε away from y_i (continuous Y).
//!
//! Both searches go through `ebm-core`'s inference ([`argmin_table`],
//! [`GradientDescent::minimize_from`] with an [`Exclusion`] ball); this module only masks
//! the correct answers and picks the best of what the search returns.

use ebm_core::check::{
    batch_size, candidate_table, check_positive, class_labels, ensure_batch_sizes, ensure_no_nan,
    ensure_shape,
};
use ebm_core::{
    argmin_table, ContinuousSpace, EbmError, Energy, Exclusion, GradientDescent, Result,
};
use tch::{Kind, Tensor};

/// The most offending incorrect answer of each row of a finite Y.
#[derive(Debug)]
pub struct MostOffending {
    /// Its index in Y, `[B]` Int64 (no gradient).
    pub index: Tensor,
    /// E_I, its energy, `[B]`: taken from the energy table, so it keeps the table's autograd
    /// graph (differentiable in W when the table is).
    pub energy: Tensor,
}

/// The size `[B, K]` of an energy table, checked (K ≥ 1, no NaN).
fn table_dims(e_all: &Tensor) -> Result<(i64, i64)> {
    let dims = candidate_table(e_all, "energy table e_all")?;
    ensure_no_nan(e_all, "energy table e_all")?;
    Ok(dims)
}

/// Checks class labels against a table of `b` rows and `k` answers: Int64 `[B]` with
/// values in {0, …, K−1} (`ebm_core::check`'s rule).
fn check_labels(labels: &Tensor, b: i64, k: i64) -> Result<()> {
    let rows = class_labels(labels, "correct labels", Some(k))?;
    ensure_batch_sizes(b, "e_all", rows, "correct labels").map(drop)
}

/// The energy of each row's labelled answer, E_C = e_all[b, label_b], `[B]`.
///
/// Keeps the table's autograd graph. Labels are checked (Int64 `[B]`, in range).
pub fn energy_at(e_all: &Tensor, labels: &Tensor) -> Result<Tensor> {
    let (b, k) = table_dims(e_all)?;
    check_labels(labels, b, k)?;
    Ok(e_all
        .f_gather(1, &labels.f_unsqueeze(1)?, false)?
        .f_squeeze_dim(1)?)
}

/// The most offending incorrect answer over a finite Y with one correct label per row:
/// the argmin of `e_all [B, K]` once the correct label is masked with `+inf`.
///
/// `correct` is Int64 `[B]` in {0, …, K−1}; K must be ≥ 2 (a row needs an incorrect
/// answer). Ties go to one of the tied answers.
pub fn most_offending_finite(e_all: &Tensor, correct: &Tensor) -> Result<MostOffending> {
    let (b, k) = table_dims(e_all)?;
    if b > 0 && k < 2 {
        return Err(EbmError::EmptyCandidates(
            "a row has no incorrect answer: every answer is marked correct (K = 1)".into(),
        ));
    }
    check_labels(correct, b, k)?;
    let mask = Tensor::f_arange(k, (Kind::Int64, e_all.device()))?
        .f_unsqueeze(0)?
        .f_eq_tensor(&correct.f_unsqueeze(1)?)?;
    // One label per row and K ≥ 2: every row has an incorrect answer, and the table and
    // the mask are checked, so the masked search needs no second pass of checks.
    lowest_unmasked(e_all, &mask)
}

/// The most offending incorrect answer when a row may have several correct answers:
/// `correct_mask [B, K]` (Bool) is true at every correct answer, and every row needs at
/// least one incorrect answer.
pub fn most_offending_finite_masked(
    e_all: &Tensor,
    correct_mask: &Tensor,
) -> Result<MostOffending> {
    let (b, k) = table_dims(e_all)?;
    if correct_mask.kind() != Kind::Bool {
        return Err(EbmError::Shape {
            what: "correct mask".into(),
            expected: format!("a Bool tensor [{b}, {k}]"),
            got: correct_mask.size(),
        });
    }
    ensure_shape(correct_mask, "correct mask", &[b, k])?;
    if b > 0 && bool::try_from(correct_mask.f_all_dim(1, false)?.f_any()?)? {
        return Err(EbmError::EmptyCandidates(
            "a row has no incorrect answer: every answer is marked correct".into(),
        ));
    }
    lowest_unmasked(e_all, correct_mask)
}

/// The argmin of each row of `e_all` once the masked answers are set to `+inf`.
fn lowest_unmasked(e_all: &Tensor, correct_mask: &Tensor) -> Result<MostOffending> {
    let masked = e_all.f_masked_fill(correct_mask, f64::INFINITY)?;
    let (index, energy) = argmin_table(&masked)?;
    Ok(MostOffending { index, energy })
}

/// The most offending incorrect answer over a continuous Y: the lowest-energy y at least ε
/// away from y_i.
///
/// - `x [B, ...]`, `y_correct [B, d]` with d = `space.dim()`;
/// - `candidates`: starting points shared by the batch `[K, d]` (samples or a grid), or one
///   set per row `[B, K, d]`;
/// - `epsilon` > 0: the exclusion radius (Euclidean).
///
/// The candidates (projected into `space`) that lie at least ε from y_i are scored; gradient
/// descent then starts from every candidate with the ball ‖y − y_i‖ < ε excluded
/// ([`GradientDescent::minimize_from`] with an [`Exclusion`]); the lowest-energy point of
/// both pools that is at least ε away (up to rounding: a few ulps of |y_i| + ε) wins. The
/// search runs without gradients and ȳ is detached; E_I is then recomputed as
/// `energy.energy(x, ȳ)` in the caller's grad mode, so it is differentiable in W.
///
/// Returns `(ȳ [B, d], E_I [B])`. A row where no point ends up ε away (a box smaller than
/// the ball) is an [`EbmError::EmptyCandidates`] error.
pub fn most_offending_continuous<E: Energy + ?Sized>(
    energy: &E,
    x: &Tensor,
    y_correct: &Tensor,
    candidates: &Tensor,
    epsilon: f64,
    descent: &GradientDescent,
    space: &ContinuousSpace,
) -> Result<(Tensor, Tensor)> {
    check_positive("epsilon", epsilon)?;
    let d = space.dim();
    let b = batch_size(x, "x")?;
    let yc_size = y_correct.size();
    if yc_size.len() == 2 {
        ensure_batch_sizes(b, "x", yc_size[0], "y_correct")?;
    }
    ensure_shape(y_correct, "y_correct", &[b, d])?;
    ensure_no_nan(y_correct, "y_correct")?;
    let cand_size = candidates.size();
    let (k, per_row) = match cand_size.as_slice() {
        [k, cd] if *cd == d => (*k, false),
        [cb, k, cd] if *cb == b && *cd == d => (*k, true),
        _ => {
            return Err(EbmError::Shape {
                what: "candidates".into(),
                expected: format!("[K, {d}] or [{b}, K, {d}]"),
                got: cand_size,
            })
        }
    };
    if k == 0 {
        return Err(EbmError::EmptyCandidates(
            "no candidate to start the search from".into(),
        ));
    }
    ensure_no_nan(candidates, "candidates")?;

    let best_y = {
        let _guard = tch::no_grad_guard();
        let yc = y_correct.detach();
        let starts = if per_row {
            candidates.detach()
        } else {
            candidates
                .detach()
                .f_unsqueeze(0)?
                .f_expand([b, k, d], false)?
        };
        let starts = space.project(&starts)?.f_contiguous()?;
        let scored = energy.row_candidate_energies(x, &starts)?;
        ensure_shape(&scored, "candidate energies", &[b, k])?;
        let exclusion = Exclusion {
            centers: &yc,
            radius: epsilon,
        };
        let minima = descent.minimize_from(energy, x, space, &starts, Some(exclusion))?;

        let pool_y = Tensor::f_cat(&[&starts, &minima.y.f_to_kind(starts.kind())?], 1)?;
        let pool_e = Tensor::f_cat(&[&scored, &minima.energy.f_to_kind(scored.kind())?], 1)?;
        let dist = pool_y
            .f_sub(&yc.f_unsqueeze(1)?)?
            .f_norm_scalaropt_dim(2.0, [2], false)?;
        let scale = f64::try_from(yc.f_abs()?.f_max()?.f_to_kind(Kind::Double)?)? + epsilon;
        let tolerance = 16.0 * unit_roundoff(pool_y.kind()) * scale * (d as f64).sqrt();
        let far = dist.f_ge(epsilon - tolerance)?;
        if !bool::try_from(far.f_any_dim(1, false)?.f_all()?)? {
            return Err(EbmError::EmptyCandidates(format!(
                "a row has no point at least epsilon = {epsilon} away from its correct answer \
                 (is the space smaller than the exclusion ball?)"
            )));
        }
        let pool_e = pool_e.f_masked_fill(&far.f_logical_not()?, f64::INFINITY)?;
        let (index, _) = argmin_table(&pool_e)?;
        pool_y
            .f_gather(
                1,
                &index.f_view([b, 1, 1])?.f_expand([b, 1, d], false)?,
                false,
            )?
            .f_squeeze_dim(1)?
    };
    let e_incorrect = energy.energy(x, &best_y)?;
    ensure_shape(&e_incorrect, "energy output", &[b])?;
    Ok((best_y, e_incorrect))
}

/// The unit roundoff of a float kind (half the gap between 1 and the next number).
fn unit_roundoff(kind: Kind) -> f64 {
    match kind {
        Kind::Double => f64::EPSILON / 2.0,
        Kind::Half => 4.9e-4,
        Kind::BFloat16 => 3.9e-3,
        _ => f64::from(f32::EPSILON) / 2.0,
    }
}
