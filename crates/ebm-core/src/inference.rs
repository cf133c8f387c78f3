//! Inference ŷ = argmin_y E(x, y): exhaustive over finite sets, gradient descent with
//! restarts over continuous spaces.
//!
//! W stays frozen: gradients are taken with respect to y alone (`run_backward` on y), so
//! parameter `.grad` fields are never touched; each step's graph is freed by its backward
//! pass and y is updated outside autograd, so no graph survives a step.

use crate::check::{
    batch_size, candidate_table, check_count, check_momentum, check_non_negative, check_positive,
    ensure_no_nan, ensure_shape,
};
use crate::energy::Energy;
use crate::error::{EbmError, Result};
use crate::space::{ContinuousSpace, FiniteSpace};
use tch::{Kind, Tensor};

/// The minimum of each row of an energy table `[B, K]`: `(index [B] Int64, energy [B])`.
///
/// NaN energies are an error. `+inf` entries (masked answers) are allowed; a row of only
/// `+inf` gives energy `+inf`.
pub fn argmin_table(energies: &Tensor) -> Result<(Tensor, Tensor)> {
    candidate_table(energies, "energy table")?;
    let (min, index) = energies.f_min_dim(1, false)?;
    // A row's minimum is NaN exactly when the row holds a NaN (min propagates NaN), so
    // checking the `[B]` minima is the whole table's check at a K-th of the cost.
    ensure_no_nan(&min, "energies")?;
    Ok((index, min))
}

/// The result of an exhaustive search over a finite answer set.
#[derive(Debug)]
pub struct FiniteArgmin {
    /// Index of the best candidate per row, `[B]` Int64.
    pub index: Tensor,
    /// The best candidate per row, `[B, ...]`.
    pub y: Tensor,
    /// Its energy, `[B]`.
    pub energy: Tensor,
    /// Every candidate's energy, `[B, K]`.
    pub energies: Tensor,
}

/// Exhaustive inference: the energy of every element of `space` for every x, and the argmin.
///
/// Runs without gradient tracking. Candidates are made in x's float kind (or `Float` for an
/// integer x) on x's device.
pub fn exhaustive_argmin<E: Energy + ?Sized>(
    energy: &E,
    x: &Tensor,
    space: &FiniteSpace,
) -> Result<FiniteArgmin> {
    let _guard = tch::no_grad_guard();
    let kind = float_kind(x);
    let ys = space.candidates(kind, x.device())?;
    let energies = energy.candidate_energies(x, &ys)?;
    let b = batch_size(x, "x")?;
    ensure_shape(&energies, "candidate energies", &[b, space.len()])?;
    let (index, min) = argmin_table(&energies)?;
    let y = ys.f_index_select(0, &index)?;
    Ok(FiniteArgmin {
        index,
        y,
        energy: min,
        energies,
    })
}

/// The float kind to use for answers made for `x`.
pub fn float_kind(x: &Tensor) -> Kind {
    match x.kind() {
        k @ (Kind::Half | Kind::BFloat16 | Kind::Float | Kind::Double) => k,
        _ => Kind::Float,
    }
}

