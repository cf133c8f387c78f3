//! Checkpoints: atomic writes, round trips, and loading into a model of another shape.

mod common;

use common::seeded;
use ebm_arch::{load_checkpoint, save_checkpoint, Architecture, MlpConfig, MultiClass};
use ebm_core::{EbmError, Energy};
use tch::{Device, Kind, Tensor};

fn temp_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("a temporary folder")
}

#[test]
fn a_checkpoint_round_trips_and_leaves_no_temporary_file() {
    let tmp = temp_dir();
    let dir = tmp.path();
    let path = dir.join("model.safetensors");
    let _rng = seeded(0);
    let a = MultiClass::new(2, 3, &MlpConfig::default(), Device::Cpu).expect("model");
    save_checkpoint(a.var_store(), &path).expect("save");
    let mut b = MultiClass::new(2, 3, &MlpConfig::default(), Device::Cpu).expect("model");
    let x = Tensor::randn([5, 2], (Kind::Float, Device::Cpu));
    let classes = Tensor::arange(3, (Kind::Int64, Device::Cpu));
    let before = b.candidate_energies(&x, &classes).expect("energies");
    load_checkpoint(b.var_store_mut(), &path).expect("load");
    let ea = a.candidate_energies(&x, &classes).expect("energies");
    let eb = b.candidate_energies(&x, &classes).expect("energies");
    assert!(ea.allclose(&eb, 0.0, 0.0, false), "loaded model differs");
    assert!(
        !ea.allclose(&before, 1e-6, 1e-6, false),
        "the test cannot tell models apart"
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir)
        .expect("dir")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "{leftovers:?}");
}

#[test]
fn loading_a_checkpoint_of_another_shape_is_an_error_that_says_so() {
    let _rng = seeded(1);
    let tmp = temp_dir();
    let dir = tmp.path();
    let path = dir.join("model.safetensors");
    let a = MultiClass::new(2, 3, &MlpConfig::default(), Device::Cpu).expect("model");
    save_checkpoint(a.var_store(), &path).expect("save");
    let wide = MlpConfig {
        hidden: vec![32],
        ..MlpConfig::default()
    };
    let mut b = MultiClass::new(2, 3, &wide, Device::Cpu).expect("model");
    let err = load_checkpoint(b.var_store_mut(), &path).expect_err("other shape");
    assert!(
        matches!(err, EbmError::Checkpoint(ref m) if m.contains("another") || m.contains("shape")),
        "{err}"
    );
    let mut c = MultiClass::new(2, 4, &MlpConfig::default(), Device::Cpu).expect("model");
    let err = load_checkpoint(c.var_store_mut(), &path).expect_err("other classes");
    assert!(
        matches!(err, EbmError::Checkpoint(ref m) if m.contains("shape")),
        "{err}"
    );
    let err = load_checkpoint(c.var_store_mut(), &dir.join("missing.safetensors"))
        .expect_err("missing file");
    assert!(matches!(err, EbmError::Checkpoint(_)), "{err}");
    let err = save_checkpoint(a.var_store(), &dir.join("model.bin")).expect_err("extension");
    assert!(matches!(err, EbmError::Checkpoint(_)), "{err}");
}

#[rstest::rstest]
#[case(f64::NAN, "1 NaN")]
#[case(f64::INFINITY, "0 NaN")]
fn a_checkpoint_with_non_finite_weights_names_the_parameter(#[case] bad: f64, #[case] count: &str) {
    let _rng = seeded(2);
    let tmp = temp_dir();
    let path = tmp.path().join("diverged.safetensors");
    let a = MultiClass::new(2, 3, &MlpConfig::default(), Device::Cpu).expect("model");
    {
        let _guard = tch::no_grad_guard();
        let mut vars = a.var_store().variables();
        let w = vars.remove("g.0.weight").expect("the first layer");
        let _ = w.get(0).get(1).fill_(bad);
    }
    save_checkpoint(a.var_store(), &path).expect("save");
    let mut b = MultiClass::new(2, 3, &MlpConfig::default(), Device::Cpu).expect("model");
    let before: Vec<f64> = Vec::try_from(
        b.var_store().variables()["g.0.weight"]
            .flatten(0, -1)
            .to_kind(Kind::Double),
    )
    .expect("values");
    let err = load_checkpoint(b.var_store_mut(), &path).expect_err("non-finite weights");
    assert!(
        matches!(&err, EbmError::Checkpoint(m) if m.contains("`g.0.weight`") && m.contains(count)),
        "{err}"
    );
    // Nothing was loaded.
    let after: Vec<f64> = Vec::try_from(
        b.var_store().variables()["g.0.weight"]
            .flatten(0, -1)
            .to_kind(Kind::Double),
    )
    .expect("values");
    assert_eq!(before, after);
}
