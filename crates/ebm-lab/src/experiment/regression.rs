//! `kind = "regression"`: architecture 1, E = ½‖G(x) − y‖² (`ebm_arch::Regression`).

use super::architecture::{run_continuous, shrink_continuous};
use super::base::{Dims, Experiment, Losses, RunContext, Targets, Trained};
use crate::error::RunError;
use ebm_arch::Architecture;
use ebm_arch::{RegressionConfig, TrainConfig};
use tch::Device;

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
            "test_r2",
            "coverage",
            "argmin_error",
            "prediction_set_size",
            "set_probability",
            "mode_coverage_min",
            "mode_coverage",
        ]
    }

    fn min_rows(&self) -> (usize, usize) {
        (1, 1)
    }

    fn check(&self, _train: &TrainConfig) -> ebm_core::Result<()> {
        RegressionConfig::check(self).map_err(|e| e.within("model"))
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
        run_continuous(context, self, &self.y_range, true)
    }
}
