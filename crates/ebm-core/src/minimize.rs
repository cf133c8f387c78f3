//! Continuous inference behind one trait: ŷ = argmin_y E(x, y) by [`GradientDescent`], by
//! derivative-free optimisation ([`Dfo`]), or by Langevin dynamics followed by a descent
//! ([`LangevinSearch`]); configs name one with [`SearchConfig`]
//! (`search = { kind = "dfo", samples = 4096 }`; without `kind`, gradient descent).
//!
//! The two new minimisers are those of implicit behavioural cloning (Florence et al. 2021,
//! google-research/ibc `ibc/agents/mcmc.py`): DFO needs no gradient and covers every mode of a
//! box at the price of many energy evaluations; Langevin inference follows the gradient from
//! many starts with a noise that lets chains cross low barriers, then a descent polishes them.
//!
//! ```
//! use ebm_core::{ContinuousSpace, DfoConfig, FnEnergy, Minimizer};
//! use tch::{Kind, Tensor};
//! tch::manual_seed(0);
//! // A steep bowl around y = (0.3, −0.2).
//! let e = FnEnergy::new(|_x: &Tensor, y: &Tensor| {
//!     (y - Tensor::from_slice(&[0.3f32, -0.2])).square().sum_dim_intlist(1, false, None) * 100.0
//! });
//! let dfo = DfoConfig { samples: 2048, iterations: 8, ..Default::default() }.check().unwrap();
//! let x = Tensor::zeros([1, 1], (Kind::Float, tch::Device::Cpu));
//! let found = dfo.minimize(&e, &x, &ContinuousSpace::boxed(2, -1.0, 1.0).unwrap()).unwrap();
//! let best: Vec<f64> = Vec::try_from(found.best_y.flatten(0, -1).to_kind(Kind::Double)).unwrap();
//! assert!((best[0] - 0.3).abs() < 0.02 && (best[1] + 0.2).abs() < 0.02);
//!
//! // Bad settings are errors that name the key.
//! let bad = DfoConfig { shrink: 1.5, ..Default::default() };
//! assert!(bad.check().unwrap_err().to_string().contains("shrink"));
//! ```

use crate::check::{batch_size, check_count, check_non_negative, check_positive, ensure_no_nan};
use crate::energy::Energy;
use crate::error::{EbmError, Result};
use crate::inference::{
    distinct_minima, float_kind, restarts_of, GradientDescent, GradientDescentConfig, Minima,
};
use crate::langevin::{LangevinConfig, LangevinStep};
use crate::space::ContinuousSpace;
use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

/// A continuous minimiser: for every row of `x`, the best y found in `space`, the energies of
/// the points it ended at, and the distinct minima among them.
pub trait Minimizer {
    /// Minimises E(x, ·) over `space` for every row of `x` (W is not differentiated).
    fn minimize(&self, energy: &dyn Energy, x: &Tensor, space: &ContinuousSpace) -> Result<Minima>;
}

impl Minimizer for GradientDescent {
    fn minimize(&self, energy: &dyn Energy, x: &Tensor, space: &ContinuousSpace) -> Result<Minima> {
        GradientDescent::minimize(self, energy, x, space)
    }
}

// ---------------------------------------------------------------------------------------------
// Derivative-free optimisation.

/// The settings of a [`Dfo`] (`search = { kind = "dfo", … }`); defaults are IBC's inference
/// settings (16,384 samples, σ = 0.33, shrink 0.5, 3 iterations, temperature 1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DfoConfig {
    /// Samples per x, N ≥ 1.
    pub samples: usize,
    /// Standard deviation σ of the Gaussian perturbation of the first iteration, > 0.
    pub noise: f64,
    /// σ is multiplied by this after every iteration, in (0, 1).
    pub shrink: f64,
    /// Resample-and-perturb iterations, K ≥ 1.
    pub iterations: usize,
    /// Samples are drawn with probabilities softmax(−E / temperature), > 0.
    pub temperature: f64,
    /// The lowest-energy final samples per x kept as the points [`Minima`] reports (and
    /// deduplicated into its distinct minima), 1 ≤ keep ≤ samples.
    pub keep: usize,
    /// Two kept samples closer than this (Euclidean) are the same minimum, ≥ 0.
    pub dedup_tolerance: f64,
    /// Independent populations per x, P ≥ 1 (1: IBC's algorithm). The N samples are split
    /// into P populations of N/P that resample only among themselves, as P separate DFO runs
    /// would, and each keeps its `keep`/P lowest: resampling by softmax(−E) draws a single
    /// population onto the deepest well it has found, so one population finds one mode, and
    /// P of them can find several (as gradient descent's restarts do). P must divide both
    /// `samples` and `keep`.
    pub populations: usize,
}

