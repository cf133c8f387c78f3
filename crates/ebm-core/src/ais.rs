//! Annealed importance sampling (Neal 2001) of the normalising constant
//! Z = ∫ e^(−E(y)) dy, from a base distribution whose constant is known.
//!
//! Particles start from the base p₀ ∝ e^(−E₀) and move through the intermediate energies
//! E_k = (1 − β_k) E₀ + β_k E, 0 = β₀ < β₁ < … < β_K = 1, by MALA steps that leave each E_k
//! invariant; each particle's log weight gathers −(β_k − β_{k−1})(E − E₀) at the point it
//! holds, and log Ẑ = log Z₀ + log mean e^(log w). The log mean exp is taken in a numerically
//! safe way, and its standard error by the delta method, sd(w) / (√N · mean w).
//!
//! The temperatures are spaced geometrically from 10⁻⁴ to 1 (the first steps away from the
//! base are the delicate ones). The MALA step of each temperature is the previous one's,
//! scaled by 1.1 when the previous temperature accepted more than 0.574 of its proposals and by
//! 0.9 when less: it depends only on the past, so every step is still an exact MH kernel for
//! its E_k.

use crate::check::{check_count, check_positive};
use crate::energy::Energy;
use crate::error::{EbmError, Result};
use crate::inference::energy_and_grad_y;
use crate::mcmc::mala_proposal;
use tch::{Device, Kind, Tensor};

/// The base distribution of AIS.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum AisBase {
    /// N(0, std² I): E₀ = ‖y‖²/(2 std²), log Z₀ = (d/2) log(2π std²).
    Gaussian {
        /// Standard deviation (> 0); it should cover the energy's mass.
        std: f64,
    },
    /// Uniform on the box [lo, hi]^d: E₀ = 0 inside and +∞ outside, log Z₀ = d log(hi − lo).
    /// The Z estimated is then that of the energy restricted to the box.
    Uniform {
        /// Lower bound of every coordinate.
        lo: f64,
        /// Upper bound (> lo).
        hi: f64,
    },
}

/// Settings of [`ais_log_z`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AisConfig {
    /// Where the particles start.
    pub base: AisBase,
    /// Intermediate distributions K (≥ 2: one temperature is plain importance sampling).
    pub temperatures: usize,
    /// Particles (≥ 2).
    pub particles: usize,
    /// MALA steps at each temperature (≥ 1).
    pub transitions: usize,
    /// The MALA step size at the first temperature (> 0), adapted from then on.
    pub step_size: f64,
}

impl Default for AisConfig {
    fn default() -> Self {
        AisConfig {
            base: AisBase::Gaussian { std: 3.0 },
            temperatures: 200,
            particles: 1000,
            transitions: 2,
            step_size: 0.1,
        }
    }
}

/// An estimate of log Z.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LogZ {
    /// log Ẑ.
    pub log_z: f64,
    /// Its standard error (delta method).
    pub std_error: f64,
    /// The effective sample size of the final weights, (Σw)² / Σw².
    pub ess: f64,
    /// The share of MALA proposals accepted over the whole run.
    pub acceptance: f64,
}

impl AisConfig {
    fn check(&self) -> Result<()> {
        if self.temperatures < 2 {
            return Err(EbmError::Hyperparameter {
                name: "temperatures".into(),
                reason: "must be >= 2 (one temperature is plain importance sampling from the base)",
                value: self.temperatures.to_string(),
            });
        }
        if self.particles < 2 {
            return Err(EbmError::Hyperparameter {
                name: "particles".into(),
                reason: "must be >= 2 (the standard error needs two)",
                value: self.particles.to_string(),
            });
        }
        check_count("transitions", self.transitions)?;
        check_positive("step_size", self.step_size)?;
        match self.base {
            AisBase::Gaussian { std } => {
                check_positive("base.std", std)?;
            }
            AisBase::Uniform { lo, hi } => {
                if !(lo.is_finite() && hi.is_finite() && lo < hi) {
                    return Err(EbmError::Hyperparameter {
                        name: "base".into(),
                        reason: "must have finite lo < hi",
                        value: format!("[{lo}, {hi}]"),
                    });
                }
            }
        }
        Ok(())
    }
}

