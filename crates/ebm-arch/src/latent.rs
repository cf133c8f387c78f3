//! Architecture 5, latent variable: E(x, y, z) = ½‖G_W(x, z) − y‖², z never observed,
//! marginalised by `ebm-latent` (β = ∞: min over z; finite β: the soft-min F_β).

use crate::architecture::{
    check_continuous_targets, with_frozen_parameters, Answers, Architecture, ContinuousAnswers,
    Prediction, YRange,
};
use crate::mlp::{Mlp, MlpConfig};
use ebm_core::check::ensure_same_batch;
use ebm_core::{Energy, Minimizer, Minimum, Result, Search};
use ebm_latent::{predictions_over_z, LatentConfig, LatentEnergy, Marginalized, YSpace};
use serde::{Deserialize, Serialize};
use tch::nn::{self, Module};
use tch::{Device, Kind, Tensor};

/// How z enters G(x, z).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Coupling {
    /// G(x, z) = G_x(x) + G_z(z): each z shifts the prediction. G_z starts near 0 (its last
    /// layer scaled by 0.1), so every z begins inside the data and wins some of it.
    #[default]
    Additive,
    /// G(x, z) = G([x, z]), one network on the concatenation: more expressive, but under a
    /// hard min the shared weights can drag a losing z out of the data ("dead" components).
    Concat,
}

/// The network part: E(x, y, z) = ½‖G(x, z) − y‖².
#[derive(Debug)]
pub struct LatentRegressionEnergy {
    g: Mlp,
    g_z: Option<Mlp>,
    x_dim: i64,
    y_dim: i64,
    z_dim: i64,
}

impl LatentRegressionEnergy {
    /// G(x, z), `[B, y_dim]`.
    pub fn predict(&self, x: &Tensor, z: &Tensor) -> Result<Tensor> {
        let z = z.f_to_kind(x.kind())?;
        Ok(match &self.g_z {
            Some(g_z) => self.g.forward(x).f_add(&g_z.forward(&z))?,
            None => self.g.forward(&Tensor::f_cat(&[x, &z], 1)?),
        })
    }
}

impl LatentEnergy for LatentRegressionEnergy {
    fn latent_energy(&self, x: &Tensor, y: &Tensor, z: &Tensor) -> Result<Tensor> {
        ensure_same_batch(x, "x", y, "y")?;
        ensure_same_batch(x, "x", z, "z")?;
        Ok(self
            .predict(x, z)?
            .f_sub(y)?
            .f_square()?
            .f_sum_dim_intlist(1, false, y.kind())?
            .f_mul_scalar(0.5)?)
    }

    fn z_dim(&self) -> Option<i64> {
        Some(self.z_dim)
    }
}

/// Architecture 5: a regression with a latent z. Its energy of (x, y) is the marginal F_β.
#[derive(Debug)]
pub struct LatentModel {
    vs: nn::VarStore,
    marginal: Marginalized<LatentRegressionEnergy>,
    answers: Answers,
}

