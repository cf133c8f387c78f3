//! Exhaustive and gradient-descent inference, against brute force and known minima.

use ebm_core::{
    argmin_table, exhaustive_argmin, ContinuousSpace, EbmError, Energy, Exclusion, FiniteSpace,
    FnEnergy, GradientDescent, GradientDescentConfig,
};
use proptest::prelude::*;
use rstest::rstest;
use tch::{Device, Kind, Tensor};

fn table(rows: &[&[f64]]) -> Tensor {
    let k = rows[0].len() as i64;
    let flat: Vec<f64> = rows.iter().flat_map(|r| r.iter().copied()).collect();
    Tensor::from_slice(&flat).view([rows.len() as i64, k])
}

fn brute_force(rows: &[&[f64]]) -> Vec<(i64, f64)> {
    rows.iter()
        .map(|r| {
            let mut best = (0usize, r[0]);
            for (i, &v) in r.iter().enumerate() {
                if v < best.1 {
                    best = (i, v);
                }
            }
            (best.0 as i64, best.1)
        })
        .collect()
}

#[rstest]
#[case(vec![vec![3.0, 1.0, 2.0]])]
#[case(vec![vec![0.5, -2.0, -1.0, 4.0], vec![9.0, 8.0, 7.0, 6.0], vec![-1.0, -1.5, 3.0, -1.4]])]
#[case(vec![vec![1e4, -1e4], vec![-3.25, 7.0]])]
#[case(vec![vec![2.0, f64::INFINITY, 1.0]])]
#[case(vec![vec![1.0, 1.0, 0.5, 0.5]])]
fn exhaustive_argmin_matches_brute_force(#[case] rows: Vec<Vec<f64>>) {
    let rows: Vec<&[f64]> = rows.iter().map(Vec::as_slice).collect();
    let rows = rows.as_slice();
    let (index, min) = argmin_table(&table(rows)).expect("valid table");
    let index: Vec<i64> = Vec::try_from(&index).expect("indices");
    let min: Vec<f64> = Vec::try_from(&min).expect("minima");
    let expected = brute_force(rows);
    for (row, (i, m)) in expected.iter().enumerate() {
        assert_eq!(index[row], *i, "row {row}");
        assert_eq!(min[row], *m, "row {row}");
    }
}

/// E(x, y) = Σ (x − y)², as a paired-row closure.
fn squared_distance() -> FnEnergy<impl Fn(&Tensor, &Tensor) -> Tensor> {
    FnEnergy::new(|x: &Tensor, y: &Tensor| (x - y).square().sum_dim_intlist(1, false, None))
}

#[test]
fn exhaustive_argmin_over_a_set_matches_brute_force() {
    let energy = squared_distance();
    let set = [-1.0f64, 0.0, 0.4, 2.0];
    let xs = [-3.0f64, -0.4, 0.25, 0.3, 1.3, 5.0];
    let space = FiniteSpace::Set(Tensor::from_slice(&set).view([4, 1]));
    let x = Tensor::from_slice(&xs).view([6, 1]);
    let found = exhaustive_argmin(&energy, &x, &space).expect("inference");
    let index: Vec<i64> = Vec::try_from(&found.index).expect("indices");
    let y: Vec<f64> = Vec::try_from(found.y.view([-1])).expect("answers");
    for (row, &xv) in xs.iter().enumerate() {
        let mut best = 0;
        for (k, &c) in set.iter().enumerate() {
            if (xv - c).powi(2) < (xv - set[best]).powi(2) {
                best = k;
            }
        }
        assert_eq!(index[row], best as i64, "x = {xv}");
        assert_eq!(y[row], set[best]);
    }
    assert_eq!(found.energies.size(), vec![6, 4]);
}

/// A multi-class energy that computes all classes in one pass: E(x, k) = (x − k)².
struct ClassDistance;

impl Energy for ClassDistance {
    fn energy(&self, x: &Tensor, y: &Tensor) -> ebm_core::Result<Tensor> {
        Ok((x.squeeze_dim(1) - y.to_kind(Kind::Double)).square())
    }
    fn candidate_energies(&self, x: &Tensor, ys: &Tensor) -> ebm_core::Result<Tensor> {
        Ok((x - ys.to_kind(Kind::Double).unsqueeze(0)).square())
    }
}