/// The base's energy `[N]` (+∞ outside a uniform box), its log Z₀, and a draw of `n` points.
struct Base {
    base: AisBase,
    dim: i64,
}

impl Base {
    fn energy(&self, y: &Tensor) -> Result<Tensor> {
        Ok(match self.base {
            AisBase::Gaussian { std } => y
                .f_square()?
                .f_sum_dim_intlist(1, false, y.kind())?
                .f_mul_scalar(0.5 / (std * std))?,
            AisBase::Uniform { lo, hi } => {
                let outside = y
                    .f_lt(lo)?
                    .f_logical_or(&y.f_gt(hi)?)?
                    .f_any_dim(1, false)?;
                Tensor::f_zeros([y.size()[0]], (y.kind(), y.device()))?
                    .f_masked_fill(&outside, f64::INFINITY)?
            }
        })
    }

    fn log_z(&self) -> f64 {
        let d = self.dim as f64;
        match self.base {
            AisBase::Gaussian { std } => 0.5 * d * (2.0 * std::f64::consts::PI * std * std).ln(),
            AisBase::Uniform { lo, hi } => d * (hi - lo).ln(),
        }
    }

    fn sample(&self, n: i64, kind: Kind, device: Device) -> Result<Tensor> {
        let u = Tensor::f_rand([n, self.dim], (kind, device))?;
        Ok(match self.base {
            AisBase::Gaussian { std } => {
                Tensor::f_randn([n, self.dim], (kind, device))?.f_mul_scalar(std)?
            }
            AisBase::Uniform { lo, hi } => u.f_mul_scalar(hi - lo)?.f_add_scalar(lo)?,
        })
    }
}

/// E_β = β E + (1 − β) E₀, with the base's +∞ kept outside a box.
struct Tempered<'a, E: ?Sized> {
    energy: &'a E,
    base: &'a Base,
    beta: f64,
}

impl<E: Energy + ?Sized> Energy for Tempered<'_, E> {
    fn energy(&self, x: &Tensor, y: &Tensor) -> Result<Tensor> {
        let e = self.energy.energy(x, y)?;
        let e0 = self.base.energy(y)?;
        match self.base.base {
            AisBase::Gaussian { .. } => Ok(e
                .f_mul_scalar(self.beta)?
                .f_add(&e0.f_mul_scalar(1.0 - self.beta)?)?),
            // E₀ is 0 or +∞: added whole, so that 0 · ∞ never appears.
            AisBase::Uniform { .. } => Ok(e.f_mul_scalar(self.beta)?.f_add(&e0)?),
        }
    }
}

