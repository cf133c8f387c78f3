//! Formula checks: exact values from the issue, hand-computed cases, brute-force references
//! for the miners, gradients against finite differences, and the edge cases (N = 1, no
//! positives).

mod common;

use ebm_contrastive::{
    hardest_negative, semi_hard_negative, BarlowTwinsConfig, ContrastiveDivergenceConfig, Distance,
    InfoNceConfig, InitNoise, MarginContrastiveConfig, NegativeCosineConfig, NtXentConfig,
    ReplayBuffer, ReplayBufferConfig, SupConConfig, TripletMarginConfig, Triplets, VicRegConfig,
};
use ebm_core::{Energy, FnEnergy, LangevinConfig, LangevinStep};
use rstest::rstest;
use tch::{Device, Kind, Tensor};

const F64: (Kind, Device) = (Kind::Double, Device::Cpu);

fn matrix(rows: &[&[f64]]) -> Tensor {
    let d = rows.first().map_or(0, |r| r.len()) as i64;
    let flat: Vec<f64> = rows.iter().flat_map(|r| r.iter().copied()).collect();
    Tensor::from_slice(&flat).view([rows.len() as i64, d])
}

fn scalar(t: &Tensor) -> f64 {
    f64::try_from(t).expect("scalar")
}

fn values(t: &Tensor) -> Vec<f64> {
    Vec::<f64>::try_from(t.to_kind(Kind::Double).flatten(0, -1)).expect("values")
}

fn nt_xent(temperature: f64) -> ebm_contrastive::NtXent {
    NtXentConfig {
        temperature,
        ..Default::default()
    }
    .check()
    .expect("valid config")
}

// ---------------------------------------------------------------- NT-Xent

#[test]
fn nt_xent_orthogonal_views() {
    // z = [e1, e2, e1, e2]; anchor e1 sees its positive at cos 1 and two negatives at cos 0:
    // −log(e^{1/0.5} / (e^{1/0.5} + 2)) = log(1 + 2e^−2) = 0.2395448.
    let z = matrix(&[&[1.0, 0.0], &[0.0, 1.0]]);
    let loss = scalar(&nt_xent(0.5).loss(&z, &z).expect("loss"));
    assert!((loss - 0.2395448).abs() < 1e-7, "{loss}");
    assert!((loss - (1.0 + 2.0 * (-2.0f64).exp()).ln()).abs() < 1e-12);
}

#[rstest]
#[case(0.1)]
#[case(0.5)]
#[case(3.0)]
fn nt_xent_parallel_embeddings_give_log_7(#[case] temperature: f64) {
    // All 8 views parallel (different lengths): every logit equal, a uniform softmax over
    // the 2N − 1 = 7 others.
    let z1 = matrix(&[&[1.0, 2.0], &[2.0, 4.0], &[0.5, 1.0], &[3.0, 6.0]]);
    let z2 = &z1 * 1.7;
    let loss = scalar(&nt_xent(temperature).loss(&z1, &z2).expect("loss"));
    assert!((loss - 7f64.ln()).abs() < 1e-9, "{loss}");
}

/// NT-Xent written out with loops, as the SimCLR paper states it.
fn nt_xent_reference(z1: &[Vec<f64>], z2: &[Vec<f64>], tau: f64) -> f64 {
    let z: Vec<&Vec<f64>> = z1.iter().chain(z2.iter()).collect();
    let n = z1.len();
    let cos = |a: &[f64], b: &[f64]| {
        let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
        let na = a.iter().map(|x| x * x).sum::<f64>().sqrt();
        let nb = b.iter().map(|x| x * x).sum::<f64>().sqrt();
        dot / (na * nb)
    };
    let mut total = 0.0;
    for i in 0..2 * n {
        let p = if i < n { i + n } else { i - n };
        let denom: f64 = (0..2 * n)
            .filter(|&k| k != i)
            .map(|k| (cos(z[i], z[k]) / tau).exp())
            .sum();
        total += -((cos(z[i], z[p]) / tau).exp() / denom).ln();
    }
    total / (2 * n) as f64
}

#[test]
fn nt_xent_matches_the_loop_reference() {
    let _rng = common::seeded(1);
    let z1 = Tensor::randn([5, 3], F64);
    let z2 = Tensor::randn([5, 3], F64);
    let rows = |t: &Tensor| -> Vec<Vec<f64>> { (0..5).map(|i| values(&t.get(i))).collect() };
    let want = nt_xent_reference(&rows(&z1), &rows(&z2), 0.3);
    let got = scalar(&nt_xent(0.3).loss(&z1, &z2).expect("loss"));
    assert!((got - want).abs() < 1e-12, "{got} vs {want}");
}

