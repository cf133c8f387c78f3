//! The runner: for each thread count, one Rust worker, one PyTorch worker and one PyTorch
//! worker with `torch.compile`; for each case, the same weights and inputs on every side, a
//! warm-up whose results must agree (the compiler's work happens in it), then timed blocks
//! that alternate between them (ABC, then CBA).

use crate::load::{self, Meter};
use crate::results::{duration, Case, Compiled, Measured, MemoryMeasured, Results};
use crate::spec::{Info, Memory, Spec};
use crate::worker::Worker;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// How a run is set up (from the command line).
#[derive(Debug, Clone)]
pub struct Options {
    /// Thread counts to run at.
    pub threads: Vec<i32>,
    /// Timed blocks per language and case.
    pub reps: usize,
    /// Wall time a timed block aims at, in seconds.
    pub block_seconds: f64,
    /// Only the workloads whose name contains one of these (all when empty).
    pub only: Vec<String>,
    /// The Python with torch.
    pub python: PathBuf,
    /// The PyTorch script.
    pub script: PathBuf,
    /// `cpu` or `cuda`.
    pub device: String,
    /// Skip the peak-memory measurement.
    pub skip_memory: bool,
    /// Time PyTorch with `torch.compile` too (the default; `--no-compile` leaves it out).
    pub compile: bool,
    /// Run both workers with [`HEAP_TUNABLES`] (the default; `--no-heap-tuning` measures
    /// with glibc's defaults).
    pub heap_tuning: bool,
    /// A pair of timed blocks during which other processes kept more cores than this busy
    /// (on average) is run again.
    pub max_other_load: f64,
    /// Seconds the whole run may spend waiting for a quiet machine and rerunning disturbed
    /// pairs; past it, pairs are kept as measured.
    pub retry_budget: f64,
}

impl Options {
    /// The full run's settings, with the given Python and the script beside the workspace
    /// (`bench/torch_bench.py`).
    pub fn new(python: PathBuf) -> Self {
        Options {
            threads: vec![1, 2],
            reps: 15,
            block_seconds: 0.2,
            only: Vec::new(),
            python,
            script: bench_dir().join("torch_bench.py"),
            device: "cpu".into(),
            skip_memory: false,
            compile: true,
            heap_tuning: true,
            max_other_load: 0.2,
            retry_budget: 180.0,
        }
    }
}

/// The repository's `bench/` folder (scripts and results).
pub fn bench_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bench")
}

/// glibc malloc settings both workers run with (unless `--no-heap-tuning`): keep freed heap memory
/// in the process instead of returning it to the kernel, and serve blocks up to 32 MiB from
/// the heap. Without them a process running libtorch may shrink its heap at the end of a
/// step and page-fault it back in at the next one (a Rust worker: about 230 faults per
/// training step at batch 1024; a Python worker: thousands per exhaustive pass over a
/// `[4096, 1000]` table, whose 16 MiB blocks are mapped afresh every time).
pub const HEAP_TUNABLES: &str =
    "glibc.malloc.trim_threshold=1073741824:glibc.malloc.mmap_threshold=33554432";

