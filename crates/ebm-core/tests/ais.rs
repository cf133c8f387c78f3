//! AIS held to the exact answer: log Z within 0.05 nats of quadrature on three 2-D energies (and
//! one restricted to a box, from a uniform base), and within 0.1 nats of the analytic value for
//! Gaussian mixtures in 8 and 16 dimensions.

use ebm_core::{ais_log_z, AisBase, AisConfig, EbmError, FnEnergy, Quadrature};
use tch::{Device, Kind, Tensor};

static SEEDED: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn seeded(seed: i64) -> std::sync::MutexGuard<'static, ()> {
    let guard = SEEDED.lock().unwrap_or_else(|p| p.into_inner());
    tch::manual_seed(seed);
    guard
}

type EnergyFn = fn(&Tensor) -> Tensor;

fn correlated_gaussian(y: &Tensor) -> Tensor {
    let (a, b) = (y.select(1, 0), y.select(1, 1));
    (a.square() - &a * &b * 1.6 + b.square()) * (0.5 / (1.0 - 0.64))
}

fn banana(y: &Tensor) -> Tensor {
    let (a, b) = (y.select(1, 0), y.select(1, 1));
    a.square() * 0.5 + (b - (a.square() - 1.0) * 0.5).square() * 0.5
}

fn double_well(y: &Tensor) -> Tensor {
    let (a, b) = (y.select(1, 0), y.select(1, 1));
    (a.square() - 1.0).square() + b.square() * 0.5 + 3.0
}

/// log ∫ e^(−E) over [lo, hi]² by the midpoint rule on 600 × 600 cells.
fn quadrature_log_z(f: EnergyFn, lo: f64, hi: f64) -> f64 {
    let grid =
        Quadrature::grid_2d([lo; 2], [hi; 2], [600; 2], Kind::Double, Device::Cpu).expect("a grid");
    let e = f(&grid.points);
    (-e).logsumexp([0], false).double_value(&[]) + grid.log_volume
}

fn no_input() -> Tensor {
    Tensor::zeros([1, 0], (Kind::Double, Device::Cpu))
}

#[test]
fn ais_matches_quadrature_in_two_dimensions() {
    let _seed = seeded(11);
    let config = AisConfig {
        base: AisBase::Gaussian { std: 3.0 },
        temperatures: 300,
        particles: 2000,
        transitions: 2,
        step_size: 0.1,
    };
    for (name, f) in [
        ("correlated gaussian", correlated_gaussian as EnergyFn),
        ("banana", banana as EnergyFn),
        ("double well (+3)", double_well as EnergyFn),
    ] {
        let energy = FnEnergy::new(move |_x: &Tensor, y: &Tensor| f(y));
        let estimate = ais_log_z(&energy, &no_input(), 2, &config).expect("runs");
        let exact = quadrature_log_z(f, -10.0, 10.0);
        println!(
            "{name}: AIS {:.4} ± {:.4} (ESS {:.0}, acceptance {:.2}), quadrature {exact:.4}",
            estimate.log_z, estimate.std_error, estimate.ess, estimate.acceptance
        );
        assert!(
            (estimate.log_z - exact).abs() <= 0.05,
            "{name}: AIS {} vs quadrature {exact}",
            estimate.log_z
        );
    }
    // From a uniform base, the Z of the energy restricted to the box.
    let box_config = AisConfig {
        base: AisBase::Uniform { lo: -1.5, hi: 1.5 },
        ..config
    };
    let energy = FnEnergy::new(|_x: &Tensor, y: &Tensor| correlated_gaussian(y));
    let estimate = ais_log_z(&energy, &no_input(), 2, &box_config).expect("runs");
    let exact = quadrature_log_z(correlated_gaussian, -1.5, 1.5);
    println!(
        "box: AIS {:.4} ± {:.4}, quadrature {exact:.4}",
        estimate.log_z, estimate.std_error
    );
    assert!(
        (estimate.log_z - exact).abs() <= 0.05,
        "box: {} vs {exact}",
        estimate.log_z
    );
}

