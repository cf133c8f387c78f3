//! Langevin dynamics on y, for sampling from the Gibbs distribution P(y | x) ∝ e^(−βE).

use crate::check::{
    check_beta, check_count, check_non_negative, check_positive, ensure_same_batch,
};
use crate::energy::Energy;
use crate::error::{EbmError, Result};
use tch::Tensor;

/// How one Langevin step is scaled.
///
/// In a config: `step = { kind = "exact", epsilon = 0.01, beta = 1.0 }` or
/// `step = { kind = "decoupled", step_size = 10.0, noise_std = 0.005 }`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum LangevinStep {
    /// The unadjusted Langevin algorithm for P ∝ e^(−βE):
    /// y ← y − (ε/2)·β·∇_y E + √ε·ξ, ξ ~ N(0, I).
    /// Its stationary law tends to the Gibbs distribution at inverse temperature β as ε → 0.
    Exact {
        /// Step size ε > 0.
        epsilon: f64,
        /// Inverse temperature β > 0 (finite).
        beta: f64,
    },
    /// Step and noise set apart, as EBM training practice does:
    /// y ← y − step_size·∇_y E + noise_std·ξ. This samples e^(−βE) only when
    /// noise_std² = 2·step_size/β; otherwise it is a noisy descent.
    Decoupled {
        /// Gradient step size > 0.
        step_size: f64,
        /// Noise standard deviation ≥ 0.
        noise_std: f64,
    },
}

impl LangevinStep {
    /// Checks the step's hyperparameters (`epsilon`, `beta`, `step_size`, `noise_std`).
    pub fn check(&self) -> Result<()> {
        match *self {
            LangevinStep::Exact { epsilon, beta } => {
                check_positive("epsilon", epsilon)?;
                check_beta(beta)?;
                if beta.is_infinite() {
                    return Err(EbmError::Hyperparameter {
                        name: "beta".into(),
                        reason: "must be finite for Langevin sampling",
                        value: beta.to_string(),
                    });
                }
            }
            LangevinStep::Decoupled {
                step_size,
                noise_std,
            } => {
                check_positive("step_size", step_size)?;
                check_non_negative("noise_std", noise_std)?;
            }
        }
        Ok(())
    }
}

/// The settings of a [`Langevin`] sampler, as written in a config
/// (`langevin = { step = { kind = "exact", epsilon = 0.01, beta = 1.0 }, steps = 100 }`);
/// [`LangevinConfig::check`] checks them once and gives the sampler.
///
/// ```
/// use ebm_core::{LangevinConfig, LangevinStep};
/// let config = LangevinConfig {
///     step: LangevinStep::Exact { epsilon: 0.01, beta: 1.0 },
///     steps: 100,
///     clamp: None,
///     grad_clip: None,
/// };
/// assert_eq!(config.check().unwrap().steps(), 100);
///
/// // Errors name the key within the config: `step.epsilon`, `steps`, `clamp`, `grad_clip`.
/// let bad = LangevinConfig { step: LangevinStep::Exact { epsilon: 0.0, beta: 1.0 }, ..config };
/// assert!(bad.check().unwrap_err().to_string().contains("step.epsilon"));
/// ```
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LangevinConfig {
    /// The step rule.
    pub step: LangevinStep,
    /// Number of steps, ≥ 1.
    pub steps: usize,
    /// Optional clamp of y into [lo, hi] after every step (lo < hi).
    #[serde(default)]
    pub clamp: Option<(f64, f64)>,
    /// Optional clamp of each gradient coordinate into [−c, c], c > 0 (stabilises early
    /// training).
    #[serde(default)]
    pub grad_clip: Option<f64>,
}

impl LangevinConfig {
    /// Checks the settings and gives the sampler; errors name the key as in configs
    /// (`steps`, `step.epsilon`, `clamp`, `grad_clip`).
    pub fn check(&self) -> Result<Langevin> {
        self.step.check().map_err(|e| e.within("step"))?;
        check_count("steps", self.steps)?;
        if let Some((lo, hi)) = self.clamp {
            if lo.is_nan() || hi.is_nan() || lo >= hi {
                return Err(EbmError::Hyperparameter {
                    name: "clamp".into(),
                    reason: "needs lo < hi",
                    value: format!("[{lo}, {hi}]"),
                });
            }
        }
        if let Some(c) = self.grad_clip {
            check_positive("grad_clip", c)?;
        }
        Ok(Langevin {
            config: self.clone(),
        })
    }
}

