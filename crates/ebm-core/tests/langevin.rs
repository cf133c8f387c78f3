//! Langevin sampling, and that inference never leaks into parameter gradients.

use ebm_core::{
    exhaustive_argmin, ContinuousSpace, EbmError, Energy, FiniteSpace, GradientDescentConfig,
    LangevinConfig, LangevinStep,
};
use tch::nn::{self, Module};
use tch::{Device, Kind, Tensor};

/// E = ½ ‖y‖² / σ².
struct Gaussian {
    sigma: f64,
}

impl Energy for Gaussian {
    fn energy(&self, _x: &Tensor, y: &Tensor) -> ebm_core::Result<Tensor> {
        Ok(y.square().sum_dim_intlist(1, false, None) * (0.5 / (self.sigma * self.sigma)))
    }
}

fn moments(samples: &Tensor) -> (f64, f64) {
    let mean = f64::try_from(samples.mean(Kind::Double)).expect("mean");
    let var = f64::try_from(samples.var(true)).expect("var");
    (mean, var)
}

#[test]
fn langevin_samples_a_gaussian() {
    let sigma = 1.5;
    let chains = 4000;
    tch::manual_seed(42);
    let x = Tensor::zeros([chains, 1], (Kind::Double, Device::Cpu));
    // Start far from the mode so the test also checks that the chains forget their start.
    let y0 = Tensor::full([chains, 2], 3.0 * sigma, (Kind::Double, Device::Cpu));
    let exact = LangevinConfig {
        step: LangevinStep::Exact {
            epsilon: 0.02 * sigma * sigma,
            beta: 1.0,
        },
        steps: 1500,
        clamp: None,
        grad_clip: None,
    }
    .check()
    .expect("valid");
    let samples = exact.sample(&Gaussian { sigma }, &x, &y0).expect("samples");
    let (mean, var) = moments(&samples);
    assert!(mean.abs() < 0.1 * sigma, "mean {mean}");
    assert!(
        (var / (sigma * sigma) - 1.0).abs() < 0.1,
        "variance {var} vs {}",
        sigma * sigma
    );

    // The decoupled rule with noise² = 2·step/β is the same chain.
    let step = 0.01 * sigma * sigma;
    let decoupled = LangevinConfig {
        step: LangevinStep::Decoupled {
            step_size: step,
            noise_std: (2.0 * step).sqrt(),
        },
        ..exact.config()
    }
    .check()
    .expect("valid");
    let samples = decoupled
        .sample(&Gaussian { sigma }, &x, &y0)
        .expect("samples");
    let (mean, var) = moments(&samples);
    assert!(
        mean.abs() < 0.1 * sigma && (var / (sigma * sigma) - 1.0).abs() < 0.1,
        "{mean} {var}"
    );

    // β = 4 sharpens the distribution: variance σ²/β.
    let cold = LangevinConfig {
        step: LangevinStep::Exact {
            epsilon: 0.005 * sigma * sigma,
            beta: 4.0,
        },
        ..exact.config()
    }
    .check()
    .expect("valid");
    let samples = cold.sample(&Gaussian { sigma }, &x, &y0).expect("samples");
    let (_, var) = moments(&samples);
    assert!(
        (var / (sigma * sigma / 4.0) - 1.0).abs() < 0.1,
        "variance {var}"
    );
}

/// A small network energy E(x, y) = ‖f_W(x) − y‖², with trainable W.
struct Net {
    layer: nn::Linear,
}

impl Energy for Net {
    fn energy(&self, x: &Tensor, y: &Tensor) -> ebm_core::Result<Tensor> {
        Ok((self.layer.forward(x) - y)
            .square()
            .sum_dim_intlist(1, false, None))
    }
}

#[test]
fn inference_leaves_parameter_gradients_untouched() {
    tch::manual_seed(1);
    let vs = nn::VarStore::new(Device::Cpu);
    let net = Net {
        layer: nn::linear(vs.root(), 3, 2, Default::default()),
    };
    let x = Tensor::randn([5, 3], (Kind::Float, Device::Cpu));
    let gd = GradientDescentConfig {
        steps: 20,
        restarts: 3,
        ..GradientDescentConfig::default()
    }
    .check()
    .expect("valid");
    let minima = gd
        .minimize(&net, &x, &ContinuousSpace::real(2).expect("space"))
        .expect("gd");
    let langevin = LangevinConfig {
        step: LangevinStep::Exact {
            epsilon: 0.01,
            beta: 1.0,
        },
        steps: 10,
        clamp: Some((-3.0, 3.0)),
        grad_clip: Some(1.0),
    }
    .check()
    .expect("valid");
    let y0 = Tensor::randn([5, 2], (Kind::Float, Device::Cpu));
    let samples = langevin.sample(&net, &x, &y0).expect("samples");
    let signs = FiniteSpace::Set(Tensor::randn([4, 2], (Kind::Float, Device::Cpu)));
    let best = exhaustive_argmin(&net, &x, &signs).expect("exhaustive");
    for (name, p) in vs.variables() {
        let g = p.grad();
        let untouched =
            !g.defined() || f64::try_from(g.abs().sum(Kind::Double)).expect("sum") == 0.0;
        assert!(untouched, "parameter {name} got a gradient");
    }
    for t in [
        &minima.y,
        &minima.best_y,
        &minima.energy,
        &samples,
        &best.energies,
    ] {
        assert!(
            !t.requires_grad(),
            "an output still carries an autograd graph"
        );
    }
}

