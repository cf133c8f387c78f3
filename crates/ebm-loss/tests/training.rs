//! A training check: a linear multi-class energy E(x, k) = (W x + b)_k on separable Gaussian
//! blobs, trained with each good loss through the most offending answer, reaches ≥ 95%
//! training accuracy in a fixed number of steps. And the collapse diagnostic sees the energy
//! loss flatten a surface that the hinge loss keeps apart.

use ebm_loss::{energy_at, energy_spread, most_offending_finite, LossConfig, LossInput, Reduction};
use tch::nn::{self, Module, OptimizerConfig};
use tch::{Device, Kind, Tensor};

const CLASSES: i64 = 4;
const PER_CLASS: i64 = 50;
const STEPS: usize = 60;
const LEARNING_RATE: f64 = 0.05;

/// Four Gaussian blobs (σ = 0.7) centred at distance 4 on the axes: separable by a linear
/// multi-class rule with a margin of about 4σ. `ebm-data`'s blobs (radius 2, σ 0.35, its own
/// seeded generator) scaled by 2.
fn blobs() -> (Tensor, Tensor) {
    tch::set_num_threads(1);
    let data = ebm_data::blobs((CLASSES * PER_CLASS) as usize, CLASSES as usize, 0.35, 0)
        .expect("the data set");
    (data.x * 2.0, data.y)
}

fn accuracy(e_all: &Tensor, labels: &Tensor) -> f64 {
    let predicted = e_all.argmin(1, false);
    f64::try_from(
        predicted
            .eq_tensor(labels)
            .to_kind(Kind::Double)
            .mean(Kind::Double),
    )
    .expect("accuracy")
}

/// Trains E(x, k) = (W x + b)_k, or softplus of it with `non_negative` (square-square,
/// square-exponential and LVQ2 are defined on non-negative energies), full batch with Adam.
/// Returns the initial and final training accuracy.
///
/// W and b start at zero, so every energy is equal and every sample starts at E_C = E_I.
/// From a random start two things stall that are not the losses' formulas at fault: LVQ2
/// has no gradient on a sample it misclassifies by more than δ·E_I (it saturates at 1; with
/// this data and seed half the samples start there and stay), and softplus energies far in
/// the negative tail are flat, which freezes square-exponential on a class whose correct and
/// incorrect energies both start there (75% accuracy at any number of steps).
fn train(config: &LossConfig, non_negative: bool, steps: usize) -> (f64, f64) {
    let (x, labels) = blobs();
    let vs = nn::VarStore::new(Device::Cpu);
    let zero = nn::LinearConfig {
        ws_init: nn::Init::Const(0.0),
        bs_init: Some(nn::Init::Const(0.0)),
        bias: true,
    };
    let linear = nn::linear(vs.root(), 2, CLASSES, zero);
    let energies = |x: &Tensor| {
        let e = linear.forward(x);
        if non_negative {
            e.softplus()
        } else {
            e
        }
    };
    let loss = config.build().expect("valid config");
    let mut opt = nn::Adam::default()
        .build(&vs, LEARNING_RATE)
        .expect("optimiser");
    let initial = accuracy(&tch::no_grad(|| energies(&x)), &labels);
    for _ in 0..steps {
        let e_all = energies(&x);
        let e_correct = energy_at(&e_all, &labels).expect("E_C");
        let e_incorrect = most_offending_finite(&e_all, &labels).expect("E_I").energy;
        let value = loss
            .loss(
                &LossInput::with_all(&e_correct, &e_incorrect, &e_all),
                Reduction::Mean,
            )
            .expect("loss");
        opt.backward_step(&value);
    }
    let e_all = tch::no_grad(|| energies(&x));
    (initial, accuracy(&e_all, &labels))
}

#[test]
fn every_good_loss_trains_a_linear_classifier_on_separable_blobs() {
    let cases = [
        (LossConfig::Hinge { margin: 1.0 }, false),
        (LossConfig::Log {}, false),
        (LossConfig::Lvq2 { delta: 0.5 }, true),
        (LossConfig::Mce {}, false),
        (LossConfig::SquareSquare { margin: 1.0 }, true),
        (LossConfig::SquareExponential { gamma: 1.0 }, true),
        (LossConfig::Nll { beta: 1.0 }, false),
        (LossConfig::Mee { beta: 1.0 }, false),
    ];
    let mut failures = Vec::new();
    for (config, non_negative) in cases {
        let (initial, accuracy) = train(&config, non_negative, STEPS);
        println!("{config:?}: accuracy {initial:.3} -> {accuracy:.3} in {STEPS} steps");
        if accuracy < 0.95 {
            failures.push(format!("{config:?}: {accuracy:.3}"));
        }
    }
    assert!(failures.is_empty(), "below 95%: {failures:?}");
}

/// Prototype energies E(x, k) = s ‖x − μ_k‖² with a learnable scale s = max(0, a) ≥ 0:
/// nothing in the architecture stops s = 0, the flat surface. (With s = softplus(a) or e^a
/// the surface also flattens, but only as fast as Adam follows a gradient that decays
/// with s.)
fn train_prototypes(config: &LossConfig, steps: usize) -> (Tensor, Tensor) {
    let (x, labels) = blobs();
    tch::manual_seed(2);
    let vs = nn::VarStore::new(Device::Cpu);
    let a = vs.root().var("a", &[1], nn::Init::Const(1.0));
    let mu = vs.root().var(
        "mu",
        &[CLASSES, 2],
        nn::Init::Randn {
            mean: 0.0,
            stdev: 1.0,
        },
    );
    let energies = || {
        let d = (x.unsqueeze(1) - mu.unsqueeze(0))
            .square()
            .sum_dim_intlist(2, false, None);
        d * a.relu()
    };
    let initial = tch::no_grad(energies);
    let loss = config.build().expect("valid config");
    let mut opt = nn::Adam::default()
        .build(&vs, LEARNING_RATE)
        .expect("optimiser");
    for _ in 0..steps {
        let e_all = energies();
        let e_correct = energy_at(&e_all, &labels).expect("E_C");
        let e_incorrect = most_offending_finite(&e_all, &labels).expect("E_I").energy;
        let value = loss
            .loss(
                &LossInput::with_all(&e_correct, &e_incorrect, &e_all),
                Reduction::Mean,
            )
            .expect("loss");
        opt.backward_step(&value);
    }
    (initial, tch::no_grad(energies))
}

#[test]
fn the_energy_loss_flattens_the_surface_and_the_hinge_keeps_it_apart() {
    let steps = 300;
    let (initial, collapsed) = train_prototypes(&LossConfig::Energy {}, steps);
    let (_, hinged) = train_prototypes(&LossConfig::Hinge { margin: 1.0 }, steps);
    let summary = |e: &Tensor| {
        energy_spread(e)
            .expect("spread")
            .summary()
            .expect("summary")
    };
    let (before, after_energy, after_hinge) =
        (summary(&initial), summary(&collapsed), summary(&hinged));
    println!("spread before {before:?}\nafter the energy loss {after_energy:?}\nafter the hinge loss {after_hinge:?}");
    assert!(before.mean_range > 1.0, "{before:?}");
    assert!(
        after_energy.mean_range < 1e-6 * before.mean_range,
        "the energy loss did not flatten: {after_energy:?}"
    );
    // Every sample at zero hinge loss has E_I − E_C ≥ m = 1, so its range is at least 1.
    assert!(
        after_hinge.min_range >= 1.0,
        "the hinge should keep a margin of 1: {after_hinge:?}"
    );
}
