//! Bad input gets a specific error, never a panic or a silent NaN.

use ebm_core::{ContinuousSpace, EbmError, FnEnergy, GradientDescent, GradientDescentConfig};
use ebm_loss::{
    energy_at, energy_spread, most_offending_continuous, most_offending_finite,
    most_offending_finite_masked, Hinge, Loss, LossConfig, LossInput, Lvq2, MinimumEmpiricalError,
    NegativeLogLikelihood, Perceptron, SquareExponential, SquareSquare,
};
use rstest::rstest;
use tch::{Kind, Tensor};

fn t1(v: &[f64]) -> Tensor {
    Tensor::from_slice(v)
}

fn t2(v: &[f64], k: i64) -> Tensor {
    Tensor::from_slice(v).view([-1, k])
}

/// Every loss that reads E_I, and every loss that reads e_all.
fn pair_losses() -> Vec<Box<dyn Loss>> {
    [
        "hinge",
        "log",
        "lvq2",
        "mce",
        "square_square",
        "square_exponential",
    ]
    .iter()
    .map(|kind| build(kind))
    .collect()
}

fn all_losses() -> Vec<Box<dyn Loss>> {
    ["perceptron", "nll", "mee"]
        .iter()
        .map(|kind| build(kind))
        .collect()
}

fn build(kind: &str) -> Box<dyn Loss> {
    LossConfig::all_defaults()
        .into_iter()
        .map(|c| c.build().expect("defaults"))
        .find(|l| l.name() == kind)
        .expect("known kind")
}

#[test]
fn e_correct_must_be_a_float_vector() {
    let ei = t1(&[1.0, 2.0]);
    for loss in pair_losses() {
        let column = t2(&[1.0, 2.0], 1);
        let err = loss
            .per_sample(&LossInput::pair(&column, &ei))
            .expect_err("[B, 1]");
        assert!(
            matches!(err, EbmError::Shape { ref what, .. } if what.contains("e_correct")),
            "{err}"
        );
        let ints = Tensor::from_slice(&[1i64, 2]);
        let err = loss
            .per_sample(&LossInput::pair(&ints, &ei))
            .expect_err("Int64");
        assert!(matches!(err, EbmError::Shape { .. }), "{err}");
        let empty = Tensor::zeros([0], (Kind::Double, tch::Device::Cpu));
        let err = loss
            .per_sample(&LossInput::pair(&empty, &empty))
            .expect_err("B = 0");
        assert!(matches!(err, EbmError::Shape { .. }), "{err}");
    }
}

#[test]
fn e_correct_and_e_incorrect_must_have_the_same_batch() {
    let ec = t1(&[1.0, 2.0, 3.0]);
    let ei = t1(&[1.0, 2.0]);
    for loss in pair_losses() {
        let err = loss
            .per_sample(&LossInput::pair(&ec, &ei))
            .expect_err("3 vs 2");
        assert!(
            matches!(
                err,
                EbmError::BatchMismatch {
                    left: 3,
                    right: 2,
                    ..
                }
            ),
            "{}: {err}",
            loss.name()
        );
        let matrix = t2(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 2);
        let err = loss
            .per_sample(&LossInput::pair(&ec, &matrix))
            .expect_err("[3, 2]");
        assert!(
            matches!(err, EbmError::Shape { .. }),
            "{}: {err}",
            loss.name()
        );
    }
}

#[test]
fn a_loss_that_needs_e_incorrect_says_so() {
    let ec = t1(&[1.0]);
    for loss in pair_losses() {
        let err = loss
            .per_sample(&LossInput::correct(&ec))
            .expect_err("no E_I");
        match err {
            EbmError::Shape { what, expected, .. } => {
                assert!(
                    what.contains(loss.name()) && what.contains("e_incorrect"),
                    "{what}"
                );
                assert!(expected.contains("needs E_I"), "{expected}");
            }
            other => panic!("{}: {other}", loss.name()),
        }
    }
}

