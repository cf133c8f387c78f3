//! Density objectives through the runner, on the configs of `configs/` as shipped (seed 0):
//! the held-out log-likelihood of contrastive divergence and of denoising and sliced score
//! matching beats one Gaussian fitted by maximum likelihood by at least 0.5 nats on eight
//! separated Gaussians, and every density run's history carries the samples' energy gap and
//! gradient norm; in 3 dimensions, where no quadrature is run, log Z comes from annealed
//! importance sampling and the held-out log-likelihood still beats the Gaussian; an NCE run
//! resumes with the log-normaliser it learnt. (NCE's own
//! check, its learnt log Z against quadrature, is in ebm-arch's `tests/density.rs`.)

mod common;

use common::{configs_dir, run_in, TempDir};
use ebm_lab::{LoadedConfig, Resume, RunConfig, RunOptions};

/// Runs `configs/density_eight_gaussians.toml` with `loss = …` (150 epochs, as shipped).
fn gain_over_the_gaussian(loss: &str, runs: &TempDir) -> (f64, ebm_arch::History) {
    let loaded = RunConfig::load_with(
        &configs_dir().join("density_eight_gaussians.toml"),
        &[format!("loss={loss}")],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let outcome = run_in(&loaded, runs.path()).expect("runs");
    let metrics = &outcome.metrics.metrics;
    let test_ll = metrics["test_log_likelihood"];
    let gaussian = metrics["gaussian_log_likelihood"];
    assert!(
        (metrics["log_likelihood_gain"] - (test_ll - gaussian)).abs() < 1e-9,
        "the gain is the difference of the two log-likelihoods"
    );
    (test_ll - gaussian, outcome.history)
}

#[test]
fn cd_and_perturbed_score_matching_beat_one_gaussian_on_eight_gaussians() {
    let runs = TempDir::new("density-objectives");
    for loss in [
        r#"{ kind = "contrastive_divergence", l2_weight = 0.1 }"#,
        r#"{ kind = "denoising_score_matching", sigma = 0.3 }"#,
        r#"{ kind = "sliced_score_matching", sigma = 0.3 }"#,
    ] {
        let (gain, history) = gain_over_the_gaussian(loss, &runs);
        println!("{loss}: held-out log-likelihood gain {gain:.3} nats");
        assert!(gain >= 0.5, "{loss}: gain {gain} over one Gaussian");
        // Every epoch has the samples' diagnostics, finite, with a non-negative norm.
        for r in &history.epochs {
            assert!(r.sample_gap.is_finite(), "{loss}: epoch {}", r.epoch);
            assert!(
                r.sample_grad_norm.is_finite() && r.sample_grad_norm >= 0.0,
                "{loss}: epoch {} norm {}",
                r.epoch,
                r.sample_grad_norm
            );
        }
    }
}

#[test]
fn above_two_dimensions_log_z_comes_from_ais_and_the_likelihood_is_held_out() {
    let dir = TempDir::new("density-3d");
    let runs = TempDir::new("density-3d-runs");
    let path = dir.file(
        "mixture.toml",
        r#"name = "mixture3"
seed = 1
threads = 1
[data]
kind = "gaussian_mixture"
n = 400
dim = 3
modes = 2
radius = 2.0
noise = 0.3
test_fraction = 0.25
[model]
kind = "density"
energy = { hidden = [32, 32], activation = "silu" }
[loss]
kind = "nce"
ratio = 4
[train]
optimizer = { kind = "adam", lr = 0.005 }
batch_size = 100
epochs = 40
[eval]
samples = 50
sample_steps = 10
"#,
    );
    let loaded: LoadedConfig = RunConfig::load_with(&path, &[]).unwrap_or_else(|e| panic!("{e}"));
    let outcome = run_in(&loaded, runs.path()).expect("runs");
    let m = &outcome.metrics.metrics;
    println!("{m:?}");
    // AIS's estimate, with a standard error, stands in for the quadrature.
    let (log_z, std_error) = (m["log_z"], m["log_z_std_error"]);
    assert!(
        log_z.is_finite() && std_error > 0.0 && std_error < 0.1,
        "{log_z} ± {std_error}"
    );
    // A 3-D Gaussian baseline: −½ mean Mahalanobis − ½ log det Σ − (3/2) log 2π, which for
    // two modes at ±2 (std 0.3) on one axis is about −2.55 (variances 4.09, 0.09, 0.09); the
    // mixture itself scores about −1.34.
    let gaussian = m["gaussian_log_likelihood"];
    assert!((-2.9..-2.2).contains(&gaussian), "{gaussian}");
    assert!(m["log_likelihood_gain"] >= 0.5, "{m:?}");
    // No density plot above 2-D; the metrics are there all the same.
    assert!(
        !outcome.files.iter().any(|f| f == "density.png"),
        "{:?}",
        outcome.files
    );
}

#[test]
fn an_nce_density_resumes_with_its_learnt_log_normaliser() {
    let runs = TempDir::new("density-resume");
    let loaded = RunConfig::load_with(
        &configs_dir().join("density_eight_gaussians.toml"),
        &["train.epochs=3".into()],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let first = run_in(&loaded, runs.path()).expect("runs");
    let c = first.metrics.metrics["nce_log_z"];
    assert!(c.abs() > 1e-3, "c = {c} moved from 0");
    // One more epoch at a learning rate too small to move anything: c must be the first
    // run's, not a fresh 0.
    let again = RunConfig::load_with(
        &first.dir.join("config.toml"),
        &[
            "train.epochs=1".into(),
            "train.optimizer={ kind = \"adam\", lr = 1e-12 }".into(),
        ],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let options = RunOptions {
        runs_dir: runs.path().to_path_buf(),
        progress: ebm_lab::ProgressMode::Quiet,
        resume: Some(Resume::from_dir(&first.dir)),
    };
    let resumed = ebm_lab::run(&again, &options).expect("an NCE run resumes");
    let resumed_c = resumed.metrics.metrics["nce_log_z"];
    assert!((resumed_c - c).abs() < 1e-6, "{resumed_c} against {c}");
}
