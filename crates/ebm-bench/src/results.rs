//! What a run measured: the cases, the timed blocks and peak memory of both languages, and
//! how a time reads.
//!
//! The runner fills these in and the report renders them; this module uses neither of them,
//! so both depend on it and not the other way round.

use crate::spec::{Info, Memory, Peak, Spec};

/// Seconds as µs, ms or s with three significant digits.
pub fn duration(seconds: f64) -> String {
    if !seconds.is_finite() {
        "—".into()
    } else if seconds < 1e-3 {
        format!("{:.1} µs", seconds * 1e6)
    } else if seconds < 1.0 {
        format!("{:.2} ms", seconds * 1e3)
    } else {
        format!("{seconds:.2} s")
    }
}

/// One benchmark case: a workload at one size, with its speed target.
#[derive(Debug, Clone)]
pub struct Case {
    /// Workload name (`train`, `descent`, …).
    pub workload: &'static str,
    /// Human-readable size.
    pub size: String,
    /// The computation.
    pub spec: Spec,
    /// The Python/Rust time ratio the issue asks for.
    pub target: f64,
}

/// The third column: PyTorch with `torch.compile`.
#[derive(Debug, Clone, PartialEq)]
pub enum Compiled {
    /// Not asked for (`--no-compile`).
    Skipped,
    /// The compiled worker could not run the case: why (the compiler's error, or the reason
    /// the case has no compiled form).
    Unavailable(String),
    /// Seconds per iteration, one per block (paired with the Rust blocks), and the warm-up's
    /// check value.
    Timed {
        /// Seconds per iteration, one per block.
        times: Vec<f64>,
        /// The warm-up's check value.
        check: f64,
    },
}

/// The timings of one case at one thread count.
#[derive(Debug, Clone)]
pub struct Measured {
    /// The case.
    pub case: Case,
    /// Thread count.
    pub threads: i32,
    /// Iterations per timed block.
    pub iters: usize,
    /// Seconds per iteration, one per Rust block.
    pub rust: Vec<f64>,
    /// Seconds per iteration, one per Python block (paired with `rust`).
    pub python: Vec<f64>,
    /// PyTorch with `torch.compile`, block for block with `rust`.
    pub compiled: Compiled,
    /// The warm-up's check values (Rust, Python).
    pub checks: (f64, f64),
    /// Pairs of blocks run again because other processes disturbed them.
    pub reruns: usize,
    /// The most cores other processes kept busy during a kept pair.
    pub other_load: f64,
}

/// The median of a non-empty slice.
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

impl Measured {
    /// Median seconds per iteration (Rust, Python).
    pub fn medians(&self) -> (f64, f64) {
        (median(&self.rust), median(&self.python))
    }

    /// The median of the per-pair ratios (block i of Python over block i of Rust): paired
    /// blocks ran back to back, so a slow drift of the machine cancels out.
    pub fn ratio(&self) -> f64 {
        let ratios: Vec<f64> = self
            .rust
            .iter()
            .zip(&self.python)
            .map(|(r, p)| p / r)
            .collect();
        median(&ratios)
    }

    /// Min and max of the per-pair ratios (block i of Python over block i of Rust).
    pub fn ratio_spread(&self) -> (f64, f64) {
        self.rust
            .iter()
            .zip(&self.python)
            .map(|(r, p)| p / r)
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| {
                (lo.min(x), hi.max(x))
            })
    }

    /// Whether the warm-up results of both languages agree (relative 1e-3), the compiled
    /// one's included.
    pub fn checks_agree(&self) -> bool {
        checks_agree(self.checks.0, self.checks.1)
            && match self.compiled {
                Compiled::Timed { check, .. } => checks_agree(self.checks.0, check),
                _ => true,
            }
    }

    /// Rust's rate in GFLOP/s of counted matrix-product work ([`Spec::matmul_flops`]) at its
    /// median time.
    pub fn rust_gflops(&self) -> Option<f64> {
        Some(self.case.spec.matmul_flops()? / median(&self.rust) / 1e9)
    }

    /// The compiled worker's median seconds per iteration, when it ran.
    pub fn compiled_median(&self) -> Option<f64> {
        match &self.compiled {
            Compiled::Timed { times, .. } => Some(median(times)),
            _ => None,
        }
    }

    /// The per-block ratios of the compiled PyTorch time over Rust's.
    fn compiled_ratios(&self) -> Option<Vec<f64>> {
        match &self.compiled {
            Compiled::Timed { times, .. } => {
                Some(self.rust.iter().zip(times).map(|(r, c)| c / r).collect())
            }
            _ => None,
        }
    }

    /// The median of the per-block ratios compiled PyTorch / Rust, and their min and max.
    pub fn compiled_ratio(&self) -> Option<(f64, f64, f64)> {
        let ratios = self.compiled_ratios()?;
        let lo = ratios.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = ratios.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        Some((median(&ratios), lo, hi))
    }
}

/// Relative agreement to 1e-3 (1e-3 absolute near zero).
pub fn checks_agree(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-3 * a.abs().max(b.abs()).max(1.0)
}

/// Peak memory of NT-Xent in fresh processes, at one thread count.
#[derive(Debug, Clone)]
pub struct MemoryMeasured {
    /// Thread count.
    pub threads: i32,
    /// Items per view.
    pub n: i64,
    /// The Rust process.
    pub rust: Memory,
    /// The Python process.
    pub python: Memory,
}

/// What a whole run measured.
#[derive(Debug, Clone, Default)]
pub struct Results {
    /// Every case at every thread count.
    pub timings: Vec<Measured>,
    /// NT-Xent peak memory.
    pub memory: Vec<MemoryMeasured>,
    /// The Rust and Python workers' descriptions (from the first thread count).
    pub infos: Vec<Info>,
    /// The matrix-multiply peak at each thread count.
    pub peaks: Vec<(i32, Peak)>,
}

impl Results {
    /// The peak at `threads`, in GFLOP/s.
    pub fn peak(&self, threads: i32) -> Option<f64> {
        self.peaks
            .iter()
            .find(|(t, _)| *t == threads)
            .map(|(_, p)| p.gflops)
    }
}
