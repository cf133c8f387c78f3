//! Contrastive losses: NT-Xent (SimCLR), InfoNCE over explicit counter-examples, SupCon,
//! margin contrastive (Hadsell, Chopra, LeCun 2006) and triplet margin.
//!
//! Every loss that compares all pairs of a batch builds one `[N, N]` table and reduces it
//! with log-sum-exp; none builds an `[N, N, N]` tensor.

use crate::check;
use crate::distance::{normalize, Distance};
use crate::miner::Triplets;
use ebm_core::check::{
    candidate_table, check_positive, ensure_batch_sizes, ensure_finite, ensure_same_batch,
};
use ebm_core::{EbmError, Energy, Result};
use serde::{Deserialize, Serialize};
use tch::{Reduction, Tensor};

/// Cross-entropy of each row of `logits [B, K]` against the column `targets [B]`, averaged.
fn cross_entropy(logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
    Ok(logits.f_cross_entropy_loss::<Tensor>(targets, None, Reduction::Mean, -100, 0.0)?)
}

/// Cosine similarities of the rows of `z [N, D]` divided by τ, with the diagonal (each
/// row's similarity to itself) set to −∞ so that it drops out of every softmax.
fn masked_similarity_logits(z: &Tensor, temperature: f64, eps: f64) -> Result<Tensor> {
    // Similarities lie in [−1, 1]: 1/τ must be a finite number of z's kind, or the logits
    // overflow to ±∞ and the loss is NaN.
    let inverse = 1.0 / temperature;
    if !inverse.is_finite() || ebm_core::gibbs::representable_beta(inverse, z.kind()) < inverse {
        return Err(EbmError::hyperparameter(
            "temperature",
            "is too small for the float kind of the embeddings (1/τ overflows it)",
            format!("{temperature:e} with {:?} embeddings", z.kind()),
        ));
    }
    let zn = normalize(z, eps)?;
    // Scale the [N, D] factor rather than the [N, N] product: one table-sized pass fewer.
    let mut logits = zn
        .f_div_scalar(temperature)?
        .f_matmul(&zn.f_transpose(0, 1)?)?;
    // The −∞ diagonal is written outside autograd. Both users reduce the table by a
    // (log-)softmax whose value at −∞ is 0 and which never reads the diagonal afterwards
    // (NT-Xent's targets are off the diagonal, SupCon masks it out), so those entries get a
    // zero gradient anyway; recorded, the fill would make backward copy the whole [N, N]
    // gradient only to zero its diagonal once more.
    {
        let _guard = tch::no_grad_guard();
        let _ = logits.f_fill_diagonal_(f64::NEG_INFINITY, false)?;
    }
    Ok(logits)
}

/// Hyperparameters of [`NtXent`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NtXentConfig {
    /// Temperature τ > 0 dividing the cosine similarities (default 0.5).
    pub temperature: f64,
    /// Normalisation floor of the cosine (default 1e-8).
    pub eps: f64,
}

impl Default for NtXentConfig {
    fn default() -> Self {
        NtXentConfig {
            temperature: 0.5,
            eps: 1e-8,
        }
    }
}

impl NtXentConfig {
    /// Checks τ > 0 and eps > 0.
    pub fn check(&self) -> Result<NtXent> {
        Ok(NtXent {
            temperature: check_positive("temperature", self.temperature)?,
            eps: check_positive("eps", self.eps)?,
        })
    }
}

/// NT-Xent / InfoNCE over 2N views, as in SimCLR.
///
/// With `z = [z1; z2]` (2N rows) and s_ij = cos(z_i, z_j) / τ, the loss of anchor i with
/// positive p(i) (the other view of the same item) is
/// −log( e^{s_i,p(i)} / Σ_{k≠i} e^{s_ik} ); the loss is the mean over all 2N anchors, so
/// both directions count (symmetric). The other 2N − 2 views are the negatives.
///
/// Memory is O(N²): one `[2N, 2N]` similarity table, its diagonal filled with −∞, reduced
/// by cross-entropy (log-sum-exp).
///
/// N = 1 is defined: with no negatives each anchor's softmax has a single term and the loss
/// is exactly 0 (with zero gradient), the value log(2N − 1) of uniform similarities takes
/// there too.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NtXent {
    temperature: f64,
    eps: f64,
}

