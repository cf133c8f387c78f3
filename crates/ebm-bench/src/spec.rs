//! What a benchmark case is, and the messages the runner exchanges with its two workers.
//!
//! A [`Spec`] is sent as JSON to the Rust worker and to the Python worker
//! (`bench/torch_bench.py`); both build the same computation from it. Layer widths are not in
//! the spec: the Python side reads them from the shapes of the weights the Rust side wrote.

use serde::{Deserialize, Serialize};

/// One benchmark computation, with every size, step count, hyperparameter and seed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Spec {
    /// Training steps of a multi-class energy MLP `in_dim → hidden → classes`: hinge loss
    /// with the most offending (lowest-energy wrong) class, Adam. One iteration is one step;
    /// steps cycle over `batches` fixed batches.
    Train {
        /// Rows per step.
        batch: i64,
        /// Input width.
        in_dim: i64,
        /// Hidden widths.
        hidden: Vec<i64>,
        /// Number of classes.
        classes: i64,
        /// Distinct batches the steps cycle over.
        batches: i64,
        /// Hinge margin.
        margin: f64,
        /// Adam learning rate.
        lr: f64,
        /// Seed of the weights (the data uses `seed + 1`).
        seed: i64,
    },
    /// Gradient-descent inference of an implicit regression E = ½‖G_x(x) − G_y(y)‖² on the
    /// box [lo, hi]: plain heavy-ball descent (no backtracking; with a `tolerance`, converged
    /// rows leave the batch). One iteration is one whole inference from `batch × restarts`
    /// random starts.
    Descent {
        /// Rows of x.
        batch: i64,
        /// Random starts per x.
        restarts: i64,
        /// Descent steps.
        steps: i64,
        /// Hidden widths of G_x and G_y.
        hidden: Vec<i64>,
        /// Embedding width.
        embed: i64,
        /// Step size.
        step_size: f64,
        /// Heavy-ball momentum.
        momentum: f64,
        /// Box bounds of y.
        lo: f64,
        /// Box bounds of y.
        hi: f64,
        /// Stop tolerance (0: every step; > 0: converged rows leave the batch, checked every
        /// 10th step).
        #[serde(default)]
        tolerance: f64,
        /// Seed of the weights (x uses `seed + 1`, the starts `seed + 2`).
        seed: i64,
    },
    /// Derivative-free inference (ebm-core's `Dfo`, IBC's iterative DFO) of the implicit
    /// regression of the descent case: `samples` uniform draws in the box per x, then
    /// `iterations` rounds of resampling by softmax(−E), Gaussian noise (σ from `noise`,
    /// times `shrink` per round) and clamping, in chunks of 2^16 samples. One iteration is one
    /// whole inference for `batch` rows.
    Dfo {
        /// Rows of x.
        batch: i64,
        /// Samples per x.
        samples: i64,
        /// Resampling rounds.
        iterations: i64,
        /// σ of the first round.
        noise: f64,
        /// σ's factor per round.
        shrink: f64,
        /// Hidden widths of G_x and G_y.
        hidden: Vec<i64>,
        /// Embedding width.
        embed: i64,
        /// Box bounds of y.
        lo: f64,
        /// Box bounds of y.
        hi: f64,
        /// Seed of the weights (x uses `seed + 1`, the draws `seed + 2`).
        seed: i64,
    },
    /// Langevin sampling of an unconditional energy MLP `2 → hidden → 1` (unadjusted
    /// Langevin, y ← y − (ε/2)·∇E + √ε·ξ). One iteration is one run of `steps` steps.
    Langevin {
        /// Number of chains.
        chains: i64,
        /// Langevin steps.
        steps: i64,
        /// Hidden widths.
        hidden: Vec<i64>,
        /// Step size ε (β = 1).
        epsilon: f64,
        /// Seed of the weights (starts and noise use `seed + 2`).
        seed: i64,
    },
    /// Metropolis-adjusted Langevin (ebm-core's `Mala`, fixed step: no adaptation) on the
    /// energy MLP `2 → hidden → 1` of the Langevin case, from N(0, I) starts: `warmup`
    /// proposals, then `samples` kept draws (every proposal kept). One iteration is one run.
    Mala {
        /// Number of chains.
        chains: i64,
        /// Proposals before the kept ones.
        warmup: i64,
        /// Kept draws per chain (≥ 4).
        samples: i64,
        /// Hidden widths.
        hidden: Vec<i64>,
        /// Step size h (y' = y − h∇E + √(2h)ξ).
        step_size: f64,
        /// Seed of the weights (starts and draws use `seed + 2`).
        seed: i64,
    },
    /// Hamiltonian Monte Carlo (ebm-core's `Hmc`: identity mass, a fixed number of leapfrog
    /// steps, fixed step size) on the same energy, from N(0, I) starts. One iteration is one
    /// run of `warmup + samples` proposals.
    Hmc {
        /// Number of chains.
        chains: i64,
        /// Proposals before the kept ones.
        warmup: i64,
        /// Kept draws per chain (≥ 4).
        samples: i64,
        /// Leapfrog steps per proposal.
        leapfrog_steps: i64,
        /// Hidden widths.
        hidden: Vec<i64>,
        /// Leapfrog step size h.
        step_size: f64,
        /// Seed of the weights (starts and draws use `seed + 2`).
        seed: i64,
    },
    /// NT-Xent forward and backward (gradients with respect to both views) on two views
    /// `[n, dim]`. One iteration is one forward and backward pass.
    NtXent {
        /// Items per view (the table is `[2n, 2n]`).
        n: i64,
        /// Embedding width.
        dim: i64,
        /// Temperature τ.
        temperature: f64,
        /// Seed of the views.
        seed: i64,
    },
    /// Exhaustive inference over `classes` classes of a multi-class energy MLP
    /// `in_dim → hidden → classes`: every class's energy and the argmin, for `batch` rows.
    Exhaustive {
        /// Rows of x.
        batch: i64,
        /// Input width.
        in_dim: i64,
        /// Hidden widths.
        hidden: Vec<i64>,
        /// Number of classes.
        classes: i64,
        /// Seed of the weights (x uses `seed + 1`).
        seed: i64,
    },
}