/// The settings of a [`GradientDescent`], as written in a config (`search = { restarts = 8 }`):
/// every field has a default and unknown fields are rejected. [`GradientDescentConfig::check`]
/// checks them once and gives the [`GradientDescent`] that runs.
///
/// ```
/// use ebm_core::{ContinuousSpace, FnEnergy, GradientDescentConfig};
/// use tch::{Kind, Tensor};
/// tch::manual_seed(0);
/// // The double well (y² − 1)²: two minima, y = −1 and y = +1.
/// let e = FnEnergy::new(|_x: &Tensor, y: &Tensor| {
///     (y.square() - 1.0).square().sum_dim_intlist(1, false, None)
/// });
/// let gd = GradientDescentConfig { restarts: 8, ..Default::default() }.check().unwrap();
/// let x = Tensor::zeros([1, 1], (Kind::Float, tch::Device::Cpu));
/// let minima = gd.minimize(&e, &x, &ContinuousSpace::real(1).unwrap()).unwrap();
/// let mut found: Vec<f64> = minima.distinct[0].iter().map(|m| m.y[0]).collect();
/// found.sort_by(|a, b| a.total_cmp(b));
/// assert_eq!(found.len(), 2);
/// assert!((found[0] + 1.0).abs() < 1e-3 && (found[1] - 1.0).abs() < 1e-3);
///
/// // A bad value is an error that names its key.
/// let bad = GradientDescentConfig { momentum: 1.0, ..Default::default() };
/// assert!(bad.check().unwrap_err().to_string().contains("momentum"));
/// ```
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GradientDescentConfig {
    /// Step size (learning rate) on y, > 0.
    pub step_size: f64,
    /// Heavy-ball momentum in [0, 1).
    pub momentum: f64,
    /// Maximum number of steps, ≥ 1.
    pub steps: usize,
    /// Stop early once no coordinate of y moved more than this in one step (0 disables).
    pub tolerance: f64,
    /// Random restarts per x, ≥ 1.
    pub restarts: usize,
    /// Standard deviation of random starts on R^d (boxes start uniformly inside), > 0.
    pub init_scale: f64,
    /// Two final points closer than this (Euclidean) count as the same minimum, ≥ 0.
    pub dedup_tolerance: f64,
    /// Per-row backtracking: a step that would raise a row's energy is refused, that row's
    /// step size halves and its momentum resets; accepted steps grow it back by 10% up to
    /// `step_size`. Keeps descent stable on steep energies (NLL-trained ravines). With it off,
    /// every step is taken at `step_size`.
    pub backtracking: bool,
}

impl Default for GradientDescentConfig {
    fn default() -> Self {
        GradientDescentConfig {
            step_size: 0.05,
            momentum: 0.5,
            steps: 500,
            tolerance: 1e-7,
            restarts: 8,
            init_scale: 1.0,
            dedup_tolerance: 1e-2,
            backtracking: true,
        }
    }
}

impl GradientDescentConfig {
    /// Checks every setting and gives the descent that runs with them; an error names the
    /// key (`step_size`, `momentum`, `steps`, `tolerance`, `restarts`, `init_scale`,
    /// `dedup_tolerance`).
    pub fn check(&self) -> Result<GradientDescent> {
        check_positive("step_size", self.step_size)?;
        check_momentum("momentum", self.momentum)?;
        check_count("steps", self.steps)?;
        check_non_negative("tolerance", self.tolerance)?;
        check_count("restarts", self.restarts)?;
        check_positive("init_scale", self.init_scale)?;
        check_non_negative("dedup_tolerance", self.dedup_tolerance)?;
        Ok(GradientDescent {
            config: self.clone(),
        })
    }
}

/// Gradient descent on y with momentum, R random restarts per x, and projection.
///
/// Made by [`GradientDescentConfig::check`] (or `Default`), so its settings are valid and
/// are not checked again on every call; read them with the accessors.
///
/// ```compile_fail
/// // No public field or constructor: a descent cannot skip `GradientDescentConfig::check`.
/// let gd = ebm_core::GradientDescent { step_size: -1.0, ..Default::default() };
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GradientDescent {
    config: GradientDescentConfig,
}

/// One distinct minimum found by gradient descent, read back to the host.
#[derive(Debug, Clone, PartialEq)]
pub struct Minimum {
    /// The point y.
    pub y: Vec<f64>,
    /// Its energy.
    pub energy: f64,
}

/// What gradient descent found, for every x.
#[derive(Debug)]
pub struct Minima {
    /// Final point of every restart, `[B, R, d]`.
    pub y: Tensor,
    /// Final energy of every restart, `[B, R]`.
    pub energy: Tensor,
    /// The lowest-energy point per x, `[B, d]`.
    pub best_y: Tensor,
    /// Its energy, `[B]`.
    pub best_energy: Tensor,
    /// Per x, the distinct minima (within `dedup_tolerance`), sorted by energy.
    pub distinct: Vec<Vec<Minimum>>,
    /// Steps actually taken (less than `steps` when the tolerance stopped it).
    pub steps_taken: usize,
}