impl NtXent {
    /// The temperature τ.
    pub fn temperature(&self) -> f64 {
        self.temperature
    }

    /// The loss of two views `z1 [N, D]`, `z2 [N, D]` (row i of each is the same item):
    /// a scalar. Errors: shapes that differ or are not `[N, D]` with N ≥ 1, non-finite
    /// values.
    pub fn loss(&self, z1: &Tensor, z2: &Tensor) -> Result<Tensor> {
        let (n, _) = check::view_shapes(z1, "z1", z2, "z2", 1)?;
        let z = Tensor::f_cat(&[z1, z2], 0)?;
        let logits = masked_similarity_logits(&z, self.temperature, self.eps)?;
        // Row i < N has its positive at i + N, row i ≥ N at i − N.
        let idx = check::arange(n, z1)?;
        let targets = Tensor::f_cat(&[idx.f_add_scalar(n)?, idx], 0)?;
        let loss = cross_entropy(&logits, &targets)?;
        // A NaN or infinity in a view makes the loss non-finite, and finite views give a
        // finite loss (the cosines are bounded), so one read of the loss stands in for a
        // pass over each view; only then are the views checked, to say which one is bad.
        if !bool::try_from(loss.f_isfinite()?)? {
            check::views(z1, "z1", z2, "z2", 1)?;
        }
        Ok(loss)
    }
}

/// Hyperparameters of [`SupCon`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SupConConfig {
    /// Temperature τ > 0 (default 0.1).
    pub temperature: f64,
    /// Normalisation floor of the cosine (default 1e-8).
    pub eps: f64,
}

impl Default for SupConConfig {
    fn default() -> Self {
        SupConConfig {
            temperature: 0.1,
            eps: 1e-8,
        }
    }
}

impl SupConConfig {
    /// Checks τ > 0 and eps > 0.
    pub fn check(&self) -> Result<SupCon> {
        Ok(SupCon {
            temperature: check_positive("temperature", self.temperature)?,
            eps: check_positive("eps", self.eps)?,
        })
    }
}

/// Supervised contrastive loss (Khosla et al. 2020, the L_out form): every other row with
/// the same label is a positive.
///
/// For anchor i with positives P(i) ≠ ∅:
/// −(1/|P(i)|) Σ_{p∈P(i)} log( e^{s_ip} / Σ_{k≠i} e^{s_ik} ), s = cos / τ; the loss is the
/// mean over anchors that have a positive. Anchors without one are left out; a batch where
/// no anchor has a positive gives 0, still connected to the graph. For several views per
/// item, stack the views as rows and repeat the labels. Memory is O(N²).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SupCon {
    temperature: f64,
    eps: f64,
}

impl SupCon {
    /// The loss of `features [N, D]` with integer `labels [N]`: a scalar.
    pub fn loss(&self, features: &Tensor, labels: &Tensor) -> Result<Tensor> {
        let (n, _) = check::embeddings(features, "features", 1)?;
        let (_, positive) = check::label_masks(labels, n, features.device())?;
        let log_prob = masked_similarity_logits(features, self.temperature, self.eps)?
            .f_log_softmax(1, None)?;
        let count = positive.f_sum_dim_intlist(1, false, log_prob.kind())?;
        let has_positive = count.f_gt(0)?;
        if !bool::try_from(has_positive.f_any()?)? {
            return check::connected_zero(features);
        }
        // Zero out non-positives before summing: the −∞ diagonal must not meet a 0 weight.
        let positive_sum = log_prob
            .f_masked_fill(&positive.f_logical_not()?, 0.0)?
            .f_sum_dim_intlist(1, false, None)?;
        let per_anchor = positive_sum.f_div(&count.f_clamp_min(1.0)?)?.f_neg()?;
        Ok(per_anchor
            .f_masked_select(&has_positive)?
            .f_mean(None::<tch::Kind>)?)
    }
}

/// Hyperparameters of [`InfoNce`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InfoNceConfig {
    /// Temperature τ > 0 dividing the negated energies (default 1).
    pub temperature: f64,
}

impl Default for InfoNceConfig {
    fn default() -> Self {
        InfoNceConfig { temperature: 1.0 }
    }
}