/// Every case of `cargo xtask bench`: each workload at a small size (per-op overhead
/// dominates) and a large one (compute dominates).
pub fn cases() -> Vec<Case> {
    let train = |batch| Spec::Train {
        batch,
        in_dim: 64,
        hidden: vec![128, 128],
        classes: 10,
        batches: 8,
        margin: 1.0,
        lr: 1e-3,
        seed: 1,
    };
    let descent = |batch, restarts, tolerance| Spec::Descent {
        batch,
        restarts,
        steps: 100,
        hidden: vec![64, 64],
        embed: 16,
        step_size: 0.05,
        momentum: 0.5,
        lo: -2.0,
        hi: 2.0,
        tolerance,
        seed: 2,
    };
    let langevin = |chains| Spec::Langevin {
        chains,
        steps: 100,
        hidden: vec![64, 64],
        epsilon: 1e-2,
        seed: 3,
    };
    let mala = |chains| Spec::Mala {
        chains,
        warmup: 20,
        samples: 80,
        hidden: vec![64, 64],
        step_size: 5e-3,
        seed: 6,
    };
    let hmc = |chains| Spec::Hmc {
        chains,
        warmup: 4,
        samples: 16,
        leapfrog_steps: 5,
        hidden: vec![64, 64],
        step_size: 5e-2,
        seed: 7,
    };
    vec![
        Case {
            workload: "train",
            size: "batch 32".into(),
            spec: train(32),
            target: 1.5,
        },
        Case {
            workload: "train",
            size: "batch 1024".into(),
            spec: train(1024),
            target: 1.0,
        },
        Case {
            workload: "descent",
            size: "32 × 1 restart".into(),
            spec: descent(32, 1, 0.0),
            target: 1.5,
        },
        Case {
            workload: "descent",
            size: "1024 × 8 restarts".into(),
            spec: descent(1024, 8, 0.0),
            target: 1.0,
        },
        Case {
            workload: "descent",
            size: "1024 × 8, to 1e-5".into(),
            spec: descent(1024, 8, 1e-5),
            target: 1.0,
        },
        Case {
            workload: "dfo",
            size: "1024 × 16384 samples".into(),
            spec: Spec::Dfo {
                batch: 1024,
                samples: 16_384,
                iterations: 3,
                noise: 0.33,
                shrink: 0.5,
                hidden: vec![64, 64],
                embed: 16,
                lo: -2.0,
                hi: 2.0,
                seed: 8,
            },
            target: 1.0,
        },
        Case {
            workload: "langevin",
            size: "64 chains".into(),
            spec: langevin(64),
            target: 1.5,
        },
        Case {
            workload: "langevin",
            size: "4096 chains".into(),
            spec: langevin(4096),
            target: 1.0,
        },
        Case {
            workload: "mala",
            size: "64 chains".into(),
            spec: mala(64),
            target: 1.5,
        },
        Case {
            workload: "mala",
            size: "4096 chains".into(),
            spec: mala(4096),
            target: 1.0,
        },
        Case {
            workload: "hmc",
            size: "64 chains".into(),
            spec: hmc(64),
            target: 1.5,
        },
        Case {
            workload: "hmc",
            size: "4096 chains".into(),
            spec: hmc(4096),
            target: 1.0,
        },
        Case {
            workload: "nt_xent",
            size: "N 1024, D 128".into(),
            spec: ntxent_spec(1024),
            target: 1.0,
        },
        Case {
            workload: "exhaustive",
            size: "4096 × 1000 classes".into(),
            spec: Spec::Exhaustive {
                batch: 4096,
                in_dim: 64,
                hidden: vec![256],
                classes: 1000,
                seed: 5,
            },
            target: 1.0,
        },
    ]
}

/// NT-Xent on two views `[n, 128]`, τ = 0.5.
pub fn ntxent_spec(n: i64) -> Spec {
    Spec::NtXent {
        n,
        dim: 128,
        temperature: 0.5,
        seed: 4,
    }
}

/// The environment both languages' processes get: thread counts and heap settings.
fn worker_env(command: &mut Command, options: &Options, threads: i32) {
    for var in ["OMP_NUM_THREADS", "MKL_NUM_THREADS"] {
        command.env(var, threads.to_string());
    }
    if options.heap_tuning {
        command.env("GLIBC_TUNABLES", HEAP_TUNABLES);
    } else {
        command.env_remove("GLIBC_TUNABLES");
    }
}

fn rust_command(options: &Options, threads: i32, args: &[&str]) -> Result<Command> {
    let exe = std::env::current_exe().context("cannot find the ebm-bench binary")?;
    let mut command = Command::new(exe);
    command.args(args).args(["--threads", &threads.to_string()]);
    worker_env(&mut command, options, threads);
    Ok(command)
}

