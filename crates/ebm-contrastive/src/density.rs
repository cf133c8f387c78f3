//! Objectives that learn an energy density p(y) ∝ e^(−E(y)) without sampling from the model
//! (contrastive divergence, which does, is in [`crate::sampling`]).
//!
//! With the model score s(y) = ∇_y log p(y) = −∇_y E(y):
//!
//! - **Exact score matching** (Hyvärinen 2005):
//!   J = E_data[½‖∇E‖² − tr ∇²E], the Hessian's trace by one backward pass per coordinate
//!   (for small d).
//! - **Denoising score matching** (Vincent 2011): ỹ = y + σε, ε ~ N(0, I);
//!   J = E[½σ²‖∇E(ỹ) − (ỹ − y)/σ²‖²] (σ²-weighted: the score of the noised data, whose density
//!   the model then learns).
//! - **Sliced score matching** (Song et al. 2019): random projections v (Rademacher or
//!   Gaussian), J = E[−vᵀ∇²E v + ½‖∇E‖²] in the variance-reduced form, or
//!   E[−vᵀ∇²E v + ½(vᵀ∇E)²]; the Hessian-vector product by two backward passes.
//! - **Noise-contrastive estimation** (Gutmann & Hyvärinen 2010) with a learnt log-normaliser
//!   c: log p_θ(y) = −E(y) − c, classified against ν noise points per data point drawn from q:
//!   J = −E_data[log σ(G)] − ν E_q[log(1 − σ(G))], G = log p_θ − log q − log ν. At the optimum
//!   c is log Z.

use ebm_core::check::{check_non_negative, check_positive};
use ebm_core::{EbmError, Energy, Result};
use serde::{Deserialize, Serialize};
use tch::Tensor;

/// The projections of sliced score matching.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Projection {
    /// Independent ±1 coordinates.
    Rademacher,
    /// Independent N(0, 1) coordinates.
    Gaussian,
}

/// `loss = { kind = "score_matching", sigma = 0.0 }`: exact score matching.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScoreMatchingConfig {
    /// Standard deviation of Gaussian noise added to each batch before the objective (≥ 0;
    /// default 0, the data as given).
    ///
    /// Score matching fits ∇E only where the data are, so on modes separated by empty space it
    /// learns each mode's shape but not the mass each holds, nor anything between them: the
    /// blindness of the score to mixture weights (Song and Ermon 2019, who perturb the data
    /// for this reason). With σ > 0 each batch is perturbed by fresh N(0, σ²I) noise, so the
    /// model learns the density of the data convolved with that noise: biased by σ, but with
    /// the modes joined. Denoising score matching always does this (its σ is required). Pick
    /// σ of the order of the gap between modes.
    pub sigma: f64,
}

/// `loss = { kind = "denoising_score_matching", sigma = 0.1 }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DenoisingScoreMatchingConfig {
    /// Standard deviation of the Gaussian noise added to the data (> 0).
    pub sigma: f64,
}

impl Default for DenoisingScoreMatchingConfig {
    fn default() -> Self {
        DenoisingScoreMatchingConfig { sigma: 0.1 }
    }
}

/// `loss = { kind = "sliced_score_matching", projections = 1, distribution = "rademacher",
/// variance_reduced = true, sigma = 0.0 }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SlicedScoreMatchingConfig {
    /// Projections per data point (≥ 1).
    pub projections: usize,
    /// How the projections are drawn.
    pub distribution: Projection,
    /// Use ½‖∇E‖² (exact in expectation) instead of ½(vᵀ∇E)².
    pub variance_reduced: bool,
    /// Standard deviation of Gaussian noise added to each batch before the objective (≥ 0;
    /// default 0): as for [`ScoreMatchingConfig::sigma`].
    pub sigma: f64,
}

impl Default for SlicedScoreMatchingConfig {
    fn default() -> Self {
        SlicedScoreMatchingConfig {
            projections: 1,
            distribution: Projection::Rademacher,
            variance_reduced: true,
            sigma: 0.0,
        }
    }
}

/// The noise distribution of NCE.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum NceNoise {
    /// A Gaussian with the data's mean and (diagonal) standard deviation, times `scale`.
    Gaussian {
        /// Widening of the data's standard deviation (> 0; default 1.5).
        scale: f64,
    },
    /// Uniform on [lo, hi]^d.
    Uniform {
        /// Lower bound.
        lo: f64,
        /// Upper bound (> lo).
        hi: f64,
    },
}

/// `loss = { kind = "nce", noise = { kind = "gaussian", scale = 1.5 }, ratio = 1 }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NceConfig {
    /// The noise the data is told apart from.
    pub noise: NceNoise,
    /// Noise points per data point, ν ≥ 1.
    pub ratio: usize,
}

