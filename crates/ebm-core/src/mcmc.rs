//! Markov chain Monte Carlo on y for P(y | x) ∝ e^(−E(x, y)), with the diagnostics that say
//! whether to trust the draws.
//!
//! - [`Sampler`]: runs chains from `y0` (one per row of `x`; an unconditional energy takes an
//!   `x` of width 0) and returns a [`Chains`]: the kept draws, their energies, the final states
//!   and [`Diagnostics`].
//! - [`Mala`]: the Metropolis-adjusted Langevin algorithm (Roberts & Tweedie 1996): the
//!   Langevin proposal y' = y − h∇E(y) + √(2h)·ξ, accepted with probability
//!   min(1, e^(−E(y') + E(y)) q(y | y') / q(y' | y)), so that its stationary law is exactly the
//!   Gibbs distribution for every step size h. During warm-up h is adapted by dual averaging
//!   (Hoffman & Gelman 2014, algorithm 5: t₀ = 10, μ = log 10h₀, and γ = 0.3 rather
//!   than their 0.05: with a few chains the acceptance statistic is noisy, γ = 0.05 lets the
//!   iterates swing by a factor of e² and the step they settle on reads 0.72 for HMC's 0.65;
//!   the step after warm-up is the geometric mean of the last tenth of the iterates) to a
//!   target acceptance (0.574 for MALA, the optimum in high dimension; 0.65 for [`Hmc`]).
//! - [`crate::Langevin`] implements [`Sampler`] too: unadjusted, every step kept, acceptance 1.
//! - Diagnostics ([`split_r_hat`], [`effective_sample_size`]) follow Gelman et al.'s *Bayesian
//!   Data Analysis* (3rd ed., §11.4–11.5) and Stan's reference manual: split-R̂ over chains cut in
//!   halves, and the ESS from autocorrelations averaged over chains, summed in pairs by Geyer's
//!   initial monotone sequence.
//!
//! ```
//! use ebm_core::{FnEnergy, MalaConfig, Sampler};
//! use tch::{Device, Kind, Tensor};
//!
//! // A standard normal in 2-D: E(y) = ½‖y‖², 4 chains.
//! tch::manual_seed(0);
//! let energy = FnEnergy::new(|_x: &Tensor, y: &Tensor| {
//!     y.square().sum_dim_intlist(1, false, None) * 0.5
//! });
//! let x = Tensor::zeros([4, 0], (Kind::Double, Device::Cpu)); // no input
//! let y0 = Tensor::randn([4, 2], (Kind::Double, Device::Cpu));
//! let mala = MalaConfig { warmup: 300, samples: 500, ..MalaConfig::default() }.check()?;
//! let run = mala.run(&energy, &x, &y0)?;
//! assert_eq!(run.samples.size(), [500, 4, 2]);
//! assert!((run.diagnostics.acceptance - 0.574).abs() < 0.1);
//! assert!(run.diagnostics.r_hat.iter().all(|&r| r < 1.05));
//! # Ok::<(), ebm_core::EbmError>(())
//! ```

use crate::check::{check_count, check_positive, ensure_finite, ensure_same_batch, floating};
use crate::energy::Energy;
use crate::error::{EbmError, Result};
use crate::inference::energy_and_grad_y;
use tch::{Device, Kind, Tensor};

/// The draws of a run of chains.
#[derive(Debug)]
pub struct Chains {
    /// Kept draws, `[S, C, d]` (S kept steps, C chains), on the CPU in f64.
    pub samples: Tensor,
    /// Their energies, `[S, C]`.
    pub energies: Tensor,
    /// The chains' states after the last step, `[C, d]`, in the kind and on the device of `y0`.
    pub last: Tensor,
    /// What the run says about itself.
    pub diagnostics: Diagnostics,
}

/// A run's diagnostics.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostics {
    /// The share of proposals accepted after warm-up (1 for an unadjusted sampler).
    pub acceptance: f64,
    /// The step size used after warm-up.
    pub step_size: f64,
    /// Effective sample size of each coordinate over all chains.
    pub ess: Vec<f64>,
    /// Split-R̂ of each coordinate (near 1 when the chains agree).
    pub r_hat: Vec<f64>,
    /// The mean energy over chains at each kept step.
    pub energy_trace: Vec<f64>,
}

/// Something that draws from P(y | x) ∝ e^(−E(x, y)) by running chains.
pub trait Sampler {
    /// Runs one chain per row of `y0 [C, d]` (paired with `x [C, ...]`). Draws from libtorch's
    /// generator: seed it with `tch::manual_seed`.
    fn run<E: Energy + ?Sized>(&self, energy: &E, x: &Tensor, y0: &Tensor) -> Result<Chains>;
}