fn python_command(options: &Options, threads: i32, args: &[&str]) -> Command {
    let mut command = Command::new(&options.python);
    command
        .arg(&options.script)
        .args(args)
        .args(["--threads", &threads.to_string()]);
    worker_env(&mut command, options, threads);
    // Python must not pick up another torch from the user's site-packages.
    command.env("PYTHONNOUSERSITE", "1");
    command
}

/// Starts one Rust worker (this binary) and one Python worker at `threads` threads.
pub fn start_workers(options: &Options, threads: i32) -> Result<(Worker, Worker)> {
    let rust = Worker::spawn("rust", rust_command(options, threads, &["worker"])?)?;
    Ok((rust, python_worker(options, threads)?))
}

/// Starts a Python worker (`bench/torch_bench.py worker`) at `threads` threads.
pub fn python_worker(options: &Options, threads: i32) -> Result<Worker> {
    Worker::spawn("python", python_command(options, threads, &["worker"]))
}

/// Starts a Python worker that compiles each case's step (`torch_bench.py worker --compile`).
pub fn compiled_worker(options: &Options, threads: i32) -> Result<Worker> {
    Worker::spawn(
        "python-compiled",
        python_command(options, threads, &["worker", "--compile"]),
    )
}

/// Checks both workers run on the same libtorch with the thread count asked for.
pub fn check_same_libtorch(rust: &Info, python: &Info, threads: i32) -> Result<()> {
    if rust.libtorch != python.libtorch {
        bail!(
            "the two languages do not use the same libtorch: rust maps {}, python maps {}",
            rust.libtorch,
            python.libtorch
        );
    }
    for info in [rust, python] {
        if info.threads != i64::from(threads) {
            bail!(
                "the {} worker runs {} threads, {threads} were asked for",
                info.language,
                info.threads
            );
        }
    }
    Ok(())
}

/// Time spent waiting for a quiet machine and rerunning disturbed pairs, against a limit.
#[derive(Debug)]
pub struct RetryBudget {
    spent: std::time::Duration,
    limit: std::time::Duration,
}

impl RetryBudget {
    /// A budget of `seconds`.
    pub fn new(seconds: f64) -> Self {
        RetryBudget {
            spent: std::time::Duration::ZERO,
            limit: std::time::Duration::from_secs_f64(seconds.max(0.0)),
        }
    }

    fn left(&self) -> f64 {
        self.limit.saturating_sub(self.spent).as_secs_f64()
    }
}