/// Central finite differences of `f` at `z`, coordinate by coordinate.
fn finite_difference(z: &Tensor, f: impl Fn(&Tensor) -> f64) -> Vec<f64> {
    let h = 1e-6;
    let flat = values(z);
    (0..flat.len())
        .map(|k| {
            let mut up = flat.clone();
            let mut down = flat.clone();
            up[k] += h;
            down[k] -= h;
            let shape = z.size();
            (f(&Tensor::from_slice(&up).view(shape.as_slice()))
                - f(&Tensor::from_slice(&down).view(shape.as_slice())))
                / (2.0 * h)
        })
        .collect()
}

#[test]
fn nt_xent_gradient_matches_finite_differences() {
    let _rng = common::seeded(2);
    let z1 = Tensor::randn([4, 3], F64).set_requires_grad(true);
    let z2 = Tensor::randn([4, 3], F64);
    let loss = nt_xent(0.4);
    loss.loss(&z1, &z2).expect("loss").backward();
    let numeric = finite_difference(&z1.detach(), |z| scalar(&loss.loss(z, &z2).expect("loss")));
    for (g, n) in values(&z1.grad()).iter().zip(&numeric) {
        assert!((g - n).abs() < 1e-6, "{g} vs {n}");
    }
}

#[test]
fn nt_xent_single_pair_is_zero_and_differentiable() {
    // N = 1: no negatives, each softmax has one term, the loss is exactly 0 = log(2·1 − 1).
    let z1 = matrix(&[&[1.0, 2.0]]).set_requires_grad(true);
    let z2 = matrix(&[&[3.0, -4.0]]).set_requires_grad(true);
    let loss = nt_xent(0.5).loss(&z1, &z2).expect("loss");
    assert_eq!(scalar(&loss), 0.0);
    assert!(loss.requires_grad());
    loss.backward();
    assert_eq!(values(&z1.grad()), vec![0.0, 0.0]);
    assert_eq!(values(&z2.grad()), vec![0.0, 0.0]);
}

#[test]
fn nt_xent_memory_smoke() {
    // N = 1024 forward and backward (the N = 4096 run is examples/ntxent_memory.rs).
    let _rng = common::seeded(3);
    let z1 = Tensor::randn([1024, 32], (Kind::Float, Device::Cpu)).set_requires_grad(true);
    let z2 = Tensor::randn([1024, 32], (Kind::Float, Device::Cpu));
    let loss = nt_xent(0.5).loss(&z1, &z2).expect("loss");
    let value = scalar(&loss.to_kind(Kind::Double));
    // Random views are near-orthogonal: the loss sits near log(2N − 1).
    assert!((value - 2047f64.ln()).abs() < 0.1, "{value}");
    loss.backward();
    assert!(bool::try_from(z1.grad().isfinite().all()).expect("bool"));
}

// ---------------------------------------------------------------- SupCon

#[test]
fn sup_con_hand_computed() {
    // Rows e1, e1, e2 with labels 0, 0, 1 and τ = 1. Anchor 0: positive row 1 (cos 1),
    // negative row 2 (cos 0): −log(e / (e + 1)) = log(1 + e^−1). Anchor 1: the same.
    // Anchor 2 has no positive and is left out. Loss = log(1 + e^−1) = 0.3132617.
    let f = matrix(&[&[1.0, 0.0], &[2.0, 0.0], &[0.0, 1.0]]);
    let labels = Tensor::from_slice(&[0i64, 0, 1]);
    let sup_con = SupConConfig {
        temperature: 1.0,
        ..Default::default()
    }
    .check()
    .expect("config");
    let loss = scalar(&sup_con.loss(&f, &labels).expect("loss"));
    assert!(
        (loss - (1.0 + (-1.0f64).exp()).ln()).abs() < 1e-12,
        "{loss}"
    );
}

