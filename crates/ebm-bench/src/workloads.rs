//! The Rust side of every benchmark case, written with the project's own code paths:
//! `ebm-arch` models and trainer pieces, `ebm-loss`'s hinge, `ebm-core`'s gradient descent,
//! Langevin, MALA and HMC samplers and exhaustive inference, and `ebm-contrastive`'s NT-Xent.

use crate::spec::{Spec, Timing};
use crate::weights;
use anyhow::{bail, Result};
use ebm_arch::{
    train_step, with_frozen_parameters, Activation, Architecture, DensityConfig, DensityNet,
    ImplicitRegression, MlpConfig, MultiClass, OptimizerConfig, Prediction, YRange,
};
use ebm_contrastive::{NtXent, NtXentConfig};
use ebm_core::{
    exhaustive_argmin, DfoConfig, FiniteSpace, GradientDescentConfig, Hmc, HmcConfig, Langevin,
    LangevinConfig, LangevinStep, Mala, MalaConfig, Sampler, Search,
};
use ebm_loss::Hinge;
use std::path::Path;
use std::time::Instant;
use tch::{Device, Kind, Tensor};

/// A benchmark computation, built once and run many times.
pub trait Workload {
    /// Runs one iteration and returns the number both languages must agree on (a scalar
    /// tensor, read back only at the end of a timed block).
    fn iterate(&mut self) -> Result<Tensor>;

    /// Runs `iters` iterations and times the block (the last check value is read back inside
    /// the timed block, which also waits for an accelerator).
    fn run(&mut self, iters: usize) -> Result<Timing> {
        if iters == 0 {
            bail!("a timed block needs at least one iteration");
        }
        let start = Instant::now();
        let mut last = self.iterate()?;
        for _ in 1..iters {
            last = self.iterate()?;
        }
        let check = f64::try_from(last.to_kind(Kind::Double))?;
        Ok(Timing {
            seconds: start.elapsed().as_secs_f64(),
            check,
        })
    }
}

/// Parses `cpu`, `cuda` or `cuda:N`.
pub fn parse_device(name: &str) -> Result<Device> {
    Ok(match name {
        "cpu" => Device::Cpu,
        "cuda" => Device::Cuda(0),
        other => match other.strip_prefix("cuda:").map(str::parse) {
            Some(Ok(i)) => Device::Cuda(i),
            _ => bail!("unknown device `{other}` (expected cpu, cuda or cuda:N)"),
        },
    })
}

fn mlp_config(hidden: &[i64]) -> MlpConfig {
    MlpConfig {
        hidden: hidden.to_vec(),
        ..MlpConfig::default()
    }
}

/// Builds the case: the model (seeded), its weights written into `dir` for the Python side,
/// and the inputs (seeded).
pub fn setup(spec: &Spec, dir: &Path, device: Device) -> Result<Box<dyn Workload>> {
    Ok(match spec {
        Spec::Train { .. } => Box::new(Train::new(spec, dir, device)?),
        Spec::Descent { .. } => Box::new(descent(spec, dir, device)?),
        Spec::Dfo { .. } => Box::new(dfo(spec, dir, device)?),
        Spec::Langevin { .. } => Box::new(Sampling::new(spec, dir, device)?),
        Spec::Mala { .. } | Spec::Hmc { .. } => Box::new(Metropolis::new(spec, dir, device)?),
        Spec::NtXent { .. } => Box::new(Contrastive::new(spec, device)?),
        Spec::Exhaustive { .. } => Box::new(Exhaustive::new(spec, dir, device)?),
    })
}

/// Multi-class training steps: `train_step` (E_C and the most offending class's E_I from
/// `batch_energies`, the hinge loss, backward, Adam), as `fit` runs them.
struct Train {
    model: MultiClass,
    loss: Hinge,
    optimizer: ebm_arch::Optimizer,
    batches: Vec<(Tensor, Tensor)>,
    next: usize,
}

