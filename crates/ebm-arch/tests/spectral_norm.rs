//! Spectral normalisation of MLP layers (`MlpConfig::spectral_norm`): the power iteration on
//! matrices of known singular values, the largest singular value of every normalised layer
//! within 5% of 1 on random networks as they change, the Lipschitz bound that follows, and a
//! training run that keeps it and a checkpoint that carries the power iteration's vectors.

mod common;

use common::*;
use ebm_arch::{
    fit, load_checkpoint, save_checkpoint, spectral_power_iteration, Activation, Architecture,
    MlpConfig, MultiClass, OptimizerConfig, TrainConfig,
};
use ebm_arch::{Mlp, Prediction};
use ebm_core::Energy;
use ebm_loss::LossConfig;
use proptest::prelude::*;
use tch::nn::{self, Module};
use tch::{Device, Kind, Tensor};

/// σ_max(W) = √λ_max(WᵀW), in f64.
fn largest_singular_value(w: &Tensor) -> f64 {
    let w = w.to_kind(Kind::Double);
    let gram = w.tr().matmul(&w);
    f64::try_from(gram.linalg_eigvalsh("L").max())
        .expect("a number")
        .sqrt()
}

fn spectral(hidden: Vec<i64>, activation: Activation) -> MlpConfig {
    MlpConfig {
        hidden,
        activation,
        spectral_norm: true,
    }
}

/// Writes `values` into the variable `name` of `vs`.
fn set(vs: &nn::VarStore, name: &str, values: &Tensor) {
    let _guard = tch::no_grad_guard();
    let mut var = vs.variables()[name].shallow_clone();
    var.copy_(values);
}

#[rstest::rstest]
#[case::diagonal(&[3.0, 0.0, 0.0, 1.0], [2, 2], &[1.0, 0.0, 0.0, 1.0 / 3.0])]
#[case::wide(&[0.0, 4.0, 0.0, 3.0, 0.0, 0.0], [2, 3], &[0.0, 1.0, 0.0, 0.75, 0.0, 0.0])]
fn a_layer_of_known_singular_values_is_divided_by_the_largest(
    #[case] w: &[f64],
    #[case] shape: [i64; 2],
    #[case] expected: &[f64],
) {
    let _rng = seeded(0);
    let vs = nn::VarStore::new(Device::Cpu);
    let mlp = Mlp::new(
        &vs.root(),
        shape[1],
        shape[0],
        &spectral(vec![], Activation::Relu),
    )
    .expect("an MLP");
    let mut vs = vs;
    vs.double();
    set(&vs, "0.weight", &Tensor::from_slice(w).view(shape));
    // The vectors were fitted to the random initial weights: a few iterations move them to
    // these (singular values 3 and 1, or 4 and 3: the error shrinks like (σ₂/σ₁)^(2k)).
    for _ in 0..60 {
        mlp.power_iteration_().expect("power iteration");
    }
    let got = mlp.weight(0).expect("the weight");
    let want = Tensor::from_slice(expected).view(shape);
    let err = f64::try_from((&got - &want).abs().max()).expect("err");
    assert!(err < 1e-6, "W/σ = {got} (error {err})");
    // Without spectral normalisation the weight is used as it is.
    let plain = Mlp::new(
        &vs.root().sub("plain"),
        2,
        2,
        &MlpConfig {
            hidden: vec![],
            ..MlpConfig::default()
        },
    )
    .expect("an MLP");
    let stored = vs.variables()["plain.0.weight"].shallow_clone();
    assert!(plain.weight(0).expect("weight").equal(&stored));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// Every layer's largest singular value is within 5% of 1 at creation and after each of
    /// ten small weight updates followed by one power iteration (a training step's worth),
    /// never below 1 (uᵀWv ≤ σ₁; up to f32 rounding at creation), and the network is then (1.05^L)-Lipschitz.
    #[test]
    fn every_normalised_layer_has_largest_singular_value_near_one(
        hidden in proptest::collection::vec(1i64..24, 0..3),
        in_dim in 1i64..16,
        out_dim in 1i64..8,
        activation in 0usize..3,
        seed in 0i64..1000,
    ) {
        let _rng = seeded(seed);
        let activation = [Activation::Relu, Activation::Tanh, Activation::Softplus][activation];
        let vs = nn::VarStore::new(Device::Cpu);
        let layers = hidden.len() + 1;
        let mlp = Mlp::new(&vs.root(), in_dim, out_dim, &spectral(hidden, activation)).expect("an MLP");
        let mut vs = vs;
        vs.double();
        for step in 0..=10 {
            if step > 0 {
                for (name, mut w) in vs.variables() {
                    if name.ends_with("weight") {
                        let _guard = tch::no_grad_guard();
                        let scale = 0.02 * f64::try_from(w.abs().mean(Kind::Double)).expect("mean");
                        let _ = w.g_add_(&(w.randn_like() * scale));
                    }
                }
                mlp.power_iteration_().expect("power iteration");
            }
            for i in 0..layers {
                let sigma = largest_singular_value(&mlp.weight(i).expect("weight"));
                prop_assert!((1.0 - 1e-6..=1.05).contains(&sigma), "step {}, layer {}: σ_max {}", step, i, sigma);
            }
        }
        // 1-Lipschitz activations: ‖f(a) − f(b)‖ ≤ Π σ_max · ‖a − b‖ ≤ 1.05^L ‖a − b‖.
        let a = Tensor::randn([64, in_dim], (Kind::Double, Device::Cpu)) * 3.0;
        let b = Tensor::randn([64, in_dim], (Kind::Double, Device::Cpu)) * 3.0;
        let out = (mlp.forward(&a) - mlp.forward(&b)).norm_scalaropt_dim(2.0, [1], false);
        let inp = (&a - &b).norm_scalaropt_dim(2.0, [1], false);
        let ratio = f64::try_from((out / inp).max()).expect("ratio");
        prop_assert!(ratio <= 1.05f64.powi(layers as i32), "Lipschitz ratio {}", ratio);
    }
}

