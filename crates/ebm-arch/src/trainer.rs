//! The supervised training of any architecture with any loss: the energies a loss needs for
//! a batch, one step, the probe, and [`fit`] through the one loop of [`crate::learner`].

use crate::architecture::{Answers, Architecture, ContinuousAnswers, Integration};
use crate::learner::{train_from, EpochRecord, History, Probe, TrainConfig, TrainStep};
use crate::optim::{Optimizer, OptimizerState};
use ebm_core::{EbmError, Result};
use ebm_loss::{
    energy_spread, most_offending_continuous, most_offending_finite, Loss, LossInput, Reduction,
};
use tch::nn;
use tch::{Kind, Tensor};

/// The energies a loss needs for one batch.
#[derive(Debug)]
pub struct BatchEnergies {
    /// E_C, `[B]`.
    pub correct: Tensor,
    /// E_I of the most offending incorrect answer, `[B]`, when asked for.
    pub incorrect: Option<Tensor>,
    /// Energies over all of Y (candidates or grid), `[B, K]`, when asked for.
    pub all: Option<Tensor>,
    /// Log cell volume of the grid, for a continuous Y.
    pub log_weights: Option<Tensor>,
    /// The counter-examples of a training batch, each row's `[B, K, d]` (shared ones
    /// expanded), when the energies over Y came from counter-examples.
    pub counter_examples: Option<Tensor>,
}

impl BatchEnergies {
    /// As a loss input.
    pub fn input(&self) -> LossInput<'_> {
        LossInput {
            e_correct: &self.correct,
            e_incorrect: self.incorrect.as_ref(),
            e_all: self.all.as_ref(),
            log_weights: self.log_weights.as_ref(),
        }
    }
}

/// E_C and, as requested, E_I and the energies over all of Y, for a batch. Differentiable in W.
///
/// With `training` set, a continuous Y's grid is jittered within its cells (if the model's
/// [`crate::YRange::jitter`] says so), or a fresh draw of counter-examples is made, with the
/// correct answer as one more candidate (InfoNCE, see [`crate::CounterExamples`]); otherwise
/// the fixed midpoints or the fixed draw are used.
pub fn batch_energies<A: Architecture + ?Sized>(
    model: &A,
    x: &Tensor,
    y: &Tensor,
    want_incorrect: bool,
    want_all: bool,
    training: bool,
) -> Result<BatchEnergies> {
    match model.answers() {
        Answers::Finite(space) => {
            let candidates = space.candidates(ebm_core::inference::float_kind(x), x.device())?;
            let all = model.candidate_energies(x, &candidates)?;
            let index = model.label_index(y)?;
            let correct = all
                .f_gather(1, &index.f_unsqueeze(1)?, false)?
                .f_squeeze_dim(1)?;
            let incorrect = if want_incorrect {
                Some(most_offending_finite(&all, &index)?.energy)
            } else {
                None
            };
            Ok(BatchEnergies {
                correct,
                incorrect,
                all: want_all.then_some(all),
                log_weights: None,
                counter_examples: None,
            })
        }
        Answers::Continuous(c) => {
            let correct = model.energy(x, y)?;
            // Counter-examples are drawn once per training batch and serve both the offending
            // search's starts and the energies over Y; a grid's offending search starts from
            // its midpoints.
            let sampled = match (&c.integration, training) {
                (Integration::CounterExamples { .. }, true) if want_incorrect || want_all => {
                    Some(c.training_points()?)
                }
                _ => None,
            };
            let incorrect = if want_incorrect {
                let (_, e_incorrect) = most_offending_continuous(
                    model,
                    x,
                    y,
                    sampled.as_ref().unwrap_or(c.fixed_points()),
                    c.epsilon,
                    &c.offending,
                    &c.space,
                )?;
                Some(e_incorrect)
            } else {
                None
            };
            let mut counter_examples = None;
            let (all, log_weights) = if want_all {
                let (all, log_weights) = match (&c.integration, sampled.as_ref()) {
                    (Integration::Grid { grid, .. }, _) => {
                        let points = if training {
                            c.training_points()?
                        } else {
                            grid.points.shallow_clone()
                        };
                        (model.candidate_energies(x, &points)?, grid.log_weights()?)
                    }
                    (Integration::CounterExamples { .. }, None) => (
                        model.candidate_energies(x, c.fixed_points())?,
                        c.fixed_log_weights()?,
                    ),
                    (
                        Integration::CounterExamples {
                            refine_steps,
                            log_weight,
                            ..
                        },
                        Some(points),
                    ) => {
                        let (negatives, used) =
                            counter_example_energies(model, c, x, points, *refine_steps)?;
                        counter_examples = Some(used);
                        // InfoNCE as IBC trains it: the correct answer is one of the K + 1
                        // candidates, each weighted V/(K + 1), so the loss is bounded below
                        // even where no counter-example falls into the data's wells.
                        let k = negatives.size()[1] + 1;
                        let all = Tensor::f_cat(&[&correct.f_unsqueeze(1)?, &negatives], 1)?;
                        let log_w = log_weight + ((k - 1) as f64).ln() - (k as f64).ln();
                        let weights = Tensor::f_full([k], log_w, (all.kind(), all.device()))?;
                        (all, weights)
                    }
                };
                (Some(all), Some(log_weights))
            } else {
                (None, None)
            };
            // The stabilisers need the points even when the loss takes no integral.
            if counter_examples.is_none() {
                if let Some(points) = sampled {
                    let b = ebm_core::check::batch_size(x, "x")?;
                    let dims = points.size();
                    counter_examples = Some(
                        points
                            .f_unsqueeze(0)?
                            .f_expand([b, dims[0], dims[1]], false)?,
                    );
                }
            }
            Ok(BatchEnergies {
                correct,
                incorrect,
                all,
                log_weights,
                counter_examples,
            })
        }
    }
}

