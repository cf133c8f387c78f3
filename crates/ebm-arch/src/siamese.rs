//! [`Siamese`]: an encoder of noisy views (a joint-embedding architecture); the energy of a
//! pair of views is a distance between their embeddings. Trained through [`crate::learner`]
//! with NT-Xent (contrastive, in-batch negatives), VICReg or Barlow Twins (non-contrastive),
//! from `ebm-contrastive`.

use crate::learner::{
    mean, scalar, train_from, EpochRecord, History, Probe, TrainConfig, TrainStep,
};
use crate::mlp::{Mlp, MlpConfig};
use crate::optim::OptimizerState;
use ebm_contrastive::{normalize, Distance, ObjectiveConfig};
use ebm_core::{EbmError, Result};
use serde::{Deserialize, Serialize};
use tch::nn::{self, Module};
use tch::{Device, Kind, Tensor};

/// `model = { kind = "siamese", … }`: the encoder, the embedding width, the views and the
/// distance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SiameseConfig {
    /// The encoder: view → embedding.
    pub encoder: MlpConfig,
    /// Width of the embedding.
    pub embed: i64,
    /// How a view of a data point is made.
    pub views: ViewsConfig,
    /// The energy between embeddings used in evaluation (positive/negative pairs, nearest
    /// neighbours): cosine (default), dot or Lp.
    pub distance: Distance,
}

impl Default for SiameseConfig {
    fn default() -> Self {
        SiameseConfig {
            encoder: MlpConfig::default(),
            embed: 16,
            views: ViewsConfig::default(),
            distance: Distance::default(),
        }
    }
}

impl SiameseConfig {
    /// Checks every value; errors name the key (`embed`, `views.jitter`, `encoder.hidden`).
    pub fn check(&self) -> Result<()> {
        self.encoder.check().map_err(|e| e.within("encoder"))?;
        if self.embed < 1 {
            return Err(EbmError::hyperparameter(
                "embed",
                "must be >= 1",
                self.embed,
            ));
        }
        self.views.check().map_err(|e| e.within("views"))?;
        self.distance.check().map_err(|e| e.within("distance"))
    }
}

/// A view of x: `x + jitter·ε` next to `nuisance` coordinates of fresh N(0, nuisance_std²)
/// noise, so that two views of a point share only the signal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ViewsConfig {
    /// Standard deviation of the jitter on x, ≥ 0.
    pub jitter: f64,
    /// Number of noise coordinates appended, ≥ 0.
    pub nuisance: usize,
    /// Their standard deviation, ≥ 0.
    pub nuisance_std: f64,
}

impl Default for ViewsConfig {
    fn default() -> Self {
        ViewsConfig {
            jitter: 0.05,
            nuisance: 32,
            nuisance_std: 1.0,
        }
    }
}

impl ViewsConfig {
    /// Checks `jitter` and `nuisance_std` are finite and ≥ 0, and `nuisance` fits an i64.
    pub fn check(&self) -> Result<()> {
        for (name, v) in [("jitter", self.jitter), ("nuisance_std", self.nuisance_std)] {
            ebm_core::check::check_non_negative(name, v)?;
        }
        if i64::try_from(self.nuisance).is_err() {
            return Err(EbmError::hyperparameter(
                "nuisance",
                "must fit in an i64",
                self.nuisance,
            ));
        }
        Ok(())
    }
}

