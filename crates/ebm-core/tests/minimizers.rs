//! The minimisers behind `Minimizer`: DFO and Langevin inference find the minima of convex
//! quadratics in d = 8 and every minimum of a double well per coordinate; their settings are
//! checked; `search` tables parse with and without `kind`.

use ebm_core::{
    polynomial_schedule, ContinuousSpace, DfoConfig, FnEnergy, GradientDescentConfig,
    LangevinConfig, LangevinSearchConfig, LangevinStep, Minimizer, SearchConfig,
};
use proptest::prelude::*;
use tch::{Device, Kind, Tensor};

const D: i64 = 8;

/// libtorch's generator is global: tests that seed it hold this lock, so that a parallel
/// test cannot draw from it between a seed and the draws it fixes.
static SEEDED: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn seeded(seed: i64) -> std::sync::MutexGuard<'static, ()> {
    let guard = SEEDED.lock().unwrap_or_else(|p| p.into_inner());
    tch::manual_seed(seed);
    guard
}

fn floats(t: &Tensor) -> Vec<f64> {
    Vec::<f64>::try_from(t.to_kind(Kind::Double).flatten(0, -1)).expect("floats")
}

/// E(x, y) = ½·s·(y − x)ᵀ A (y − x) with A = QQᵀ/d + ½I (symmetric positive definite): the
/// minimum of row b is y = x_b.
fn quadratic(q: &[f32], s: f64) -> FnEnergy<impl Fn(&Tensor, &Tensor) -> Tensor> {
    let q = Tensor::from_slice(q).view([D, D]);
    let a = q.matmul(&q.tr()) / D as f64 + Tensor::eye(D, (Kind::Float, Device::Cpu)) * 0.5;
    FnEnergy::new(move |x: &Tensor, y: &Tensor| {
        let r = y - x;
        (r.matmul(&a.to_kind(r.kind())) * &r).sum_dim_intlist(1, false, None) * (0.5 * s)
    })
}

/// The largest coordinate error of the best answers against the rows of x.
fn max_error(best: &Tensor, x: &Tensor) -> f64 {
    f64::try_from((best - x).abs().max()).expect("value")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    #[test]
    fn dfo_finds_the_minimum_of_a_convex_quadratic_in_8_d(
        q in proptest::collection::vec(-1.0f32..1.0, (D * D) as usize),
        centres in proptest::collection::vec(-0.5f32..0.5, 2 * D as usize),
        seed in 0i64..1000,
    ) {
        let _seeded = seeded(seed);
        let e = quadratic(&q, 200.0);
        let x = Tensor::from_slice(&centres).view([2, D]);
        // IBC's three iterations end with σ = 0.08; ten halve it to 6e-4, where the best
        // sample lies within 1e-2 of the minimum.
        // A low temperature keeps the selection sharp as the cloud shrinks.
        let dfo = DfoConfig { samples: 4096, iterations: 10, temperature: 1e-3, keep: 16, ..Default::default() }
            .check()
            .expect("value");
        let found = dfo.minimize(&e, &x, &ContinuousSpace::boxed(D, -1.0, 1.0).expect("value")).expect("value");
        prop_assert_eq!(found.best_y.size(), vec![2, D]);
        prop_assert_eq!(found.y.size(), vec![2, 16, D]);
        let err = max_error(&found.best_y, &x);
        prop_assert!(err < 1e-2, "DFO's best is {err} from the minimum");
    }

    #[test]
    fn langevin_inference_finds_the_minimum_of_a_convex_quadratic_in_8_d(
        q in proptest::collection::vec(-1.0f32..1.0, (D * D) as usize),
        centres in proptest::collection::vec(-0.5f32..0.5, 2 * D as usize),
        seed in 0i64..1000,
    ) {
        let _seeded = seeded(seed);
        let e = quadratic(&q, 200.0);
        let x = Tensor::from_slice(&centres).view([2, D]);
        let search = LangevinSearchConfig { chains: 8, ..Default::default() }.check().expect("value");
        let found = search
            .minimize(&e, &x, &ContinuousSpace::boxed(D, -1.0, 1.0).expect("value"))
            .expect("value");
        let err = max_error(&found.best_y, &x);
        prop_assert!(err < 1e-2, "Langevin inference's best is {err} from the minimum");
        // One convex bowl: every chain's descent ends at the same minimum.
        prop_assert!(found.distinct.iter().all(|row| row.len() == 1), "{:?}", found.distinct);
    }
}

/// E(x, y) = s·Σ_j (y_j² − 1)²: 2^d minima, ±1 in every coordinate.
fn double_well(s: f64) -> FnEnergy<impl Fn(&Tensor, &Tensor) -> Tensor> {
    FnEnergy::new(move |_x: &Tensor, y: &Tensor| {
        (y.square() - 1.0).square().sum_dim_intlist(1, false, None) * s
    })
}