/// The energies `[B, K]` of a training batch's counter-examples `points [K, d]`,
/// differentiable in W, with the points each row used `[B, K, d]`: shared by the rows, or,
/// with `refine_steps`, each row's own copy moved by that many steps of Langevin inference
/// towards the row's low energies (W frozen).
fn counter_example_energies<A: Architecture + ?Sized>(
    model: &A,
    c: &ContinuousAnswers,
    x: &Tensor,
    points: &Tensor,
    refine_steps: usize,
) -> Result<(Tensor, Tensor)> {
    let b = ebm_core::check::batch_size(x, "x")?;
    let dims = points.size();
    let starts = points
        .f_unsqueeze(0)?
        .f_expand([b, dims[0], dims[1]], false)?;
    if refine_steps == 0 {
        return Ok((model.candidate_energies(x, points)?, starts));
    }
    let refine = ebm_core::LangevinSearchConfig {
        steps: refine_steps,
        ..Default::default()
    }
    .check()?;
    let refined = crate::with_frozen_parameters(model.var_store(), || {
        refine.chains(&model, x, &starts, &c.space)
    })?;
    Ok((model.row_candidate_energies(x, &refined)?, refined))
}

/// The stabilisers a model's counter-examples ask for, added to a training batch's loss:
/// IBC's gradient penalty over the correct answer and the counter-examples, and the L2
/// penalty on the energies' magnitudes (over the energies the batch computed). Zero terms
/// are not computed.
fn stabilisers<A: Architecture + ?Sized>(
    model: &A,
    x: &Tensor,
    y: &Tensor,
    energies: &BatchEnergies,
) -> Result<Option<Tensor>> {
    let (Answers::Continuous(c), Some(points)) = (model.answers(), &energies.counter_examples)
    else {
        return Ok(None);
    };
    let Integration::CounterExamples { penalties, .. } = &c.integration else {
        return Ok(None);
    };
    let mut total: Option<Tensor> = None;
    let mut add = |term: Tensor| -> Result<()> {
        total = Some(match total.take() {
            Some(t) => t.f_add(&term)?,
            None => term,
        });
        Ok(())
    };
    if penalties.energy_l2 > 0.0 {
        let table = match &energies.all {
            Some(all) => all.shallow_clone(),
            None => {
                let mut columns = vec![energies.correct.f_unsqueeze(1)?];
                if let Some(e) = &energies.incorrect {
                    columns.push(e.f_unsqueeze(1)?);
                }
                Tensor::f_cat(&columns, 1)?
            }
        };
        let l2 = ebm_loss::energy_magnitude_penalty(&table)?.f_mean(table.kind())?;
        add(l2.f_mul_scalar(penalties.energy_l2)?)?;
    }
    if penalties.gradient_penalty > 0.0 {
        let ys = Tensor::f_cat(&[&y.f_unsqueeze(1)?.f_to_kind(points.kind())?, points], 1)?;
        let gp = ebm_loss::gradient_penalty(&model, x, &ys, penalties.gradient_margin)?;
        add(gp
            .f_mean(gp.kind())?
            .f_mul_scalar(penalties.gradient_penalty)?)?;
    }
    Ok(total)
}

