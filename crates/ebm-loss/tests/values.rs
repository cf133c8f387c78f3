//! Loss values and gradients against hand-computed numbers.

use ebm_core::Quadrature;
use ebm_loss::{
    energy_at, most_offending_finite, EnergyLoss, Hinge, Log, Loss, LossConfig, LossInput, Lvq2,
    Mce, MinimumEmpiricalError, Needs, NegativeLogLikelihood, Perceptron, Reduction,
    SquareExponential, SquareSquare,
};
use rstest::rstest;
use tch::{Device, Kind, Tensor};

fn values(t: &Tensor) -> Vec<f64> {
    Vec::try_from(t.to_kind(Kind::Double)).expect("values")
}

/// The per-sample loss of each row of `rows` (energies over Y) with correct answers
/// `labels`, E_C and E_I taken from the table by `energy_at` and `most_offending_finite`.
fn loss_of_table(loss: &dyn Loss, rows: &[Vec<f64>], labels: &[i64], kind: Kind) -> Vec<f64> {
    let k = rows[0].len() as i64;
    let flat: Vec<f64> = rows.iter().flatten().copied().collect();
    let e_all = Tensor::from_slice(&flat)
        .view([rows.len() as i64, k])
        .to_kind(kind);
    let labels = Tensor::from_slice(labels);
    let ec = energy_at(&e_all, &labels).expect("E_C");
    let ei = most_offending_finite(&e_all, &labels).expect("E_I").energy;
    let out = loss
        .per_sample(&LossInput::with_all(&ec, &ei, &e_all))
        .expect("loss");
    assert_eq!(out.size(), vec![rows.len() as i64]);
    values(&out)
}

// The issue's table: m = 1, γ = 1, δ = 0.5, β = 1, Y = {correct, incorrect}.
#[rstest]
#[case::hinge_a(LossConfig::Hinge { margin: 1.0 }, 1.0, 2.0, 0.0)]
#[case::log_a(LossConfig::Log {}, 1.0, 2.0, 0.313262)]
#[case::lvq2_a(LossConfig::Lvq2 { delta: 0.5 }, 1.0, 2.0, 0.0)]
#[case::mce_a(LossConfig::Mce {}, 1.0, 2.0, 0.268941)]
#[case::square_square_a(LossConfig::SquareSquare { margin: 1.0 }, 1.0, 2.0, 1.0)]
#[case::square_exp_a(LossConfig::SquareExponential { gamma: 1.0 }, 1.0, 2.0, 1.135335)]
#[case::perceptron_a(LossConfig::Perceptron {}, 1.0, 2.0, 0.0)]
#[case::nll_a(LossConfig::Nll { beta: 1.0 }, 1.0, 2.0, 0.313262)]
#[case::mee_a(LossConfig::Mee { beta: 1.0 }, 1.0, 2.0, 0.268941)]
#[case::hinge_b(LossConfig::Hinge { margin: 1.0 }, 2.0, 1.0, 2.0)]
#[case::log_b(LossConfig::Log {}, 2.0, 1.0, 1.313262)]
#[case::lvq2_b(LossConfig::Lvq2 { delta: 0.5 }, 2.0, 1.0, 1.0)]
#[case::mce_b(LossConfig::Mce {}, 2.0, 1.0, 0.731059)]
#[case::square_square_b(LossConfig::SquareSquare { margin: 1.0 }, 2.0, 1.0, 4.0)]
#[case::square_exp_b(LossConfig::SquareExponential { gamma: 1.0 }, 2.0, 1.0, 4.367879)]
#[case::perceptron_b(LossConfig::Perceptron {}, 2.0, 1.0, 1.0)]
#[case::nll_b(LossConfig::Nll { beta: 1.0 }, 2.0, 1.0, 1.313262)]
#[case::mee_b(LossConfig::Mee { beta: 1.0 }, 2.0, 1.0, 0.731059)]
fn issue_table(
    #[case] config: LossConfig,
    #[case] ec: f64,
    #[case] ei: f64,
    #[case] expected: f64,
    #[values(Kind::Double, Kind::Float)] kind: Kind,
) {
    let loss = config.build().expect("valid");
    let got = loss_of_table(loss.as_ref(), &[vec![ec, ei]], &[0], kind)[0];
    // The issue gives 6 decimals; f32 adds a few ulps of the value.
    let tolerance = if kind == Kind::Double { 5e-7 } else { 1e-6 };
    assert!(
        (got - expected).abs() <= tolerance,
        "{}: got {got}, expected {expected}",
        loss.name()
    );
}

