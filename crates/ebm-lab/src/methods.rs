//! The two model kinds that `ebm-arch`'s trainer does not cover, built from its networks and
//! `ebm-contrastive`'s objectives:
//!
//! - [`Siamese`]: an encoder of noisy views; the energy of a pair is a distance between
//!   embeddings. Trained with NT-Xent (contrastive, in-batch negatives), VICReg or Barlow
//!   Twins (non-contrastive).
//! - [`DensityNet`]: an energy E(y) over data points, trained by contrastive divergence with
//!   Langevin negatives from a replay buffer.
//!
//! Both record the same per-epoch [`EpochRecord`]s as the architectures: the loss, an energy
//! gap (negative pairs minus positive pairs; noise minus data) and a spread (of normalised
//! embeddings; of the energy over noise points) whose fall to ~0 means collapse.

use crate::config::{DensityModel, MethodLoss, SiameseModel, TrainSection, ViewsConfig};
use ebm_arch::{EpochRecord, History, Mlp};
use ebm_contrastive::{normalize, ContrastiveDivergence, Distance, ReplayBuffer};
use ebm_core::{EbmError, Energy, Langevin, Result};
use tch::nn::{self, Module};
use tch::{Device, Kind, Tensor};

fn scalar(t: &Tensor) -> Result<f64> {
    Ok(f64::try_from(t.f_to_kind(Kind::Double)?)?)
}

fn mean(t: &Tensor) -> Result<f64> {
    scalar(&t.f_mean(Kind::Double)?)
}

/// Mean of the off-diagonal entries of a square table.
fn off_diagonal_mean(table: &Tensor) -> Result<f64> {
    let n = table.size()[0];
    if n < 2 {
        return Ok(f64::NAN);
    }
    let total = scalar(&table.f_sum(Kind::Double)?)?;
    let diagonal = scalar(&table.f_diagonal(0, 0, 1)?.f_sum(Kind::Double)?)?;
    Ok((total - diagonal) / (n * n - n) as f64)
}