/// Settings of [`Mala`]; `check()` validates them.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MalaConfig {
    /// The step size h to start from (> 0): the proposal's drift is h∇E, its noise √(2h).
    pub step_size: f64,
    /// Warm-up steps (adapting h when `adapt`), not kept.
    pub warmup: usize,
    /// Kept draws per chain, after warm-up (≥ 4, for split-R̂ and the ESS).
    pub samples: usize,
    /// Keep every `thin`-th step (≥ 1).
    pub thin: usize,
    /// Adapt h by dual averaging during warm-up.
    pub adapt: bool,
    /// The acceptance rate the adaptation aims at, in (0, 1).
    pub target_accept: f64,
}

impl Default for MalaConfig {
    fn default() -> Self {
        MalaConfig {
            step_size: 0.1,
            warmup: 500,
            samples: 1000,
            thin: 1,
            adapt: true,
            target_accept: 0.574,
        }
    }
}

impl MalaConfig {
    /// Checks the settings; errors name the key.
    pub fn check(&self) -> Result<Mala> {
        check_positive("step_size", self.step_size)?;
        check_count("thin", self.thin)?;
        if self.samples < 4 {
            return Err(EbmError::Hyperparameter {
                name: "samples".into(),
                reason: "must be >= 4 (split-R̂ halves each chain)",
                value: self.samples.to_string(),
            });
        }
        if !(self.target_accept > 0.0 && self.target_accept < 1.0) {
            return Err(EbmError::Hyperparameter {
                name: "target_accept".into(),
                reason: "must be in (0, 1)",
                value: self.target_accept.to_string(),
            });
        }
        let steps = self
            .samples
            .checked_mul(self.thin)
            .and_then(|s| s.checked_add(self.warmup));
        if steps.is_none_or(|s| s > 100_000_000) {
            return Err(EbmError::Hyperparameter {
                name: "samples".into(),
                reason: "with warmup and thin must make at most 10⁸ steps",
                value: format!("{} × {} + {}", self.samples, self.thin, self.warmup),
            });
        }
        Ok(Mala {
            config: self.clone(),
        })
    }
}

/// The Metropolis-adjusted Langevin algorithm with dual-averaging step-size adaptation (see the
/// module docs). Build it with [`MalaConfig::check`].
#[derive(Debug, Clone, PartialEq)]
pub struct Mala {
    config: MalaConfig,
}

impl Mala {
    /// The settings it was checked from.
    pub fn config(&self) -> &MalaConfig {
        &self.config
    }
}

/// Dual averaging of log h toward a target acceptance (Hoffman & Gelman 2014, algorithm 5).
struct DualAveraging {
    mu: f64,
    target: f64,
    h_bar: f64,
    log_step: f64,
    m: f64,
}

impl DualAveraging {
    const GAMMA: f64 = 0.3;
    const T0: f64 = 10.0;

    fn new(step: f64, target: f64) -> Self {
        DualAveraging {
            mu: (10.0 * step).ln(),
            target,
            h_bar: 0.0,
            log_step: step.ln(),
            m: 0.0,
        }
    }

    /// One update with the mean acceptance probability of the last step; returns the next h.
    fn update(&mut self, accept: f64) -> f64 {
        self.m += 1.0;
        let eta = 1.0 / (self.m + Self::T0);
        self.h_bar = (1.0 - eta) * self.h_bar + eta * (self.target - accept);
        self.log_step = self.mu - self.m.sqrt() / Self::GAMMA * self.h_bar;
        self.log_step.exp()
    }
}

/// At a finite point `y`, an energy of NaN or −∞, or a NaN or infinite gradient where the
/// energy is finite, at step `t` of a chain: a typed error. (+∞ is a point outside the support,
/// and a point that is not finite a trajectory that diverged: the sampler rejects those.)
///
/// Returns whether every point, energy and gradient is finite (the common case, found by one
/// reduction), in which case [`Metropolis::decide`] needs no mask of rejected proposals.
fn check_step(y: &Tensor, e: &Tensor, g: &Tensor, t: usize) -> Result<bool> {
    let all_finite = e
        .f_sum(Kind::Double)?
        .f_add(&g.f_sum(Kind::Double)?)?
        .f_add(&y.f_sum(Kind::Double)?)?
        .f_isfinite()?;
    if bool::try_from(all_finite)? {
        return Ok(true);
    }
    let at_finite = y.f_isfinite()?.f_all_dim(1, false)?;
    let bad_energy = e.f_isnan()?.f_logical_or(&e.f_isneginf()?)?;
    let bad_grad = e
        .f_isfinite()?
        .f_logical_and(&g.f_isfinite()?.f_all_dim(1, false)?.f_logical_not()?)?;
    let bad = bad_energy
        .f_logical_or(&bad_grad)?
        .f_logical_and(&at_finite)?;
    if bool::try_from(bad.f_any()?)? {
        return Err(EbmError::NonFinite {
            what: format!(
                "the energy or its gradient at step {} of the chains (NaN or −∞ energy, or a NaN/∞ gradient where the energy is finite)",
                t + 1
            ),
            kind: "NaN or infinite values",
        });
    }
    Ok(false)
}

