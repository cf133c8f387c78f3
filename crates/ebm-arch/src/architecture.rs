//! What every architecture offers the trainer and the runner.

use ebm_core::check::{check_count, check_positive, ensure_finite, ensure_same_batch, matrix};
use ebm_core::{
    ContinuousSpace, EbmError, Energy, FiniteSpace, GradientDescent, GradientDescentConfig,
    Minimum, Quadrature, Result, Search,
};
use serde::{Deserialize, Serialize};
use tch::{nn, Kind, Tensor};

/// The range of a continuous y: the box inference searches, how the energies over all of Y
/// (NLL, MEE, perceptron, collapse spread) are integrated — a quadrature grid for y of
/// dimension 1 or 2, sampled counter-examples in any dimension — and the ε of the most
/// offending incorrect answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct YRange {
    /// Lower bound of every coordinate of y.
    pub lo: f64,
    /// Upper bound of every coordinate of y.
    pub hi: f64,
    /// Grid points per coordinate (y of dimension 1 or 2, without `counter_examples`).
    pub grid_points: usize,
    /// The most offending incorrect answer is at least this far from the correct y.
    pub epsilon: f64,
    /// Gradient-descent steps of the most offending answer's search during training
    /// (started from the grid points; inference uses the full `search` settings).
    pub offending_steps: usize,
    /// Stratified quadrature in training: every batch moves each grid point uniformly
    /// within its own cell (same cell volume, so the same log weights). A fixed grid lets a
    /// loss that integrates over Y (NLL, MEE) raise the energy at the grid points only and
    /// leave it low in between; jittering takes that loophole away. Evaluation and the
    /// per-epoch probe always use the fixed midpoints.
    pub jitter: bool,
    /// Counter-examples in place of the grid: set, or y of more than 2 dimensions (then with
    /// the defaults, n = 256 and no refinement).
    pub counter_examples: Option<CounterExamples>,
}

/// Sampled counter-examples for the energies over all of Y in any dimension (as implicit
/// behavioural cloning trains): every training batch draws `n` answers uniformly in the box,
/// each with importance weight V/n (V the box's volume), and the correct answer joins them as
/// one more candidate (all K = n + 1 weighted V/K), so that the NLL is InfoNCE over the
/// counter-examples, bounded below even where no counter-example falls into the data's wells.
/// With `refine_steps` > 0 each row's counter-examples are first moved by that many steps of
/// Langevin inference (IBC's schedule, W frozen) towards that row's low energies; their
/// weights stay uniform (IBC's practice: the estimate of the integral is then biased, the
/// negatives harder). The most offending answer starts from the batch's counter-examples and
/// descends outside the ε-ball. The probe and the evaluation use one fixed draw of `n`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CounterExamples {
    /// Counter-examples per batch, ≥ 1.
    pub n: usize,
    /// Langevin refinement steps per batch (0: plain uniform samples).
    pub refine_steps: usize,
    /// Weight of IBC's gradient penalty (`ebm_loss::gradient_penalty`: the mean over the
    /// correct answer and the counter-examples of max(0, ‖∇_y E‖_∞ − margin)²), ≥ 0; 0: off.
    pub gradient_penalty: f64,
    /// The gradient penalty's margin, ≥ 0 (IBC's default 1).
    pub gradient_margin: f64,
    /// Weight α of the L2 penalty on energy magnitudes (IGEBM's α·mean E², over the correct
    /// answer and the counter-examples: `ebm_loss::energy_magnitude_penalty`), ≥ 0; 0: off.
    pub energy_l2: f64,
}

impl CounterExamples {
    /// Checks every value; errors name the key (`counter_examples.n`, …).
    pub fn check(&self) -> Result<()> {
        check_count("counter_examples.n", self.n)?;
        for (name, v) in [
            ("counter_examples.gradient_penalty", self.gradient_penalty),
            ("counter_examples.gradient_margin", self.gradient_margin),
            ("counter_examples.energy_l2", self.energy_l2),
        ] {
            ebm_core::check::check_non_negative(name, v)?;
        }
        Ok(())
    }
}