impl Minima {
    /// Per x, the distinct minima whose energy is within `delta` of that x's best.
    pub fn within(&self, delta: f64) -> Vec<Vec<Minimum>> {
        self.distinct
            .iter()
            .map(|row| {
                let best = row.first().map_or(f64::INFINITY, |m| m.energy);
                row.iter()
                    .filter(|m| m.energy <= best + delta)
                    .cloned()
                    .collect()
            })
            .collect()
    }
}

/// A ball each row's y must stay out of: ‖y − center_b‖ ≥ radius.
///
/// Used to search for the most offending incorrect answer at least ε away from y_i.
#[derive(Debug)]
pub struct Exclusion<'a> {
    /// Centres `[B, d]`.
    pub centers: &'a Tensor,
    /// Radius ε > 0.
    pub radius: f64,
}

impl GradientDescent {
    /// Step size (learning rate) on y.
    pub fn step_size(&self) -> f64 {
        self.config.step_size
    }

    /// Heavy-ball momentum.
    pub fn momentum(&self) -> f64 {
        self.config.momentum
    }

    /// Maximum number of steps.
    pub fn steps(&self) -> usize {
        self.config.steps
    }

    /// The early-stopping tolerance (0: none).
    pub fn tolerance(&self) -> f64 {
        self.config.tolerance
    }

    /// Random restarts per x.
    pub fn restarts(&self) -> usize {
        self.config.restarts
    }

    /// Standard deviation of random starts on R^d.
    pub fn init_scale(&self) -> f64 {
        self.config.init_scale
    }

    /// The distance under which two minima are the same.
    pub fn dedup_tolerance(&self) -> f64 {
        self.config.dedup_tolerance
    }

    /// Whether per-row backtracking is on.
    pub fn backtracking(&self) -> bool {
        self.config.backtracking
    }

    /// The config this descent was checked from (to change a setting and check again).
    pub fn config(&self) -> GradientDescentConfig {
        self.config.clone()
    }

    /// Minimises E(x, ·) over `space` from `restarts` random starts per x.
    pub fn minimize<E: Energy + ?Sized>(
        &self,
        energy: &E,
        x: &Tensor,
        space: &ContinuousSpace,
    ) -> Result<Minima> {
        let b = batch_size(x, "x")?;
        let r = self.config.restarts as i64;
        let starts = {
            let _guard = tch::no_grad_guard();
            space
                .sample(b * r, self.config.init_scale, float_kind(x), x.device())?
                .f_view([b, r, space.dim()])?
        };
        self.minimize_from(energy, x, space, &starts, None)
    }

    /// Minimises from given starts `[B, R, d]` (R may differ from `restarts`), optionally
    /// keeping every y outside an exclusion ball around its row's centre.
    pub fn minimize_from<E: Energy + ?Sized>(
        &self,
        energy: &E,
        x: &Tensor,
        space: &ContinuousSpace,
        starts: &Tensor,
        exclusion: Option<Exclusion<'_>>,
    ) -> Result<Minima> {
        let b = batch_size(x, "x")?;
        let d = space.dim();
        let r = restarts_of(starts, "starts", b, d)?;
        if let Some(ex) = &exclusion {
            check_positive("radius", ex.radius)?;
            ensure_shape(ex.centers, "exclusion centres", &[b, d])?;
        }
        let project = Projection {
            space,
            exclusion: exclusion.as_ref(),
            restarts: r,
        };
        // Restarts of the same x are consecutive rows; one restart needs no copy of x.
        let x_rep = if r == 1 {
            x.detach()
        } else {
            x.detach().f_repeat_interleave_self_int(r, 0, Some(b * r))?
        };
        // An owned copy: the descent updates y in place and must not write into `starts`.
        let mut y = starts.detach().f_reshape([b * r, d])?.f_detach_copy()?;
        {
            let _guard = tch::no_grad_guard();
            project.apply(&mut y)?;
        }
        let (y, e, steps_taken) = if self.config.backtracking {
            self.descend_backtracking(energy, &x_rep, y, &project)?
        } else {
            self.descend_plain(energy, &x_rep, y, &project)?
        };

        let _guard = tch::no_grad_guard();
        ensure_shape(&e, "energy output", &[b * r])?;
        ensure_no_nan(&e, "energies at the minima found")?;
        // A descent that ran off to infinity found no minimum: the energy is unbounded below
        // (or the step too large) in this space.
        if !bool::try_from(e.f_isfinite()?.f_all()?)? || !bool::try_from(y.f_isfinite()?.f_all()?)?
        {
            return Err(EbmError::NonFinite {
                what: "the points gradient descent reached (the energy is unbounded below in \
                       this answer space, or the step size too large: bound y with a box or \
                       lower step_size)"
                    .into(),
                kind: "infinite values",
            });
        }
        let y = y.f_view([b, r, d])?;
        let e = e.f_view([b, r])?;
        let (best_energy, best_index) = e.f_min_dim(1, false)?;
        let best_y = y
            .f_gather(
                1,
                &best_index.f_view([b, 1, 1])?.f_expand([b, 1, d], false)?,
                false,
            )?
            .f_squeeze_dim(1)?;
        let distinct = distinct_minima(&y, &e, self.config.dedup_tolerance)?;
        Ok(Minima {
            y,
            energy: e,
            best_y,
            best_energy,
            distinct,
            steps_taken,
        })
    }

