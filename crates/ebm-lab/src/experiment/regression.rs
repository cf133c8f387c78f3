//! `kind = "regression"`: architecture 1, E = ½‖G(x) − y‖² (`ebm_arch::Regression`).

use super::architecture::{run_architecture, shrink_continuous, Continuous};
use super::{Experiment, Losses, RunContext, Targets, Trained};
use crate::error::RunError;
use ebm_arch::{RegressionConfig, TrainConfig};

impl Experiment for RegressionConfig {
    fn targets(&self) -> &'static [Targets] {
        &[Targets::Regression]
    }

    fn losses(&self) -> Losses {
        Losses::Tutorial
    }

    fn metric_names(&self) -> &'static [&'static str] {
        &[
            "test_mse",
            "train_mse",
            "coverage",
            "argmin_error",
            "prediction_set_size",
            "mode_coverage_min",
        ]
    }

    fn check(&self, _train: &TrainConfig) -> ebm_core::Result<()> {
        RegressionConfig::check(self).map_err(|e| e.within("model"))
    }

    fn shrink(&mut self, _train: &TrainConfig) {
        shrink_continuous(&mut self.y_range, &mut self.search);
    }

    fn run(&self, context: &RunContext<'_>) -> Result<Trained, RunError> {
        let train = &context.data.train;
        let model = self.build(
            train.x_dim(),
            train.y_dim().unwrap_or(1),
            context.data.device,
        )?;
        let continuous = Continuous {
            y_range: &self.y_range,
            train_mse: true,
        };
        run_architecture(context, &model, Some(continuous))
    }
}