/// The step after warm-up: the geometric mean of the dual-averaging iterates of the last tenth
/// of warm-up. (Hoffman & Gelman's own average, over every iterate with weights m^(−κ), sits
/// off target where acceptance falls steeply with h — HMC's 0.65 read 0.72 in our tests — and
/// the last iterate alone is noisy with few chains.)
struct TailAverage {
    from: usize,
    seen: usize,
    sum: f64,
    count: usize,
}

impl TailAverage {
    fn new(warmup: usize) -> Self {
        TailAverage {
            from: warmup - (warmup / 10).max(1).min(warmup),
            seen: 0,
            sum: 0.0,
            count: 0,
        }
    }

    fn push(&mut self, log_step: f64) {
        if self.seen >= self.from {
            self.sum += log_step;
            self.count += 1;
        }
        self.seen += 1;
    }

    fn step(&self) -> f64 {
        (self.sum / self.count.max(1) as f64).exp()
    }
}

/// Checks the chains' inputs: `x` and `y0` paired, `y0 [C, d]` floating and finite.
fn check_chains(x: &Tensor, y0: &Tensor) -> Result<()> {
    ensure_same_batch(x, "x", y0, "y0")?;
    floating(y0, "y0")?;
    if y0.dim() != 2 {
        return Err(EbmError::Shape {
            what: "y0 (the chains' starts)".into(),
            expected: "[chains, d]".into(),
            got: y0.size(),
        });
    }
    ensure_finite(y0, "y0 (the chains' starts)")?;
    ensure_finite(x, "x")
}

/// Kept draws as they are made: `[C, d]` states and `[C]` energies per kept step.
struct Recorder {
    samples: Vec<Tensor>,
    energies: Vec<Tensor>,
}

impl Recorder {
    fn keep(&mut self, y: &Tensor, e: &Tensor) -> Result<()> {
        self.samples
            .push(y.f_to_device(Device::Cpu)?.f_to_kind(Kind::Double)?);
        self.energies
            .push(e.f_to_device(Device::Cpu)?.f_to_kind(Kind::Double)?);
        Ok(())
    }

    fn finish(self, last: Tensor, acceptance: f64, step_size: f64) -> Result<Chains> {
        let samples = Tensor::f_stack(&self.samples, 0)?;
        let energies = Tensor::f_stack(&self.energies, 0)?;
        let (s, c, d) = match samples.size()[..] {
            [s, c, d] => (s as usize, c as usize, d as usize),
            _ => {
                return Err(EbmError::Shape {
                    what: "kept draws".into(),
                    expected: "[S, C, d]".into(),
                    got: samples.size(),
                })
            }
        };
        let flat = Vec::<f64>::try_from(samples.f_flatten(0, -1)?)?;
        let coordinate = |j: usize| -> Vec<Vec<f64>> {
            (0..c)
                .map(|chain| (0..s).map(|t| flat[(t * c + chain) * d + j]).collect())
                .collect()
        };
        let ess = (0..d)
            .map(|j| effective_sample_size(&coordinate(j)))
            .collect::<Result<Vec<f64>>>()?;
        let r_hat = (0..d)
            .map(|j| split_r_hat(&coordinate(j)))
            .collect::<Result<Vec<f64>>>()?;
        let energy_trace = Vec::<f64>::try_from(energies.f_mean_dim(1, false, Kind::Double)?)?;
        Ok(Chains {
            samples,
            energies,
            last,
            diagnostics: Diagnostics {
                acceptance,
                step_size,
                ess,
                r_hat,
                energy_trace,
            },
        })
    }
}

impl Sampler for Mala {
    fn run<E: Energy + ?Sized>(&self, energy: &E, x: &Tensor, y0: &Tensor) -> Result<Chains> {
        check_chains(x, y0)?;
        let c = &self.config;
        let x = x.detach();
        let mut chains = Metropolis::start(energy, &x, y0, c)?;
        for t in 0..chains.total() {
            let (proposal, e_new, g_new, log_alpha) =
                mala_proposal(energy, &x, &chains.y, &chains.e, &chains.g, chains.step)?;
            let finite = check_step(&proposal, &e_new, &g_new, t)?;
            chains.decide(t, proposal, e_new, g_new, log_alpha, finite)?;
        }
        chains.finish()
    }
}

