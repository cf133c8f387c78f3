//! The results table (terminal and Markdown) and the description of the machine it ran on.

use crate::results::{checks_agree, duration, Compiled, Measured, MemoryMeasured, Results};
use crate::runner::{Options, HEAP_TUNABLES};
use std::fmt::Write as _;
use std::process::Command;

fn mib(kib: u64) -> String {
    format!("{:.0} MiB", kib as f64 / 1024.0)
}

/// The output of a shell command, trimmed (empty when it fails).
fn command_output(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

/// What the run happened on, and when.
#[derive(Debug, Clone, Default)]
pub struct Conditions {
    /// `date -u`.
    pub date: String,
    /// The CPU model and the memory.
    pub cpu: String,
    /// `nproc`.
    pub nproc: String,
    /// `uptime` when the run started.
    pub load_before: String,
    /// `uptime` when it ended.
    pub load_after: String,
    /// The command line.
    pub command: String,
}

impl Conditions {
    /// Reads the date, the CPU and the load now (the end load is filled in later).
    pub fn now(command: String) -> Self {
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split_once(':'))
                    .map(|(_, v)| v.trim().to_string())
            })
            .unwrap_or_else(|| "unknown".into());
        let memory = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|s| {
                let kib: f64 = s
                    .lines()
                    .find(|l| l.starts_with("MemTotal:"))?
                    .split_whitespace()
                    .nth(1)?
                    .parse()
                    .ok()?;
                Some(format!("{:.0} GiB", kib / 1024.0 / 1024.0))
            })
            .unwrap_or_else(|| "unknown".into());
        Conditions {
            date: command_output("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
            cpu: format!("{cpu}, {memory} of memory"),
            nproc: command_output("nproc", &[]),
            load_before: load(),
            load_after: String::new(),
            command,
        }
    }
}

/// The load averages from `uptime`.
pub fn load() -> String {
    let up = command_output("uptime", &[]);
    up.split_once("load average:")
        .map(|(_, l)| l.trim().to_string())
        .unwrap_or(up)
}

fn met(m: &Measured) -> &'static str {
    let (lo, _) = m.ratio_spread();
    if lo >= m.case.target {
        "yes"
    } else if m.ratio() >= m.case.target {
        "yes (median)"
    } else {
        "no"
    }
}

/// The compiled column's two cells: its time, and its ratio with the target's verdict (≥ 1.0).
fn compiled_cells(m: &Measured) -> (String, String) {
    match (&m.compiled, m.compiled_ratio()) {
        (_, Some((ratio, lo, hi))) => (
            duration(m.compiled_median().unwrap_or(f64::NAN)),
            format!(
                "**{ratio:.2}×** ({lo:.2}–{hi:.2}) {}",
                if lo >= 1.0 {
                    "yes"
                } else if ratio >= 1.0 {
                    "yes (median)"
                } else {
                    "no"
                }
            ),
        ),
        (Compiled::Unavailable(why), _) => ("—".into(), format!("n/a: {why}")),
        _ => ("—".into(), "not run (`--no-compile`)".into()),
    }
}

/// Rust's counted matrix-product rate and its share of the peak at the case's thread count.
fn share_cell(m: &Measured, peak: Option<f64>) -> String {
    match (m.rust_gflops(), peak) {
        (Some(rate), Some(peak)) => format!("{rate:.1} ({:.0}%)", 100.0 * rate / peak),
        (Some(rate), None) => format!("{rate:.1}"),
        (None, _) => "— (data-dependent)".into(),
    }
}