impl Default for DfoConfig {
    fn default() -> Self {
        DfoConfig {
            samples: 16_384,
            noise: 0.33,
            shrink: 0.5,
            iterations: 3,
            temperature: 1.0,
            keep: 256,
            dedup_tolerance: 0.1,
            populations: 1,
        }
    }
}

impl DfoConfig {
    /// Checks every setting; errors name the key (`samples`, `noise`, `shrink`, `iterations`,
    /// `temperature`, `keep`, `dedup_tolerance`).
    pub fn check(&self) -> Result<Dfo> {
        check_count("samples", self.samples)?;
        check_positive("noise", self.noise)?;
        if !(self.shrink > 0.0 && self.shrink < 1.0) {
            return Err(EbmError::hyperparameter(
                "shrink",
                "must be in (0, 1)",
                self.shrink,
            ));
        }
        check_count("iterations", self.iterations)?;
        check_positive("temperature", self.temperature)?;
        check_count("keep", self.keep)?;
        if self.keep > self.samples {
            return Err(EbmError::hyperparameter(
                "keep",
                "must be at most `samples`",
                self.keep,
            ));
        }
        check_non_negative("dedup_tolerance", self.dedup_tolerance)?;
        check_count("populations", self.populations)?;
        if !self.samples.is_multiple_of(self.populations)
            || !self.keep.is_multiple_of(self.populations)
        {
            return Err(EbmError::hyperparameter(
                "populations",
                "must divide both `samples` and `keep`",
                self.populations,
            ));
        }
        Ok(Dfo {
            config: self.clone(),
        })
    }
}

/// Iterative derivative-free optimisation (IBC's `iterative_dfo`, as in kevinzakka/ibc's
/// `DerivativeFreeOptimizer`): N samples per x drawn uniformly in the box (N(0, 1) on R^d);
/// then K times: the energies, N draws with replacement with probabilities softmax(−E/T),
/// Gaussian noise of std σ, clamp into the box, σ ← shrink·σ; finally the energies of the last
/// samples. The best is their argmin; the `keep` lowest give the distinct minima. With
/// `populations` P > 1, each x runs P such populations of N/P side by side (see
/// [`DfoConfig::populations`]).
///
/// Batched over x in chunks of at most 2^16 samples per energy call, so memory does not grow
/// with the batch. Made by [`DfoConfig::check`].
#[derive(Debug, Clone, PartialEq)]
pub struct Dfo {
    config: DfoConfig,
}

/// Samples per energy call in [`Dfo`] (x rows per chunk = this / N, at least 1).
const DFO_CHUNK_SAMPLES: i64 = 1 << 16;

impl Dfo {
    /// The settings.
    pub fn config(&self) -> &DfoConfig {
        &self.config
    }