// Y with K = 3: energies [0.5, 1, 2], correct answer 1, so E_C = 1 and E_I = 0.5.
// NLL = 1 + (1/β) log(e^(−0.5β) + e^(−β) + e^(−2β)); MEE = 1 − e^(−β) / Σ.
#[rstest]
#[case::hinge(LossConfig::Hinge { margin: 1.0 }, 1.5)]
#[case::hinge_small_margin(LossConfig::Hinge { margin: 0.25 }, 0.75)]
#[case::log(LossConfig::Log {}, 0.974076984)]
#[case::lvq2_saturated(LossConfig::Lvq2 { delta: 0.5 }, 1.0)]
#[case::lvq2_linear(LossConfig::Lvq2 { delta: 2.0 }, 0.5)]
#[case::mce(LossConfig::Mce {}, 0.622459331)]
#[case::square_square(LossConfig::SquareSquare { margin: 1.0 }, 1.25)]
#[case::square_square_small_margin(LossConfig::SquareSquare { margin: 0.25 }, 1.0)]
#[case::square_exp(LossConfig::SquareExponential { gamma: 1.0 }, 1.606530660)]
#[case::square_exp_gamma_2(LossConfig::SquareExponential { gamma: 2.0 }, 2.213061319)]
#[case::perceptron(LossConfig::Perceptron {}, 0.5)]
#[case::energy(LossConfig::Energy {}, 1.0)]
#[case::nll_beta_half(LossConfig::Nll { beta: 0.5 }, 2.122897795)]
#[case::nll_beta_1(LossConfig::Nll { beta: 1.0 }, 1.104130605)]
#[case::nll_beta_2(LossConfig::Nll { beta: 2.0 }, 0.674506108)]
#[case::nll_beta_5(LossConfig::Nll { beta: 5.0 }, 0.515880146)]
#[case::mee_beta_half(LossConfig::Mee { beta: 0.5 }, 0.654045805)]
#[case::mee_beta_1(LossConfig::Mee { beta: 1.0 }, 0.668501040)]
#[case::mee_beta_2(LossConfig::Mee { beta: 2.0 }, 0.740503540)]
#[case::mee_beta_5(LossConfig::Mee { beta: 5.0 }, 0.924180573)]
fn three_answers(#[case] config: LossConfig, #[case] expected: f64) {
    let loss = config.build().expect("valid");
    let got = loss_of_table(loss.as_ref(), &[vec![0.5, 1.0, 2.0]], &[1], Kind::Double)[0];
    assert!(
        (got - expected).abs() <= 1e-9,
        "{}: got {got}, expected {expected}",
        loss.name()
    );
}

// Y with K = 4: energies [3, −1, 2, 0.5], correct answer 0: E_C = 3, E_I = −1.
#[rstest]
#[case::hinge(LossConfig::Hinge { margin: 1.0 }, 5.0)]
#[case::log(LossConfig::Log {}, 4.018149928)]
#[case::mce(LossConfig::Mce {}, 0.982013790)]
#[case::square_square(LossConfig::SquareSquare { margin: 1.0 }, 13.0)]
#[case::square_exp(LossConfig::SquareExponential { gamma: 1.0 }, 11.718281828)]
#[case::perceptron(LossConfig::Perceptron {}, 4.0)]
#[case::nll_beta_half(LossConfig::Nll { beta: 0.5 }, 5.209541012)]
#[case::nll_beta_1(LossConfig::Nll { beta: 1.0 }, 4.255597473)]
#[case::nll_beta_2(LossConfig::Nll { beta: 2.0 }, 4.025632256)]
#[case::mee_beta_half(LossConfig::Mee { beta: 0.5 }, 0.926079901)]
#[case::mee_beta_1(LossConfig::Mee { beta: 1.0 }, 0.985815387)]
#[case::mee_beta_2(LossConfig::Mee { beta: 2.0 }, 0.999681301)]
fn four_answers(#[case] config: LossConfig, #[case] expected: f64) {
    let loss = config.build().expect("valid");
    let got = loss_of_table(
        loss.as_ref(),
        &[vec![3.0, -1.0, 2.0, 0.5]],
        &[0],
        Kind::Double,
    )[0];
    assert!(
        (got - expected).abs() <= 1e-9,
        "{}: got {got}, expected {expected}",
        loss.name()
    );
}

