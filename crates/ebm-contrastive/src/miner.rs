//! Miners: pick informative triplets (anchor, positive, negative) from a labelled batch.
//!
//! Miners run under `no_grad` and return row indices only; the loss is computed afterwards
//! on the embeddings (see [`crate::TripletMargin::loss_mined`]), so gradients flow through
//! the chosen rows and never through the choice. Memory stays O(N²).

use crate::check;
use crate::distance::Distance;
use ebm_core::check::check_positive;
use ebm_core::{EbmError, Result};
use tch::{Kind, Tensor};

/// Mined triplets: three Int64 index vectors `[T]` into the rows of a batch.
#[derive(Debug)]
pub struct Triplets {
    /// Anchor rows.
    pub anchor: Tensor,
    /// Positive rows (same label as the anchor, not the anchor itself).
    pub positive: Tensor,
    /// Negative rows (a different label).
    pub negative: Tensor,
}

impl Triplets {
    /// The number of triplets T.
    pub fn len(&self) -> i64 {
        self.anchor.size().first().copied().unwrap_or(0)
    }

    /// True when no triplet was found.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The triplets as `(anchor, positive, negative)` tuples.
    pub fn to_vec(&self) -> Result<Vec<(i64, i64, i64)>> {
        let a = Vec::<i64>::try_from(&self.anchor)?;
        let p = Vec::<i64>::try_from(&self.positive)?;
        let n = Vec::<i64>::try_from(&self.negative)?;
        Ok(a.into_iter()
            .zip(p)
            .zip(n)
            .map(|((a, p), n)| (a, p, n))
            .collect())
    }

    /// Checks three Int64 vectors of one length, with every index in [0, n).
    pub(crate) fn check_against(&self, n: i64) -> Result<()> {
        let t = self.len();
        for (what, idx) in [
            ("anchor", &self.anchor),
            ("positive", &self.positive),
            ("negative", &self.negative),
        ] {
            if idx.size() != [t] || idx.kind() != Kind::Int64 {
                return Err(EbmError::Shape {
                    what: format!("triplet {what} indices"),
                    expected: format!("Int64 [{t}]"),
                    got: idx.size(),
                });
            }
            if t > 0 {
                let lo = i64::try_from(idx.f_min()?)?;
                let hi = i64::try_from(idx.f_max()?)?;
                if lo < 0 || hi >= n {
                    return Err(EbmError::InvalidLabel(format!(
                        "triplet {what} index out of range [0, {n}): {lo}..={hi}"
                    )));
                }
            }
        }
        Ok(())
    }
}

/// Distances `[N, N]`, the same-label mask `[N, N]` and the positive mask (same label, off
/// the diagonal), all without gradient.
fn label_tables(
    embeddings: &Tensor,
    labels: &Tensor,
    distance: &Distance,
) -> Result<(Tensor, Tensor, Tensor)> {
    let d = distance.pairwise(embeddings, embeddings)?;
    let (same, positive) = check::label_masks(labels, d.size()[0], embeddings.device())?;
    Ok((d, same, positive))
}

/// Triplets from the rows (a, p) of a Bool `[N, N]` mask and the negative chosen per cell.
fn triplets_from(mask: &Tensor, negative_of: &Tensor) -> Result<Triplets> {
    let pairs = mask.f_nonzero()?;
    let anchor = pairs.f_select(1, 0)?.f_contiguous()?;
    let positive = pairs.f_select(1, 1)?.f_contiguous()?;
    let n = mask.size()[1];
    let flat = anchor.f_mul_scalar(n)?.f_add(&positive)?;
    let negative = negative_of.f_flatten(0, -1)?.f_index_select(0, &flat)?;
    Ok(Triplets {
        anchor,
        positive,
        negative,
    })
}

/// Hardest-negative mining: for every positive pair (a, p) — same label, a ≠ p — the
/// negative n closest to the anchor (smallest d(a, n) over rows with another label).
/// Anchors with no positive or no negative give no triplet.
///
/// `embeddings [N, D]`, integer `labels [N]`; runs without gradient.
pub fn hardest_negative(
    embeddings: &Tensor,
    labels: &Tensor,
    distance: &Distance,
) -> Result<Triplets> {
    let _guard = tch::no_grad_guard();
    let (d, same, positive) = label_tables(embeddings, labels, distance)?;
    let n = d.size()[0];
    let negative_d = d.f_masked_fill(&same, f64::INFINITY)?;
    let (_, nearest) = negative_d.f_min_dim(1, true)?;
    let has_negative = same.f_logical_not()?.f_any_dim(1, true)?;
    let mask = positive.f_logical_and(&has_negative)?;
    triplets_from(&mask, &nearest.f_expand([n, n], false)?)
}

/// Semi-hard negative mining (FaceNet): for every positive pair (a, p), the negative n with
/// d(a, p) < d(a, n) < d(a, p) + margin that is closest to the anchor. Pairs with no such
/// negative give no triplet.
///
/// Each anchor's negative distances are sorted once and every positive pair finds its
/// candidate by binary search, so time is O(N² log N) and memory O(N²).
pub fn semi_hard_negative(
    embeddings: &Tensor,
    labels: &Tensor,
    distance: &Distance,
    margin: f64,
) -> Result<Triplets> {
    let margin = check_positive("margin", margin)?;
    let _guard = tch::no_grad_guard();
    let (d, same, positive) = label_tables(embeddings, labels, distance)?;
    let n = d.size()[0];
    if n == 0 {
        return triplets_from(&positive, &d.f_to_kind(Kind::Int64)?);
    }
    let (sorted, order) = d.f_masked_fill(&same, f64::INFINITY)?.f_sort(1, false)?;
    // For cell (a, p): the first sorted negative of anchor a strictly farther than d(a, p).
    let first_farther = d.f_searchsorted(&sorted, false, true, "right", None::<Tensor>)?;
    let found = first_farther.f_lt(n)?;
    let slot = first_farther.f_clamp_max(n - 1)?;
    let candidate_d = sorted.f_gather(1, &slot, false)?;
    let candidate = order.f_gather(1, &slot, false)?;
    let within = candidate_d.f_lt_tensor(&d.f_add_scalar(margin)?)?;
    let mask = positive
        .f_logical_and(&found)?
        .f_logical_and(&within)?
        .f_logical_and(&candidate_d.f_isfinite()?)?;
    triplets_from(&mask, &candidate)
}
