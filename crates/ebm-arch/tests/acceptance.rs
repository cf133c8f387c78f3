//! The acceptance tests of the architectures: seeded, small, CPU.

mod common;

use common::*;
use ebm_arch::{
    fit, Architecture, Binary, ImplicitRegression, MlpConfig, MultiClass, OptimizerConfig,
    Prediction, Regression, TrainConfig, YRange,
};
use ebm_core::{Energy, GradientDescent, GradientDescentConfig};
use ebm_loss::LossConfig;
use rstest::rstest;
use tch::{Device, Kind, Tensor};

fn adam(lr: f64) -> OptimizerConfig {
    OptimizerConfig::Adam {
        lr,
        weight_decay: 0.0,
    }
}

fn finite_prediction(p: Prediction) -> Tensor {
    match p {
        Prediction::Finite { y, .. } => y,
        Prediction::Continuous { .. } => panic!("expected a finite prediction"),
    }
}

#[test]
fn regression_fits_a_sine_and_descent_agrees_with_the_closed_form() {
    let _rng = seeded(0);
    let (x, y) = sine(256, 0.05, 10);
    let (x_test, y_test) = sine(128, 0.05, 11);
    let model = Regression::new(
        1,
        1,
        &MlpConfig::default(),
        &YRange::default(),
        GradientDescent::default(),
        Device::Cpu,
    )
    .expect("model");
    let config = TrainConfig {
        optimizer: adam(1e-2),
        epochs: 150,
        batch_size: 64,
        ..TrainConfig::default()
    };
    // The energy loss is safe here: the architecture's energy cannot go flat.
    fit(
        &model,
        LossConfig::Energy {}.build().expect("loss").as_ref(),
        &x,
        &y,
        &config,
        0,
        |_| {},
    )
    .expect("fit");
    let Prediction::Continuous { y: predicted, .. } = model.predict(&x_test).expect("predict")
    else {
        panic!("regression predicts a continuous y")
    };
    let mse = f64::try_from((&predicted - &y_test).square().mean(Kind::Double)).expect("mse");
    assert!(mse < 0.02, "test MSE {mse}");
    let descent = model.predict_by_descent(&x_test).expect("descent");
    let gap = f64::try_from((descent.best_y - &predicted).abs().max()).expect("gap");
    assert!(gap < 1e-3, "gradient descent and G(x) disagree by {gap}");
}

fn implicit_model(range: YRange) -> ImplicitRegression {
    let search = GradientDescentConfig {
        restarts: 16,
        steps: 400,
        step_size: 0.05,
        ..GradientDescentConfig::default()
    }
    .check()
    .expect("valid");
    ImplicitRegression::new(
        1,
        1,
        8,
        &MlpConfig::default(),
        &MlpConfig::default(),
        &range,
        search,
        Device::Cpu,
    )
    .expect("model")
}

#[test]
fn implicit_regression_finds_both_branches_where_explicit_regression_averages() {
    let _rng = seeded(1);
    let (x, y) = two_branches(400, 12);
    let range = YRange {
        lo: -1.5,
        hi: 1.5,
        grid_points: 60,
        epsilon: 0.2,
        offending_steps: 10,
        jitter: true,
        counter_examples: None,
    };
    let implicit = implicit_model(range.clone());
    let config = TrainConfig {
        optimizer: adam(1e-2),
        epochs: 150,
        batch_size: 50,
        probe_size: 16,
    };
    let nll = LossConfig::Nll { beta: 1.0 }.build().expect("loss");
    fit(&implicit, nll.as_ref(), &x, &y, &config, 0, |_| {}).expect("fit implicit");

    let explicit = Regression::new(
        1,
        1,
        &MlpConfig::default(),
        &range,
        GradientDescent::default(),
        Device::Cpu,
    )
    .expect("model");
    fit(
        &explicit,
        LossConfig::Energy {}.build().expect("loss").as_ref(),
        &x,
        &y,
        &config,
        0,
        |_| {},
    )
    .expect("fit explicit");

    let test_x = [0.25f32, 0.5, 0.81];
    let xt = Tensor::from_slice(&test_x).view([3, 1]);
    let Prediction::Continuous { minima, .. } = implicit.predict(&xt).expect("predict") else {
        panic!()
    };
    let Prediction::Continuous { y: averaged, .. } = explicit.predict(&xt).expect("predict") else {
        panic!()
    };
    let averaged: Vec<f32> = Vec::try_from(averaged.view([-1])).expect("vec");
    for (i, &xv) in test_x.iter().enumerate() {
        let root = f64::from(xv).sqrt();
        // The low-energy minima must include both branches. "Low" is within a window of 5
        // above the best, which the test first checks is small against the surface: the
        // mean energy over the y range at this x must be at least 20 times larger.
        let window = 5.0;
        let ys = Tensor::linspace(-1.5, 1.5, 61, CPU).view([61, 1]);
        let surface = implicit
            .energy(&Tensor::full([61, 1], f64::from(xv), CPU), &ys)
            .expect("energies");
        let mean = f64::try_from(surface.mean(Kind::Double)).expect("mean");
        assert!(
            mean > 20.0 * window,
            "x = {xv}: the surface is too flat for the window (mean {mean})"
        );
        let best = minima[i][0].energy;
        let found: Vec<f64> = minima[i]
            .iter()
            .filter(|m| m.energy <= best + window)
            .map(|m| m.y[0])
            .collect();
        for branch in [root, -root] {
            assert!(
                found.iter().any(|y| (y - branch).abs() < 0.1),
                "x = {xv}: {found:?} misses {branch:+.3}"
            );
        }
        assert!(
            f64::from(averaged[i]).abs() < 0.15,
            "explicit regression predicted {} at x = {xv}",
            averaged[i]
        );
    }
}