impl Default for NceConfig {
    fn default() -> Self {
        NceConfig {
            noise: NceNoise::Gaussian { scale: 1.5 },
            ratio: 1,
        }
    }
}

impl DenoisingScoreMatchingConfig {
    /// Checks σ > 0.
    pub fn check(&self) -> Result<()> {
        check_positive("sigma", self.sigma).map(drop)
    }
}

impl ScoreMatchingConfig {
    /// Checks σ ≥ 0 (finite).
    pub fn check(&self) -> Result<()> {
        check_non_negative("sigma", self.sigma).map(drop)
    }
}

impl SlicedScoreMatchingConfig {
    /// Checks 1 ≤ projections ≤ 1024 and σ ≥ 0.
    pub fn check(&self) -> Result<()> {
        check_non_negative("sigma", self.sigma)?;
        if !(1..=1024).contains(&self.projections) {
            return Err(EbmError::Hyperparameter {
                name: "projections".into(),
                reason: "must be in [1, 1024]",
                value: self.projections.to_string(),
            });
        }
        Ok(())
    }
}

impl NceConfig {
    /// Checks ν ≥ 1 (at most 1024) and the noise.
    pub fn check(&self) -> Result<()> {
        if !(1..=1024).contains(&self.ratio) {
            return Err(EbmError::Hyperparameter {
                name: "ratio".into(),
                reason: "must be in [1, 1024]",
                value: self.ratio.to_string(),
            });
        }
        match self.noise {
            NceNoise::Gaussian { scale } => check_positive("noise.scale", scale).map(drop),
            NceNoise::Uniform { lo, hi } => {
                if lo.is_finite() && hi.is_finite() && lo < hi {
                    Ok(())
                } else {
                    Err(EbmError::Hyperparameter {
                        name: "noise".into(),
                        reason: "must have finite lo < hi",
                        value: format!("[{lo}, {hi}]"),
                    })
                }
            }
        }
    }
}

/// ∇_y Σ E(x, y), kept in the graph (`create_graph`), and the energies.
fn score_graph<E: Energy + ?Sized>(energy: &E, x: &Tensor, y: &Tensor) -> Result<(Tensor, Tensor)> {
    let e = energy.energy(x, y)?;
    let total = e.f_sum(e.kind())?;
    let mut grads = Tensor::f_run_backward(&[total], &[y], true, true)?;
    let g = grads
        .pop()
        .ok_or_else(|| EbmError::Tch(tch::TchError::Torch("no gradient for y".into())))?;
    Ok((e, g))
}

fn leaf(y: &Tensor) -> Result<Tensor> {
    Ok(y.f_detach()?.f_requires_grad_(true)?)
}

/// Exact score matching on the points `y [N, d]`: mean ½‖∇E‖² − tr ∇²E, differentiable in
/// the parameters.
pub fn score_matching<E: Energy + ?Sized>(energy: &E, x: &Tensor, y: &Tensor) -> Result<Tensor> {
    let y = leaf(y)?;
    let (_, g) = score_graph(energy, x, &y)?;
    let d = y.size()[1];
    let mut trace = Tensor::f_zeros([y.size()[0]], (g.kind(), g.device()))?;
    for i in 0..d {
        let gi = g.f_select(1, i)?.f_sum(g.kind())?;
        let mut second = Tensor::f_run_backward(&[gi], &[&y], true, true)?;
        let h = second
            .pop()
            .ok_or_else(|| EbmError::Tch(tch::TchError::Torch("no Hessian column".into())))?;
        trace = trace.f_add(&h.f_select(1, i)?)?;
    }
    let half_norm = g
        .f_square()?
        .f_sum_dim_intlist(1, false, g.kind())?
        .f_mul_scalar(0.5)?;
    Ok(half_norm.f_sub(&trace)?.f_mean(g.kind())?)
}

/// Denoising score matching with the noised points `y + noise` (`noise` = σε, drawn by the
/// caller): mean ½σ²‖∇E(ỹ) − noise/σ²‖².
pub fn denoising_score_matching<E: Energy + ?Sized>(
    energy: &E,
    x: &Tensor,
    y: &Tensor,
    noise: &Tensor,
    sigma: f64,
) -> Result<Tensor> {
    let noised = leaf(&y.f_add(noise)?)?;
    let (_, g) = score_graph(energy, x, &noised)?;
    let target = noise.f_div_scalar(sigma * sigma)?;
    Ok(g.f_sub(&target)?
        .f_square()?
        .f_sum_dim_intlist(1, false, g.kind())?
        .f_mul_scalar(0.5 * sigma * sigma)?
        .f_mean(g.kind())?)
}

