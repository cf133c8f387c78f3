//! Negatives sampled from the model: a replay buffer of persistent Langevin chains
//! (ebm-core's sampler) and the contrastive-divergence loss.

use crate::check;
use ebm_core::check::{
    batch_size, check_count, check_non_negative, check_probability, ensure_same_batch,
};
use ebm_core::{EbmError, Energy, Langevin, Result};
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

/// The noise new chains start from.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum InitNoise {
    /// Independent uniform coordinates on [lo, hi].
    Uniform {
        /// Lower bound.
        lo: f64,
        /// Upper bound, > lo.
        hi: f64,
    },
    /// Independent normal coordinates N(mean, std²).
    Normal {
        /// Mean.
        mean: f64,
        /// Standard deviation ≥ 0.
        std: f64,
    },
}

impl InitNoise {
    /// Checks lo < hi (finite) or a finite mean and std ≥ 0; errors name the key as in a
    /// replay table (`init`, `init.mean`, `init.std`).
    pub fn check(&self) -> Result<()> {
        match *self {
            InitNoise::Uniform { lo, hi } => {
                if !(lo.is_finite() && hi.is_finite() && lo < hi) {
                    return Err(EbmError::Hyperparameter {
                        name: "init".into(),
                        reason: "uniform noise needs finite lo < hi",
                        value: format!("[{lo}, {hi}]"),
                    });
                }
            }
            InitNoise::Normal { mean, std } => {
                if !mean.is_finite() {
                    return Err(EbmError::Hyperparameter {
                        name: "init.mean".into(),
                        reason: "must be finite",
                        value: mean.to_string(),
                    });
                }
                check_non_negative("init.std", std)?;
            }
        }
        Ok(())
    }

    /// Fresh noise of `shape`.
    pub fn draw(&self, shape: &[i64], options: (Kind, Device)) -> Result<Tensor> {
        Ok(match *self {
            InitNoise::Uniform { lo, hi } => Tensor::f_rand(shape, options)?
                .f_mul_scalar(hi - lo)?
                .f_add_scalar(lo)?,
            InitNoise::Normal { mean, std } => Tensor::f_randn(shape, options)?
                .f_mul_scalar(std)?
                .f_add_scalar(mean)?,
        })
    }
}

/// Hyperparameters of a [`ReplayBuffer`], as written in a config
/// (`replay = { capacity = 2000, reinit_fraction = 0.05, init = { kind = "uniform", lo = -3.0,
/// hi = 3.0 } }`). [`ReplayBufferConfig::check`] checks them once and gives the
/// [`ReplayBufferParams`] a buffer is made from.
///
/// ```
/// use ebm_contrastive::ReplayBufferConfig;
/// let params = ReplayBufferConfig { capacity: 64, ..Default::default() }.check().unwrap();
/// assert_eq!(params.capacity(), 64);
/// let bad = ReplayBufferConfig { reinit_fraction: 2.0, ..Default::default() };
/// assert!(bad.check().unwrap_err().to_string().contains("reinit_fraction"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReplayBufferConfig {
    /// Number of persistent chains kept (default 10 000); must be ≥ the batch size drawn.
    pub capacity: usize,
    /// Probability in [0, 1] that a drawn chain restarts from fresh noise (default 0.05).
    pub reinit_fraction: f64,
    /// The noise chains start from (default uniform on [−1, 1]).
    pub init: InitNoise,
}

impl Default for ReplayBufferConfig {
    fn default() -> Self {
        ReplayBufferConfig {
            capacity: 10_000,
            reinit_fraction: 0.05,
            init: InitNoise::Uniform { lo: -1.0, hi: 1.0 },
        }
    }
}

impl ReplayBufferConfig {
    /// Checks capacity ≥ 1 (and that it fits in i64), reinit fraction in [0, 1] and the
    /// noise; errors name the key (`capacity`, `reinit_fraction`, `init.std`, …).
    pub fn check(&self) -> Result<ReplayBufferParams> {
        check_count("capacity", self.capacity)?;
        let capacity = i64::try_from(self.capacity)
            .map_err(|_| EbmError::hyperparameter("capacity", "must fit in i64", self.capacity))?;
        check_probability("reinit_fraction", self.reinit_fraction)?;
        self.init.check()?;
        Ok(ReplayBufferParams {
            capacity,
            reinit_fraction: self.reinit_fraction,
            init: self.init,
        })
    }
}