fn check_finite_loss(loss: f64, epoch: usize) -> Result<()> {
    if loss.is_finite() {
        Ok(())
    } else {
        Err(EbmError::NonFinite {
            what: format!("the training loss at epoch {epoch}"),
            kind: "NaN or infinite values",
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Siamese encoder.

/// An encoder of views `[B, x_dim + nuisance] → [B, embed]`.
#[derive(Debug)]
pub struct Siamese {
    vs: nn::VarStore,
    encoder: Mlp,
    views: ViewsConfig,
    distance: Distance,
}

/// The loss of two batches of embeddings.
enum Objective {
    NtXent(ebm_contrastive::NtXent),
    VicReg(ebm_contrastive::VicReg),
    BarlowTwins(ebm_contrastive::BarlowTwins),
}

impl Objective {
    fn new(loss: &MethodLoss) -> Result<Objective> {
        Ok(match loss {
            MethodLoss::NtXent(c) => Objective::NtXent(c.check()?),
            MethodLoss::Vicreg(c) => Objective::VicReg(c.check()?),
            MethodLoss::BarlowTwins(c) => Objective::BarlowTwins(c.check()?),
            MethodLoss::ContrastiveDivergence(_) => {
                return Err(EbmError::Hyperparameter {
                    name: "loss.kind",
                    reason: "contrastive_divergence trains a density model, not a siamese encoder",
                    value: "contrastive_divergence".into(),
                })
            }
        })
    }

    fn loss(&self, z1: &Tensor, z2: &Tensor) -> Result<Tensor> {
        match self {
            Objective::NtXent(l) => l.loss(z1, z2),
            Objective::VicReg(l) => Ok(l.loss(z1, z2)?.loss),
            Objective::BarlowTwins(l) => Ok(l.loss(z1, z2)?.loss),
        }
    }
}

impl Siamese {
    /// An encoder for data with `x_dim` inputs.
    pub fn new(x_dim: i64, config: &SiameseModel, device: Device) -> Result<Siamese> {
        let vs = nn::VarStore::new(device);
        let in_dim = x_dim + config.views.nuisance as i64;
        let encoder = Mlp::new(
            &(vs.root() / "encoder"),
            in_dim,
            config.embed,
            &config.encoder,
        )?;
        Ok(Siamese {
            vs,
            encoder,
            views: config.views.clone(),
            distance: config.distance,
        })
    }

    /// The parameters.
    pub fn var_store(&self) -> &nn::VarStore {
        &self.vs
    }

    /// A random view of each row of `x`: jittered, with fresh nuisance coordinates.
    pub fn view(&self, x: &Tensor) -> Result<Tensor> {
        let signal = x.f_add(&x.f_randn_like()?.f_mul_scalar(self.views.jitter)?)?;
        if self.views.nuisance == 0 {
            return Ok(signal);
        }
        let n = x.size()[0];
        let noise = Tensor::f_randn([n, self.views.nuisance as i64], (x.kind(), x.device()))?
            .f_mul_scalar(self.views.nuisance_std)?;
        Ok(Tensor::f_cat(&[signal, noise], 1)?)
    }

    /// The embeddings of views.
    pub fn embed(&self, views: &Tensor) -> Tensor {
        self.encoder.forward(views)
    }

    /// Gap (mean energy of negative pairs − positive pairs) and the spread of the normalised
    /// embeddings (mean per-dimension std and range), on two fresh views of `x`.
    fn probe(&self, x: &Tensor) -> Result<(f64, f64, f64)> {
        let _guard = tch::no_grad_guard();
        let z1 = self.embed(&self.view(x)?);
        let z2 = self.embed(&self.view(x)?);
        let (positive, negative) = self.pair_energies(&z1, &z2)?;
        let z = normalize(&Tensor::f_cat(&[&z1, &z2], 0)?, 1e-8)?;
        let std = mean(&z.f_std_dim([0i64].as_slice(), false, false)?)?;
        let range = mean(&z.f_amax(0, false)?.f_sub(&z.f_amin(0, false)?)?)?;
        Ok((negative - positive, std, range))
    }

    /// Mean energy of the positive pairs (row i of both) and of the negative pairs (rows i ≠ j).
    fn pair_energies(&self, z1: &Tensor, z2: &Tensor) -> Result<(f64, f64)> {
        let positive = mean(&self.distance.paired(z1, z2)?)?;
        let negative = off_diagonal_mean(&self.distance.pairwise(z1, z2)?)?;
        Ok((positive, negative))
    }

    /// Trains on the rows of `x` with the NT-Xent, VICReg or Barlow Twins loss.
    pub fn fit(
        &self,
        loss: &MethodLoss,
        x: &Tensor,
        train: &TrainSection,
        seed: u64,
        mut on_epoch: impl FnMut(&EpochRecord),
    ) -> Result<History> {
        let objective = Objective::new(loss)?;
        let n = x.size()[0];
        if n < 2 {
            return Err(EbmError::Shape {
                what: "training data of a siamese model".into(),
                expected: "at least 2 rows".into(),
                got: x.size(),
            });
        }
        tch::manual_seed(seed as i64);
        let mut opt = train.optimizer.build(&self.vs)?;
        let probe_x = x.narrow(0, 0, (train.probe_size as i64).min(n).max(2));
        let (_, initial_spread_std, _) = self.probe(&probe_x)?;
        let mut history = History {
            epochs: Vec::with_capacity(train.epochs),
            initial_spread_std,
        };
        let batch = train.batch_size as i64;
        for epoch in 1..=train.epochs {
            let order = Tensor::f_randperm(n, (Kind::Int64, x.device()))?;
            let (mut total, mut batches) = (0.0, 0);
            for start in (0..n).step_by(batch as usize) {
                let len = batch.min(n - start);
                if len < 2 {
                    continue; // a lone row has no pair and no statistics
                }
                let xb = x.f_index_select(0, &order.f_narrow(0, start, len)?)?;
                let z1 = self.embed(&self.view(&xb)?);
                let z2 = self.embed(&self.view(&xb)?);
                let value = objective.loss(&z1, &z2)?;
                opt.zero_grad();
                value.backward();
                opt.step();
                total += scalar(&value.detach())?;
                batches += 1;
            }
            let loss = total / batches.max(1) as f64;
            check_finite_loss(loss, epoch)?;
            let (gap, spread_std, spread_range) = self.probe(&probe_x)?;
            let record = EpochRecord {
                epoch,
                loss,
                gap,
                spread_std,
                spread_range,
            };
            on_epoch(&record);
            history.epochs.push(record);
        }
        Ok(history)
    }

    /// Evaluation on held-out rows `queries` (labels `query_labels`) against the training rows
    /// `reference` (labels `reference_labels`): positive and negative pair energies, and the
    /// 1-nearest-neighbour label accuracy of embedded views and, as a baseline, of raw views.
    pub fn evaluate(
        &self,
        reference: &Tensor,
        reference_labels: &Tensor,
        queries: &Tensor,
        query_labels: &Tensor,
    ) -> Result<SiameseScores> {
        let _guard = tch::no_grad_guard();
        let (ref_views, query_views) = (self.view(reference)?, self.view(queries)?);
        let nn_accuracy = |r: &Tensor, q: &Tensor| -> Result<f64> {
            let nearest = self.distance.pairwise(q, r)?.f_argmin(1, false)?;
            let predicted = reference_labels.f_index_select(0, &nearest)?;
            mean(&predicted.f_eq_tensor(query_labels)?)
        };
        let raw_nn_accuracy = nn_accuracy(&ref_views, &query_views)?;
        let nn_accuracy = nn_accuracy(&self.embed(&ref_views), &self.embed(&query_views))?;
        let z1 = self.embed(&self.view(queries)?);
        let z2 = self.embed(&self.view(queries)?);
        let (positive_energy, negative_energy) = self.pair_energies(&z1, &z2)?;
        Ok(SiameseScores {
            nn_accuracy,
            raw_nn_accuracy,
            positive_energy,
            negative_energy,
        })
    }
}

/// What [`Siamese::evaluate`] measures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SiameseScores {
    /// 1-NN label accuracy of the embedded views.
    pub nn_accuracy: f64,
    /// 1-NN label accuracy of the raw views (the baseline the encoder must beat).
    pub raw_nn_accuracy: f64,
    /// Mean energy of two views of the same point.
    pub positive_energy: f64,
    /// Mean energy of views of different points.
    pub negative_energy: f64,
}

// ---------------------------------------------------------------------------------------------
// Density.

/// E(y) = MLP(y), unconditional: x is `[B, 0]`.
#[derive(Debug)]
pub struct DensityEnergy {
    net: Mlp,
}

impl Energy for DensityEnergy {
    fn energy(&self, _x: &Tensor, y: &Tensor) -> Result<Tensor> {
        Ok(self.net.forward(y).f_squeeze_dim(1)?)
    }
}

/// An energy density over `dim`-dimensional points.
#[derive(Debug)]
pub struct DensityNet {
    vs: nn::VarStore,
    energy: DensityEnergy,
    config: DensityModel,
    dim: i64,
}

impl DensityNet {
    /// E: `dim → 1`.
    pub fn new(dim: i64, config: &DensityModel, device: Device) -> Result<DensityNet> {
        let vs = nn::VarStore::new(device);
        let net = Mlp::new(&(vs.root() / "energy"), dim, 1, &config.energy)?;
        Ok(DensityNet {
            vs,
            energy: DensityEnergy { net },
            config: config.clone(),
            dim,
        })
    }

    /// The parameters.
    pub fn var_store(&self) -> &nn::VarStore {
        &self.vs
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
        self.config
            .replay
            .init
            .draw(&[n, self.dim], (Kind::Float, self.vs.device()))
    }

    /// Langevin chains of `steps` steps from `start`.
    pub fn sample(&self, start: &Tensor, steps: usize) -> Result<Tensor> {
        let long = Langevin {
            steps,
            ..self.config.langevin.clone()
        };
        long.sample(&self.energy, &self.no_x(start.size()[0])?, start)
    }

    /// Gap (mean E of noise − mean E of data) and the spread of E over the noise points.
    fn probe(&self, data: &Tensor, noise: &Tensor) -> Result<(f64, f64, f64)> {
        let on_noise = self.energies(noise)?;
        let gap = mean(&on_noise)? - mean(&self.energies(data)?)?;
        let std = scalar(&on_noise.f_std(false)?)?;
        let range = scalar(&on_noise.f_max()?.f_sub(&on_noise.f_min()?)?)?;
        Ok((gap, std, range))
    }

    /// Trains on the points `y [N, dim]` by contrastive divergence against replay-buffer
    /// Langevin samples.
    pub fn fit(
        &self,
        loss: &MethodLoss,
        y: &Tensor,
        train: &TrainSection,
        seed: u64,
        mut on_epoch: impl FnMut(&EpochRecord),
    ) -> Result<History> {
        let MethodLoss::ContrastiveDivergence(cd) = loss else {
            return Err(EbmError::Hyperparameter {
                name: "loss.kind",
                reason: "a density model trains with contrastive_divergence",
                value: format!("{loss:?}"),
            });
        };
        let cd: ContrastiveDivergence = cd.check()?;
        let n = y.size()[0];
        if n < 1 {
            return Err(EbmError::Shape {
                what: "training data of a density model".into(),
                expected: "at least 1 row".into(),
                got: y.size(),
            });
        }
        tch::manual_seed(seed as i64);
        let mut opt = train.optimizer.build(&self.vs)?;
        let mut buffer = ReplayBuffer::new(
            &self.config.replay,
            self.config.langevin.clone(),
            &[self.dim],
            (Kind::Float, self.vs.device()),
        )?;
        let probe_n = (train.probe_size as i64).min(n);
        let probe_data = y.narrow(0, 0, probe_n);
        let probe_noise = self.noise(probe_n.max(64))?;
        let (_, initial_spread_std, _) = self.probe(&probe_data, &probe_noise)?;
        let mut history = History {
            epochs: Vec::with_capacity(train.epochs),
            initial_spread_std,
        };
        let batch = train.batch_size as i64;
        for epoch in 1..=train.epochs {
            let order = Tensor::f_randperm(n, (Kind::Int64, y.device()))?;
            let (mut total, mut batches) = (0.0, 0);
            for start in (0..n).step_by(batch as usize) {
                let len = batch.min(n - start);
                let yb = y.f_index_select(0, &order.f_narrow(0, start, len)?)?;
                let x = self.no_x(len)?;
                let negatives = buffer.sample(&self.energy, &x)?;
                let terms = cd.loss(&self.energy, &x, &yb, &negatives)?;
                opt.zero_grad();
                terms.loss.backward();
                opt.step();
                total += scalar(&terms.loss.detach())?;
                batches += 1;
            }
            let loss = total / batches.max(1) as f64;
            check_finite_loss(loss, epoch)?;
            let (gap, spread_std, spread_range) = self.probe(&probe_data, &probe_noise)?;
            let record = EpochRecord {
                epoch,
                loss,
                gap,
                spread_std,
                spread_range,
            };
            on_epoch(&record);
            history.epochs.push(record);
        }
        Ok(history)
    }
}

/// The mean over the rows of `points [S, d]` of the distance to the nearest row of `data [N, d]`.
pub fn mean_distance_to(points: &Tensor, data: &Tensor) -> Result<f64> {
    let _guard = tch::no_grad_guard();
    let d = Distance::EUCLIDEAN.pairwise(points, data)?;
    mean(&d.f_amin(1, false)?)
}