impl LatentModel {
    /// G from `coupling` (G_x: `x_dim → y_dim` and G_z: `z_dim → y_dim` with `g_z`'s layers,
    /// or one G: `x_dim + z_dim → y_dim`), z, β and the penalty from `latent` (checked
    /// here); `search` comes from `SearchConfig::check`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        x_dim: i64,
        y_dim: i64,
        g: &MlpConfig,
        coupling: Coupling,
        g_z: &MlpConfig,
        latent: &LatentConfig,
        range: &YRange,
        search: impl Into<Search>,
        device: Device,
    ) -> Result<Self> {
        latent.check()?;
        let penalty = latent.penalty.check().map_err(|e| e.within("penalty"))?;
        let z_space = latent.z.build(Kind::Float, device)?;
        let z_dim = z_space.dim()?;
        let vs = nn::VarStore::new(device);
        let (net, net_z) = match coupling {
            Coupling::Additive => {
                let mut shift = Mlp::new(&(vs.root() / "g_z"), z_dim, y_dim, g_z)?;
                // Start every z's shift near 0, inside the data: a z that starts far from
                // every y never wins the min over z and never trains.
                shift.scale_output_layer(0.1);
                (Mlp::new(&(vs.root() / "g"), x_dim, y_dim, g)?, Some(shift))
            }
            Coupling::Concat => (Mlp::new(&(vs.root() / "g"), x_dim + z_dim, y_dim, g)?, None),
        };
        let energy = LatentRegressionEnergy {
            g: net,
            g_z: net_z,
            x_dim,
            y_dim,
            z_dim,
        };
        let marginal = Marginalized::new(energy, z_space, latent.beta, penalty)?;
        let answers = Answers::Continuous(Box::new(
            ContinuousAnswers::new(y_dim, range, search)?.to_device(device),
        ));
        Ok(LatentModel {
            vs,
            marginal,
            answers,
        })
    }

    /// The marginalised energy (its z space, β and penalty).
    pub fn marginal(&self) -> &Marginalized<LatentRegressionEnergy> {
        &self.marginal
    }

    fn continuous(&self) -> &ContinuousAnswers {
        match &self.answers {
            Answers::Continuous(c) => c,
            Answers::Finite(_) => unreachable!("latent answers are continuous"),
        }
    }

    /// [`Architecture::predict`] once the parameters are frozen.
    fn predict_frozen(&self, x: &Tensor) -> Result<Prediction> {
        let c = self.continuous();
        if self.marginal.z.cardinality().is_none() {
            let found = c.search.minimize(self, x, &c.space)?;
            return Ok(Prediction::Continuous {
                y: found.best_y,
                minima: found.distinct,
            });
        }
        let set = predictions_over_z(
            &self.marginal.energy,
            x,
            YSpace::Continuous {
                space: &c.space,
                gd: &c.descent,
            },
            &self.marginal.z,
            &self.marginal.penalty,
        )?;
        let _guard = tch::no_grad_guard();
        let dims = set.y.size();
        let (b, k, d) = (dims[0], dims[1], self.marginal.energy.y_dim);
        let (_, best) = set.energy.f_min_dim(1, false)?;
        let y = set
            .y
            .f_gather(
                1,
                &best.f_view([b, 1, 1])?.f_expand([b, 1, d], false)?,
                false,
            )?
            .f_squeeze_dim(1)?;
        let ys: Vec<f64> = Vec::try_from(set.y.f_to_kind(Kind::Double)?.f_flatten(0, -1)?)?;
        let es: Vec<f64> = Vec::try_from(set.energy.f_to_kind(Kind::Double)?.f_flatten(0, -1)?)?;
        let (k, d) = (k as usize, d as usize);
        let minima = (0..b as usize)
            .map(|row| {
                let mut found: Vec<Minimum> = (0..k)
                    .map(|j| Minimum {
                        y: ys[(row * k + j) * d..(row * k + j + 1) * d].to_vec(),
                        energy: es[row * k + j],
                    })
                    .collect();
                found.sort_by(|a, b| a.energy.total_cmp(&b.energy));
                found
            })
            .collect();
        Ok(Prediction::Continuous { y, minima })
    }
}

impl Energy for LatentModel {
    fn energy(&self, x: &Tensor, y: &Tensor) -> Result<Tensor> {
        self.marginal.energy(x, y)
    }
    fn candidate_energies(&self, x: &Tensor, ys: &Tensor) -> Result<Tensor> {
        self.marginal.candidate_energies(x, ys)
    }
    fn row_candidate_energies(&self, x: &Tensor, ys: &Tensor) -> Result<Tensor> {
        self.marginal.row_candidate_energies(x, ys)
    }
}

impl Architecture for LatentModel {
    fn name(&self) -> &'static str {
        "latent"
    }
    fn var_store(&self) -> &nn::VarStore {
        &self.vs
    }
    fn var_store_mut(&mut self) -> &mut nn::VarStore {
        &mut self.vs
    }
    fn x_dim(&self) -> i64 {
        self.marginal.energy.x_dim
    }
    fn answers(&self) -> &Answers {
        &self.answers
    }

    /// With points of z to range over (finite, grid, Monte Carlo): the prediction set
    /// {ŷ(z)}, sorted by energy, ŷ the best of them. With a continuous z: gradient descent on
    /// the marginal energy min_z E, with restarts.
    fn predict(&self, x: &Tensor) -> Result<Prediction> {
        let x = &self.model_inputs(x)?;
        with_frozen_parameters(&self.vs, || self.predict_frozen(x))
    }

    fn check_targets(&self, y: &Tensor) -> Result<()> {
        check_continuous_targets(y, self.marginal.energy.y_dim, self.name())
    }
}