/// One MALA proposal from the chains at `y` (with their energies `e` and gradients `g`):
/// y' = y − h∇E(y) + √(2h)ξ, its energy and gradient, and, in f64,
/// log α = E(y) − E(y') + log q(y | y') − log q(y' | y) with
/// log q(y' | y) = −‖ξ‖²/2 and log q(y | y') = −‖y − y' + h∇E(y')‖² / (4h) (the same constant
/// dropped from both).
pub(crate) fn mala_proposal<E: Energy + ?Sized>(
    energy: &E,
    x: &Tensor,
    y: &Tensor,
    e: &Tensor,
    g: &Tensor,
    step: f64,
) -> Result<(Tensor, Tensor, Tensor, Tensor)> {
    let (proposal, log_q_forward) = {
        let _guard = tch::no_grad_guard();
        let noise = y.f_randn_like()?;
        let proposal = y
            .f_sub(&g.f_mul_scalar(step)?)?
            .f_add(&noise.f_mul_scalar((2.0 * step).sqrt())?)?;
        let log_q = noise
            .f_square()?
            .f_sum_dim_intlist(1, false, Kind::Double)?
            .f_mul_scalar(-0.5)?;
        (proposal, log_q)
    };
    let (e_new, g_new) = energy_and_grad_y(energy, x, &proposal)?;
    let _guard = tch::no_grad_guard();
    let back = y.f_sub(&proposal)?.f_add(&g_new.f_mul_scalar(step)?)?;
    let log_q_backward = back
        .f_square()?
        .f_sum_dim_intlist(1, false, Kind::Double)?
        .f_mul_scalar(-1.0 / (4.0 * step))?;
    let log_alpha = e
        .f_to_kind(Kind::Double)?
        .f_sub(&e_new.f_to_kind(Kind::Double)?)?
        .f_add(&log_q_backward)?
        .f_sub(&log_q_forward)?;
    Ok((proposal, e_new, g_new, log_alpha))
}

/// What MALA and HMC share around their proposals: the chains' states, the accept draw and
/// selection, step-size adaptation during warm-up, the acceptance count and the kept draws.
struct Metropolis {
    y: Tensor,
    e: Tensor,
    g: Tensor,
    step: f64,
    warmup: usize,
    thin: usize,
    total: usize,
    adapt: bool,
    adaptation: DualAveraging,
    tail: TailAverage,
    recorder: Recorder,
    /// Accepted proposals after warm-up, summed over chains (a 0-d f64 tensor).
    accepted: Tensor,
    proposed: f64,
}

impl Metropolis {
    /// Chains at `y0` with their energies and gradients, for the run length of `c`.
    fn start<E: Energy + ?Sized>(
        energy: &E,
        x: &Tensor,
        y0: &Tensor,
        c: &MalaConfig,
    ) -> Result<Metropolis> {
        let y = y0.f_detach_copy()?;
        let (e, g) = energy_and_grad_y(energy, x, &y)?;
        if !bool::try_from(e.f_isfinite()?.f_all()?)? {
            return Err(EbmError::NonFinite {
                what: "the energies at y0 (the chains' starts)".into(),
                kind: "NaN or infinite values",
            });
        }
        Ok(Metropolis {
            y,
            e,
            g,
            step: c.step_size,
            warmup: c.warmup,
            thin: c.thin,
            total: c.warmup + c.samples * c.thin,
            adapt: c.adapt,
            adaptation: DualAveraging::new(c.step_size, c.target_accept),
            tail: TailAverage::new(c.warmup),
            recorder: Recorder {
                samples: Vec::with_capacity(c.samples),
                energies: Vec::with_capacity(c.samples),
            },
            accepted: Tensor::f_zeros([], (Kind::Double, y0.device()))?,
            proposed: 0.0,
        })
    }

    /// Steps of the whole run, warm-up included.
    fn total(&self) -> usize {
        self.total
    }

    /// Accepts each chain's proposal with probability min(1, e^(log α)): a proposal of energy
    /// +∞ (outside the support), one that left the reals (a step too large) or a NaN log α is
    /// rejected. Then adapts the step (warm-up) or counts and keeps the draw. `all_finite`
    /// (from [`check_step`]: every proposal, energy and gradient finite, so log α is not NaN)
    /// skips the mask of rejected proposals.
    fn decide(
        &mut self,
        t: usize,
        proposal: Tensor,
        e_new: Tensor,
        g_new: Tensor,
        log_alpha: Tensor,
        all_finite: bool,
    ) -> Result<()> {
        let _guard = tch::no_grad_guard();
        let log_alpha = if all_finite {
            log_alpha
        } else {
            let finite = e_new
                .f_isfinite()?
                .f_logical_and(&proposal.f_isfinite()?.f_all_dim(1, false)?)?
                .f_logical_and(&log_alpha.f_isnan()?.f_logical_not()?)?;
            log_alpha.f_where_scalarother(&finite, f64::NEG_INFINITY)?
        };
        let u = log_alpha.f_rand_like()?.f_log()?;
        let accept = u.f_lt_tensor(&log_alpha)?;
        let keep_new = accept.f_unsqueeze(1)?;
        self.y = proposal.f_where_self(&keep_new, &self.y)?;
        self.g = g_new.f_where_self(&keep_new, &self.g)?;
        self.e = e_new.f_where_self(&accept, &self.e)?;
        if t < self.warmup {
            if self.adapt {
                let accept_prob = log_alpha.f_clamp_max(0.0)?.f_exp()?;
                self.step = self
                    .adaptation
                    .update(f64::try_from(accept_prob.f_mean(Kind::Double)?)?);
                self.tail.push(self.step.ln());
                if t + 1 == self.warmup {
                    self.step = self.tail.step();
                }
            }
            return Ok(());
        }
        // Summed on the device and read once at the end: no host sync per step.
        self.accepted = self.accepted.f_add(&accept.f_sum(Kind::Double)?)?;
        self.proposed += 1.0;
        if (t - self.warmup) % self.thin == self.thin - 1 {
            self.recorder.keep(&self.y, &self.e)?;
        }
        Ok(())
    }

