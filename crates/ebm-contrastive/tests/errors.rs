//! What bad input gets: typed errors, never panics.

use ebm_contrastive::{
    hardest_negative, semi_hard_negative, BarlowTwinsConfig, ContrastiveDivergenceConfig, Distance,
    InfoNceConfig, InitNoise, MarginContrastiveConfig, NegativeCosineConfig, NtXentConfig,
    ReplayBuffer, ReplayBufferConfig, SupConConfig, TripletMarginConfig, Triplets, VicRegConfig,
};
use ebm_core::{EbmError, FnEnergy, LangevinConfig, LangevinStep};
use rstest::rstest;
use serde::de::value::{Error as DeError, MapDeserializer};
use serde::Deserialize;
use tch::{Device, Kind, Tensor};

const F64: (Kind, Device) = (Kind::Double, Device::Cpu);

fn ones(shape: &[i64]) -> Tensor {
    Tensor::ones(shape, F64)
}

fn with_value(shape: &[i64], at: i64, value: f64) -> Tensor {
    let t = Tensor::randn(shape, F64);
    let _ = t.view([-1]).get(at).fill_(value);
    t
}

fn hyperparameter<T: std::fmt::Debug>(r: ebm_core::Result<T>, expected: &str) {
    match r {
        Err(EbmError::Hyperparameter { name, .. }) => assert_eq!(name, expected),
        other => panic!("expected a hyperparameter error on {expected}, got {other:?}"),
    }
}

fn shape<T: std::fmt::Debug>(r: ebm_core::Result<T>) {
    assert!(matches!(r, Err(EbmError::Shape { .. })), "{r:?}");
}

fn batch<T: std::fmt::Debug>(r: ebm_core::Result<T>) {
    assert!(matches!(r, Err(EbmError::BatchMismatch { .. })), "{r:?}");
}

fn non_finite<T: std::fmt::Debug>(r: ebm_core::Result<T>) {
    assert!(matches!(r, Err(EbmError::NonFinite { .. })), "{r:?}");
}

fn label<T: std::fmt::Debug>(r: ebm_core::Result<T>) {
    assert!(matches!(r, Err(EbmError::InvalidLabel(_))), "{r:?}");
}

#[rstest]
#[case(0.0)]
#[case(-0.5)]
#[case(f64::NAN)]
#[case(f64::INFINITY)]
fn temperatures_must_be_positive(#[case] temperature: f64) {
    hyperparameter(
        NtXentConfig {
            temperature,
            ..Default::default()
        }
        .check(),
        "temperature",
    );
    hyperparameter(
        SupConConfig {
            temperature,
            ..Default::default()
        }
        .check(),
        "temperature",
    );
    hyperparameter(InfoNceConfig { temperature }.check(), "temperature");
}

#[test]
fn other_hyperparameters() {
    hyperparameter(
        NtXentConfig {
            eps: 0.0,
            ..Default::default()
        }
        .check(),
        "eps",
    );
    hyperparameter(MarginContrastiveConfig { margin: 0.0 }.check(), "margin");
    hyperparameter(MarginContrastiveConfig { margin: -1.0 }.check(), "margin");
    hyperparameter(
        TripletMarginConfig {
            margin: -1.0,
            ..Default::default()
        }
        .check(),
        "margin",
    );
    hyperparameter(
        TripletMarginConfig {
            distance: Distance::Lp { p: 0.5 },
            ..Default::default()
        }
        .check(),
        "p",
    );
    hyperparameter(Distance::Lp { p: f64::NAN }.check(), "p");
    hyperparameter(Distance::Cosine { eps: -1.0 }.check(), "eps");
    hyperparameter(
        VicRegConfig {
            invariance_weight: -1.0,
            ..Default::default()
        }
        .check(),
        "invariance_weight",
    );
    hyperparameter(
        VicRegConfig {
            variance_weight: f64::NAN,
            ..Default::default()
        }
        .check(),
        "variance_weight",
    );
    hyperparameter(
        VicRegConfig {
            covariance_weight: -0.1,
            ..Default::default()
        }
        .check(),
        "covariance_weight",
    );
    hyperparameter(
        VicRegConfig {
            epsilon: 0.0,
            ..Default::default()
        }
        .check(),
        "epsilon",
    );
    hyperparameter(
        VicRegConfig {
            target_std: 0.0,
            ..Default::default()
        }
        .check(),
        "target_std",
    );
    hyperparameter(
        BarlowTwinsConfig {
            lambda: -1.0,
            ..Default::default()
        }
        .check(),
        "lambda",
    );
    hyperparameter(
        BarlowTwinsConfig {
            bn_eps: 0.0,
            ..Default::default()
        }
        .check(),
        "bn_eps",
    );
    hyperparameter(NegativeCosineConfig { eps: 0.0 }.check(), "eps");
    hyperparameter(
        ContrastiveDivergenceConfig { l2_weight: -1.0 }.check(),
        "l2_weight",
    );
}

