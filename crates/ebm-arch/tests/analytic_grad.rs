//! The MLP's own backward pass (`Mlp::forward_kept` and `Mlp::input_vjp`, behind
//! `Energy::energy_and_grad` of the density and implicit-regression energies) against
//! autograd, in f64, on random networks of every activation, depth, width and batch size,
//! with and without spectral normalisation, and the gradient-only path (`Energy::grad`).

mod common;

use common::seeded;
use ebm_arch::{Activation, DensityConfig, DensityNet, ImplicitRegression, Mlp, MlpConfig, YRange};
use ebm_core::{energy_and_grad_y, Energy, GradientDescentConfig, Result};
use proptest::prelude::*;
use tch::nn::{self, Module};
use tch::{Device, Kind, Tensor};

const ACTIVATIONS: [Activation; 4] = [
    Activation::Softplus,
    Activation::Relu,
    Activation::Tanh,
    Activation::Silu,
];

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f64 {
    f64::try_from((a - b).abs().max()).expect("a number")
}

/// Only `energy`: its gradient comes from the trait's autograd default.
struct ByAutograd<'a, E>(&'a E);

impl<E: Energy> Energy for ByAutograd<'_, E> {
    fn energy(&self, x: &Tensor, y: &Tensor) -> Result<Tensor> {
        self.0.energy(x, y)
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn the_mlps_vector_jacobian_product_is_autograds(
        activation in 0usize..4,
        hidden in proptest::collection::vec(1i64..12, 0..4),
        in_dim in 1i64..6,
        out_dim in 1i64..5,
        batch in 1i64..9,
        spectral_norm in any::<bool>(),
        seed in 0i64..1000,
    ) {
        let _rng = seeded(seed);
        let vs = nn::VarStore::new(Device::Cpu);
        let config = MlpConfig { hidden, activation: ACTIVATIONS[activation], spectral_norm };
        let mlp = Mlp::new(&vs.root(), in_dim, out_dim, &config).expect("an MLP");
        let mut vs = vs;
        vs.double();
        let x = Tensor::randn([batch, in_dim], (Kind::Double, Device::Cpu)) * 2.0;
        let upstream = Tensor::randn([batch, out_dim], (Kind::Double, Device::Cpu));
        // Autograd: ∂(Σ upstream ⊙ MLP(x))/∂x.
        let leaf = x.detach().set_requires_grad(true);
        let total = (mlp.forward(&leaf) * &upstream).sum(Kind::Double);
        let expected = Tensor::run_backward(&[total], &[&leaf], false, false).remove(0);
        let (out, pre) = mlp.forward_kept(&x).expect("forward");
        let got = mlp.input_vjp(pre, &upstream).expect("backward");
        prop_assert!(max_abs_diff(&out, &mlp.forward(&x)) == 0.0);
        prop_assert_eq!(got.size(), vec![batch, in_dim]);
        let diff = max_abs_diff(&got, &expected);
        prop_assert!(diff <= 1e-6, "{:?}: |Δ| {}", config.activation, diff);
        // No graph was built and no parameter gradient was written.
        prop_assert!(!got.requires_grad());
        for p in vs.trainable_variables() {
            prop_assert!(!p.grad().defined() || f64::try_from(p.grad().abs().sum(Kind::Double)).expect("sum") == 0.0);
        }
    }

    #[test]
    fn the_density_energys_gradient_is_autograds(
        activation in 0usize..4,
        dim in 1i64..5,
        batch in 1i64..9,
        seed in 0i64..1000,
    ) {
        let _rng = seeded(seed);
        let config = DensityConfig {
            energy: MlpConfig { hidden: vec![7, 5], activation: ACTIVATIONS[activation], spectral_norm: false },
            ..DensityConfig::default()
        };
        let mut net = DensityNet::new(dim, &config, Device::Cpu).expect("a density");
        net.var_store_mut().double();
        let x = Tensor::zeros([batch, 0], (Kind::Double, Device::Cpu));
        let y = Tensor::randn([batch, dim], (Kind::Double, Device::Cpu));
        let (e, g) = energy_and_grad_y(net.energy(), &x, &y).expect("analytic");
        let (e_ref, g_ref) = energy_and_grad_y(&ByAutograd(net.energy()), &x, &y).expect("autograd");
        prop_assert!(max_abs_diff(&e, &e_ref) <= 1e-12);
        prop_assert!(max_abs_diff(&g, &g_ref) <= 1e-6);
        // Without the energies: the same kernels on the same pre-activations, bit for bit.
        let g_only = net.energy().grad(&x, &y).expect("gradient only");
        prop_assert!(max_abs_diff(&g_only, &g) == 0.0);
    }

    /// In f32, the precision inference runs at, the analytic gradient (with and without the
    /// energies) agrees with f64 autograd to f32's precision, the narrow first layer's
    /// transposed product included (dim 2–4).
    #[test]
    fn the_density_energys_f32_gradient_is_autograds_in_f64(
        activation in 0usize..4,
        dim in 1i64..5,
        batch in 1i64..9,
        seed in 0i64..1000,
    ) {
        let _rng = seeded(seed);
        let config = DensityConfig {
            energy: MlpConfig { hidden: vec![16, 8], activation: ACTIVATIONS[activation], spectral_norm: false },
            ..DensityConfig::default()
        };
        let mut net = DensityNet::new(dim, &config, Device::Cpu).expect("a density");
        let x = Tensor::zeros([batch, 0], (Kind::Float, Device::Cpu));
        let y = Tensor::randn([batch, dim], (Kind::Float, Device::Cpu)) * 3.0;
        let (e, g) = energy_and_grad_y(net.energy(), &x, &y).expect("analytic");
        let g_only = net.energy().grad(&x, &y).expect("gradient only");
        prop_assert!(max_abs_diff(&g_only, &g) == 0.0);
        net.var_store_mut().double();
        let (x64, y64) = (x.to_kind(Kind::Double), y.to_kind(Kind::Double));
        let (e_ref, g_ref) = energy_and_grad_y(&ByAutograd(net.energy()), &x64, &y64).expect("autograd");
        let scale = |t: &Tensor| 1.0 + f64::try_from(t.abs().max()).expect("a number");
        let (de, dg) = (max_abs_diff(&e.to_kind(Kind::Double), &e_ref), max_abs_diff(&g.to_kind(Kind::Double), &g_ref));
        prop_assert!(de <= 2e-6 * scale(&e_ref), "{:?}: energies |Δ| {}", config.energy.activation, de);
        prop_assert!(dg <= 2e-6 * scale(&g_ref), "{:?}: gradients |Δ| {}", config.energy.activation, dg);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn the_implicit_regression_energys_gradient_is_autograds(
        activation in 0usize..4,
        x_dim in 1i64..4,
        y_dim in 1i64..3,
        embed in 1i64..6,
        batch in 1i64..9,
        spectral_norm in any::<bool>(),
        seed in 0i64..1000,
    ) {
        let _rng = seeded(seed);
        let mlp = MlpConfig { hidden: vec![6, 4], activation: ACTIVATIONS[activation], spectral_norm };
        let search = GradientDescentConfig::default().check().expect("valid");
        let mut model = ImplicitRegression::new(
            x_dim, y_dim, embed, &mlp, &mlp, &YRange::default(), search, Device::Cpu,
        )
        .expect("a model");
        ebm_arch::Architecture::var_store_mut(&mut model).double();
        let x = Tensor::randn([batch, x_dim], (Kind::Double, Device::Cpu));
        let y = Tensor::randn([batch, y_dim], (Kind::Double, Device::Cpu));
        let (e, g) = energy_and_grad_y(&model, &x, &y).expect("analytic");
        let (e_ref, g_ref) = energy_and_grad_y(&ByAutograd(&model), &x, &y).expect("autograd");
        prop_assert!(max_abs_diff(&e, &e_ref) <= 1e-12);
        prop_assert!(max_abs_diff(&g, &g_ref) <= 1e-6);
    }
}
