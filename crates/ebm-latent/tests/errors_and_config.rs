//! What bad input gets, and the serde configuration.

use ebm_core::{
    ContinuousSpace, EbmError, Energy, FiniteSpace, GradientDescent, GradientDescentConfig,
};
use ebm_latent::{
    joint_argmin, predictions_over_z, FnLatentEnergy, LatentConfig, LatentEnergy, LatentSpace,
    LatentSpaceConfig, Marginalized, YSpace, ZPenalty, ZPenaltyConfig,
};
use rstest::rstest;
use tch::{Device, Kind, Tensor};

const CPU: Device = Device::Cpu;

fn column(values: &[f64]) -> Tensor {
    Tensor::from_slice(values).view([values.len() as i64, 1])
}

/// E = ½ ‖y − z‖², declared for z of width 1.
fn one_dim() -> FnLatentEnergy<impl Fn(&Tensor, &Tensor, &Tensor) -> Tensor> {
    FnLatentEnergy::with_z_dim(
        |_x: &Tensor, y: &Tensor, z: &Tensor| {
            (y - z).square().sum_dim_intlist(1, false, None) * 0.5
        },
        1,
    )
}

fn signs() -> LatentSpace {
    LatentSpace::signs(Kind::Double, CPU).expect("signs")
}

fn hyperparameter(err: EbmError) -> String {
    match err {
        EbmError::Hyperparameter { name, .. } => name,
        other => panic!("expected a hyperparameter error, got {other}"),
    }
}

#[rstest]
#[case(0.0)]
#[case(-1.0)]
#[case(f64::NAN)]
#[case(f64::NEG_INFINITY)]
fn a_bad_beta_is_rejected(#[case] beta: f64) {
    let err = Marginalized::new(one_dim(), signs(), beta, ZPenalty::NONE).expect_err("rejected");
    assert_eq!(hyperparameter(err), "beta");
    // Also when set on a built value, at evaluation time.
    let mut f = Marginalized::new(one_dim(), signs(), 1.0, ZPenalty::NONE).expect("valid");
    f.beta = beta;
    let x = column(&[0.0]);
    let err = f.energy(&x, &x).expect_err("rejected");
    assert_eq!(hyperparameter(err), "beta");
}

#[test]
fn a_finite_beta_needs_points_to_integrate_over() {
    let z = LatentSpace::continuous(
        ContinuousSpace::real(1).expect("R"),
        GradientDescent::default(),
    )
    .expect("z");
    let err = Marginalized::new(one_dim(), z, 2.0, ZPenalty::NONE).expect_err("rejected");
    assert_eq!(hyperparameter(err), "beta");
}

#[rstest]
#[case(ZPenaltyConfig::L1(-0.1), "l1")]
#[case(ZPenaltyConfig::L2(-1.0), "l2")]
#[case(ZPenaltyConfig::L2(f64::NAN), "l2")]
#[case(ZPenaltyConfig::L1(f64::INFINITY), "l1")]
fn a_bad_penalty_weight_is_rejected(#[case] penalty: ZPenaltyConfig, #[case] key: &str) {
    // The error names the config key of the weight: `penalty = { l1 = λ }` or `{ l2 = λ }`.
    // A penalty is checked once, when it is made: a bad weight never reaches an energy.
    let err = penalty.check().expect_err("rejected");
    assert_eq!(hyperparameter(err), key);
    let typed = match penalty {
        ZPenaltyConfig::L1(weight) => ZPenalty::l1(weight),
        ZPenaltyConfig::L2(weight) => ZPenalty::l2(weight),
        ZPenaltyConfig::None => unreachable!("no weight to reject"),
    };
    assert_eq!(hyperparameter(typed.expect_err("rejected")), key);
    // Through a latent config, the key is nested in its table.
    let config = LatentConfig {
        penalty,
        ..LatentConfig::default()
    };
    assert_eq!(
        hyperparameter(config.check().expect_err("rejected")),
        format!("penalty.{key}")
    );
    let err = config
        .marginalize(one_dim(), Kind::Double, CPU)
        .expect_err("rejected");
    assert_eq!(hyperparameter(err), format!("penalty.{key}"));
}