/// Energy gap and spread on the probe rows, without gradients, from one pass over Y.
///
/// E_I is the lowest energy over the candidates (finite Y) or the grid points (continuous Y)
/// that are not the correct answer: for a continuous Y, grid points at least ε from y. It
/// costs no search, so it is cheap enough to measure every epoch.
fn probe<A: Architecture + ?Sized>(model: &A, x: &Tensor, y: &Tensor) -> Result<(f64, f64, f64)> {
    let _guard = tch::no_grad_guard();
    let e = batch_energies(model, x, y, false, true, false)?;
    let all = e.all.as_ref().ok_or_else(|| EbmError::Shape {
        what: "probe energies".into(),
        expected: "energies over all of Y".into(),
        got: vec![],
    })?;
    let correct_mask = match model.answers() {
        Answers::Finite(_) => {
            let index = model.label_index(y)?;
            all.f_zeros_like()?.f_to_kind(Kind::Bool)?.f_scatter_value(
                1,
                &index.f_unsqueeze(1)?,
                1,
            )?
        }
        Answers::Continuous(c) => {
            // ‖grid_k − y_b‖ < ε, `[B, K]`.
            let diff = c.fixed_points().f_unsqueeze(0)?.f_sub(&y.f_unsqueeze(1)?)?;
            diff.f_norm_scalaropt_dim(2.0, [2], false)?
                .f_lt(c.epsilon)?
        }
    };
    let incorrect = all
        .f_masked_fill(&correct_mask, f64::INFINITY)?
        .f_amin(1, false)?;
    let finite = incorrect.f_isfinite()?;
    let gap = if bool::try_from(finite.f_any()?)? {
        f64::try_from(
            incorrect
                .f_sub(&e.correct)?
                .f_masked_select(&finite)?
                .f_mean(Kind::Double)?,
        )?
    } else {
        f64::NAN
    };
    let spread = energy_spread(all)?;
    Ok((
        gap,
        f64::try_from(spread.std.f_mean(Kind::Double)?)?,
        f64::try_from(spread.range.f_mean(Kind::Double)?)?,
    ))
}

/// The mean loss of a batch, differentiable in W, with the energies `loss` needs.
fn batch_loss<A: Architecture + ?Sized>(
    model: &A,
    loss: &dyn Loss,
    x: &Tensor,
    y: &Tensor,
) -> Result<Tensor> {
    let needs = loss.needs();
    let energies = batch_energies(model, x, y, needs.incorrect, needs.all, true)?;
    let value = loss.loss(&energies.input(), Reduction::Mean)?;
    match stabilisers(model, x, y, &energies)? {
        Some(extra) => Ok(value.f_add(&extra)?),
        None => Ok(value),
    }
}

/// One optimisation step on a batch: the energies `loss` needs (E_C and, as it asks, the
/// most offending E_I and the energies over all of Y; see [`batch_energies`]), the mean
/// loss, backward, and `optimizer`'s step. Returns the loss, detached.
///
/// [`fit`] runs it on every batch; a training loop of your own can run it with an optimizer
/// from [`OptimizerConfig::build`]. Check the data once with [`Architecture::check_inputs`].
pub fn train_step<A: Architecture + ?Sized>(
    model: &A,
    loss: &dyn Loss,
    optimizer: &mut Optimizer,
    x: &Tensor,
    y: &Tensor,
) -> Result<Tensor> {
    let value = batch_loss(model, loss, x, y)?;
    optimizer.backward_step(&value)?;
    Ok(value.f_detach()?)
}