/// The timing table as Markdown rows (also printed to the terminal).
pub fn timing_table(results: &Results) -> String {
    let mut out = String::new();
    out.push_str(
        "| workload | size | threads | Rust (median) | PyTorch (median) | PyTorch compiled (median) | PyTorch / Rust (min–max) | target | met | compiled / Rust (min–max), ≥ 1.0 met | Rust GFLOP/s (share of peak) | results agree | reruns |\n\
         |---|---|---:|---:|---:|---:|---|---:|---|---|---:|---|---:|\n",
    );
    for m in &results.timings {
        let (r, p) = m.medians();
        let (lo, hi) = m.ratio_spread();
        let (compiled, compiled_ratio) = compiled_cells(m);
        let share = share_cell(m, results.peak(m.threads));
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {compiled} | **{:.2}×** ({lo:.2}–{hi:.2}) | ≥ {:.1}× | {} | {compiled_ratio} | {share} | {} | {} |",
            m.case.workload,
            m.case.size,
            m.threads,
            duration(r),
            duration(p),
            m.ratio(),
            m.case.target,
            met(m),
            if m.checks_agree() {
                "yes".to_string()
            } else {
                let compiled = match m.compiled {
                    Compiled::Timed { check, .. } => format!(" vs compiled {check:.6}"),
                    _ => String::new(),
                };
                format!("NO ({:.6} vs {:.6}{compiled})", m.checks.0, m.checks.1)
            },
            m.reruns,
        );
    }
    out
}

/// The NT-Xent peak memory table as Markdown.
pub fn memory_table(memory: &[MemoryMeasured]) -> String {
    let mut out = String::new();
    out.push_str(
        "| N (2N × 2N table) | threads | Rust peak RSS | Rust increase | PyTorch peak RSS | PyTorch increase | loss agrees |\n\
         |---|---:|---:|---:|---:|---:|---|\n",
    );
    for m in memory {
        let _ = writeln!(
            out,
            "| {} ({} × {}) | {} | {} | {} | {} | {} | {} |",
            m.n,
            2 * m.n,
            2 * m.n,
            m.threads,
            mib(m.rust.peak_kib),
            mib(m.rust.peak_kib.saturating_sub(m.rust.before_kib)),
            mib(m.python.peak_kib),
            mib(m.python.peak_kib.saturating_sub(m.python.before_kib)),
            if checks_agree(m.rust.check, m.python.check) {
                "yes"
            } else {
                "NO"
            },
        );
    }
    out
}