#[test]
fn a_loss_that_needs_e_all_says_so() {
    let ec = t1(&[1.0]);
    for loss in all_losses() {
        let err = loss
            .per_sample(&LossInput::correct(&ec))
            .expect_err("no e_all");
        assert!(
            matches!(err, EbmError::Shape { ref what, ref expected, .. }
                if what.contains("e_all") && expected.contains("all of Y")),
            "{}: {err}",
            loss.name()
        );
    }
}

#[rstest]
#[case::batch(t2(&[1.0, 2.0, 3.0, 4.0], 2), "batch")]
#[case::vector(t1(&[1.0, 2.0, 3.0]), "shape")]
#[case::no_column(Tensor::zeros([3, 0], (Kind::Double, tch::Device::Cpu)), "empty")]
#[case::nan(t2(&[1.0, f64::NAN, 0.0, 1.0, 2.0, 3.0], 2), "nan")]
#[case::minus_inf(t2(&[1.0, f64::NEG_INFINITY, 0.0, 1.0, 2.0, 3.0], 2), "inf")]
fn e_all_is_checked(#[case] e_all: Tensor, #[case] problem: &str) {
    let ec = t1(&[1.0, 2.0, 3.0]);
    for loss in all_losses() {
        let err = loss
            .per_sample(&LossInput::over_all(&ec, &e_all))
            .expect_err("bad e_all");
        let ok = match problem {
            "batch" => matches!(
                err,
                EbmError::BatchMismatch {
                    left: 3,
                    right: 2,
                    ..
                }
            ),
            "shape" => matches!(err, EbmError::Shape { .. }),
            "empty" => matches!(err, EbmError::EmptyCandidates(_)),
            _ => matches!(err, EbmError::NonFinite { .. }),
        };
        assert!(ok, "{}: {problem}: {err}", loss.name());
    }
}

#[test]
fn log_weights_must_broadcast_to_e_all_and_not_be_nan() {
    let ec = t1(&[1.0, 2.0]);
    let e_all = t2(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 3);
    let nll = NegativeLogLikelihood::new(1.0).expect("beta");
    for good in [
        t1(&[0.5]),
        t1(&[0.1, 0.2, 0.3]),
        t2(&[0.1, 0.2], 1),
        t2(&[0.0; 6], 3),
    ] {
        let out = nll
            .per_sample(&LossInput::over_all(&ec, &e_all).weighted(&good))
            .expect("broadcastable");
        assert_eq!(out.size(), vec![2]);
    }
    for bad in [
        t1(&[0.1, 0.2]),
        t2(&[0.0; 9], 3),
        t2(&[0.0; 6], 3).view([1, 2, 3]),
    ] {
        let err = nll
            .per_sample(&LossInput::over_all(&ec, &e_all).weighted(&bad))
            .expect_err("not broadcastable");
        assert!(
            matches!(err, EbmError::Shape { ref what, .. } if what.contains("log_weights")),
            "{err}"
        );
    }
    let nan = t1(&[0.1, f64::NAN, 0.3]);
    let err = nll
        .per_sample(&LossInput::over_all(&ec, &e_all).weighted(&nan))
        .expect_err("NaN");
    assert!(matches!(err, EbmError::NonFinite { .. }), "{err}");
}

#[test]
fn nan_or_infinite_energies_are_errors_for_every_loss() {
    let good = t1(&[1.0, 2.0]);
    let all = t2(&[1.0, 2.0, 2.0, 1.0], 2);
    for bad in [
        t1(&[1.0, f64::NAN]),
        t1(&[f64::INFINITY, 1.0]),
        t1(&[1.0, f64::NEG_INFINITY]),
    ] {
        for config in LossConfig::all_defaults() {
            let loss = config.build().expect("valid");
            let err = loss
                .per_sample(&LossInput::with_all(&bad, &good, &all))
                .expect_err("non-finite E_C");
            assert!(
                matches!(err, EbmError::NonFinite { .. }),
                "{}: {err}",
                loss.name()
            );
            let result = loss.per_sample(&LossInput::pair(&good, &bad));
            match loss.name() {
                // The energy loss does not read E_I.
                "energy" => assert!(result.is_ok()),
                // NLL and MEE do not read it either, and stop at the e_all they need.
                "nll" | "mee" => assert!(matches!(result, Err(EbmError::Shape { .. }))),
                name => assert!(
                    matches!(result, Err(EbmError::NonFinite { .. })),
                    "{name}: {result:?}"
                ),
            }
        }
    }
}