    fn finish(self) -> Result<Chains> {
        let chains = self.y.size()[0] as f64;
        let acceptance = f64::try_from(self.accepted)? / (self.proposed * chains).max(1.0);
        self.recorder.finish(self.y, acceptance, self.step)
    }
}

/// Settings of [`Hmc`]; `check()` validates them.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HmcConfig {
    /// The leapfrog step size h to start from (> 0).
    pub step_size: f64,
    /// Leapfrog steps per proposal, L ≥ 1 (the most, with `jitter`).
    pub leapfrog_steps: usize,
    /// Draw each proposal's number of leapfrog steps uniformly from 1..=L, so that no
    /// trajectory length resonates with a period of the energy (a fixed L·h near a period of
    /// an oscillation returns the chain to where it started; Neal 2011, §5.4.2.2).
    pub jitter: bool,
    /// A diagonal mass matrix, one entry per coordinate of y (> 0); `None`: the identity.
    /// Momenta are drawn from N(0, M): a coordinate of scale σ mixes best with mass 1/σ².
    pub mass: Option<Vec<f64>>,
    /// Warm-up proposals (adapting h when `adapt`), not kept.
    pub warmup: usize,
    /// Kept draws per chain (≥ 4).
    pub samples: usize,
    /// Keep every `thin`-th proposal (≥ 1).
    pub thin: usize,
    /// Adapt h by dual averaging during warm-up.
    pub adapt: bool,
    /// The acceptance rate the adaptation aims at, in (0, 1) (0.65, as in Stan).
    pub target_accept: f64,
}

impl Default for HmcConfig {
    fn default() -> Self {
        HmcConfig {
            step_size: 0.1,
            leapfrog_steps: 10,
            jitter: true,
            mass: None,
            warmup: 500,
            samples: 1000,
            thin: 1,
            adapt: true,
            target_accept: 0.65,
        }
    }
}

impl HmcConfig {
    /// The step, run length and adaptation, which HMC shares with MALA.
    fn run_length(&self) -> MalaConfig {
        MalaConfig {
            step_size: self.step_size,
            warmup: self.warmup,
            samples: self.samples,
            thin: self.thin,
            adapt: self.adapt,
            target_accept: self.target_accept,
        }
    }

    /// Checks the settings; errors name the key.
    pub fn check(&self) -> Result<Hmc> {
        // The run length and acceptance rules are MALA's.
        self.run_length().check()?;
        check_count("leapfrog_steps", self.leapfrog_steps)?;
        if self.leapfrog_steps > 10_000 {
            return Err(EbmError::Hyperparameter {
                name: "leapfrog_steps".into(),
                reason: "must be at most 10000",
                value: self.leapfrog_steps.to_string(),
            });
        }
        if let Some(mass) = &self.mass {
            if mass.is_empty() || mass.iter().any(|m| !(m.is_finite() && *m > 0.0)) {
                return Err(EbmError::Hyperparameter {
                    name: "mass".into(),
                    reason: "must list one finite mass > 0 per coordinate",
                    value: format!("{mass:?}"),
                });
            }
        }
        Ok(Hmc {
            config: self.clone(),
        })
    }
}

/// Hamiltonian Monte Carlo: momenta p ~ N(0, M), L leapfrog steps of h on
/// H(y, p) = E(y) + ½ pᵀM⁻¹p, accepted with probability min(1, e^(H_old − H_new)); h adapted by
/// dual averaging during warm-up (Neal 2011, "MCMC using Hamiltonian dynamics"; Hoffman &
/// Gelman 2014). Build it with [`HmcConfig::check`].
#[derive(Debug, Clone, PartialEq)]
pub struct Hmc {
    config: HmcConfig,
}

impl Hmc {
    /// The settings it was checked from.
    pub fn config(&self) -> &HmcConfig {
        &self.config
    }
}

