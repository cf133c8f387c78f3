//! Counter-examples in place of the quadrature grid: the NLL over n uniform counter-examples
//! (InfoNCE with the correct answer among them) converges to the quadrature NLL like 1/√n;
//! above two dimensions a continuous model integrates over counter-examples and trains; bad
//! settings are errors that name the key.

use ebm_arch::{
    batch_energies, fit, Architecture, CounterExamples, ImplicitRegression,
    ImplicitRegressionConfig, Integration, MlpConfig, TrainConfig, YRange,
};
use ebm_loss::{LossConfig, Reduction};
use tch::{Device, Kind, Tensor};

static SEEDED: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn seeded(seed: i64) -> std::sync::MutexGuard<'static, ()> {
    let guard = SEEDED.lock().unwrap_or_else(|p| p.into_inner());
    tch::manual_seed(seed);
    guard
}

/// A small implicit regression of x ∈ R → y ∈ [−1, 1]^d, its weights from libtorch's
/// generator as it stands (two calls after the same seed give the same weights).
fn model(d: i64, grid_points: usize, counter: Option<CounterExamples>) -> ImplicitRegression {
    ImplicitRegressionConfig {
        embed: 4,
        gx: MlpConfig {
            hidden: vec![16],
            ..MlpConfig::default()
        },
        gy: MlpConfig {
            hidden: vec![16],
            ..MlpConfig::default()
        },
        y_range: YRange {
            lo: -1.0,
            hi: 1.0,
            grid_points,
            counter_examples: counter,
            ..YRange::default()
        },
        ..ImplicitRegressionConfig::default()
    }
    .build(1, d, Device::Cpu)
    .expect("model")
}

/// Per-row NLL (β = 1) over what the model integrates with; `training` draws counter-examples.
fn nll(model: &ImplicitRegression, x: &Tensor, y: &Tensor, training: bool) -> Vec<f64> {
    let loss = LossConfig::Nll { beta: 1.0 }.build().expect("loss");
    let e = tch::no_grad(|| batch_energies(model, x, y, false, true, training)).expect("energies");
    let v = loss.loss(&e.input(), Reduction::None).expect("nll");
    Vec::<f64>::try_from(v.to_kind(Kind::Double)).expect("floats")
}

/// Mean |NLL over n counter-examples − NLL by quadrature| over seeds and rows.
fn error_at(d: i64, grid_points: usize, n: usize, seeds: i64) -> f64 {
    let mut total = 0.0;
    let mut count = 0.0;
    for seed in 0..seeds {
        let _guard = seeded(seed);
        let x = Tensor::rand([16, 1], (Kind::Float, Device::Cpu)) * 2.0 - 1.0;
        let y = Tensor::rand([16, d], (Kind::Float, Device::Cpu)) * 2.0 - 1.0;
        tch::manual_seed(1000 + seed);
        let grid = model(d, grid_points, None);
        tch::manual_seed(1000 + seed);
        let sampled = model(
            d,
            grid_points,
            Some(CounterExamples {
                n,
                ..CounterExamples::default()
            }),
        );
        // The same weights: the models differ in how they integrate over Y only.
        let (a, b) = (
            grid.var_store().variables(),
            sampled.var_store().variables(),
        );
        for (name, w) in &a {
            assert!(w.equal(&b[name]), "{name}");
        }
        let exact = nll(&grid, &x, &y, false);
        let estimate = nll(&sampled, &x, &y, true);
        for (e, q) in estimate.iter().zip(&exact) {
            total += (e - q).abs();
            count += 1.0;
        }
    }
    total / count
}

/// The least-squares slope of log error against log n.
fn slope(ns: &[usize], errors: &[f64]) -> f64 {
    let xs: Vec<f64> = ns.iter().map(|&n| (n as f64).ln()).collect();
    let ys: Vec<f64> = errors.iter().map(|e| e.ln()).collect();
    let mx = xs.iter().sum::<f64>() / xs.len() as f64;
    let my = ys.iter().sum::<f64>() / ys.len() as f64;
    let num: f64 = xs.iter().zip(&ys).map(|(x, y)| (x - mx) * (y - my)).sum();
    let den: f64 = xs.iter().map(|x| (x - mx) * (x - mx)).sum();
    num / den
}

#[rstest::rstest]
#[case::one_dimension(1, 2000)]
#[case::two_dimensions(2, 120)]
fn the_counter_example_nll_converges_to_the_quadrature_nll_like_one_over_root_n(
    #[case] d: i64,
    #[case] grid_points: usize,
) {
    let ns = [16, 64, 256, 1024, 4096];
    let errors: Vec<f64> = ns
        .iter()
        .map(|&n| error_at(d, grid_points, n, 12))
        .collect();
    let s = slope(&ns, &errors);
    // 1/√n is a slope of −0.5 (the correct answer's own term adds a bias of order 1/n).
    assert!(
        (-0.75..=-0.35).contains(&s),
        "d = {d}: errors {errors:?}, slope {s}"
    );
    assert!(errors[4] < 0.02, "d = {d}: errors {errors:?}");
}