/// Per row, whether every coordinate takes both signs among the distinct minima, and every
/// minimum is at ±1 (within `tol`) in every coordinate.
fn both_wells_in_every_coordinate(minima: &[Vec<ebm_core::Minimum>], d: usize, tol: f64) -> bool {
    minima.iter().all(|row| {
        let at_wells = row
            .iter()
            .all(|m| m.y.iter().all(|v| (v.abs() - 1.0).abs() < tol));
        let both =
            (0..d).all(|j| row.iter().any(|m| m.y[j] > 0.0) && row.iter().any(|m| m.y[j] < 0.0));
        at_wells && both
    })
}

#[test]
fn dfo_finds_both_wells_of_a_double_well_in_every_coordinate() {
    let _seeded = seeded(1);
    // In two dimensions (four wells): resampling selects, and in eight dimensions the
    // population collapses onto a few of the 256 wells; DFO finds modes, it does not keep
    // them all (the Langevin test below covers d = 8 from independent chains).
    let e = double_well(5.0);
    let x = Tensor::zeros([3, 1], (Kind::Float, Device::Cpu));
    let dfo = DfoConfig {
        dedup_tolerance: 0.5,
        ..Default::default()
    }
    .check()
    .expect("value");
    let found = dfo
        .minimize(
            &e,
            &x,
            &ContinuousSpace::boxed(2, -1.5, 1.5).expect("value"),
        )
        .expect("value");
    // IBC's three iterations end at σ = 0.08: the kept samples lie within a few σ of a well.
    assert!(
        both_wells_in_every_coordinate(&found.distinct, 2, 0.15),
        "{:?}",
        found.distinct
    );
}

#[test]
fn dfo_populations_keep_the_wells_that_one_population_loses_in_8_d() {
    let _seeded = seeded(7);
    // 16,384 samples in 8-D: as one population they collapse onto a few of the 256 wells; as
    // 32 independent populations of 512, each settles in a well of its own, and together
    // they take both signs in every coordinate. (With 64 populations of 128 some do not
    // settle within 8 iterations: each needs samples enough to select from.)
    let e = double_well(20.0);
    let x = Tensor::zeros([3, 1], (Kind::Float, Device::Cpu));
    let space = ContinuousSpace::boxed(D, -1.5, 1.5).expect("value");
    let search = |populations: usize| {
        DfoConfig {
            samples: 16384,
            iterations: 8,
            dedup_tolerance: 0.5,
            populations,
            ..Default::default()
        }
        .check()
        .expect("value")
        .minimize(&e, &x, &space)
        .expect("value")
    };
    let one = search(1);
    assert!(
        !both_wells_in_every_coordinate(&one.distinct, D as usize, 0.15),
        "one population kept {:?}",
        one.distinct.iter().map(Vec::len).collect::<Vec<_>>()
    );
    let many = search(32);
    assert!(
        both_wells_in_every_coordinate(&many.distinct, D as usize, 0.15),
        "{:?}",
        many.distinct
    );
    // Still sorted by energy across the populations, the best first.
    let k = many.energy.size()[1] as usize;
    assert_eq!(k, 256);
    for row in floats(&many.energy).chunks(k) {
        assert!(row.windows(2).all(|w| w[0] <= w[1]));
    }
    assert_eq!(floats(&many.best_energy), floats(&many.energy.select(1, 0)));
}

#[test]
fn langevin_inference_finds_both_wells_of_a_double_well_in_every_coordinate() {
    let _seeded = seeded(2);
    let e = double_well(5.0);
    let x = Tensor::zeros([3, 1], (Kind::Float, Device::Cpu));
    let search = LangevinSearchConfig {
        chains: 64,
        ..Default::default()
    }
    .check()
    .expect("value");
    let found = search
        .minimize(
            &e,
            &x,
            &ContinuousSpace::boxed(D, -1.5, 1.5).expect("value"),
        )
        .expect("value");
    assert!(
        both_wells_in_every_coordinate(&found.distinct, D as usize, 1e-3),
        "{:?}",
        found.distinct
    );
}