#[test]
fn classes_and_signs_and_trait_objects() {
    let x = Tensor::from_slice(&[0.2f64, 2.7, 1.4]).view([3, 1]);
    let boxed: Box<dyn Energy> = Box::new(ClassDistance);
    let found = exhaustive_argmin(&boxed, &x, &FiniteSpace::Classes(4)).expect("classes");
    assert_eq!(
        Vec::<i64>::try_from(&found.index).expect("idx"),
        vec![0, 3, 1]
    );
    let binary = FnEnergy::new(|x: &Tensor, y: &Tensor| -(y * x.squeeze_dim(1)));
    let found = exhaustive_argmin(
        &binary,
        &Tensor::from_slice(&[-0.5f64, 2.0]).view([2, 1]),
        &FiniteSpace::Signs,
    )
    .expect("signs");
    assert_eq!(Vec::<f64>::try_from(&found.y).expect("y"), vec![-1.0, 1.0]);
}

fn quadratic_energy(a: Tensor, c: Tensor) -> FnEnergy<impl Fn(&Tensor, &Tensor) -> Tensor> {
    // ½ (y − c)ᵀ A (y − c), with the same A and c for every row.
    FnEnergy::new(move |_x: &Tensor, y: &Tensor| {
        let d = y - &c;
        (d.matmul(&a) * &d).sum_dim_intlist(1, false, None) * 0.5
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn gradient_descent_reaches_the_minimum_of_convex_quadratics(
        d in 1usize..4,
        m in proptest::collection::vec(-1.0f64..1.0, 9),
        c in proptest::collection::vec(-3.0f64..3.0, 3),
    ) {
        let di = d as i64;
        let m = Tensor::from_slice(&m[..d * d]).view([di, di]);
        let a = m.transpose(0, 1).matmul(&m) + Tensor::eye(di, (Kind::Double, Device::Cpu)) * 0.5;
        let c = Tensor::from_slice(&c[..d]).view([1, di]);
        let energy = quadratic_energy(a, c.shallow_clone());
        tch::manual_seed(7);
        let gd = GradientDescentConfig { restarts: 2, steps: 2000, ..GradientDescentConfig::default() }.check().expect("valid");
        let x = Tensor::zeros([3, 1], (Kind::Double, Device::Cpu));
        let minima = gd.minimize(&energy, &x, &ContinuousSpace::real(di).expect("space")).expect("gd");
        let err = f64::try_from((minima.best_y - c).abs().max()).expect("err");
        prop_assert!(err < 1e-3, "distance to c = {err}");
    }

    #[test]
    fn projection_keeps_y_inside_the_box(
        lo in -3.0f64..0.0,
        width in 0.1f64..3.0,
        pull in proptest::collection::vec(-10.0f64..10.0, 2),
    ) {
        let hi = lo + width;
        // A linear energy that pulls y far outside the box: the minimum is on its boundary.
        let p = Tensor::from_slice(&pull).view([1, 2]);
        let energy = FnEnergy::new(move |_x: &Tensor, y: &Tensor| -(y * &p).sum_dim_intlist(1, false, None));
        tch::manual_seed(3);
        let gd = GradientDescentConfig { restarts: 4, steps: 100, step_size: 0.5, ..GradientDescentConfig::default() }.check().expect("valid");
        let x = Tensor::zeros([2, 1], (Kind::Double, Device::Cpu));
        let space = ContinuousSpace::boxed(2, lo, hi).expect("box");
        let minima = gd.minimize(&energy, &x, &space).expect("gd");
        let min = f64::try_from(minima.y.min()).expect("min");
        let max = f64::try_from(minima.y.max()).expect("max");
        prop_assert!(min >= lo && max <= hi, "y in [{min}, {max}] outside [{lo}, {hi}]");
    }
}

fn double_well() -> FnEnergy<impl Fn(&Tensor, &Tensor) -> Tensor> {
    FnEnergy::new(|_x: &Tensor, y: &Tensor| {
        (y.square() - 1.0).square().sum_dim_intlist(1, false, None)
    })
}

#[test]
fn restarts_on_the_double_well_find_both_minima() {
    tch::manual_seed(11);
    let gd = GradientDescentConfig {
        restarts: 16,
        ..GradientDescentConfig::default()
    }
    .check()
    .expect("valid");
    let x = Tensor::zeros([4, 1], (Kind::Float, Device::Cpu));
    let minima = gd
        .minimize(
            &double_well(),
            &x,
            &ContinuousSpace::real(1).expect("space"),
        )
        .expect("gd");
    assert_eq!(minima.distinct.len(), 4);
    for row in &minima.within(1e-4) {
        let mut ys: Vec<f64> = row.iter().map(|m| m.y[0]).collect();
        ys.sort_by(f64::total_cmp);
        assert_eq!(
            ys.len(),
            2,
            "expected exactly two distinct minima, got {ys:?}"
        );
        assert!(
            (ys[0] + 1.0).abs() < 1e-3 && (ys[1] - 1.0).abs() < 1e-3,
            "{ys:?}"
        );
    }
}

#[test]
fn exclusion_keeps_the_search_out_of_the_ball() {
    // Start every restart in the right well next to y_i = 1: the search must leave its
    // ε-ball and, with ε large enough, reach the other well.
    let x = Tensor::zeros([2, 1], (Kind::Double, Device::Cpu));
    let centers = Tensor::from_slice(&[1.0f64, 1.0]).view([2, 1]);
    let starts = Tensor::from_slice(&[1.0f64, 1.05, 0.95, 1.0]).view([2, 2, 1]);
    let gd = GradientDescentConfig {
        step_size: 0.02,
        ..GradientDescentConfig::default()
    }
    .check()
    .expect("valid");
    let space = ContinuousSpace::real(1).expect("space");
    let minima = gd
        .minimize_from(
            &double_well(),
            &x,
            &space,
            &starts,
            Some(Exclusion {
                centers: &centers,
                radius: 0.5,
            }),
        )
        .expect("gd");
    let ys: Vec<f64> = Vec::try_from(minima.y.view([-1])).expect("ys");
    for y in ys {
        assert!((y - 1.0).abs() >= 0.5 - 1e-9, "y = {y} inside the ball");
    }
}

#[test]
fn bad_inputs_get_specific_errors() {
    let energy = squared_distance();
    let x = Tensor::zeros([3, 1], (Kind::Float, Device::Cpu));
    let y = Tensor::zeros([2, 1], (Kind::Float, Device::Cpu));
    assert!(matches!(
        energy.energy(&x, &y),
        Err(EbmError::BatchMismatch {
            left: 3,
            right: 2,
            ..
        })
    ));

    let empty = FiniteSpace::Set(Tensor::zeros([0, 1], (Kind::Float, Device::Cpu)));
    assert!(matches!(
        exhaustive_argmin(&energy, &x, &empty),
        Err(EbmError::EmptyCandidates(_))
    ));
    assert!(matches!(
        exhaustive_argmin(&ClassDistance, &x, &FiniteSpace::Classes(0)),
        Err(EbmError::EmptyCandidates(_))
    ));

    let err = GradientDescentConfig {
        restarts: 0,
        ..GradientDescentConfig::default()
    }
    .check()
    .expect_err("zero restarts");
    assert!(
        matches!(
            &err,
            EbmError::Hyperparameter { name, .. } if name == "restarts"
        ),
        "{err}"
    );
    assert!(err.to_string().contains("restarts"));

    let nan_table = Tensor::from_slice(&[1.0f64, f64::NAN]).view([1, 2]);
    assert!(matches!(
        argmin_table(&nan_table),
        Err(EbmError::NonFinite { .. })
    ));
    let nan_energy = FnEnergy::new(|x: &Tensor, _y: &Tensor| x.squeeze_dim(1) * f64::NAN);
    assert!(matches!(
        exhaustive_argmin(&nan_energy, &x, &FiniteSpace::Signs),
        Err(EbmError::NonFinite { .. })
    ));

    let wrong_shape = FnEnergy::new(|x: &Tensor, _y: &Tensor| x.shallow_clone());
    assert!(matches!(
        wrong_shape.energy(&x, &x),
        Err(EbmError::Shape { .. })
    ));

    let starts = Tensor::zeros([2, 4, 1], (Kind::Float, Device::Cpu));
    let err = GradientDescent::default()
        .minimize_from(
            &energy,
            &x,
            &ContinuousSpace::real(1).expect("space"),
            &starts,
            None,
        )
        .expect_err("starts of another batch");
    assert!(matches!(err, EbmError::Shape { .. }), "{err}");
    assert!(matches!(
        ContinuousSpace::boxed(1, 1.0, -1.0),
        Err(EbmError::Hyperparameter { .. })
    ));
}

#[test]
fn backtracking_keeps_descent_stable_on_a_steep_ravine() {
    // E = 1000 (y − 0.3)²: a step of 0.05 overshoots by a factor 99 every step without
    // backtracking; with it, each row's step shrinks until descent is stable.
    let steep = FnEnergy::new(|_x: &Tensor, y: &Tensor| {
        ((y - 0.3).square() * 1000.0).sum_dim_intlist(1, false, None)
    });
    let x = Tensor::zeros([3, 1], (Kind::Double, Device::Cpu));
    let space = ContinuousSpace::boxed(1, -2.0, 2.0).expect("box");
    tch::manual_seed(5);
    let stable = GradientDescentConfig {
        restarts: 4,
        ..GradientDescentConfig::default()
    }
    .check()
    .expect("valid");
    let found = stable.minimize(&steep, &x, &space).expect("gd");
    let err = f64::try_from((found.y - 0.3).abs().max()).expect("err");
    assert!(
        err < 1e-3,
        "backtracking descent ended {err} from the minimum"
    );
    let plain = GradientDescentConfig {
        backtracking: false,
        ..stable.config()
    }
    .check()
    .expect("valid");
    let found = plain.minimize(&steep, &x, &space).expect("gd");
    let err = f64::try_from((found.y - 0.3).abs().max()).expect("err");
    assert!(
        err > 1.0,
        "plain descent should bounce to the box walls, ended {err} away"
    );
}

#[rstest]
#[case::step_size_zero(GradientDescentConfig { step_size: 0.0, ..Default::default() }, "step_size")]
#[case::step_size_nan(GradientDescentConfig { step_size: f64::NAN, ..Default::default() }, "step_size")]
#[case::momentum_one(GradientDescentConfig { momentum: 1.0, ..Default::default() }, "momentum")]
#[case::momentum_negative(GradientDescentConfig { momentum: -0.1, ..Default::default() }, "momentum")]
#[case::steps_zero(GradientDescentConfig { steps: 0, ..Default::default() }, "steps")]
#[case::tolerance_negative(GradientDescentConfig { tolerance: -1e-9, ..Default::default() }, "tolerance")]
#[case::restarts_zero(GradientDescentConfig { restarts: 0, ..Default::default() }, "restarts")]
#[case::init_scale_zero(GradientDescentConfig { init_scale: 0.0, ..Default::default() }, "init_scale")]
#[case::dedup_infinite(GradientDescentConfig { dedup_tolerance: f64::INFINITY, ..Default::default() }, "dedup_tolerance")]
fn gradient_descent_config_names_the_bad_key(
    #[case] config: GradientDescentConfig,
    #[case] key: &str,
) {
    match config.check() {
        Err(EbmError::Hyperparameter { name, .. }) => assert_eq!(name, key),
        other => panic!("expected a {key} error, got {other:?}"),
    }
}

#[test]
fn a_checked_descent_keeps_its_config() {
    let config = GradientDescentConfig {
        step_size: 0.1,
        momentum: 0.0,
        steps: 7,
        tolerance: 0.0,
        restarts: 3,
        init_scale: 2.0,
        dedup_tolerance: 0.5,
        backtracking: false,
    };
    let gd = config.check().expect("valid");
    assert_eq!(gd.config(), config);
    assert_eq!(
        (gd.step_size(), gd.momentum(), gd.steps(), gd.tolerance()),
        (0.1, 0.0, 7, 0.0)
    );
    assert_eq!(
        (
            gd.restarts(),
            gd.init_scale(),
            gd.dedup_tolerance(),
            gd.backtracking()
        ),
        (3, 2.0, 0.5, false)
    );
    assert_eq!(
        GradientDescentConfig::default().check().expect("defaults"),
        GradientDescent::default()
    );
}

#[test]
fn gradient_descent_config_reads_its_keys_with_defaults() {
    use serde::de::value::{Error as DeError, MapDeserializer};
    use serde::Deserialize;
    let parse = |pairs: Vec<(&'static str, f64)>| {
        GradientDescentConfig::deserialize(MapDeserializer::<_, DeError>::new(pairs.into_iter()))
    };
    let config = parse(vec![("step_size", 0.2), ("init_scale", 3.0)]).expect("parses");
    assert_eq!(
        config,
        GradientDescentConfig {
            step_size: 0.2,
            init_scale: 3.0,
            ..Default::default()
        }
    );
    assert!(parse(vec![("stepsize", 0.2)]).is_err(), "unknown key");
    // Parsing does not check; check() does.
    let bad = parse(vec![("momentum", 2.0)]).expect("parses");
    assert!(bad.check().is_err());
}