/// Sliced score matching with the projections `v [N, d]` (one per point; the caller draws and
/// repeats them): mean −vᵀ∇²E v + ½‖∇E‖² (variance-reduced) or + ½(vᵀ∇E)².
pub fn sliced_score_matching<E: Energy + ?Sized>(
    energy: &E,
    x: &Tensor,
    y: &Tensor,
    v: &Tensor,
    variance_reduced: bool,
) -> Result<Tensor> {
    let y = leaf(y)?;
    let (_, g) = score_graph(energy, x, &y)?;
    let gv = g.f_mul(v)?.f_sum_dim_intlist(1, false, g.kind())?;
    let mut hv = Tensor::f_run_backward(&[gv.f_sum(g.kind())?], &[&y], true, true)?;
    let hv = hv
        .pop()
        .ok_or_else(|| EbmError::Tch(tch::TchError::Torch("no Hessian-vector product".into())))?;
    let vhv = hv.f_mul(v)?.f_sum_dim_intlist(1, false, g.kind())?;
    let second = if variance_reduced {
        g.f_square()?
            .f_sum_dim_intlist(1, false, g.kind())?
            .f_mul_scalar(0.5)?
    } else {
        gv.f_square()?.f_mul_scalar(0.5)?
    };
    Ok(second.f_sub(&vhv)?.f_mean(g.kind())?)
}

/// The NCE loss for data `y`, noise points `noise` (ν per data point, `[νN, d]`) with their
/// noise log-densities, and the model's log-normaliser `c` (a 0-d tensor, learnt):
/// −mean log σ(G(y)) − ν mean log(1 − σ(G(n))), G = −E − c − log q − log ν.
#[allow(clippy::too_many_arguments)]
pub fn nce_loss<E: Energy + ?Sized>(
    energy: &E,
    x_data: &Tensor,
    y: &Tensor,
    log_q_data: &Tensor,
    x_noise: &Tensor,
    noise: &Tensor,
    log_q_noise: &Tensor,
    c: &Tensor,
    ratio: usize,
) -> Result<Tensor> {
    let log_nu = (ratio as f64).ln();
    let g_data = energy
        .energy(x_data, y)?
        .f_neg()?
        .f_sub(c)?
        .f_sub(log_q_data)?
        .f_sub_scalar(log_nu)?;
    let g_noise = energy
        .energy(x_noise, noise)?
        .f_neg()?
        .f_sub(c)?
        .f_sub(log_q_noise)?
        .f_sub_scalar(log_nu)?;
    // log σ(G) = −softplus(−G); log(1 − σ(G)) = −softplus(G).
    let data_term = g_data.f_neg()?.f_softplus()?.f_mean(g_data.kind())?;
    let noise_term = g_noise.f_softplus()?.f_mean(g_noise.kind())?;
    Ok(data_term.f_add(&noise_term.f_mul_scalar(ratio as f64)?)?)
}