impl Sampler for Hmc {
    fn run<E: Energy + ?Sized>(&self, energy: &E, x: &Tensor, y0: &Tensor) -> Result<Chains> {
        check_chains(x, y0)?;
        let c = &self.config;
        let d = y0.size()[1];
        let x = x.detach();
        let options = (y0.kind(), y0.device());
        // `None`: the identity, with no per-step work for it.
        let mass = match &c.mass {
            Some(m) if m.len() as i64 != d => {
                return Err(EbmError::Hyperparameter {
                    name: "mass".into(),
                    reason: "must have one entry per coordinate of y",
                    value: format!("{} entries for d = {d}", m.len()),
                })
            }
            Some(m) => Some(
                Tensor::from_slice(m)
                    .f_to_kind(options.0)?
                    .f_to_device(options.1)?,
            ),
            None => None,
        };
        let mut chains = Metropolis::start(energy, &x, y0, &c.run_length())?;
        // ½ pᵀM⁻¹p, and the velocity M⁻¹p.
        let kinetic = |p: &Tensor| -> Result<Tensor> {
            let p2 = p.f_square()?;
            let p2 = match &mass {
                Some(m) => p2.f_div(m)?,
                None => p2,
            };
            Ok(p2
                .f_sum_dim_intlist(1, false, Kind::Double)?
                .f_mul_scalar(0.5)?)
        };
        let velocity = |p: &Tensor| -> Result<Tensor> {
            Ok(match &mass {
                Some(m) => p.f_div(m)?,
                None => p.shallow_clone(),
            })
        };
        for t in 0..chains.total() {
            let step = chains.step;
            let p0 = tch::no_grad(|| -> Result<Tensor> {
                let z = chains.y.f_randn_like()?;
                Ok(match &mass {
                    Some(m) => z.f_mul(&m.f_sqrt()?)?,
                    None => z,
                })
            })?;
            let h_old = chains.e.f_to_kind(Kind::Double)?.f_add(&kinetic(&p0)?)?;
            // Leapfrog: a half step of momentum, L full steps of position (with full momentum
            // steps between them), a final half step of momentum.
            let length = match c.jitter {
                true => {
                    let draw = Tensor::f_randint_low(
                        1,
                        c.leapfrog_steps as i64 + 1,
                        [1],
                        (Kind::Int64, Device::Cpu),
                    )?;
                    i64::try_from(draw.f_squeeze()?)? as usize
                }
                false => c.leapfrog_steps,
            };
            let mut q = chains.y.shallow_clone();
            let mut p = tch::no_grad(|| p0.f_sub(&chains.g.f_mul_scalar(0.5 * step)?))?;
            let (mut e_new, mut g_new) = (chains.e.shallow_clone(), chains.g.shallow_clone());
            let mut finite = true;
            for l in 0..length {
                q = tch::no_grad(|| -> Result<Tensor> {
                    Ok(q.f_add(&velocity(&p)?.f_mul_scalar(step)?)?)
                })?;
                (e_new, g_new) = energy_and_grad_y(energy, &x, &q)?;
                finite = check_step(&q, &e_new, &g_new, t)?;
                let scale = if l + 1 == length { 0.5 } else { 1.0 };
                p = tch::no_grad(|| p.f_sub(&g_new.f_mul_scalar(scale * step)?))?;
            }
            let h_new = {
                let _guard = tch::no_grad_guard();
                e_new.f_to_kind(Kind::Double)?.f_add(&kinetic(&p)?)?
            };
            // An infinite H makes log α −∞; a NaN one is rejected by `decide`.
            let log_alpha = h_old.f_sub(&h_new)?;
            chains.decide(t, q, e_new, g_new, log_alpha, finite)?;
        }
        chains.finish()
    }
}

impl Sampler for crate::Langevin {
    /// Unadjusted Langevin: every step is kept (warm-up is the caller's), acceptance 1, and
    /// the step size is the drift's scale.
    fn run<E: Energy + ?Sized>(&self, energy: &E, x: &Tensor, y0: &Tensor) -> Result<Chains> {
        check_chains(x, y0)?;
        let mut recorder = Recorder {
            samples: Vec::with_capacity(self.steps()),
            energies: Vec::with_capacity(self.steps()),
        };
        if self.steps() < 4 {
            return Err(EbmError::Hyperparameter {
                name: "steps".into(),
                reason: "must be >= 4 to keep draws for split-R̂ and the ESS",
                value: self.steps().to_string(),
            });
        }
        let one = crate::LangevinConfig {
            steps: 1,
            ..self.config()
        }
        .check()?;
        let mut y = y0.shallow_clone();
        for _ in 0..self.steps() {
            y = one.sample(energy, x, &y)?;
            let e = tch::no_grad(|| energy.energy(&x.detach(), &y))?;
            recorder.keep(&y, &e)?;
        }
        let drift = match self.step() {
            crate::LangevinStep::Exact { epsilon, beta } => 0.5 * epsilon * beta,
            crate::LangevinStep::Decoupled { step_size, .. } => step_size,
        };
        recorder.finish(y, 1.0, drift)
    }
}

