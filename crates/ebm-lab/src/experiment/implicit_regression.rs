//! `kind = "implicit_regression"`: architecture 2, E = ½‖G_x(x) − G_y(y)‖², the prediction
//! set found by gradient descent with restarts (`ebm_arch::ImplicitRegression`).

use super::architecture::{run_architecture, shrink_continuous, Continuous, CONTINUOUS_METRICS};
use super::{Experiment, Losses, RunContext, Targets, Trained};
use crate::error::RunError;
use ebm_arch::{ImplicitRegressionConfig, TrainConfig};

impl Experiment for ImplicitRegressionConfig {
    fn targets(&self) -> &'static [Targets] {
        &[Targets::Regression]
    }

    fn losses(&self) -> Losses {
        Losses::Tutorial
    }

    fn metric_names(&self) -> &'static [&'static str] {
        CONTINUOUS_METRICS
    }

    fn check(&self, _train: &TrainConfig) -> ebm_core::Result<()> {
        ImplicitRegressionConfig::check(self).map_err(|e| e.within("model"))
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
            train_mse: false,
        };
        run_architecture(context, &model, Some(continuous))
    }
}