#[test]
fn nt_xent_bad_views() {
    let loss = NtXentConfig::default().check().expect("config");
    shape(loss.loss(&ones(&[4, 3]), &ones(&[4, 2])));
    batch(loss.loss(&ones(&[4, 3]), &ones(&[3, 3])));
    shape(loss.loss(&ones(&[4]), &ones(&[4])));
    shape(loss.loss(&ones(&[2, 2, 2]), &ones(&[2, 2, 2])));
    shape(loss.loss(&ones(&[0, 3]), &ones(&[0, 3])));
    non_finite(loss.loss(&with_value(&[4, 3], 5, f64::NAN), &ones(&[4, 3])));
    non_finite(loss.loss(&ones(&[4, 3]), &with_value(&[4, 3], 0, f64::INFINITY)));
    non_finite(loss.loss(&ones(&[4, 3]), &with_value(&[4, 3], 11, f64::NEG_INFINITY)));
}

/// Embeddings of width 0 have no direction and no statistics: every loss says so.
#[test]
fn zero_width_embeddings_are_a_shape_error() {
    let empty = ones(&[4, 0]);
    shape(
        NtXentConfig::default()
            .check()
            .expect("config")
            .loss(&empty, &empty),
    );
    shape(
        VicRegConfig::default()
            .check()
            .expect("config")
            .loss(&empty, &empty),
    );
    shape(
        BarlowTwinsConfig::default()
            .check()
            .expect("config")
            .loss(&empty, &empty),
    );
    shape(
        NegativeCosineConfig::default()
            .check()
            .expect("config")
            .loss(&empty, &empty),
    );
}

fn dtype<T: std::fmt::Debug>(r: ebm_core::Result<T>) {
    assert!(matches!(r, Err(EbmError::Dtype { .. })), "{r:?}");
}

/// Integer or boolean views are a typed error naming the kind, not a libtorch panic.
#[rstest]
#[case(Kind::Int64)]
#[case(Kind::Int)]
#[case(Kind::Bool)]
fn integer_views_are_a_dtype_error(#[case] kind: Kind) {
    let bad = ones(&[4, 3]).to_kind(kind);
    let nt_xent = NtXentConfig::default().check().expect("config");
    dtype(nt_xent.loss(&bad, &ones(&[4, 3])));
    dtype(nt_xent.loss(&ones(&[4, 3]), &bad));
    let vicreg = VicRegConfig::default().check().expect("config");
    dtype(vicreg.loss(&bad, &bad));
    let barlow = BarlowTwinsConfig::default().check().expect("config");
    dtype(barlow.loss(&ones(&[4, 3]), &bad));
    let err = nt_xent.loss(&bad, &bad).expect_err("a dtype error");
    assert!(err.to_string().contains("floating-point"), "{err}");
}

#[test]
fn sup_con_bad_labels() {
    let loss = SupConConfig::default().check().expect("config");
    let f = ones(&[4, 3]);
    label(loss.loss(&f, &Tensor::from_slice(&[0.0, 1.0, 0.0, 1.0])));
    batch(loss.loss(&f, &Tensor::from_slice(&[0i64, 1, 0])));
    shape(loss.loss(&f, &Tensor::zeros([4, 1], (Kind::Int64, Device::Cpu))));
    non_finite(loss.loss(
        &with_value(&[4, 3], 2, f64::NAN),
        &Tensor::from_slice(&[0i64, 1, 0, 1]),
    ));
}