fn check_draws(chains: &[Vec<f64>], what: &str) -> Result<(usize, usize)> {
    let m = chains.len();
    let n = chains.first().map_or(0, Vec::len);
    if m == 0 || n < 4 || chains.iter().any(|c| c.len() != n) {
        return Err(EbmError::Shape {
            what: what.into(),
            expected: "at least one chain of at least 4 draws, all of the same length".into(),
            got: chains.iter().map(|c| c.len() as i64).collect(),
        });
    }
    if chains.iter().flatten().any(|v| !v.is_finite()) {
        return Err(EbmError::NonFinite {
            what: what.into(),
            kind: "NaN or infinite values",
        });
    }
    Ok((m, n))
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

/// Each chain cut into its two halves (an odd middle draw dropped).
fn split(chains: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let half = chains[0].len() / 2;
    chains
        .iter()
        .flat_map(|c| [c[..half].to_vec(), c[c.len() - half..].to_vec()])
        .collect()
}

/// (W, var⁺): the mean within-chain variance and the pooled estimate of the posterior
/// variance, (n − 1)/n · W + B/n.
fn variances(chains: &[Vec<f64>]) -> (f64, f64) {
    let m = chains.len() as f64;
    let n = chains[0].len() as f64;
    let means: Vec<f64> = chains.iter().map(|c| mean(c)).collect();
    let grand = mean(&means);
    let b = if m > 1.0 {
        n / (m - 1.0) * means.iter().map(|x| (x - grand).powi(2)).sum::<f64>()
    } else {
        0.0
    };
    let w = chains
        .iter()
        .zip(&means)
        .map(|(c, mu)| c.iter().map(|x| (x - mu).powi(2)).sum::<f64>() / (n - 1.0))
        .sum::<f64>()
        / m;
    (w, (n - 1.0) / n * w + b / n)
}

/// Split-R̂ of one coordinate: chains `[m][n]` are cut in halves, and R̂ = √(var⁺ / W). 1 when
/// the chains agree; above about 1.01, run longer.
pub fn split_r_hat(chains: &[Vec<f64>]) -> Result<f64> {
    check_draws(chains, "draws for split-R̂")?;
    let (w, var_plus) = variances(&split(chains));
    if w == 0.0 {
        return Ok(if var_plus == 0.0 { 1.0 } else { f64::INFINITY });
    }
    Ok((var_plus / w).sqrt())
}

/// The effective sample size of one coordinate over chains `[m][n]` (split in halves): m·n / τ
/// with τ = −1 + 2 Σ_k P_k, P_k = ρ̂_2k + ρ̂_2k+1 summed while positive and made monotone,
/// ρ̂_t = 1 − (W − mean autocovariance at lag t) / var⁺.
pub fn effective_sample_size(chains: &[Vec<f64>]) -> Result<f64> {
    check_draws(chains, "draws for the effective sample size")?;
    let halves = split(chains);
    let m = halves.len();
    let n = halves[0].len();
    let (w, var_plus) = variances(&halves);
    if var_plus == 0.0 {
        return Ok((m * n) as f64);
    }
    let centred: Vec<Vec<f64>> = halves
        .iter()
        .map(|c| {
            let mu = mean(c);
            c.iter().map(|x| x - mu).collect()
        })
        .collect();
    // Autocovariance at lag t, averaged over chains (the biased estimator, divided by n).
    let acov = |t: usize| -> f64 {
        centred
            .iter()
            .map(|c| (0..n - t).map(|i| c[i] * c[i + t]).sum::<f64>() / n as f64)
            .sum::<f64>()
            / m as f64
    };
    // Stan's estimator: ρ̂_0 = 1, ρ̂_t = 1 − (W − mean autocovariance at t) / var⁺.
    let rho = |t: usize| {
        if t == 0 {
            1.0
        } else {
            1.0 - (w - acov(t)) / var_plus
        }
    };
    let mut tau = -1.0;
    let mut previous = f64::INFINITY;
    let mut k = 0;
    while 2 * k + 1 < n {
        let pair = rho(2 * k) + rho(2 * k + 1);
        if pair <= 0.0 {
            break;
        }
        let pair = pair.min(previous);
        tau += 2.0 * pair;
        previous = pair;
        k += 1;
    }
    let tau = tau.max(1.0 / ((m * n) as f64).log10().max(1.0));
    Ok((m * n) as f64 / tau)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// splitmix64 uniforms and Box–Muller normals, for seeded draws without libtorch.
    struct Draws(u64);

    impl Draws {
        fn uniform(&mut self) -> f64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            (((z ^ (z >> 31)) >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        }

        fn normal(&mut self) -> f64 {
            let (u, v) = (self.uniform(), self.uniform());
            (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
        }

        /// m chains of an AR(1) process x_t = φ x_{t−1} + √(1 − φ²) ε_t (unit variance).
        fn ar1(&mut self, m: usize, n: usize, phi: f64, offset: &[f64]) -> Vec<Vec<f64>> {
            (0..m)
                .map(|c| {
                    let mut x = self.normal();
                    (0..n)
                        .map(|_| {
                            x = phi * x + (1.0 - phi * phi).sqrt() * self.normal();
                            x + offset.get(c).copied().unwrap_or(0.0)
                        })
                        .collect()
                })
                .collect()
        }
    }

    #[test]
    fn r_hat_and_ess_by_hand() {
        // Two chains of four draws: halves [1,2],[3,4],[2,3],[4,5]: means 1.5, 3.5, 2.5, 4.5;
        // W = 0.5, B = 2 · var(means) = 2 · 5/3, var⁺ = W/2 + B/2 = 0.25 + 5/3.
        let chains = vec![vec![1.0, 2.0, 3.0, 4.0], vec![2.0, 3.0, 4.0, 5.0]];
        let r = split_r_hat(&chains).expect("r");
        let expected = ((0.25 + 5.0 / 3.0) / 0.5f64).sqrt();
        assert!((r - expected).abs() < 1e-12, "{r} vs {expected}");
        assert!(split_r_hat(&[vec![1.0, 2.0]]).is_err());
        assert!(split_r_hat(&[vec![1.0, f64::NAN, 2.0, 3.0]]).is_err());
        assert_eq!(
            split_r_hat(&[vec![2.0; 8], vec![2.0; 8]]).expect("constant"),
            1.0
        );
    }

    #[test]
    fn ess_of_independent_and_correlated_draws() {
        let mut draws = Draws(7);
        // Independent draws: the ESS is about the number of draws.
        let iid = draws.ar1(8, 2000, 0.0, &[]);
        let ess = effective_sample_size(&iid).expect("ess");
        assert!((ess / 16_000.0 - 1.0).abs() < 0.15, "iid ESS {ess}");
        // AR(1) with φ = 0.8: τ = (1 + φ)/(1 − φ) = 9, so about 16000 / 9.
        let ar = draws.ar1(8, 4000, 0.8, &[]);
        let ess = effective_sample_size(&ar).expect("ess");
        let expected = 32_000.0 / 9.0;
        assert!(
            (ess / expected - 1.0).abs() < 0.2,
            "AR(1) ESS {ess} vs {expected}"
        );
        // Agreeing chains give R̂ near 1; chains stuck apart do not.
        assert!(split_r_hat(&iid).expect("r") < 1.005);
        let apart = draws.ar1(8, 500, 0.0, &[0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0]);
        assert!(split_r_hat(&apart).expect("r") > 1.1);
    }

    #[test]
    fn dual_averaging_moves_the_step_toward_the_target() {
        // Accepting too little shrinks the step, too much grows it.
        let mut low = DualAveraging::new(1.0, 0.574);
        let mut high = DualAveraging::new(1.0, 0.574);
        let (mut a, mut b) = (1.0, 1.0);
        for _ in 0..50 {
            a = low.update(0.1);
            b = high.update(0.95);
        }
        assert!(a < 1.0 && b > 1.0, "{a} {b}");
        // The tail average of the iterates.
        let mut tail = TailAverage::new(20);
        for i in 0..20 {
            tail.push(f64::from(i).ln_1p());
        }
        let expected = ((19.0f64.ln_1p() + 18.0f64.ln_1p()) / 2.0).exp();
        assert!((tail.step() - expected).abs() < 1e-12);
    }

    #[test]
    fn bad_settings_and_starts_are_typed_errors() {
        for bad in [
            MalaConfig {
                step_size: 0.0,
                ..MalaConfig::default()
            },
            MalaConfig {
                samples: 3,
                ..MalaConfig::default()
            },
            MalaConfig {
                thin: 0,
                ..MalaConfig::default()
            },
            MalaConfig {
                target_accept: 1.0,
                ..MalaConfig::default()
            },
            MalaConfig {
                samples: usize::MAX,
                ..MalaConfig::default()
            },
        ] {
            assert!(
                matches!(bad.check(), Err(EbmError::Hyperparameter { .. })),
                "{bad:?}"
            );
        }
        let mala = MalaConfig::default().check().expect("ok");
        let energy = crate::FnEnergy::new(|_x: &Tensor, y: &Tensor| {
            y.square().sum_dim_intlist(1, false, None)
        });
        let x = Tensor::zeros([2, 0], (Kind::Float, Device::Cpu));
        let nan = Tensor::from_slice(&[0.0f32, f32::NAN]).view([2, 1]);
        assert!(matches!(
            mala.run(&energy, &x, &nan),
            Err(EbmError::NonFinite { .. })
        ));
        let flat = Tensor::zeros([2], (Kind::Float, Device::Cpu));
        assert!(mala.run(&energy, &x, &flat).is_err());
    }
}
