//! `kind = "density"`: an energy E(y) over the data (`ebm_arch::DensityNet`) trained by a
//! density objective; measured by how close fresh Langevin samples come to the data and by
//! the held-out log-likelihood (log Z by quadrature in 2-D, by annealed importance sampling in
//! any other dimension).

use super::base::{insert, Dims, Experiment, Losses, RunContext, Targets, Trained};
use crate::error::RunError;
use crate::evaluate::density_figure;
use crate::sections::LossSection;
use ebm_arch::{Architecture, DensityConfig, DensityNet, TrainConfig};
use ebm_contrastive::{Distance, ObjectiveConfig};
use ebm_core::{ais_log_z, AisBase, AisConfig, EbmError, Energy};
use std::collections::BTreeMap;
use tch::{Device, Kind, Tensor};

/// The mean over the rows of `points [S, d]` of the distance to the nearest row of `data [N, d]`.
pub fn mean_distance_to(points: &Tensor, data: &Tensor) -> ebm_core::Result<f64> {
    let _guard = tch::no_grad_guard();
    let d = Distance::EUCLIDEAN.pairwise(points, data)?;
    Ok(f64::try_from(
        d.f_amin(1, false)?
            .f_mean(Kind::Double)?
            .f_to_kind(Kind::Double)?,
    )?)
}

impl Experiment for DensityConfig {
    fn targets(&self) -> &'static [Targets] {
        &[Targets::Density]
    }

    fn losses(&self) -> Losses {
        Losses::Density
    }

    fn metric_names(&self) -> &'static [&'static str] {
        &[
            "sample_distance",
            "noise_distance",
            "untrained_sample_distance",
            "improvement",
            "energy_gap",
            "test_log_likelihood",
            "gaussian_log_likelihood",
            "log_likelihood_gain",
            "log_z",
            "log_z_std_error",
            "nce_log_z",
        ]
    }

    fn min_rows(&self) -> (usize, usize) {
        // The metrics compare samples with every data point; no test row is needed.
        (1, 0)
    }

    fn check(&self, train: &TrainConfig) -> ebm_core::Result<()> {
        DensityConfig::check(self, train.batch_size).map_err(|e| e.within("model"))
    }

    fn shrink(&mut self, train: &TrainConfig) {
        self.langevin.steps = self.langevin.steps.min(5);
        self.replay.capacity = self.replay.capacity.min(train.batch_size.max(200));
    }

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
                "a density model takes contrastive_divergence, score_matching, denoising_score_matching, sliced_score_matching or nce",
                context.loss.kind_name(),
            )
            .into());
        };
        let (data, eval) = (context.data, context.eval);
        let dim = data.train.y_dim().unwrap_or(2);
        let mut net = DensityNet::new(dim, self, data.device)?;
        if matches!(objective, ObjectiveConfig::Nce(_)) {
            // An NCE checkpoint holds c too: the model must have it before loading.
            net.add_nce_log_z();
        }
        let optimizer_start = context.start(net.var_store_mut())?;
        // The same noise starts the chains before and after training.
        let start = net.noise(eval.samples as i64)?;
        let untrained = net.sample(&start, eval.sample_steps)?;
        let (history, optimizer) = net.fit_from(
            objective,
            &data.train.y,
            context.train,
            context.seed,
            optimizer_start,
            |r| context.progress.epoch(r),
        )?;
        context.progress.finish();
        context.save_trained(net.var_store(), &optimizer)?;
        let samples = net.sample(&start, eval.sample_steps)?;
        let all = data.all_cpu.y.to_device(data.device);
        let sample_distance = mean_distance_to(&samples, &all)?;
        let noise_distance = mean_distance_to(&start, &all)?;
        let mut metrics = BTreeMap::new();
        insert(&mut metrics, "sample_distance", sample_distance);
        insert(&mut metrics, "noise_distance", noise_distance);
        insert(
            &mut metrics,
            "untrained_sample_distance",
            mean_distance_to(&untrained, &all)?,
        );
        insert(
            &mut metrics,
            "improvement",
            noise_distance / sample_distance,
        );
        let mean_energy = |t: &Tensor| -> Result<f64, RunError> {
            Ok(f64::try_from(net.energies(t)?.f_mean(Kind::Double)?)?)
        };
        insert(
            &mut metrics,
            "energy_gap",
            mean_energy(&start)? - mean_energy(&all)?,
        );
        if let Some(c) = net.nce_log_z() {
            insert(&mut metrics, "nce_log_z", c);
        }
        held_out_likelihood(&net, data, &mut metrics)?;
        if dim == 2 {
            density_figure(
                &context.folder.file("density.png"),
                |points| {
                    let _guard = tch::no_grad_guard();
                    let no_x = Tensor::f_zeros([points.size()[0], 0], (Kind::Float, data.device))?;
                    net.energy().energy(&no_x, points)
                },
                data.device,
                &data.all_cpu,
                &samples,
                eval,
                &context.title("energy and Langevin samples"),
            )?;
        }
        Ok(Trained {
            history,
            metrics,
            gap_title: "Energy gap: noise − data",
            calibration_rows: 0,
        })
    }
}