    /// DFO on rows `x` (a chunk), `[b, N, d]` samples out with their energies `[b, N]`.
    fn run(
        &self,
        energy: &dyn Energy,
        x: &Tensor,
        space: &ContinuousSpace,
    ) -> Result<(Tensor, Tensor)> {
        let c = &self.config;
        let b = batch_size(x, "x")?;
        let n = c.samples as i64;
        // Resampling happens within each of the b·p populations of m samples.
        let p = c.populations as i64;
        let m = n / p;
        let d = space.dim();
        let x_rep = x.f_repeat_interleave_self_int(n, 0, Some(b * n))?;
        let mut y = space
            .sample(b * n, 1.0, float_kind(x), x.device())?
            .f_view([b, n, d])?;
        let energies = |y: &Tensor| -> Result<Tensor> {
            let e = energy.energy(&x_rep, &y.f_view([b * n, d])?)?;
            crate::check::ensure_shape(&e, "energy output", &[b * n])?;
            let e = e.f_view([b, n])?;
            ensure_no_nan(&e, "energies of the DFO samples")?;
            Ok(e)
        };
        let mut sigma = c.noise;
        for _ in 0..c.iterations {
            let e = energies(&y)?;
            let probs = e
                .f_view([b * p, m])?
                .f_to_kind(Kind::Float)?
                .f_div_scalar(-c.temperature)?
                .f_softmax(1, Kind::Float)?;
            if !bool::try_from(probs.f_isfinite()?.f_all()?)? {
                return Err(EbmError::NonFinite {
                    what: "the DFO resampling weights (every sample of a row has energy +inf)"
                        .into(),
                    kind: "NaN values",
                });
            }
            let index = probs.f_multinomial(m, true)?;
            y = y
                .f_view([b * p, m, d])?
                .f_gather(
                    1,
                    &index.f_unsqueeze(2)?.f_expand([b * p, m, d], false)?,
                    false,
                )?
                .f_view([b, n, d])?;
            let _ = y.f_add_(&y.f_randn_like()?.f_mul_scalar_(sigma)?)?;
            if let Some((lo, hi)) = space.bounds() {
                let _ = y.f_clamp_(lo, hi)?;
            }
            sigma *= c.shrink;
        }
        let e = energies(&y)?;
        Ok((y, e))
    }
}

