//! Non-contrastive losses: positives only, with collapse prevented by regularising the
//! embeddings (VICReg, Barlow Twins) or by a stop-gradient (SimSiam, BYOL).

use crate::check;
use crate::distance::normalize;
use ebm_core::check::{check_non_negative, check_positive};
use ebm_core::Result;
use serde::{Deserialize, Serialize};
use tch::{Kind, Reduction, Tensor};

/// The sum of squares of the off-diagonal entries of a square matrix `[D, D]`.
fn off_diagonal_square_sum(m: &Tensor) -> Result<Tensor> {
    let d = m.size()[0];
    let diagonal = Tensor::f_eye(d, (Kind::Bool, m.device()))?;
    Ok(m.f_square()?
        .f_masked_fill(&diagonal, 0.0)?
        .f_sum(m.kind())?)
}

/// Hyperparameters of [`VicReg`] (Bardes, Ponce, LeCun 2022).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VicRegConfig {
    /// Weight λ of the invariance term (default 25).
    pub invariance_weight: f64,
    /// Weight μ of the variance term (default 25).
    pub variance_weight: f64,
    /// Weight ν of the covariance term (default 1).
    pub covariance_weight: f64,
    /// ε inside the standard deviation √(Var + ε) (default 1e-4).
    pub epsilon: f64,
    /// Target standard deviation γ of every dimension (default 1).
    pub target_std: f64,
}

impl Default for VicRegConfig {
    fn default() -> Self {
        VicRegConfig {
            invariance_weight: 25.0,
            variance_weight: 25.0,
            covariance_weight: 1.0,
            epsilon: 1e-4,
            target_std: 1.0,
        }
    }
}

impl VicRegConfig {
    /// Checks weights ≥ 0, ε > 0, γ > 0.
    pub fn check(&self) -> Result<VicReg> {
        Ok(VicReg {
            invariance_weight: check_non_negative("invariance_weight", self.invariance_weight)?,
            variance_weight: check_non_negative("variance_weight", self.variance_weight)?,
            covariance_weight: check_non_negative("covariance_weight", self.covariance_weight)?,
            epsilon: check_positive("epsilon", self.epsilon)?,
            target_std: check_positive("target_std", self.target_std)?,
        })
    }
}

/// The three VICReg terms and their weighted sum, all scalars.
#[derive(Debug)]
pub struct VicRegTerms {
    /// λ·invariance + μ·variance + ν·covariance.
    pub loss: Tensor,
    /// Mean squared difference of the views: (1/(N·D)) Σ ‖z1_i − z2_i‖².
    pub invariance: Tensor,
    /// ½ (v(z1) + v(z2)), v(z) = (1/D) Σ_j max(0, γ − √(Var(z_·j) + ε)), unbiased variance.
    pub variance: Tensor,
    /// c(z1) + c(z2), c(z) = (1/D) Σ_{i≠j} Cov(z)_ij², covariance with 1/(N − 1).
    pub covariance: Tensor,
}

/// VICReg: variance-invariance-covariance regularisation.
///
/// Follows the authors' reference code: the variance term averages the two branches, the
/// covariance term adds them. Needs N ≥ 2 rows (the variance is unbiased).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VicReg {
    invariance_weight: f64,
    variance_weight: f64,
    covariance_weight: f64,
    epsilon: f64,
    target_std: f64,
}

impl VicReg {
    /// The terms for two views `z1 [N, D]`, `z2 [N, D]`, N ≥ 2.
    pub fn loss(&self, z1: &Tensor, z2: &Tensor) -> Result<VicRegTerms> {
        let (n, d) = check::views(z1, "z1", z2, "z2", 2)?;
        let invariance = z1.f_mse_loss(z2, Reduction::Mean)?;
        let mut variance = Tensor::f_zeros([], (z1.kind(), z1.device()))?;
        let mut covariance = Tensor::f_zeros([], (z1.kind(), z1.device()))?;
        for z in [z1, z2] {
            let centred = z.f_sub(&z.f_mean_dim(0, true, None)?)?;
            let std = centred
                .f_var_dim(0, true, false)?
                .f_add_scalar(self.epsilon)?
                .f_sqrt()?;
            let v = std
                .f_neg()?
                .f_add_scalar(self.target_std)?
                .f_relu()?
                .f_mean(None::<Kind>)?;
            variance = variance.f_add(&v.f_mul_scalar(0.5)?)?;
            let cov = centred
                .f_transpose(0, 1)?
                .f_matmul(&centred)?
                .f_div_scalar((n - 1) as f64)?;
            covariance =
                covariance.f_add(&off_diagonal_square_sum(&cov)?.f_div_scalar(d as f64)?)?;
        }
        let loss = invariance
            .f_mul_scalar(self.invariance_weight)?
            .f_add(&variance.f_mul_scalar(self.variance_weight)?)?
            .f_add(&covariance.f_mul_scalar(self.covariance_weight)?)?;
        Ok(VicRegTerms {
            loss,
            invariance,
            variance,
            covariance,
        })
    }
}