#[rstest]
#[case(ZPenaltyConfig::None)]
#[case(ZPenaltyConfig::L1(0.0))]
#[case(ZPenaltyConfig::L2(2.5))]
fn a_checked_penalty_keeps_its_config(#[case] config: ZPenaltyConfig) {
    assert_eq!(config.check().expect("valid").config(), config);
}

/// z of width 2 for an energy declared with width 1, and a set that is not `[K, dz]`.
#[test]
fn z_of_the_wrong_width_is_a_shape_error() {
    let wide = LatentSpace::finite(Tensor::zeros([3, 2], (Kind::Double, CPU))).expect("Z");
    let err = Marginalized::new(one_dim(), wide, 1.0, ZPenalty::NONE).expect_err("rejected");
    assert!(
        matches!(err, EbmError::Shape { ref got, .. } if got == &vec![3, 2]),
        "{err}"
    );

    let wide_mc =
        LatentSpace::monte_carlo(ContinuousSpace::real(2).expect("R²"), 10, 1.0).expect("MC");
    let ys = FiniteSpace::Signs;
    let err = joint_argmin(
        &one_dim(),
        &column(&[0.0]),
        YSpace::Finite(&ys),
        &wide_mc,
        &ZPenalty::NONE,
    )
    .expect_err("rejected");
    assert!(matches!(err, EbmError::Shape { .. }), "{err}");

    let err = LatentSpace::finite(Tensor::zeros([3], (Kind::Double, CPU))).expect_err("rejected");
    assert!(matches!(err, EbmError::Shape { .. }), "{err}");

    // The closure wrapper checks z rows against its declared width and batch.
    let x = column(&[0.0, 1.0]);
    let err = one_dim()
        .latent_energy(&x, &x, &Tensor::zeros([2, 3], (Kind::Double, CPU)))
        .expect_err("rejected");
    assert!(matches!(err, EbmError::Shape { .. }), "{err}");
    let err = one_dim()
        .latent_energy(&x, &x, &Tensor::zeros([3, 1], (Kind::Double, CPU)))
        .expect_err("rejected");
    assert!(matches!(err, EbmError::BatchMismatch { .. }), "{err}");
}

#[test]
fn an_empty_latent_set_is_rejected() {
    let err =
        LatentSpace::finite(Tensor::zeros([0, 1], (Kind::Double, CPU))).expect_err("rejected");
    assert!(matches!(err, EbmError::EmptyCandidates(_)), "{err}");
    // Built by hand, it is caught when used.
    let f = Marginalized {
        energy: one_dim(),
        z: LatentSpace::Finite(Tensor::zeros([0, 1], (Kind::Double, CPU))),
        beta: 1.0,
        penalty: ZPenalty::NONE,
    };
    let x = column(&[0.0]);
    assert!(matches!(
        f.energy(&x, &x),
        Err(EbmError::EmptyCandidates(_))
    ));
    let config = LatentSpaceConfig::Finite { points: vec![] };
    assert!(matches!(config.check(), Err(EbmError::EmptyCandidates(_))));
    let err = LatentSpace::one_hot(0, Kind::Float, CPU).expect_err("rejected");
    assert_eq!(hyperparameter(err), "count");
}

#[rstest]
#[case(0, 1.0, "samples")]
#[case(10, 0.0, "scale")]
#[case(10, -2.0, "scale")]
fn bad_monte_carlo_settings_are_rejected(
    #[case] samples: usize,
    #[case] scale: f64,
    #[case] name: &str,
) {
    let err = LatentSpace::monte_carlo(ContinuousSpace::real(1).expect("R"), samples, scale)
        .expect_err("rejected");
    assert_eq!(hyperparameter(err), name);
}