#[test]
fn info_nce_bad_energies() {
    let loss = InfoNceConfig::default().check().expect("config");
    assert!(matches!(
        loss.loss_from_energies(&ones(&[3]), &ones(&[3, 0])),
        Err(EbmError::EmptyCandidates(_))
    ));
    shape(loss.loss_from_energies(&ones(&[3]), &ones(&[3])));
    shape(loss.loss_from_energies(&ones(&[3, 1]), &ones(&[3, 2])));
    batch(loss.loss_from_energies(&ones(&[3]), &ones(&[2, 2])));
    non_finite(loss.loss_from_energies(&Tensor::from_slice(&[f64::NAN]), &ones(&[1, 2])));
    non_finite(loss.loss_from_energies(&ones(&[1]), &with_value(&[1, 2], 1, f64::NEG_INFINITY)));

    let energy =
        FnEnergy::new(|x: &Tensor, y: &Tensor| (x - y).square().sum_dim_intlist(1, false, None));
    let x = ones(&[3, 2]);
    shape(loss.loss(&energy, &x, &ones(&[3, 2]), &ones(&[3, 4, 5])));
    shape(loss.loss(&energy, &x, &ones(&[3, 2]), &ones(&[3, 2])));
    batch(loss.loss(&energy, &x, &ones(&[2, 2]), &ones(&[3, 4, 2])));
    assert!(matches!(
        loss.loss(&energy, &x, &ones(&[3, 2]), &ones(&[3, 0, 2])),
        Err(EbmError::EmptyCandidates(_))
    ));
}

#[test]
fn margin_losses_bad_input() {
    let mc = MarginContrastiveConfig::default().check().expect("config");
    label(mc.loss(&ones(&[2]), &Tensor::from_slice(&[0i64, 2])));
    label(mc.loss(&ones(&[2]), &Tensor::from_slice(&[0.5, 1.0])));
    batch(mc.loss(&ones(&[2]), &Tensor::from_slice(&[true])));
    shape(mc.loss(&ones(&[2, 1]), &Tensor::from_slice(&[true, false])));
    non_finite(mc.loss(
        &Tensor::from_slice(&[f64::NAN, 1.0]),
        &Tensor::from_slice(&[true, false]),
    ));

    let triplet = TripletMarginConfig::default().check().expect("config");
    shape(triplet.loss(&ones(&[2, 3]), &ones(&[2, 3]), &ones(&[2, 4])));
    batch(triplet.loss(&ones(&[2, 3]), &ones(&[1, 3]), &ones(&[2, 3])));
    non_finite(triplet.loss(
        &ones(&[2, 3]),
        &ones(&[2, 3]),
        &with_value(&[2, 3], 0, f64::NAN),
    ));
    let out_of_range = Triplets {
        anchor: Tensor::from_slice(&[0i64]),
        positive: Tensor::from_slice(&[1i64]),
        negative: Tensor::from_slice(&[7i64]),
    };
    label(triplet.loss_mined(&ones(&[3, 2]), &out_of_range));
    let ragged = Triplets {
        anchor: Tensor::from_slice(&[0i64, 1]),
        positive: Tensor::from_slice(&[1i64]),
        negative: Tensor::from_slice(&[2i64]),
    };
    shape(triplet.loss_mined(&ones(&[3, 2]), &ragged));
}

#[test]
fn distances_and_miners_bad_input() {
    shape(Distance::default().pairwise(&ones(&[2, 3]), &ones(&[4, 2])));
    batch(Distance::Dot.paired(&ones(&[2, 3]), &ones(&[4, 3])));
    non_finite(
        Distance::EUCLIDEAN.pairwise(&with_value(&[2, 3], 1, f64::INFINITY), &ones(&[4, 3])),
    );
    let labels = Tensor::from_slice(&[0i64, 1, 0]);
    hyperparameter(
        semi_hard_negative(&ones(&[3, 2]), &labels, &Distance::EUCLIDEAN, 0.0),
        "margin",
    );
    batch(hardest_negative(
        &ones(&[4, 2]),
        &labels,
        &Distance::EUCLIDEAN,
    ));
    label(hardest_negative(
        &ones(&[3, 2]),
        &Tensor::from_slice(&[0.0, 1.0, 0.0]),
        &Distance::EUCLIDEAN,
    ));
    non_finite(hardest_negative(
        &with_value(&[3, 2], 0, f64::NAN),
        &labels,
        &Distance::EUCLIDEAN,
    ));
    hyperparameter(
        hardest_negative(&ones(&[3, 2]), &labels, &Distance::Lp { p: 0.0 }),
        "p",
    );
}

