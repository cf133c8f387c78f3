//! The latent-variable architecture: a hidden sign z, and what happens when z is too free.

mod common;

use common::seeded;
use ebm_arch::{
    fit, Architecture, Coupling, LatentModel, MlpConfig, OptimizerConfig, Prediction, TrainConfig,
    YRange,
};
use ebm_core::GradientDescentConfig;
use ebm_latent::{LatentConfig, LatentSpaceConfig};
use ebm_loss::LossConfig;
use tch::{Device, Tensor};

/// y = x + 0.5·z with a hidden z ∈ {−1, +1}, x ~ U[−1, 1], from `ebm-data`.
fn mixture(n: usize, seed: u64) -> (Tensor, Tensor) {
    let data = ebm_data::latent_mixture(n, 0.0, seed).expect("the data set");
    (data.x, data.y)
}

fn model(z: LatentSpaceConfig) -> LatentModel {
    let latent = LatentConfig {
        z,
        ..LatentConfig::default()
    };
    let range = YRange {
        lo: -2.0,
        hi: 2.0,
        grid_points: 40,
        epsilon: 0.2,
        offending_steps: 10,
        jitter: true,
        counter_examples: None,
    };
    let search = GradientDescentConfig {
        restarts: 4,
        steps: 200,
        ..GradientDescentConfig::default()
    }
    .check()
    .expect("valid");
    LatentModel::new(
        1,
        1,
        &MlpConfig::default(),
        Coupling::Additive,
        &MlpConfig {
            hidden: vec![],
            ..MlpConfig::default()
        },
        &latent,
        &range,
        search,
        Device::Cpu,
    )
    .expect("model")
}

fn config(epochs: usize) -> TrainConfig {
    TrainConfig {
        optimizer: OptimizerConfig::Adam {
            lr: 1e-2,
            weight_decay: 0.0,
        },
        epochs,
        batch_size: 50,
        probe_size: 32,
    }
}

#[test]
fn a_hidden_sign_gives_a_prediction_set_covering_both_modes() {
    let _rng = seeded(4);
    let (x, y) = mixture(400, 4);
    let m = model(LatentSpaceConfig::default());
    // Min over z of ½‖G(x, z) − y‖²: the energy loss is safe, since two values of z cannot
    // make every y compatible.
    let history = fit(
        &m,
        LossConfig::Energy {}.build().expect("loss").as_ref(),
        &x,
        &y,
        &config(80),
        4,
        |_| {},
    )
    .expect("fit");
    assert!(
        history.spread_ratio() > 0.1,
        "the finite-z energy should not go flat"
    );
    let test_x = [-0.6f32, 0.0, 0.7];
    let Prediction::Continuous { minima, .. } = m
        .predict(&Tensor::from_slice(&test_x).view([3, 1]))
        .expect("predict")
    else {
        panic!("latent predictions are continuous")
    };
    for (i, &xv) in test_x.iter().enumerate() {
        let found: Vec<f64> = minima[i].iter().map(|m| m.y[0]).collect();
        for mode in [f64::from(xv) - 0.5, f64::from(xv) + 0.5] {
            assert!(
                found.iter().any(|y| (y - mode).abs() < 0.1),
                "x = {xv}: {found:?} misses {mode:+.2}"
            );
        }
    }
}

#[test]
fn an_unpenalised_continuous_z_as_wide_as_y_makes_the_energy_flat() {
    let _rng = seeded(4);
    let (x, y) = mixture(200, 5);
    let finite = model(LatentSpaceConfig::default());
    let free = model(LatentSpaceConfig::Continuous {
        dim: 1,
        bounds: None,
        // Large steps are safe with backtracking, and z's curvature starts small (G_z starts
        // near 0), so a long stride is what finds min_z E.
        search: GradientDescentConfig {
            restarts: 2,
            steps: 100,
            step_size: 20.0,
            ..GradientDescentConfig::default()
        },
    });
    let loss = LossConfig::Energy {}.build().expect("loss");
    let finite_history = fit(&finite, loss.as_ref(), &x, &y, &config(20), 4, |_| {}).expect("fit");
    let free_history = fit(&free, loss.as_ref(), &x, &y, &config(20), 4, |_| {}).expect("fit");
    let finite_spread = finite_history.last().expect("epochs").spread_std;
    let free_spread = free_history.last().expect("epochs").spread_std;
    eprintln!(
        "spread over the y grid: free z {free_spread:.2e}, z in {{-1, +1}} {finite_spread:.3}"
    );
    // With z free, min_z E = 0 for every y: the spread over the y grid collapses.
    assert!(
        free_spread < 0.01 * finite_spread,
        "spread with a free z {free_spread} vs with z in {{-1, +1}} {finite_spread}"
    );
}