#[rstest]
#[case(LossConfig::Hinge { margin: 1.0 })]
#[case(LossConfig::Log {})]
fn binary_classifies_two_moons(#[case] loss: LossConfig) {
    let _rng = seeded(2);
    let (x, y) = two_moons(400, 0.1, 13);
    let model = Binary::new(2, &MlpConfig::default(), Device::Cpu).expect("model");
    let config = TrainConfig {
        optimizer: adam(1e-2),
        epochs: 100,
        batch_size: 100,
        ..TrainConfig::default()
    };
    fit(
        &model,
        loss.build().expect("loss").as_ref(),
        &x,
        &y,
        &config,
        0,
        |_| {},
    )
    .expect("fit");
    let acc = accuracy(&finite_prediction(model.predict(&x).expect("predict")), &y);
    assert!(acc >= 0.97, "{loss:?}: accuracy {acc}");
}

fn multi_class_losses() -> Vec<LossConfig> {
    vec![
        LossConfig::Hinge { margin: 1.0 },
        LossConfig::Log {},
        LossConfig::Mce {},
        LossConfig::SquareSquare { margin: 1.0 },
        LossConfig::SquareExponential { gamma: 1.0 },
        LossConfig::Nll { beta: 1.0 },
        LossConfig::Mee { beta: 1.0 },
    ]
}

#[test]
fn multi_class_separates_blobs_and_spirals_with_every_good_loss() {
    for (name, data, epochs) in [
        ("4 blobs", blobs(400, 4, 14), 60),
        ("3 spirals", spirals(300, 3, 0.02, 15), 300),
    ] {
        let (x, y) = data;
        for loss in multi_class_losses() {
            let _rng = seeded(3);
            let model = MultiClass::new(
                2,
                y.max().int64_value(&[]) + 1,
                &MlpConfig::default(),
                Device::Cpu,
            )
            .expect("model");
            let config = TrainConfig {
                optimizer: adam(1e-2),
                epochs,
                batch_size: 100,
                ..TrainConfig::default()
            };
            fit(
                &model,
                loss.build().expect("loss").as_ref(),
                &x,
                &y,
                &config,
                0,
                |_| {},
            )
            .expect("fit");
            let acc = accuracy(&finite_prediction(model.predict(&x).expect("predict")), &y);
            assert!(acc >= 0.95, "{name} with {loss:?}: accuracy {acc}");
        }
    }
}

#[test]
fn bad_inputs_get_specific_errors() {
    let _rng = seeded(9);
    use ebm_core::EbmError;
    let cpu = Device::Cpu;
    let multi = MultiClass::new(2, 3, &MlpConfig::default(), cpu).expect("model");
    let loss = LossConfig::Hinge { margin: 1.0 }.build().expect("loss");
    let config = TrainConfig {
        epochs: 1,
        ..TrainConfig::default()
    };
    let x = Tensor::zeros([4, 3], CPU);
    let labels = Tensor::from_slice(&[0i64, 1, 2, 0]);
    let err = fit(&multi, loss.as_ref(), &x, &labels, &config, 0, |_| {}).expect_err("x too wide");
    assert!(matches!(err, EbmError::Shape { .. }), "{err}");
    let x = Tensor::zeros([4, 2], CPU);
    let err = fit(
        &multi,
        loss.as_ref(),
        &x,
        &Tensor::from_slice(&[0i64, 1, 3, 0]),
        &config,
        0,
        |_| {},
    )
    .expect_err("label 3");
    assert!(
        matches!(err, EbmError::InvalidLabel(ref m) if m.contains('3')),
        "{err}"
    );
    let err = multi
        .predict(&Tensor::zeros([4, 5], CPU))
        .expect_err("predict on wrong width");
    assert!(matches!(err, EbmError::Shape { .. }), "{err}");

    let binary = Binary::new(2, &MlpConfig::default(), cpu).expect("model");
    let err = fit(
        &binary,
        loss.as_ref(),
        &x,
        &Tensor::from_slice(&[1.0f32, -1.0, 0.0, 1.0]),
        &config,
        0,
        |_| {},
    )
    .expect_err("label 0");
    assert!(
        matches!(err, EbmError::InvalidLabel(ref m) if m.contains("not in {-1, +1}")),
        "{err}"
    );

    let regression = Regression::new(
        2,
        1,
        &MlpConfig::default(),
        &YRange::default(),
        GradientDescent::default(),
        cpu,
    )
    .expect("model");
    let err = fit(
        &regression,
        loss.as_ref(),
        &x,
        &Tensor::zeros([4, 2], CPU),
        &config,
        0,
        |_| {},
    )
    .expect_err("y too wide");
    assert!(matches!(err, EbmError::Shape { .. }), "{err}");
    let err = fit(
        &regression,
        loss.as_ref(),
        &x,
        &Tensor::zeros([3, 1], CPU),
        &config,
        0,
        |_| {},
    )
    .expect_err("batch");
    assert!(matches!(err, EbmError::BatchMismatch { .. }), "{err}");
    let bad_lr = TrainConfig {
        optimizer: adam(-1.0),
        ..config
    };
    let err = fit(
        &regression,
        loss.as_ref(),
        &x,
        &Tensor::zeros([4, 1], CPU),
        &bad_lr,
        0,
        |_| {},
    )
    .expect_err("lr");
    assert!(
        matches!(&err, EbmError::Hyperparameter { name, .. } if name == "optimizer.lr"),
        "{err}"
    );
}