#[rstest]
#[case(0.0)]
#[case(-0.5)]
fn lvq2_rejects_a_non_positive_e_incorrect(#[case] ei: f64) {
    let lvq2 = Lvq2::new(0.5).expect("delta");
    let ec = t1(&[1.0, 1.0]);
    let ei = t1(&[2.0, ei]);
    let err = lvq2
        .per_sample(&LossInput::pair(&ec, &ei))
        .expect_err("E_I <= 0");
    assert!(
        matches!(err, EbmError::OutOfDomain { ref what, ref reason } if what.contains("lvq2") && reason.contains("E_I must be > 0")),
        "{err}"
    );
}

#[rstest]
#[case::hinge_zero(Hinge::new(0.0).map(|_| ()), "margin")]
#[case::hinge_negative(Hinge::new(-1.0).map(|_| ()), "margin")]
#[case::hinge_nan(Hinge::new(f64::NAN).map(|_| ()), "margin")]
#[case::hinge_inf(Hinge::new(f64::INFINITY).map(|_| ()), "margin")]
#[case::square_square(SquareSquare::new(-0.1).map(|_| ()), "margin")]
#[case::lvq2_zero(Lvq2::new(0.0).map(|_| ()), "delta")]
#[case::lvq2_nan(Lvq2::new(f64::NAN).map(|_| ()), "delta")]
#[case::square_exp(SquareExponential::new(0.0).map(|_| ()), "gamma")]
#[case::nll_zero(NegativeLogLikelihood::new(0.0).map(|_| ()), "beta")]
#[case::nll_negative(NegativeLogLikelihood::new(-1.0).map(|_| ()), "beta")]
#[case::nll_nan(NegativeLogLikelihood::new(f64::NAN).map(|_| ()), "beta")]
#[case::mee_inf(MinimumEmpiricalError::new(f64::INFINITY).map(|_| ()), "beta")]
fn invalid_hyperparameters_are_named(#[case] result: ebm_core::Result<()>, #[case] name: &str) {
    match result {
        Err(EbmError::Hyperparameter { name: got, .. }) => assert_eq!(got, name),
        other => panic!("expected a hyperparameter error for {name}, got {other:?}"),
    }
}

#[test]
fn perceptron_without_e_all_or_e_incorrect_is_an_error() {
    let ec = t1(&[1.0]);
    assert!(Perceptron.per_sample(&LossInput::correct(&ec)).is_err());
}

