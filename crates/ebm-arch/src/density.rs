//! [`DensityNet`]: an energy E(y) over data points (an unconditional EBM), trained through
//! [`crate::learner`] by contrastive divergence with Langevin negatives from a replay buffer
//! (`ebm-contrastive`).

use crate::learner::{
    mean, scalar, train_from, EpochRecord, History, Probe, SampleProbe, TrainConfig, TrainStep,
};
use crate::mlp::{Activation, Mlp, MlpConfig};
use crate::optim::OptimizerState;
use ebm_contrastive::{
    denoising_score_matching, gaussian_log_density, nce_loss, score_matching,
    sliced_score_matching, ContrastiveDivergence, InitNoise, NceNoise, ObjectiveConfig, Projection,
    ReplayBuffer, ReplayBufferConfig, ReplayBufferParams, SlicedScoreMatchingConfig,
};
use ebm_core::{
    energy_and_grad_y, EbmError, Energy, Langevin, LangevinConfig, LangevinStep, Result,
};
use serde::{Deserialize, Serialize};
use tch::nn::{self, Module};
use tch::{Device, Kind, Tensor};

/// `model = { kind = "density", … }`: the energy network, its sampler and its replay buffer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DensityConfig {
    /// E: y → one energy.
    pub energy: MlpConfig,
    /// The sampler that makes the negatives (and the evaluation samples, run longer).
    pub langevin: LangevinConfig,
    /// Persistent chains.
    pub replay: ReplayBufferConfig,
}

impl Default for DensityConfig {
    fn default() -> Self {
        DensityConfig {
            energy: MlpConfig {
                activation: Activation::Silu,
                ..MlpConfig::default()
            },
            langevin: LangevinConfig {
                step: LangevinStep::Decoupled {
                    step_size: 0.05,
                    noise_std: 0.01,
                },
                steps: 20,
                clamp: Some((-3.0, 3.0)),
                grad_clip: Some(1.0),
            },
            replay: ReplayBufferConfig {
                capacity: 2000,
                reinit_fraction: 0.05,
                init: InitNoise::Uniform { lo: -3.0, hi: 3.0 },
            },
        }
    }
}

impl DensityConfig {
    /// Checks every value; errors name the key (`energy.hidden`, `langevin.step.step_size`,
    /// `replay.capacity`). `batch_size` is the training batch: the buffer must hold one.
    pub fn check(&self, batch_size: usize) -> Result<()> {
        self.checked()?;
        if self.replay.capacity < batch_size {
            return Err(EbmError::hyperparameter(
                "replay.capacity",
                "must be >= train.batch_size",
                format!("{} (batch_size {batch_size})", self.replay.capacity),
            ));
        }
        Ok(())
    }

    /// The checked sampler and buffer settings (every value but the tie to the batch size).
    fn checked(&self) -> Result<(Langevin, ReplayBufferParams)> {
        self.energy.check().map_err(|e| e.within("energy"))?;
        let langevin = self.langevin.check().map_err(|e| e.within("langevin"))?;
        let replay = self.replay.check().map_err(|e| e.within("replay"))?;
        Ok((langevin, replay))
    }
}

/// E(y) = MLP(y), unconditional: x is `[B, 0]`.
#[derive(Debug)]
pub struct DensityEnergy {
    net: Mlp,
}

impl Energy for DensityEnergy {
    fn energy(&self, _x: &Tensor, y: &Tensor) -> Result<Tensor> {
        Ok(self.net.forward(y).f_squeeze_dim(1)?)
    }

    /// ∇_y MLP(y) by the MLP's own backward pass (upstream 1 per row), without autograd.
    fn energy_and_grad(&self, _x: &Tensor, y: &Tensor) -> Result<(Tensor, Tensor)> {
        let (out, pre) = self.net.forward_kept(y)?;
        let grad = self.net.input_vjp(pre, &out.f_ones_like()?)?;
        Ok((out.f_squeeze_dim(1)?, grad))
    }

    /// The same gradient without the energies: the last hidden activation and the output
    /// layer are skipped (unadjusted Langevin never reads E).
    fn grad(&self, _x: &Tensor, y: &Tensor) -> Result<Tensor> {
        let pre = self.net.pre_activations(y)?;
        let rows = y.size().first().copied().unwrap_or(0);
        let upstream = Tensor::f_ones([rows, 1], (y.kind(), y.device()))?;
        self.net.input_vjp(pre, &upstream)
    }
}

/// An energy density over `dim`-dimensional points.
#[derive(Debug)]
pub struct DensityNet {
    vs: nn::VarStore,
    energy: DensityEnergy,
    langevin: Langevin,
    replay: ReplayBufferParams,
    dim: i64,
}