/// Log-density `[N]` of the points under a diagonal Gaussian (`mean`, `std` `[d]`).
pub fn gaussian_log_density(y: &Tensor, mean: &Tensor, std: &Tensor) -> Result<Tensor> {
    let d = y.size()[1] as f64;
    let z = y.f_sub(mean)?.f_div(std)?;
    Ok(z.f_square()?
        .f_sum_dim_intlist(1, false, y.kind())?
        .f_mul_scalar(-0.5)?
        .f_sub_scalar(0.5 * d * (2.0 * std::f64::consts::PI).ln())?
        .f_sub(&std.f_log()?.f_sum(y.kind())?)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ebm_core::FnEnergy;
    use tch::{Device, Kind};

    /// E(y) = ½ a‖y‖²: ∇E = a y, ∇²E = a I.
    fn quadratic(a: f64) -> impl Energy {
        FnEnergy::new(move |_x: &Tensor, y: &Tensor| {
            y.square().sum_dim_intlist(1, false, None) * (0.5 * a)
        })
    }

    fn points() -> (Tensor, Tensor) {
        let y = Tensor::from_slice(&[1.0f64, 2.0, -1.0, 0.5]).view([2, 2]);
        (Tensor::zeros([2, 0], (Kind::Double, Device::Cpu)), y)
    }

    #[test]
    fn score_matching_by_hand() {
        let (x, y) = points();
        let a = 2.0;
        // ½a²‖y‖² − a d: rows ½·4·5 − 4 = 6 and ½·4·1.25 − 4 = −1.5; mean 2.25.
        let j = score_matching(&quadratic(a), &x, &y)
            .expect("ok")
            .double_value(&[]);
        assert!((j - 2.25).abs() < 1e-12, "{j}");
        // Rademacher projections: vᵀ(aI)v = a d, so sliced (variance-reduced) equals exact.
        let v = Tensor::from_slice(&[1.0f64, -1.0, -1.0, -1.0]).view([2, 2]);
        let s = sliced_score_matching(&quadratic(a), &x, &y, &v, true)
            .expect("ok")
            .double_value(&[]);
        assert!((s - 2.25).abs() < 1e-12, "{s}");
        // Without variance reduction: ½(vᵀ a y)² − a vᵀv: row 1: ½(2·(1 − 2))² − 4 = −2;
        // row 2: ½(2·(1 − 0.5))² − 4 = −3.5; mean −2.75.
        let s = sliced_score_matching(&quadratic(a), &x, &y, &v, false)
            .expect("ok")
            .double_value(&[]);
        assert!((s + 2.75).abs() < 1e-12, "{s}");
    }

    #[test]
    fn denoising_score_matching_by_hand() {
        let (x, y) = points();
        let (a, sigma): (f64, f64) = (2.0, 0.5);
        let noise = Tensor::from_slice(&[0.1f64, 0.0, 0.0, -0.2]).view([2, 2]);
        // ½σ²‖a(y + n) − n/σ²‖² per row.
        let rows: Vec<f64> = [([1.1f64, 2.0], [0.1f64, 0.0]), ([-1.0, 0.3], [0.0, -0.2])]
            .iter()
            .map(|(p, n)| {
                0.5 * sigma
                    * sigma
                    * p.iter()
                        .zip(n)
                        .map(|(p, n)| (a * p - n / (sigma * sigma)).powi(2))
                        .sum::<f64>()
            })
            .collect();
        let expected = (rows[0] + rows[1]) / 2.0;
        let j = denoising_score_matching(&quadratic(a), &x, &y, &noise, sigma)
            .expect("ok")
            .double_value(&[]);
        assert!((j - expected).abs() < 1e-12, "{j} vs {expected}");
    }

    #[test]
    fn nce_by_hand_and_its_optimum_in_c() {
        // E = 0, q = the noise's log density −1 everywhere, ν = 1: G = −c + 1.
        let energy =
            FnEnergy::new(|_x: &Tensor, y: &Tensor| y.sum_dim_intlist(1, false, None) * 0.0);
        let x = Tensor::zeros([3, 0], (Kind::Float, Device::Cpu));
        let y = Tensor::zeros([3, 1], (Kind::Float, Device::Cpu));
        let log_q = Tensor::full([3], -1.0, (Kind::Float, Device::Cpu));
        let c = Tensor::from(0.5f32);
        let j = nce_loss(&energy, &x, &y, &log_q, &x, &y, &log_q, &c, 1)
            .expect("ok")
            .double_value(&[]);
        let g: f64 = 0.5;
        let softplus = |v: f64| (1.0 + v.exp()).ln();
        assert!((j - (softplus(-g) + softplus(g))).abs() < 1e-6, "{j}");
        // The loss is least at G = 0 when data and noise points coincide: c = 1 = log Z.
        let at = |c: f32| {
            nce_loss(&energy, &x, &y, &log_q, &x, &y, &log_q, &Tensor::from(c), 1)
                .expect("ok")
                .double_value(&[])
        };
        assert!(at(1.0) < at(0.9) && at(1.0) < at(1.1));
    }

    #[test]
    fn bad_settings_are_typed_errors() {
        assert!(DenoisingScoreMatchingConfig { sigma: 0.0 }.check().is_err());
        assert!(ScoreMatchingConfig { sigma: -0.1 }.check().is_err());
        assert!(ScoreMatchingConfig { sigma: f64::NAN }.check().is_err());
        let negative = SlicedScoreMatchingConfig {
            sigma: -1.0,
            ..Default::default()
        };
        let err = negative.check().expect_err("a negative sigma");
        assert!(err.to_string().contains("sigma"), "{err}");
        assert!(SlicedScoreMatchingConfig {
            projections: 0,
            ..Default::default()
        }
        .check()
        .is_err());
        assert!(NceConfig {
            ratio: 0,
            ..Default::default()
        }
        .check()
        .is_err());
        assert!(NceConfig {
            noise: NceNoise::Uniform { lo: 1.0, hi: 0.0 },
            ratio: 1
        }
        .check()
        .is_err());
        assert!(NceConfig {
            noise: NceNoise::Gaussian { scale: -1.0 },
            ratio: 1
        }
        .check()
        .is_err());
    }
}
