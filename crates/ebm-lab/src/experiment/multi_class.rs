//! `kind = "multi_class"`: architecture 4, E(x, k) = G(x)\[k\] with the classes from the data
//! (`ebm_arch::MultiClass`).

use super::architecture::{run_classifier, CLASSIFIER_METRICS};
use super::base::{Dims, Experiment, Losses, RunContext, Targets, Trained};
use crate::error::RunError;
use ebm_arch::Architecture;
use ebm_arch::{ClassifierConfig, TrainConfig};
use serde::{Deserialize, Serialize};
use tch::Device;

/// The `[model]` table of `kind = "multi_class"`: G's layers.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MultiClassConfig(pub ClassifierConfig);

impl Experiment for MultiClassConfig {
    fn targets(&self) -> &'static [Targets] {
        &[Targets::Classes]
    }

    fn losses(&self) -> Losses {
        Losses::Tutorial
    }

    fn metric_names(&self) -> &'static [&'static str] {
        CLASSIFIER_METRICS
    }

    fn min_rows(&self) -> (usize, usize) {
        (1, 1)
    }

    fn check(&self, _train: &TrainConfig) -> ebm_core::Result<()> {
        self.0.check().map_err(|e| e.within("model"))
    }

    fn shrink(&mut self, _train: &TrainConfig) {}

    fn architecture(
        &self,
        dims: Dims,
        device: Device,
    ) -> ebm_core::Result<Option<Box<dyn Architecture>>> {
        Ok(Some(Box::new(self.0.build_multi_class(
            dims.x,
            dims.classes,
            device,
        )?)))
    }

    fn run(&self, context: &RunContext<'_>) -> Result<Trained, RunError> {
        run_classifier(context, self)
    }
}