#[test]
fn other_bad_inputs_get_specific_errors() {
    let f = Marginalized::new(one_dim(), signs(), 1.0, ZPenalty::NONE).expect("valid");
    // x and y of different batch sizes.
    let err = f
        .energy(&column(&[0.0, 1.0]), &column(&[0.0]))
        .expect_err("rejected");
    assert!(matches!(err, EbmError::BatchMismatch { .. }), "{err}");

    // An energy whose output is not [B].
    let bad = FnLatentEnergy::new(|_x: &Tensor, y: &Tensor, _z: &Tensor| y.shallow_clone());
    let f = Marginalized::new(bad, signs(), 1.0, ZPenalty::NONE).expect("valid");
    let y = Tensor::zeros([2, 3], (Kind::Double, CPU));
    let err = f.energy(&y, &y).expect_err("rejected");
    assert!(matches!(err, EbmError::Shape { .. }), "{err}");

    // A continuous z has no points to list or predict over.
    let z = LatentSpace::continuous(
        ContinuousSpace::real(1).expect("R"),
        GradientDescent::default(),
    )
    .expect("z");
    let f = Marginalized::new(one_dim(), z, f64::INFINITY, ZPenalty::NONE).expect("valid");
    let x = column(&[0.0]);
    assert_eq!(
        hyperparameter(f.energies_over_z(&x, &x).expect_err("rejected")),
        "z"
    );
    let gd = GradientDescent::default();
    let y_space = YSpace::Continuous {
        space: &ContinuousSpace::real(1).expect("R"),
        gd: &gd,
    };
    let err =
        predictions_over_z(&one_dim(), &x, y_space, &f.z, &ZPenalty::NONE).expect_err("rejected");
    assert_eq!(hyperparameter(err), "z");
    let err = joint_argmin(&one_dim(), &x, y_space, &f.z, &ZPenalty::NONE).expect_err("rejected");
    assert_eq!(hyperparameter(err), "z");

    // A NaN energy.
    let nan = FnLatentEnergy::new(|x: &Tensor, _y: &Tensor, _z: &Tensor| x.view([-1]) * f64::NAN);
    let f = Marginalized::new(nan, signs(), 1.0, ZPenalty::NONE).expect("valid");
    assert!(matches!(f.energy(&x, &x), Err(EbmError::NonFinite { .. })));
}