/// A Langevin sampler over y with W frozen (gradients with respect to y only).
///
/// Made by [`LangevinConfig::check`], so its settings are valid and are not checked again
/// on every call; read them with the accessors.
///
/// ```compile_fail
/// // No public field or constructor: a sampler cannot skip `LangevinConfig::check`.
/// let langevin = ebm_core::Langevin {
///     step: ebm_core::LangevinStep::Decoupled { step_size: -1.0, noise_std: 0.0 },
///     steps: 0,
///     clamp: None,
///     grad_clip: None,
/// };
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Langevin {
    config: LangevinConfig,
}

impl Langevin {
    /// The step rule.
    pub fn step(&self) -> LangevinStep {
        self.config.step
    }

    /// Number of steps.
    pub fn steps(&self) -> usize {
        self.config.steps
    }

    /// The clamp of y into [lo, hi] after every step, if any.
    pub fn clamp(&self) -> Option<(f64, f64)> {
        self.config.clamp
    }

    /// The clamp of each gradient coordinate into [−c, c], if any.
    pub fn grad_clip(&self) -> Option<f64> {
        self.config.grad_clip
    }

    /// The config this sampler was checked from (to change a setting and check again).
    pub fn config(&self) -> LangevinConfig {
        self.config.clone()
    }

    /// Runs the chains from `y0 [B, ...]` (paired with `x [B, ...]`) and returns the final,
    /// detached samples. Draws noise from libtorch's generator: seed it with `tch::manual_seed`.
    pub fn sample<E: Energy + ?Sized>(
        &self,
        energy: &E,
        x: &Tensor,
        y0: &Tensor,
    ) -> Result<Tensor> {
        self.sample_scheduled(energy, x, y0, &|_| 1.0, None)
    }

    /// [`Langevin::sample`] with the step scaled at step t by `scale(t)` (drift and noise
    /// alike: step t moves y by `scale(t)·(−drift·∇E + noise·ξ)`), and, with `step_clip`,
    /// each coordinate of that move clamped into [−c, c] before it is taken.
    ///
    /// This is the sampler of implicit behavioural cloning's Langevin inference
    /// (google-research/ibc, `langevin_step`): a decoupled step with `step_size = 0.5` and
    /// `noise_std` its noise scale, scaled by a decaying schedule, with the move clipped.
    pub fn sample_scheduled<E: Energy + ?Sized>(
        &self,
        energy: &E,
        x: &Tensor,
        y0: &Tensor,
        scale: &dyn Fn(usize) -> f64,
        step_clip: Option<f64>,
    ) -> Result<Tensor> {
        ensure_same_batch(x, "x", y0, "y0")?;
        crate::check::floating(y0, "y0")?;
        crate::check::ensure_finite(y0, "y0 (the chains' start)")?;
        crate::check::ensure_finite(x, "x")?;
        if let Some(c) = step_clip {
            check_positive("step_clip", c)?;
        }
        let (drift, noise) = match self.config.step {
            LangevinStep::Exact { epsilon, beta } => (0.5 * epsilon * beta, epsilon.sqrt()),
            LangevinStep::Decoupled {
                step_size,
                noise_std,
            } => (step_size, noise_std),
        };
        let x = x.detach();
        // One leaf tensor holds the chains and is updated in place under `no_grad`; the noise
        // is drawn into one buffer.
        let mut y = y0.f_detach_copy()?;
        let _ = y.f_requires_grad_(true)?;
        let mut xi = y.f_empty_like()?;
        for t in 0..self.config.steps {
            let grad = energy.grad(&x, &y)?;
            let _guard = tch::no_grad_guard();
            let k = scale(t);
            let (drift, noise) = (k * drift, k * noise);
            // The gradient may be a broadcast view (a linear energy): scale a copy of it.
            let mut step = match self.config.grad_clip {
                Some(c) => grad.f_clamp(-c, c)?.f_mul_scalar_(drift)?,
                None => grad.f_mul_scalar(drift)?,
            };
            match step_clip {
                // The whole move, noise included, is clipped: draw the noise into it first.
                Some(c) => {
                    if noise > 0.0 {
                        let _ = step.f_sub_(&xi.f_normal_(0.0, noise)?)?;
                    }
                    let _ = y.f_sub_(&step.f_clamp_(-c, c)?)?;
                }
                None => {
                    let _ = y.f_sub_(&step)?;
                    if noise > 0.0 {
                        let _ = y.f_add_(&xi.f_normal_(0.0, noise)?)?;
                    }
                }
            }
            if let Some((lo, hi)) = self.config.clamp {
                let _ = y.f_clamp_(lo, hi)?;
            }
        }
        let y = y.f_detach()?;
        if !bool::try_from(y.f_isfinite()?.f_all()?)? {
            return Err(EbmError::NonFinite {
                what: format!(
                    "the Langevin samples after {} steps (the chains diverged: lower the step size, \
                     clip the gradient with grad_clip, or clamp y)",
                    self.config.steps
                ),
                kind: "NaN or infinite values",
            });
        }
        Ok(y)
    }
}
