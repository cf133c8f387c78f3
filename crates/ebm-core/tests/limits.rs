//! Where the input or the settings make an answer meaningless, a typed error; where a limit
//! exists, the limit: no silent NaN or infinity from the library.

use ebm_core::{
    free_energy, free_energy_weighted, gibbs_probabilities, ContinuousSpace, EbmError, FnEnergy,
    GradientDescentConfig, LangevinConfig, LangevinStep,
};
use proptest::prelude::*;
use rstest::rstest;
use tch::{Device, Kind, Tensor};

fn row(values: &[f64], kind: Kind) -> Tensor {
    Tensor::from_slice(values).view([1, -1]).to_kind(kind)
}

fn values(t: &Tensor) -> Vec<f64> {
    Vec::try_from(t.to_kind(Kind::Double).flatten(0, -1)).expect("values")
}

/// β too large for the float kind: F_β is min E (its limit), never inf or NaN.
#[rstest]
#[case(Kind::Float, 1e30)]
#[case(Kind::Float, 1e300)]
#[case(Kind::Double, 1e300)]
fn free_energy_at_a_huge_beta_is_the_minimum(#[case] kind: Kind, #[case] beta: f64) {
    let e = row(&[2.0, -1.5, 3.0], kind);
    let f = values(&free_energy(&e, beta, 1).expect("free energy"));
    assert!((f[0] + 1.5).abs() < 1e-6, "F = {f:?}");
    let w = Tensor::from(-0.5f64).to_kind(kind);
    let fw = values(&free_energy_weighted(&e, &w, beta, 1).expect("weighted"));
    assert!((fw[0] + 1.5).abs() < 1e-6, "F = {fw:?}");
}

#[test]
fn free_energy_of_infinite_rows_is_their_limit() {
    let e =
        Tensor::from_slice(&[f64::INFINITY, f64::INFINITY, 1.0, f64::NEG_INFINITY]).view([2, 2]);
    let f = values(&free_energy(&e, 2.0, 1).expect("free energy"));
    assert_eq!(f, [f64::INFINITY, f64::NEG_INFINITY]);
}

#[test]
fn gibbs_probabilities_of_all_infinite_energies_are_an_error() {
    let e = row(&[f64::INFINITY, f64::INFINITY], Kind::Double);
    for beta in [1.0, f64::INFINITY] {
        let err = gibbs_probabilities(&e, beta, 1).expect_err("nothing to normalise");
        assert!(matches!(err, EbmError::NonFinite { .. }), "{err}");
    }
}

#[rstest]
#[case(&[f64::NEG_INFINITY, 0.0, f64::NEG_INFINITY], 1.0, &[0.5, 0.0, 0.5])]
#[case(&[1.0, 2.0], 1e300, &[1.0, 0.0])]
#[case(&[1.0, f64::INFINITY], 1.0, &[1.0, 0.0])]
fn gibbs_probabilities_take_their_limits(
    #[case] energies: &[f64],
    #[case] beta: f64,
    #[case] expected: &[f64],
) {
    for kind in [Kind::Float, Kind::Double] {
        let p = values(&gibbs_probabilities(&row(energies, kind), beta, 1).expect("p"));
        for (got, want) in p.iter().zip(expected) {
            assert!((got - want).abs() < 1e-6, "{kind:?}: {p:?} vs {expected:?}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// For any finite energies and any β > 0 (up to f64's largest), in f32 and f64: the
    /// probabilities are finite, sum to 1, and F_β ≤ min E with F_β finite.
    #[test]
    fn gibbs_and_free_energy_stay_finite_for_any_beta(
        energies in prop::collection::vec(-1e3f64..1e3, 1..12),
        log_beta in -6.0f64..308.0,
        double in any::<bool>(),
    ) {
        let kind = if double { Kind::Double } else { Kind::Float };
        let beta = 10f64.powf(log_beta).min(f64::MAX);
        let e = row(&energies, kind);
        let p = values(&gibbs_probabilities(&e, beta, 1).expect("p"));
        prop_assert!(p.iter().all(|v| v.is_finite() && *v >= 0.0));
        prop_assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-4);
        let f = values(&free_energy(&e, beta, 1).expect("F"))[0];
        let min = values(&e).into_iter().fold(f64::INFINITY, f64::min);
        prop_assert!(f.is_finite());
        prop_assert!(f <= min + 1e-4 * min.abs().max(1.0), "F = {f}, min = {min}");
    }
}

fn langevin(step_size: f64) -> ebm_core::Langevin {
    LangevinConfig {
        step: LangevinStep::Decoupled {
            step_size,
            noise_std: 0.1,
        },
        steps: 50,
        clamp: None,
        grad_clip: None,
    }
    .check()
    .expect("valid")
}

#[test]
fn langevin_refuses_non_finite_starts_and_says_when_chains_diverge() {
    let energy =
        FnEnergy::new(|_x: &Tensor, y: &Tensor| y.square().sum_dim_intlist(1, false, None) * 0.5);
    let x = Tensor::zeros([3, 1], (Kind::Float, Device::Cpu));
    let y0 = Tensor::zeros([3, 1], (Kind::Float, Device::Cpu));
    let _ = langevin(0.1)
        .sample(&energy, &x, &y0)
        .expect("a stable chain");
    let nan_start = Tensor::from_slice(&[0.0f32, f32::NAN, 0.0]).view([3, 1]);
    let err = langevin(0.1)
        .sample(&energy, &x, &nan_start)
        .expect_err("NaN y0");
    assert!(matches!(err, EbmError::NonFinite { .. }), "{err}");
    let nan_x = Tensor::from_slice(&[0.0f32, f32::INFINITY, 0.0]).view([3, 1]);
    let err = langevin(0.1)
        .sample(&energy, &nan_x, &y0)
        .expect_err("inf x");
    assert!(matches!(err, EbmError::NonFinite { .. }), "{err}");
    let ints = Tensor::zeros([3, 1], (Kind::Int64, Device::Cpu));
    let err = langevin(0.1)
        .sample(&energy, &x, &ints)
        .expect_err("Int64 y0");
    assert!(matches!(err, EbmError::Dtype { .. }), "{err}");
    // Step 3 on E = ½y²: y ← −2y each step, |y| grows as 2^50 times the noise, past f32.
    let far = Tensor::full([3, 1], 1e30, (Kind::Float, Device::Cpu));
    let err = langevin(3.0)
        .sample(&energy, &x, &far)
        .expect_err("diverges");
    assert!(
        matches!(&err, EbmError::NonFinite { what, .. } if what.contains("step size")),
        "{err}"
    );
}

#[test]
fn gradient_descent_on_an_energy_unbounded_below_is_an_error() {
    // E(y) = y on R: every descent runs to −∞.
    let energy = FnEnergy::new(|_x: &Tensor, y: &Tensor| y.sum_dim_intlist(1, false, None) * 1e37);
    let gd = GradientDescentConfig {
        steps: 200,
        backtracking: false,
        momentum: 0.9,
        step_size: 1.0,
        ..GradientDescentConfig::default()
    }
    .check()
    .expect("valid");
    let x = Tensor::zeros([2, 1], (Kind::Float, Device::Cpu));
    let err = gd
        .minimize(&energy, &x, &ContinuousSpace::real(1).expect("space"))
        .expect_err("no minimum");
    assert!(
        matches!(&err, EbmError::NonFinite { what, .. } if what.contains("unbounded below")),
        "{err}"
    );
}