/// The checked hyperparameters of a [`ReplayBuffer`], made by [`ReplayBufferConfig::check`];
/// read them with the accessors.
///
/// ```compile_fail
/// // The fields are private: a buffer's settings cannot skip the check.
/// let params = ebm_contrastive::ReplayBufferParams {
///     capacity: 0,
///     reinit_fraction: 2.0,
///     init: ebm_contrastive::InitNoise::Uniform { lo: 1.0, hi: -1.0 },
/// };
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReplayBufferParams {
    capacity: i64,
    reinit_fraction: f64,
    init: InitNoise,
}

impl ReplayBufferParams {
    /// Number of persistent chains.
    pub fn capacity(&self) -> i64 {
        self.capacity
    }

    /// Probability that a drawn chain restarts from fresh noise.
    pub fn reinit_fraction(&self) -> f64 {
        self.reinit_fraction
    }

    /// The noise chains start from.
    pub fn init(&self) -> InitNoise {
        self.init
    }

    /// The config these were checked from.
    pub fn config(&self) -> ReplayBufferConfig {
        ReplayBufferConfig {
            capacity: self.capacity as usize,
            reinit_fraction: self.reinit_fraction,
            init: self.init,
        }
    }
}

/// Persistent Langevin chains for model-sampled negatives (Du and Mordatch 2019).
///
/// Each call to [`ReplayBuffer::sample`] draws B distinct chains, restarts each from fresh
/// noise with probability `reinit_fraction`, advances them with the [`Langevin`] sampler of
/// `ebm-core` against the current energy, writes them back and returns them (detached).
/// The chains hold answers y only; for a conditional energy they are paired with the rows of
/// the x given at sampling time. For an unconditional E(y), pass x = `[B, 0]`.
#[derive(Debug)]
pub struct ReplayBuffer {
    params: ReplayBufferParams,
    langevin: Langevin,
    chains: Tensor,
}

impl ReplayBuffer {
    /// A buffer of `params.capacity()` chains of shape `sample_shape` (one y, without the
    /// batch dimension), started from `params.init()` noise of the given kind and device. The
    /// settings and the sampler were checked when they were made
    /// ([`ReplayBufferConfig::check`], `LangevinConfig::check`).
    pub fn new(
        params: &ReplayBufferParams,
        langevin: Langevin,
        sample_shape: &[i64],
        options: (Kind, Device),
    ) -> Result<Self> {
        if sample_shape.iter().any(|&s| s < 1) {
            return Err(EbmError::Shape {
                what: "sample shape".into(),
                expected: "positive sizes".into(),
                got: sample_shape.to_vec(),
            });
        }
        let mut shape = vec![params.capacity];
        shape.extend_from_slice(sample_shape);
        let chains = params.init.draw(&shape, options)?;
        Ok(ReplayBuffer {
            params: *params,
            langevin,
            chains,
        })
    }

    /// The checked hyperparameters.
    pub fn params(&self) -> &ReplayBufferParams {
        &self.params
    }

    /// The sampler that advances the chains.
    pub fn langevin(&self) -> &Langevin {
        &self.langevin
    }

    /// Every chain's current state, `[capacity, ...]`.
    pub fn chains(&self) -> &Tensor {
        &self.chains
    }

    /// Fresh chain starts: `n` draws of the init noise, `[n, ...]`.
    pub fn fresh(&self, n: i64) -> Result<Tensor> {
        let mut shape = self.chains.size();
        shape[0] = n;
        self.params
            .init
            .draw(&shape, (self.chains.kind(), self.chains.device()))
    }

