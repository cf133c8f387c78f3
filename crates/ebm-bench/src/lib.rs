//! # ebm-bench
//!
//! `cargo xtask bench`: ebm's inner loops in Rust against the same computations written in
//! PyTorch (`bench/torch_bench.py`), on the same libtorch, the same machine, the same thread
//! counts, weights, inputs and seeds. The runner starts one Rust and one Python worker per
//! thread count, checks that both map the same `libtorch_cpu` library, sets every case up on
//! both, checks that their first results agree, and times alternating blocks. It prints a
//! table and writes `bench/results.md`.
//!
//! The Rust side of every case goes through the project's own code: `ebm-arch`'s models and
//! `batch_energies` with `ebm-loss`'s hinge, `ebm-core`'s `GradientDescent`, `Langevin` and
//! `exhaustive_argmin`, `ebm-contrastive`'s `NtXent`.
//!
//! ```
//! use ebm_bench::{spec::Spec, workloads};
//! // A tiny Langevin case, run twice: each run is seeded, so both give the same samples.
//! let spec = Spec::Langevin { chains: 4, steps: 3, hidden: vec![8], epsilon: 1e-2, seed: 0 };
//! let dir = std::env::temp_dir().join(format!("ebm-bench-doc-{}", std::process::id()));
//! let mut case = workloads::setup(&spec, &dir, tch::Device::Cpu)?;
//! let (a, b) = (case.run(1)?, case.run(1)?);
//! assert_eq!(a.check, b.check);
//! std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), anyhow::Error>(())
//! ```
//!
//! What it does not do: it is never part of the tests' timing (the tests only check that
//! both languages compute the same thing), and it keeps no history of past runs.

pub mod load;
pub mod report;
pub mod runner;
pub mod spec;
pub mod weights;
pub mod worker;
pub mod workloads;