impl DensityNet {
    /// E: `dim → 1`, with the sampler and buffer settings of `config`, checked here (errors
    /// name the key: `energy.hidden`, `langevin.steps`, `replay.capacity`).
    pub fn new(dim: i64, config: &DensityConfig, device: Device) -> Result<DensityNet> {
        let (langevin, replay) = config.checked()?;
        let vs = nn::VarStore::new(device);
        let net = Mlp::new(&(vs.root() / "energy"), dim, 1, &config.energy)?;
        Ok(DensityNet {
            vs,
            energy: DensityEnergy { net },
            langevin,
            replay,
            dim,
        })
    }

    /// The parameters.
    pub fn var_store(&self) -> &nn::VarStore {
        &self.vs
    }

    /// The parameters, mutably (to load a checkpoint).
    pub fn var_store_mut(&mut self) -> &mut nn::VarStore {
        &mut self.vs
    }

    /// The energy.
    pub fn energy(&self) -> &DensityEnergy {
        &self.energy
    }

    fn no_x(&self, n: i64) -> Result<Tensor> {
        Ok(Tensor::f_zeros([n, 0], (Kind::Float, self.vs.device()))?)
    }

    /// E at each row of `y [N, dim]`, without gradient.
    pub fn energies(&self, y: &Tensor) -> Result<Tensor> {
        let _guard = tch::no_grad_guard();
        self.energy.energy(&self.no_x(y.size()[0])?, y)
    }

    /// `n` points of the replay buffer's start noise.
    pub fn noise(&self, n: i64) -> Result<Tensor> {
        self.replay
            .init()
            .draw(&[n, self.dim], (Kind::Float, self.vs.device()))
    }

    /// Langevin chains of `steps` steps (≥ 1) from `start`, with the config's step rule.
    pub fn sample(&self, start: &Tensor, steps: usize) -> Result<Tensor> {
        let long = LangevinConfig {
            steps,
            ..self.langevin.config()
        }
        .check()?;
        long.sample(&self.energy, &self.no_x(start.size()[0])?, start)
    }

    /// Gap (mean E of noise − mean E of data), the spread of E over the noise points, and the
    /// samples' gap to the data and gradient magnitude.
    fn probe(&self, data: &Tensor, noise: &Tensor, samples: &Tensor) -> Result<Probe> {
        let on_noise = self.energies(noise)?;
        let on_data = mean(&self.energies(data)?)?;
        let gap = mean(&on_noise)? - on_data;
        let spread_std = scalar(&on_noise.f_std(false)?)?;
        let spread_range = scalar(&on_noise.f_max()?.f_sub(&on_noise.f_min()?)?)?;
        let (on_samples, grad) =
            energy_and_grad_y(&self.energy, &self.no_x(samples.size()[0])?, samples)?;
        let grad_norm = grad.f_norm_scalaropt_dim(2.0, [1], false)?;
        Ok(Probe {
            gap,
            spread_std,
            spread_range,
            samples: Some(SampleProbe {
                gap: mean(&on_samples)? - on_data,
                grad_norm: mean(&grad_norm)?,
            }),
        })
    }

    /// Trains on the points `y [N, dim]` with a density objective: contrastive divergence
    /// against replay-buffer Langevin samples, exact, denoising or sliced score matching, or
    /// NCE (which adds the learnt log-normaliser `nce_log_z` to the parameters). An embedding
    /// objective is an error.
    pub fn fit(
        &self,
        objective: &ObjectiveConfig,
        y: &Tensor,
        config: &TrainConfig,
        seed: u64,
        on_epoch: impl FnMut(&EpochRecord),
    ) -> Result<History> {
        Ok(self.fit_from(objective, y, config, seed, None, on_epoch)?.0)
    }