/// The whole `bench/results.md`.
pub fn markdown(results: &Results, conditions: &Conditions, options: &Options) -> String {
    let mut out = String::new();
    let libtorch = results
        .infos
        .first()
        .map(|i| i.libtorch.clone())
        .unwrap_or_default();
    let torch = results
        .infos
        .iter()
        .find(|i| i.language == "python")
        .map(|i| i.version.clone())
        .unwrap_or_default();
    let mut threads: Vec<i32> = results.timings.iter().map(|m| m.threads).collect();
    threads.dedup();
    let threads: Vec<String> = threads.iter().map(i32::to_string).collect();
    let heap = if options.heap_tuning {
        format!(
            "both processes run with `GLIBC_TUNABLES={HEAP_TUNABLES}` (freed heap memory stays \
             in the process; see \"Heap\" below)"
        )
    } else {
        "glibc's default heap settings for both (`--no-heap-tuning`; see \"Heap\" below)"
            .to_string()
    };
    let _ = writeln!(
        out,
        "# Benchmarks: ebm (Rust, tch) against PyTorch on the same libtorch\n\n\
         - date: {}\n\
         - machine: {}, `nproc` = {}; load average {} at the start, {} at the end\n\
         - libtorch: torch {torch}, one library for both languages (both processes map \
         `{libtorch}`)\n\
         - threads: {} (`tch::set_num_threads` / `torch.set_num_threads`, and `OMP_NUM_THREADS`, \
         `MKL_NUM_THREADS` set alike for both processes); {heap}\n\
         - command: `{}`\n\
         - method: per case, both sides load the same weights and build the same inputs from \
         the same seeds; one warm-up iteration each, whose results are compared (\"results \
         agree\": relative difference ≤ 1e-3, the compiled side's included), a second warm-up \
         block, then {} timed blocks per side of about {:.2} s, in the order Rust, PyTorch, \
         compiled PyTorch and then the reverse. A time is the median over blocks of the time \
         per iteration. A ratio is the median, over rounds of blocks run back to back, of \
         PyTorch's time over Rust's (> 1: Rust is faster), with the min–max over rounds. A \
         round during which other processes kept more than {:.1} core busy (from \
         `/proc/stat`) was run again (\"reruns\").\n\n\
         The compiled column is a third process, `torch_bench.py worker --compile`: each \
         case's repeated step (a training step's loss and the optimiser step; a descent, \
         Langevin, MALA or HMC step with its gradient by `torch.func.grad`; a DFO round; \
         NT-Xent's loss; the exhaustive forward) compiled by inductor with `dynamic=False`, \
         the same algorithm around it, random draws falling back to the eager generator so \
         that the results agree. Compilation happens in the first warm-up and is not timed. \
         Where a case has no compiled form, the column says why.\n",
        conditions.date,
        conditions.cpu,
        conditions.nproc,
        conditions.load_before,
        conditions.load_after,
        threads.join(" and "),
        conditions.command,
        options.reps,
        options.block_seconds,
        options.max_other_load,
    );
    out.push_str(
        "One iteration is: a training step (train); a whole 100-step descent from all \
         restarts (descent); a whole DFO inference of 3 rounds and the last energies (dfo); a \
         whole 100-step Langevin run (langevin); a whole MALA run of \
         20 + 80 proposals (mala) and an HMC run of 4 + 16 proposals of 5 leapfrog steps (hmc), \
         each 100 gradient evaluations, fixed step, the draws kept (ebm also computes each \
         run's ESS and split-R̂, which the PyTorch side does not); one forward and \
         backward pass (nt_xent); every class's energy and the argmin (exhaustive).\n\n",
    );
    if !results.peaks.is_empty() {
        let peaks: Vec<String> = results
            .peaks
            .iter()
            .map(|(t, p)| {
                format!(
                    "{:.1} GFLOP/s at {t} thread{}",
                    p.gflops,
                    if *t == 1 { "" } else { "s" }
                )
            })
            .collect();
        let n = results.peaks[0].1.n;
        let _ = writeln!(
            out,
            "Share of this machine: the peak is the best of seven {n} × {n} single-precision \
             products through libtorch (`mm_out` into a preallocated matrix): {}. A workload's \
             rate counts the floating-point operations of its matrix products as the algorithm \
             is written (two per multiply-add: an MLP's forward pass, its input gradient, its \
             weight gradient; elementwise work not counted) over Rust's median time.\n",
            peaks.join(", ")
        );
    }
    out.push_str(&timing_table(results));
    if !results.memory.is_empty() {
        out.push_str(
            "\nNT-Xent forward and backward, D = 128, each language in a fresh process; peak \
             RSS is `VmHWM` after the pass, the increase is over `VmRSS` just before it \
             (inputs built, libraries loaded).\n\n",
        );
        out.push_str(&memory_table(&results.memory));
    }
    out.push_str(
        "\nHeap: with default settings glibc hands freed heap memory back to the kernel, and a \
         process page-faults it back in at the next iteration. The lean Rust worker is hit \
         harder than the Python interpreter, whose own allocations tend to pin the top of its \
         heap (per iteration at one thread, Rust against Python: training at batch 1024 about \
         170 against 35 faults, NT-Xent at N = 1024 about 4,200 against 2,400, the 1024 × 8 \
         descent about 100,000 against 36,000), and at two threads the faults also contend \
         for the process's memory map. The runner therefore gives both processes the same \
         `GLIBC_TUNABLES`, which keep freed memory in the process; `--no-heap-tuning` \
         measures with glibc's defaults and writes `results-default-heap.md`.\n",
    );
    out
}