/// E(mean + u): the density seen from the data's mean, so that AIS's base N(0, std²I) sits on
/// the data.
struct Centred<'a> {
    net: &'a DensityNet,
    mean: Tensor,
}

impl Energy for Centred<'_> {
    fn energy(&self, x: &Tensor, u: &Tensor) -> ebm_core::Result<Tensor> {
        self.net.energy().energy(x, &u.f_add(&self.mean)?)
    }
}

/// log Z of a density over R^d for d ≠ 2, by annealed importance sampling (seeded, so a run
/// repeats): base N(mean, std²I) with the data's mean and 1.5 times its largest coordinate
/// standard deviation, 400 temperatures, 2000 particles, two MALA transitions each (the
/// settings that meet the analytic log Z of Gaussian mixtures in d = 8 and 16 within 0.1 nats
/// in ebm-core's tests). Returns log Ẑ and its standard error.
fn ais_log_z_of(net: &DensityNet, all: &Tensor, seed: u64) -> Result<(f64, f64), RunError> {
    let device = net.var_store().device();
    let all = all.f_to_kind(Kind::Float)?.f_to_device(device)?;
    let mean = all.f_mean_dim(0, true, Kind::Float)?;
    let std = f64::try_from(
        all.f_std_dim(0, false, false)?
            .f_max()?
            .f_to_kind(Kind::Double)?,
    )?;
    let energy = Centred { net, mean };
    tch::manual_seed(seed as i64);
    let x = Tensor::f_zeros([1, 0], (Kind::Float, device))?;
    let estimate = ais_log_z(
        &energy,
        &x,
        all.size()[1],
        &AisConfig {
            base: AisBase::Gaussian {
                std: 1.5 * std.max(1e-3),
            },
            temperatures: 400,
            particles: 2000,
            transitions: 2,
            step_size: 0.05,
        },
    )?;
    Ok((estimate.log_z, estimate.std_error))
}

/// log Z (by quadrature over the data's box widened by 1 on each side, 200 × 200 cells, in
/// 2-D; by AIS, with its standard error `log_z_std_error`, in any other dimension), the mean
/// log-likelihood of the test rows under the model, and that of a single Gaussian (full
/// covariance) fitted to the training rows by maximum likelihood, the baseline. No test rows,
/// no likelihood: it is never measured on the training rows.
fn held_out_likelihood(
    net: &DensityNet,
    data: &crate::experiment::Split,
    metrics: &mut BTreeMap<String, f64>,
) -> Result<(), RunError> {
    let all = data.all_cpu.y.to_kind(Kind::Double);
    let d = all.size()[1];
    let log_z = if d == 2 {
        let lo = Vec::<f64>::try_from(all.f_amin(0, false)?)?;
        let hi = Vec::<f64>::try_from(all.f_amax(0, false)?)?;
        net.log_z_2d([lo[0] - 1.0, lo[1] - 1.0], [hi[0] + 1.0, hi[1] + 1.0], 200)?
    } else {
        let (log_z, std_error) = ais_log_z_of(net, &all, 0)?;
        insert(metrics, "log_z_std_error", std_error);
        log_z
    };
    insert(metrics, "log_z", log_z);
    let test = &data.test.y;
    if test.size()[0] == 0 {
        return Ok(());
    }
    let model = f64::try_from(
        net.energies(test)?
            .f_to_kind(Kind::Double)?
            .f_mean(Kind::Double)?,
    )?;
    insert(metrics, "test_log_likelihood", -model - log_z);
    let train = data
        .train
        .y
        .f_to_kind(Kind::Double)?
        .f_to_device(Device::Cpu)?;
    let mean = train.f_mean_dim(0, true, Kind::Double)?;
    let centred = train.f_sub(&mean)?;
    let cov = centred
        .f_transpose(0, 1)?
        .f_matmul(&centred)?
        .f_div_scalar(train.size()[0] as f64)?;
    let z = test
        .f_to_kind(Kind::Double)?
        .f_to_device(Device::Cpu)?
        .f_sub(&mean)?;
    let inv = cov.f_inverse()?;
    let maha = z
        .f_matmul(&inv)?
        .f_mul(&z)?
        .f_sum_dim_intlist(1, false, Kind::Double)?;
    let log_det = f64::try_from(cov.f_logdet()?)?;
    let gauss = -0.5 * f64::try_from(maha.f_mean(Kind::Double)?)?
        - 0.5 * log_det
        - 0.5 * d as f64 * (2.0 * std::f64::consts::PI).ln();
    insert(metrics, "gaussian_log_likelihood", gauss);
    insert(metrics, "log_likelihood_gain", -model - log_z - gauss);
    Ok(())
}
