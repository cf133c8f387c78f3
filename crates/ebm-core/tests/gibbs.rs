//! Free energy, Gibbs probabilities and quadrature.

use ebm_core::{free_energy, free_energy_weighted, gibbs_probabilities, EbmError, Quadrature};
use proptest::prelude::*;
use rstest::rstest;
use tch::{Device, Kind, Tensor};

fn row(values: &[f64]) -> Tensor {
    Tensor::from_slice(values).view([1, values.len() as i64])
}

fn scalar(t: Tensor) -> f64 {
    f64::try_from(t.view([-1]).get(0)).expect("scalar")
}

#[rstest]
#[case(&[0.0, 1.0], 1.0, -0.313_261_687_518_222_8)]
#[case(&[0.0, 1.0], f64::INFINITY, 0.0)]
#[case(&[2.0, 2.0], 1.0, 2.0 - std::f64::consts::LN_2)]
#[case(&[1.0, 3.0, -1.0], 0.5, -2.0 * ((-0.5f64).exp() + (-1.5f64).exp() + 0.5f64.exp()).ln())]
#[case(&[1.0, 3.0, -1.0], f64::INFINITY, -1.0)]
fn free_energy_by_hand(#[case] energies: &[f64], #[case] beta: f64, #[case] expected: f64) {
    let f = scalar(free_energy(&row(energies), beta, 1).expect("free energy"));
    assert!((f - expected).abs() < 1e-7, "F = {f}, expected {expected}");
}

#[test]
fn the_seed_value_at_beta_one() {
    let f = scalar(free_energy(&row(&[0.0, 1.0]), 1.0, 1).expect("free energy"));
    assert!((f - (-0.313_261_7)).abs() < 1e-7);
}

#[rstest]
#[case(&[0.0, 1.0], 1.0, &[0.731_058_578_630_004_9, 0.268_941_421_369_995_1])]
#[case(&[1.0, 1.0, 5.0], f64::INFINITY, &[0.5, 0.5, 0.0])]
fn probabilities_by_hand(#[case] energies: &[f64], #[case] beta: f64, #[case] expected: &[f64]) {
    let p: Vec<f64> = Vec::try_from(
        gibbs_probabilities(&row(energies), beta, 1)
            .expect("p")
            .view([-1]),
    )
    .expect("vec");
    for (a, b) in p.iter().zip(expected) {
        assert!((a - b).abs() < 1e-12, "{p:?} vs {expected:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn free_energy_is_below_the_minimum_and_rises_to_it(
        energies in proptest::collection::vec(-50.0f64..50.0, 1..12),
        beta in 0.01f64..10.0,
    ) {
        let e = row(&energies);
        let min = energies.iter().copied().fold(f64::INFINITY, f64::min);
        let k = energies.len() as f64;
        let f = scalar(free_energy(&e, beta, 1).expect("F"));
        prop_assert!(f <= min + 1e-9, "F = {f} > min = {min}");
        // min E − log(K)/β ≤ F_β: the gap closes as β grows.
        prop_assert!(f >= min - k.ln() / beta - 1e-9);
        let f_hotter = scalar(free_energy(&e, beta * 0.5, 1).expect("F"));
        let f_colder = scalar(free_energy(&e, beta * 10.0, 1).expect("F"));
        prop_assert!(f_hotter <= f + 1e-9 && f <= f_colder + 1e-9, "not monotone in beta");
        let f_cold = scalar(free_energy(&e, 1e6, 1).expect("F"));
        prop_assert!((f_cold - min).abs() <= k.ln() / 1e6 + 1e-9);
    }

    #[test]
    fn probabilities_sum_to_one_and_order_inversely_to_energy(
        energies in proptest::collection::vec(-20.0f64..20.0, 2..10),
        beta in 0.05f64..5.0,
    ) {
        let p: Vec<f64> = Vec::try_from(gibbs_probabilities(&row(&energies), beta, 1).expect("p").view([-1])).expect("vec");
        let total: f64 = p.iter().sum();
        prop_assert!((total - 1.0).abs() < 1e-9);
        for i in 0..energies.len() {
            for j in 0..energies.len() {
                if energies[i] < energies[j] {
                    prop_assert!(p[i] >= p[j], "E {} < {} but P {} < {}", energies[i], energies[j], p[i], p[j]);
                }
            }
        }
    }
}

#[test]
fn quadrature_integrates_a_gaussian_in_one_and_two_dimensions() {
    // ∫ e^(−y²/2) dy = √(2π), so F_1 = −log √(2π).
    let q = Quadrature::grid_1d(-8.0, 8.0, 400, Kind::Double, Device::Cpu).expect("grid");
    let e = (q.points.square() * 0.5).view([1, -1]);
    let f = scalar(free_energy_weighted(&e, &q.log_weights().expect("w"), 1.0, 1).expect("F"));
    let expected = -0.5 * (2.0 * std::f64::consts::PI).ln();
    assert!((f - expected).abs() < 1e-6, "{f} vs {expected}");

    let q = Quadrature::grid_2d(
        [-8.0, -8.0],
        [8.0, 8.0],
        [120, 160],
        Kind::Double,
        Device::Cpu,
    )
    .expect("grid");
    assert_eq!(q.points.size(), vec![120 * 160, 2]);
    let e = (q.points.square().sum_dim_intlist(1, false, None) * 0.5).view([1, -1]);
    let f = scalar(free_energy_weighted(&e, &q.log_weights().expect("w"), 1.0, 1).expect("F"));
    let expected = -(2.0 * std::f64::consts::PI).ln();
    assert!((f - expected).abs() < 1e-5, "{f} vs {expected}");
}

#[test]
fn bad_beta_and_nan_energies_are_errors() {
    let e = row(&[0.0, 1.0]);
    for beta in [0.0, -1.0, f64::NAN, f64::NEG_INFINITY] {
        let err = free_energy(&e, beta, 1).expect_err("bad beta");
        assert!(
            matches!(&err, EbmError::Hyperparameter { name, .. } if name == "beta"),
            "{err}"
        );
        assert!(gibbs_probabilities(&e, beta, 1).is_err());
    }
    let nan = row(&[0.0, f64::NAN]);
    assert!(matches!(
        free_energy(&nan, 1.0, 1),
        Err(EbmError::NonFinite { .. })
    ));
    assert!(matches!(
        free_energy(&e, 1.0, 3),
        Err(EbmError::Shape { .. })
    ));
    let empty = Tensor::zeros([2, 0], (Kind::Double, Device::Cpu));
    assert!(matches!(
        free_energy(&empty, 1.0, 1),
        Err(EbmError::EmptyCandidates(_))
    ));
    assert!(matches!(
        Quadrature::grid_1d(1.0, 1.0, 10, Kind::Double, Device::Cpu),
        Err(EbmError::Hyperparameter { .. })
    ));
}