/// Hyperparameters of [`BarlowTwins`] (Zbontar et al. 2021).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BarlowTwinsConfig {
    /// Weight λ ≥ 0 of the redundancy-reduction (off-diagonal) term (default 5e-3).
    pub lambda: f64,
    /// ε of the per-branch batch normalisation (default 1e-5, as `BatchNorm1d`).
    pub bn_eps: f64,
}

impl Default for BarlowTwinsConfig {
    fn default() -> Self {
        BarlowTwinsConfig {
            lambda: 5e-3,
            bn_eps: 1e-5,
        }
    }
}

impl BarlowTwinsConfig {
    /// Checks λ ≥ 0, ε > 0.
    pub fn check(&self) -> Result<BarlowTwins> {
        Ok(BarlowTwins {
            lambda: check_non_negative("lambda", self.lambda)?,
            bn_eps: check_positive("bn_eps", self.bn_eps)?,
        })
    }
}

/// The Barlow Twins terms and their sum, all scalars.
#[derive(Debug)]
pub struct BarlowTwinsTerms {
    /// on_diagonal + λ·off_diagonal.
    pub loss: Tensor,
    /// Σ_i (1 − C_ii)².
    pub on_diagonal: Tensor,
    /// Σ_{i≠j} C_ij².
    pub off_diagonal: Tensor,
}

/// Barlow Twins: drives the cross-correlation C = BN(z1)ᵀ BN(z2) / N of the two
/// batch-normalised views (no affine part, biased variance) to the identity. Needs N ≥ 2.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BarlowTwins {
    lambda: f64,
    bn_eps: f64,
}

impl BarlowTwins {
    /// Each column standardised over the batch: (z − mean) / √(Var_biased + ε).
    fn batch_norm(&self, z: &Tensor) -> Result<Tensor> {
        let centred = z.f_sub(&z.f_mean_dim(0, true, None)?)?;
        let std = centred
            .f_var_dim(0, false, true)?
            .f_add_scalar(self.bn_eps)?
            .f_sqrt()?;
        Ok(centred.f_div(&std)?)
    }

    /// The cross-correlation matrix `[D, D]` of two views `z1 [N, D]`, `z2 [N, D]`.
    pub fn cross_correlation(&self, z1: &Tensor, z2: &Tensor) -> Result<Tensor> {
        let (n, _) = check::views(z1, "z1", z2, "z2", 2)?;
        Ok(self
            .batch_norm(z1)?
            .f_transpose(0, 1)?
            .f_matmul(&self.batch_norm(z2)?)?
            .f_div_scalar(n as f64)?)
    }

    /// The terms for two views `z1 [N, D]`, `z2 [N, D]`, N ≥ 2.
    pub fn loss(&self, z1: &Tensor, z2: &Tensor) -> Result<BarlowTwinsTerms> {
        let c = self.cross_correlation(z1, z2)?;
        let on_diagonal = c
            .f_diagonal(0, 0, 1)?
            .f_neg()?
            .f_add_scalar(1.0)?
            .f_square()?
            .f_sum(c.kind())?;
        let off_diagonal = off_diagonal_square_sum(&c)?;
        let loss = on_diagonal.f_add(&off_diagonal.f_mul_scalar(self.lambda)?)?;
        Ok(BarlowTwinsTerms {
            loss,
            on_diagonal,
            off_diagonal,
        })
    }
}

/// Hyperparameters of [`NegativeCosine`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NegativeCosineConfig {
    /// Normalisation floor of the cosine (default 1e-8).
    pub eps: f64,
}

impl Default for NegativeCosineConfig {
    fn default() -> Self {
        NegativeCosineConfig { eps: 1e-8 }
    }
}

impl NegativeCosineConfig {
    /// Checks eps > 0.
    pub fn check(&self) -> Result<NegativeCosine> {
        Ok(NegativeCosine {
            eps: check_positive("eps", self.eps)?,
        })
    }
}

/// The SimSiam / BYOL objective: the negative cosine between a prediction p and a target z
/// whose gradient is stopped, D(p, z) = −mean_i cos(p_i, stopgrad(z_i)), in [−1, 1].
/// (BYOL's normalised squared error is 2 + 2·D.)
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NegativeCosine {
    eps: f64,
}

impl NegativeCosine {
    /// D(p, z) for `p [N, D]`, `z [N, D]`; no gradient reaches z.
    pub fn loss(&self, prediction: &Tensor, target: &Tensor) -> Result<Tensor> {
        check::views(prediction, "prediction", target, "target", 1)?;
        let target = target.f_detach()?;
        Ok(normalize(prediction, self.eps)?
            .f_mul(&normalize(&target, self.eps)?)?
            .f_sum_dim_intlist(1, false, None)?
            .f_mean(None::<Kind>)?
            .f_neg()?)
    }

    /// SimSiam's symmetric loss ½ D(p1, z2) + ½ D(p2, z1) for the predictions `p1, p2` and
    /// projections `z1, z2` of two views.
    pub fn symmetric(&self, p1: &Tensor, p2: &Tensor, z1: &Tensor, z2: &Tensor) -> Result<Tensor> {
        Ok(self
            .loss(p1, z2)?
            .f_add(&self.loss(p2, z1)?)?
            .f_mul_scalar(0.5)?)
    }
}