/// Rust's default float is f64 and data may come as integers: `fit` and `predict` take any
/// numeric x in the parameters' kind instead of a libtorch dtype panic, with the same result.
#[test]
fn fit_and_predict_take_f64_and_integer_x() {
    let _rng = seeded(21);
    let (x, y) = two_moons(64, 0.1, 21);
    let model = Binary::new(2, &MlpConfig::default(), Device::Cpu).expect("model");
    let loss = LossConfig::Hinge { margin: 1.0 }.build().expect("loss");
    let config = TrainConfig {
        epochs: 2,
        batch_size: 16,
        ..TrainConfig::default()
    };
    fit(
        &model,
        loss.as_ref(),
        &x.to_kind(Kind::Double),
        &y,
        &config,
        0,
        |_| {},
    )
    .expect("f64 x trains");
    let float = finite_prediction(model.predict(&x).expect("f32"));
    let double = finite_prediction(
        model
            .predict(&x.to_kind(Kind::Double))
            .expect("f64 predicts"),
    );
    assert!(float.equal(&double));
    let ints = (&x * 10.0).round().to_kind(Kind::Int64);
    let from_ints = finite_prediction(model.predict(&ints).expect("Int64 predicts"));
    let from_floats = finite_prediction(model.predict(&ints.to_kind(Kind::Float)).expect("f32"));
    assert!(from_ints.equal(&from_floats));
    for m in [
        Box::new(
            Regression::new(
                2,
                1,
                &MlpConfig::default(),
                &YRange::default(),
                GradientDescent::default(),
                Device::Cpu,
            )
            .expect("model"),
        ) as Box<dyn Architecture>,
        Box::new(MultiClass::new(2, 3, &MlpConfig::default(), Device::Cpu).expect("model")),
    ] {
        m.predict(&x.to_kind(Kind::Double)).expect("f64 predicts");
        m.predict(&ints).expect("Int64 predicts");
    }
}

/// A step far too large: training stops with `Diverged`, naming the epoch, the learning rate
/// and the loss's own knob, not a bare NaN.
#[test]
fn divergence_names_the_epoch_and_the_settings_to_change() {
    let _rng = seeded(22);
    let (x, y) = two_moons(64, 0.1, 22);
    let model = Binary::new(2, &MlpConfig::default(), Device::Cpu).expect("model");
    let loss = LossConfig::Hinge { margin: 1.0 }.build().expect("loss");
    let config = TrainConfig {
        epochs: 5,
        batch_size: 8,
        optimizer: OptimizerConfig::Sgd {
            lr: 1e30,
            momentum: 0.0,
            weight_decay: 0.0,
        },
        ..TrainConfig::default()
    };
    let err = fit(&model, loss.as_ref(), &x, &y, &config, 0, |_| {}).expect_err("diverges");
    let ebm_core::EbmError::Diverged { epoch, detail } = &err else {
        panic!("{err:?}")
    };
    assert!(*epoch >= 1 && *epoch <= 5);
    let message = err.to_string();
    for part in ["train.optimizer.lr (now 1e30)", "loss.margin"] {
        assert!(message.contains(part), "{part} not in {message}");
    }
    assert!(detail.contains("epoch"), "{detail}");
    // The same data with a sane step trains a fresh model.
    let config = TrainConfig {
        optimizer: adam(0.01),
        ..config
    };
    let fresh = Binary::new(2, &MlpConfig::default(), Device::Cpu).expect("model");
    fit(&fresh, loss.as_ref(), &x, &y, &config, 0, |_| {}).expect("trains");
}
