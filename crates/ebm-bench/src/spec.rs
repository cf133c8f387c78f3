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

/// Multiply-adds per row of an MLP of these widths (input, hidden…, output).
fn macs(widths: &[i64]) -> f64 {
    widths.windows(2).map(|w| (w[0] * w[1]) as f64).sum()
}

/// `first`, then `hidden`, then `last`.
fn widths(first: i64, hidden: &[i64], last: i64) -> Vec<i64> {
    let mut w = vec![first];
    w.extend_from_slice(hidden);
    w.push(last);
    w
}

impl Spec {
    /// Floating-point operations of one iteration's matrix products (two per multiply-add),
    /// as the algorithm is written: an MLP's forward pass costs 2·rows·Σ wᵢwᵢ₊₁, its input
    /// gradient as much again, its weight gradient as much again. Elementwise work is not
    /// counted. `None` where the count depends on the data (the descent to a tolerance,
    /// whose rows leave the batch as they converge).
    pub fn matmul_flops(&self) -> Option<f64> {
        Some(match self {
            Spec::Train {
                batch,
                in_dim,
                hidden,
                classes,
                ..
            } => {
                let w = widths(*in_dim, hidden, *classes);
                let rows = *batch as f64;
                // Forward, weight gradients, and input gradients of every layer but the first.
                2.0 * rows * (3.0 * macs(&w) - (w[0] * w[1]) as f64)
            }
            Spec::Descent { tolerance, .. } if *tolerance > 0.0 => return None,
            Spec::Descent {
                batch,
                restarts,
                steps,
                hidden,
                embed,
                ..
            } => {
                // G_x and G_y have the same widths (x and y are 1-D).
                let g = macs(&widths(1, hidden, *embed));
                let rows = (batch * restarts) as f64;
                // G_x once; per step G_y's forward and input gradient; the final energies.
                2.0 * (*batch as f64) * g + 2.0 * rows * g * (2.0 * *steps as f64 + 1.0)
            }
            Spec::Dfo {
                batch,
                samples,
                iterations,
                hidden,
                embed,
                ..
            } => {
                let gy = macs(&widths(1, hidden, *embed));
                let rows = (batch * samples) as f64;
                2.0 * (*batch as f64) * gy + 2.0 * rows * gy * (*iterations as f64 + 1.0)
            }
            Spec::Langevin {
                chains,
                steps,
                hidden,
                ..
            } => 4.0 * (*chains as f64) * macs(&widths(2, hidden, 1)) * *steps as f64,
            Spec::Mala {
                chains,
                warmup,
                samples,
                hidden,
                ..
            } => {
                let evaluations = 1 + warmup + samples;
                4.0 * (*chains as f64) * macs(&widths(2, hidden, 1)) * evaluations as f64
            }
            Spec::Hmc {
                chains,
                warmup,
                samples,
                leapfrog_steps,
                hidden,
                ..
            } => {
                let evaluations = 1 + (warmup + samples) * leapfrog_steps;
                4.0 * (*chains as f64) * macs(&widths(2, hidden, 1)) * evaluations as f64
            }
            // The 2N × 2N similarity table, and its two products in the backward pass.
            Spec::NtXent { n, dim, .. } => 6.0 * ((2 * n) as f64).powi(2) * *dim as f64,
            Spec::Exhaustive {
                batch,
                in_dim,
                hidden,
                classes,
                ..
            } => 2.0 * (*batch as f64) * macs(&widths(*in_dim, hidden, *classes)),
        })
    }

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
    /// The machine's single-precision matrix-multiply rate through libtorch on `device`
    /// (Rust worker only): answers [`Peak`].
    Peak {
        /// `cpu` or `cuda`.
        device: String,
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

/// The answer to [`Request::Peak`].
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Peak {
    /// The matrices' order n (an n × n by n × n product, 2n³ operations).
    pub n: i64,
    /// The best rate over the timed products, in GFLOP/s.
    pub gflops: f64,
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
