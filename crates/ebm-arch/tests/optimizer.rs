//! The optimisers (`ebm_arch::Optimizer`): Adam and SGD against hand-computed steps and against
//! libtorch's own implementations, their properties (SGD's exact step, Adam's invariance to the
//! gradient's scale), and the saved state: a round trip that continues bit-identically, and
//! every kind of bad state refused by name.

use ebm_arch::{Optimizer, OptimizerConfig, OptimizerState};
use ebm_core::EbmError;
use proptest::prelude::*;
use tch::nn::{self, OptimizerConfig as _};
use tch::{Device, Kind, Tensor};

/// A VarStore of f64 variables with the given values, made without libtorch's generator.
fn store(values: &[(&str, Tensor)]) -> nn::VarStore {
    let vs = nn::VarStore::new(Device::Cpu);
    for (name, value) in values {
        let _ = vs
            .root()
            .add(name, value.to_kind(Kind::Double).detach_copy(), true);
    }
    vs
}

fn var(vs: &nn::VarStore, name: &str) -> Tensor {
    vs.variables()[name].shallow_clone()
}

fn values(t: &Tensor) -> Vec<f64> {
    Vec::<f64>::try_from(t.to_kind(Kind::Double).flatten(0, -1)).expect("numbers")
}

/// A small least-squares problem over `w [3, 2]` and `b [2]`, deterministic.
fn regression_store() -> nn::VarStore {
    let w = Tensor::arange(6, (Kind::Double, Device::Cpu))
        .sin()
        .reshape([3, 2]);
    let b = Tensor::from_slice(&[0.3, -0.2]);
    store(&[("w", w), ("b", b)])
}

/// Its loss, differentiable in the variables; `k` picks one of several fixed batches.
fn regression_loss(vs: &nn::VarStore, k: i64) -> Tensor {
    let x = (Tensor::arange(24, (Kind::Double, Device::Cpu)) * (0.37 + 0.1 * k as f64))
        .cos()
        .reshape([8, 3]);
    let y = (Tensor::arange(16, (Kind::Double, Device::Cpu)) * 0.5)
        .sin()
        .reshape([8, 2]);
    (x.matmul(&var(vs, "w")) + var(vs, "b") - y)
        .square()
        .mean(Kind::Double)
}

fn run(optimizer: &mut Optimizer, vs: &nn::VarStore, steps: std::ops::Range<i64>) {
    for k in steps {
        optimizer
            .backward_step(&regression_loss(vs, k % 3))
            .expect("a step");
    }
}

/// One step with the gradient `g` on the variable `theta` (through the loss g·θ).
fn step_with_gradient(optimizer: &mut Optimizer, vs: &nn::VarStore, g: f64) {
    optimizer
        .backward_step(&(var(vs, "theta") * g).sum(Kind::Double))
        .expect("a step");
}

#[test]
fn adam_matches_its_steps_computed_by_hand() {
    let vs = store(&[("theta", Tensor::from(1.0f64))]);
    let lr = 0.1;
    let mut optimizer = Optimizer::new(
        &OptimizerConfig::Adam {
            lr,
            weight_decay: 0.0,
        },
        &vs,
        None,
    )
    .expect("adam");
    let (mut m, mut v, mut theta) = (0.0f64, 0.0f64, 1.0f64);
    for (t, g) in [2.0, -0.5, 1.0].into_iter().enumerate() {
        step_with_gradient(&mut optimizer, &vs, g);
        let t = t as i32 + 1;
        m = 0.9 * m + 0.1 * g;
        v = 0.999 * v + 0.001 * g * g;
        let m_hat = m / (1.0 - 0.9f64.powi(t));
        let v_hat = v / (1.0 - 0.999f64.powi(t));
        theta -= lr * m_hat / (v_hat.sqrt() + 1e-8);
        let got = f64::try_from(var(&vs, "theta")).expect("a number");
        assert!(
            (got - theta).abs() < 1e-12,
            "step {t}: {got} against {theta}"
        );
    }
}

