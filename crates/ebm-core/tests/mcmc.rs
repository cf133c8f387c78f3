//! MALA held to the exact answer: on three 2-D energies whose moments quadrature gives to many
//! digits, the adapted acceptance is within 0.05 of its target, every coordinate's mean and
//! variance is within 3 Monte Carlo standard errors (from the ESS) of the quadrature value, and
//! split-R̂ over 8 chains is below 1.01.

use ebm_core::mcmc::effective_sample_size;
use ebm_core::{FnEnergy, MalaConfig, Quadrature, Sampler};
use tch::{Device, Kind, Tensor};

type EnergyFn = fn(&Tensor) -> Tensor;

fn column(y: &Tensor, j: i64) -> Tensor {
    y.select(1, j)
}

/// ½ yᵀΣ⁻¹y with unit variances and correlation 0.8.
fn correlated_gaussian(y: &Tensor) -> Tensor {
    let (a, b) = (column(y, 0), column(y, 1));
    (a.square() - &a * &b * 1.6 + b.square()) * (0.5 / (1.0 - 0.64))
}

/// A banana: y₁ ~ N(0, 1), y₂ | y₁ ~ N(½(y₁² − 1), 1).
fn banana(y: &Tensor) -> Tensor {
    let (a, b) = (column(y, 0), column(y, 1));
    a.square() * 0.5 + (b - (a.square() - 1.0) * 0.5).square() * 0.5
}

/// Two wells at y₁ = ±1 with a barrier of height 1 between them, y₂ ~ N(0, 1).
fn double_well(y: &Tensor) -> Tensor {
    let (a, b) = (column(y, 0), column(y, 1));
    (a.square() - 1.0).square() + b.square() * 0.5
}

/// (mean, variance) of each coordinate under e^(−E), by quadrature on a fine grid.
fn exact_moments(f: EnergyFn) -> [(f64, f64); 2] {
    let grid = Quadrature::grid_2d([-8.0; 2], [8.0; 2], [500; 2], Kind::Double, Device::Cpu)
        .expect("a grid");
    let e = f(&grid.points);
    let w = (-(&e - e.min())).exp();
    let w = &w / w.sum(Kind::Double);
    let moment = |j: i64| {
        let y = grid.points.select(1, j);
        let m = (&w * &y).sum(Kind::Double).double_value(&[]);
        let v = (&w * (&y - m).square()).sum(Kind::Double).double_value(&[]);
        (m, v)
    };
    [moment(0), moment(1)]
}

#[test]
fn mala_matches_quadrature_on_three_energies() {
    tch::manual_seed(2024);
    let (chains, warmup, samples) = (8i64, 1000, 4000);
    for (name, f) in [
        ("correlated gaussian", correlated_gaussian as EnergyFn),
        ("banana", banana as EnergyFn),
        ("double well", double_well as EnergyFn),
    ] {
        let energy = FnEnergy::new(move |_x: &Tensor, y: &Tensor| f(y));
        let x = Tensor::zeros([chains, 0], (Kind::Double, Device::Cpu));
        // Starts from N(0, 1): MALA is not geometrically ergodic for light tails, and a chain
        // started far out in the quartic double well never accepts (split-R̂ shows it).
        let y0 = Tensor::randn([chains, 2], (Kind::Double, Device::Cpu));
        let mala = MalaConfig {
            warmup,
            samples,
            step_size: 0.5,
            ..MalaConfig::default()
        }
        .check()
        .expect("settings");
        let run = mala.run(&energy, &x, &y0).expect("runs");
        let d = &run.diagnostics;
        assert!(
            (d.acceptance - 0.574).abs() <= 0.05,
            "{name}: acceptance {} with step {}",
            d.acceptance,
            d.step_size
        );
        assert_eq!(run.samples.size(), [samples as i64, chains, 2]);
        for (j, (mean, var)) in exact_moments(f).into_iter().enumerate() {
            let draws = run.samples.select(2, j as i64); // [S, C]
            let by_chain: Vec<Vec<f64>> = (0..chains)
                .map(|c| Vec::<f64>::try_from(draws.select(1, c)).expect("draws"))
                .collect();
            let all: Vec<f64> = by_chain.iter().flatten().copied().collect();
            let n = all.len() as f64;
            let m = all.iter().sum::<f64>() / n;
            let v = all.iter().map(|y| (y - m).powi(2)).sum::<f64>() / (n - 1.0);
            let mcse_mean = (var / d.ess[j]).sqrt();
            assert!(
                (m - mean).abs() <= 3.0 * mcse_mean,
                "{name} y{j}: mean {m} vs {mean} (MCSE {mcse_mean}, ESS {})",
                d.ess[j]
            );
            // The variance's error from the ESS of the squared deviations.
            let squares: Vec<Vec<f64>> = by_chain
                .iter()
                .map(|c| c.iter().map(|y| (y - mean).powi(2)).collect())
                .collect();
            let flat: Vec<f64> = squares.iter().flatten().copied().collect();
            let sq_mean = flat.iter().sum::<f64>() / n;
            let sq_sd =
                (flat.iter().map(|s| (s - sq_mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
            let mcse_var = sq_sd / effective_sample_size(&squares).expect("ess").sqrt();
            assert!(
                (v - var).abs() <= 3.0 * mcse_var,
                "{name} y{j}: variance {v} vs {var} (MCSE {mcse_var})"
            );
            assert!(d.r_hat[j] < 1.01, "{name} y{j}: split-R̂ {}", d.r_hat[j]);
        }
        assert_eq!(d.energy_trace.len(), samples);
    }
}

#[test]
fn unadjusted_langevin_is_a_sampler_too() {
    tch::manual_seed(5);
    let config = ebm_core::LangevinConfig {
        step: ebm_core::LangevinStep::Exact {
            epsilon: 0.05,
            beta: 1.0,
        },
        steps: 50,
        clamp: None,
        grad_clip: None,
    };
    let langevin = config.clone().check().expect("settings");
    let energy = FnEnergy::new(|_x: &Tensor, y: &Tensor| correlated_gaussian(y));
    let x = Tensor::zeros([4, 0], (Kind::Double, Device::Cpu));
    let y0 = Tensor::randn([4, 2], (Kind::Double, Device::Cpu));
    let run = langevin.run(&energy, &x, &y0).expect("runs");
    assert_eq!(run.samples.size(), [50, 4, 2]);
    assert_eq!(run.diagnostics.acceptance, 1.0);
    assert_eq!(run.diagnostics.ess.len(), 2);
    assert!(run.last.equal(&run.samples.get(49)));
    let short = ebm_core::LangevinConfig { steps: 3, ..config }
        .check()
        .expect("settings");
    assert!(short.run(&energy, &x, &y0).is_err());
}