/// E(y) = −log Σ_k w_k exp(−‖y − μ_k‖² / (2σ²)), Σ w_k = 1: Z = (2πσ²)^(d/2) exactly.
fn mixture(d: i64) -> (impl Fn(&Tensor, &Tensor) -> Tensor, f64) {
    let sigma = 0.7;
    // Four components: ±2 along the first axis, ±2 along the second, weights 0.4, 0.3, 0.2, 0.1.
    let mut means = vec![0.0f64; (4 * d) as usize];
    means[0] = 2.0;
    means[d as usize] = -2.0;
    means[(2 * d + 1) as usize] = 2.0;
    means[(3 * d + 1) as usize] = -2.0;
    let mu = Tensor::from_slice(&means).view([4, d]);
    let log_w = Tensor::from_slice(&[0.4f64, 0.3, 0.2, 0.1]).log();
    let energy = move |_x: &Tensor, y: &Tensor| {
        let diff = y.unsqueeze(1) - mu.unsqueeze(0); // [N, 4, d]
        let log_k = -diff.square().sum_dim_intlist(2, false, None) / (2.0 * sigma * sigma)
            + log_w.unsqueeze(0);
        -log_k.logsumexp([1], false)
    };
    let log_z = 0.5 * d as f64 * (2.0 * std::f64::consts::PI * sigma * sigma).ln();
    (energy, log_z)
}

#[test]
fn ais_matches_the_analytic_log_z_of_mixtures_in_8_and_16_dimensions() {
    let _seed = seeded(12);
    for d in [8, 16] {
        let (f, exact) = mixture(d);
        let energy = FnEnergy::new(f);
        let config = AisConfig {
            base: AisBase::Gaussian { std: 2.5 },
            temperatures: 400,
            particles: 2000,
            transitions: 2,
            step_size: 0.05,
        };
        let estimate = ais_log_z(&energy, &no_input(), d, &config).expect("runs");
        println!(
            "d = {d}: AIS {:.4} ± {:.4} (ESS {:.0}, acceptance {:.2}), analytic {exact:.4}",
            estimate.log_z, estimate.std_error, estimate.ess, estimate.acceptance
        );
        assert!(
            (estimate.log_z - exact).abs() <= 0.1,
            "d = {d}: AIS {} vs {exact}",
            estimate.log_z
        );
    }
}

#[test]
fn bad_settings_are_typed_errors() {
    let energy = FnEnergy::new(|_x: &Tensor, y: &Tensor| correlated_gaussian(y));
    for (config, key) in [
        (
            AisConfig {
                temperatures: 1,
                ..AisConfig::default()
            },
            "temperatures",
        ),
        (
            AisConfig {
                particles: 1,
                ..AisConfig::default()
            },
            "particles",
        ),
        (
            AisConfig {
                transitions: 0,
                ..AisConfig::default()
            },
            "transitions",
        ),
        (
            AisConfig {
                step_size: 0.0,
                ..AisConfig::default()
            },
            "step_size",
        ),
        (
            AisConfig {
                base: AisBase::Gaussian { std: -1.0 },
                ..AisConfig::default()
            },
            "base.std",
        ),
        (
            AisConfig {
                base: AisBase::Uniform { lo: 1.0, hi: 1.0 },
                ..AisConfig::default()
            },
            "base",
        ),
    ] {
        let err = ais_log_z(&energy, &no_input(), 2, &config).expect_err("bad");
        assert!(
            matches!(err, EbmError::Hyperparameter { .. }) && err.to_string().contains(key),
            "{err}"
        );
    }
    let two_inputs = Tensor::zeros([2, 0], (Kind::Double, Device::Cpu));
    assert!(ais_log_z(&energy, &two_inputs, 2, &AisConfig::default()).is_err());
    let nan = FnEnergy::new(|_x: &Tensor, y: &Tensor| correlated_gaussian(y) * f64::NAN);
    assert!(matches!(
        ais_log_z(
            &nan,
            &no_input(),
            2,
            &AisConfig {
                temperatures: 3,
                particles: 4,
                ..AisConfig::default()
            }
        ),
        Err(EbmError::NonFinite { .. })
    ));
}