impl Minimizer for Dfo {
    fn minimize(&self, energy: &dyn Energy, x: &Tensor, space: &ContinuousSpace) -> Result<Minima> {
        let _guard = tch::no_grad_guard();
        let b = batch_size(x, "x")?;
        let n = self.config.samples as i64;
        let keep = self.config.keep as i64;
        let d = space.dim();
        // With P populations each keeps its keep/P lowest, then all are sorted together.
        let p = self.config.populations as i64;
        let (m, per) = (n / p, keep / p);
        let rows = (DFO_CHUNK_SAMPLES / n).max(1);
        let (mut ys, mut es) = (Vec::new(), Vec::new());
        let mut start = 0;
        while start < b {
            let len = rows.min(b - start);
            let (y, e) = self.run(energy, &x.f_narrow(0, start, len)?, space)?;
            // The `keep` lowest energies, sorted.
            let rows_p = len * p;
            let (e_keep, index) = e.f_view([rows_p, m])?.f_topk(per, 1, false, true)?;
            let mut y_keep = y
                .f_view([rows_p, m, d])?
                .f_gather(
                    1,
                    &index.f_unsqueeze(2)?.f_expand([rows_p, per, d], false)?,
                    false,
                )?
                .f_view([len, keep, d])?;
            let mut e_keep = e_keep.f_view([len, keep])?;
            if p > 1 {
                let (sorted, order) = e_keep.f_sort(1, false)?;
                y_keep = y_keep.f_gather(
                    1,
                    &order.f_unsqueeze(2)?.f_expand([len, keep, d], false)?,
                    false,
                )?;
                e_keep = sorted;
            }
            ys.push(y_keep);
            es.push(e_keep);
            start += len;
        }
        let y = Tensor::f_cat(&ys, 0)?;
        let e = Tensor::f_cat(&es, 0)?;
        if !bool::try_from(e.f_narrow(1, 0, 1)?.f_isfinite()?.f_all()?)? {
            return Err(EbmError::NonFinite {
                what: "the best DFO sample's energy".into(),
                kind: "infinite values",
            });
        }
        let best_y = y.f_select(1, 0)?;
        let best_energy = e.f_select(1, 0)?;
        let distinct = distinct_minima(&y, &e, self.config.dedup_tolerance)?;
        Ok(Minima {
            y,
            energy: e,
            best_y,
            best_energy,
            distinct,
            steps_taken: self.config.iterations,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Langevin inference.

/// The settings of a [`LangevinSearch`] (`search = { kind = "langevin", … }`); defaults are
/// IBC's (`langevin_actions_given_obs`: step 1e-1 → 1e-5 on a polynomial schedule of power 2,
/// noise scale 1, the move clipped to 0.1 of the box's half-width), with 100 steps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LangevinSearchConfig {
    /// Chains per x, ≥ 1 (started uniformly in the box, N(0, 1) on R^d).
    pub chains: usize,
    /// Langevin steps, ≥ 1.
    pub steps: usize,
    /// Step size λ_0 of the first step, > 0.
    pub step_init: f64,
    /// Step size of the last step, in (0, step_init].
    pub step_final: f64,
    /// Power of the polynomial schedule λ_t = (λ_0 − λ_T)(1 − t/(T−1))^power + λ_T, > 0.
    pub power: f64,
    /// Noise scale: step t moves y by −λ_t (½∇_y E + noise_scale·ξ), ≥ 0.
    pub noise_scale: f64,
    /// Optional clamp of each gradient coordinate into [−c, c] before the step, c > 0.
    pub grad_clip: Option<f64>,
    /// Each coordinate of the move is clipped to this share of the box's half-width
    /// (an absolute bound on R^d), > 0.
    pub delta_clip: f64,
    /// The final gradient descent from every chain's end (its `restarts` is not used: the
    /// chains are the starts); its `dedup_tolerance` merges the minima.
    pub descent: GradientDescentConfig,
}

impl Default for LangevinSearchConfig {
    fn default() -> Self {
        LangevinSearchConfig {
            chains: 64,
            steps: 100,
            step_init: 1e-1,
            step_final: 1e-5,
            power: 2.0,
            noise_scale: 1.0,
            grad_clip: None,
            delta_clip: 0.1,
            descent: GradientDescentConfig {
                steps: 100,
                ..GradientDescentConfig::default()
            },
        }
    }
}

impl LangevinSearchConfig {
    /// Checks every setting; errors name the key (`chains`, `steps`, `step_init`,
    /// `step_final`, `power`, `noise_scale`, `grad_clip`, `delta_clip`, `descent.…`).
    pub fn check(&self) -> Result<LangevinSearch> {
        check_count("chains", self.chains)?;
        check_count("steps", self.steps)?;
        check_positive("step_init", self.step_init)?;
        check_positive("step_final", self.step_final)?;
        if self.step_final > self.step_init {
            return Err(EbmError::hyperparameter(
                "step_final",
                "must be at most step_init",
                self.step_final,
            ));
        }
        check_positive("power", self.power)?;
        check_non_negative("noise_scale", self.noise_scale)?;
        if let Some(c) = self.grad_clip {
            check_positive("grad_clip", c)?;
        }
        check_positive("delta_clip", self.delta_clip)?;
        let descent = self.descent.check().map_err(|e| e.within("descent"))?;
        Ok(LangevinSearch {
            config: self.clone(),
            descent,
        })
    }
}

/// Langevin inference (IBC's `langevin_actions_given_obs`) and a final descent: `chains` starts
/// per x, `steps` steps of ebm-core's [`crate::Langevin`] sampler with the decoupled step
/// y ← y − λ_t (½∇_y E + noise_scale·ξ) (each coordinate of the move clipped, y clamped into
/// the box) on IBC's polynomial schedule λ_t, then [`GradientDescent`] from every chain's end.
/// Made by [`LangevinSearchConfig::check`].
#[derive(Debug, Clone, PartialEq)]
pub struct LangevinSearch {
    config: LangevinSearchConfig,
    descent: GradientDescent,
}

impl LangevinSearch {
    /// The settings.
    pub fn config(&self) -> &LangevinSearchConfig {
        &self.config
    }

    /// The step size λ_t of step `t` (from 0): IBC's `PolynomialSchedule`.
    pub fn step_size(&self, t: usize) -> f64 {
        polynomial_schedule(
            self.config.step_init,
            self.config.step_final,
            self.config.power,
            self.config.steps,
            t,
        )
    }
}

/// (init − final)·(1 − t/(T−1))^power + final; `init` for a one-step schedule.
pub fn polynomial_schedule(init: f64, last: f64, power: f64, steps: usize, t: usize) -> f64 {
    if steps <= 1 {
        return init;
    }
    let progress = (t as f64 / (steps - 1) as f64).min(1.0);
    (init - last) * (1.0 - progress).powf(power) + last
}

impl LangevinSearch {
    /// The Langevin part alone: runs the chains from `starts [B, R, d]` (R chains per row of
    /// `x`) and returns their ends `[B, R, d]`, without the final descent. Training refines
    /// counter-examples with it.
    pub fn chains(
        &self,
        energy: &dyn Energy,
        x: &Tensor,
        starts: &Tensor,
        space: &ContinuousSpace,
    ) -> Result<Tensor> {
        let c = &self.config;
        let b = batch_size(x, "x")?;
        let d = space.dim();
        let r = restarts_of(starts, "chain starts", b, d)?;
        let sampler = LangevinConfig {
            step: LangevinStep::Decoupled {
                step_size: 0.5,
                noise_std: c.noise_scale,
            },
            steps: c.steps,
            clamp: space.bounds(),
            grad_clip: c.grad_clip,
        }
        .check()?;
        let half_width = space.bounds().map_or(1.0, |(lo, hi)| 0.5 * (hi - lo));
        let x_rep = x.detach().f_repeat_interleave_self_int(r, 0, Some(b * r))?;
        let ends = sampler.sample_scheduled(
            energy,
            &x_rep,
            &starts.f_reshape([b * r, d])?,
            &|t| self.step_size(t),
            Some(c.delta_clip * half_width),
        )?;
        Ok(ends.f_view([b, r, d])?)
    }
}

impl Minimizer for LangevinSearch {
    fn minimize(&self, energy: &dyn Energy, x: &Tensor, space: &ContinuousSpace) -> Result<Minima> {
        let b = batch_size(x, "x")?;
        let r = self.config.chains as i64;
        let d = space.dim();
        let starts = {
            let _guard = tch::no_grad_guard();
            space
                .sample(b * r, 1.0, float_kind(x), x.device())?
                .f_view([b, r, d])?
        };
        let ends = self.chains(energy, x, &starts, space)?;
        self.descent.minimize_from(energy, x, space, &ends, None)
    }
}

// ---------------------------------------------------------------------------------------------
// The config that names a minimiser.

/// Which minimiser a continuous architecture infers with, as written in a config:
/// `search = { kind = "gradient_descent" | "dfo" | "langevin", … }`; a table without `kind`
/// is gradient descent (the configs written before the other two existed).
///
/// ```
/// use ebm_core::SearchConfig;
/// let dfo: SearchConfig = toml::from_str("kind = \"dfo\"\nsamples = 1024").unwrap();
/// assert!(matches!(dfo, SearchConfig::Dfo(ref c) if c.samples == 1024));
/// let gd: SearchConfig = toml::from_str("restarts = 4").unwrap();
/// assert!(matches!(gd, SearchConfig::GradientDescent(ref c) if c.restarts == 4));
/// // A field of another minimiser is named in the error.
/// let bad = toml::from_str::<SearchConfig>("kind = \"dfo\"\nrestarts = 4").unwrap_err();
/// assert!(bad.to_string().contains("restarts"));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", try_from = "RawSearch")]
pub enum SearchConfig {
    /// [`GradientDescent`] with restarts.
    GradientDescent(GradientDescentConfig),
    /// [`Dfo`].
    Dfo(DfoConfig),
    /// [`LangevinSearch`].
    Langevin(LangevinSearchConfig),
}

impl Default for SearchConfig {
    fn default() -> Self {
        SearchConfig::GradientDescent(GradientDescentConfig::default())
    }
}

impl From<GradientDescentConfig> for SearchConfig {
    fn from(c: GradientDescentConfig) -> Self {
        SearchConfig::GradientDescent(c)
    }
}

impl SearchConfig {
    /// The config's `kind`.
    pub fn kind_name(&self) -> &'static str {
        match self {
            SearchConfig::GradientDescent(_) => "gradient_descent",
            SearchConfig::Dfo(_) => "dfo",
            SearchConfig::Langevin(_) => "langevin",
        }
    }

    /// Checks the settings and gives the minimiser; errors name the key.
    pub fn check(&self) -> Result<Search> {
        Ok(match self {
            SearchConfig::GradientDescent(c) => Search::GradientDescent(c.check()?),
            SearchConfig::Dfo(c) => Search::Dfo(c.check()?),
            SearchConfig::Langevin(c) => Search::Langevin(c.check()?),
        })
    }

    /// The gradient-descent settings this search uses for its descents: its own for
    /// gradient descent, the final descent's for Langevin, the defaults for DFO.
    pub fn descent(&self) -> GradientDescentConfig {
        match self {
            SearchConfig::GradientDescent(c) => c.clone(),
            SearchConfig::Langevin(c) => c.descent.clone(),
            SearchConfig::Dfo(_) => GradientDescentConfig::default(),
        }
    }
}

/// A checked minimiser of any kind (made by [`SearchConfig::check`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Search {
    /// Gradient descent with restarts.
    GradientDescent(GradientDescent),
    /// Derivative-free optimisation.
    Dfo(Dfo),
    /// Langevin inference and a final descent.
    Langevin(LangevinSearch),
}

impl Default for Search {
    fn default() -> Self {
        Search::GradientDescent(GradientDescent::default())
    }
}

impl From<GradientDescent> for Search {
    fn from(gd: GradientDescent) -> Self {
        Search::GradientDescent(gd)
    }
}

impl Search {
    /// The gradient-descent settings of this search's descents (see [`SearchConfig::descent`]).
    pub fn descent(&self) -> GradientDescentConfig {
        match self {
            Search::GradientDescent(gd) => gd.config(),
            Search::Langevin(l) => l.descent.config(),
            Search::Dfo(_) => GradientDescentConfig::default(),
        }
    }
}

impl Minimizer for Search {
    fn minimize(&self, energy: &dyn Energy, x: &Tensor, space: &ContinuousSpace) -> Result<Minima> {
        match self {
            Search::GradientDescent(m) => Minimizer::minimize(m, energy, x, space),
            Search::Dfo(m) => m.minimize(energy, x, space),
            Search::Langevin(m) => m.minimize(energy, x, space),
        }
    }
}

/// Every field of every minimiser, optional: [`SearchConfig`] is read through it so that a
/// missing `kind` means gradient descent and a field of another kind is named.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSearch {
    kind: Option<SearchKind>,
    step_size: Option<f64>,
    momentum: Option<f64>,
    steps: Option<usize>,
    tolerance: Option<f64>,
    restarts: Option<usize>,
    init_scale: Option<f64>,
    dedup_tolerance: Option<f64>,
    backtracking: Option<bool>,
    samples: Option<usize>,
    noise: Option<f64>,
    shrink: Option<f64>,
    iterations: Option<usize>,
    temperature: Option<f64>,
    keep: Option<usize>,
    populations: Option<usize>,
    chains: Option<usize>,
    step_init: Option<f64>,
    step_final: Option<f64>,
    power: Option<f64>,
    noise_scale: Option<f64>,
    grad_clip: Option<f64>,
    delta_clip: Option<f64>,
    descent: Option<GradientDescentConfig>,
}