#[test]
fn a_batch_is_the_rows_computed_one_by_one() {
    let rows = vec![
        vec![0.5, 1.0, 2.0],
        vec![3.0, -1.0, 2.0],
        vec![0.0, 0.0, 4.0],
    ];
    let labels = [1, 0, 2];
    for config in LossConfig::all_defaults() {
        if matches!(config, LossConfig::Lvq2 { .. }) {
            continue; // E_I = −1 and 0 here: outside LVQ2's domain (tested with bad input).
        }
        let loss = config.build().expect("valid");
        let batch = loss_of_table(loss.as_ref(), &rows, &labels, Kind::Double);
        for (i, row) in rows.iter().enumerate() {
            let single = loss_of_table(
                loss.as_ref(),
                std::slice::from_ref(row),
                &[labels[i]],
                Kind::Double,
            );
            assert!(
                (batch[i] - single[0]).abs() < 1e-12,
                "{} row {i}",
                loss.name()
            );
        }
    }
}

#[rstest]
#[case(Reduction::Mean, vec![1.25])]
#[case(Reduction::Sum, vec![2.5])]
#[case(Reduction::None, vec![0.5, 2.0])]
fn reductions(#[case] reduction: Reduction, #[case] expected: Vec<f64>) {
    let ec = Tensor::from_slice(&[0.5f64, 1.0]);
    let ei = Tensor::from_slice(&[1.0f64, 0.0]);
    let hinge = Hinge::new(1.0).expect("margin");
    let out = hinge
        .loss(&LossInput::pair(&ec, &ei), reduction)
        .expect("loss");
    let got = if reduction == Reduction::None {
        values(&out)
    } else {
        assert_eq!(out.dim(), 0, "a scalar");
        vec![f64::try_from(&out).expect("scalar")]
    };
    assert_eq!(got, expected);
}

/// ∂L/∂E_C and ∂L/∂E_I by autograd at one point, Y = {correct, incorrect} with E_C and E_I
/// also forming e_all.
fn gradients(loss: &dyn Loss, ec: f64, ei: f64) -> (f64, f64) {
    let ec_t = Tensor::from_slice(&[ec]).set_requires_grad(true);
    let ei_t = Tensor::from_slice(&[ei]).set_requires_grad(true);
    let all = Tensor::stack(&[&ec_t, &ei_t], 1);
    let out = loss
        .loss(&LossInput::with_all(&ec_t, &ei_t, &all), Reduction::Sum)
        .expect("loss");
    out.backward();
    (
        f64::try_from(ec_t.grad()).expect("dE_C"),
        f64::try_from(ei_t.grad()).expect("dE_I"),
    )
}

// Hand-derived gradients. log: ∂/∂E_C = σ(E_C − E_I) (½ at a tie, which a naive
// relu(t) + log1p(e^−|t|) gets wrong); MCE: σ'(t) = σ(1 − σ); NLL at β = 1 over {C, I}:
// ∂/∂E_C = 1 − P_C, ∂/∂E_I = −P_I; LVQ2: 1/(δE_I) and −E_C/(δE_I²) in its linear zone.
#[rstest]
#[case::log_tie(LossConfig::Log {}, 1.0, 1.0, 0.5, -0.5)]
#[case::log(LossConfig::Log {}, 2.0, 1.0, 0.731058579, -0.731058579)]
#[case::mce_tie(LossConfig::Mce {}, 3.0, 3.0, 0.25, -0.25)]
#[case::hinge_active(LossConfig::Hinge { margin: 1.0 }, 1.0, 1.5, 1.0, -1.0)]
#[case::hinge_inactive(LossConfig::Hinge { margin: 1.0 }, 1.0, 2.5, 0.0, 0.0)]
#[case::nll(LossConfig::Nll { beta: 1.0 }, 1.0, 2.0, 0.268941421, -0.268941421)]
#[case::lvq2_linear(LossConfig::Lvq2 { delta: 0.5 }, 1.2, 1.0, 2.0, -2.4)]
#[case::lvq2_saturated(LossConfig::Lvq2 { delta: 0.5 }, 2.0, 1.0, 0.0, 0.0)]
#[case::square_square(LossConfig::SquareSquare { margin: 1.0 }, 0.5, 0.25, 1.0, -1.5)]
#[case::square_exp(LossConfig::SquareExponential { gamma: 2.0 }, 0.5, 0.0, 1.0, -2.0)]
#[case::perceptron(LossConfig::Perceptron {}, 2.0, 1.0, 1.0, -1.0)]
fn gradients_by_hand(
    #[case] config: LossConfig,
    #[case] ec: f64,
    #[case] ei: f64,
    #[case] d_ec: f64,
    #[case] d_ei: f64,
) {
    let loss = config.build().expect("valid");
    let (gc, gi) = gradients(loss.as_ref(), ec, ei);
    assert!(
        (gc - d_ec).abs() < 1e-8,
        "{}: dL/dE_C = {gc}, expected {d_ec}",
        loss.name()
    );
    assert!(
        (gi - d_ei).abs() < 1e-8,
        "{}: dL/dE_I = {gi}, expected {d_ei}",
        loss.name()
    );
}