#[test]
fn above_two_dimensions_a_model_integrates_over_counter_examples_and_trains() {
    let _guard = seeded(3);
    let model = model(5, 40, None);
    let c = match model.answers() {
        ebm_arch::Answers::Continuous(c) => c,
        other => panic!("{other:?}"),
    };
    let Integration::CounterExamples {
        n,
        refine_steps,
        fixed,
        log_weight,
        ..
    } = &c.integration
    else {
        panic!("a 5-D answer needs counter-examples: {:?}", c.integration)
    };
    // The defaults: 256 uniform draws in [−1, 1]^5, each weighted V/n = 2^5/256.
    assert_eq!((*n, *refine_steps), (256, 0));
    assert_eq!(fixed.size(), vec![256, 5]);
    assert!((log_weight - (32.0f64 / 256.0).ln()).abs() < 1e-12);
    assert!(f64::try_from(fixed.abs().max()).expect("value") <= 1.0);

    // Training with the NLL over counter-examples lowers the loss (correct answer included:
    // K = 257 candidates).
    let x = Tensor::rand([128, 1], (Kind::Float, Device::Cpu)) * 2.0 - 1.0;
    let y = (x.repeat([1, 5]) * 0.8).sin();
    let e = batch_energies(&model, &x, &y, false, true, true).expect("energies");
    assert_eq!(e.all.as_ref().expect("all").size(), vec![128, 257]);
    let loss = LossConfig::Nll { beta: 1.0 }.build().expect("loss");
    let config = TrainConfig {
        epochs: 15,
        batch_size: 32,
        ..TrainConfig::default()
    };
    let history = fit(&model, loss.as_ref(), &x, &y, &config, 3, |_| {}).expect("fit");
    let first = history.epochs.first().expect("epochs").loss;
    let last = history.epochs.last().expect("epochs").loss;
    assert!(last < first - 0.5, "loss {first} -> {last}");
}

#[test]
fn refined_counter_examples_are_each_rows_own_and_stay_in_the_box() {
    let _guard = seeded(4);
    let model = model(
        3,
        40,
        Some(CounterExamples {
            n: 8,
            refine_steps: 3,
            ..CounterExamples::default()
        }),
    );
    let x = Tensor::rand([4, 1], (Kind::Float, Device::Cpu));
    let y = Tensor::zeros([4, 3], (Kind::Float, Device::Cpu));
    let e = batch_energies(&model, &x, &y, true, true, true).expect("energies");
    assert_eq!(e.all.as_ref().expect("all").size(), vec![4, 9]);
    assert_eq!(e.incorrect.as_ref().expect("incorrect").size(), vec![4]);
    // Differentiable in W, and the parameters left trainable after the frozen refinement.
    assert!(e.all.as_ref().expect("all").requires_grad());
    assert!(model
        .var_store()
        .trainable_variables()
        .iter()
        .all(Tensor::requires_grad));
}

#[rstest::rstest]
#[case::no_counter_examples(YRange { counter_examples: Some(CounterExamples { n: 0, ..CounterExamples::default() }), ..YRange::default() }, "counter_examples.n")]
#[case::empty_box(YRange { lo: 1.0, hi: 1.0, ..YRange::default() }, "hi")]
fn bad_y_ranges_name_their_key(#[case] y_range: YRange, #[case] key: &str) {
    let config = ImplicitRegressionConfig {
        y_range,
        ..ImplicitRegressionConfig::default()
    };
    let err = config.check().expect_err("must be rejected").to_string();
    assert!(err.contains(key), "{err}");
    let err = config
        .build(1, 4, Device::Cpu)
        .expect_err("must be rejected")
        .to_string();
    assert!(err.contains(key), "{err}");
}

#[test]
fn a_zero_dimensional_answer_is_an_error_naming_dim() {
    let err = ImplicitRegressionConfig::default()
        .build(1, 0, Device::Cpu)
        .expect_err("must be rejected")
        .to_string();
    assert!(err.contains("dim"), "{err}");
}

