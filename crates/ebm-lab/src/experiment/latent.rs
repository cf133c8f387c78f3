//! `kind = "latent"`: architecture 5, E(x, y, z) = ½‖G(x, z) − y‖² with z marginalised by
//! a β soft-min (`ebm_arch::LatentModel`).

use super::architecture::{run_continuous, shrink_continuous, shrink_search, CONTINUOUS_METRICS};
use super::base::{Dims, Experiment, Losses, RunContext, Targets, Trained};
use crate::error::RunError;
use ebm_arch::Architecture;
use ebm_arch::{LatentModelConfig, TrainConfig};
use ebm_latent::LatentSpaceConfig;
use tch::Device;

impl Experiment for LatentModelConfig {
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
        LatentModelConfig::check(self).map_err(|e| e.within("model"))
    }

    fn shrink(&mut self, _train: &TrainConfig) {
        shrink_continuous(&mut self.y_range, &mut self.search);
        match &mut self.latent.z {
            LatentSpaceConfig::Continuous { search, .. } => shrink_search(search),
            LatentSpaceConfig::Finite { .. }
            | LatentSpaceConfig::OneHot { .. }
            | LatentSpaceConfig::Grid { .. }
            | LatentSpaceConfig::MonteCarlo { .. } => {}
        }
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
