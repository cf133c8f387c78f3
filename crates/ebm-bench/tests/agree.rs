//! Each workload's Rust and Python versions compute the same thing, at a tiny size.
//!
//! The Rust side runs in this process; the Python side is `bench/torch_bench.py worker`
//! started with `$EBM_PYTHON`, the Python with torch 2.13.0. The tests that need it are
//! `#[ignore]`d, so a plain `cargo test` runs only the Rust side's own checks; run them with
//! `cargo test -p ebm-bench --test agree -- --ignored` and `EBM_PYTHON` set (`cargo xtask test`
//! and `cargo xtask bench` do). Without `EBM_PYTHON` they fail, naming it: they never pass
//! without having compared anything. Nothing here is timed.

use ebm_bench::runner::{self, Options};
use ebm_bench::spec::Spec;
use ebm_bench::worker::Worker;
use ebm_bench::workloads;
use std::path::PathBuf;

/// Every workload at a tiny size.
fn tiny_specs() -> Vec<Spec> {
    vec![
        Spec::Dfo {
            batch: 9,
            samples: 32_768,
            iterations: 3,
            noise: 0.33,
            shrink: 0.5,
            hidden: vec![8],
            embed: 3,
            lo: -2.0,
            hi: 2.0,
            seed: 18,
        },
        Spec::Dfo {
            batch: 3,
            samples: 50,
            iterations: 2,
            noise: 0.5,
            shrink: 0.3,
            hidden: vec![6, 6],
            embed: 2,
            lo: -1.0,
            hi: 1.5,
            seed: 19,
        },
        Spec::Train {
            batch: 8,
            in_dim: 6,
            hidden: vec![5, 7],
            classes: 4,
            batches: 2,
            margin: 1.0,
            lr: 1e-2,
            seed: 11,
        },
        Spec::Descent {
            batch: 4,
            restarts: 3,
            steps: 12,
            hidden: vec![8],
            embed: 3,
            step_size: 0.05,
            momentum: 0.5,
            lo: -2.0,
            hi: 2.0,
            tolerance: 0.0,
            seed: 12,
        },
        Spec::Descent {
            batch: 5,
            restarts: 1,
            steps: 7,
            hidden: vec![6, 6],
            embed: 2,
            step_size: 0.1,
            momentum: 0.0,
            lo: -1.0,
            hi: 1.5,
            tolerance: 0.0,
            seed: 13,
        },
        Spec::Descent {
            batch: 6,
            restarts: 4,
            steps: 60,
            hidden: vec![8],
            embed: 3,
            step_size: 0.1,
            momentum: 0.5,
            lo: -2.0,
            hi: 2.0,
            tolerance: 1e-4,
            seed: 19,
        },
        Spec::Langevin {
            chains: 5,
            steps: 10,
            hidden: vec![8, 4],
            epsilon: 1e-2,
            seed: 14,
        },
        Spec::Mala {
            chains: 5,
            warmup: 3,
            samples: 6,
            hidden: vec![8, 4],
            step_size: 5e-2,
            seed: 17,
        },
        Spec::Hmc {
            chains: 4,
            warmup: 2,
            samples: 5,
            leapfrog_steps: 3,
            hidden: vec![6],
            step_size: 0.1,
            seed: 18,
        },
        Spec::NtXent {
            n: 6,
            dim: 4,
            temperature: 0.5,
            seed: 15,
        },
        Spec::Exhaustive {
            batch: 7,
            in_dim: 5,
            hidden: vec![6],
            classes: 9,
            seed: 16,
        },
    ]
}

static TORCH_RNG: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Holds libtorch's global generator for one test and sets one thread. The Rust workloads
/// seed it and draw from it in this process; tests run on parallel threads, and without the
/// lock one test's draws land between another's seed and its draws (HMC's chains then differ
/// from Python's). Hold the guard for the whole test.
fn exclusive() -> std::sync::MutexGuard<'static, ()> {
    let guard = TORCH_RNG
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    tch::set_num_threads(1);
    guard
}

fn temp_dir(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("ebm-bench-test-{name}-{}", std::process::id()))
}

