//! The stabilisers by hand: IBC's gradient penalty is zero within its margin and the squared
//! excess of the ∞-norm beyond it, differentiable in W; the L2 penalty is the mean square.

use ebm_core::FnEnergy;
use ebm_loss::{energy_magnitude_penalty, gradient_penalty};
use proptest::prelude::*;
use tch::{Device, Kind, Tensor};

fn floats(t: &Tensor) -> Vec<f64> {
    Vec::<f64>::try_from(t.to_kind(Kind::Double).flatten(0, -1)).expect("floats")
}

/// E(x, y) = Σ_j a_j·y_j: ∇_y E = a everywhere, ‖∇_y E‖_∞ = max_j |a_j|.
fn linear(a: &[f64]) -> FnEnergy<impl Fn(&Tensor, &Tensor) -> Tensor> {
    let a = Tensor::from_slice(a).to_kind(Kind::Double);
    FnEnergy::new(move |_x: &Tensor, y: &Tensor| (y * &a).sum_dim_intlist(1, false, None))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn the_gradient_penalty_is_zero_within_the_margin_and_the_squared_excess_beyond(
        a in proptest::collection::vec(-3.0f64..3.0, 1..5),
        margin in 0.0f64..2.0,
        k in 1i64..6,
        rows in 1i64..4,
    ) {
        let d = a.len() as i64;
        let e = linear(&a);
        let x = Tensor::zeros([rows, 1], (Kind::Double, Device::Cpu));
        let ys = Tensor::randn([rows, k, d], (Kind::Double, Device::Cpu));
        let p = floats(&gradient_penalty(&e, &x, &ys, margin).expect("penalty"));
        let norm = a.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let expected = (norm - margin).max(0.0).powi(2);
        prop_assert_eq!(p.len(), rows as usize);
        for v in p {
            if norm <= margin {
                prop_assert_eq!(v, 0.0);
            } else {
                prop_assert!((v - expected).abs() < 1e-12, "{} vs {}", v, expected);
            }
        }
    }
}

#[test]
fn the_gradient_penalty_is_differentiable_in_the_weights() {
    // E = w·Σ y with w = 3, margin 1: penalty (|w| − 1)² = 4, d/dw = 2(|w| − 1) = 4.
    let w = Tensor::from_slice(&[3.0f64]).set_requires_grad(true);
    let weight = w.shallow_clone();
    let e =
        FnEnergy::new(move |_x: &Tensor, y: &Tensor| y.sum_dim_intlist(1, false, None) * &weight);
    let x = Tensor::zeros([2, 1], (Kind::Double, Device::Cpu));
    let ys = Tensor::ones([2, 3, 2], (Kind::Double, Device::Cpu));
    let p = gradient_penalty(&e, &x, &ys, 1.0).expect("penalty");
    assert_eq!(floats(&p), vec![4.0, 4.0]);
    p.mean(Kind::Double).backward();
    let g = floats(&w.grad())[0];
    assert!((g - 4.0).abs() < 1e-12, "{g}");
}

#[test]
fn the_energy_magnitude_penalty_is_the_mean_square_per_row() {
    let e = Tensor::from_slice(&[1.0f64, -2.0, 3.0, 0.0, 0.5, -0.5]).view([2, 3]);
    let p = floats(&energy_magnitude_penalty(&e).expect("penalty"));
    assert!((p[0] - 14.0 / 3.0).abs() < 1e-12 && (p[1] - 0.5 / 3.0).abs() < 1e-12);
}

#[test]
fn bad_penalty_inputs_are_errors() {
    let e = linear(&[1.0]);
    let x = Tensor::zeros([2, 1], (Kind::Double, Device::Cpu));
    let ys = Tensor::zeros([2, 3, 1], (Kind::Double, Device::Cpu));
    let err = gradient_penalty(&e, &x, &ys, -1.0)
        .expect_err("negative margin")
        .to_string();
    assert!(err.contains("margin"), "{err}");
    let flat = Tensor::zeros([2, 1], (Kind::Double, Device::Cpu));
    let err = gradient_penalty(&e, &x, &flat, 1.0)
        .expect_err("no K")
        .to_string();
    assert!(err.contains("[2, K >= 1, d]"), "{err}");
    let empty = Tensor::zeros([2, 0], (Kind::Double, Device::Cpu));
    assert!(energy_magnitude_penalty(&empty).is_err());
}
