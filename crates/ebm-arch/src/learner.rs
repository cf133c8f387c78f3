//! The one training loop of `ebm`, in the shape of burn's `TrainStep`/`Learner`: a model
//! supplies the loss of a batch and its probe (energy gap and spread); [`train`] owns the
//! seeding, the batching, the optimiser, the finite-loss check, the progress callback and the
//! [`History`]. The settings ([`TrainConfig`], [`OptimizerConfig`]) and the per-epoch
//! [`EpochRecord`] live here too.
//!
//! The supervised architectures ([`crate::fit`]), the siamese encoders ([`crate::Siamese`])
//! and the energy densities ([`crate::DensityNet`]) are three implementations of
//! [`TrainStep`].

use crate::optim::{Optimizer, OptimizerConfig, OptimizerState};
use ebm_core::check::check_count;
use ebm_core::{EbmError, Result};
use serde::{Deserialize, Serialize};
use tch::nn;
use tch::{Kind, Tensor};

/// Training settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    /// The optimizer.
    pub optimizer: OptimizerConfig,
    /// Rows per step, ≥ 1.
    pub batch_size: usize,
    /// Passes over the data, ≥ 1.
    pub epochs: usize,
    /// Rows (the first ones) on which the per-epoch energy gap and spread are measured.
    pub probe_size: usize,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            optimizer: OptimizerConfig::default(),
            batch_size: 64,
            epochs: 50,
            probe_size: 64,
        }
    }
}

impl TrainConfig {
    /// Checks every setting; errors name the key (`batch_size`, `optimizer.lr`).
    pub fn check(&self) -> Result<()> {
        self.optimizer.check().map_err(|e| e.within("optimizer"))?;
        check_count("batch_size", self.batch_size)?;
        check_count("epochs", self.epochs)?;
        check_count("probe_size", self.probe_size)?;
        Ok(())
    }
}

/// What one epoch measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// Epoch number, from 1.
    pub epoch: usize,
    /// Mean training loss over the epoch's batches.
    pub loss: f64,
    /// Mean energy gap E_I − E_C on the probe rows after the epoch, E_I being the lowest
    /// energy over the other candidates (finite Y) or the grid points at least ε from y.
    pub gap: f64,
    /// Mean over probe x of the standard deviation of E(x, ·) over Y (grid or candidates).
    pub spread_std: f64,
    /// Mean over probe x of max − min of E(x, ·) over Y.
    pub spread_range: f64,
    /// Models that sample (densities): mean E of the model's samples − mean E of the probe
    /// data, the negative of the `d_st` of Nijkamp et al. (2020, "On the anatomy of
    /// MCMC-based maximum likelihood learning of energy-based models"). NaN for models that do
    /// not sample.
    pub sample_gap: f64,
    /// Models that sample: the mean over samples of ‖∇_y E‖₂ at them (NaN otherwise). With
    /// `sample_gap` it tells convergent training (gap near 0, gradients settle) from
    /// non-convergent (gradients grow while the gap swings).
    pub sample_grad_norm: f64,
}

/// The per-epoch history of a run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// One record per epoch.
    pub epochs: Vec<EpochRecord>,
    /// Spread (std) of the energy over Y on the probe rows before training.
    pub initial_spread_std: f64,
}

impl History {
    /// The last epoch's record.
    pub fn last(&self) -> Option<&EpochRecord> {
        self.epochs.last()
    }

    /// Final spread as a fraction of the initial one: near 0 means the surface went flat.
    pub fn spread_ratio(&self) -> f64 {
        match self.last() {
            Some(r) if self.initial_spread_std > 0.0 => r.spread_std / self.initial_spread_std,
            _ => f64::NAN,
        }
    }
}

/// What one probe measured on a model's probe rows, without gradients.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Probe {
    /// The energy gap (incorrect or negative minus correct or positive energies).
    pub gap: f64,
    /// The spread (standard deviation) of the energy over Y, or of the embeddings.
    pub spread_std: f64,
    /// The range (max − min) of the same.
    pub spread_range: f64,
    /// Models that sample: E(samples) − E(data) and the mean ‖∇_y E‖ at the samples.
    pub samples: Option<SampleProbe>,
}

