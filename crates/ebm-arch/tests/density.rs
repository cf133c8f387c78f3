//! Density objectives end to end on 2-D data sets: on two rings, NCE's learnt log-normaliser
//! tracks the model's log Z (quadrature; within 0.3 nats per seed, 0.15 on average over three),
//! AIS on a trained model agrees with quadrature within 0.05 nats, and each objective trains
//! (finite history).

mod common;

use common::seeded;
use ebm_arch::{DensityConfig, DensityNet, MlpConfig, OptimizerConfig, TrainConfig};
use ebm_contrastive::{
    DenoisingScoreMatchingConfig, NceConfig, NceNoise, ObjectiveConfig, ScoreMatchingConfig,
    SlicedScoreMatchingConfig,
};
use ebm_core::{ais_log_z, AisBase, AisConfig};
use tch::{Device, Kind, Tensor};

fn config() -> DensityConfig {
    DensityConfig {
        energy: MlpConfig {
            hidden: vec![64, 64],
            ..DensityConfig::default().energy
        },
        ..DensityConfig::default()
    }
}

fn train(epochs: usize) -> TrainConfig {
    TrainConfig {
        optimizer: OptimizerConfig::Adam {
            lr: 0.003,
            weight_decay: 0.0,
        },
        batch_size: 128,
        epochs,
        ..TrainConfig::default()
    }
}

fn eight_gaussians() -> Tensor {
    ebm_data::eight_gaussians(800, 2.0, 0.1, 3).expect("data").y
}

fn two_rings() -> Tensor {
    ebm_data::rings(800, 2, 0.05, 3).expect("data").y
}

#[test]
fn nce_learns_log_z_and_ais_agrees_with_quadrature_on_the_trained_model() {
    let _rng = seeded(31);
    let y = two_rings();
    // Over the data's box widened by 1, as the runner measures it: NCE knows Z where its noise
    // goes, and a model is free to put mass far from both data and noise.
    let (lo, hi) = (
        Vec::<f64>::try_from(y.amin(0, false).to_kind(Kind::Double)).expect("lo"),
        Vec::<f64>::try_from(y.amax(0, false).to_kind(Kind::Double)).expect("hi"),
    );
    let (lo, hi) = ([lo[0] - 1.0, lo[1] - 1.0], [hi[0] + 1.0, hi[1] + 1.0]);
    let nce = ObjectiveConfig::Nce(NceConfig {
        noise: NceNoise::Gaussian { scale: 1.5 },
        ratio: 4,
    });
    // NCE's c is log Z only as far as the model matches the data: over training seeds it
    // lands 0.05 to 0.3 nats from the quadrature's log Z on the rings, up to 0.5 on the eight
    // Gaussians (README, "Density objectives"), so each seed is held to 0.3 nats and their mean
    // to 0.15 (here 0.18, 0.09, 0.07). The 0.1 is met by some seeds, not all.
    let mut gaps = Vec::new();
    let mut first = None;
    for seed in 0..3 {
        let net = DensityNet::new(2, &config(), Device::Cpu).expect("model");
        let history = net
            .fit(&nce, &y, &train(150), seed, |_| {})
            .expect("trains");
        assert!(history.epochs.iter().all(|r| r.loss.is_finite()));
        let c = net.nce_log_z().expect("NCE learns c");
        let log_z = net.log_z_2d(lo, hi, 300).expect("quadrature");
        println!("seed {seed}: c {c:.4}, log Z over the data's box {log_z:.4}");
        assert!(
            (c - log_z).abs() <= 0.3,
            "seed {seed}: NCE's c {c} vs quadrature log Z {log_z}"
        );
        gaps.push((c - log_z).abs());
        first.get_or_insert(net);
    }
    let mean_gap = gaps.iter().sum::<f64>() / gaps.len() as f64;
    assert!(
        mean_gap <= 0.15,
        "mean |c − log Z| {mean_gap} over {gaps:?}"
    );
    let net = first.expect("three models");
    let wide = net
        .log_z_2d([-4.0, -4.0], [4.0, 4.0], 300)
        .expect("quadrature");

    // AIS on the same trained energy, over the same box (uniform base).
    let x = Tensor::zeros([1, 0], (Kind::Float, Device::Cpu));
    let ais = ais_log_z(
        net.energy(),
        &x,
        2,
        &AisConfig {
            base: AisBase::Uniform { lo: -4.0, hi: 4.0 },
            // (the same [-4, 4]² as `wide`)
            temperatures: 300,
            particles: 2000,
            transitions: 2,
            step_size: 0.01,
        },
    )
    .expect("AIS");
    assert!(
        (ais.log_z - wide).abs() <= 0.05,
        "AIS {} ± {} vs quadrature {wide}",
        ais.log_z,
        ais.std_error
    );
}

#[test]
fn every_density_objective_trains_and_embedding_ones_are_refused() {
    let _rng = seeded(32);
    let y = eight_gaussians();
    for objective in [
        ObjectiveConfig::ScoreMatching(ScoreMatchingConfig::default()),
        ObjectiveConfig::DenoisingScoreMatching(DenoisingScoreMatchingConfig { sigma: 0.1 }),
        ObjectiveConfig::SlicedScoreMatching(SlicedScoreMatchingConfig::default()),
        ObjectiveConfig::Nce(NceConfig {
            noise: NceNoise::Uniform { lo: -3.0, hi: 3.0 },
            ratio: 2,
        }),
    ] {
        let net = DensityNet::new(2, &config(), Device::Cpu).expect("model");
        let history = net
            .fit(&objective, &y, &train(3), 0, |_| {})
            .expect("trains");
        let first = history.epochs[0].loss;
        assert!(
            history.epochs.iter().all(|r| r.loss.is_finite()),
            "{}",
            objective.kind_name()
        );
        assert!(first.is_finite());
    }
    let net = DensityNet::new(2, &config(), Device::Cpu).expect("model");
    let err = net
        .fit(
            &ObjectiveConfig::NtXent(Default::default()),
            &y,
            &train(1),
            0,
            |_| {},
        )
        .expect_err("an embedding objective");
    assert!(err.to_string().contains("embedding objective"), "{err}");
}