/// Trains `model` with `loss` on `(x, y)`, calling `on_epoch` after every epoch; `seed`
/// seeds libtorch's generator (the shuffling and the searches; initialisation is the
/// caller's, before this call).
///
/// The loss decides what is computed per batch: E_I through the most offending answer when
/// it needs it, the energies over all of Y (candidates, or the quadrature grid with its log
/// volume) when it needs them. The loop is [`crate::learner::train`].
pub fn fit<A: Architecture + ?Sized>(
    model: &A,
    loss: &dyn Loss,
    x: &Tensor,
    y: &Tensor,
    config: &TrainConfig,
    seed: u64,
    on_epoch: impl FnMut(&EpochRecord),
) -> Result<History> {
    Ok(fit_from(model, loss, x, y, config, seed, None, on_epoch)?.0)
}

/// [`fit`] with the optimiser started from a saved state (`None`: fresh), returning its final
/// state too: how a resumed run continues ([`crate::learner::train_from`]).
#[allow(clippy::too_many_arguments)]
pub fn fit_from<A: Architecture + ?Sized>(
    model: &A,
    loss: &dyn Loss,
    x: &Tensor,
    y: &Tensor,
    config: &TrainConfig,
    seed: u64,
    start: Option<&OptimizerState>,
    on_epoch: impl FnMut(&EpochRecord),
) -> Result<(History, OptimizerState)> {
    config.check()?;
    let mut step = Supervised::new(model, loss, x, y, config.probe_size)?;
    train_from(&mut step, config, seed, start, on_epoch)
}

/// An architecture, a loss and its data, as a [`TrainStep`].
struct Supervised<'a, A: ?Sized> {
    model: &'a A,
    loss: &'a dyn Loss,
    x: Tensor,
    y: Tensor,
    probe_x: Tensor,
    probe_y: Tensor,
}

impl<'a, A: Architecture + ?Sized> Supervised<'a, A> {
    fn new(
        model: &'a A,
        loss: &'a dyn Loss,
        x: &Tensor,
        y: &Tensor,
        probe_size: usize,
    ) -> Result<Self> {
        model.check_inputs(x, Some(y))?;
        let device = model.var_store().device();
        // An f64 or integer x trains in the parameters' kind (a dtype mismatch is no panic).
        let x = x.f_to_kind(model.var_store().kind())?.f_to_device(device)?;
        let y = y.f_to_device(device)?;
        let n = x.size()[0];
        if n == 0 {
            return Err(EbmError::Shape {
                what: "training data".into(),
                expected: "at least one row".into(),
                got: x.size(),
            });
        }
        let probe_n = (probe_size as i64).min(n);
        let (probe_x, probe_y) = (x.f_narrow(0, 0, probe_n)?, y.f_narrow(0, 0, probe_n)?);
        Ok(Supervised {
            model,
            loss,
            x,
            y,
            probe_x,
            probe_y,
        })
    }
}

impl<A: Architecture + ?Sized> TrainStep for Supervised<'_, A> {
    fn var_store(&self) -> &nn::VarStore {
        self.model.var_store()
    }

    fn rows(&self) -> i64 {
        self.x.size()[0]
    }

    fn batch_loss(&mut self, indices: &Tensor) -> Result<Tensor> {
        let (xb, yb) = (
            self.x.f_index_select(0, indices)?,
            self.y.f_index_select(0, indices)?,
        );
        batch_loss(self.model, self.loss, &xb, &yb)
    }

    fn probe(&self) -> Result<Probe> {
        let (gap, spread_std, spread_range) = probe(self.model, &self.probe_x, &self.probe_y)?;
        Ok(Probe {
            gap,
            spread_std,
            spread_range,
            samples: None,
        })
    }

    fn divergence_hint(&self) -> String {
        let name = self.loss.name();
        match name {
            "hinge" | "square_square" => {
                format!(", or the {name} loss's loss.margin, which sets how far apart it pushes energies")
            }
            "nll" | "mee" => format!(
                ", or the {name} loss's loss.beta (a large β makes e^(−βE) overflow)"
            ),
            "square_exponential" => ", or loss.gamma".to_string(),
            "energy" | "perceptron" => format!(
                "; the {name} loss is not bounded below where the energy can go flat (see configs/collapse_energy.toml): a loss with a margin or a contrastive term avoids it"
            ),
            _ => String::new(),
        }
    }
}
