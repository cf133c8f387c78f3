//! `kind = "binary"`: architecture 3, E = −y·G(x) with y ∈ {−1, +1} (`ebm_arch::Binary`).

use super::architecture::{run_classifier, CLASSIFIER_METRICS};
use super::base::{Dims, Experiment, Losses, RunContext, Targets, Trained};
use crate::error::RunError;
use ebm_arch::Architecture;
use ebm_arch::{ClassifierConfig, TrainConfig};
use serde::{Deserialize, Serialize};
use tch::Device;

/// The `[model]` table of `kind = "binary"`: G's layers.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct BinaryConfig(pub ClassifierConfig);

impl Experiment for BinaryConfig {
    fn targets(&self) -> &'static [Targets] {
        &[Targets::Binary]
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
        Ok(Some(Box::new(self.0.build_binary(dims.x, device)?)))
    }

    fn run(&self, context: &RunContext<'_>) -> Result<Trained, RunError> {
        run_classifier(context, self)
    }
}