impl InfoNceConfig {
    /// Checks τ > 0.
    pub fn check(&self) -> Result<InfoNce> {
        Ok(InfoNce {
            temperature: check_positive("temperature", self.temperature)?,
        })
    }
}

/// InfoNCE over explicit counter-examples, as implicit behavioural cloning trains an
/// implicit regression: a softmax over −E/τ of the positive and K negatives, with the
/// positive as the target class:
/// −log( e^{−E⁺/τ} / (e^{−E⁺/τ} + Σ_k e^{−E⁻_k/τ}) ).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InfoNce {
    temperature: f64,
}

impl InfoNce {
    /// The loss from energies: `positive [B]`, `negatives [B, K]` (K ≥ 1): a scalar (mean
    /// over B).
    pub fn loss_from_energies(&self, positive: &Tensor, negatives: &Tensor) -> Result<Tensor> {
        let b = check::vector(positive, "positive energies")?;
        let (rows, _) = candidate_table(negatives, "negative energies")?;
        ensure_batch_sizes(b, "positive energies", rows, "negative energies")?;
        ensure_finite(negatives, "negative energies")?;
        let energies = Tensor::f_cat(&[positive.f_unsqueeze(1)?, negatives.shallow_clone()], 1)?;
        let logits = energies.f_neg()?.f_div_scalar(self.temperature)?;
        let targets = Tensor::f_zeros([b], (tch::Kind::Int64, positive.device()))?;
        cross_entropy(&logits, &targets)
    }

    /// The loss for any energy E(x, y): `x [B, ...]`, the correct answers `y_pos [B, ...]`
    /// and K counter-examples per row `y_neg [B, K, ...]`. One energy call on B·(K+1) rows.
    pub fn loss<E: Energy + ?Sized>(
        &self,
        energy: &E,
        x: &Tensor,
        y_pos: &Tensor,
        y_neg: &Tensor,
    ) -> Result<Tensor> {
        ensure_same_batch(x, "x", y_pos, "y_pos")?;
        ensure_same_batch(x, "x", y_neg, "y_neg")?;
        let pos_dims = y_pos.size();
        let neg_dims = y_neg.size();
        if neg_dims.len() != pos_dims.len() + 1 || neg_dims[2..] != pos_dims[1..] {
            return Err(EbmError::Shape {
                what: "y_neg".into(),
                expected: format!("[B, K, {:?}...] to match y_pos", &pos_dims[1..]),
                got: neg_dims,
            });
        }
        if neg_dims[1] == 0 {
            return Err(EbmError::EmptyCandidates(
                "InfoNCE needs at least one negative".into(),
            ));
        }
        let ys = Tensor::f_cat(&[y_pos.f_unsqueeze(1)?, y_neg.shallow_clone()], 1)?;
        let energies = energy.row_candidate_energies(x, &ys)?;
        let positive = energies.f_select(1, 0)?;
        let negatives = energies.f_narrow(1, 1, neg_dims[1])?;
        self.loss_from_energies(&positive, &negatives)
    }
}

/// Hyperparameters of [`MarginContrastive`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MarginContrastiveConfig {
    /// Margin m > 0: dissimilar pairs farther apart than m cost nothing (default 1).
    pub margin: f64,
}

impl Default for MarginContrastiveConfig {
    fn default() -> Self {
        MarginContrastiveConfig { margin: 1.0 }
    }
}

impl MarginContrastiveConfig {
    /// Checks m > 0.
    pub fn check(&self) -> Result<MarginContrastive> {
        Ok(MarginContrastive {
            margin: check_positive("margin", self.margin)?,
        })
    }
}

/// The margin contrastive loss of Hadsell, Chopra and LeCun (2006) on pair distances D:
/// ½D² for a similar pair, ½max(0, m − D)² for a dissimilar one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MarginContrastive {
    margin: f64,
}

impl MarginContrastive {
    /// Per-pair losses `[B]` from distances `[B]` and `similar [B]` (Bool, or 0/1 numbers).
    pub fn per_pair(&self, distance: &Tensor, similar: &Tensor) -> Result<Tensor> {
        let b = check::vector(distance, "distances")?;
        let similar = check::pair_labels(similar, b)?.f_to_device(distance.device())?;
        let pull = distance.f_square()?.f_mul_scalar(0.5)?;
        let push = distance
            .f_neg()?
            .f_add_scalar(self.margin)?
            .f_relu()?
            .f_square()?
            .f_mul_scalar(0.5)?;
        Ok(pull.f_where_self(&similar, &push)?)
    }