/// The two numbers of a sampling model's probe (see [`EpochRecord::sample_gap`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SampleProbe {
    /// Mean E of the samples − mean E of the probe data.
    pub gap: f64,
    /// Mean ‖∇_y E‖₂ at the samples.
    pub grad_norm: f64,
}

/// A model's part of training: the loss of a batch and the per-epoch probe.
pub trait TrainStep {
    /// The parameters the optimiser trains.
    fn var_store(&self) -> &nn::VarStore;

    /// Number of training rows (≥ 1).
    fn rows(&self) -> i64;

    /// The fewest rows a batch must have; shorter batches (the last of an epoch) are skipped.
    /// 1 by default; 2 where a batch's rows are each other's negatives.
    fn min_batch(&self) -> i64 {
        1
    }

    /// Called once after seeding and building the optimiser, before the first probe: the
    /// place to draw what training needs from libtorch's generator (replay buffers, probe
    /// noise).
    fn begin(&mut self) -> Result<()> {
        Ok(())
    }

    /// The mean loss of the rows at `indices` (Int64 `[B]`), differentiable in the
    /// parameters.
    fn batch_loss(&mut self, indices: &Tensor) -> Result<Tensor>;

    /// The energy gap and spread on the probe rows.
    fn probe(&self) -> Result<Probe>;

    /// The model's own settings that can make training diverge, besides the learning rate, in
    /// words naming their config keys (", or ..."); empty by default.
    fn divergence_hint(&self) -> String {
        String::new()
    }
}

