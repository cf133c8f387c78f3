//! Properties that must hold for all inputs (proptest, small case counts, f64).

mod common;

use ebm_contrastive::{
    hardest_negative, semi_hard_negative, BarlowTwinsConfig, Distance, NtXentConfig, VicRegConfig,
};
use proptest::prelude::*;
use tch::{Kind, Tensor};

const CASES: u32 = 48;

fn tensor(data: &[f64], rows: usize, cols: usize) -> Tensor {
    Tensor::from_slice(data).view([rows as i64, cols as i64])
}

fn scalar(t: &Tensor) -> f64 {
    f64::try_from(t).expect("scalar")
}

/// Two views `[n, d]` with entries in [−3, 3], 1 ≤ n ≤ 6, 1 ≤ d ≤ 4.
fn two_views() -> impl Strategy<Value = (usize, usize, Vec<f64>, Vec<f64>)> {
    (1usize..=6, 1usize..=4).prop_flat_map(|(n, d)| {
        (
            Just(n),
            Just(d),
            prop::collection::vec(-3.0f64..3.0, n * d),
            prop::collection::vec(-3.0f64..3.0, n * d),
        )
    })
}

fn min_row_norm(data: &[f64], d: usize) -> f64 {
    data.chunks(d)
        .map(|r| r.iter().map(|x| x * x).sum::<f64>().sqrt())
        .fold(f64::INFINITY, f64::min)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn nt_xent_is_non_negative((n, d, a, b) in two_views(), temperature in 0.05f64..5.0) {
        let loss = NtXentConfig { temperature, ..Default::default() }.check().expect("config");
        let value = scalar(&loss.loss(&tensor(&a, n, d), &tensor(&b, n, d)).expect("loss"));
        prop_assert!(value >= 0.0, "{}", value);
    }

    #[test]
    fn nt_xent_is_invariant_to_positive_rescaling(
        (n, d, a, b) in two_views(),
        scales in prop::collection::vec(0.1f64..10.0, 12),
        temperature in 0.1f64..2.0,
    ) {
        // Rows far from zero, so the normalisation floor eps plays no part.
        prop_assume!(min_row_norm(&a, d) > 1e-3 && min_row_norm(&b, d) > 1e-3);
        let loss = NtXentConfig { temperature, ..Default::default() }.check().expect("config");
        let (z1, z2) = (tensor(&a, n, d), tensor(&b, n, d));
        let s1 = Tensor::from_slice(&scales[..n]).view([n as i64, 1]);
        let s2 = Tensor::from_slice(&scales[6..6 + n]).view([n as i64, 1]);
        let before = scalar(&loss.loss(&z1, &z2).expect("loss"));
        let after = scalar(&loss.loss(&(&z1 * &s1), &(&z2 * &s2)).expect("loss"));
        prop_assert!((before - after).abs() < 1e-9, "{} vs {}", before, after);
    }

    #[test]
    fn nt_xent_tends_to_log_2n_minus_1_at_high_temperature((n, d, a, b) in two_views()) {
        // |s_ij| ≤ 1/τ, so |loss − log(2N − 1)| ≤ 2/τ = 2e-6.
        let loss = NtXentConfig { temperature: 1e6, ..Default::default() }.check().expect("config");
        let value = scalar(&loss.loss(&tensor(&a, n, d), &tensor(&b, n, d)).expect("loss"));
        let limit = ((2 * n - 1) as f64).ln();
        prop_assert!((value - limit).abs() <= 2e-6, "{} vs {}", value, limit);
    }

    #[test]
    fn vicreg_invariance_is_zero_for_identical_views(
        (n, d, a, _b) in two_views(),
    ) {
        prop_assume!(n >= 2);
        let z = tensor(&a, n, d);
        let terms = VicRegConfig::default().check().expect("config").loss(&z, &z.copy()).expect("loss");
        prop_assert_eq!(scalar(&terms.invariance), 0.0);
        prop_assert!(scalar(&terms.variance) >= 0.0 && scalar(&terms.covariance) >= 0.0);
    }

    #[test]
    fn barlow_twins_is_invariant_to_per_dimension_affine_maps(
        (n, d) in (6usize..=10, 1usize..=4),
        seed in 0i64..10_000,
        scales in prop::collection::vec(0.5f64..4.0, 8),
        shifts in prop::collection::vec(-3.0f64..3.0, 8),
    ) {
        let _rng = common::seeded(seed);
        let z1 = Tensor::rand([n as i64, d as i64], (Kind::Double, tch::Device::Cpu)) * 2.0 - 1.0;
        let z2 = &z1 * 0.5 + Tensor::rand([n as i64, d as i64], (Kind::Double, tch::Device::Cpu));
        let var1: Vec<f64> = Vec::try_from(z1.var_dim(0, false, false)).expect("var");
        let var2: Vec<f64> = Vec::try_from(z2.var_dim(0, false, false)).expect("var");
        let v_min = var1.iter().chain(&var2).copied().fold(f64::INFINITY, f64::min);
        prop_assume!(v_min > 0.05);
        let config = BarlowTwinsConfig::default();
        let barlow = config.check().expect("config");
        let a1 = Tensor::from_slice(&scales[..d]);
        let a2 = Tensor::from_slice(&scales[4..4 + d]);
        let b1 = Tensor::from_slice(&shifts[..d]);
        let b2 = Tensor::from_slice(&shifts[4..4 + d]);
        let before = scalar(&barlow.loss(&z1, &z2).expect("loss").loss);
        let after = scalar(&barlow.loss(&(&z1 * &a1 + &b1), &(&z2 * &a2 + &b2)).expect("loss").loss);
        // Up to ε: a column x ↦ a·x + b normalises to (x − m)/√(v + ε/a²) instead of
        // (x − m)/√(v + ε), a relative change δ ≤ ε·|1 − 1/a²| / (2v). Each |C_ij| ≤ 1 moves by
        // at most 3δ (both columns, first order), so the loss moves by at most
        // Σ_i 2·2·3δ + λ Σ_{i≠j} 2·3δ ≤ 3δ·(4D + 2λD²).
        let worst_a = scales[..d].iter().chain(&scales[4..4 + d])
            .map(|a| (1.0 - 1.0 / (a * a)).abs())
            .fold(0.0, f64::max);
        let delta = config.bn_eps * worst_a / (2.0 * v_min);
        let df = d as f64;
        let bound = 3.0 * delta * (4.0 * df + 2.0 * config.lambda * df * df) + 1e-10;
        prop_assert!((before - after).abs() <= bound, "{} vs {} (bound {})", before, after, bound);
    }

    #[test]
    fn cosine_energy_stays_in_0_2(
        (n, d, a, b) in two_views(),
        log_scale in -6.0f64..6.0,
        zero_row in 0usize..8,
    ) {
        let mut a = a;
        if zero_row < n {
            for x in &mut a[zero_row * d..(zero_row + 1) * d] {
                *x = 0.0;
            }
        }
        let z1 = tensor(&a, n, d) * 10f64.powf(log_scale);
        let z2 = tensor(&b, n, d);
        let cosine = Distance::default();
        for e in [cosine.paired(&z1, &z2).expect("paired"), cosine.pairwise(&z1, &z2).expect("pairwise")] {
            let lo = scalar(&e.min());
            let hi = scalar(&e.max());
            prop_assert!((0.0..=2.0).contains(&lo) && (0.0..=2.0).contains(&hi), "{} {}", lo, hi);
        }
    }

    #[test]
    fn mined_triplets_respect_labels(
        n in 2usize..12,
        seed in 0i64..10_000,
        classes in 1i64..4,
        margin in 0.1f64..2.0,
    ) {
        let _rng = common::seeded(seed);
        let x = Tensor::randn([n as i64, 2], (Kind::Double, tch::Device::Cpu));
        let labels = Tensor::randint(classes, [n as i64], (Kind::Int64, tch::Device::Cpu));
        let l: Vec<i64> = Vec::try_from(&labels).expect("labels");
        let d = Distance::EUCLIDEAN.pairwise(&x, &x).expect("d");
        let dist = |i: i64, j: i64| scalar(&d.get(i).get(j));
        for (a, p, neg) in hardest_negative(&x, &labels, &Distance::EUCLIDEAN).expect("mine").to_vec().expect("vec") {
            prop_assert!(a != p && l[a as usize] == l[p as usize] && l[a as usize] != l[neg as usize]);
        }
        for (a, p, neg) in semi_hard_negative(&x, &labels, &Distance::EUCLIDEAN, margin).expect("mine").to_vec().expect("vec") {
            prop_assert!(a != p && l[a as usize] == l[p as usize] && l[a as usize] != l[neg as usize]);
            prop_assert!(dist(a, p) < dist(a, neg) && dist(a, neg) < dist(a, p) + margin);
        }
    }
}
