//! The most offending incorrect answer: brute force on a finite Y, the other well of a
//! two-well energy on a continuous Y, and gradients that reach W but not the search.

use ebm_core::{ContinuousSpace, Energy, FnEnergy, GradientDescent, GradientDescentConfig};
use ebm_loss::{most_offending_continuous, most_offending_finite, most_offending_finite_masked};
use proptest::prelude::*;
use proptest::test_runner::RngSeed;
use tch::{Device, Kind, Tensor};

fn table(rows: &[Vec<f64>]) -> Tensor {
    let k = rows[0].len() as i64;
    let flat: Vec<f64> = rows.iter().flatten().copied().collect();
    Tensor::from_slice(&flat).view([rows.len() as i64, k])
}

/// Brute force: the lowest energy among the answers that are not correct.
fn brute_force(rows: &[Vec<f64>], correct: &[Vec<bool>]) -> Vec<f64> {
    rows.iter()
        .zip(correct)
        .map(|(row, mask)| {
            row.iter()
                .zip(mask)
                .filter(|(_, &c)| !c)
                .map(|(&e, _)| e)
                .fold(f64::INFINITY, f64::min)
        })
        .collect()
}

fn rows_and_labels() -> impl Strategy<Value = (Vec<Vec<f64>>, Vec<i64>)> {
    (2usize..7, 1usize..9).prop_flat_map(|(k, b)| {
        (
            prop::collection::vec(prop::collection::vec(-1e4f64..1e4, k), b),
            prop::collection::vec(0..k as i64, b),
        )
    })
}

