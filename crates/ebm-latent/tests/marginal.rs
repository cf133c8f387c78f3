//! Marginalisation over z: soft-min bounds and limits, the two-mode example, hand-computed
//! values, penalties, Monte Carlo against quadrature, and gradients.

use ebm_core::{ContinuousSpace, Energy, GradientDescentConfig, Quadrature};
use ebm_latent::{
    FnLatentEnergy, LatentEnergy, LatentSpace, Marginalized, ZPenalty, ZPenaltyConfig,
};
use proptest::prelude::*;
use rstest::rstest;
use tch::{nn, nn::Module, Device, Kind, Tensor};

const CPU: Device = Device::Cpu;

fn column(values: &[f64]) -> Tensor {
    Tensor::from_slice(values).view([values.len() as i64, 1])
}

fn values(t: &Tensor) -> Vec<f64> {
    Vec::try_from(t.to_kind(Kind::Double).view([-1])).expect("values")
}

/// E(y, z) = ½ ‖y − z‖², whatever x.
fn two_modes() -> FnLatentEnergy<impl Fn(&Tensor, &Tensor, &Tensor) -> Tensor> {
    FnLatentEnergy::new(|_x: &Tensor, y: &Tensor, z: &Tensor| {
        (y - z).square().sum_dim_intlist(1, false, None) * 0.5
    })
}

/// F_β(y) of the two-mode energy over z ∈ {−1, +1}, for each y.
fn two_mode_free_energy(ys: &[f64], beta: f64, penalty: ZPenalty) -> Vec<f64> {
    let z = LatentSpace::signs(Kind::Double, CPU).expect("signs");
    let f = Marginalized::new(two_modes(), z, beta, penalty).expect("valid");
    let x = Tensor::zeros([ys.len() as i64, 1], (Kind::Double, CPU));
    values(&f.energy(&x, &column(ys)).expect("F"))
}