#[test]
fn most_offending_finite_checks_labels_and_table() {
    let e_all = t2(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 3);
    let err = most_offending_finite(&e_all, &Tensor::from_slice(&[0i64, 3])).expect_err("3 >= K");
    assert!(matches!(err, EbmError::InvalidLabel(_)), "{err}");
    let err = most_offending_finite(&e_all, &Tensor::from_slice(&[-1i64, 0])).expect_err("-1");
    assert!(matches!(err, EbmError::InvalidLabel(_)), "{err}");
    let err = most_offending_finite(&e_all, &Tensor::from_slice(&[0i64, 1, 2])).expect_err("B");
    assert!(
        matches!(
            err,
            EbmError::BatchMismatch {
                left: 2,
                right: 3,
                ..
            }
        ),
        "{err}"
    );
    // Float labels break the one class-label rule of `ebm_core::check`: Int64 only.
    let err = most_offending_finite(&e_all, &t1(&[0.0, 1.0])).expect_err("float labels");
    assert!(
        matches!(&err, EbmError::InvalidLabel(m) if m.contains("correct labels must be Int64")),
        "{err}"
    );
    let err = most_offending_finite(&e_all, &Tensor::from_slice(&[0i64, 1]).view([2, 1]))
        .expect_err("labels [B, 1]");
    assert!(matches!(err, EbmError::Shape { .. }), "{err}");
    let err = most_offending_finite(&t1(&[1.0, 2.0]), &Tensor::from_slice(&[0i64]))
        .expect_err("1-D table");
    assert!(matches!(err, EbmError::Shape { .. }), "{err}");
    let nan = t2(&[1.0, f64::NAN, 3.0, 4.0, 5.0, 6.0], 3);
    let err = most_offending_finite(&nan, &Tensor::from_slice(&[0i64, 0])).expect_err("NaN");
    assert!(matches!(err, EbmError::NonFinite { .. }), "{err}");
    let one_answer = t2(&[1.0, 2.0], 1);
    let err =
        most_offending_finite(&one_answer, &Tensor::from_slice(&[0i64, 0])).expect_err("K = 1");
    assert!(matches!(err, EbmError::EmptyCandidates(_)), "{err}");
    let err = energy_at(&e_all, &Tensor::from_slice(&[0i64, 5])).expect_err("5 >= K");
    assert!(matches!(err, EbmError::InvalidLabel(_)), "{err}");
}

#[test]
fn most_offending_masked_checks_the_mask() {
    let e_all = t2(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 3);
    let all_correct = Tensor::from_slice(&[true, false, false, true, true, true]).view([2, 3]);
    let err = most_offending_finite_masked(&e_all, &all_correct).expect_err("row 1 all correct");
    assert!(matches!(err, EbmError::EmptyCandidates(_)), "{err}");
    let wrong_shape = Tensor::from_slice(&[true, false]).view([2, 1]);
    let err = most_offending_finite_masked(&e_all, &wrong_shape).expect_err("shape");
    assert!(matches!(err, EbmError::Shape { .. }), "{err}");
    let not_bool = Tensor::from_slice(&[1i64, 0, 0, 0, 1, 0]).view([2, 3]);
    let err = most_offending_finite_masked(&e_all, &not_bool).expect_err("kind");
    assert!(matches!(err, EbmError::Shape { .. }), "{err}");
}

#[test]
fn most_offending_continuous_checks_its_inputs() {
    let energy =
        FnEnergy::new(|x: &Tensor, y: &Tensor| (y - x).square().sum_dim_intlist(1, false, None));
    let x = t2(&[0.0, 1.0], 1);
    let yc = t2(&[0.0, 1.0], 1);
    let cands = t2(&[-1.0, 0.5, 2.0], 1);
    let gd = GradientDescentConfig {
        steps: 5,
        ..GradientDescentConfig::default()
    }
    .check()
    .expect("valid");
    let space = ContinuousSpace::real(1).expect("space");
    let run =
        |yc: &Tensor, cands: &Tensor, eps: f64, gd: &GradientDescent, space: &ContinuousSpace| {
            most_offending_continuous(&energy, &x, yc, cands, eps, gd, space)
        };
    for eps in [0.0, -1.0, f64::NAN] {
        let err = run(&yc, &cands, eps, &gd, &space).expect_err("epsilon");
        assert!(
            matches!(
                &err,
                EbmError::Hyperparameter { name, .. } if name == "epsilon"
            ),
            "{err}"
        );
    }
    let err = run(&t2(&[0.0, 1.0, 2.0], 1), &cands, 0.1, &gd, &space).expect_err("batch");
    assert!(matches!(err, EbmError::BatchMismatch { .. }), "{err}");
    let err = run(&t2(&[0.0, 1.0, 1.0, 2.0], 2), &cands, 0.1, &gd, &space).expect_err("d");
    assert!(matches!(err, EbmError::Shape { .. }), "{err}");
    let err = run(&yc, &t2(&[0.0, 1.0], 2), 0.1, &gd, &space).expect_err("candidate d");
    assert!(matches!(err, EbmError::Shape { .. }), "{err}");
    let err =
        run(&yc, &t2(&[0.0; 6], 1).view([3, 2, 1]), 0.1, &gd, &space).expect_err("candidate B");
    assert!(matches!(err, EbmError::Shape { .. }), "{err}");
    let err = run(
        &yc,
        &Tensor::zeros([0, 1], (Kind::Double, tch::Device::Cpu)),
        0.1,
        &gd,
        &space,
    )
    .expect_err("no candidate");
    assert!(matches!(err, EbmError::EmptyCandidates(_)), "{err}");
    let err = run(&yc, &t2(&[f64::NAN], 1), 0.1, &gd, &space).expect_err("NaN candidate");
    assert!(matches!(err, EbmError::NonFinite { .. }), "{err}");
    // A bad descent cannot reach the search: its config is rejected, naming the key.
    let err = GradientDescentConfig {
        step_size: -1.0,
        ..GradientDescentConfig::default()
    }
    .check()
    .expect_err("descent");
    assert!(
        matches!(
            &err,
            EbmError::Hyperparameter { name, .. } if name == "step_size"
        ),
        "{err}"
    );
    // A box inside the exclusion ball: no answer can be ε away.
    let small = ContinuousSpace::boxed(1, -0.2, 1.2).expect("box");
    let err = run(&t2(&[0.5, 0.5], 1), &cands, 1.0, &gd, &small).expect_err("nothing far enough");
    assert!(matches!(err, EbmError::EmptyCandidates(_)), "{err}");
}

