//! The one training loop of `ebm`, in the shape of burn's `TrainStep`/`Learner`: a model
//! supplies the loss of a batch and its probe (energy gap and spread); [`train`] owns the
//! seeding, the batching, the optimiser, the finite-loss check, the progress callback and the
//! [`History`].
//!
//! The supervised architectures ([`crate::fit`]), the siamese encoders ([`crate::Siamese`])
//! and the energy densities ([`crate::DensityNet`]) are three implementations of
//! [`TrainStep`].

use crate::trainer::{EpochRecord, History, TrainConfig};
use ebm_core::{EbmError, Result};
use tch::nn;
use tch::{Kind, Tensor};

/// What one probe measured on a model's probe rows, without gradients.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Probe {
    /// The energy gap (incorrect or negative minus correct or positive energies).
    pub gap: f64,
    /// The spread (standard deviation) of the energy over Y, or of the embeddings.
    pub spread_std: f64,
    /// The range (max − min) of the same.
    pub spread_range: f64,
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
}

/// Trains `model` for `config.epochs` epochs, calling `on_epoch` after every epoch.
///
/// libtorch's generator is seeded with `seed` first; each epoch draws a permutation of the
/// rows and steps the optimiser (`zero_grad`, `backward`, `step`) once per batch. An epoch
/// whose mean loss is NaN or infinite stops training with [`EbmError::NonFinite`] naming the
/// epoch.
pub fn train<M: TrainStep + ?Sized>(
    model: &mut M,
    config: &TrainConfig,
    seed: u64,
    mut on_epoch: impl FnMut(&EpochRecord),
) -> Result<History> {
    config.validate()?;
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
    let mut optimizer = config.optimizer.build(model.var_store())?;
    model.begin()?;
    let initial = model.probe()?;
    let mut history = History {
        epochs: Vec::with_capacity(config.epochs),
        initial_spread_std: initial.spread_std,
    };
    let batch = config.batch_size as i64;
    for epoch in 1..=config.epochs {
        let order = Tensor::f_randperm(n, (Kind::Int64, device))?;
        let mut total = 0.0;
        let mut batches = 0usize;
        for start in (0..n).step_by(batch as usize) {
            let len = batch.min(n - start);
            if len < model.min_batch() {
                continue;
            }
            let value = model.batch_loss(&order.f_narrow(0, start, len)?)?;
            optimizer.zero_grad();
            value.f_backward()?;
            optimizer.step();
            total += f64::try_from(value.f_detach()?.f_to_kind(Kind::Double)?)?;
            batches += 1;
        }
        let loss = total / batches.max(1) as f64;
        if !loss.is_finite() {
            return Err(EbmError::NonFinite {
                what: format!("the training loss at epoch {epoch}"),
                kind: "NaN or infinite values",
            });
        }
        let probe = model.probe()?;
        let record = EpochRecord {
            epoch,
            loss,
            gap: probe.gap,
            spread_std: probe.spread_std,
            spread_range: probe.spread_range,
        };
        on_epoch(&record);
        history.epochs.push(record);
    }
    Ok(history)
}