#[test]
fn sup_con_with_one_positive_per_anchor_is_nt_xent() {
    let _rng = common::seeded(4);
    let z1 = Tensor::randn([6, 4], F64);
    let z2 = Tensor::randn([6, 4], F64);
    let items = Tensor::arange(6, (Kind::Int64, Device::Cpu));
    let labels = Tensor::cat(&[&items, &items], 0);
    let sup_con = SupConConfig {
        temperature: 0.7,
        ..Default::default()
    }
    .check()
    .expect("config");
    let a = scalar(
        &sup_con
            .loss(&Tensor::cat(&[&z1, &z2], 0), &labels)
            .expect("loss"),
    );
    let b = scalar(&nt_xent(0.7).loss(&z1, &z2).expect("loss"));
    assert!((a - b).abs() < 1e-12, "{a} vs {b}");
}

#[test]
fn sup_con_gradient_matches_finite_differences() {
    let _rng = common::seeded(5);
    let f = Tensor::randn([6, 3], F64).set_requires_grad(true);
    let labels = Tensor::from_slice(&[0i64, 1, 0, 2, 1, 0]);
    let sup_con = SupConConfig::default().check().expect("config");
    sup_con.loss(&f, &labels).expect("loss").backward();
    let numeric = finite_difference(&f.detach(), |z| {
        scalar(&sup_con.loss(z, &labels).expect("loss"))
    });
    for (g, n) in values(&f.grad()).iter().zip(&numeric) {
        assert!((g - n).abs() < 1e-5, "{g} vs {n}");
    }
}

#[test]
fn sup_con_without_positives_is_a_connected_zero() {
    let f = matrix(&[&[1.0, 0.0], &[0.0, 1.0], &[1.0, 1.0]]).set_requires_grad(true);
    let labels = Tensor::from_slice(&[0i64, 1, 2]);
    let loss = SupConConfig::default()
        .check()
        .expect("config")
        .loss(&f, &labels)
        .expect("loss");
    assert_eq!(scalar(&loss), 0.0);
    assert!(loss.requires_grad());
    loss.backward();
    assert_eq!(values(&f.grad()), vec![0.0; 6]);
}

// ---------------------------------------------------------------- InfoNCE with energies

#[rstest]
// −log(1 / (1 + 2e^−1)) = log(1 + 2/e) = 0.5514447
#[case(vec![0.0], vec![vec![1.0, 1.0]], 1.0, (1.0 + 2.0 * (-1.0f64).exp()).ln())]
// τ = 0.5 doubles the gaps: log(1 + 2e^−2)
#[case(vec![0.0], vec![vec![1.0, 1.0]], 0.5, (1.0 + 2.0 * (-2.0f64).exp()).ln())]
// Rows (E⁺ = 2, E⁻ = 2) → log 2 and (E⁺ = 0, E⁻ = 3) → log(1 + e^−3); the mean.
#[case(vec![2.0, 0.0], vec![vec![2.0], vec![3.0]], 1.0, (2f64.ln() + (1.0 + (-3.0f64).exp()).ln()) / 2.0)]
fn info_nce_from_energies(
    #[case] positive: Vec<f64>,
    #[case] negatives: Vec<Vec<f64>>,
    #[case] temperature: f64,
    #[case] expected: f64,
) {
    let info_nce = InfoNceConfig { temperature }.check().expect("config");
    let loss = info_nce
        .loss_from_energies(
            &Tensor::from_slice(&positive),
            &matrix(&negatives.iter().map(Vec::as_slice).collect::<Vec<_>>()),
        )
        .expect("loss");
    assert!(
        (scalar(&loss) - expected).abs() < 1e-12,
        "{}",
        scalar(&loss)
    );
}

#[test]
fn info_nce_over_an_energy_matches_its_energies() {
    // E(x, y) = ½‖x − y‖², x [3, 2], y⁺ [3, 2], y⁻ [3, 4, 2].
    let _rng = common::seeded(6);
    let energy = FnEnergy::new(|x: &Tensor, y: &Tensor| {
        (x - y).square().sum_dim_intlist(1, false, None) * 0.5
    });
    let x = Tensor::randn([3, 2], F64);
    let y_pos = Tensor::randn([3, 2], F64);
    let y_neg = Tensor::randn([3, 4, 2], F64);
    let info_nce = InfoNceConfig::default().check().expect("config");
    let got = scalar(&info_nce.loss(&energy, &x, &y_pos, &y_neg).expect("loss"));
    let e_pos = energy.energy(&x, &y_pos).expect("energy");
    let e_neg = energy.row_candidate_energies(&x, &y_neg).expect("energies");
    let want = scalar(&info_nce.loss_from_energies(&e_pos, &e_neg).expect("loss"));
    assert!((got - want).abs() < 1e-12);
}