/// E(x, z) = table[x, z]: x and z hold a row and a column index (y is ignored).
fn table_energy(table: Tensor) -> FnLatentEnergy<impl Fn(&Tensor, &Tensor, &Tensor) -> Tensor> {
    let k = table.size()[1];
    FnLatentEnergy::new(move |x: &Tensor, _y: &Tensor, z: &Tensor| {
        let flat = (x.view([-1]) * k as f64 + z.view([-1])).to_kind(Kind::Int64);
        table.view([-1]).index_select(0, &flat)
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// min E − log(K)/β ≤ F_β ≤ min E, F_β rises with β, and F_∞ = min E.
    #[test]
    fn soft_min_is_below_the_minimum_and_tends_to_it(
        (b, k, entries) in (1usize..4, 1usize..8)
            .prop_flat_map(|(b, k)| (Just(b), Just(k), proptest::collection::vec(-20.0f64..20.0, b * k))),
        beta in 0.05f64..10.0,
    ) {
        let table = Tensor::from_slice(&entries).view([b as i64, k as i64]);
        let z = LatentSpace::finite(column(&(0..k).map(|i| i as f64).collect::<Vec<_>>())).expect("Z");
        let mut f = Marginalized::new(table_energy(table), z, beta, ZPenalty::NONE).expect("valid");
        let x = column(&(0..b).map(|i| i as f64).collect::<Vec<_>>());
        let y = Tensor::zeros([b as i64, 1], (Kind::Double, CPU));
        let mut at = |beta: f64| { f.beta = beta; values(&f.energy(&x, &y).expect("F")) };
        let (soft, colder, cold, hard) = (at(beta), at(10.0 * beta), at(1e6), at(f64::INFINITY));
        let log_k = (k as f64).ln();
        for row in 0..b {
            let min = entries[row * k..(row + 1) * k].iter().copied().fold(f64::INFINITY, f64::min);
            prop_assert!(soft[row] <= min + 1e-9, "F = {} > min = {min}", soft[row]);
            prop_assert!(soft[row] >= min - log_k / beta - 1e-9);
            prop_assert!(soft[row] <= colder[row] + 1e-9, "not monotone in beta");
            prop_assert!((cold[row] - min).abs() <= log_k / 1e6 + 1e-9);
            prop_assert_eq!(hard[row], min);
        }
    }

    /// With z ∈ {−1, +1} and E = ½ (y − z)², F_β(y) = F_β(−y), with or without a penalty.
    #[test]
    fn two_mode_free_energy_is_symmetric(
        y in -4.0f64..4.0,
        beta in 0.05f64..50.0,
        weight in 0.0f64..2.0,
        which in 0usize..3,
    ) {
        let penalty = [ZPenaltyConfig::None, ZPenaltyConfig::L1(weight), ZPenaltyConfig::L2(weight)][which]
            .check()
            .expect("valid");
        let f = two_mode_free_energy(&[y, -y], beta, penalty);
        prop_assert!((f[0] - f[1]).abs() < 1e-12, "F({y}) = {} but F({}) = {}", f[0], -y, f[1]);
    }
}

/// At β = 20 gradient descent on F_β finds exactly two minima, within 1e-3 of ±1 (the exact
/// ones solve y = tanh(β y): ±(1 − 4e-18)); at β = 0.5 < 1 the only minimum is y = 0.
#[rstest]
#[case(20.0, vec![-1.0, 1.0])]
#[case(0.5, vec![0.0])]
fn two_mode_minima_by_gradient_descent(#[case] beta: f64, #[case] expected: Vec<f64>) {
    tch::manual_seed(7);
    let z = LatentSpace::signs(Kind::Double, CPU).expect("signs");
    let f = Marginalized::new(two_modes(), z, beta, ZPenalty::NONE).expect("valid");
    let gd = GradientDescentConfig {
        restarts: 16,
        init_scale: 2.0,
        ..GradientDescentConfig::default()
    }
    .check()
    .expect("valid");
    let x = Tensor::zeros([1, 1], (Kind::Double, CPU));
    let minima = gd
        .minimize(&f, &x, &ContinuousSpace::real(1).expect("R"))
        .expect("descent");
    let mut found: Vec<f64> = minima.distinct[0].iter().map(|m| m.y[0]).collect();
    found.sort_by(f64::total_cmp);
    assert_eq!(found.len(), expected.len(), "minima found: {found:?}");
    for (y, want) in found.iter().zip(&expected) {
        assert!(
            (y - want).abs() < 1e-3,
            "minima {found:?}, expected {expected:?}"
        );
    }
}

/// On a grid of step 0.001 over [−3, 3] at β = 20, F_β has exactly two local minima, at ±1.
#[test]
fn two_mode_minima_on_a_fine_grid() {
    let ys: Vec<f64> = (0..=6000).map(|i| -3.0 + i as f64 * 0.001).collect();
    let f = two_mode_free_energy(&ys, 20.0, ZPenalty::NONE);
    let minima: Vec<f64> = (1..ys.len() - 1)
        .filter(|&i| f[i] < f[i - 1] && f[i] < f[i + 1])
        .map(|i| ys[i])
        .collect();
    assert_eq!(minima.len(), 2, "local minima at {minima:?}");
    assert!((minima[0] + 1.0).abs() < 1e-3 && (minima[1] - 1.0).abs() < 1e-3);
}

/// F_β by hand for E = ½ (y − z)²:
/// Z = {0, 1, 3}, y = 1: energies {½, 0, 2}, F₁ = −log(e^−½ + 1 + e^−2),
/// F₂ = −½ log(e^−1 + 1 + e^−4); Z = {−1, +1}, y = ½: energies {9/8, 1/8},
/// F₁ = −log(e^−9/8 + e^−1/8), F₂ = −½ log(e^−9/4 + e^−1/4); with an L2 penalty ½ z² on
/// {0, 1, 3}: energies {½, ½, 13/2}, F₁ = −log(2 e^−½ + e^−13/2), F₂ = −½ log(2 e^−1 + e^−13).
#[rstest]
#[case(&[0.0, 1.0, 3.0], 1.0, 1.0, ZPenalty::NONE, -0.554_956_919_641_990_6)]
#[case(&[0.0, 1.0, 3.0], 1.0, 2.0, ZPenalty::NONE, -0.163_281_320_633_735_24)]
#[case(&[0.0, 1.0, 3.0], 1.0, f64::INFINITY, ZPenalty::NONE, 0.0)]
#[case(&[-1.0, 1.0], 0.5, 1.0, ZPenalty::NONE, -0.188_261_687_518_222_9)]
#[case(&[-1.0, 1.0], 0.5, 2.0, ZPenalty::NONE, 0.061_535_994_478_513_74)]
#[case(&[-1.0, 1.0], 0.5, f64::INFINITY, ZPenalty::NONE, 0.125)]
#[case(&[0.0, 1.0, 3.0], 1.0, 1.0, ZPenalty::l2(0.5).expect("valid"), -0.194_385_789_255_727_53)]
#[case(&[0.0, 1.0, 3.0], 1.0, 2.0, ZPenalty::l2(0.5).expect("valid"), 0.153_424_873_669_298_44)]
fn free_energy_by_hand(
    #[case] set: &[f64],
    #[case] y: f64,
    #[case] beta: f64,
    #[case] penalty: ZPenalty,
    #[case] expected: f64,
) {
    let z = LatentSpace::finite(column(set)).expect("Z");
    let f = Marginalized::new(two_modes(), z, beta, penalty).expect("valid");
    let x = Tensor::zeros([1, 1], (Kind::Double, CPU));
    let value = values(&f.energy(&x, &column(&[y])).expect("F"))[0];
    assert!(
        (value - expected).abs() < 1e-12,
        "F = {value}, expected {expected}"
    );
}

/// The penalty adds exactly λ‖z‖₁ or λ‖z‖² to every energy over z:
/// z = (1, −2), (½, 0), (0, 0) have ‖z‖₁ = 3, ½, 0 and ‖z‖² = 5, ¼, 0.
#[rstest]
#[case(ZPenalty::NONE, [0.0, 0.0, 0.0])]
#[case(ZPenalty::l1(0.3).expect("valid"), [0.9, 0.15, 0.0])]
#[case(ZPenalty::l2(0.3).expect("valid"), [1.5, 0.075, 0.0])]
#[case(ZPenalty::l1(0.0).expect("valid"), [0.0, 0.0, 0.0])]
#[case(ZPenalty::l2(2.0).expect("valid"), [10.0, 0.5, 0.0])]
fn penalties_add_exactly_the_norm(#[case] penalty: ZPenalty, #[case] added: [f64; 3]) {
    let points = Tensor::from_slice(&[1.0f64, -2.0, 0.5, 0.0, 0.0, 0.0]).view([3, 2]);
    // An energy that depends on x, y and z, so the penalty is not the only term.
    let energy = FnLatentEnergy::with_z_dim(
        |x: &Tensor, y: &Tensor, z: &Tensor| {
            ((y - z).square() + x * z).sum_dim_intlist(1, false, None)
        },
        2,
    );
    let plain = Marginalized::new(
        &energy,
        LatentSpace::finite(points.copy()).expect("Z"),
        1.0,
        ZPenalty::NONE,
    )
    .expect("valid");
    let penalised = Marginalized::new(
        &energy,
        LatentSpace::finite(points.copy()).expect("Z"),
        1.0,
        penalty,
    )
    .expect("valid");
    let x = Tensor::from_slice(&[0.5f64, -1.0, 2.0, 0.0]).view([2, 2]);
    let y = Tensor::from_slice(&[1.0f64, 1.0, -0.5, 3.0]).view([2, 2]);
    let before = values(&plain.energies_over_z(&x, &y).expect("E"));
    let after = values(&penalised.energies_over_z(&x, &y).expect("E'"));
    assert_eq!(before.len(), 6);
    for (i, (a, b)) in after.iter().zip(&before).enumerate() {
        let want = added[i % 3];
        assert!(
            (a - b - want).abs() < 1e-12,
            "z_{}: added {}, expected {want}",
            i % 3,
            a - b
        );
    }
    let direct = values(&penalty.value(&points).expect("P(z)"));
    for (got, want) in direct.iter().zip(added) {
        assert!((got - want).abs() < 1e-12);
    }
}

/// E(y, z) = ½ (y − z)² + ¼ z²: not Gaussian in z once restricted to a box.
fn tilted() -> FnLatentEnergy<impl Fn(&Tensor, &Tensor, &Tensor) -> Tensor> {
    FnLatentEnergy::new(|_x: &Tensor, y: &Tensor, z: &Tensor| {
        ((y - z).square() * 0.5 + z.square() * 0.25).sum_dim_intlist(1, false, None)
    })
}

fn free_energies<E: LatentEnergy>(f: &Marginalized<E>, ys: &[f64]) -> Vec<f64> {
    let x = Tensor::zeros([ys.len() as i64, 1], (Kind::Double, CPU));
    values(&f.energy(&x, &column(ys)).expect("F"))
}

/// Mean |F_MC − F_quadrature| over 3 rows and 5 seeds, for a Monte-Carlo space of `samples`.
fn monte_carlo_error(space: ContinuousSpace, scale: f64, samples: usize, reference: &[f64]) -> f64 {
    let ys = [-1.0, 0.0, 0.7];
    let mc = LatentSpace::monte_carlo(space, samples, scale).expect("MC");
    let f = Marginalized::new(tilted(), mc, 1.0, ZPenalty::NONE).expect("valid");
    let mut total = 0.0;
    for seed in 0..5 {
        tch::manual_seed(seed);
        let estimate = free_energies(&f, &ys);
        total += estimate
            .iter()
            .zip(reference)
            .map(|(a, b)| (a - b).abs())
            .sum::<f64>();
    }
    total / 15.0
}

/// Monte Carlo converges to the quadrature value of the same integral: uniform draws in
/// [−3, 3] against a 4000-cell grid on [−3, 3], and Gaussian importance sampling on R
/// (proposal N(0, 2²)) against a grid on [−12, 12], which holds all but e^−36 of the mass.
/// The standard error shrinks as 1/√S, so 1000× the draws must cut the error by far more than
/// 5×; at 100 000 draws it is about 0.002, bounded here by 0.01.
#[rstest]
#[case(ContinuousSpace::Box { dim: 1, lo: -3.0, hi: 3.0 }, 1.0, (-3.0, 3.0))]
#[case(ContinuousSpace::Real { dim: 1 }, 2.0, (-12.0, 12.0))]
fn monte_carlo_approaches_quadrature(
    #[case] space: ContinuousSpace,
    #[case] scale: f64,
    #[case] grid: (f64, f64),
) {
    let ys = [-1.0, 0.0, 0.7];
    let quadrature = Quadrature::grid_1d(grid.0, grid.1, 4000, Kind::Double, CPU).expect("grid");
    let exact = Marginalized::new(
        tilted(),
        LatentSpace::Quadrature(quadrature),
        1.0,
        ZPenalty::NONE,
    )
    .expect("valid");
    let reference = free_energies(&exact, &ys);
    let coarse = monte_carlo_error(space, scale, 100, &reference);
    let fine = monte_carlo_error(space, scale, 100_000, &reference);
    assert!(fine < 0.01, "error at 100 000 samples: {fine}");
    assert!(
        fine < coarse / 5.0,
        "error at 100 000 samples {fine} vs at 100 samples {coarse}"
    );
}

/// Integrals known in closed form: a zero energy over a box of length 2 gives F = −log(2)/β
/// (exact for quadrature and for uniform Monte Carlo at any S), and E = ½ z² on R with the
/// proposal N(0, 1) gives every importance weight √(2π), so F₁ = −½ log(2π) at any S.
#[rstest]
#[case(LatentSpace::Quadrature(Quadrature::grid_1d(1.0, 3.0, 7, Kind::Double, CPU).expect("grid")), 0.0, 3.0, -(2f64.ln()) / 3.0)]
#[case(LatentSpace::monte_carlo(ContinuousSpace::Box { dim: 1, lo: 1.0, hi: 3.0 }, 13, 1.0).expect("MC"), 0.0, 3.0, -(2f64.ln()) / 3.0)]
#[case(LatentSpace::monte_carlo(ContinuousSpace::Real { dim: 1 }, 13, 1.0).expect("MC"), 0.5, 1.0, -0.918_938_533_204_672_7)]
fn log_volume_and_importance_weights_by_hand(
    #[case] space: LatentSpace,
    #[case] curvature: f64,
    #[case] beta: f64,
    #[case] expected: f64,
) {
    tch::manual_seed(3);
    let energy = FnLatentEnergy::new(move |_x: &Tensor, _y: &Tensor, z: &Tensor| {
        z.square().sum_dim_intlist(1, false, None) * curvature
    });
    let f = Marginalized::new(energy, space, beta, ZPenalty::NONE).expect("valid");
    for value in free_energies(&f, &[0.0, 5.0]) {
        assert!(
            (value - expected).abs() < 1e-12,
            "F = {value}, expected {expected}"
        );
    }
}

/// A small tch::nn latent energy: E = ½ ‖G_x(x) + G_z(z) − y‖², G linear.
fn linear_latent(vs: &nn::VarStore) -> impl LatentEnergy {
    let root = vs.root();
    let gx = nn::linear(&root / "gx", 2, 3, Default::default());
    let gz = nn::linear(&root / "gz", 1, 3, Default::default());
    FnLatentEnergy::with_z_dim(
        move |x: &Tensor, y: &Tensor, z: &Tensor| {
            (gx.forward(x) + gz.forward(z) - y)
                .square()
                .sum_dim_intlist(1, false, None)
                * 0.5
        },
        1,
    )
}

fn grads_are_finite_and_nonzero(vs: &nn::VarStore) {
    for (name, var) in vs.variables() {
        let grad = var.grad();
        assert!(grad.defined(), "{name} has no gradient");
        let g = values(&grad);
        assert!(g.iter().all(|v| v.is_finite()), "{name}: {g:?}");
        assert!(g.iter().any(|v| *v != 0.0), "{name} has a zero gradient");
    }
}

/// Parameter gradients flow through F_β at finite β (sum over a finite Z) and at β = ∞ by
/// enumeration, and reach y too.
#[rstest]
#[case(1.0)]
#[case(f64::INFINITY)]
fn parameter_gradients_flow_through_the_soft_min(#[case] beta: f64) {
    tch::manual_seed(11);
    let vs = nn::VarStore::new(CPU);
    let z = LatentSpace::finite(column(&[-1.0, 0.0, 1.0]).to_kind(Kind::Float)).expect("Z");
    let f = Marginalized::new(
        linear_latent(&vs),
        z,
        beta,
        ZPenalty::l1(0.1).expect("valid"),
    )
    .expect("valid");
    let x = Tensor::randn([5, 2], (Kind::Float, CPU));
    let y = Tensor::randn([5, 3], (Kind::Float, CPU)).set_requires_grad(true);
    let loss = f.energy(&x, &y).expect("F").mean(Kind::Float);
    loss.backward();
    grads_are_finite_and_nonzero(&vs);
    assert!(values(&y.grad()).iter().any(|v| *v != 0.0));
}

/// At β = ∞ over a continuous z the gradient-descent search touches no parameter gradient and
/// returns a ẑ with no graph; the energy recomputed at ẑ carries the gradient of min_z E,
/// checked against the autograd gradient of min_z E in closed form (E is quadratic in z:
/// with r₀ = G_x(x) + b_z − y and w = W_z, ẑ = −(w·r₀)/(w·w)).
#[test]
fn continuous_search_leaves_no_graph_and_the_energy_stays_differentiable() {
    tch::manual_seed(5);
    // In f64, so that the 1e-4 comparisons below test the search, not float32 rounding.
    let mut vs = nn::VarStore::new(CPU);
    let energy = linear_latent(&vs);
    vs.double();
    let gd = GradientDescentConfig {
        restarts: 2,
        steps: 400,
        ..GradientDescentConfig::default()
    }
    .check()
    .expect("valid");
    let z = LatentSpace::continuous(ContinuousSpace::real(1).expect("R"), gd).expect("z");
    let f = Marginalized::new(&energy, z, f64::INFINITY, ZPenalty::NONE).expect("valid");
    let x = Tensor::randn([4, 2], (Kind::Double, CPU));
    let y = Tensor::randn([4, 3], (Kind::Double, CPU));

    let best = f.argmin_z(&x, &y).expect("argmin");
    assert!(!best.z.requires_grad(), "ẑ carries a graph");
    for (name, var) in vs.variables() {
        assert!(!var.grad().defined(), "the search touched {name}.grad");
    }
    let value = f.energy(&x, &y).expect("F");
    for (name, var) in vs.variables() {
        assert!(!var.grad().defined(), "energy() touched {name}.grad");
    }
    let diff = values(&(&value - &best.energy).abs());
    assert!(
        diff.iter().all(|d| *d < 1e-5),
        "energy() and argmin_z disagree: {diff:?}"
    );

    let vars = vs.variables();
    let closed_form_min = || {
        let r0 = x.matmul(&vars["gx.weight"].tr()) + &vars["gx.bias"] + &vars["gz.bias"] - &y;
        let w = vars["gz.weight"].view([1, 3]);
        let z_hat = -(&r0 * &w).sum_dim_intlist(1, true, None) / (&w * &w).sum(Kind::Double);
        let e = (r0 + z_hat.matmul(&w))
            .square()
            .sum_dim_intlist(1, false, None)
            * 0.5;
        (z_hat, e)
    };
    let (z_exact, e_exact) = closed_form_min();
    let gap = values(&(&best.z - z_exact).abs());
    assert!(
        gap.iter().all(|g| *g < 1e-4),
        "ẑ off the closed form by {gap:?}"
    );

    value.sum(Kind::Double).backward();
    grads_are_finite_and_nonzero(&vs);
    let through_search: Vec<Vec<f64>> = ["gx.weight", "gx.bias", "gz.weight", "gz.bias"]
        .iter()
        .map(|n| values(&vars[*n].grad()))
        .collect();
    for var in vars.values() {
        let mut grad = var.grad();
        let _ = grad.zero_();
    }
    e_exact.sum(Kind::Double).backward();
    for (i, n) in ["gx.weight", "gx.bias", "gz.weight", "gz.bias"]
        .iter()
        .enumerate()
    {
        let exact = values(&vars[*n].grad());
        for (a, b) in through_search[i].iter().zip(&exact) {
            assert!((a - b).abs() < 1e-3, "{n}: gradient {a} vs closed form {b}");
        }
    }
}