    /// Whether step `step` (from 0) checks the tolerance: every 10th step and the last.
    fn checks_tolerance(&self, step: usize) -> bool {
        self.config.tolerance > 0.0 && (step % 10 == 9 || step + 1 == self.config.steps)
    }

    /// Heavy-ball descent at the fixed step size. y is one leaf tensor updated in place (with
    /// the velocity) under `no_grad`; the gradient is taken at each of the points a step
    /// leaves from, and the final energy without autograd. Returns `(y, E(y), steps)`.
    ///
    /// With a tolerance and no exclusion ball, converged rows leave the batch (an active
    /// set): at every check a row that moved less than the tolerance (max-norm) is written to
    /// the result and dropped, so the later steps cost only what the rows still moving need,
    /// and the descent ends when none is left. With an exclusion ball (whose centres are per
    /// row of the full batch) the whole batch stops together when no row moved more than the
    /// tolerance.
    fn descend_plain<E: Energy + ?Sized>(
        &self,
        energy: &E,
        x: &Tensor,
        mut y: Tensor,
        project: &Projection<'_, '_>,
    ) -> Result<(Tensor, Tensor, usize)> {
        let active_set = project.exclusion.is_none();
        let _ = y.f_requires_grad_(true)?;
        let mut velocity = y.f_zeros_like()?;
        let mut steps_taken = 0;
        // The active rows' indices into the full batch, and the result of the finished rows;
        // `None` while every row is active.
        let mut finished: Option<(Tensor, Tensor)> = None;
        let mut x_active = x.shallow_clone();
        for step in 0..self.config.steps {
            let grad = energy.grad(&x_active, &y)?;
            let _guard = tch::no_grad_guard();
            let before = if self.checks_tolerance(step) {
                Some(y.f_detach_copy()?)
            } else {
                None
            };
            let _ = velocity
                .f_mul_scalar_(self.config.momentum)?
                .f_add_(&grad)?;
            let _ = y.f_sub_(&velocity.f_mul_scalar(self.config.step_size)?)?;
            project.apply(&mut y)?;
            steps_taken = step + 1;
            let Some(before) = before else { continue };
            let moved = y
                .f_sub(&before)?
                .f_abs()?
                .f_amax([1i64].as_slice(), false)?;
            if !active_set {
                if f64::try_from(moved.f_max()?)? < self.config.tolerance {
                    break;
                }
                continue;
            }
            let moving = moved.f_ge(self.config.tolerance)?;
            let n_active = y.size()[0];
            let n_moving = i64::try_from(moving.f_sum(Kind::Int64)?)?;
            if n_moving == n_active {
                continue;
            }
            let (rows, mut out) = match finished.take() {
                Some(f) => f,
                None => (
                    Tensor::f_arange(n_active, (Kind::Int64, y.device()))?,
                    y.f_detach_copy()?,
                ),
            };
            let done = moving.f_logical_not()?.f_nonzero()?.f_squeeze_dim(1)?;
            let _ = out.f_index_copy_(
                0,
                &rows.f_index_select(0, &done)?,
                &y.f_index_select(0, &done)?,
            )?;
            if n_moving == 0 {
                return self.finish_plain(energy, x, out, steps_taken);
            }
            let keep = moving.f_nonzero()?.f_squeeze_dim(1)?;
            finished = Some((rows.f_index_select(0, &keep)?, out));
            y = y.f_index_select(0, &keep)?.f_requires_grad_(true)?;
            velocity = velocity.f_index_select(0, &keep)?;
            x_active = x_active.f_index_select(0, &keep)?;
        }
        let _guard = tch::no_grad_guard();
        let y = match finished {
            Some((rows, mut out)) => {
                let _ = out.f_index_copy_(0, &rows, &y.f_detach()?)?;
                out
            }
            None => y.f_detach()?,
        };
        self.finish_plain(energy, x, y, steps_taken)
    }