// ---------------------------------------------------------------- margin losses

#[rstest]
#[case::similar(0.5, true, 1.0, 0.125)] // ½·0.5²
#[case::dissimilar_inside_margin(0.3, false, 1.0, 0.245)] // ½·(1 − 0.3)²
#[case::dissimilar_beyond_margin(1.2, false, 1.0, 0.0)] // max(0, 1 − 1.2) = 0
#[case::similar_far(2.0, true, 1.0, 2.0)] // ½·2²
#[case::dissimilar_wide_margin(1.2, false, 2.0, 0.32)] // ½·0.8²
fn margin_contrastive(
    #[case] distance: f64,
    #[case] similar: bool,
    #[case] margin: f64,
    #[case] expected: f64,
) {
    let loss = MarginContrastiveConfig { margin }
        .check()
        .expect("config")
        .loss(
            &Tensor::from_slice(&[distance]),
            &Tensor::from_slice(&[similar]),
        )
        .expect("loss");
    assert!(
        (scalar(&loss) - expected).abs() < 1e-12,
        "{}",
        scalar(&loss)
    );
}

#[test]
fn margin_contrastive_accepts_numeric_labels_and_averages() {
    let loss = MarginContrastiveConfig::default()
        .check()
        .expect("config")
        .loss(
            &Tensor::from_slice(&[0.5, 0.3, 1.2]),
            &Tensor::from_slice(&[1i64, 0, 0]),
        )
        .expect("loss");
    assert!((scalar(&loss) - (0.125 + 0.245) / 3.0).abs() < 1e-12);
}

#[test]
fn triplet_margin_raw_l2() {
    // d(a, p) = 1, d(a, n) = 1.5: max(0, 1 − 1.5 + 1) = 0.5.
    let triplet = TripletMarginConfig {
        margin: 1.0,
        distance: Distance::EUCLIDEAN,
    }
    .check()
    .expect("config");
    let loss = triplet
        .loss(
            &matrix(&[&[0.0, 0.0]]),
            &matrix(&[&[1.0, 0.0]]),
            &matrix(&[&[0.0, 1.5]]),
        )
        .expect("loss");
    assert!((scalar(&loss) - 0.5).abs() < 1e-12);
}

// ---------------------------------------------------------------- distances

#[rstest]
#[case::cosine_orthogonal(Distance::default(), &[1.0, 0.0], &[0.0, 1.0], 1.0)]
#[case::cosine_opposite(Distance::default(), &[1.0, 0.0], &[-2.0, 0.0], 2.0)]
#[case::cosine_parallel(Distance::default(), &[1.0, 1.0], &[2.0, 2.0], 0.0)]
#[case::cosine_zero_row(Distance::default(), &[0.0, 0.0], &[1.0, 0.0], 1.0)]
#[case::dot(Distance::Dot, &[1.0, 2.0], &[3.0, 4.0], -11.0)]
#[case::l1(Distance::Lp { p: 1.0 }, &[1.0, 2.0], &[3.0, 5.0], 5.0)]
#[case::l2(Distance::EUCLIDEAN, &[1.0, 2.0], &[3.0, 5.0], 13f64.sqrt())]
#[case::l3(Distance::Lp { p: 3.0 }, &[1.0, 2.0], &[3.0, 5.0], 35f64.cbrt())]
fn distance_values(
    #[case] distance: Distance,
    #[case] a: &[f64],
    #[case] b: &[f64],
    #[case] expected: f64,
) {
    let (a, b) = (matrix(&[a]), matrix(&[b]));
    let paired = scalar(&distance.paired(&a, &b).expect("paired").get(0));
    let pairwise = scalar(
        &distance
            .pairwise(&a, &b)
            .expect("pairwise")
            .view([-1])
            .get(0),
    );
    assert!((paired - expected).abs() < 1e-12, "{paired}");
    assert!((pairwise - expected).abs() < 1e-9, "{pairwise}");
}