#[test]
fn sgd_with_momentum_and_weight_decay_matches_its_steps_computed_by_hand() {
    let vs = store(&[("theta", Tensor::from(1.0f64))]);
    let config = OptimizerConfig::Sgd {
        lr: 0.1,
        momentum: 0.9,
        weight_decay: 0.5,
    };
    let mut optimizer = Optimizer::new(&config, &vs, None).expect("sgd");
    // Step 1: g = 1 + 0.5·1 = 1.5, b = 1.5, θ = 1 − 0.15 = 0.85.
    // Step 2: g = 2 + 0.5·0.85 = 2.425, b = 0.9·1.5 + 2.425 = 3.775, θ = 0.85 − 0.3775 = 0.4725.
    for (g, expected) in [(1.0, 0.85), (2.0, 0.4725)] {
        step_with_gradient(&mut optimizer, &vs, g);
        let got = f64::try_from(var(&vs, "theta")).expect("a number");
        assert!((got - expected).abs() < 1e-12, "{got} against {expected}");
    }
}

/// libtorch's optimiser of the same settings, on a copy of the same variables.
fn libtorch_twin(config: &OptimizerConfig) -> (nn::VarStore, nn::Optimizer) {
    let vs = regression_store();
    let optimizer = match *config {
        OptimizerConfig::Adam { lr, weight_decay } => {
            nn::adam(0.9, 0.999, weight_decay).build(&vs, lr)
        }
        OptimizerConfig::Sgd {
            lr,
            momentum,
            weight_decay,
        } => nn::sgd(momentum, 0.0, weight_decay, false).build(&vs, lr),
    }
    .expect("libtorch's optimizer");
    (vs, optimizer)
}

#[rstest::rstest]
#[case::adam(OptimizerConfig::Adam { lr: 0.05, weight_decay: 0.0 })]
#[case::adam_weight_decay(OptimizerConfig::Adam { lr: 0.05, weight_decay: 0.1 })]
#[case::sgd(OptimizerConfig::Sgd { lr: 0.1, momentum: 0.0, weight_decay: 0.0 })]
#[case::sgd_momentum(OptimizerConfig::Sgd { lr: 0.1, momentum: 0.9, weight_decay: 0.01 })]
fn every_optimiser_follows_libtorch_s_own(#[case] config: OptimizerConfig) {
    let ours = regression_store();
    let mut optimizer = Optimizer::new(&config, &ours, None).expect("ours");
    let (theirs, mut reference) = libtorch_twin(&config);
    for k in 0..60 {
        optimizer
            .backward_step(&regression_loss(&ours, k % 3))
            .expect("a step");
        reference.zero_grad();
        regression_loss(&theirs, k % 3).backward();
        reference.step();
    }
    for name in ["w", "b"] {
        let (a, b) = (values(&var(&ours, name)), values(&var(&theirs, name)));
        let start = values(&var(&regression_store(), name));
        for ((a, b), s) in a.iter().zip(&b).zip(&start) {
            assert!((a - b).abs() < 1e-12, "{name}: {a} against libtorch's {b}");
            assert!((a - s).abs() > 1e-3, "{name} did not move from {s}");
        }
    }
}

#[rstest::rstest]
#[case::adam(OptimizerConfig::Adam { lr: 0.05, weight_decay: 0.01 })]
#[case::sgd_momentum(OptimizerConfig::Sgd { lr: 0.1, momentum: 0.9, weight_decay: 0.0 })]
fn a_saved_state_continues_bit_identically(#[case] config: OptimizerConfig) {
    // Unbroken: 20 steps.
    let unbroken = regression_store();
    let mut optimizer = Optimizer::new(&config, &unbroken, None).expect("optimizer");
    run(&mut optimizer, &unbroken, 0..20);
    // Broken: 12 steps, the state saved and read back, a fresh copy of the variables and a new
    // optimiser from the state, 8 more steps.
    let first = regression_store();
    let mut optimizer = Optimizer::new(&config, &first, None).expect("optimizer");
    run(&mut optimizer, &first, 0..12);
    let dir = tempfile::tempdir().expect("a temporary folder");
    let path = dir.path().join("optimizer.safetensors");
    optimizer
        .state()
        .expect("a state")
        .save(&path)
        .expect("saved");
    let state = OptimizerState::load(&path).expect("loaded");
    assert_eq!(state.kind(), config.kind_name());
    assert_eq!(state.steps().expect("steps"), 12);
    let second = regression_store();
    for name in ["w", "b"] {
        tch::no_grad(|| var(&second, name).copy_(&var(&first, name)));
    }
    let mut resumed = Optimizer::new(&config, &second, Some(&state)).expect("resumed");
    run(&mut resumed, &second, 12..20);
    for name in ["w", "b"] {
        assert_eq!(
            values(&var(&second, name)),
            values(&var(&unbroken, name)),
            "{name}"
        );
    }
    // A fresh optimiser from the same point does not continue the same way: the state matters.
    let third = regression_store();
    for name in ["w", "b"] {
        tch::no_grad(|| var(&third, name).copy_(&var(&first, name)));
    }
    let mut fresh = Optimizer::new(&config, &third, None).expect("fresh");
    run(&mut fresh, &third, 12..20);
    assert_ne!(values(&var(&third, "w")), values(&var(&unbroken, "w")));
}