impl Spec {
    /// The most timed block pairs worth running for this case: a whole DFO inference takes
    /// seconds, so three pairs (their median) instead of the run's default.
    pub fn max_reps(&self) -> Option<usize> {
        match self {
            Spec::Dfo { .. } => Some(3),
            _ => None,
        }
    }
}

/// A request to a worker: one JSON object per line on its standard input.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case")]
pub enum Request {
    /// Report the worker's libtorch, thread count and versions.
    Info,
    /// Build the computation of `spec` (the Rust worker writes the weights into `dir`, the
    /// Python worker reads them from there) on `device`.
    Setup {
        /// The case.
        spec: Spec,
        /// Folder of the weights.
        dir: String,
        /// `cpu` or `cuda`.
        device: String,
    },
    /// Run `iters` iterations of the current case and time them.
    Run {
        /// Iterations in the timed block.
        iters: usize,
    },
    /// Exit.
    Quit,
}

/// A worker's answer to [`Request::Info`].
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Info {
    /// `rust` or `python`.
    pub language: String,
    /// The libtorch_cpu library the process has loaded (from `/proc/self/maps`).
    pub libtorch: String,
    /// libtorch's intra-op thread count.
    pub threads: i64,
    /// `torch.__version__` on the Python side; the tch version on the Rust side.
    pub version: String,
}

/// A worker's answer to [`Request::Run`].
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Timing {
    /// Wall time of the whole block, in seconds (read back included, so a GPU run is synced).
    pub seconds: f64,
    /// A number from the last iteration that both languages must agree on (a loss, a sum of
    /// energies or samples).
    pub check: f64,
}

/// The libtorch_cpu library mapped into this process, from `/proc/self/maps` (Linux).
pub fn loaded_libtorch() -> String {
    std::fs::read_to_string("/proc/self/maps")
        .ok()
        .and_then(|maps| {
            maps.lines()
                .filter_map(|l| l.split_whitespace().nth(5))
                .find(|p| p.contains("libtorch_cpu"))
                .map(str::to_string)
        })
        .unwrap_or_else(|| "unknown".into())
}

/// Peak and current resident set size of this process in KiB (`VmHWM`, `VmRSS` of
/// `/proc/self/status`), when readable.
pub fn memory_kib() -> Option<(u64, u64)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let field = |name: &str| -> Option<u64> {
        status
            .lines()
            .find(|l| l.starts_with(name))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    };
    Some((field("VmHWM:")?, field("VmRSS:")?))
}

/// What a fresh process measured for one forward and backward pass (peak memory).
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Memory {
    /// Resident set size just before the pass, KiB (the process with its inputs built).
    pub before_kib: u64,
    /// Peak resident set size of the whole process after the pass (`VmHWM`), KiB.
    pub peak_kib: u64,
    /// The loss value, to compare between languages.
    pub check: f64,
}