#[rstest]
#[case(Distance::default())]
#[case(Distance::Dot)]
#[case(Distance::EUCLIDEAN)]
#[case(Distance::Lp { p: 1.5 })]
fn pairwise_agrees_with_paired(#[case] distance: Distance) {
    let _rng = common::seeded(7);
    let a = Tensor::randn([4, 3], F64);
    let b = Tensor::randn([5, 3], F64);
    let table = distance.pairwise(&a, &b).expect("pairwise");
    assert_eq!(table.size(), vec![4, 5]);
    // And the Energy view: candidate energies are the same table.
    let as_energy = distance.candidate_energies(&a, &b).expect("energies");
    assert!(bool::try_from(table.eq_tensor(&as_energy).all()).expect("bool"));
    for i in 0..4 {
        let row = a.get(i).unsqueeze(0).expand([5, 3], false);
        let want = distance.paired(&row, &b).expect("paired");
        let diff = f64::try_from((table.get(i) - want).abs().max()).expect("max");
        assert!(diff < 1e-9, "row {i}: {diff}");
    }
}

#[test]
fn euclidean_gradients_are_finite_at_zero_distance() {
    let a = matrix(&[&[1.0, 2.0], &[3.0, 4.0]]).set_requires_grad(true);
    let table = Distance::EUCLIDEAN.pairwise(&a, &a).expect("pairwise");
    let paired = Distance::EUCLIDEAN.paired(&a, &a).expect("paired");
    (table.sum(Kind::Double) + paired.sum(Kind::Double)).backward();
    assert!(bool::try_from(a.grad().isfinite().all()).expect("bool"));
}

// ---------------------------------------------------------------- miners

fn triplet_set(t: &Triplets) -> Vec<(i64, i64, i64)> {
    t.to_vec().expect("indices")
}

#[test]
fn miners_hand_example() {
    // 1-D points 0, 1, 0.4, 3 with labels 0, 0, 1, 1. Distances:
    //   row 0: [0, 1, 0.4, 3]   row 1: [1, 0, 0.6, 2]
    //   row 2: [0.4, 0.6, 0, 2.6]   row 3: [3, 2, 2.6, 0]
    // Hardest negative per anchor: 0→2, 1→2, 2→0, 3→1.
    // Semi-hard with m = 1.5 (d_ap < d_an < d_ap + 1.5):
    //   (0,1): needs (1, 2.5): negatives 0.4, 3 → none.   (1,0): (1, 2.5) → 3 at 2.
    //   (2,3): needs (2.6, 4.1): negatives 0.4, 0.6 → none. (3,2): (2.6, 4.1) → 0 at 3.
    let x = matrix(&[&[0.0], &[1.0], &[0.4], &[3.0]]);
    let labels = Tensor::from_slice(&[0i64, 0, 1, 1]);
    let hardest = hardest_negative(&x, &labels, &Distance::EUCLIDEAN).expect("mine");
    assert_eq!(
        triplet_set(&hardest),
        vec![(0, 1, 2), (1, 0, 2), (2, 3, 0), (3, 2, 1)]
    );
    let semi = semi_hard_negative(&x, &labels, &Distance::EUCLIDEAN, 1.5).expect("mine");
    assert_eq!(triplet_set(&semi), vec![(1, 0, 3), (3, 2, 0)]);
}

#[test]
fn miners_match_brute_force() {
    let _rng = common::seeded(8);
    let n = 14usize;
    let x = Tensor::randn([n as i64, 3], F64);
    let labels = Tensor::randint(3, [n as i64], (Kind::Int64, Device::Cpu));
    let l = Vec::<i64>::try_from(&labels).expect("labels");
    let d: Vec<Vec<f64>> = (0..n)
        .map(|i| {
            values(
                &Distance::EUCLIDEAN
                    .pairwise(&x, &x)
                    .expect("d")
                    .get(i as i64),
            )
        })
        .collect();
    let margin = 0.5;
    let (mut hard, mut semi) = (vec![], vec![]);
    for a in 0..n {
        for p in (0..n).filter(|&p| p != a && l[p] == l[a]) {
            let negatives: Vec<usize> = (0..n).filter(|&k| l[k] != l[a]).collect();
            let closest = |pool: Vec<usize>| {
                pool.into_iter()
                    .min_by(|&i, &j| d[a][i].total_cmp(&d[a][j]))
            };
            if let Some(k) = closest(negatives.clone()) {
                hard.push((a as i64, p as i64, k as i64));
            }
            let window: Vec<usize> = negatives
                .into_iter()
                .filter(|&k| d[a][k] > d[a][p] && d[a][k] < d[a][p] + margin)
                .collect();
            if let Some(k) = closest(window) {
                semi.push((a as i64, p as i64, k as i64));
            }
        }
    }
    assert!(!semi.is_empty() && semi.len() < hard.len(), "a useful case");
    let mined = hardest_negative(&x, &labels, &Distance::EUCLIDEAN).expect("mine");
    assert_eq!(triplet_set(&mined), hard);
    let mined = semi_hard_negative(&x, &labels, &Distance::EUCLIDEAN, margin).expect("mine");
    assert_eq!(triplet_set(&mined), semi);
}