/// The Python with torch, from `$EBM_PYTHON`; panics when it is not set.
fn python() -> PathBuf {
    match std::env::var_os("EBM_PYTHON").filter(|p| !p.is_empty()) {
        Some(python) => PathBuf::from(python),
        None => panic!(
            "EBM_PYTHON is not set: this test compares with PyTorch and needs EBM_PYTHON, the \
             Python with torch 2.13.0 (`cargo xtask test` sets it to the managed environment's \
             python; with your own LIBTORCH, set EBM_PYTHON to a Python whose torch uses it)"
        ),
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-4 * a.abs().max(b.abs()).max(1.0)
}

/// Two blocks on the Rust workload and on a set-up worker agree (the second block continues
/// from the first: training keeps its Adam state).
fn blocks_agree(spec: &Spec, rust: &mut dyn workloads::Workload, other: &mut Worker) {
    for iters in [1, 3] {
        let r = rust.run(iters).expect("rust run");
        let o = other.run(iters).expect("worker run");
        assert!(
            close(r.check, o.check),
            "{spec:?}, block of {iters}: rust {} vs {} {}",
            r.check,
            other.name(),
            o.check
        );
    }
}

#[test]
fn rust_workloads_are_finite_and_seeded_ones_repeat() {
    let _rng = exclusive();
    let dir = temp_dir("rust");
    for spec in tiny_specs() {
        let mut case = workloads::setup(&spec, &dir, tch::Device::Cpu).expect("setup");
        let first = case.run(1).expect("run");
        let second = case.run(2).expect("run");
        assert!(
            first.check.is_finite() && second.check.is_finite(),
            "{spec:?}"
        );
        if matches!(spec, Spec::Train { .. }) {
            // Training moves the weights: the loss of later steps differs.
            assert_ne!(first.check, second.check, "{spec:?}");
        } else if matches!(spec, Spec::Dfo { .. }) {
            // Seeded too, but resampling turns the last bits of the matrix products (which
            // the BLAS may round differently with the buffers' alignment) into different
            // draws now and then: the same result to 1e-4, not to the bit.
            assert!(
                close(first.check, second.check),
                "{spec:?}: {} vs {}",
                first.check,
                second.check
            );
        } else {
            // Every iteration is seeded (or has fixed inputs): it repeats exactly.
            assert_eq!(first.check, second.check, "{spec:?}");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
#[ignore = "needs EBM_PYTHON"]
fn rust_and_python_compute_the_same_results() {
    let options = Options::new(python());
    let _rng = exclusive();
    let mut py = runner::python_worker(&options, 1).expect("python worker");
    let info = py.info().expect("info");
    assert_eq!(info.threads, 1);
    let rust_libtorch = ebm_bench::spec::loaded_libtorch();
    assert_eq!(
        info.libtorch, rust_libtorch,
        "both languages must map the same libtorch"
    );
    for (i, spec) in tiny_specs().into_iter().enumerate() {
        let dir = temp_dir(&format!("cmp{i}"));
        let mut rust = workloads::setup(&spec, &dir, tch::Device::Cpu).expect("rust setup");
        py.setup(&spec, &dir, "cpu").expect("python setup");
        blocks_agree(&spec, rust.as_mut(), &mut py);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
#[ignore = "needs EBM_PYTHON"]
fn compiled_python_computes_the_same_results_or_says_why_not() {
    let options = Options::new(python());
    let _rng = exclusive();
    let mut compiled = runner::compiled_worker(&options, 1).expect("compiled worker");
    assert_eq!(compiled.info().expect("info").language, "python-compiled");
    // One case per workload (each compiles for seconds), and the descent to a tolerance.
    let mut seen = Vec::new();
    let specs = tiny_specs().into_iter().filter(|spec| {
        let kind = std::mem::discriminant(spec);
        let to_tolerance = matches!(spec, Spec::Descent { tolerance, .. } if *tolerance > 0.0);
        let first = !seen.contains(&kind);
        seen.push(kind);
        first || to_tolerance
    });
    for (i, spec) in specs.enumerate() {
        let dir = temp_dir(&format!("compiled{i}"));
        let mut rust = workloads::setup(&spec, &dir, tch::Device::Cpu).expect("rust setup");
        let setup = compiled.setup(&spec, &dir, "cpu");
        match spec {
            Spec::Descent { tolerance, .. } if tolerance > 0.0 => {
                // The active set has no compiled form: the worker says so, and goes on.
                let err = setup.expect_err("no compiled form");
                assert!(err.to_string().contains("not applicable"), "{err}");
            }
            _ => {
                setup.expect("compiled setup");
                blocks_agree(&spec, rust.as_mut(), &mut compiled);
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
#[ignore = "needs EBM_PYTHON"]
fn a_bad_request_is_an_error_not_a_hang() {
    let options = Options::new(python());
    let mut py = runner::python_worker(&options, 1).expect("python worker");
    let err = py.run(1).expect_err("run before setup");
    assert!(err.to_string().contains("python worker failed"), "{err}");
}