#[test]
fn non_contrastive_bad_input() {
    let vicreg = VicRegConfig::default().check().expect("config");
    shape(vicreg.loss(&ones(&[1, 3]), &ones(&[1, 3])));
    shape(vicreg.loss(&ones(&[4, 3]), &ones(&[4, 2])));
    non_finite(vicreg.loss(&with_value(&[4, 3], 3, f64::NAN), &ones(&[4, 3])));
    let barlow = BarlowTwinsConfig::default().check().expect("config");
    shape(barlow.loss(&ones(&[1, 3]), &ones(&[1, 3])));
    batch(barlow.loss(&ones(&[4, 3]), &ones(&[5, 3])));
    let nc = NegativeCosineConfig::default().check().expect("config");
    shape(nc.loss(&ones(&[4, 3]), &ones(&[4, 2])));
    non_finite(nc.loss(&ones(&[4, 3]), &with_value(&[4, 3], 0, f64::INFINITY)));
}

fn langevin() -> LangevinConfig {
    LangevinConfig {
        step: LangevinStep::Decoupled {
            step_size: 0.01,
            noise_std: 0.01,
        },
        steps: 2,
        clamp: None,
        grad_clip: None,
    }
}

#[test]
fn replay_buffer_and_cd_bad_input() {
    // Each value is checked where it is made: the buffer's config and the sampler's.
    let new = |config: ReplayBufferConfig,
               langevin: LangevinConfig,
               shape: &[i64]|
     -> ebm_core::Result<ReplayBuffer> {
        ReplayBuffer::new(&config.check()?, langevin.check()?, shape, F64)
    };
    let ok = ReplayBufferConfig {
        capacity: 8,
        ..Default::default()
    };
    hyperparameter(
        new(ReplayBufferConfig { capacity: 0, ..ok }, langevin(), &[2]),
        "capacity",
    );
    for f in [-0.1, 1.5, f64::NAN] {
        hyperparameter(
            new(
                ReplayBufferConfig {
                    reinit_fraction: f,
                    ..ok
                },
                langevin(),
                &[2],
            ),
            "reinit_fraction",
        );
    }
    hyperparameter(
        new(
            ReplayBufferConfig {
                init: InitNoise::Uniform { lo: 1.0, hi: 1.0 },
                ..ok
            },
            langevin(),
            &[2],
        ),
        "init",
    );
    hyperparameter(
        new(
            ReplayBufferConfig {
                init: InitNoise::Normal {
                    mean: 0.0,
                    std: -1.0,
                },
                ..ok
            },
            langevin(),
            &[2],
        ),
        "init.std",
    );
    hyperparameter(
        new(
            ok,
            LangevinConfig {
                steps: 0,
                ..langevin()
            },
            &[2],
        ),
        "steps",
    );
    shape(new(ok, langevin(), &[0]));

    let energy =
        FnEnergy::new(|_x: &Tensor, y: &Tensor| y.square().sum_dim_intlist(1, false, None));
    let mut buffer = new(ok, langevin(), &[2]).expect("buffer");
    hyperparameter(
        buffer.sample(&energy, &Tensor::zeros([9, 0], F64)),
        "capacity",
    );
    hyperparameter(
        buffer.sample(&energy, &Tensor::zeros([0, 0], F64)),
        "capacity",
    );
    shape(buffer.sample(&energy, &Tensor::from(1.0)));

    let cd = ContrastiveDivergenceConfig::default()
        .check()
        .expect("config");
    shape(cd.loss_from_energies(&ones(&[0]), &ones(&[3])));
    shape(cd.loss_from_energies(&ones(&[3, 1]), &ones(&[3])));
    non_finite(cd.loss_from_energies(&ones(&[2]), &Tensor::from_slice(&[1.0, f64::INFINITY])));
    batch(cd.loss(
        &energy,
        &Tensor::zeros([3, 0], F64),
        &ones(&[3, 2]),
        &ones(&[2, 2]),
    ));
}

#[test]
fn configs_deserialize_with_defaults_and_reject_unknown_fields() {
    let parse = |pairs: Vec<(&'static str, f64)>| {
        NtXentConfig::deserialize(MapDeserializer::<_, DeError>::new(pairs.into_iter()))
    };
    let config = parse(vec![("temperature", 0.2)]).expect("parses");
    assert_eq!(
        config,
        NtXentConfig {
            temperature: 0.2,
            ..Default::default()
        }
    );
    assert!(parse(vec![("tau", 0.2)]).is_err());
    // Parsing does not check; check() does.
    let bad = parse(vec![("temperature", -1.0)]).expect("parses");
    hyperparameter(bad.check(), "temperature");

    let vicreg = VicRegConfig::deserialize(MapDeserializer::<_, DeError>::new(
        vec![("covariance_weight", 2.0)].into_iter(),
    ))
    .expect("parses");
    assert_eq!(vicreg.covariance_weight, 2.0);
    assert_eq!(vicreg.invariance_weight, 25.0);
    assert_eq!(vicreg.variance_weight, 25.0);
    assert_eq!(vicreg.epsilon, 1e-4);
    assert_eq!(vicreg.target_std, 1.0);
    let barlow = BarlowTwinsConfig::default();
    assert_eq!(barlow.lambda, 5e-3);
}

