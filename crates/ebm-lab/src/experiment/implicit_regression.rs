//! `kind = "implicit_regression"`: architecture 2, E = ½‖G_x(x) − G_y(y)‖², the prediction
//! set found by gradient descent with restarts (`ebm_arch::ImplicitRegression`).

use super::architecture::{run_continuous, shrink_continuous, CONTINUOUS_METRICS};
use super::base::{Dims, Experiment, Losses, RunContext, Targets, Trained};
use crate::error::RunError;
use ebm_arch::Architecture;
use ebm_arch::{ImplicitRegressionConfig, TrainConfig};
use tch::Device;

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

    fn min_rows(&self) -> (usize, usize) {
        (1, 1)
    }

    fn check(&self, _train: &TrainConfig) -> ebm_core::Result<()> {
        ImplicitRegressionConfig::check(self).map_err(|e| e.within("model"))
    }

    fn shrink(&mut self, _train: &TrainConfig) {
        shrink_continuous(&mut self.y_range, &mut self.search);
    }

    fn architecture(
        &self,
        dims: Dims,
        device: Device,
    ) -> ebm_core::Result<Option<Box<dyn Architecture>>> {
        Ok(Some(Box::new(self.build(dims.x, dims.y, device)?)))
    }

    fn run(&self, context: &RunContext<'_>) -> Result<Trained, RunError> {
        run_continuous(context, self, &self.y_range, false)
    }
}