impl Train {
    fn new(spec: &Spec, dir: &Path, device: Device) -> Result<Self> {
        let Spec::Train {
            batch,
            in_dim,
            hidden,
            classes,
            batches,
            margin,
            lr,
            seed,
        } = spec
        else {
            bail!("not a training spec")
        };
        tch::manual_seed(*seed);
        let model = MultiClass::new(*in_dim, *classes, &mlp_config(hidden), device)?;
        weights::save(model.var_store(), dir)?;
        let optimizer = OptimizerConfig::Adam {
            lr: *lr,
            weight_decay: 0.0,
        }
        .build(model.var_store())?;
        tch::manual_seed(seed + 1);
        let batches = (0..*batches)
            .map(|_| {
                let x = Tensor::randn([*batch, *in_dim], (Kind::Float, device));
                let y = Tensor::randint(*classes, [*batch], (Kind::Int64, device));
                (x, y)
            })
            .collect();
        Ok(Train {
            model,
            loss: Hinge::new(*margin)?,
            optimizer,
            batches,
            next: 0,
        })
    }
}

impl Workload for Train {
    fn iterate(&mut self) -> Result<Tensor> {
        let (x, y) = &self.batches[self.next];
        self.next = (self.next + 1) % self.batches.len();
        Ok(train_step(
            &self.model,
            &self.loss,
            &mut self.optimizer,
            x,
            y,
        )?)
    }
}

/// Implicit-regression inference by gradient descent: `predict`, which runs `ebm-core`'s
/// `GradientDescent` with restarts over the box and returns the best y and the set of minima.
fn descent(spec: &Spec, dir: &Path, device: Device) -> Result<Inference> {
    let Spec::Descent {
        batch,
        restarts,
        steps,
        hidden,
        embed,
        step_size,
        momentum,
        lo,
        hi,
        tolerance,
        seed,
    } = spec
    else {
        bail!("not a descent spec")
    };
    let search = GradientDescentConfig {
        step_size: *step_size,
        momentum: *momentum,
        steps: usize::try_from(*steps)?,
        tolerance: *tolerance,
        restarts: usize::try_from(*restarts)?,
        backtracking: false,
        ..GradientDescentConfig::default()
    }
    .check()?;
    Inference::new(
        search,
        hidden,
        *embed,
        (*lo, *hi),
        *batch,
        *seed,
        dir,
        device,
    )
}

/// An implicit regression 1 → `hidden` → `embed` (G_x and G_y alike) on the box `[lo, hi]`,
/// its weights written for the Python side, and `batch` inputs: the descent and DFO cases
/// differ only in the search `predict` runs.
struct Inference {
    model: ImplicitRegression,
    x: Tensor,
    seed: i64,
}

impl Inference {
    #[allow(clippy::too_many_arguments)]
    fn new(
        search: impl Into<Search>,
        hidden: &[i64],
        embed: i64,
        (lo, hi): (f64, f64),
        batch: i64,
        seed: i64,
        dir: &Path,
        device: Device,
    ) -> Result<Self> {
        let range = YRange {
            lo,
            hi,
            ..YRange::default()
        };
        tch::manual_seed(seed);
        let g = mlp_config(hidden);
        let model = ImplicitRegression::new(1, 1, embed, &g, &g, &range, search, device)?;
        weights::save(model.var_store(), dir)?;
        tch::manual_seed(seed + 1);
        let x = Tensor::rand([batch, 1], (Kind::Float, device)) * (hi - lo) + lo;
        Ok(Inference { model, x, seed })
    }
}

impl Workload for Inference {
    fn iterate(&mut self) -> Result<Tensor> {
        tch::manual_seed(self.seed + 2);
        let Prediction::Continuous { minima, .. } = self.model.predict(&self.x)? else {
            bail!("implicit regression predicts continuous answers")
        };
        // The best energy of every row (the minima are sorted by energy).
        let total: f64 = minima
            .iter()
            .map(|row| row.first().map_or(f64::NAN, |m| m.energy))
            .sum();
        Ok(Tensor::from(total))
    }
}

/// Implicit-regression inference by DFO: `predict` with a `Dfo` search (the best sample and
/// the distinct minima among the 256 lowest).
fn dfo(spec: &Spec, dir: &Path, device: Device) -> Result<Inference> {
    let Spec::Dfo {
        batch,
        samples,
        iterations,
        noise,
        shrink,
        hidden,
        embed,
        lo,
        hi,
        seed,
    } = spec
    else {
        bail!("not a DFO spec")
    };
    let samples = usize::try_from(*samples)?;
    let search = DfoConfig {
        samples,
        iterations: usize::try_from(*iterations)?,
        noise: *noise,
        shrink: *shrink,
        keep: samples.min(256),
        ..DfoConfig::default()
    }
    .check()?;
    Inference::new(
        Search::Dfo(search),
        hidden,
        *embed,
        (*lo, *hi),
        *batch,
        *seed,
        dir,
        device,
    )
}

