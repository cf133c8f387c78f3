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
//! The modules, from the bottom up, each using only modules above it in this list (a test
//! keeps it so): [`spec`] (what a case is, and the workers' messages), [`weights`],
//! [`workloads`] (the Rust side of every case), [`worker`] (the worker processes and their
//! protocol), [`load`] (how busy the machine is), [`results`] (what a run measured),
//! [`runner`] (runs the cases on both workers) and [`report`] (the tables).
//!
//! What it does not do: it is never part of the tests' timing (the tests only check that
//! both languages compute the same thing), and it keeps no history of past runs.

pub mod load;
pub mod report;
pub mod results;
pub mod runner;
pub mod spec;
pub mod weights;
pub mod worker;
pub mod workloads;

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// The modules from the bottom up: each may use only those before it.
    const LAYERS: &[&str] = &[
        "spec",
        "weights",
        "workloads",
        "worker",
        "load",
        "results",
        "runner",
        "report",
    ];

    /// The modules a source file names through `crate::` paths (`crate::a::b`,
    /// `crate::{a, b::c}`).
    fn crate_modules(text: &str) -> Vec<String> {
        let ident = |s: &str| -> String {
            s.trim_start()
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect()
        };
        let mut found = Vec::new();
        for (at, _) in text.match_indices("crate::") {
            let rest = &text[at + "crate::".len()..];
            match rest.strip_prefix('{') {
                Some(group) => {
                    let group = &group[..group.find('}').unwrap_or(group.len())];
                    found.extend(group.split(',').map(ident));
                }
                None => found.push(ident(rest)),
            }
        }
        found.retain(|m| !m.is_empty());
        found
    }

    #[test]
    fn modules_use_only_the_ones_below_them() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files: Vec<String> = std::fs::read_dir(&src)
            .expect("src/")
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter_map(|name| name.strip_suffix(".rs").map(str::to_string))
            .filter(|name| name != "lib" && name != "main")
            .collect();
        files.sort();
        let mut layers: Vec<String> = LAYERS.iter().map(|s| s.to_string()).collect();
        layers.sort();
        assert_eq!(
            files, layers,
            "every module of src/ has its place in LAYERS"
        );
        for (i, module) in LAYERS.iter().enumerate() {
            let text = std::fs::read_to_string(src.join(format!("{module}.rs"))).expect("read");
            for used in crate_modules(&text) {
                let j = LAYERS.iter().position(|m| *m == used);
                assert!(
                    j.is_some_and(|j| j < i),
                    "`{module}` uses `crate::{used}`, which is not below it in LAYERS"
                );
            }
        }
    }

    #[test]
    fn crate_paths_are_found_in_groups_too() {
        assert_eq!(
            crate_modules("use crate::{a::X, b};\nlet x = crate::c::f();"),
            ["a", "b", "c"]
        );
    }
}