/// log Z of e^(−E(x, y)) over y ∈ R^`dim` (or the base's box) for the single input `x`
/// (`[1, dx]`; width 0 for an unconditional energy), by annealed importance sampling. Draws
/// from libtorch's generator: seed it with `tch::manual_seed`.
pub fn ais_log_z<E: Energy + ?Sized>(
    energy: &E,
    x: &Tensor,
    dim: i64,
    config: &AisConfig,
) -> Result<LogZ> {
    config.check()?;
    if dim < 1 {
        return Err(EbmError::Hyperparameter {
            name: "dim".into(),
            reason: "must be >= 1",
            value: dim.to_string(),
        });
    }
    if x.dim() != 2 || x.size()[0] != 1 {
        return Err(EbmError::Shape {
            what: "x of AIS".into(),
            expected: "one input, [1, dx]".into(),
            got: x.size(),
        });
    }
    crate::check::ensure_finite(x, "x")?;
    let n = config.particles as i64;
    let kind = match x.kind() {
        Kind::Double => Kind::Double,
        _ => Kind::Float,
    };
    let x = x
        .detach()
        .f_to_kind(kind)?
        .f_expand([n, x.size()[1]], false)?
        .f_contiguous()?;
    let base = Base {
        base: config.base,
        dim,
    };
    let k = config.temperatures;
    let betas: Vec<f64> = std::iter::once(0.0)
        .chain((1..=k).map(|i| 10f64.powf(-4.0 * (1.0 - (i - 1) as f64 / (k - 1) as f64))))
        .collect();
    let mut y = base.sample(n, kind, x.device())?;
    let mut log_w = Tensor::f_zeros([n], (Kind::Double, x.device()))?;
    let mut step = config.step_size;
    let (mut accepted, mut proposed) = (0.0f64, 0.0f64);
    for t in 1..betas.len() {
        // The weight of moving from β_{t−1} to β_t at the current points.
        let diff = {
            let _guard = tch::no_grad_guard();
            let e = energy.energy(&x, &y)?.f_to_kind(Kind::Double)?;
            let e0 = match config.base {
                AisBase::Gaussian { .. } => base.energy(&y)?.f_to_kind(Kind::Double)?,
                AisBase::Uniform { .. } => Tensor::f_zeros_like(&e)?,
            };
            e.f_sub(&e0)?
        };
        if bool::try_from(diff.f_isnan()?.f_any()?)? {
            return Err(EbmError::NonFinite {
                what: format!("the energy at temperature {t} of AIS"),
                kind: "NaN",
            });
        }
        log_w = log_w.f_sub(&diff.f_mul_scalar(betas[t] - betas[t - 1])?)?;
        let tempered = Tempered {
            energy,
            base: &base,
            beta: betas[t],
        };
        let mut accepted_here = 0.0;
        // The energy and gradient at the particles, carried from one transition to the next.
        let (mut e, mut g) = energy_and_grad_y(&tempered, &x, &y)?;
        for _ in 0..config.transitions {
            let (proposal, e_new, g_new, log_alpha) =
                mala_proposal(&tempered, &x, &y, &e, &g, step)?;
            let _guard = tch::no_grad_guard();
            let ok = e_new
                .f_isfinite()?
                .f_logical_and(&g_new.f_isfinite()?.f_all_dim(1, false)?)?;
            let log_alpha = log_alpha.f_where_scalarother(&ok, f64::NEG_INFINITY)?;
            let accept = log_alpha.f_rand_like()?.f_log()?.f_lt_tensor(&log_alpha)?;
            let keep_new = accept.f_unsqueeze(1)?;
            y = proposal.f_where_self(&keep_new, &y)?;
            g = g_new.f_where_self(&keep_new, &g)?;
            e = e_new.f_where_self(&accept, &e)?;
            accepted_here += f64::try_from(accept.f_to_kind(Kind::Double)?.f_mean(Kind::Double)?)?;
        }
        let rate = accepted_here / config.transitions as f64;
        accepted += accepted_here;
        proposed += config.transitions as f64;
        step *= if rate > 0.574 { 1.1 } else { 0.9 };
    }
    let log_w = Vec::<f64>::try_from(log_w.f_to_device(Device::Cpu)?)?;
    if log_w.iter().any(|w| w.is_nan()) {
        return Err(EbmError::NonFinite {
            what: "the AIS log weights".into(),
            kind: "NaN",
        });
    }
    let top = log_w.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !top.is_finite() {
        return Err(EbmError::NonFinite {
            what: "every AIS log weight (the energy is +∞ wherever the particles are)".into(),
            kind: "infinite values",
        });
    }
    let w: Vec<f64> = log_w.iter().map(|l| (l - top).exp()).collect();
    let nf = w.len() as f64;
    let mean = w.iter().sum::<f64>() / nf;
    let var = w.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (nf - 1.0);
    let sum_sq: f64 = w.iter().map(|v| v * v).sum();
    Ok(LogZ {
        log_z: base.log_z() + top + mean.ln(),
        std_error: var.sqrt() / (nf.sqrt() * mean),
        ess: (mean * nf).powi(2) / sum_sq,
        acceptance: accepted / proposed.max(1.0),
    })
}