impl Default for CounterExamples {
    fn default() -> Self {
        CounterExamples {
            n: 256,
            refine_steps: 0,
            gradient_penalty: 0.0,
            gradient_margin: 1.0,
            energy_l2: 0.0,
        }
    }
}

impl Default for YRange {
    fn default() -> Self {
        YRange {
            lo: -2.0,
            hi: 2.0,
            grid_points: 40,
            epsilon: 0.2,
            offending_steps: 20,
            jitter: true,
            counter_examples: None,
        }
    }
}

/// The answer space of an architecture, with what the trainer needs to search it.
#[derive(Debug)]
pub enum Answers {
    /// A finite set: energies over all of Y come from one `candidate_energies` call.
    Finite(FiniteSpace),
    /// A continuous box of y.
    Continuous(Box<ContinuousAnswers>),
}

/// How the energies over all of a continuous Y are integrated.
#[derive(Debug)]
pub enum Integration {
    /// A midpoint grid over the box (y of dimension 1 or 2), with its log cell volume.
    Grid {
        /// The grid, `[K, d]`.
        grid: Quadrature,
        /// Half-width of a grid cell per coordinate, when training jitters the grid.
        jitter: Option<f64>,
    },
    /// Counter-examples drawn uniformly in the box (see [`CounterExamples`]).
    CounterExamples {
        /// Counter-examples per batch.
        n: i64,
        /// Langevin refinement steps per batch.
        refine_steps: usize,
        /// One fixed draw of `n`, `[n, d]`, for the probe and the evaluation.
        fixed: Tensor,
        /// log(V/n), each counter-example's log weight.
        log_weight: f64,
        /// The stabilisers' weights and margin (see [`CounterExamples`]).
        penalties: CounterExamples,
    },
}

/// A continuous answer space, how Y is integrated, ε, and the searches.
#[derive(Debug)]
pub struct ContinuousAnswers {
    /// The box y lives in.
    pub space: ContinuousSpace,
    /// The grid or the counter-examples.
    pub integration: Integration,
    /// Radius of the exclusion ball around y_i for the most offending answer.
    pub epsilon: f64,
    /// The inference (gradient descent, DFO or Langevin).
    pub search: Search,
    /// The shorter gradient descent of the most offending answer's search in training.
    pub offending: GradientDescent,
    /// The gradient descent of searches that must descend (the latent model's per-z search):
    /// the search's own descent settings.
    pub descent: GradientDescent,
}

impl ContinuousAnswers {
    /// Builds the box and the grid (y of dimension 1 or 2) or the counter-examples (set, or
    /// any other dimension) and checks ε; `search` was checked when it was made
    /// (`SearchConfig::check`), and the offending search is its gradient descent with
    /// `range.offending_steps` steps.
    pub fn new(dim: i64, range: &YRange, search: impl Into<Search>) -> Result<Self> {
        let search = search.into();
        let space = ContinuousSpace::boxed(dim, range.lo, range.hi)?;
        check_positive("epsilon", range.epsilon)?;
        let integration = match (&range.counter_examples, dim) {
            (None, 1 | 2) => {
                // The grid's points, and the energies of a batch of up to 256 rows over them
                // (`[B, K]`, f32), must fit in memory.
                let points = (range.grid_points as u128).saturating_pow(dim as u32);
                ebm_core::check::check_memory(
                    "grid_points",
                    points.saturating_mul(4 * (dim as u128 + 256)),
                    &format!("a {dim}-D grid of {points} points (with a batch's energies over it)"),
                )?;
                let grid = if dim == 1 {
                    Quadrature::grid_1d(
                        range.lo,
                        range.hi,
                        range.grid_points,
                        Kind::Float,
                        tch::Device::Cpu,
                    )?
                } else {
                    Quadrature::grid_2d(
                        [range.lo; 2],
                        [range.hi; 2],
                        [range.grid_points; 2],
                        Kind::Float,
                        tch::Device::Cpu,
                    )?
                };
                Integration::Grid {
                    grid,
                    jitter: range
                        .jitter
                        .then_some(0.5 * (range.hi - range.lo) / range.grid_points as f64),
                }
            }
            (chosen, _) => {
                let c = chosen.clone().unwrap_or_default();
                c.check()?;
                let n = c.n;
                ebm_core::check::check_memory(
                    "counter_examples.n",
                    (n as u128).saturating_mul(4 * (dim as u128 + 256)),
                    &format!("{n} counter-examples (with a batch's energies over them)"),
                )?;
                let n = n as i64;
                let fixed = {
                    let _guard = tch::no_grad_guard();
                    space.sample(n, 1.0, Kind::Float, tch::Device::Cpu)?
                };
                Integration::CounterExamples {
                    n,
                    refine_steps: c.refine_steps,
                    fixed,
                    log_weight: dim as f64 * (range.hi - range.lo).ln() - (n as f64).ln(),
                    penalties: c,
                }
            }
        };
        let descent_config = search.descent();
        let offending = GradientDescentConfig {
            steps: check_count("offending_steps", range.offending_steps)?,
            ..descent_config.clone()
        }
        .check()?;
        let descent = descent_config.check()?;
        Ok(ContinuousAnswers {
            space,
            integration,
            epsilon: range.epsilon,
            search,
            offending,
            descent,
        })
    }