#[test]
fn the_perceptron_reads_e_all_or_falls_back_to_e_incorrect() {
    let ec = Tensor::from_slice(&[1.0f64, 2.0]);
    let ei = Tensor::from_slice(&[1.5f64, 0.5]);
    let all = Tensor::from_slice(&[1.0f64, 1.5, 3.0, 2.0, 0.5, 0.0]).view([2, 3]);
    let from_all = Perceptron
        .per_sample(&LossInput::over_all(&ec, &all))
        .expect("over all");
    let from_pair = Perceptron
        .per_sample(&LossInput::pair(&ec, &ei))
        .expect("pair");
    // Over all of Y the minimum of row 1 is 0 (an answer below E_I, which is not the most
    // offending there): 2 − 0 = 2; from the pair, max(0, 2 − 0.5) = 1.5.
    assert_eq!(values(&from_all), vec![0.0, 2.0]);
    assert_eq!(values(&from_pair), vec![0.0, 1.5]);
}

/// E(y) = y²/2 on a midpoint grid over [−10, 10]: ∫ e^(−βE) dy = √(2π/β), so
/// NLL(y_i) = y_i²/2 + (1/β) log √(2π/β) and MEE = 1 − e^(−β y_i²/2) / √(2π/β).
#[rstest]
#[case(1.0, 0.0, 0.918938533, 0.601057720)]
#[case(2.0, 0.0, 0.286182471, 1.0 - 1.0 / std::f64::consts::PI.sqrt())]
#[case(2.0, 1.0, 0.786182471, 1.0 - (-1.0f64).exp() / std::f64::consts::PI.sqrt())]
fn nll_and_mee_over_a_continuous_y_use_the_density(
    #[case] beta: f64,
    #[case] y_correct: f64,
    #[case] nll_expected: f64,
    #[case] mee_expected: f64,
) {
    let grid = Quadrature::grid_1d(-10.0, 10.0, 4000, Kind::Double, Device::Cpu).expect("grid");
    let e_all = (grid.points.square() * 0.5).view([1, 4000]);
    let ec = Tensor::from_slice(&[0.5 * y_correct * y_correct]);
    let w = grid.log_weights().expect("weights");
    let input = LossInput::over_all(&ec, &e_all).weighted(&w);
    let nll = values(
        &NegativeLogLikelihood::new(beta)
            .expect("beta")
            .per_sample(&input)
            .expect("nll"),
    )[0];
    let mee = values(
        &MinimumEmpiricalError::new(beta)
            .expect("beta")
            .per_sample(&input)
            .expect("mee"),
    )[0];
    assert!(
        (nll - nll_expected).abs() < 1e-8,
        "nll {nll} vs {nll_expected}"
    );
    assert!(
        (mee - mee_expected).abs() < 1e-8,
        "mee {mee} vs {mee_expected}"
    );
}

#[test]
fn a_density_above_one_gives_a_negative_nll_and_mee() {
    // E(y) = 50 y²: a narrow Gaussian, p(0) = √(100/(2π)) ≈ 3.99 > 1.
    let grid = Quadrature::grid_1d(-1.0, 1.0, 2000, Kind::Double, Device::Cpu).expect("grid");
    let e_all = (grid.points.square() * 50.0).view([1, 2000]);
    let ec = Tensor::from_slice(&[0.0f64]);
    let w = grid.log_weights().expect("weights");
    let input = LossInput::over_all(&ec, &e_all).weighted(&w);
    let p0 = (100.0 / (2.0 * std::f64::consts::PI)).sqrt();
    let nll = values(
        &NegativeLogLikelihood::new(1.0)
            .expect("beta")
            .per_sample(&input)
            .expect("nll"),
    )[0];
    let mee = values(
        &MinimumEmpiricalError::new(1.0)
            .expect("beta")
            .per_sample(&input)
            .expect("mee"),
    )[0];
    assert!((nll + p0.ln()).abs() < 1e-8, "nll {nll}");
    assert!((mee - (1.0 - p0)).abs() < 1e-8, "mee {mee}");
}