    /// Draws one negative per row of `x [B, ...]`: B distinct chains, advanced by Langevin
    /// on `energy` and written back. Returns `[B, ...]`, detached. Seed with
    /// `tch::manual_seed`.
    pub fn sample<E: Energy + ?Sized>(&mut self, energy: &E, x: &Tensor) -> Result<Tensor> {
        let b = batch_size(x, "x")?;
        let capacity = self.chains.size()[0];
        if b < 1 || b > capacity {
            return Err(EbmError::Hyperparameter {
                name: "capacity".into(),
                reason: "must be >= the batch size drawn (and the batch non-empty)",
                value: format!("capacity {capacity}, batch {b}"),
            });
        }
        let device = self.chains.device();
        let (index, start) = {
            let _guard = tch::no_grad_guard();
            let index = Tensor::f_randperm(capacity, (Kind::Int64, device))?.f_narrow(0, 0, b)?;
            let kept = self.chains.f_index_select(0, &index)?;
            let mut mask_shape = vec![1i64; kept.dim()];
            mask_shape[0] = b;
            let restart = Tensor::f_rand([b], (Kind::Float, device))?
                .f_lt(self.params.reinit_fraction)?
                .f_view(mask_shape.as_slice())?;
            let start = self.fresh(b)?.f_where_self(&restart, &kept)?;
            (index, start)
        };
        let x = x.f_to_device(device)?;
        let samples = self.langevin.sample(energy, &x, &start)?;
        let _guard = tch::no_grad_guard();
        let _ = self.chains.f_index_copy_(0, &index, &samples)?;
        Ok(samples)
    }
}

/// Hyperparameters of [`ContrastiveDivergence`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ContrastiveDivergenceConfig {
    /// Weight α ≥ 0 of the energy penalty mean E(pos)² + mean E(neg)² (default 0: off).
    pub l2_weight: f64,
}

impl Default for ContrastiveDivergenceConfig {
    fn default() -> Self {
        ContrastiveDivergenceConfig { l2_weight: 0.0 }
    }
}

impl ContrastiveDivergenceConfig {
    /// Checks α ≥ 0.
    pub fn check(&self) -> Result<ContrastiveDivergence> {
        Ok(ContrastiveDivergence {
            l2_weight: check_non_negative("l2_weight", self.l2_weight)?,
        })
    }
}

/// The contrastive-divergence terms, all scalars.
#[derive(Debug)]
pub struct CdTerms {
    /// contrastive + α·regulariser.
    pub loss: Tensor,
    /// mean E(pos) − mean E(neg).
    pub contrastive: Tensor,
    /// mean E(pos)² + mean E(neg)².
    pub regularizer: Tensor,
}

/// Contrastive divergence: lowers the energy of data and raises that of model samples,
/// mean E(pos) − mean E(neg) + α·(mean E(pos)² + mean E(neg)²). The negatives should come
/// detached from a sampler (e.g. [`ReplayBuffer::sample`]) so only the energy's weights get
/// gradients.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ContrastiveDivergence {
    l2_weight: f64,
}

impl ContrastiveDivergence {
    /// The terms from energies `positive [B]` and `negative [B']` (the sizes may differ).
    pub fn loss_from_energies(&self, positive: &Tensor, negative: &Tensor) -> Result<CdTerms> {
        for (t, what) in [
            (positive, "positive energies"),
            (negative, "negative energies"),
        ] {
            if check::vector(t, what)? == 0 {
                return Err(EbmError::Shape {
                    what: what.into(),
                    expected: "[B] with B >= 1".into(),
                    got: t.size(),
                });
            }
        }
        let mean = |t: &Tensor| t.f_mean(None::<Kind>);
        let contrastive = mean(positive)?.f_sub(&mean(negative)?)?;
        let regularizer = mean(&positive.f_square()?)?.f_add(&mean(&negative.f_square()?)?)?;
        let loss = contrastive.f_add(&regularizer.f_mul_scalar(self.l2_weight)?)?;
        Ok(CdTerms {
            loss,
            contrastive,
            regularizer,
        })
    }

    /// The terms for any energy: data `y_pos` and model samples `y_neg`, both paired with
    /// the rows of `x` (`[B, 0]` for an unconditional energy).
    pub fn loss<E: Energy + ?Sized>(
        &self,
        energy: &E,
        x: &Tensor,
        y_pos: &Tensor,
        y_neg: &Tensor,
    ) -> Result<CdTerms> {
        ensure_same_batch(x, "x", y_pos, "y_pos")?;
        ensure_same_batch(x, "x", y_neg, "y_neg")?;
        let positive = energy.energy(x, y_pos)?;
        let negative = energy.energy(x, &y_neg.f_detach()?)?;
        self.loss_from_energies(&positive, &negative)
    }
}