#[rstest]
#[case::capacity(ReplayBufferConfig { capacity: 0, ..Default::default() }, "capacity")]
#[case::reinit_negative(ReplayBufferConfig { reinit_fraction: -0.1, ..Default::default() }, "reinit_fraction")]
#[case::reinit_nan(ReplayBufferConfig { reinit_fraction: f64::NAN, ..Default::default() }, "reinit_fraction")]
#[case::uniform_empty(ReplayBufferConfig { init: InitNoise::Uniform { lo: 0.0, hi: 0.0 }, ..Default::default() }, "init")]
#[case::normal_mean(ReplayBufferConfig { init: InitNoise::Normal { mean: f64::NAN, std: 1.0 }, ..Default::default() }, "init.mean")]
#[case::normal_std(ReplayBufferConfig { init: InitNoise::Normal { mean: 0.0, std: -1.0 }, ..Default::default() }, "init.std")]
fn replay_buffer_config_names_the_bad_key(#[case] config: ReplayBufferConfig, #[case] key: &str) {
    hyperparameter(config.check(), key);
}

#[test]
fn checked_replay_params_keep_their_config() {
    let config = ReplayBufferConfig {
        capacity: 12,
        reinit_fraction: 1.0,
        init: InitNoise::Normal {
            mean: 0.5,
            std: 0.0,
        },
    };
    let params = config.check().expect("valid");
    assert_eq!(params.config(), config);
    assert_eq!(
        (params.capacity(), params.reinit_fraction(), params.init()),
        (12, 1.0, config.init)
    );
    let buffer =
        ReplayBuffer::new(&params, langevin().check().expect("valid"), &[3], F64).expect("buffer");
    assert_eq!(buffer.params(), &params);
    assert_eq!(buffer.chains().size(), vec![12, 3]);
    assert_eq!(buffer.langevin().config(), langevin());
}

/// Class labels follow `ebm_core::check`'s one rule: Int64 `[N]` (any ids here).
#[test]
fn labels_must_be_int64() {
    let loss = SupConConfig::default().check().expect("config");
    let f = ones(&[4, 3]);
    let ok = loss.loss(&f, &Tensor::from_slice(&[7i64, -2, 7, -2]));
    assert!(ok.is_ok(), "{ok:?}");
    let int32 = Tensor::from_slice(&[0i64, 1, 0, 1]).to_kind(Kind::Int);
    label(loss.loss(&f, &int32));
    label(hardest_negative(&f, &int32, &Distance::EUCLIDEAN));
}

/// A temperature whose inverse overflows the embeddings' kind is named, not a NaN loss.
#[rstest]
#[case(Kind::Float, 1e-39)]
#[case(Kind::Float, 1e-300)]
#[case(Kind::Double, 1e-320)]
fn a_temperature_too_small_for_the_kind_is_named(#[case] kind: Kind, #[case] temperature: f64) {
    let z = Tensor::randn([4, 3], (kind, Device::Cpu));
    let nt_xent = NtXentConfig {
        temperature,
        ..NtXentConfig::default()
    }
    .check()
    .expect("positive");
    hyperparameter(nt_xent.loss(&z, &z), "temperature");
    let sup_con = SupConConfig {
        temperature,
        ..SupConConfig::default()
    }
    .check()
    .expect("positive");
    let labels = Tensor::from_slice(&[0i64, 0, 1, 1]);
    hyperparameter(sup_con.loss(&z, &labels), "temperature");
    // Just above the edge the loss is finite.
    let ok = NtXentConfig {
        temperature: 1e-3,
        ..NtXentConfig::default()
    }
    .check()
    .expect("positive");
    let value = f64::try_from(
        ok.loss(&z, &z.f_add_scalar(0.01).expect("shift"))
            .expect("a loss"),
    )
    .expect("value");
    assert!(value.is_finite());
}