#[test]
fn dfo_prefers_the_lower_of_two_wells_and_reports_it_first() {
    let _seeded = seeded(3);
    // (y² − 1)² + 0.3·y: the well at −1 is 0.6 lower than the one at +1.
    let e = FnEnergy::new(|_x: &Tensor, y: &Tensor| {
        ((y.square() - 1.0).square() * 20.0 + y * 0.3 * 20.0).sum_dim_intlist(1, false, None)
    });
    let x = Tensor::zeros([2, 1], (Kind::Float, Device::Cpu));
    let dfo = DfoConfig {
        samples: 2048,
        iterations: 6,
        ..Default::default()
    }
    .check()
    .expect("value");
    let found = dfo
        .minimize(
            &e,
            &x,
            &ContinuousSpace::boxed(1, -2.0, 2.0).expect("value"),
        )
        .expect("value");
    for b in floats(&found.best_y) {
        assert!(b < -0.9, "best {b} is not the lower well");
    }
    // Sorted by energy within the kept points.
    let e = floats(&found.energy);
    let k = found.energy.size()[1] as usize;
    for row in e.chunks(k) {
        assert!(row.windows(2).all(|w| w[0] <= w[1]));
    }
}

#[test]
fn dfo_runs_in_chunks_and_on_r_d() {
    // 40 rows × 16,384 samples are ten chunks of 2^16 samples.
    let _seeded = seeded(4);
    let e = FnEnergy::new(|x: &Tensor, y: &Tensor| {
        (y - x).square().sum_dim_intlist(1, false, None) * 100.0
    });
    let x = Tensor::linspace(-0.5, 0.5, 40, (Kind::Float, Device::Cpu)).view([40, 1]);
    let dfo = DfoConfig {
        iterations: 8,
        ..Default::default()
    }
    .check()
    .expect("value");
    let found = dfo
        .minimize(&e, &x, &ContinuousSpace::real(1).expect("value"))
        .expect("value");
    assert_eq!(found.best_y.size(), vec![40, 1]);
    assert!(max_error(&found.best_y, &x) < 1e-2);
    assert_eq!(found.distinct.len(), 40);
}

#[test]
fn the_polynomial_schedule_matches_ibc_by_hand() {
    let rate = |t| polynomial_schedule(1e-1, 1e-5, 2.0, 100, t);
    assert_eq!(rate(0), 1e-1);
    assert!((rate(99) - 1e-5).abs() < 1e-18);
    // t = 33: (1 − 33/99)² = 4/9.
    assert!((rate(33) - (0.09999 * 4.0 / 9.0 + 1e-5)).abs() < 1e-15);
    assert_eq!(polynomial_schedule(0.5, 0.1, 2.0, 1, 0), 0.5);
    let search = LangevinSearchConfig::default().check().expect("value");
    assert!((search.step_size(33) - rate(33)).abs() < 1e-18);
}

#[test]
fn a_scheduled_langevin_run_at_scale_one_is_the_plain_sampler() {
    let e = double_well(1.0);
    let x = Tensor::zeros([16, 1], (Kind::Float, Device::Cpu));
    let y0 = Tensor::linspace(-1.5, 1.5, 32, (Kind::Float, Device::Cpu)).view([16, 2]);
    let sampler = LangevinConfig {
        step: LangevinStep::Exact {
            epsilon: 0.01,
            beta: 1.0,
        },
        steps: 20,
        clamp: None,
        grad_clip: None,
    }
    .check()
    .expect("value");
    let seeded = seeded(5);
    let plain = sampler.sample(&e, &x, &y0).expect("value");
    tch::manual_seed(5);
    let scheduled = sampler
        .sample_scheduled(&e, &x, &y0, &|_| 1.0, None)
        .expect("value");
    drop(seeded);
    let diff = f64::try_from((&plain - &scheduled).abs().max()).expect("value");
    assert_eq!(diff, 0.0, "{plain:?} {scheduled:?}");
}

#[test]
fn a_clipped_langevin_move_never_exceeds_the_clip() {
    let _seeded = seeded(6);
    // A steep energy and large noise: unclipped, one step moves y by about 10.
    let e = double_well(100.0);
    let x = Tensor::zeros([64, 1], (Kind::Float, Device::Cpu));
    let y0 = Tensor::full([64, 2], 1.3, (Kind::Float, Device::Cpu));
    let sampler = LangevinConfig {
        step: LangevinStep::Decoupled {
            step_size: 0.5,
            noise_std: 10.0,
        },
        steps: 1,
        clamp: None,
        grad_clip: None,
    }
    .check()
    .expect("value");
    let y = sampler
        .sample_scheduled(&e, &x, &y0, &|_| 0.1, Some(0.05))
        .expect("value");
    let moved = f64::try_from((&y - &y0).abs().max()).expect("value");
    assert!(moved <= 0.05 + 1e-7 && moved > 0.04, "moved {moved}");
}