#[test]
fn mined_triplet_loss_and_empty_mining() {
    let x = matrix(&[&[0.0], &[1.0], &[0.4], &[3.0]]).set_requires_grad(true);
    let labels = Tensor::from_slice(&[0i64, 0, 1, 1]);
    let triplet = TripletMarginConfig::default().check().expect("config");
    let mined = hardest_negative(&x, &labels, &Distance::EUCLIDEAN).expect("mine");
    // Mining itself records no graph.
    assert!(!mined.anchor.requires_grad());
    // (0,1,2): 1 − 0.4 + 1 = 1.6; (1,0,2): 1 − 0.6 + 1 = 1.4;
    // (2,3,0): 2.6 − 0.4 + 1 = 3.2; (3,2,1): 2.6 − 2 + 1 = 1.6. Mean 7.8 / 4 = 1.95.
    let loss = triplet.loss_mined(&x, &mined).expect("loss");
    assert!((scalar(&loss) - 1.95).abs() < 1e-12, "{}", scalar(&loss));

    // All labels distinct: no positive pair, no triplet, a zero loss still on the graph.
    let distinct = Tensor::from_slice(&[0i64, 1, 2, 3]);
    let none = hardest_negative(&x, &distinct, &Distance::EUCLIDEAN).expect("mine");
    assert!(none.is_empty());
    let zero = triplet.loss_mined(&x, &none).expect("loss");
    assert_eq!(scalar(&zero), 0.0);
    assert!(zero.requires_grad());
    zero.backward();
    assert_eq!(values(&x.grad()), vec![0.0; 4]);
}

// ---------------------------------------------------------------- VICReg, Barlow Twins, SimSiam

#[test]
fn vicreg_hand_computed() {
    // z1 = [[1,2],[3,0]], z2 = [[1,1],[3,1]], defaults (25, 25, 1, ε = 1e-4, γ = 1).
    // invariance: squared differences 0, 1, 0, 1 → mean 0.5.
    // variance: z1 columns (1,3), (2,0) have unbiased var 2 → std 1.414 > 1 → 0.
    //   z2 columns (1,3) → 0; (1,1) var 0 → std √1e-4 = 0.01 → 1 − 0.01 = 0.99.
    //   v(z1) = 0, v(z2) = 0.99/2 = 0.495; variance = (0 + 0.495)/2 = 0.2475.
    // covariance: centred z1 = [[-1,1],[1,-1]] → Cov = [[2,-2],[-2,2]] (÷ N−1 = 1),
    //   off-diagonal squares 4 + 4 = 8, ÷ D = 2 → 4; centred z2 = [[-1,0],[1,0]] → 0.
    // loss = 25·0.5 + 25·0.2475 + 1·4 = 12.5 + 6.1875 + 4 = 22.6875.
    let z1 = matrix(&[&[1.0, 2.0], &[3.0, 0.0]]);
    let z2 = matrix(&[&[1.0, 1.0], &[3.0, 1.0]]);
    let terms = VicRegConfig::default()
        .check()
        .expect("config")
        .loss(&z1, &z2)
        .expect("loss");
    for (got, want) in [
        (&terms.invariance, 0.5),
        (&terms.variance, 0.2475),
        (&terms.covariance, 4.0),
        (&terms.loss, 22.6875),
    ] {
        assert!(
            (scalar(got) - want).abs() < 1e-12,
            "{} vs {want}",
            scalar(got)
        );
    }
}