#[test]
fn configs_read_with_defaults_and_reject_unknown_fields() {
    let config: LatentConfig = serde_json::from_str("{}").expect("defaults");
    assert_eq!(config, LatentConfig::default());
    assert!(config.beta.is_infinite());

    let config: LatentConfig = serde_json::from_str(
        r#"{ "beta": 0.5,
             "z": { "kind": "monte_carlo", "dim": 2, "samples": 64, "bounds": [-1.0, 1.0] },
             "penalty": { "l1": 0.25 } }"#,
    )
    .expect("config");
    assert_eq!(
        config.z,
        LatentSpaceConfig::MonteCarlo {
            dim: 2,
            samples: 64,
            scale: 1.0,
            bounds: Some([-1.0, 1.0])
        }
    );
    assert_eq!(config.penalty, ZPenaltyConfig::L1(0.25));
    let again: LatentConfig =
        serde_json::from_str(&serde_json::to_string(&config).expect("json")).expect("round trip");
    assert_eq!(again, config);

    let search: LatentSpaceConfig =
        serde_json::from_str(r#"{ "kind": "continuous", "dim": 1, "search": { "restarts": 3 } }"#)
            .expect("continuous");
    let LatentSpaceConfig::Continuous { search, .. } = search else {
        panic!("not continuous");
    };
    assert_eq!(search.restarts, 3);
    assert_eq!(search.steps, GradientDescentConfig::default().steps);

    for (bad, culprit) in [
        (r#"{ "temperature": 1.0 }"#, "unknown field `temperature`"),
        (
            r#"{ "z": { "kind": "one_hot", "count": 2, "size": 2 } }"#,
            "unknown field `size`",
        ),
        (
            r#"{ "z": { "kind": "continuous", "dim": 1, "search": { "rate": 0.1 } } }"#,
            "unknown field `rate`",
        ),
        (
            r#"{ "z": { "kind": "sphere", "dim": 1 } }"#,
            "unknown variant `sphere`",
        ),
        (r#"{ "penalty": { "l3": 1.0 } }"#, "unknown variant `l3`"),
    ] {
        let err = serde_json::from_str::<LatentConfig>(bad)
            .expect_err(bad)
            .to_string();
        assert!(err.contains(culprit), "{bad}: {err}");
    }
}

#[rstest]
#[case(LatentConfig { beta: 0.0, ..LatentConfig::default() }, "beta")]
#[case(LatentConfig { penalty: ZPenaltyConfig::L2(-1.0), ..LatentConfig::default() }, "penalty.l2")]
#[case(LatentConfig { z: LatentSpaceConfig::Grid { dim: 3, lo: 0.0, hi: 1.0, points: 4 }, ..LatentConfig::default() }, "z.dim")]
#[case(LatentConfig { z: LatentSpaceConfig::Grid { dim: 1, lo: 1.0, hi: 0.0, points: 4 }, ..LatentConfig::default() }, "box")]
#[case(LatentConfig { z: LatentSpaceConfig::Finite { points: vec![vec![1.0], vec![1.0, 2.0]] }, ..LatentConfig::default() }, "z.points")]
#[case(LatentConfig { z: LatentSpaceConfig::MonteCarlo { dim: 1, samples: 0, scale: 1.0, bounds: None }, ..LatentConfig::default() }, "z.samples")]
#[case(LatentConfig { beta: 1.0, z: LatentSpaceConfig::Continuous { dim: 1, bounds: None, search: GradientDescentConfig::default() }, ..LatentConfig::default() }, "beta")]
#[case(LatentConfig { z: LatentSpaceConfig::Continuous { dim: 1, bounds: None, search: GradientDescentConfig { steps: 0, ..GradientDescentConfig::default() } }, ..LatentConfig::default() }, "z.search.steps")]
#[case(LatentConfig { z: LatentSpaceConfig::OneHot { count: 0 }, ..LatentConfig::default() }, "z.count")]
fn invalid_configs_name_the_bad_field(#[case] config: LatentConfig, #[case] name: &str) {
    assert_eq!(hyperparameter(config.check().expect_err("rejected")), name);
}

/// A config builds the same marginalised energy as the direct construction.
#[rstest]
#[case(LatentSpaceConfig::default(), signs())]
#[case(
    LatentSpaceConfig::Grid { dim: 1, lo: -2.0, hi: 2.0, points: 40 },
    LatentSpace::Quadrature(ebm_core::Quadrature::grid_1d(-2.0, 2.0, 40, Kind::Double, CPU).expect("grid"))
)]
#[case(
    LatentSpaceConfig::OneHot { count: 1 },
    LatentSpace::finite(Tensor::ones([1, 1], (Kind::Double, CPU))).expect("Z")
)]
fn a_config_builds_the_marginalized_energy(
    #[case] z: LatentSpaceConfig,
    #[case] direct: LatentSpace,
) {
    let config = LatentConfig {
        beta: 2.0,
        z,
        penalty: ZPenaltyConfig::L2(0.1),
    };
    let from_config = config
        .marginalize(one_dim(), Kind::Double, CPU)
        .expect("built");
    let by_hand = Marginalized::new(one_dim(), direct, 2.0, ZPenalty::l2(0.1).expect("valid"))
        .expect("valid");
    let x = column(&[0.0, 0.0, 0.0]);
    let y = column(&[-0.7, 0.1, 1.3]);
    let a: Vec<f64> = Vec::try_from(from_config.energy(&x, &y).expect("F")).expect("a");
    let b: Vec<f64> = Vec::try_from(by_hand.energy(&x, &y).expect("F")).expect("b");
    assert_eq!(a, b);
}
