//! Properties every loss must have for all inputs: gradient signs, the margin condition of
//! LeCun et al. (2006), limits in β, bounds, agreement with ebm-core, finite numerics.

use ebm_core::{free_energy, free_energy_weighted};
use ebm_loss::{
    EnergyLoss, Hinge, Log, Loss, LossInput, Lvq2, Mce, MinimumEmpiricalError,
    NegativeLogLikelihood, Perceptron, Reduction, SquareExponential, SquareSquare,
};
use proptest::prelude::*;
use proptest::test_runner::RngSeed;
use tch::{Device, Kind, Tensor};

fn config(cases: u32, seed: u64) -> ProptestConfig {
    ProptestConfig {
        cases,
        rng_seed: RngSeed::Fixed(seed),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// The losses that push E_C down and E_I up, with their hyperparameters, and whether they
/// live on non-negative energies.
fn good_losses(m: f64, delta: f64, gamma: f64, beta: f64) -> Vec<(Box<dyn Loss>, bool)> {
    vec![
        (Box::new(Hinge::new(m).expect("m")), false),
        (Box::new(Log), false),
        (Box::new(Lvq2::new(delta).expect("delta")), true),
        (Box::new(Mce), false),
        (Box::new(SquareSquare::new(m).expect("m")), true),
        (
            Box::new(SquareExponential::new(gamma).expect("gamma")),
            true,
        ),
        (
            Box::new(NegativeLogLikelihood::new(beta).expect("beta")),
            false,
        ),
        (
            Box::new(MinimumEmpiricalError::new(beta).expect("beta")),
            false,
        ),
    ]
}

/// Rows of (E_C, E_I, other energies) and the tensors built from them: e_all = [E_C, E_I,
/// others...], so a finite Y in which E_C and E_I appear.
struct Batch {
    ec: Tensor,
    ei: Tensor,
    all: Tensor,
}

impl Batch {
    fn new(rows: &[(f64, f64)], others: &[f64], kind: Kind, grad: bool) -> Batch {
        let b = rows.len() as i64;
        let ec: Vec<f64> = rows.iter().map(|r| r.0).collect();
        let ei: Vec<f64> = rows.iter().map(|r| r.1).collect();
        let ec = Tensor::from_slice(&ec)
            .to_kind(kind)
            .set_requires_grad(grad);
        let ei = Tensor::from_slice(&ei)
            .to_kind(kind)
            .set_requires_grad(grad);
        let rest = Tensor::from_slice(others)
            .to_kind(kind)
            .view([1, -1])
            .expand([b, others.len() as i64], false);
        let all = Tensor::cat(&[ec.view([b, 1]), ei.view([b, 1]), rest], 1);
        Batch { ec, ei, all }
    }

    fn input(&self) -> LossInput<'_> {
        LossInput::with_all(&self.ec, &self.ei, &self.all)
    }
}

fn grads(t: &Tensor) -> Vec<f64> {
    Vec::try_from(t.grad().to_kind(Kind::Double)).expect("gradient")
}

fn values(t: &Tensor) -> Vec<f64> {
    Vec::try_from(t.to_kind(Kind::Double)).expect("values")
}

fn energy_pairs(lo: f64, hi: f64) -> impl Strategy<Value = Vec<(f64, f64)>> {
    prop::collection::vec((lo..hi, lo..hi), 1..24)
}

proptest! {
    #![proptest_config(config(48, 1))]

    /// ∂L/∂E_C ≥ 0 and ∂L/∂E_I ≤ 0 by autograd (through both E_C and e_all for NLL and
    /// MEE), on each loss's natural domain. The slack is f64 rounding only.
    #[test]
    fn gradient_signs(
        rows in energy_pairs(-30.0, 30.0),
        positive_rows in energy_pairs(1e-3, 30.0),
        others in prop::collection::vec(-30.0f64..30.0, 0..5),
        m in 0.1f64..3.0, delta in 0.1f64..2.0, gamma in 0.1f64..3.0, beta in 0.1f64..5.0,
    ) {
        for (loss, non_negative) in good_losses(m, delta, gamma, beta) {
            let rows = if non_negative { &positive_rows } else { &rows };
            let batch = Batch::new(rows, &others, Kind::Double, true);
            loss.loss(&batch.input(), Reduction::Sum).expect("loss").backward();
            for (b, (gc, gi)) in grads(&batch.ec).iter().zip(grads(&batch.ei)).enumerate() {
                prop_assert!(*gc >= -1e-12, "{}: dL/dE_C = {} at {:?}", loss.name(), gc, rows[b]);
                prop_assert!(gi <= 1e-12, "{}: dL/dE_I = {} at {:?}", loss.name(), gi, rows[b]);
            }
        }
    }
}

/// The smallest loss over grid points with E_I ≥ E_C + m + s and over grid points with
/// E_I ≤ E_C + m − s. Other energies of Y sit at E_I + offsets (E_I stays the most
/// offending answer).
fn margin_minima(loss: &dyn Loss, lo: f64, hi: f64, m: f64, s: f64, offsets: &[f64]) -> (f64, f64) {
    let n = 81;
    let axis = Tensor::linspace(lo, hi, n, (Kind::Double, Device::Cpu));
    let ec = axis.repeat_interleave_self_int(n, 0, None);
    let ei = axis.repeat([n]);
    let b = n * n;
    let offsets = Tensor::from_slice(offsets)
        .view([1, -1])
        .expand([b, offsets.len() as i64], false);
    let all = Tensor::cat(
        &[ec.view([b, 1]), ei.view([b, 1]), ei.view([b, 1]) + offsets],
        1,
    );
    let l = loss
        .per_sample(&LossInput::with_all(&ec, &ei, &all))
        .expect("loss");
    let gap = &ei - &ec;
    let inf = Tensor::full([b], f64::INFINITY, (Kind::Double, Device::Cpu));
    let good = l.where_self(&gap.ge(m + s), &inf).min();
    let bad = l.where_self(&gap.le(m - s), &inf).min();
    (
        f64::try_from(good).expect("min"),
        f64::try_from(bad).expect("min"),
    )
}

proptest! {
    #![proptest_config(config(32, 2))]

    /// LeCun et al. (2006), condition 3: the lowest loss where the correct answer wins by
    /// the margin plus a slack is strictly below the lowest loss where it does not.
    #[test]
    fn margin_condition(
        m in 0.1f64..3.0,
        slack_fraction in 0.01f64..0.9,
        lo in -10.0f64..0.0,
        extra_width in 0.5f64..15.0,
        offsets in prop::collection::vec(0.0f64..5.0, 0..4),
        gamma in 0.1f64..3.0, beta in 0.2f64..5.0,
    ) {
        let s = slack_fraction * m;
        let width = m + s + extra_width;
        let losses: Vec<(Box<dyn Loss>, bool)> = vec![
            (Box::new(Hinge::new(m).expect("m")), false),
            (Box::new(SquareSquare::new(m).expect("m")), true),
            (Box::new(Log), false),
            (Box::new(Mce), false),
            (Box::new(SquareExponential::new(gamma).expect("gamma")), true),
            (Box::new(NegativeLogLikelihood::new(beta).expect("beta")), false),
            (Box::new(MinimumEmpiricalError::new(beta).expect("beta")), false),
        ];
        for (loss, non_negative) in losses {
            let lo = if non_negative { 0.0 } else { lo };
            let (good, bad) = margin_minima(loss.as_ref(), lo, lo + width, m, s, &offsets);
            prop_assert!(good < bad, "{}: min {} over E_I >= E_C + m + s, min {} over E_I <= E_C + m - s", loss.name(), good, bad);
        }
        // The losses without a margin fail it: both minima are equal.
        let lvq2 = Lvq2::new(0.5).expect("delta");
        let flat: Vec<(Box<dyn Loss>, f64)> = vec![(Box::new(EnergyLoss), lo), (Box::new(Perceptron), lo), (Box::new(lvq2), 1.0)];
        for (loss, lo) in flat {
            let (good, bad) = margin_minima(loss.as_ref(), lo, lo + width, m, s, &offsets);
            prop_assert_eq!(good, bad, "{} should not satisfy the margin condition", loss.name());
        }
    }
}

fn table_and_labels(max: f64) -> impl Strategy<Value = (Vec<Vec<f64>>, Vec<i64>)> {
    (2usize..8, 1usize..12).prop_flat_map(move |(k, b)| {
        (
            prop::collection::vec(prop::collection::vec(-max..max, k), b),
            prop::collection::vec(0..k as i64, b),
        )
    })
}

/// e_all `[B, K]` and E_C gathered from it (so E_C is one of the answers).
fn table(rows: &[Vec<f64>], labels: &[i64], kind: Kind) -> (Tensor, Tensor) {
    let k = rows[0].len() as i64;
    let flat: Vec<f64> = rows.iter().flatten().copied().collect();
    let all = Tensor::from_slice(&flat)
        .view([rows.len() as i64, k])
        .to_kind(kind);
    let ec = all
        .gather(1, &Tensor::from_slice(labels).view([-1, 1]), false)
        .view([-1]);
    (all, ec)
}

proptest! {
    #![proptest_config(config(48, 3))]

    /// 0 ≤ NLL_β − perceptron = min E − F_β ≤ log K / β, shrinking as β grows.
    #[test]
    fn nll_tends_to_the_perceptron_as_beta_grows((rows, labels) in table_and_labels(50.0)) {
        let (all, ec) = table(&rows, &labels, Kind::Double);
        let input = LossInput::over_all(&ec, &all);
        let perceptron = values(&Perceptron.per_sample(&input).expect("perceptron"));
        let log_k = (rows[0].len() as f64).ln();
        let mut previous = vec![f64::INFINITY; rows.len()];
        for beta in [0.5, 2.0, 10.0, 100.0, 1000.0, 1e5] {
            let nll = values(&NegativeLogLikelihood::new(beta).expect("beta").per_sample(&input).expect("nll"));
            for b in 0..rows.len() {
                let gap = nll[b] - perceptron[b];
                prop_assert!(gap >= -1e-12 && gap <= log_k / beta + 1e-12, "beta {}: gap {}", beta, gap);
                prop_assert!(gap <= previous[b] + 1e-12, "beta {}: gap {} grew from {}", beta, gap, previous[b]);
                previous[b] = gap;
            }
        }
    }

    /// NLL = E_C − F_β with ebm-core's free energy, with and without log weights.
    #[test]
    fn nll_agrees_with_ebm_core_free_energy(
        (rows, labels) in table_and_labels(100.0),
        beta in 0.05f64..20.0,
        log_w in -3.0f64..3.0,
    ) {
        let (all, ec) = table(&rows, &labels, Kind::Double);
        let nll = NegativeLogLikelihood::new(beta).expect("beta");
        let got = values(&nll.per_sample(&LossInput::over_all(&ec, &all)).expect("nll"));
        let expected = values(&(&ec - free_energy(&all, beta, 1).expect("F")));
        let w = Tensor::from_slice(&[log_w]);
        let got_w = values(&nll.per_sample(&LossInput::over_all(&ec, &all).weighted(&w)).expect("nll"));
        let expected_w = values(&(&ec - free_energy_weighted(&all, &w, beta, 1).expect("F")));
        for b in 0..rows.len() {
            prop_assert!((got[b] - expected[b]).abs() <= 1e-9 * (1.0 + expected[b].abs()), "{} vs {}", got[b], expected[b]);
            prop_assert!((got_w[b] - expected_w[b]).abs() <= 1e-9 * (1.0 + expected_w[b].abs()), "{} vs {}", got_w[b], expected_w[b]);
        }
    }

    /// MEE = 1 − P(y_i | x_i) stays in [0, 1] on a finite Y, in f32 and f64, for energies up
    /// to ±1e4 and β over six decades.
    #[test]
    fn mee_stays_in_the_unit_interval(
        (rows, labels) in table_and_labels(1e4),
        log_beta in -3.0f64..3.0,
    ) {
        let mee = MinimumEmpiricalError::new(10f64.powf(log_beta)).expect("beta");
        for kind in [Kind::Float, Kind::Double] {
            let (all, ec) = table(&rows, &labels, kind);
            for v in values(&mee.per_sample(&LossInput::over_all(&ec, &all)).expect("mee")) {
                prop_assert!((0.0..=1.0).contains(&v), "{:?}: MEE = {}", kind, v);
            }
        }
    }
}

/// An energy in [−1e4, 1e4] with the extremes and zero drawn often.
fn extreme(lo: f64) -> impl Strategy<Value = f64> {
    prop_oneof![
        3 => lo..1e4f64,
        1 => Just(1e4),
        1 => Just(lo),
        1 => Just(0.0f64.max(lo)),
    ]
}

proptest! {
    #![proptest_config(config(48, 4))]

    /// No NaN or inf in losses or gradients for energies up to ±1e4, in f32 and f64.
    /// LVQ2 needs E_I > 0 and square-exponential's e^(−E_I) overflows f32 below −88, so
    /// their E_I is drawn from [1e-3, 1e4] and [−80, 1e4].
    #[test]
    fn finite_for_energies_up_to_1e4(
        ec in prop::collection::vec(extreme(-1e4), 1..16),
        ei in prop::collection::vec(extreme(-1e4), 16),
        ei_positive in prop::collection::vec(extreme(1e-3), 16),
        ei_moderate in prop::collection::vec(extreme(-80.0), 16),
        others in prop::collection::vec(extreme(-1e4), 0..4),
        log_beta in -3.0f64..3.0,
    ) {
        let beta = 10f64.powf(log_beta);
        let mut losses = good_losses(1.0, 0.5, 1.0, beta);
        losses.push((Box::new(EnergyLoss), false));
        losses.push((Box::new(Perceptron), false));
        for kind in [Kind::Float, Kind::Double] {
            for (loss, _) in &losses {
                let ei = match loss.name() {
                    "lvq2" => &ei_positive,
                    "square_exponential" => &ei_moderate,
                    _ => &ei,
                };
                let rows: Vec<(f64, f64)> = ec.iter().copied().zip(ei.iter().copied()).collect();
                let batch = Batch::new(&rows, &others, kind, true);
                let l = loss.per_sample(&batch.input()).expect("loss");
                let finite = bool::try_from(l.isfinite().all()).expect("bool");
                prop_assert!(finite, "{} {:?}: {:?} at {:?}", loss.name(), kind, values(&l), rows);
                l.sum(kind).backward();
                for (name, t) in [("E_C", &batch.ec), ("E_I", &batch.ei)] {
                    let g = t.grad();
                    if g.defined() {
                        prop_assert!(bool::try_from(g.isfinite().all()).expect("bool"), "{} {:?}: dL/d{} = {:?}", loss.name(), kind, name, grads(t));
                    }
                }
            }
        }
    }
}

#[test]
fn square_exponential_overflows_to_infinity_not_nan() {
    // e^(1e4) is not representable in any float kind: the loss is +inf and its gradient
    // −inf, never NaN. Square-exponential is meant for non-negative energies.
    for kind in [Kind::Float, Kind::Double] {
        let batch = Batch::new(&[(1.0, -1e4)], &[], kind, true);
        let loss = SquareExponential::new(1.0).expect("gamma");
        let l = loss.per_sample(&batch.input()).expect("loss");
        assert_eq!(values(&l), vec![f64::INFINITY]);
        l.sum(kind).backward();
        assert_eq!(grads(&batch.ei), vec![f64::NEG_INFINITY]);
        assert_eq!(grads(&batch.ec), vec![2.0]);
    }
}

#[test]
fn extreme_gaps_saturate_exactly() {
    // Gaps of ±2e4: log → 0 or the gap itself, MCE → 0 or 1, NLL → 0 or the gap, MEE → 0 or 1.
    let batch = Batch::new(&[(-1e4, 1e4), (1e4, -1e4)], &[], Kind::Float, false);
    let input = batch.input();
    let check = |loss: &dyn Loss, expected: [f64; 2]| {
        let got = values(&loss.per_sample(&input).expect("loss"));
        assert_eq!(got, expected.to_vec(), "{}", loss.name());
    };
    check(&Log, [0.0, 2e4]);
    check(&Mce, [0.0, 1.0]);
    check(&NegativeLogLikelihood::new(1.0).expect("beta"), [0.0, 2e4]);
    check(&MinimumEmpiricalError::new(1.0).expect("beta"), [0.0, 1.0]);
    check(&Hinge::new(1.0).expect("m"), [0.0, 2e4 + 1.0]);
}