    /// [`DensityNet::fit`] with the optimiser started from a saved state (`None`: fresh),
    /// returning its final state too (a resumed run). The replay buffer of contrastive
    /// divergence is not part of it: a resumed run draws a new one.
    pub fn fit_from(
        &self,
        objective: &ObjectiveConfig,
        y: &Tensor,
        config: &TrainConfig,
        seed: u64,
        start: Option<&OptimizerState>,
        on_epoch: impl FnMut(&EpochRecord),
    ) -> Result<(History, OptimizerState)> {
        objective.check()?;
        let objective = match objective {
            ObjectiveConfig::ContrastiveDivergence(c) => Objective::Cd(c.check()?),
            ObjectiveConfig::ScoreMatching(c) => Objective::Exact(c.sigma),
            ObjectiveConfig::DenoisingScoreMatching(c) => Objective::Denoising(c.sigma),
            ObjectiveConfig::SlicedScoreMatching(c) => Objective::Sliced(c.clone()),
            ObjectiveConfig::Nce(c) => {
                let (mean, std) = (y.f_mean_dim(0, false, Kind::Float)?, y.f_std_dim(0, false, false)?);
                let noise = match c.noise {
                    NceNoise::Gaussian { scale } => NoiseDist::Gaussian {
                        mean,
                        std: std.f_clamp_min(1e-3)?.f_mul_scalar(scale)?,
                    },
                    NceNoise::Uniform { lo, hi } => NoiseDist::Uniform { lo, hi },
                };
                Objective::Nce {
                    ratio: c.ratio,
                    noise,
                    log_z: self.nce_log_z_var(),
                }
            }
            ObjectiveConfig::NtXent(_) | ObjectiveConfig::Vicreg(_) | ObjectiveConfig::BarlowTwins(_) => {
                return Err(EbmError::hyperparameter(
                    "loss.kind",
                    "is an embedding objective; a density takes contrastive_divergence, score_matching, denoising_score_matching, sliced_score_matching or nce",
                    objective.kind_name(),
                ))
            }
        };
        let probe_n = (config.probe_size as i64).min(y.size()[0]);
        let mut step = DensityStep {
            net: self,
            objective,
            y: y.shallow_clone(),
            probe_data: y.f_narrow(0, 0, probe_n)?,
            probe_n,
            buffer: None,
            probe_noise: None,
            negatives: None,
        };
        train_from(&mut step, config, seed, start, on_epoch)
    }

    /// NCE's learnt log-normaliser c, a parameter of the model (made at zero the first time).
    fn nce_log_z_var(&self) -> Tensor {
        let existing = self
            .vs
            .variables()
            .get(NCE_LOG_Z)
            .map(Tensor::shallow_clone);
        existing.unwrap_or_else(|| self.vs.root().zeros(NCE_LOG_Z, &[]))
    }

    /// Adds NCE's log-normaliser c to the parameters (at zero) if it is not there yet: a
    /// checkpoint of an NCE-trained model holds it, so make it before loading one.
    pub fn add_nce_log_z(&self) {
        let _ = self.nce_log_z_var();
    }

    /// The log-normaliser c learnt by NCE, if the model was trained by it.
    pub fn nce_log_z(&self) -> Option<f64> {
        self.vs
            .variables()
            .get(NCE_LOG_Z)
            .and_then(|c| f64::try_from(c).ok())
    }

    /// log Z = log ∫ e^(−E(y)) dy over the box `[lo, hi]²` (2-D densities) by the midpoint rule
    /// on `n × n` cells: the mass outside the box is left out.
    pub fn log_z_2d(&self, lo: [f64; 2], hi: [f64; 2], n: usize) -> Result<f64> {
        if self.dim != 2 {
            return Err(EbmError::Shape {
                what: "density for a 2-D quadrature".into(),
                expected: "points of 2 coordinates".into(),
                got: vec![self.dim],
            });
        }
        let grid = ebm_core::Quadrature::grid_2d(lo, hi, [n, n], Kind::Float, self.vs.device())?;
        let e = self.energies(&grid.points)?.f_to_kind(Kind::Double)?;
        Ok(f64::try_from(e.f_neg()?.f_logsumexp([0], false)?)? + grid.log_volume)
    }
}

/// The name of NCE's log-normaliser among the parameters.
const NCE_LOG_Z: &str = "nce_log_z";

/// The noise of NCE, fitted to the training points (Gaussian) or given (uniform box).
enum NoiseDist {
    Gaussian { mean: Tensor, std: Tensor },
    Uniform { lo: f64, hi: f64 },
}

impl NoiseDist {
    fn draw(&self, n: i64, d: i64, device: Device) -> Result<Tensor> {
        Ok(match self {
            NoiseDist::Gaussian { mean, std } => Tensor::f_randn([n, d], (Kind::Float, device))?
                .f_mul(std)?
                .f_add(mean)?,
            NoiseDist::Uniform { lo, hi } => Tensor::f_rand([n, d], (Kind::Float, device))?
                .f_mul_scalar(hi - lo)?
                .f_add_scalar(*lo)?,
        })
    }

    fn log_density(&self, y: &Tensor) -> Result<Tensor> {
        match self {
            NoiseDist::Gaussian { mean, std } => gaussian_log_density(y, mean, std),
            NoiseDist::Uniform { lo, hi } => {
                let d = y.size()[1] as f64;
                let outside = y
                    .f_lt(*lo)?
                    .f_logical_or(&y.f_gt(*hi)?)?
                    .f_any_dim(1, false)?;
                Ok(Tensor::f_full(
                    [y.size()[0]],
                    -d * (hi - lo).ln(),
                    (Kind::Float, y.device()),
                )?
                .f_masked_fill(&outside, f64::NEG_INFINITY)?)
            }
        }
    }
}

/// The objective a density trains with.
enum Objective {
    Cd(ContrastiveDivergence),
    /// Exact score matching, on data perturbed by N(0, σ²) when σ > 0.
    Exact(f64),
    Denoising(f64),
    Sliced(SlicedScoreMatchingConfig),
    Nce {
        ratio: usize,
        noise: NoiseDist,
        log_z: Tensor,
    },
}