    /// The fixed points over Y, `[K, d]`: the grid's midpoints or the fixed draw of
    /// counter-examples (the probe, the evaluation and the first offending starts use them).
    pub fn fixed_points(&self) -> &Tensor {
        match &self.integration {
            Integration::Grid { grid, .. } => &grid.points,
            Integration::CounterExamples { fixed, .. } => fixed,
        }
    }

    /// The log weight of every fixed point, `[K]`: log cell volume, or log(V/n).
    pub fn fixed_log_weights(&self) -> Result<Tensor> {
        match &self.integration {
            Integration::Grid { grid, .. } => grid.log_weights(),
            Integration::CounterExamples {
                n,
                fixed,
                log_weight,
                ..
            } => Ok(Tensor::f_full(
                [*n],
                *log_weight,
                (fixed.kind(), fixed.device()),
            )?),
        }
    }

    /// The points over Y for one training batch, `[K, d]`, shared by the rows: the grid's
    /// midpoints, each moved uniformly within its cell when `jitter` is on (stratified
    /// sampling, same log weights), or a fresh uniform draw of counter-examples.
    pub fn training_points(&self) -> Result<Tensor> {
        match &self.integration {
            Integration::Grid { grid, jitter } => match jitter {
                None => Ok(grid.points.shallow_clone()),
                Some(half) => {
                    let noise = grid
                        .points
                        .f_rand_like()?
                        .f_mul_scalar(2.0 * half)?
                        .f_sub_scalar(*half)?;
                    Ok(grid.points.f_add(&noise)?)
                }
            },
            Integration::CounterExamples { n, fixed, .. } => {
                let _guard = tch::no_grad_guard();
                self.space.sample(*n, 1.0, fixed.kind(), fixed.device())
            }
        }
    }

    /// Moves the fixed points to a device (models call this once at construction).
    pub fn to_device(mut self, device: tch::Device) -> Self {
        match &mut self.integration {
            Integration::Grid { grid, .. } => grid.points = grid.points.to_device(device),
            Integration::CounterExamples { fixed, .. } => *fixed = fixed.to_device(device),
        }
        self
    }
}

/// What `predict` returns.
#[derive(Debug)]
pub enum Prediction {
    /// A finite answer per x.
    Finite {
        /// Index of ŷ among the candidates, `[B]` Int64.
        index: Tensor,
        /// ŷ itself: class indices `[B]`, signs `[B]`, or vectors `[B, d]`.
        y: Tensor,
    },
    /// A continuous answer per x, with every distinct minimum found.
    Continuous {
        /// The best ŷ, `[B, d]`.
        y: Tensor,
        /// Per x, the set of distinct minima (sorted by energy).
        minima: Vec<Vec<Minimum>>,
    },
}