/// Mean of the off-diagonal entries of a square table (NaN below 2 × 2).
fn off_diagonal_mean(table: &Tensor) -> Result<f64> {
    let n = table.size()[0];
    if n < 2 {
        return Ok(f64::NAN);
    }
    let total = scalar(&table.f_sum(Kind::Double)?)?;
    let diagonal = scalar(&table.f_diagonal(0, 0, 1)?.f_sum(Kind::Double)?)?;
    Ok((total - diagonal) / (n * n - n) as f64)
}

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
    fn new(objective: &ObjectiveConfig) -> Result<Objective> {
        Ok(match objective {
            ObjectiveConfig::NtXent(c) => Objective::NtXent(c.check()?),
            ObjectiveConfig::Vicreg(c) => Objective::VicReg(c.check()?),
            ObjectiveConfig::BarlowTwins(c) => Objective::BarlowTwins(c.check()?),
            ObjectiveConfig::ContrastiveDivergence(_)
            | ObjectiveConfig::ScoreMatching(_)
            | ObjectiveConfig::DenoisingScoreMatching(_)
            | ObjectiveConfig::SlicedScoreMatching(_)
            | ObjectiveConfig::Nce(_) => {
                return Err(EbmError::hyperparameter(
                    "kind",
                    "must be nt_xent, vicreg or barlow_twins for a siamese encoder \
                     (this objective trains a density)",
                    objective.kind_name(),
                ))
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
    /// An encoder for data with `x_dim` inputs (the config is checked first).
    pub fn new(x_dim: i64, config: &SiameseConfig, device: Device) -> Result<Siamese> {
        config.check()?;
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

    /// The parameters, mutably (to load a checkpoint).
    pub fn var_store_mut(&mut self) -> &mut nn::VarStore {
        &mut self.vs
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
    fn probe(&self, x: &Tensor) -> Result<Probe> {
        let _guard = tch::no_grad_guard();
        let z1 = self.embed(&self.view(x)?);
        let z2 = self.embed(&self.view(x)?);
        let (positive, negative) = self.pair_energies(&z1, &z2)?;
        let z = normalize(&Tensor::f_cat(&[&z1, &z2], 0)?, 1e-8)?;
        let spread_std = mean(&z.f_std_dim([0i64].as_slice(), false, false)?)?;
        let spread_range = mean(&z.f_amax(0, false)?.f_sub(&z.f_amin(0, false)?)?)?;
        Ok(Probe {
            gap: negative - positive,
            spread_std,
            spread_range,
            samples: None,
        })
    }

    /// Mean energy of the positive pairs (row i of both) and of the negative pairs (rows i ≠ j).
    fn pair_energies(&self, z1: &Tensor, z2: &Tensor) -> Result<(f64, f64)> {
        let positive = mean(&self.distance.paired(z1, z2)?)?;
        let negative = off_diagonal_mean(&self.distance.pairwise(z1, z2)?)?;
        Ok((positive, negative))
    }

    /// Trains on the rows of `x` (at least 2) with the NT-Xent, VICReg or Barlow Twins loss;
    /// batches of one row (the last of an epoch) are skipped: they have no pair.
    pub fn fit(
        &self,
        objective: &ObjectiveConfig,
        x: &Tensor,
        config: &TrainConfig,
        seed: u64,
        on_epoch: impl FnMut(&EpochRecord),
    ) -> Result<History> {
        Ok(self.fit_from(objective, x, config, seed, None, on_epoch)?.0)
    }

    /// [`Siamese::fit`] with the optimiser started from a saved state (`None`: fresh),
    /// returning its final state too (a resumed run).
    pub fn fit_from(
        &self,
        objective: &ObjectiveConfig,
        x: &Tensor,
        config: &TrainConfig,
        seed: u64,
        start: Option<&OptimizerState>,
        on_epoch: impl FnMut(&EpochRecord),
    ) -> Result<(History, OptimizerState)> {
        let objective = Objective::new(objective)?;
        let n = x.size()[0];
        let probe_x = x.f_narrow(0, 0, (config.probe_size as i64).min(n).max(2).min(n))?;
        let mut step = SiameseStep {
            net: self,
            objective,
            x: x.shallow_clone(),
            probe_x,
        };
        train_from(&mut step, config, seed, start, on_epoch)
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

/// A siamese encoder, its objective and its data, as a [`TrainStep`].
struct SiameseStep<'a> {
    net: &'a Siamese,
    objective: Objective,
    x: Tensor,
    probe_x: Tensor,
}

impl TrainStep for SiameseStep<'_> {
    fn var_store(&self) -> &nn::VarStore {
        &self.net.vs
    }

    fn divergence_hint(&self) -> String {
        ", or the objective's scale (loss.temperature of nt_xent, the weights of vicreg, loss.lambda of barlow_twins)".into()
    }

    fn rows(&self) -> i64 {
        self.x.size()[0]
    }

    fn min_batch(&self) -> i64 {
        2 // a lone row has no pair and no statistics
    }

    fn batch_loss(&mut self, indices: &Tensor) -> Result<Tensor> {
        let xb = self.x.f_index_select(0, indices)?;
        let z1 = self.net.embed(&self.net.view(&xb)?);
        let z2 = self.net.embed(&self.net.view(&xb)?);
        self.objective.loss(&z1, &z2)
    }

    fn probe(&self) -> Result<Probe> {
        self.net.probe(&self.probe_x)
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
