//! Density objectives through the runner, on the configs of `configs/` as shipped (seed 0):
//! the held-out log-likelihood of contrastive divergence and of denoising and sliced score
//! matching beats one Gaussian fitted by maximum likelihood by at least 0.5 nats on eight
//! separated Gaussians, and every density run's history carries the samples' energy gap and
//! gradient norm. (NCE's own check, its learnt log Z against quadrature, is in ebm-arch's
//! `tests/density.rs`.)

mod common;

use common::{configs_dir, run_in, TempDir};
use ebm_lab::RunConfig;

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