/// An energy-based architecture: an [`Energy`] with parameters, an answer space and `predict`.
pub trait Architecture: Energy {
    /// The architecture's name, as in configs (`regression`, `multi_class`, …).
    fn name(&self) -> &'static str;
    /// The parameters.
    fn var_store(&self) -> &nn::VarStore;
    /// The parameters, mutably (to load a checkpoint).
    fn var_store_mut(&mut self) -> &mut nn::VarStore;
    /// Width of x.
    fn x_dim(&self) -> i64;
    /// The answer space and how to search it.
    fn answers(&self) -> &Answers;
    /// ŷ = argmin_y E(x, y) (runs without gradient tracking).
    fn predict(&self, x: &Tensor) -> Result<Prediction>;
    /// Checks targets for this model (width, label range, signs): specific errors.
    fn check_targets(&self, y: &Tensor) -> Result<()>;
    /// For a finite answer space: the index of each y among the candidates, `[B]` Int64.
    fn label_index(&self, y: &Tensor) -> Result<Tensor> {
        Err(EbmError::InvalidLabel(format!(
            "{} has a continuous answer space: labels have no index (y shape {:?})",
            self.name(),
            y.size()
        )))
    }

    /// `x` checked ([`Architecture::check_inputs`]) and as the model computes with it: in the
    /// kind and on the device of its parameters, so that an f64 (Rust's default float) or an
    /// integer `x` is converted rather than a libtorch dtype panic.
    fn model_inputs(&self, x: &Tensor) -> Result<Tensor> {
        self.check_inputs(x, None)?;
        let vs = self.var_store();
        Ok(x.f_to_kind(vs.kind())?.f_to_device(vs.device())?)
    }

    /// Checks x (shape `[B, x_dim]`, finite) and, when given, y against the model.
    fn check_inputs(&self, x: &Tensor, y: Option<&Tensor>) -> Result<()> {
        let what = format!("x for the {} model", self.name());
        matrix(x, &what, 0, Some(self.x_dim()))?;
        ensure_finite(x, "x")?;
        if let Some(y) = y {
            ensure_same_batch(x, "x", y, "y")?;
            self.check_targets(y)?;
        }
        Ok(())
    }
}

/// Runs `f` with every trainable variable of `vs` excluded from autograd
/// (`requires_grad` off), and turns them back on afterwards, even if `f` fails or panics.
///
/// Inference that differentiates with respect to y alone (gradient descent, Langevin) then
/// records no graph through the parameters, and a branch that does not depend on y (G_x(x)
/// of an implicit regression) records nothing at all. Parameter `.grad` fields stay
/// untouched either way. Do not train the same variables from another thread meanwhile.
///
/// ```
/// use ebm_arch::with_frozen_parameters;
/// let vs = tch::nn::VarStore::new(tch::Device::Cpu);
/// let w = vs.root().randn("w", &[2], 0.0, 1.0);
/// let inside = with_frozen_parameters(&vs, || w.requires_grad());
/// assert!(!inside && w.requires_grad());
/// ```
pub fn with_frozen_parameters<T>(vs: &nn::VarStore, f: impl FnOnce() -> T) -> T {
    let _frozen = Frozen::new(vs);
    f()
}

/// The variables [`with_frozen_parameters`] froze; unfreezes them when dropped.
struct Frozen(Vec<Tensor>);

impl Frozen {
    fn new(vs: &nn::VarStore) -> Self {
        let vars: Vec<Tensor> = vs
            .trainable_variables()
            .into_iter()
            .filter(Tensor::requires_grad)
            .collect();
        for v in &vars {
            let _ = v.f_set_requires_grad(false);
        }
        Frozen(vars)
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        for v in &self.0 {
            let _ = v.f_set_requires_grad(true);
        }
    }
}

/// Checks continuous targets with `ebm_core::check`'s rules: `[B, dim]`, finite.
pub(crate) fn check_continuous_targets(y: &Tensor, dim: i64, model: &str) -> Result<()> {
    matrix(y, &format!("y for the {model} model"), 0, Some(dim))?;
    ensure_finite(y, "y")
}