/// Whether every parameter of `vs` is finite.
fn parameters_finite(vs: &nn::VarStore) -> Result<bool> {
    for v in vs.trainable_variables() {
        if !bool::try_from(v.f_isfinite()?.f_all()?)? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// [`EbmError::Diverged`] at `epoch`: what went wrong, the loss before it, and the settings to
/// change.
fn diverged<M: TrainStep + ?Sized>(
    epoch: usize,
    history: &History,
    what: String,
    config: &TrainConfig,
    model: &M,
) -> EbmError {
    let before = match (history.epochs.first(), history.epochs.last()) {
        (Some(first), Some(last)) if last.epoch > 1 => format!(
            " (the loss was {:.4e} at epoch 1 and {:.4e} at epoch {})",
            first.loss, last.loss, last.epoch
        ),
        (Some(first), _) => format!(" (the loss was {:.4e} at epoch 1)", first.loss),
        (None, _) => " in the first epoch".to_string(),
    };
    EbmError::Diverged {
        epoch,
        detail: format!(
            "{what}{before}. The usual cause is too large a step: lower train.optimizer.lr (now {:?}){}",
            config.optimizer.lr(),
            model.divergence_hint()
        ),
    }
}

/// A 0-d tensor read as f64.
pub(crate) fn scalar(t: &Tensor) -> Result<f64> {
    Ok(f64::try_from(t.f_to_kind(Kind::Double)?)?)
}

/// The mean of a tensor (in f64) read as f64.
pub(crate) fn mean(t: &Tensor) -> Result<f64> {
    scalar(&t.f_mean(Kind::Double)?)
}

/// Trains `model` for `config.epochs` epochs with a fresh optimiser, calling `on_epoch` after
/// every epoch: [`train_from`] without a start, keeping the history.
pub fn train<M: TrainStep + ?Sized>(
    model: &mut M,
    config: &TrainConfig,
    seed: u64,
    on_epoch: impl FnMut(&EpochRecord),
) -> Result<History> {
    Ok(train_from(model, config, seed, None, on_epoch)?.0)
}

/// Trains `model` for `config.epochs` epochs, calling `on_epoch` after every epoch; returns
/// the history and the optimiser's final state (to save beside the checkpoint).
///
/// The optimiser ([`Optimizer`]) starts from `start` when given (a resumed run: the moments
/// and step counts a previous training ended with) and fresh otherwise. libtorch's generator
/// is seeded with `seed` first; each epoch draws a permutation of the
/// rows and steps the optimiser (`zero_grad`, `backward`, `step`) once per batch, after one
/// power iteration on every spectrally normalised layer ([`crate::MlpConfig::spectral_norm`]). An epoch
/// whose mean loss is NaN or infinite stops training with [`EbmError::Diverged`]: the epoch,
/// the loss before it, and the settings to change (the learning rate, and the model's own,
/// [`TrainStep::divergence_hint`]).
pub fn train_from<M: TrainStep + ?Sized>(
    model: &mut M,
    config: &TrainConfig,
    seed: u64,
    start: Option<&OptimizerState>,
    mut on_epoch: impl FnMut(&EpochRecord),
) -> Result<(History, OptimizerState)> {
    config.check()?;
    let seed = i64::try_from(seed).map_err(|_| EbmError::Hyperparameter {
        name: "seed".into(),
        reason: "must be at most i64::MAX",
        value: seed.to_string(),
    })?;
    let n = model.rows();
    if n < model.min_batch() {
        return Err(EbmError::Shape {
            what: "training data".into(),
            expected: format!("at least {} row(s)", model.min_batch()),
            got: vec![n],
        });
    }
    let device = model.var_store().device();
    tch::manual_seed(seed);
    let mut optimizer = Optimizer::new(&config.optimizer, model.var_store(), start)?;
    let spectral = crate::mlp::spectral_layers(model.var_store())?;
    model.begin()?;
    let initial = model.probe()?;
    let mut history = History {
        epochs: Vec::with_capacity(config.epochs),
        initial_spread_std: initial.spread_std,
    };
    let batch = config.batch_size as i64;
    let mut steps = 0usize;
    for epoch in 1..=config.epochs {
        let order = Tensor::f_randperm(n, (Kind::Int64, device))?;
        // Summed on the device and read once per epoch: no host sync in the step.
        let mut total = Tensor::f_zeros([], (Kind::Double, device))?;
        let mut batches = 0usize;
        for start in (0..n).step_by(batch as usize) {
            let len = batch.min(n - start);
            if len < model.min_batch() {
                continue;
            }
            crate::mlp::power_iterate(&spectral)?;
            let value = match model.batch_loss(&order.f_narrow(0, start, len)?) {
                Ok(value) => value,
                // Non-finite energies once the optimiser has stepped: the steps diverged (the
                // inputs were finite, or the first batch would have failed before any step).
                Err(EbmError::NonFinite { what, .. }) if steps > 0 => {
                    let state = match parameters_finite(model.var_store())? {
                        true => "the parameters grew so large that",
                        false => "the parameters are no longer finite, and",
                    };
                    return Err(diverged(
                        epoch,
                        &history,
                        format!("{state} {what} holds NaN or infinite values"),
                        config,
                        &*model,
                    ));
                }
                Err(e) => return Err(e),
            };
            optimizer.backward_step(&value)?;
            steps += 1;
            total = total.f_add(&value.f_detach()?.f_to_kind(Kind::Double)?)?;
            batches += 1;
        }
        let loss = scalar(&total)? / batches.max(1) as f64;
        if !loss.is_finite() {
            return Err(diverged(
                epoch,
                &history,
                format!("the mean training loss is {loss}"),
                config,
                &*model,
            ));
        }
        let probe = match model.probe() {
            Ok(probe) => probe,
            Err(EbmError::NonFinite { what, .. }) => {
                return Err(diverged(
                    epoch,
                    &history,
                    format!("the probe's {what} holds NaN or infinite values"),
                    config,
                    &*model,
                ));
            }
            Err(e) => return Err(e),
        };
        let record = EpochRecord {
            epoch,
            loss,
            gap: probe.gap,
            spread_std: probe.spread_std,
            spread_range: probe.spread_range,
            sample_gap: probe.samples.map_or(f64::NAN, |s| s.gap),
            sample_grad_norm: probe.samples.map_or(f64::NAN, |s| s.grad_norm),
        };
        on_epoch(&record);
        history.epochs.push(record);
    }
    Ok((history, optimizer.state()?))
}
