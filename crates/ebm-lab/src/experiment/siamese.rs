//! `kind = "siamese"`: an encoder of two noisy views (`ebm_arch::Siamese`) trained by NT-Xent,
//! VICReg or Barlow Twins; measured by 1-nearest-neighbour label accuracy and pair energies.

use super::base::{insert, Dims, Experiment, Losses, RunContext, Targets, Trained};
use crate::error::RunError;
use crate::sections::LossSection;
use ebm_arch::{Architecture, Siamese, SiameseConfig, TrainConfig};
use ebm_core::EbmError;
use ebm_data::Dataset;
use std::collections::BTreeMap;
use tch::{Device, Tensor};

fn labels_on(data: &Dataset, device: Device) -> Result<Tensor, RunError> {
    let labels = data.label_indices()?.unwrap_or_default();
    Ok(Tensor::from_slice(&labels).to_device(device))
}

impl Experiment for SiameseConfig {
    fn targets(&self) -> &'static [Targets] {
        &[Targets::Classes, Targets::Binary]
    }

    fn losses(&self) -> Losses {
        Losses::Embedding
    }

    fn metric_names(&self) -> &'static [&'static str] {
        &[
            "nn_accuracy",
            "raw_nn_accuracy",
            "positive_energy",
            "negative_energy",
            "energy_margin",
        ]
    }

    fn min_rows(&self) -> (usize, usize) {
        // Pairs: negatives and statistics need two rows, in training and among the queries.
        (2, 2)
    }

    fn check(&self, train: &TrainConfig) -> ebm_core::Result<()> {
        SiameseConfig::check(self).map_err(|e| e.within("model"))?;
        if train.batch_size < 2 {
            return Err(EbmError::hyperparameter(
                "train.batch_size",
                "must be >= 2 for a siamese model (pairs of a batch are the negatives and the statistics)",
                train.batch_size,
            ));
        }
        Ok(())
    }

    fn shrink(&mut self, _train: &TrainConfig) {}

    fn architecture(
        &self,
        _dims: Dims,
        _device: Device,
    ) -> ebm_core::Result<Option<Box<dyn Architecture>>> {
        Ok(None)
    }

    fn run(&self, context: &RunContext<'_>) -> Result<Trained, RunError> {
        let LossSection::Method(objective) = context.loss else {
            return Err(EbmError::hyperparameter(
                "loss.kind",
                "a siamese model takes nt_xent, vicreg or barlow_twins",
                context.loss.kind_name(),
            )
            .into());
        };
        let data = context.data;
        let mut net = Siamese::new(data.train.x_dim(), self, data.device)?;
        let start = context.start(net.var_store_mut())?;
        let (history, optimizer) = net.fit_from(
            objective,
            &data.train.x,
            context.train,
            context.seed,
            start,
            |r| context.progress.epoch(r),
        )?;
        context.progress.finish();
        context.save_trained(net.var_store(), &optimizer)?;
        let queries = &data.test;
        let scores = net.evaluate(
            &data.train.x,
            &labels_on(&data.train, data.device)?,
            &queries.x,
            &labels_on(queries, data.device)?,
        )?;
        let mut metrics = BTreeMap::new();
        insert(&mut metrics, "nn_accuracy", scores.nn_accuracy);
        insert(&mut metrics, "raw_nn_accuracy", scores.raw_nn_accuracy);
        insert(&mut metrics, "positive_energy", scores.positive_energy);
        insert(&mut metrics, "negative_energy", scores.negative_energy);
        insert(
            &mut metrics,
            "energy_margin",
            scores.negative_energy - scores.positive_energy,
        );
        Ok(Trained {
            history,
            metrics,
            gap_title: "Energy gap: negative − positive pairs",
            calibration_rows: 0,
        })
    }
}