#[test]
fn barlow_twins_hand_computed() {
    // z1 = [[1,2],[3,0]], z2 = [[0,0],[2,4]], biased variance, λ = 5e-3.
    // With a negligible ε the batch-normalised columns are z1: (−1,1), (1,−1);
    // z2: (−1,1), (−1,1). C = BN(z1)ᵀ BN(z2) / 2 = [[1, 1], [−1, −1]].
    // on-diagonal (1 − 1)² + (1 + 1)² = 4; off-diagonal 1² + (−1)² = 2;
    // loss = 4 + 5e-3·2 = 4.01.
    let z1 = matrix(&[&[1.0, 2.0], &[3.0, 0.0]]);
    let z2 = matrix(&[&[0.0, 0.0], &[2.0, 4.0]]);
    let exact = BarlowTwinsConfig {
        bn_eps: 1e-12,
        ..Default::default()
    }
    .check()
    .expect("config")
    .loss(&z1, &z2)
    .expect("loss");
    assert!((scalar(&exact.on_diagonal) - 4.0).abs() < 1e-9);
    assert!((scalar(&exact.off_diagonal) - 2.0).abs() < 1e-9);
    assert!((scalar(&exact.loss) - 4.01).abs() < 1e-9);

    // With the default ε = 1e-5 the columns shrink by k = 1/√(1 + ε/1) (variance 1) and
    // k' = 1/√(1 + ε/4) (z2's second column has variance 4):
    // C = [[k², kk'], [−k², −kk']], loss = (1 − k²)² + (1 + kk')² + λ(k⁴ + k²k'²).
    let k = 1.0 / (1.0f64 + 1e-5).sqrt();
    let k2 = 1.0 / (1.0f64 + 1e-5 / 4.0).sqrt();
    let want =
        (1.0 - k * k).powi(2) + (1.0 + k * k2).powi(2) + 5e-3 * (k.powi(4) + (k * k2).powi(2));
    let got = BarlowTwinsConfig::default()
        .check()
        .expect("config")
        .loss(&z1, &z2)
        .expect("loss");
    assert!(
        (scalar(&got.loss) - want).abs() < 1e-12,
        "{} vs {want}",
        scalar(&got.loss)
    );

    // Identical views of perfectly anti-correlated columns: C = [[1, −1], [−1, 1]], so the
    // on-diagonal term vanishes and the loss is λ·2 = 0.01.
    let same = BarlowTwinsConfig {
        bn_eps: 1e-12,
        ..Default::default()
    }
    .check()
    .expect("config")
    .loss(&z1, &z1)
    .expect("loss");
    assert!((scalar(&same.loss) - 0.01).abs() < 1e-9);
}

#[test]
fn negative_cosine_stops_the_target_gradient() {
    // p = (1, 0), z = (1, 1): cos = 1/√2, D = −0.7071068.
    let p = matrix(&[&[1.0, 0.0]]).set_requires_grad(true);
    let z = matrix(&[&[1.0, 1.0]]).set_requires_grad(true);
    let nc = NegativeCosineConfig::default().check().expect("config");
    let loss = nc.loss(&p, &z).expect("loss");
    assert!((scalar(&loss) + 0.5f64.sqrt()).abs() < 1e-12);
    loss.backward();
    assert!(!z.grad().defined(), "the target must get no gradient");
    // d(−cos)/dp at p = e1 toward z: only the component orthogonal to p moves, (0, −1/√2).
    let g = values(&p.grad());
    assert!(
        g[0].abs() < 1e-12 && (g[1] + 0.5f64.sqrt()).abs() < 1e-12,
        "{g:?}"
    );

    // Symmetric SimSiam form: ½ D(p1, z2) + ½ D(p2, z1).
    let p2 = matrix(&[&[0.0, 1.0]]);
    let z1 = matrix(&[&[0.0, 3.0]]);
    let sym = nc.symmetric(&p, &p2, &z1, &z).expect("loss");
    assert!((scalar(&sym) - 0.5 * (-(0.5f64.sqrt()) - 1.0)).abs() < 1e-12);
}

// ---------------------------------------------------------------- contrastive divergence

#[rstest]
// mean E⁺ = 2, mean E⁻ = 3 → −1; regulariser mean(1, 9) + mean(4, 16) = 5 + 10 = 15.
#[case(0.0, -1.0)]
#[case(0.1, -1.0 + 0.1 * 15.0)]
fn contrastive_divergence_values(#[case] l2_weight: f64, #[case] expected: f64) {
    let cd = ContrastiveDivergenceConfig { l2_weight }
        .check()
        .expect("config");
    let terms = cd
        .loss_from_energies(
            &Tensor::from_slice(&[1.0, 3.0]),
            &Tensor::from_slice(&[2.0, 4.0]),
        )
        .expect("loss");
    assert!((scalar(&terms.contrastive) + 1.0).abs() < 1e-12);
    assert!((scalar(&terms.regularizer) - 15.0).abs() < 1e-12);
    assert!((scalar(&terms.loss) - expected).abs() < 1e-12);
}