#[test]
fn a_variable_without_a_gradient_is_left_alone() {
    let vs = store(&[
        ("theta", Tensor::from(1.0f64)),
        ("unused", Tensor::from(5.0f64)),
    ]);
    let mut optimizer = Optimizer::new(&OptimizerConfig::default(), &vs, None).expect("adam");
    for _ in 0..3 {
        step_with_gradient(&mut optimizer, &vs, 1.0);
    }
    assert_eq!(f64::try_from(var(&vs, "unused")).expect("a number"), 5.0);
    let dir = tempfile::tempdir().expect("a temporary folder");
    let path = dir.path().join("o.safetensors");
    optimizer
        .state()
        .expect("a state")
        .save(&path)
        .expect("saved");
    let saved: std::collections::HashMap<String, Tensor> = Tensor::read_safetensors(&path)
        .expect("read")
        .into_iter()
        .collect();
    assert_eq!(
        i64::try_from(&saved["adam.step.theta"]).expect("a count"),
        3
    );
    assert_eq!(
        i64::try_from(&saved["adam.step.unused"]).expect("a count"),
        0
    );
}

/// Writes `tensors` as a state file and tries to start an Adam optimiser over
/// [`regression_store`] from it.
fn start_from(tensors: &[(&str, Tensor)]) -> EbmError {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let path = dir.path().join("state.safetensors");
    Tensor::write_safetensors(tensors, &path).expect("written");
    let vs = regression_store();
    match OptimizerState::load(&path)
        .and_then(|state| Optimizer::new(&OptimizerConfig::default(), &vs, Some(&state)))
    {
        Ok(_) => panic!("a bad state was accepted"),
        Err(e) => e,
    }
}

/// A good Adam state of [`regression_store`], with `change` applied.
fn adam_state(change: impl Fn(&mut Vec<(&'static str, Tensor)>)) -> Vec<(&'static str, Tensor)> {
    let mut tensors = vec![
        ("adam.step.w", Tensor::from(3i64)),
        (
            "adam.exp_avg.w",
            Tensor::zeros([3, 2], (Kind::Double, Device::Cpu)),
        ),
        (
            "adam.exp_avg_sq.w",
            Tensor::ones([3, 2], (Kind::Double, Device::Cpu)),
        ),
        ("adam.step.b", Tensor::from(3i64)),
        (
            "adam.exp_avg.b",
            Tensor::zeros([2], (Kind::Double, Device::Cpu)),
        ),
        (
            "adam.exp_avg_sq.b",
            Tensor::ones([2], (Kind::Double, Device::Cpu)),
        ),
    ];
    change(&mut tensors);
    tensors
}

fn message(e: EbmError) -> String {
    assert!(matches!(e, EbmError::Checkpoint(_)), "{e:?}");
    e.to_string()
}

#[test]
fn a_good_state_is_accepted() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let path = dir.path().join("state.safetensors");
    Tensor::write_safetensors(&adam_state(|_| {}), &path).expect("written");
    let state = OptimizerState::load(&path).expect("loaded");
    Optimizer::new(
        &OptimizerConfig::default(),
        &regression_store(),
        Some(&state),
    )
    .expect("accepted");
}

#[rstest::rstest]
#[case::missing_variable("no variable `w`", |t: &mut Vec<(&'static str, Tensor)>| t.retain(|(n, _)| !n.ends_with(".w")))]
#[case::extra_variable("`c`, which the model does not train", |t: &mut Vec<(&'static str, Tensor)>| {
    t.push(("adam.step.c", Tensor::from(1i64)));
    t.push(("adam.exp_avg.c", Tensor::zeros([1], (Kind::Double, Device::Cpu))));
    t.push(("adam.exp_avg_sq.c", Tensor::zeros([1], (Kind::Double, Device::Cpu))));
})]
#[case::missing_slot("`b` has no `exp_avg_sq`", |t: &mut Vec<(&'static str, Tensor)>| t.retain(|(n, _)| *n != "adam.exp_avg_sq.b"))]
#[case::wrong_shape("`exp_avg` of `w` has shape [2, 3]", |t: &mut Vec<(&'static str, Tensor)>| t[1].1 = Tensor::zeros([2, 3], (Kind::Double, Device::Cpu)))]
#[case::nan_moment("`exp_avg` of `b` holds non-finite", |t: &mut Vec<(&'static str, Tensor)>| t[4].1 = Tensor::from_slice(&[0.0, f64::NAN]))]
#[case::negative_second_moment("`exp_avg_sq` of `b` holds non-finite or negative", |t: &mut Vec<(&'static str, Tensor)>| t[5].1 = Tensor::from_slice(&[1.0, -1.0]))]
#[case::negative_step("step count of `w`", |t: &mut Vec<(&'static str, Tensor)>| t[0].1 = Tensor::from(-2i64))]
#[case::bad_name("`adam.w` is not named <kind>.<slot>.<variable>", |t: &mut Vec<(&'static str, Tensor)>| t.push(("adam.w", Tensor::from(1i64))))]
#[case::bad_slot("`adam.velocity.w` is not a slot", |t: &mut Vec<(&'static str, Tensor)>| t.push(("adam.velocity.w", Tensor::from(1i64))))]
fn a_bad_state_is_refused_by_name(
    #[case] expected: &str,
    #[case] change: fn(&mut Vec<(&'static str, Tensor)>),
) {
    let text = message(start_from(&adam_state(change)));
    assert!(text.contains(expected), "{text}");
}