    /// The energies at the points a plain descent reached, without autograd.
    fn finish_plain<E: Energy + ?Sized>(
        &self,
        energy: &E,
        x: &Tensor,
        y: Tensor,
        steps_taken: usize,
    ) -> Result<(Tensor, Tensor, usize)> {
        let _guard = tch::no_grad_guard();
        let e = energy.energy(x, &y)?;
        Ok((y.f_detach()?, e, steps_taken))
    }

    /// Heavy-ball descent with per-row backtracking (see [`GradientDescentConfig::backtracking`]).
    /// Returns `(y, E(y), steps)`.
    fn descend_backtracking<E: Energy + ?Sized>(
        &self,
        energy: &E,
        x: &Tensor,
        mut y: Tensor,
        project: &Projection<'_, '_>,
    ) -> Result<(Tensor, Tensor, usize)> {
        let mut velocity = y.f_zeros_like()?;
        let (mut e, mut grad) = energy_and_grad_y(energy, x, &y)?;
        // Per-row step sizes, `[B·R, 1]`: halved when a step would raise the energy.
        let n = y.size()[0];
        let mut rate = Tensor::f_full([n, 1], self.config.step_size, (y.kind(), y.device()))?;
        let mut steps_taken = 0;
        for step in 0..self.config.steps {
            let proposal = {
                let _guard = tch::no_grad_guard();
                velocity = velocity.f_mul_scalar(self.config.momentum)?.f_add(&grad)?;
                let mut proposal = y.f_sub(&velocity.f_mul(&rate)?)?;
                project.apply(&mut proposal)?;
                proposal
            };
            let (e_new, grad_new) = energy_and_grad_y(energy, x, &proposal)?;
            let _guard = tch::no_grad_guard();
            steps_taken = step + 1;
            let moved = if self.checks_tolerance(step) {
                f64::try_from(proposal.f_sub(&y)?.f_abs()?.f_max()?)?
            } else {
                f64::INFINITY
            };
            // Accept a step that does not raise the energy (NaN never passes).
            let accept = e_new.f_le_tensor(&e)?.f_unsqueeze(1)?;
            y = proposal.f_where_self(&accept, &y)?;
            grad = grad_new.f_where_self(&accept, &grad)?;
            velocity = velocity.f_where_self(&accept, &velocity.f_zeros_like()?)?;
            e = e_new.f_where_self(&accept.f_squeeze_dim(1)?, &e)?;
            rate = rate
                .f_mul_scalar(1.1)?
                .f_clamp_max(self.config.step_size)?
                .f_where_self(&accept, &rate.f_mul_scalar(0.5)?)?;
            if moved < self.config.tolerance {
                break;
            }
        }
        Ok((y, e, steps_taken))
    }
}

/// Where descent may go: the space (a box clamps) and, optionally, outside an exclusion ball
/// around each row's centre (R consecutive rows share a centre).
struct Projection<'s, 'e> {
    space: &'s ContinuousSpace,
    exclusion: Option<&'s Exclusion<'e>>,
    restarts: i64,
}

impl Projection<'_, '_> {
    /// Projects the rows of `y [B·R, d]` in place: out of the exclusion ball, then into the box.
    fn apply(&self, y: &mut Tensor) -> Result<()> {
        if let Some(ex) = self.exclusion {
            let pushed = push_out_of_ball(y, ex, self.restarts)?;
            y.f_copy_(&pushed)?;
        }
        if let Some((lo, hi)) = self.space.bounds() {
            let _ = y.f_clamp_(lo, hi)?;
        }
        Ok(())
    }
}