#[rstest::rstest]
#[case(DfoConfig { samples: 0, ..Default::default() }, "samples")]
#[case(DfoConfig { shrink: 0.0, ..Default::default() }, "shrink")]
#[case(DfoConfig { shrink: 1.0, ..Default::default() }, "shrink")]
#[case(DfoConfig { shrink: 1.5, ..Default::default() }, "shrink")]
#[case(DfoConfig { noise: 0.0, ..Default::default() }, "noise")]
#[case(DfoConfig { iterations: 0, ..Default::default() }, "iterations")]
#[case(DfoConfig { temperature: -1.0, ..Default::default() }, "temperature")]
#[case(DfoConfig { samples: 100, keep: 101, ..Default::default() }, "keep")]
#[case(DfoConfig { keep: 0, ..Default::default() }, "keep")]
#[case(DfoConfig { dedup_tolerance: f64::NAN, ..Default::default() }, "dedup_tolerance")]
#[case(DfoConfig { populations: 0, ..Default::default() }, "populations")]
#[case(DfoConfig { populations: 3, ..Default::default() }, "populations")]
#[case(DfoConfig { samples: 4096, keep: 100, populations: 8, ..Default::default() }, "populations")]
fn bad_dfo_settings_name_their_key(#[case] config: DfoConfig, #[case] key: &str) {
    let err = config.check().expect_err("must be rejected").to_string();
    assert!(err.contains(key), "{err}");
}

#[rstest::rstest]
#[case(LangevinSearchConfig { chains: 0, ..Default::default() }, "chains")]
#[case(LangevinSearchConfig { steps: 0, ..Default::default() }, "steps")]
#[case(LangevinSearchConfig { step_init: 0.0, ..Default::default() }, "step_init")]
#[case(LangevinSearchConfig { step_final: 0.5, ..Default::default() }, "step_final")]
#[case(LangevinSearchConfig { power: 0.0, ..Default::default() }, "power")]
#[case(LangevinSearchConfig { noise_scale: -1.0, ..Default::default() }, "noise_scale")]
#[case(LangevinSearchConfig { grad_clip: Some(0.0), ..Default::default() }, "grad_clip")]
#[case(LangevinSearchConfig { delta_clip: 0.0, ..Default::default() }, "delta_clip")]
#[case(LangevinSearchConfig { descent: GradientDescentConfig { steps: 0, ..Default::default() }, ..Default::default() }, "descent.steps")]
fn bad_langevin_search_settings_name_their_key(
    #[case] config: LangevinSearchConfig,
    #[case] key: &str,
) {
    let err = config.check().expect_err("must be rejected").to_string();
    assert!(err.contains(key), "{err}");
}

#[test]
fn a_box_needs_lo_below_hi_and_a_space_a_dimension() {
    let err = ContinuousSpace::boxed(2, 1.0, 1.0)
        .expect_err("must be rejected")
        .to_string();
    assert!(err.contains("lo < hi"), "{err}");
    let err = ContinuousSpace::boxed(0, -1.0, 1.0)
        .expect_err("must be rejected")
        .to_string();
    assert!(err.contains("dim"), "{err}");
}

#[test]
fn search_tables_parse_with_and_without_kind() {
    let gd: SearchConfig = toml::from_str("restarts = 3\nsteps = 10").expect("value");
    assert_eq!(
        gd,
        SearchConfig::GradientDescent(GradientDescentConfig {
            restarts: 3,
            steps: 10,
            ..Default::default()
        })
    );
    let lv: SearchConfig =
        toml::from_str("kind = \"langevin\"\nchains = 5\ndescent = { steps = 7 }").expect("value");
    let SearchConfig::Langevin(c) = &lv else {
        panic!("{lv:?}")
    };
    assert_eq!((c.chains, c.descent.steps), (5, 7));
    // `keep` follows a small `samples` down.
    let dfo: SearchConfig = toml::from_str("kind = \"dfo\"\nsamples = 100").expect("value");
    assert!(matches!(dfo, SearchConfig::Dfo(ref c) if c.keep == 100));
    assert!(dfo.check().is_ok());
    let split: SearchConfig =
        toml::from_str("kind = \"dfo\"\nsamples = 4096\npopulations = 32").expect("value");
    assert!(matches!(split, SearchConfig::Dfo(ref c) if c.populations == 32 && c.keep == 256));
    // Written and read back, the kind survives.
    for config in [gd, lv, dfo, split] {
        let text = toml::to_string(&config).expect("value");
        let back: SearchConfig = toml::from_str(&text).expect("value");
        assert_eq!(back, config, "{text}");
    }
    for (text, needle) in [
        ("kind = \"annealing\"", "annealing"),
        ("kind = \"dfo\"\nrestarts = 2", "restarts"),
        ("kind = \"gradient_descent\"\nsamples = 2", "samples"),
        ("kind = \"langevin\"\nshrink = 0.5", "shrink"),
        ("restarts = 2\npopulations = 2", "populations"),
        ("sample = 3", "sample"),
    ] {
        let err = toml::from_str::<SearchConfig>(text)
            .expect_err("must be rejected")
            .to_string();
        assert!(err.contains(needle), "{text}: {err}");
    }
}