/// Sets a case up on every worker, warms up, checks the results agree, picks the block size,
/// and times `reps` alternating blocks per side. A round of blocks that other processes
/// disturbed is run again while the retry budget lasts. The compiled worker is optional:
/// where it cannot set a case up or compile it, its column says why and the others go on.
#[allow(clippy::too_many_arguments)]
pub fn measure(
    rust: &mut Worker,
    python: &mut Worker,
    mut compiled: Option<&mut Worker>,
    case: &Case,
    threads: i32,
    options: &Options,
    dir: &Path,
    budget: &mut RetryBudget,
) -> Result<Measured> {
    std::fs::create_dir_all(dir)?;
    rust.setup(&case.spec, dir, &options.device)?;
    python.setup(&case.spec, dir, &options.device)?;
    let mut unavailable = None;
    if let Some(c) = compiled.as_deref_mut() {
        if let Err(e) = c.setup(&case.spec, dir, &options.device) {
            unavailable = Some(reason(&e));
        }
    }
    // The first iteration of each side runs from the same state: its results must agree.
    let r0 = rust.run(1)?;
    let p0 = python.run(1)?;
    // The compiled side compiles here (untimed).
    let mut c0 = None;
    if let (Some(c), None) = (compiled.as_deref_mut(), &unavailable) {
        match c.run(1) {
            Ok(t) => c0 = Some(t),
            Err(e) => unavailable = Some(reason(&e)),
        }
    }
    let mut compiled = compiled.filter(|_| unavailable.is_none());
    // A short second warm-up, then blocks sized for the slowest side.
    let per_iter = r0.seconds.max(p0.seconds).max(1e-6);
    let warm = ((0.5 * options.block_seconds / per_iter).ceil() as usize).clamp(1, 100_000);
    let r1 = rust.run(warm)?;
    let p1 = python.run(warm)?;
    let mut slowest = r1.seconds.max(p1.seconds);
    if let Some(c) = compiled.as_deref_mut() {
        slowest = slowest.max(c.run(warm)?.seconds);
    }
    let per_iter = (slowest / warm as f64).max(1e-7);
    let iters = ((options.block_seconds / per_iter).round() as usize).clamp(1, 1_000_000);
    let mut pids = vec![rust.pid(), python.pid()];
    pids.extend(compiled.as_deref().map(Worker::pid));
    let reps = case
        .spec
        .max_reps()
        .map_or(options.reps, |most| most.min(options.reps));
    let mut rust_times = Vec::with_capacity(reps);
    let mut python_times = Vec::with_capacity(reps);
    let mut compiled_times = Vec::with_capacity(reps);
    let (mut reruns, mut other_load) = (0, 0.0f64);
    let mut pair = 0;
    while rust_times.len() < reps {
        let meter = Meter::start(&pids);
        let started = std::time::Instant::now();
        // ABC then CBA: the order flips every round so no side always goes first.
        let (r, p, c) = if pair % 2 == 0 {
            let r = rust.run(iters)?;
            let p = python.run(iters)?;
            let c = compiled.as_deref_mut().map(|w| w.run(iters)).transpose()?;
            (r, p, c)
        } else {
            let c = compiled.as_deref_mut().map(|w| w.run(iters)).transpose()?;
            let p = python.run(iters)?;
            (rust.run(iters)?, p, c)
        };
        pair += 1;
        let others = meter.and_then(|m| m.others()).unwrap_or(0.0);
        if others > options.max_other_load && budget.left() > 0.0 {
            reruns += 1;
            load::wait_for_quiet(options.max_other_load, budget.left().min(20.0));
            budget.spent += started.elapsed();
            continue;
        }
        other_load = other_load.max(others);
        rust_times.push(r.seconds / iters as f64);
        python_times.push(p.seconds / iters as f64);
        if let Some(c) = c {
            compiled_times.push(c.seconds / iters as f64);
        }
    }
    let compiled = match (unavailable, c0) {
        (Some(why), _) => Compiled::Unavailable(why),
        (None, Some(c0)) => Compiled::Timed {
            times: compiled_times,
            check: c0.check,
        },
        (None, None) => Compiled::Skipped,
    };
    Ok(Measured {
        case: case.clone(),
        threads,
        iters,
        rust: rust_times,
        python: python_times,
        compiled,
        checks: (r0.check, p0.check),
        reruns,
        other_load,
    })
}

/// A compiled worker's error as the table shows it: the worker's own message, first line.
fn reason(e: &anyhow::Error) -> String {
    let text = format!("{e:#}");
    let text = text
        .split_once("worker failed: ")
        .map_or(text.as_str(), |(_, why)| why);
    let text = text.strip_prefix("not applicable: ").unwrap_or(text);
    text.lines().next().unwrap_or_default().trim().to_string()
}