#[test]
fn langevin_rejects_bad_hyperparameters() {
    let x = Tensor::zeros([2, 1], (Kind::Float, Device::Cpu));
    let y0 = Tensor::zeros([3, 1], (Kind::Float, Device::Cpu));
    let ok = LangevinConfig {
        step: LangevinStep::Exact {
            epsilon: 0.1,
            beta: 1.0,
        },
        steps: 1,
        clamp: None,
        grad_clip: None,
    };
    assert!(matches!(
        ok.check()
            .expect("valid")
            .sample(&Gaussian { sigma: 1.0 }, &x, &y0),
        Err(EbmError::BatchMismatch { .. })
    ));
    for (step, name) in [
        (
            LangevinStep::Exact {
                epsilon: 0.0,
                beta: 1.0,
            },
            "epsilon",
        ),
        (
            LangevinStep::Exact {
                epsilon: 0.1,
                beta: f64::NAN,
            },
            "beta",
        ),
        (
            LangevinStep::Exact {
                epsilon: 0.1,
                beta: f64::INFINITY,
            },
            "beta",
        ),
        (
            LangevinStep::Decoupled {
                step_size: 0.1,
                noise_std: -1.0,
            },
            "noise_std",
        ),
    ] {
        let bad = LangevinConfig { step, ..ok.clone() };
        match bad.check() {
            Err(EbmError::Hyperparameter { name: got, .. }) => {
                assert_eq!(got, format!("step.{name}"))
            }
            other => panic!("expected a {name} error, got {other:?}"),
        }
    }
    let zero_steps = LangevinConfig { steps: 0, ..ok };
    assert!(matches!(
        zero_steps.check(),
        Err(EbmError::Hyperparameter { name, .. }) if name == "steps"
    ));
}

fn exact_config() -> LangevinConfig {
    LangevinConfig {
        step: LangevinStep::Exact {
            epsilon: 0.1,
            beta: 1.0,
        },
        steps: 1,
        clamp: None,
        grad_clip: None,
    }
}

#[rstest::rstest]
#[case::decoupled_step(LangevinConfig { step: LangevinStep::Decoupled { step_size: 0.0, noise_std: 0.1 }, ..exact_config() }, "step.step_size")]
#[case::epsilon_nan(LangevinConfig { step: LangevinStep::Exact { epsilon: f64::NAN, beta: 1.0 }, ..exact_config() }, "step.epsilon")]
#[case::beta_zero(LangevinConfig { step: LangevinStep::Exact { epsilon: 0.1, beta: 0.0 }, ..exact_config() }, "step.beta")]
#[case::steps(LangevinConfig { steps: 0, ..exact_config() }, "steps")]
#[case::clamp_inverted(LangevinConfig { clamp: Some((1.0, -1.0)), ..exact_config() }, "clamp")]
#[case::clamp_nan(LangevinConfig { clamp: Some((f64::NAN, 1.0)), ..exact_config() }, "clamp")]
#[case::grad_clip_zero(LangevinConfig { grad_clip: Some(0.0), ..exact_config() }, "grad_clip")]
fn langevin_config_names_the_bad_key(#[case] config: LangevinConfig, #[case] key: &str) {
    match config.check() {
        Err(EbmError::Hyperparameter { name, .. }) => assert_eq!(name, key),
        other => panic!("expected a {key} error, got {other:?}"),
    }
}

#[test]
fn a_checked_sampler_keeps_its_config() {
    let config = LangevinConfig {
        clamp: Some((-2.0, 2.0)),
        grad_clip: Some(0.5),
        steps: 9,
        ..exact_config()
    };
    let langevin = config.check().expect("valid");
    assert_eq!(langevin.config(), config);
    assert_eq!(langevin.step(), config.step);
    assert_eq!(
        (langevin.steps(), langevin.clamp(), langevin.grad_clip()),
        (9, Some((-2.0, 2.0)), Some(0.5))
    );
}