#[test]
fn a_state_of_another_optimiser_is_refused() {
    let text = message(start_from(&[
        ("sgd.step.w", Tensor::from(1i64)),
        (
            "sgd.momentum_buffer.w",
            Tensor::zeros([3, 2], (Kind::Double, Device::Cpu)),
        ),
        ("sgd.step.b", Tensor::from(1i64)),
        (
            "sgd.momentum_buffer.b",
            Tensor::zeros([2], (Kind::Double, Device::Cpu)),
        ),
    ]));
    assert!(
        text.contains("the optimiser state is sgd's but the config trains with adam"),
        "{text}"
    );
}

#[test]
fn a_file_that_is_not_a_state_is_refused() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let path = dir.path().join("state.safetensors");
    std::fs::write(&path, b"not safetensors").expect("written");
    let text = message(OptimizerState::load(&path).expect_err("refused"));
    assert!(text.contains("cannot read the optimiser state"), "{text}");
    Tensor::write_safetensors::<&str, Tensor, _>(&[], &path).expect("written");
    let text = message(OptimizerState::load(&path).expect_err("refused"));
    assert!(text.contains("holds no state"), "{text}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// SGD without momentum is θ − lr·(∇ + λθ), to the rounding of f64.
    #[test]
    fn sgd_takes_the_gradient_step(
        theta in prop::collection::vec(-3.0f64..3.0, 1..6),
        g in -3.0f64..3.0,
        lr in 1e-4f64..1.0,
        weight_decay in 0.0f64..0.5,
    ) {
        let vs = store(&[("theta", Tensor::from_slice(&theta))]);
        let config = OptimizerConfig::Sgd { lr, momentum: 0.0, weight_decay };
        let mut optimizer = Optimizer::new(&config, &vs, None).expect("sgd");
        step_with_gradient(&mut optimizer, &vs, g);
        for (got, start) in values(&var(&vs, "theta")).iter().zip(&theta) {
            let expected = start - lr * (g + weight_decay * start);
            prop_assert!((got - expected).abs() <= 1e-12 * (1.0 + expected.abs()));
        }
    }

    /// Adam's steps do not depend on the gradient's scale (while ε is negligible against it):
    /// the gradients g and c·g give the same trajectory.
    #[test]
    fn adam_is_invariant_to_the_gradient_s_scale(
        gradients in prop::collection::vec(0.1f64..2.0, 1..8),
        signs in prop::collection::vec(any::<bool>(), 8),
        scale in 1e-2f64..1e2,
    ) {
        let trajectory = |c: f64| {
            let vs = store(&[("theta", Tensor::from(0.5f64))]);
            let mut optimizer = Optimizer::new(&OptimizerConfig::default(), &vs, None).expect("adam");
            let mut out = Vec::new();
            for (g, s) in gradients.iter().zip(&signs) {
                step_with_gradient(&mut optimizer, &vs, c * if *s { *g } else { -g });
                out.push(f64::try_from(var(&vs, "theta")).expect("a number"));
            }
            out
        };
        for (a, b) in trajectory(1.0).iter().zip(&trajectory(scale)) {
            prop_assert!((a - b).abs() < 1e-6, "{a} against {b}");
        }
    }
}