/// Langevin sampling of an unconditional energy MLP on R², with the network's parameters
/// frozen for the run.
struct Sampling {
    net: DensityNet,
    langevin: Langevin,
    chains: i64,
    device: Device,
    seed: i64,
}

impl Sampling {
    fn new(spec: &Spec, dir: &Path, device: Device) -> Result<Self> {
        let Spec::Langevin {
            chains,
            steps,
            hidden,
            epsilon,
            seed,
        } = spec
        else {
            bail!("not a Langevin spec")
        };
        let net = density_net(hidden, *seed, dir, device)?;
        let langevin = LangevinConfig {
            step: LangevinStep::Exact {
                epsilon: *epsilon,
                beta: 1.0,
            },
            steps: usize::try_from(*steps)?,
            clamp: None,
            grad_clip: None,
        }
        .check()?;
        Ok(Sampling {
            net,
            langevin,
            chains: *chains,
            device,
            seed: *seed,
        })
    }
}

impl Workload for Sampling {
    fn iterate(&mut self) -> Result<Tensor> {
        let (x, y0) = chain_starts(self.chains, self.seed, self.device);
        let y = with_frozen_parameters(self.net.var_store(), || {
            self.langevin.sample(self.net.energy(), &x, &y0)
        })?;
        Ok(y.sum(Kind::Double))
    }
}

/// The samplers' inputs: no x (`[C, 0]`) and N(0, I) starts `[C, 2]` drawn at `seed + 2`.
fn chain_starts(chains: i64, seed: i64, device: Device) -> (Tensor, Tensor) {
    tch::manual_seed(seed + 2);
    let y0 = Tensor::randn([chains, 2], (Kind::Float, device));
    (Tensor::zeros([chains, 0], (Kind::Float, device)), y0)
}

/// The samplers' energy: ebm-arch's `DensityNet`, E(y) = MLP(y) `2 → hidden → 1` with
/// softplus (seeded), whose gradient is the MLP's own backward pass; weights written to `dir`
/// for the Python side (prefix `energy`).
fn density_net(hidden: &[i64], seed: i64, dir: &Path, device: Device) -> Result<DensityNet> {
    tch::manual_seed(seed);
    let config = DensityConfig {
        energy: MlpConfig {
            activation: Activation::Softplus,
            ..mlp_config(hidden)
        },
        ..DensityConfig::default()
    };
    let net = DensityNet::new(2, &config, device)?;
    weights::save(net.var_store(), dir)?;
    Ok(net)
}

/// The two Metropolis-adjusted samplers of ebm-core on the Langevin case's energy MLP, with
/// the network's parameters frozen for the run.
struct Metropolis {
    net: DensityNet,
    sampler: MetropolisSampler,
    chains: i64,
    device: Device,
    seed: i64,
}

enum MetropolisSampler {
    Mala(Mala),
    Hmc(Hmc),
}

impl Metropolis {
    fn new(spec: &Spec, dir: &Path, device: Device) -> Result<Self> {
        let (chains, hidden, seed, sampler) = match spec {
            Spec::Mala {
                chains,
                warmup,
                samples,
                hidden,
                step_size,
                seed,
            } => (
                chains,
                hidden,
                seed,
                MetropolisSampler::Mala(
                    MalaConfig {
                        step_size: *step_size,
                        warmup: usize::try_from(*warmup)?,
                        samples: usize::try_from(*samples)?,
                        thin: 1,
                        adapt: false,
                        ..MalaConfig::default()
                    }
                    .check()?,
                ),
            ),
            Spec::Hmc {
                chains,
                warmup,
                samples,
                leapfrog_steps,
                hidden,
                step_size,
                seed,
            } => (
                chains,
                hidden,
                seed,
                MetropolisSampler::Hmc(
                    HmcConfig {
                        step_size: *step_size,
                        leapfrog_steps: usize::try_from(*leapfrog_steps)?,
                        jitter: false,
                        mass: None,
                        warmup: usize::try_from(*warmup)?,
                        samples: usize::try_from(*samples)?,
                        thin: 1,
                        adapt: false,
                        ..HmcConfig::default()
                    }
                    .check()?,
                ),
            ),
            _ => bail!("not a MALA or HMC spec"),
        };
        let net = density_net(hidden, *seed, dir, device)?;
        Ok(Metropolis {
            net,
            sampler,
            chains: *chains,
            device,
            seed: *seed,
        })
    }
}