    /// The mean of [`MarginContrastive::per_pair`]: a scalar.
    pub fn loss(&self, distance: &Tensor, similar: &Tensor) -> Result<Tensor> {
        Ok(self
            .per_pair(distance, similar)?
            .f_mean(None::<tch::Kind>)?)
    }

    /// The loss on pairs of embeddings `a [B, D]`, `b [B, D]` under `distance`.
    pub fn loss_on_embeddings(
        &self,
        distance: &Distance,
        a: &Tensor,
        b: &Tensor,
        similar: &Tensor,
    ) -> Result<Tensor> {
        self.loss(&distance.paired(a, b)?, similar)
    }
}

/// Hyperparameters of [`TripletMargin`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TripletMarginConfig {
    /// Margin m > 0 (default 1).
    pub margin: f64,
    /// The distance between embeddings (default Euclidean, not squared).
    pub distance: Distance,
}

impl Default for TripletMarginConfig {
    fn default() -> Self {
        TripletMarginConfig {
            margin: 1.0,
            distance: Distance::EUCLIDEAN,
        }
    }
}

impl TripletMarginConfig {
    /// Checks m > 0 and the distance's parameters.
    pub fn check(&self) -> Result<TripletMargin> {
        self.distance.check()?;
        Ok(TripletMargin {
            margin: check_positive("margin", self.margin)?,
            distance: self.distance,
        })
    }
}

/// The triplet margin loss max(0, d(a, p) − d(a, n) + m).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TripletMargin {
    margin: f64,
    distance: Distance,
}

impl TripletMargin {
    /// The margin m.
    pub fn margin(&self) -> f64 {
        self.margin
    }

    /// The distance used.
    pub fn distance(&self) -> Distance {
        self.distance
    }

    /// Per-triplet losses `[B]` from distances d(a, p) `[B]` and d(a, n) `[B]`.
    pub fn per_triplet_from_distances(&self, d_ap: &Tensor, d_an: &Tensor) -> Result<Tensor> {
        check::vector(d_ap, "d(anchor, positive)")?;
        check::vector(d_an, "d(anchor, negative)")?;
        ensure_same_batch(d_ap, "d(anchor, positive)", d_an, "d(anchor, negative)")?;
        Ok(d_ap.f_sub(d_an)?.f_add_scalar(self.margin)?.f_relu()?)
    }

    /// Per-triplet losses `[B]` from embeddings `anchor`, `positive`, `negative`, each `[B, D]`.
    pub fn per_triplet(
        &self,
        anchor: &Tensor,
        positive: &Tensor,
        negative: &Tensor,
    ) -> Result<Tensor> {
        let d_ap = self.distance.paired(anchor, positive)?;
        let d_an = self.distance.paired(anchor, negative)?;
        self.per_triplet_from_distances(&d_ap, &d_an)
    }

    /// The mean of [`TripletMargin::per_triplet`]: a scalar.
    pub fn loss(&self, anchor: &Tensor, positive: &Tensor, negative: &Tensor) -> Result<Tensor> {
        Ok(self
            .per_triplet(anchor, positive, negative)?
            .f_mean(None::<tch::Kind>)?)
    }

    /// The mean loss over mined `triplets` of rows of `embeddings [N, D]` (see
    /// [`crate::hardest_negative`], [`crate::semi_hard_negative`]). No triplet gives 0,
    /// still connected to the graph.
    pub fn loss_mined(&self, embeddings: &Tensor, triplets: &Triplets) -> Result<Tensor> {
        let (n, _) = check::embeddings(embeddings, "embeddings", 0)?;
        triplets.check_against(n)?;
        if triplets.is_empty() {
            return check::connected_zero(embeddings);
        }
        let device = embeddings.device();
        let rows = |t: &Tensor| -> Result<Tensor> {
            Ok(embeddings.f_index_select(0, &t.f_to_device(device)?)?)
        };
        self.loss(
            &rows(&triplets.anchor)?,
            &rows(&triplets.positive)?,
            &rows(&triplets.negative)?,
        )
    }
}
