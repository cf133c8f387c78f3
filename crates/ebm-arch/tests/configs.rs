//! The model configs: the same TOML keys as before, each checked once by `check()`, and a
//! bad value gets a typed error naming its key within the table.

use ebm_arch::{
    Architecture, ClassifierConfig, DensityConfig, DensityNet, ImplicitRegressionConfig,
    LatentModelConfig, MlpConfig, MultiClass, OptimizerConfig, RegressionConfig, TrainConfig,
};
use ebm_contrastive::{InitNoise, ReplayBufferConfig};
use ebm_core::{EbmError, GradientDescentConfig, LangevinConfig, LangevinStep};
use ebm_latent::{LatentSpaceConfig, ZPenaltyConfig};
use rstest::rstest;
use tch::{Device, Kind, Tensor};

fn key(r: ebm_core::Result<()>) -> String {
    match r {
        Err(EbmError::Hyperparameter { name, .. }) => name,
        other => panic!("expected a hyperparameter error, got {other:?}"),
    }
}

#[rstest]
#[case::regression_search(
    RegressionConfig { search: GradientDescentConfig { restarts: 0, ..Default::default() }.into(), ..Default::default() }.check(),
    "search.restarts"
)]
#[case::regression_g(
    RegressionConfig { g: MlpConfig { hidden: vec![0], ..Default::default() }, ..Default::default() }.check(),
    "g.hidden"
)]
#[case::implicit_search(
    ImplicitRegressionConfig { search: GradientDescentConfig { momentum: 1.0, ..Default::default() }.into(), ..Default::default() }.check(),
    "search.momentum"
)]
#[case::implicit_gy(
    ImplicitRegressionConfig { gy: MlpConfig { hidden: vec![-1], ..Default::default() }, ..Default::default() }.check(),
    "gy.hidden"
)]
#[case::latent_search(
    LatentModelConfig { search: GradientDescentConfig { step_size: 0.0, ..Default::default() }.into(), ..Default::default() }.check(),
    "search.step_size"
)]
#[case::latent_penalty(
    LatentModelConfig { latent: ebm_latent::LatentConfig { penalty: ZPenaltyConfig::L1(-1.0), ..Default::default() }, ..Default::default() }.check(),
    "latent.penalty.l1"
)]
#[case::latent_z_search(
    LatentModelConfig {
        latent: ebm_latent::LatentConfig {
            z: LatentSpaceConfig::Continuous { dim: 1, bounds: None, search: GradientDescentConfig { steps: 0, ..Default::default() } },
            ..Default::default()
        },
        ..Default::default()
    }.check(),
    "latent.z.search.steps"
)]
#[case::classifier(
    ClassifierConfig { g: MlpConfig { hidden: vec![4, 0], ..Default::default() } }.check(),
    "g.hidden"
)]
#[case::density_langevin_step(
    DensityConfig {
        langevin: LangevinConfig {
            step: LangevinStep::Decoupled { step_size: -1.0, noise_std: 0.0 },
            ..DensityConfig::default().langevin
        },
        ..Default::default()
    }.check(64),
    "langevin.step.step_size"
)]
#[case::density_langevin_clamp(
    DensityConfig { langevin: LangevinConfig { clamp: Some((1.0, 1.0)), ..DensityConfig::default().langevin }, ..Default::default() }.check(64),
    "langevin.clamp"
)]
#[case::density_replay_fraction(
    DensityConfig { replay: ReplayBufferConfig { reinit_fraction: 1.5, ..DensityConfig::default().replay }, ..Default::default() }.check(64),
    "replay.reinit_fraction"
)]
#[case::density_replay_init(
    DensityConfig {
        replay: ReplayBufferConfig { init: InitNoise::Normal { mean: 0.0, std: -1.0 }, ..DensityConfig::default().replay },
        ..Default::default()
    }.check(64),
    "replay.init.std"
)]
#[case::density_capacity_below_batch(DensityConfig::default().check(4000), "replay.capacity")]
#[case::optimizer_lr(OptimizerConfig::Adam { lr: 0.0, weight_decay: 0.0 }.check(), "lr")]
#[case::optimizer_momentum(OptimizerConfig::Sgd { lr: 0.1, momentum: 1.0, weight_decay: 0.0 }.check(), "momentum")]
#[case::train_optimizer(
    TrainConfig { optimizer: OptimizerConfig::Sgd { lr: 0.1, momentum: 0.0, weight_decay: -1.0 }, ..Default::default() }.check(),
    "optimizer.weight_decay"
)]
#[case::train_batch(TrainConfig { batch_size: 0, ..Default::default() }.check(), "batch_size")]
#[case::mlp(MlpConfig { hidden: vec![0], ..Default::default() }.check(), "hidden")]
fn a_bad_value_is_named_by_its_key(#[case] result: ebm_core::Result<()>, #[case] expected: &str) {
    assert_eq!(key(result), expected);
}