/// A density, its objective and its data, as a [`TrainStep`]; the buffer and the probe's
/// noise are drawn in [`TrainStep::begin`], after seeding.
///
/// The probe's samples are the last batch's negatives for contrastive divergence (the
/// samples training sees) and, for the other objectives, which do not sample, short-run
/// chains of the model's Langevin sampler (`model.langevin`) from the probe's noise.
struct DensityStep<'a> {
    net: &'a DensityNet,
    objective: Objective,
    y: Tensor,
    probe_data: Tensor,
    probe_n: i64,
    buffer: Option<ReplayBuffer>,
    probe_noise: Option<Tensor>,
    /// Contrastive divergence: the negatives of the last batch.
    negatives: Option<Tensor>,
}

/// `y` plus fresh N(0, σ²) noise, or `y` itself when σ = 0 (no draw).
fn perturbed(y: Tensor, sigma: f64) -> Result<Tensor> {
    if sigma == 0.0 {
        return Ok(y);
    }
    Ok(y.f_add(&y.f_randn_like()?.f_mul_scalar(sigma)?)?)
}

impl TrainStep for DensityStep<'_> {
    fn var_store(&self) -> &nn::VarStore {
        &self.net.vs
    }

    fn divergence_hint(&self) -> String {
        ", or the Langevin step of the negatives (model.langevin.step: step_size, or epsilon and beta), or a zero loss.l2_weight that lets energies grow without bound".into()
    }

    fn rows(&self) -> i64 {
        self.y.size()[0]
    }

    fn begin(&mut self) -> Result<()> {
        let net = self.net;
        if matches!(self.objective, Objective::Cd(_)) {
            self.buffer = Some(ReplayBuffer::new(
                &net.replay,
                net.langevin.clone(),
                &[net.dim],
                (Kind::Float, net.vs.device()),
            )?);
        }
        self.probe_noise = Some(net.noise(self.probe_n.max(64))?);
        Ok(())
    }

    fn batch_loss(&mut self, indices: &Tensor) -> Result<Tensor> {
        let net = self.net;
        let yb = self.y.f_index_select(0, indices)?;
        let n = yb.size()[0];
        let x = net.no_x(n)?;
        match &self.objective {
            Objective::Cd(cd) => {
                let buffer = self.buffer.as_mut().ok_or_else(not_begun)?;
                let negatives = buffer.sample(&net.energy, &x)?;
                let loss = cd.loss(&net.energy, &x, &yb, &negatives)?.loss;
                self.negatives = Some(negatives);
                Ok(loss)
            }
            Objective::Exact(sigma) => score_matching(&net.energy, &x, &perturbed(yb, *sigma)?),
            Objective::Denoising(sigma) => {
                let noise = yb.f_randn_like()?.f_mul_scalar(*sigma)?;
                denoising_score_matching(&net.energy, &x, &yb, &noise, *sigma)
            }
            Objective::Sliced(c) => {
                let k = c.projections as i64;
                let repeated = perturbed(yb, c.sigma)?.f_repeat([k, 1])?;
                let v = match c.distribution {
                    Projection::Gaussian => repeated.f_randn_like()?,
                    Projection::Rademacher => repeated
                        .f_rand_like()?
                        .f_gt(0.5)?
                        .f_to_kind(repeated.kind())?
                        .f_mul_scalar(2.0)?
                        .f_sub_scalar(1.0)?,
                };
                let xr = net.no_x(n * k)?;
                sliced_score_matching(&net.energy, &xr, &repeated, &v, c.variance_reduced)
            }
            Objective::Nce {
                ratio,
                noise,
                log_z,
            } => {
                let m = n * *ratio as i64;
                let points = noise.draw(m, net.dim, net.vs.device())?;
                nce_loss(
                    &net.energy,
                    &x,
                    &yb,
                    &noise.log_density(&yb)?,
                    &net.no_x(m)?,
                    &points,
                    &noise.log_density(&points)?,
                    log_z,
                    *ratio,
                )
            }
        }
    }

    fn probe(&self) -> Result<Probe> {
        let noise = self.probe_noise.as_ref().ok_or_else(not_begun)?;
        let samples = match (&self.objective, &self.negatives) {
            (Objective::Cd(_), Some(negatives)) => negatives.shallow_clone(),
            // Before the first batch, or an objective that does not sample.
            _ => self.net.sample(noise, self.net.langevin.config().steps)?,
        };
        self.net.probe(&self.probe_data, noise, &samples)
    }
}

fn not_begun() -> EbmError {
    EbmError::Shape {
        what: "density training".into(),
        expected: "TrainStep::begin to have run".into(),
        got: vec![],
    }
}