#[test]
fn training_keeps_every_layer_normalised_and_the_checkpoint_carries_the_vectors() {
    let _rng = seeded(3);
    let (x, y) = two_moons(256, 0.1, 3);
    let labels = (y.gt(0.0)).to_kind(Kind::Int64);
    let config = spectral(vec![32, 32], Activation::Softplus);
    let model = MultiClass::new(2, 2, &config, Device::Cpu).expect("model");
    let u_names: Vec<String> = {
        let mut names: Vec<String> = model
            .var_store()
            .variables()
            .into_keys()
            .filter(|n| n.ends_with("sn_u"))
            .collect();
        names.sort();
        names
    };
    assert_eq!(u_names.len(), 3, "one u per layer: {u_names:?}");
    let before: Vec<Tensor> = u_names
        .iter()
        .map(|n| model.var_store().variables()[n].copy())
        .collect();
    let train = TrainConfig {
        optimizer: OptimizerConfig::Adam {
            lr: 3e-2,
            weight_decay: 0.0,
        },
        epochs: 20,
        batch_size: 64,
        ..TrainConfig::default()
    };
    let loss = LossConfig::Hinge { margin: 0.5 }.build().expect("loss");
    let history = fit(&model, loss.as_ref(), &x, &labels, &train, 0, |_| {}).expect("fit");
    let first = history.epochs[0].loss;
    let last = history.epochs.last().expect("epochs").loss;
    assert!(last < first, "the loss did not fall: {first} → {last}");
    let variables = model.var_store().variables();
    for (name, old) in u_names.iter().zip(&before) {
        let prefix = name.strip_suffix("sn_u").expect("suffix");
        let w = &variables[&format!("{prefix}weight")];
        let u = &variables[name];
        let v = &variables[&format!("{prefix}sn_v")];
        // The buffers were not trained but iterated: u moved with the weights.
        assert!(!u.requires_grad(), "{name} is a buffer");
        assert!(!u.allclose(old, 1e-4, 1e-4, false), "{name} never moved");
        let sigma = f64::try_from(u.dot(&w.mv(v))).expect("σ̂");
        let normalised = largest_singular_value(&(w / sigma));
        assert!(
            (1.0 - 1e-5..=1.05).contains(&normalised),
            "{prefix}: σ_max(W/σ̂) {normalised}"
        );
        // Without the normalisation the layer would be far from 1-Lipschitz after training.
        assert!(
            largest_singular_value(w) > 1.05,
            "{prefix}: the test cannot tell"
        );
    }
    // A loaded model gives the same energies: the vectors travel in the checkpoint.
    let tmp = tempfile::tempdir().expect("a folder");
    let path = tmp.path().join("model.safetensors");
    save_checkpoint(model.var_store(), &path).expect("save");
    let mut other = MultiClass::new(2, 2, &config, Device::Cpu).expect("model");
    load_checkpoint(other.var_store_mut(), &path).expect("load");
    let classes = Tensor::arange(2, (Kind::Int64, Device::Cpu));
    let ea = model.candidate_energies(&x, &classes).expect("energies");
    let eb = other.candidate_energies(&x, &classes).expect("energies");
    assert!(ea.equal(&eb), "a loaded model differs");
    // A plain model's checkpoint cannot be loaded into a normalised one (and back): the
    // error names the buffer.
    let plain = MultiClass::new(
        2,
        2,
        &MlpConfig {
            hidden: vec![32, 32],
            ..MlpConfig::default()
        },
        Device::Cpu,
    )
    .expect("model");
    let plain_path = tmp.path().join("plain.safetensors");
    save_checkpoint(plain.var_store(), &plain_path).expect("save");
    let err = load_checkpoint(other.var_store_mut(), &plain_path).expect_err("no buffers");
    assert!(err.to_string().contains("sn_"), "{err}");
    let Prediction::Finite { .. } = model.predict(&x).expect("predict") else {
        panic!("a classifier predicts classes")
    };
    // The free function iterates every normalised layer of a VarStore (a program's own loop).
    let u0 = variables[&u_names[0]].copy();
    set(
        model.var_store(),
        "g.0.weight",
        &(&variables["g.0.weight"] * 2.0 + 0.5),
    );
    spectral_power_iteration(model.var_store()).expect("iteration");
    assert!(!variables[&u_names[0]].allclose(&u0, 1e-6, 1e-6, false));
}