/// The `kind` names of [`SearchConfig`] (an unknown one is serde's error at `search.kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum SearchKind {
    GradientDescent,
    Dfo,
    Langevin,
}

const GD_FIELDS: &[&str] = &[
    "step_size",
    "momentum",
    "steps",
    "tolerance",
    "restarts",
    "init_scale",
    "dedup_tolerance",
    "backtracking",
];
const DFO_FIELDS: &[&str] = &[
    "samples",
    "noise",
    "shrink",
    "iterations",
    "temperature",
    "keep",
    "dedup_tolerance",
    "populations",
];
const LANGEVIN_FIELDS: &[&str] = &[
    "chains",
    "steps",
    "step_init",
    "step_final",
    "power",
    "noise_scale",
    "grad_clip",
    "delta_clip",
    "descent",
];

impl TryFrom<RawSearch> for SearchConfig {
    type Error = String;

    fn try_from(raw: RawSearch) -> std::result::Result<Self, String> {
        let kind = raw.kind.unwrap_or(SearchKind::GradientDescent);
        let (name, fields) = match kind {
            SearchKind::GradientDescent => ("gradient_descent", GD_FIELDS),
            SearchKind::Dfo => ("dfo", DFO_FIELDS),
            SearchKind::Langevin => ("langevin", LANGEVIN_FIELDS),
        };
        let present = [
            ("step_size", raw.step_size.is_some()),
            ("momentum", raw.momentum.is_some()),
            ("steps", raw.steps.is_some()),
            ("tolerance", raw.tolerance.is_some()),
            ("restarts", raw.restarts.is_some()),
            ("init_scale", raw.init_scale.is_some()),
            ("dedup_tolerance", raw.dedup_tolerance.is_some()),
            ("backtracking", raw.backtracking.is_some()),
            ("samples", raw.samples.is_some()),
            ("noise", raw.noise.is_some()),
            ("shrink", raw.shrink.is_some()),
            ("iterations", raw.iterations.is_some()),
            ("temperature", raw.temperature.is_some()),
            ("keep", raw.keep.is_some()),
            ("populations", raw.populations.is_some()),
            ("chains", raw.chains.is_some()),
            ("step_init", raw.step_init.is_some()),
            ("step_final", raw.step_final.is_some()),
            ("power", raw.power.is_some()),
            ("noise_scale", raw.noise_scale.is_some()),
            ("grad_clip", raw.grad_clip.is_some()),
            ("delta_clip", raw.delta_clip.is_some()),
            ("descent", raw.descent.is_some()),
        ];
        if let Some((field, _)) = present
            .iter()
            .find(|(field, set)| *set && !fields.contains(field))
        {
            return Err(format!(
                "field `{field}` does not apply to search kind = \"{name}\" (its fields: {})",
                fields.join(", ")
            ));
        }
        Ok(match kind {
            SearchKind::Dfo => {
                let d = DfoConfig::default();
                SearchConfig::Dfo(DfoConfig {
                    samples: raw.samples.unwrap_or(d.samples),
                    noise: raw.noise.unwrap_or(d.noise),
                    shrink: raw.shrink.unwrap_or(d.shrink),
                    iterations: raw.iterations.unwrap_or(d.iterations),
                    temperature: raw.temperature.unwrap_or(d.temperature),
                    keep: raw
                        .keep
                        .unwrap_or(d.keep.min(raw.samples.unwrap_or(d.samples))),
                    dedup_tolerance: raw.dedup_tolerance.unwrap_or(d.dedup_tolerance),
                    populations: raw.populations.unwrap_or(d.populations),
                })
            }
            SearchKind::Langevin => {
                let d = LangevinSearchConfig::default();
                SearchConfig::Langevin(LangevinSearchConfig {
                    chains: raw.chains.unwrap_or(d.chains),
                    steps: raw.steps.unwrap_or(d.steps),
                    step_init: raw.step_init.unwrap_or(d.step_init),
                    step_final: raw.step_final.unwrap_or(d.step_final),
                    power: raw.power.unwrap_or(d.power),
                    noise_scale: raw.noise_scale.unwrap_or(d.noise_scale),
                    grad_clip: raw.grad_clip.or(d.grad_clip),
                    delta_clip: raw.delta_clip.unwrap_or(d.delta_clip),
                    descent: raw.descent.unwrap_or(d.descent),
                })
            }
            SearchKind::GradientDescent => {
                let d = GradientDescentConfig::default();
                SearchConfig::GradientDescent(GradientDescentConfig {
                    step_size: raw.step_size.unwrap_or(d.step_size),
                    momentum: raw.momentum.unwrap_or(d.momentum),
                    steps: raw.steps.unwrap_or(d.steps),
                    tolerance: raw.tolerance.unwrap_or(d.tolerance),
                    restarts: raw.restarts.unwrap_or(d.restarts),
                    init_scale: raw.init_scale.unwrap_or(d.init_scale),
                    dedup_tolerance: raw.dedup_tolerance.unwrap_or(d.dedup_tolerance),
                    backtracking: raw.backtracking.unwrap_or(d.backtracking),
                })
            }
        })
    }
}