fn rows_and_masks() -> impl Strategy<Value = (Vec<Vec<f64>>, Vec<Vec<bool>>)> {
    (2usize..7, 1usize..9).prop_flat_map(|(k, b)| {
        (
            // Small integers: ties are common, so the test sees them.
            prop::collection::vec(prop::collection::vec((-3i32..4).prop_map(f64::from), k), b),
            prop::collection::vec(
                (prop::collection::vec(any::<bool>(), k), 0..k).prop_map(|(mut m, free)| {
                    m[free] = false; // at least one incorrect answer per row
                    m
                }),
                b,
            ),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 64,
        rng_seed: RngSeed::Fixed(3),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn finite_most_offending_matches_brute_force((rows, labels) in rows_and_labels()) {
        let e_all = table(&rows);
        let found = most_offending_finite(&e_all, &Tensor::from_slice(&labels)).expect("search");
        let index: Vec<i64> = Vec::try_from(&found.index).expect("index");
        let energy: Vec<f64> = Vec::try_from(&found.energy).expect("energy");
        let masks: Vec<Vec<bool>> = labels
            .iter()
            .map(|&l| (0..rows[0].len() as i64).map(|j| j == l).collect())
            .collect();
        let expected = brute_force(&rows, &masks);
        for b in 0..rows.len() {
            prop_assert_ne!(index[b], labels[b], "row {} returned the correct label", b);
            prop_assert_eq!(energy[b], expected[b], "row {}", b);
            prop_assert_eq!(rows[b][index[b] as usize], energy[b], "row {}: index and energy disagree", b);
        }
    }

    #[test]
    fn masked_most_offending_matches_brute_force((rows, masks) in rows_and_masks()) {
        let e_all = table(&rows);
        let flat: Vec<bool> = masks.iter().flatten().copied().collect();
        let mask = Tensor::from_slice(&flat).view([rows.len() as i64, rows[0].len() as i64]);
        let found = most_offending_finite_masked(&e_all, &mask).expect("search");
        let index: Vec<i64> = Vec::try_from(&found.index).expect("index");
        let energy: Vec<f64> = Vec::try_from(&found.energy).expect("energy");
        let expected = brute_force(&rows, &masks);
        for b in 0..rows.len() {
            prop_assert!(!masks[b][index[b] as usize], "row {} returned a correct answer", b);
            prop_assert_eq!(energy[b], expected[b], "row {}", b);
            prop_assert_eq!(rows[b][index[b] as usize], energy[b], "row {}", b);
        }
    }
}

#[test]
fn finite_e_incorrect_carries_the_gradient_of_the_table() {
    let e_all = table(&[vec![0.0, 1.0, 2.0], vec![5.0, 3.0, 4.0]]).set_requires_grad(true);
    let found = most_offending_finite(&e_all, &Tensor::from_slice(&[0i64, 1])).expect("search");
    assert!(!found.index.requires_grad());
    found.energy.sum(Kind::Double).backward();
    let grad: Vec<f64> = Vec::try_from(e_all.grad().flatten(0, -1)).expect("grad");
    // Row 0: the most offending is answer 1; row 1: answer 2.
    assert_eq!(grad, vec![0.0, 1.0, 0.0, 0.0, 0.0, 1.0]);
}

/// Two wells in y − x: a deep one at −1 and a shallow one near +0.96:
/// E(x, y) = ((y − x)² − 1)² + 0.3 (y − x).
fn two_wells() -> FnEnergy<impl Fn(&Tensor, &Tensor) -> Tensor> {
    FnEnergy::new(|x: &Tensor, y: &Tensor| {
        let u = y - x;
        ((u.square() - 1.0).square() + u * 0.3).sum_dim_intlist(1, false, None)
    })
}

fn descent() -> GradientDescent {
    GradientDescentConfig {
        steps: 300,
        step_size: 0.02,
        ..GradientDescentConfig::default()
    }
    .check()
    .expect("valid")
}

fn distances(a: &Tensor, b: &Tensor) -> Vec<f64> {
    Vec::try_from((a - b).abs().flatten(0, -1)).expect("distances")
}

/// The minimum of ((u² − 1)² + 0.3u) near u = ±1: the root of 4u³ − 4u + 0.3 = 0.
fn well(sign: f64) -> f64 {
    let mut u: f64 = sign;
    for _ in 0..50 {
        u -= (4.0 * u.powi(3) - 4.0 * u + 0.3) / (12.0 * u * u - 4.0);
    }
    u
}

#[test]
fn continuous_most_offending_finds_the_other_well_and_never_comes_within_epsilon() {
    tch::manual_seed(0);
    let energy = two_wells();
    let xs = [-2.0, 0.0, 0.5, 3.0];
    let x = Tensor::from_slice(&xs).view([4, 1]);
    let (deep, shallow) = (well(-1.0), well(1.0));
    // Rows 0 and 1 are correct in the deep well, rows 2 and 3 in the shallow one.
    let offsets = [deep, deep, shallow, shallow];
    let yc: Vec<f64> = xs.iter().zip(offsets).map(|(x, o)| x + o).collect();
    let y_correct = Tensor::from_slice(&yc).view([4, 1]);
    let space = ContinuousSpace::real(1).expect("space");
    // One grid per row around its x (the quartic is too steep for fixed steps far out).
    let grid = Tensor::linspace(-2.5, 2.5, 11, (Kind::Double, Device::Cpu)).view([1, 11, 1]);
    let candidates = x.view([4, 1, 1]) + grid;
    for epsilon in [0.6, 0.8] {
        let (y_bar, e_i) = most_offending_continuous(
            &energy,
            &x,
            &y_correct,
            &candidates,
            epsilon,
            &descent(),
            &space,
        )
        .expect("search");
        assert_eq!(y_bar.size(), vec![4, 1]);
        assert!(!y_bar.requires_grad());
        let found: Vec<f64> = Vec::try_from(y_bar.flatten(0, -1)).expect("y");
        for (b, &y) in found.iter().enumerate() {
            let other = xs[b] + if b < 2 { shallow } else { deep };
            assert!(
                (y - other).abs() < 1e-3,
                "eps {epsilon}, row {b}: {y} is not the other well {other}"
            );
        }
        for (b, d) in distances(&y_bar, &y_correct).iter().enumerate() {
            assert!(*d >= epsilon, "row {b} within epsilon: {d}");
        }
        let e_expected = energy.energy(&x, &y_bar).expect("energy");
        assert!(e_i.allclose(&e_expected, 0.0, 0.0, false));
    }
}

#[test]
fn on_a_single_well_the_most_offending_answer_sits_on_the_exclusion_ball() {
    // E = (y − x)², y_i = x: every y at distance ε is equally offending, and nothing closer
    // may be returned. Rounding allows a few ulps below ε.
    tch::manual_seed(1);
    let energy =
        FnEnergy::new(|x: &Tensor, y: &Tensor| (y - x).square().sum_dim_intlist(1, false, None));
    let x = Tensor::from_slice(&[0.0f32, 1.5, -4.0, 20.0]).view([4, 1]);
    let space = ContinuousSpace::real(1).expect("space");
    let candidates = Tensor::linspace(-30.0, 30.0, 31, (Kind::Float, Device::Cpu)).view([31, 1]);
    let epsilon = 0.25;
    let (y_bar, e_i) =
        most_offending_continuous(&energy, &x, &x, &candidates, epsilon, &descent(), &space)
            .expect("search");
    for (b, d) in distances(&y_bar, &x).iter().enumerate() {
        assert!(*d >= epsilon * (1.0 - 1e-5), "row {b}: {d} < {epsilon}");
        assert!(
            *d <= epsilon * (1.0 + 1e-3),
            "row {b}: {d} is not on the ball"
        );
    }
    let e_i: Vec<f32> = Vec::try_from(&e_i).expect("E_I");
    for e in e_i {
        assert!((f64::from(e) - epsilon * epsilon).abs() < 1e-4, "E_I {e}");
    }
}

#[test]
fn per_row_candidates_and_a_box_in_two_dimensions() {
    // E(x, y) = min over two centres c ∈ {x, x + (2, 0)} of ‖y − c‖², written smoothly as
    // ‖y − x‖² ‖y − x − (2, 0)‖²: zero at both centres. y_i = x, so ȳ = x + (2, 0).
    tch::manual_seed(2);
    let energy = FnEnergy::new(|x: &Tensor, y: &Tensor| {
        let shift = Tensor::from_slice(&[2.0f64, 0.0]).view([1, 2]);
        let a = (y - x).square().sum_dim_intlist(1, false, None);
        let b = (y - x - shift).square().sum_dim_intlist(1, false, None);
        a * b
    });
    let x = Tensor::from_slice(&[0.0f64, 0.0, -1.0, 0.5]).view([2, 2]);
    let space = ContinuousSpace::boxed(2, -3.0, 3.0).expect("box");
    let candidates = space
        .sample(2 * 16, 1.0, Kind::Double, Device::Cpu)
        .expect("sample")
        .view([2, 16, 2]);
    let gd = GradientDescentConfig {
        steps: 400,
        step_size: 0.02,
        ..GradientDescentConfig::default()
    }
    .check()
    .expect("valid");
    let (y_bar, e_i) =
        most_offending_continuous(&energy, &x, &x, &candidates, 0.5, &gd, &space).expect("search");
    let expected = &x + Tensor::from_slice(&[2.0f64, 0.0]).view([1, 2]);
    assert!(y_bar.allclose(&expected, 0.0, 1e-3, false), "{y_bar:?}");
    let e_i: Vec<f64> = Vec::try_from(&e_i).expect("E_I");
    assert!(e_i.iter().all(|e| e.abs() < 1e-5), "{e_i:?}");
}

#[test]
fn e_incorrect_is_differentiable_in_w_and_the_search_leaves_w_alone() {
    tch::manual_seed(4);
    // E_w(x, y) = ((y − w x)² − 1)² with a trainable w: wells at y = w x ± 1.
    let w = Tensor::from_slice(&[2.0f64]).set_requires_grad(true);
    let energy = FnEnergy::new(|x: &Tensor, y: &Tensor| {
        let u = y - x * &w;
        (u.square() - 1.0).square().sum_dim_intlist(1, false, None)
    });
    let x = Tensor::from_slice(&[1.0f64]).view([1, 1]);
    let y_correct = Tensor::from_slice(&[1.0f64]).view([1, 1]); // w x − 1: the left well
    let candidates = Tensor::linspace(-0.5, 4.5, 11, (Kind::Double, Device::Cpu)).view([11, 1]);
    let space = ContinuousSpace::real(1).expect("space");
    let (y_bar, e_i) = most_offending_continuous(
        &energy,
        &x,
        &y_correct,
        &candidates,
        0.5,
        &descent(),
        &space,
    )
    .expect("search");
    assert!(!w.grad().defined(), "the search touched w.grad");
    assert!((f64::try_from(y_bar.flatten(0, -1)).expect("y") - 3.0).abs() < 1e-3);
    assert!(e_i.requires_grad());
    // dE/dw at the found ȳ: 4u(u² − 1)·(−x) with u = ȳ − w x; at a minimum u² = 1, so 0 up
    // to the search's precision; move off it to see a real gradient: E(x, ȳ + 0.1).
    let shifted = energy.energy(&x, &(&y_bar + 0.1)).expect("energy");
    shifted.sum(Kind::Double).backward();
    let u = f64::try_from(y_bar.flatten(0, -1)).expect("y") + 0.1 - 2.0;
    let expected = -4.0 * u * (u * u - 1.0);
    let got = f64::try_from(w.grad()).expect("grad");
    assert!(
        (got - expected).abs() < 1e-9,
        "dE/dw = {got}, expected {expected}"
    );
    let mut grad = w.grad();
    let _ = grad.zero_();
    e_i.sum(Kind::Double).backward();
    let at_minimum = f64::try_from(w.grad()).expect("grad");
    assert!(
        at_minimum.is_finite() && at_minimum.abs() < 1e-2,
        "{at_minimum}"
    );
}
