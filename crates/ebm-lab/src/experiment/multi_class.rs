//! `kind = "multi_class"`: architecture 4, E(x, k) = G(x)\[k\] with the classes from the data
//! (`ebm_arch::MultiClass`).

use super::architecture::{run_classifier, CLASSIFIER_METRICS};
use super::base::{Experiment, Losses, RunContext, Targets, Trained};
use crate::error::RunError;
use ebm_arch::{ClassifierConfig, TrainConfig};
use ebm_data::TargetKind;
use serde::{Deserialize, Serialize};

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

    fn run(&self, context: &RunContext<'_>) -> Result<Trained, RunError> {
        let train = &context.data.train;
        let classes = match train.kind {
            TargetKind::Classes { n_classes } => n_classes,
            TargetKind::Binary | TargetKind::Regression | TargetKind::Density => 2,
        };
        let model = self
            .0
            .build_multi_class(train.x_dim(), classes, context.data.device)?;
        run_classifier(context, &model)
    }
}