/// NT-Xent peak memory at `n`, each language in a fresh process.
pub fn measure_memory(options: &Options, threads: i32, n: i64) -> Result<MemoryMeasured> {
    let spec = serde_json::to_string(&ntxent_spec(n))?;
    let run = |mut command: Command, name: &str| -> Result<Memory> {
        let out = command
            .output()
            .with_context(|| format!("could not start the {name} memory run"))?;
        if !out.status.success() {
            bail!(
                "the {name} memory run failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let line = text.lines().last().unwrap_or_default();
        serde_json::from_str(line)
            .with_context(|| format!("bad output from the {name} memory run: `{text}`"))
    };
    let rust = run(rust_command(options, threads, &["memory", &spec])?, "rust")?;
    let python = run(
        python_command(options, threads, &["memory", &spec]),
        "python",
    )?;
    Ok(MemoryMeasured {
        threads,
        n,
        rust,
        python,
    })
}

/// Runs every selected case at every thread count, printing progress to stderr.
pub fn run_all(options: &Options) -> Result<Results> {
    let dir = std::env::temp_dir().join(format!("ebm-bench-{}", std::process::id()));
    let selected: Vec<Case> = cases()
        .into_iter()
        .filter(|c| {
            options.only.is_empty() || options.only.iter().any(|o| c.workload.contains(o.as_str()))
        })
        .collect();
    let mut results = Results::default();
    let mut budget = RetryBudget::new(options.retry_budget);
    for &threads in &options.threads {
        let (mut rust, mut python) = start_workers(options, threads)?;
        let (ri, pi) = (rust.info()?, python.info()?);
        check_same_libtorch(&ri, &pi, threads)?;
        let mut compiled = match options.compile {
            true => {
                let mut worker = compiled_worker(options, threads)?;
                check_same_libtorch(&ri, &worker.info()?, threads)?;
                Some(worker)
            }
            false => None,
        };
        if results.infos.is_empty() {
            results.infos = vec![ri, pi];
        }
        let peak = rust.peak(&options.device)?;
        eprintln!(
            "peak       {n} × {n} sgemm       {threads} thr  {:.1} GFLOP/s",
            peak.gflops,
            n = peak.n
        );
        results.peaks.push((threads, peak));
        for (i, case) in selected.iter().enumerate() {
            let wait = std::time::Instant::now();
            load::wait_for_quiet(options.max_other_load, budget.left().min(30.0));
            budget.spent += wait.elapsed();
            let m = measure(
                &mut rust,
                &mut python,
                compiled.as_mut(),
                case,
                threads,
                options,
                &dir.join(format!("{threads}-{i}")),
                &mut budget,
            )?;
            let (r, p) = m.medians();
            let (lo, hi) = m.ratio_spread();
            let compiled_line = match (&m.compiled, m.compiled_ratio()) {
                (_, Some((ratio, clo, chi))) => format!(
                    "  compiled {:>10}  compiled/rust {ratio:.2} ({clo:.2}–{chi:.2})",
                    duration(m.compiled_median().unwrap_or(f64::NAN))
                ),
                (Compiled::Unavailable(why), None) => format!("  compiled: {why}"),
                _ => String::new(),
            };
            eprintln!(
                "{:<10} {:<20} {threads} thr  rust {:>10}  python {:>10}  python/rust {:.2} ({lo:.2}–{hi:.2}){compiled_line}  reruns {}{}",
                case.workload,
                case.size,
                duration(r),
                duration(p),
                m.ratio(),
                m.reruns,
                if m.checks_agree() { "" } else { "  CHECKS DIFFER" },
            );
            results.timings.push(m);
        }
        drop((rust, python, compiled));
        if !options.skip_memory
            && (options.only.is_empty()
                || options.only.iter().any(|o| "nt_xent".contains(o.as_str())))
        {
            let m = measure_memory(options, threads, 4096)?;
            eprintln!(
                "nt_xent    peak memory N 4096      {threads} thr  rust {} MiB (+{})  python {} MiB (+{})",
                m.rust.peak_kib / 1024,
                m.rust.peak_kib.saturating_sub(m.rust.before_kib) / 1024,
                m.python.peak_kib / 1024,
                m.python.peak_kib.saturating_sub(m.python.before_kib) / 1024,
            );
            results.memory.push(m);
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(results)
}