#[test]
fn excluded_answers_at_plus_infinity_get_no_probability() {
    let ec = Tensor::from_slice(&[1.0f64]);
    let with_inf = Tensor::from_slice(&[1.0f64, 2.0, f64::INFINITY]).view([1, 3]);
    let without = Tensor::from_slice(&[1.0f64, 2.0]).view([1, 2]);
    let nll = NegativeLogLikelihood::new(1.0).expect("beta");
    let a = values(
        &nll.per_sample(&LossInput::over_all(&ec, &with_inf))
            .expect("nll"),
    )[0];
    let b = values(
        &nll.per_sample(&LossInput::over_all(&ec, &without))
            .expect("nll"),
    )[0];
    assert!((a - 0.313261688).abs() < 1e-9 && (a - b).abs() < 1e-15);
}

#[test]
fn needs_and_names() {
    let pair = Needs {
        incorrect: true,
        all: false,
    };
    let all = Needs {
        incorrect: false,
        all: true,
    };
    let expected = [
        (
            "energy",
            Needs {
                incorrect: false,
                all: false,
            },
        ),
        ("perceptron", all),
        ("hinge", pair),
        ("log", pair),
        ("lvq2", pair),
        ("mce", pair),
        ("square_square", pair),
        ("square_exponential", pair),
        ("nll", all),
        ("mee", all),
    ];
    let losses: Vec<Box<dyn Loss>> = vec![
        Box::new(EnergyLoss),
        Box::new(Perceptron),
        Box::new(Hinge::new(1.0).expect("m")),
        Box::new(Log),
        Box::new(Lvq2::new(0.5).expect("d")),
        Box::new(Mce),
        Box::new(SquareSquare::new(1.0).expect("m")),
        Box::new(SquareExponential::new(1.0).expect("g")),
        Box::new(NegativeLogLikelihood::new(1.0).expect("b")),
        Box::new(MinimumEmpiricalError::new(1.0).expect("b")),
    ];
    for ((name, needs), loss) in expected.iter().zip(&losses) {
        assert_eq!(loss.name(), *name);
        assert_eq!(loss.needs(), *needs, "{name}");
    }
    // Each loss computes from exactly what it says it needs.
    let ec = Tensor::from_slice(&[1.0f64]);
    let ei = Tensor::from_slice(&[2.0f64]);
    let all = Tensor::from_slice(&[1.0f64, 2.0]).view([1, 2]);
    for loss in &losses {
        let needs = loss.needs();
        let input = LossInput {
            e_correct: &ec,
            e_incorrect: needs.incorrect.then_some(&ei),
            e_all: needs.all.then_some(&all),
            log_weights: None,
        };
        assert!(loss.per_sample(&input).is_ok(), "{}", loss.name());
    }
    assert_eq!(Hinge::new(2.0).expect("m").margin(), 2.0);
    assert_eq!(Lvq2::new(0.25).expect("d").delta(), 0.25);
    assert_eq!(SquareSquare::new(3.0).expect("m").margin(), 3.0);
    assert_eq!(SquareExponential::new(0.5).expect("g").gamma(), 0.5);
    assert_eq!(NegativeLogLikelihood::new(4.0).expect("b").beta(), 4.0);
    assert_eq!(MinimumEmpiricalError::new(4.0).expect("b").beta(), 4.0);
}

#[test]
fn energy_spread_by_hand() {
    // Row 0: [1, 2, 3]: population std √(2/3), range 2. Row 1 is flat.
    let e = Tensor::from_slice(&[1.0f64, 2.0, 3.0, 5.0, 5.0, 5.0])
        .view([2, 3])
        .set_requires_grad(true);
    let spread = ebm_loss::energy_spread(&e).expect("spread");
    assert!(!spread.std.requires_grad() && !spread.range.requires_grad());
    let std = values(&spread.std);
    assert!(
        (std[0] - (2.0f64 / 3.0).sqrt()).abs() < 1e-12 && std[1] == 0.0,
        "{std:?}"
    );
    assert_eq!(values(&spread.range), vec![2.0, 0.0]);
    let summary = spread.summary().expect("summary");
    assert!((summary.mean_std - 0.5 * (2.0f64 / 3.0).sqrt()).abs() < 1e-12);
    assert_eq!((summary.mean_range, summary.min_range), (1.0, 0.0));
    // One answer: no spread, and no NaN from a 0/0 variance.
    let single =
        ebm_loss::energy_spread(&Tensor::from_slice(&[4.0f32, -1.0]).view([2, 1])).expect("K = 1");
    assert_eq!(values(&single.std), vec![0.0, 0.0]);
}