/// ∇_y Σ_b E(x_b, y_b), computed for y alone: parameter gradients are not touched.
pub fn grad_y<E: Energy + ?Sized>(energy: &E, x: &Tensor, y: &Tensor) -> Result<Tensor> {
    energy.grad(x, y)
}

/// The energies `[B]` (detached) and ∇_y Σ_b E(x_b, y_b), for y alone: [`Energy::energy_and_grad`]
/// (autograd unless the energy has its own backward pass).
pub fn energy_and_grad_y<E: Energy + ?Sized>(
    energy: &E,
    x: &Tensor,
    y: &Tensor,
) -> Result<(Tensor, Tensor)> {
    energy.energy_and_grad(x, y)
}

/// Moves each y (rows of `[B·R, d]`, R consecutive rows per centre) out of its exclusion ball.
fn push_out_of_ball(y: &Tensor, ex: &Exclusion<'_>, r: i64) -> Result<Tensor> {
    let n = y.size()[0];
    let centers = ex.centers.f_repeat_interleave_self_int(r, 0, Some(n))?;
    let diff = y.f_sub(&centers)?;
    let dist = diff.f_norm_scalaropt_dim(2.0, [1], true)?;
    // A point exactly at the centre has no direction: send it along the first axis.
    let d = y.size()[1];
    let first_axis = Tensor::f_zeros([1, d], (y.kind(), y.device()))?.f_index_fill_(
        1,
        &Tensor::f_from_slice(&[0i64])?.f_to_device(y.device())?,
        1.0,
    )?;
    let tiny = dist.f_le(1e-12)?;
    let direction = diff
        .f_div(&dist.f_clamp_min(1e-12)?)?
        .f_where_self(&tiny.f_logical_not()?, &first_axis)?;
    let pushed = centers.f_add(&direction.f_mul_scalar(ex.radius)?)?;
    let inside = dist.f_lt(ex.radius)?;
    Ok(pushed.f_where_self(&inside, y)?)
}

/// R of starts `[B, R, d]` for `b` rows of x in a `d`-dimensional space (R ≥ 1), or a shape
/// error naming `what`.
pub(crate) fn restarts_of(starts: &Tensor, what: &str, b: i64, d: i64) -> Result<i64> {
    let dims = starts.size();
    if dims.len() != 3 || dims[0] != b || dims[2] != d || dims[1] == 0 {
        return Err(EbmError::Shape {
            what: what.into(),
            expected: format!("[{b}, R >= 1, {d}]"),
            got: dims,
        });
    }
    Ok(dims[1])
}

/// Per row, restarts sorted by energy and greedily deduplicated within `tol`.
pub(crate) fn distinct_minima(y: &Tensor, e: &Tensor, tol: f64) -> Result<Vec<Vec<Minimum>>> {
    let dims = y.size();
    let (b, r, d) = (dims[0] as usize, dims[1] as usize, dims[2] as usize);
    let ys: Vec<f64> = Vec::try_from(y.f_to_kind(Kind::Double)?.f_flatten(0, -1)?)?;
    let es: Vec<f64> = Vec::try_from(e.f_to_kind(Kind::Double)?.f_flatten(0, -1)?)?;
    let mut out = Vec::with_capacity(b);
    for row in 0..b {
        let mut order: Vec<usize> = (0..r).collect();
        order.sort_by(|&i, &j| es[row * r + i].total_cmp(&es[row * r + j]));
        let mut kept: Vec<Minimum> = Vec::new();
        for i in order {
            let point = &ys[(row * r + i) * d..(row * r + i + 1) * d];
            let duplicate = kept.iter().any(|m| {
                m.y.iter()
                    .zip(point)
                    .map(|(a, b)| (a - b) * (a - b))
                    .sum::<f64>()
                    .sqrt()
                    <= tol
            });
            if !duplicate {
                kept.push(Minimum {
                    y: point.to_vec(),
                    energy: es[row * r + i],
                });
            }
        }
        out.push(kept);
    }
    Ok(out)
}