impl Workload for Metropolis {
    /// The sum of the last states plus the acceptance rate (the diagnostics, ESS and split-R̂
    /// per coordinate, are computed too: the Python side does not compute them).
    fn iterate(&mut self) -> Result<Tensor> {
        let (x, y0) = chain_starts(self.chains, self.seed, self.device);
        let energy = self.net.energy();
        let chains = with_frozen_parameters(self.net.var_store(), || match &self.sampler {
            MetropolisSampler::Mala(mala) => mala.run(energy, &x, &y0),
            MetropolisSampler::Hmc(hmc) => hmc.run(energy, &x, &y0),
        })?;
        Ok(chains
            .last
            .sum(Kind::Double)
            .g_add_scalar(chains.diagnostics.acceptance))
    }
}

/// NT-Xent forward and backward with respect to both views.
struct Contrastive {
    loss: NtXent,
    z1: Tensor,
    z2: Tensor,
}

impl Contrastive {
    fn new(spec: &Spec, device: Device) -> Result<Self> {
        let Spec::NtXent {
            n,
            dim,
            temperature,
            seed,
        } = spec
        else {
            bail!("not an NT-Xent spec")
        };
        tch::manual_seed(*seed);
        let z1 = Tensor::randn([*n, *dim], (Kind::Float, device)).set_requires_grad(true);
        let z2 = Tensor::randn([*n, *dim], (Kind::Float, device)).set_requires_grad(true);
        let loss = NtXentConfig {
            temperature: *temperature,
            ..NtXentConfig::default()
        }
        .check()?;
        Ok(Contrastive { loss, z1, z2 })
    }

    /// The loss and its gradients with respect to both views.
    fn forward_backward(&self) -> Result<(Tensor, Vec<Tensor>)> {
        let value = self.loss.loss(&self.z1, &self.z2)?;
        let grads = Tensor::f_run_backward(&[&value], &[&self.z1, &self.z2], false, false)?;
        Ok((value, grads))
    }
}

impl Workload for Contrastive {
    fn iterate(&mut self) -> Result<Tensor> {
        let (value, _) = self.forward_backward()?;
        Ok(value)
    }
}

/// Peak memory of one NT-Xent forward and backward pass, in this (fresh) process.
pub fn ntxent_memory(spec: &Spec, device: Device) -> Result<crate::spec::Memory> {
    let case = Contrastive::new(spec, device)?;
    let Some((_, before_kib)) = crate::spec::memory_kib() else {
        bail!("/proc/self/status is not readable: peak memory needs Linux")
    };
    let (value, _) = case.forward_backward()?;
    let check = f64::try_from(&value)?;
    let Some((peak_kib, _)) = crate::spec::memory_kib() else {
        bail!("/proc/self/status is not readable")
    };
    Ok(crate::spec::Memory {
        before_kib,
        peak_kib,
        check,
    })
}

/// Exhaustive inference over every class of a multi-class energy MLP.
struct Exhaustive {
    model: MultiClass,
    space: FiniteSpace,
    x: Tensor,
}

impl Exhaustive {
    fn new(spec: &Spec, dir: &Path, device: Device) -> Result<Self> {
        let Spec::Exhaustive {
            batch,
            in_dim,
            hidden,
            classes,
            seed,
        } = spec
        else {
            bail!("not an exhaustive spec")
        };
        tch::manual_seed(*seed);
        let model = MultiClass::new(*in_dim, *classes, &mlp_config(hidden), device)?;
        weights::save(model.var_store(), dir)?;
        tch::manual_seed(seed + 1);
        let x = Tensor::randn([*batch, *in_dim], (Kind::Float, device));
        Ok(Exhaustive {
            model,
            space: FiniteSpace::Classes(*classes),
            x,
        })
    }
}

impl Workload for Exhaustive {
    fn iterate(&mut self) -> Result<Tensor> {
        let found = exhaustive_argmin(&self.model, &self.x, &self.space)?;
        Ok(found.energy.sum(Kind::Double))
    }
}