#[test]
fn contrastive_divergence_over_an_energy_sends_no_gradient_through_negatives() {
    let energy =
        FnEnergy::new(|_x: &Tensor, y: &Tensor| y.square().sum_dim_intlist(1, false, None));
    let x = Tensor::zeros([2, 0], F64);
    let y_pos = matrix(&[&[1.0], &[2.0]]);
    let y_neg = matrix(&[&[3.0], &[0.0]]).set_requires_grad(true);
    let cd = ContrastiveDivergenceConfig::default()
        .check()
        .expect("config");
    let terms = cd.loss(&energy, &x, &y_pos, &y_neg).expect("loss");
    // (1 + 4)/2 − (9 + 0)/2 = −2.
    assert!((scalar(&terms.loss) + 2.0).abs() < 1e-12);
    assert!(!terms.loss.requires_grad());
}

// ---------------------------------------------------------------- replay buffer

/// A buffer of 6 chains in [1, 2]², advanced by one noiseless Langevin step of size ½ on
/// E = ½‖y‖², which halves every chain it touches.
fn halving_buffer(reinit_fraction: f64) -> ReplayBuffer {
    let langevin = LangevinConfig {
        step: LangevinStep::Decoupled {
            step_size: 0.5,
            noise_std: 0.0,
        },
        steps: 1,
        clamp: None,
        grad_clip: None,
    }
    .check()
    .expect("sampler");
    let config = ReplayBufferConfig {
        capacity: 6,
        reinit_fraction,
        init: InitNoise::Uniform { lo: 1.0, hi: 2.0 },
    };
    ReplayBuffer::new(&config.check().expect("config"), langevin, &[2], F64).expect("buffer")
}

fn half_square_norm() -> impl Energy {
    FnEnergy::new(|_x: &Tensor, y: &Tensor| y.square().sum_dim_intlist(1, false, None) * 0.5)
}

#[test]
fn replay_buffer_chains_persist() {
    let _rng = common::seeded(9);
    let energy = half_square_norm();
    let mut buffer = halving_buffer(0.0);
    let initial = buffer.chains().copy();
    let x = Tensor::zeros([4, 0], F64);
    // Four distinct chains are drawn, halved, returned and written back; two stay as they were.
    let drawn = buffer.sample(&energy, &x).expect("sample");
    assert_eq!(drawn.size(), vec![4, 2]);
    assert!(!drawn.requires_grad());
    let halved = (buffer.chains() - &initial * 0.5)
        .abs()
        .sum_dim_intlist(1, false, None)
        .lt(1e-12);
    let kept = (buffer.chains() - &initial)
        .abs()
        .sum_dim_intlist(1, false, None)
        .lt(1e-12);
    assert_eq!(i64::try_from(halved.sum(Kind::Int64)).expect("count"), 4);
    assert_eq!(i64::try_from(kept.sum(Kind::Int64)).expect("count"), 2);
    // Every returned sample is half of some initial chain.
    for i in 0..4 {
        let gap = (&initial * 0.5 - drawn.get(i))
            .abs()
            .sum_dim_intlist(1, false, None)
            .min();
        assert!(scalar(&gap) < 1e-12);
    }
    // Drawing the whole buffer twice more continues the same chains: every chain ends at
    // initial·½^k with k = 2 or 3.
    let all = Tensor::zeros([6, 0], F64);
    let _ = buffer.sample(&energy, &all).expect("sample");
    let _ = buffer.sample(&energy, &all).expect("sample");
    let ratio = values(&(buffer.chains() / &initial));
    assert!(
        ratio
            .iter()
            .all(|r| (r - 0.25).abs() < 1e-12 || (r - 0.125).abs() < 1e-12),
        "{ratio:?}"
    );
}

#[test]
fn replay_buffer_reinit_restarts_from_noise() {
    let _rng = common::seeded(10);
    let energy = half_square_norm();
    let mut buffer = halving_buffer(1.0);
    let all = Tensor::zeros([6, 0], F64);
    for _ in 0..3 {
        // Every chain restarts in [1, 2]² before its step, so samples stay in [½, 1]² rather
        // than shrinking to [⅛, ¼]².
        let drawn = values(&buffer.sample(&energy, &all).expect("sample"));
        assert!(drawn.iter().all(|v| (0.5..=1.0).contains(v)), "{drawn:?}");
    }
}