#[test]
fn energy_spread_checks_its_input() {
    let err = energy_spread(&t1(&[1.0, 2.0])).expect_err("1-D");
    assert!(matches!(err, EbmError::Shape { .. }), "{err}");
    let err = energy_spread(&t2(&[1.0, f64::NAN], 2)).expect_err("NaN");
    assert!(matches!(err, EbmError::NonFinite { .. }), "{err}");
    let err = energy_spread(&t2(&[1.0, f64::INFINITY], 2)).expect_err("inf");
    assert!(matches!(err, EbmError::NonFinite { .. }), "{err}");
    // No column is an empty candidate table, as everywhere (`ebm_core::check`).
    let err =
        energy_spread(&Tensor::zeros([2, 0], (Kind::Double, tch::Device::Cpu))).expect_err("K = 0");
    assert!(matches!(err, EbmError::EmptyCandidates(_)), "{err}");
    let err =
        energy_spread(&Tensor::zeros([0, 2], (Kind::Double, tch::Device::Cpu))).expect_err("B = 0");
    assert!(matches!(err, EbmError::Shape { .. }), "{err}");
}

/// NLL and MEE at a β too large for f32 are the perceptron loss (their limit), not NaN.
#[rstest]
#[case::nll("nll")]
#[case::mee("mee")]
fn a_huge_beta_on_f32_gives_the_limit(#[case] kind: &str) {
    let beta = 1e300;
    let config: LossConfig =
        toml::from_str(&format!("kind = \"{kind}\"\nbeta = {beta:e}")).expect("config");
    let loss = config.build().expect("valid");
    let ec = Tensor::from_slice(&[0.5f32, 2.0]);
    let all = Tensor::from_slice(&[0.5f32, 1.0, -1.0, 2.0, 3.0, 2.5]).view([2, 3]);
    let input = LossInput {
        e_correct: &ec,
        e_incorrect: None,
        e_all: Some(&all),
        log_weights: None,
    };
    let values: Vec<f64> = Vec::try_from(
        loss.per_sample(&input)
            .expect("a value")
            .to_kind(tch::Kind::Double),
    )
    .expect("values");
    assert!(values.iter().all(|v| v.is_finite()), "{kind}: {values:?}");
    if kind == "nll" {
        // E_C − min E: 0.5 − (−1) = 1.5 for row 0 and 0 for row 1.
        assert!(
            (values[0] - 1.5).abs() < 1e-5 && values[1].abs() < 1e-5,
            "{values:?}"
        );
    }
}