#[test]
fn the_defaults_are_valid() {
    assert!(RegressionConfig::default().check().is_ok());
    assert!(ImplicitRegressionConfig::default().check().is_ok());
    assert!(LatentModelConfig::default().check().is_ok());
    assert!(ClassifierConfig::default().check().is_ok());
    assert!(DensityConfig::default().check(64).is_ok());
    assert!(TrainConfig::default().check().is_ok());
}

/// The `search` and `langevin` tables read the keys they always had, with the same defaults.
#[test]
fn search_and_langevin_tables_keep_their_keys() {
    let implicit: ImplicitRegressionConfig = toml::from_str(
        "search = { restarts = 16, steps = 400, step_size = 0.05, momentum = 0.5, tolerance = 1e-7, \
         init_scale = 1.0, dedup_tolerance = 0.01, backtracking = true }",
    )
    .expect("parses");
    assert_eq!(
        implicit.search,
        GradientDescentConfig {
            restarts: 16,
            steps: 400,
            ..GradientDescentConfig::default()
        }
        .into()
    );
    assert!(toml::from_str::<ImplicitRegressionConfig>("search = { rate = 0.1 }").is_err());

    let density: DensityConfig = toml::from_str(
        "[langevin]\nsteps = 30\nclamp = [-2.0, 2.0]\n\
         step = { kind = \"exact\", epsilon = 0.01, beta = 2.0 }\n",
    )
    .expect("parses");
    assert_eq!(
        density.langevin,
        LangevinConfig {
            step: LangevinStep::Exact {
                epsilon: 0.01,
                beta: 2.0
            },
            steps: 30,
            clamp: Some((-2.0, 2.0)),
            grad_clip: None,
        }
    );
    let back: DensityConfig =
        toml::from_str(&toml::to_string(&density).expect("writes")).expect("reads back");
    assert_eq!(back, density);
}

#[test]
fn a_density_net_checks_its_sampler_when_it_is_made() {
    let bad = DensityConfig {
        langevin: LangevinConfig {
            steps: 0,
            ..DensityConfig::default().langevin
        },
        ..DensityConfig::default()
    };
    let err = DensityNet::new(2, &bad, Device::Cpu).expect_err("zero steps");
    assert_eq!(key(Err(err)), "langevin.steps");
    let net = DensityNet::new(2, &DensityConfig::default(), Device::Cpu).expect("net");
    let start = net.noise(5).expect("noise");
    assert_eq!(start.size(), vec![5, 2]);
    let err = net.sample(&start, 0).expect_err("zero steps");
    assert_eq!(key(Err(err)), "steps");
}

/// Labels follow `ebm_core::check`'s one rule in every model: Int64 class labels in range,
/// signs ±1, with a shape error for the wrong rank.
#[test]
fn labels_follow_the_core_rule() {
    let model = MultiClass::new(2, 3, &MlpConfig::default(), Device::Cpu).expect("model");
    let int32 = Tensor::from_slice(&[0i64, 2]).to_kind(Kind::Int);
    assert!(matches!(
        model.check_targets(&int32),
        Err(EbmError::InvalidLabel(ref m)) if m.contains("Int64")
    ));
    let column = Tensor::from_slice(&[0i64, 2]).view([2, 1]);
    assert!(matches!(
        model.check_targets(&column),
        Err(EbmError::Shape { .. })
    ));
    assert!(model.check_targets(&Tensor::from_slice(&[0i64, 2])).is_ok());
    let index = model
        .label_index(&Tensor::from_slice(&[2i64, 1]))
        .expect("index");
    assert_eq!(Vec::<i64>::try_from(&index).expect("values"), vec![2, 1]);
}

/// Sizes no machine holds are typed errors naming the key, never a panic inside tch.
#[test]
fn sizes_the_machine_cannot_hold_are_errors_not_panics() {
    let err = ebm_arch::MultiClass::new(
        2,
        i64::MAX,
        &ebm_arch::MlpConfig::default(),
        tch::Device::Cpu,
    )
    .expect_err("i64::MAX classes");
    assert!(
        matches!(&err, ebm_core::EbmError::Hyperparameter { name, .. } if name == "hidden"),
        "{err}"
    );
    let wide = ebm_arch::MlpConfig {
        hidden: vec![i64::MAX],
        ..ebm_arch::MlpConfig::default()
    };
    let err = ebm_arch::Binary::new(2, &wide, tch::Device::Cpu).expect_err("a huge layer");
    assert!(err.to_string().contains("available"), "{err}");
    let bomb = ebm_arch::MlpConfig {
        hidden: vec![100_000, 100_000],
        ..ebm_arch::MlpConfig::default()
    };
    let err = bomb.check().expect_err("1e10 parameters");
    assert!(err.to_string().contains("hidden"), "{err}");
}