/// The loss of one training step (before the step) of a model with the given stabilisers,
/// its weights and counter-examples drawn from `seed`.
fn step_loss(penalties: CounterExamples, seed: i64) -> f64 {
    tch::manual_seed(seed);
    let model = model(3, 40, Some(penalties));
    let x = Tensor::rand([16, 1], (Kind::Float, Device::Cpu)) * 2.0 - 1.0;
    let y = (x.repeat([1, 3]) * 0.8).sin();
    let mut sgd = ebm_arch::OptimizerConfig::Sgd {
        lr: 1e-3,
        momentum: 0.0,
        weight_decay: 0.0,
    }
    .build(model.var_store())
    .expect("optimizer");
    tch::manual_seed(seed + 1);
    let loss = LossConfig::Nll { beta: 1.0 }.build().expect("loss");
    let value = ebm_arch::train_step(&model, loss.as_ref(), &mut sgd, &x, &y).expect("step");
    f64::try_from(value).expect("loss value")
}

#[test]
fn the_stabilisers_add_to_the_loss_only_when_they_bite() {
    let _guard = seeded(5);
    let base = CounterExamples {
        n: 32,
        ..CounterExamples::default()
    };
    let plain = step_loss(base.clone(), 5);
    // A margin no gradient reaches, and no L2: the same loss to the bit.
    let idle = step_loss(
        CounterExamples {
            gradient_penalty: 10.0,
            gradient_margin: 1e6,
            ..base.clone()
        },
        5,
    );
    assert_eq!(idle, plain);
    // Margin 0: every nonzero gradient costs; an L2 weight adds the mean squared energy.
    let penalised = step_loss(
        CounterExamples {
            gradient_penalty: 10.0,
            gradient_margin: 0.0,
            ..base.clone()
        },
        5,
    );
    assert!(penalised > plain, "{penalised} vs {plain}");
    let l2 = step_loss(
        CounterExamples {
            energy_l2: 1.0,
            ..base
        },
        5,
    );
    assert!(l2 > plain, "{l2} vs {plain}");
}

#[rstest::rstest]
#[case(CounterExamples { gradient_penalty: -1.0, ..CounterExamples::default() }, "counter_examples.gradient_penalty")]
#[case(CounterExamples { gradient_margin: f64::NAN, ..CounterExamples::default() }, "counter_examples.gradient_margin")]
#[case(CounterExamples { energy_l2: -0.5, ..CounterExamples::default() }, "counter_examples.energy_l2")]
fn bad_stabilisers_name_their_key(#[case] c: CounterExamples, #[case] key: &str) {
    let config = ImplicitRegressionConfig {
        y_range: YRange {
            counter_examples: Some(c),
            ..YRange::default()
        },
        ..ImplicitRegressionConfig::default()
    };
    let err = config.check().expect_err("must be rejected").to_string();
    assert!(err.contains(&format!("y_range.{key}")), "{err}");
}

#[rstest::rstest]
#[case::finite_z(ebm_latent::LatentSpaceConfig::default(), 2)]
#[case::continuous_z_in_three_dimensions(
    ebm_latent::LatentSpaceConfig::Continuous {
        dim: 3,
        bounds: Some([-1.0, 1.0]),
        search: ebm_core::GradientDescentConfig { restarts: 2, steps: 20, ..Default::default() },
    },
    1
)]
fn the_latent_model_takes_y_and_z_of_any_dimension(
    #[case] z: ebm_latent::LatentSpaceConfig,
    #[case] seed: i64,
) {
    let _guard = seeded(seed);
    // y in R^4 (counter-examples), z finite (±1) or in [−1, 1]^3.
    let config = ebm_arch::LatentModelConfig {
        latent: ebm_latent::LatentConfig {
            z,
            ..ebm_latent::LatentConfig::default()
        },
        y_range: YRange {
            lo: -2.0,
            hi: 2.0,
            counter_examples: Some(CounterExamples {
                n: 32,
                ..CounterExamples::default()
            }),
            ..YRange::default()
        },
        search: ebm_core::GradientDescentConfig {
            restarts: 2,
            steps: 30,
            ..Default::default()
        }
        .into(),
        ..ebm_arch::LatentModelConfig::default()
    };
    let model = config.build(1, 4, Device::Cpu).expect("model");
    let x = Tensor::rand([32, 1], (Kind::Float, Device::Cpu)) * 2.0 - 1.0;
    let y = x.repeat([1, 4]) * 0.5;
    let loss = LossConfig::Nll { beta: 1.0 }.build().expect("loss");
    let config = TrainConfig {
        epochs: 3,
        batch_size: 16,
        ..TrainConfig::default()
    };
    let history = fit(&model, loss.as_ref(), &x, &y, &config, seed as u64, |_| {}).expect("fit");
    assert!(history.epochs.iter().all(|r| r.loss.is_finite()));
    let ebm_arch::Prediction::Continuous { y: best, minima } = model.predict(&x).expect("predict")
    else {
        panic!("continuous answers")
    };
    assert_eq!(best.size(), vec![32, 4]);
    assert!(minima
        .iter()
        .all(|row| !row.is_empty() && row[0].y.len() == 4));
}
