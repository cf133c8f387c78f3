//! `ebm-bench`: the runner of `cargo xtask bench`, and its Rust worker.
//!
//! ```text
//! ebm-bench [--quick] [--reps N] [--threads 1,2] [--only NAME,...] [--device cpu]
//!           [--no-memory] [--no-compile] [--no-heap-tuning] [--out PATH] [--python PATH]
//! ebm-bench worker --threads N            (started by the runner)
//! ebm-bench memory SPEC_JSON --threads N  (started by the runner, one fresh process)
//! ```
//!
//! `ebm-bench --help` describes every flag.

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use ebm_bench::report::{self, Conditions};
use ebm_bench::runner::{self, Options};
use ebm_bench::spec::Spec;
use ebm_bench::{worker, workloads};
use std::path::PathBuf;

/// Rust against PyTorch on the same libtorch: times ebm's inner loops and the same
/// computations in `bench/torch_bench.py`, and prints (and writes) the results table.
///
/// Run it through `cargo xtask bench [FLAGS]`, which builds it in release mode, sets up
/// libtorch and sets `EBM_PYTHON`.
#[derive(Debug, Parser)]
#[command(
    name = "ebm-bench",
    args_conflicts_with_subcommands = true,
    args_override_self = true
)]
struct Cli {
    /// A worker process (the runner starts these itself).
    #[command(subcommand)]
    process: Option<Process>,
    /// The flags of a benchmark run.
    #[command(flatten)]
    run: RunArgs,
}

/// The processes the runner starts from this same binary.
#[derive(Debug, Subcommand)]
enum Process {
    /// The Rust worker: serves JSON requests on stdin (started by the runner).
    Worker {
        /// libtorch threads.
        #[arg(long, value_name = "N", default_value_t = 1)]
        threads: i32,
    },
    /// The peak memory of one NT-Xent pass in this fresh process, printed as JSON (started
    /// by the runner).
    Memory {
        /// The NT-Xent case as JSON.
        #[arg(value_name = "SPEC_JSON")]
        spec: String,
        /// libtorch threads.
        #[arg(long, value_name = "N", default_value_t = 1)]
        threads: i32,
    },
}

/// The flags of a benchmark run (every one is optional).
#[derive(Debug, Args)]
struct RunArgs {
    /// A smoke run: 3 blocks of about 0.1 s per case and language and a 30 s retry budget
    /// (default: 15 blocks of 0.2 s, 180 s); does not write bench/results.md unless --out is
    /// given.
    #[arg(long)]
    quick: bool,
    /// Timed blocks per case and language [default: 15, or 3 with --quick].
    #[arg(long, value_name = "N", value_parser = at_least_one::<usize>)]
    reps: Option<usize>,
    /// The thread counts to run at, comma-separated: one Rust and one Python worker per
    /// count [default: 1,2].
    #[arg(
        long,
        value_name = "N,...",
        value_delimiter = ',',
        action = clap::ArgAction::Set,
        value_parser = at_least_one::<i32>
    )]
    threads: Option<Vec<i32>>,
    /// Run only the workloads whose name contains one of these, comma-separated (train,
    /// descent, langevin, mala, hmc, nt_xent, exhaustive); does not write bench/results.md
    /// unless --out is given.
    #[arg(
        long,
        value_name = "NAME,...",
        value_delimiter = ',',
        action = clap::ArgAction::Set
    )]
    only: Vec<String>,
    /// Where both sides run: cpu, cuda or cuda:N [default: cpu].
    #[arg(long, value_name = "DEVICE")]
    device: Option<String>,
    /// Skip the NT-Xent peak-memory measurement (fresh processes at N = 4096).
    #[arg(long)]
    no_memory: bool,
    /// Leave out the third column, PyTorch with torch.compile (its compilation adds about
    /// 20 s per case and thread count).
    #[arg(long)]
    no_compile: bool,
    /// Run both workers with glibc's default heap settings instead of the GLIBC_TUNABLES that
    /// keep freed memory in the process; writes bench/results-default-heap.md.
    #[arg(long)]
    no_heap_tuning: bool,
    /// Write the Markdown table here [default: bench/results.md, or
    /// bench/results-default-heap.md with --no-heap-tuning; none with --quick or --only].
    #[arg(long, value_name = "PATH")]
    out: Option<PathBuf>,
    /// The Python with torch 2.13.0 [default: $EBM_PYTHON, which cargo xtask sets].
    #[arg(long, value_name = "PATH")]
    python: Option<PathBuf>,
}

/// A whole number ≥ 1 (a count of blocks or threads).
fn at_least_one<T>(text: &str) -> Result<T, String>
where
    T: std::str::FromStr + PartialOrd + From<u8>,
    T::Err: std::fmt::Display,
{
    let value: T = text.parse().map_err(|e| format!("{e}"))?;
    if value < T::from(1) {
        return Err("must be at least 1".into());
    }
    Ok(value)
}

impl RunArgs {
    /// The runner's settings: [`Options::new`]'s, changed by the flags. An explicit `--reps`
    /// wins over `--quick`'s, wherever it stands on the command line.
    fn options(&self, env_python: Option<PathBuf>) -> Options {
        let python = self.python.clone().or(env_python).unwrap_or_default();
        let mut options = Options::new(python);
        if self.quick {
            options.reps = 3;
            options.block_seconds = 0.1;
            options.retry_budget = 30.0;
        }
        if let Some(reps) = self.reps {
            options.reps = reps;
        }
        if let Some(threads) = &self.threads {
            options.threads = threads.clone();
        }
        options.only = self.only.clone();
        if let Some(device) = &self.device {
            options.device = device.clone();
        }
        options.skip_memory = self.no_memory;
        options.compile = !self.no_compile;
        options.heap_tuning = !self.no_heap_tuning;
        options
    }

    /// Where the table is written: `--out`, else `bench/results.md` (or
    /// `results-default-heap.md`) for a full run, else nowhere.
    fn write_to(&self) -> Option<PathBuf> {
        self.out.clone().or_else(|| {
            (!self.quick && self.only.is_empty()).then(|| {
                runner::bench_dir().join(if self.no_heap_tuning {
                    "results-default-heap.md"
                } else {
                    "results.md"
                })
            })
        })
    }
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.process {
        Some(Process::Worker { threads }) => return worker::serve(threads),
        Some(Process::Memory { spec, threads }) => {
            tch::set_num_threads(threads);
            let spec: Spec = serde_json::from_str(&spec).context("memory needs a JSON spec")?;
            let m = workloads::ntxent_memory(&spec, tch::Device::Cpu)?;
            println!("{}", serde_json::to_string(&m)?);
            return Ok(());
        }
        None => {}
    }

    let args = cli.run;
    let options = args.options(std::env::var_os("EBM_PYTHON").map(PathBuf::from));
    if options.reps == 0 || options.threads.is_empty() {
        bail!("--reps and --threads need at least one value");
    }
    if options.python.as_os_str().is_empty() {
        bail!(
            "no Python with torch: run through `cargo xtask bench` (which sets EBM_PYTHON), \
             or pass --python PATH"
        );
    }
    workloads::parse_device(&options.device)?;
    let write_to = args.write_to();

    let given: Vec<String> = std::env::args().skip(1).collect();
    let command = format!("cargo xtask bench {}", given.join(" "))
        .trim_end()
        .to_string();
    let mut conditions = Conditions::now(command);
    eprintln!(
        "ebm-bench: {} cores, load {}; {} blocks per case and language",
        conditions.nproc, conditions.load_before, options.reps
    );
    let results = runner::run_all(&options)?;
    conditions.load_after = report::load();
    let markdown = report::markdown(&results, &conditions, &options);
    println!("\n{markdown}");
    if let Some(path) = write_to {
        std::fs::write(&path, &markdown).with_context(|| format!("writing {}", path.display()))?;
        eprintln!("ebm-bench: wrote {}", path.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("ebm-bench").chain(args.iter().copied()))
            .unwrap_or_else(|e| panic!("{args:?}: {e}"))
    }

    fn options(args: &[&str]) -> Options {
        parse(args).run.options(Some(PathBuf::from("/env/python")))
    }

    #[test]
    fn the_clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn no_flags_give_the_full_run() {
        let o = options(&[]);
        let full = Options::new(PathBuf::from("/env/python"));
        assert_eq!(
            (o.reps, o.threads.clone(), o.block_seconds, o.retry_budget),
            (
                full.reps,
                full.threads,
                full.block_seconds,
                full.retry_budget
            )
        );
        assert_eq!(o.python, PathBuf::from("/env/python"));
        assert_eq!(o.device, "cpu");
        assert!(o.only.is_empty() && !o.skip_memory && o.heap_tuning && o.compile);
        let to = parse(&[])
            .run
            .write_to()
            .expect("a full run writes its table");
        assert!(to.ends_with("bench/results.md"), "{}", to.display());
    }

    #[test]
    fn every_flag_keeps_its_meaning() {
        let o = options(&[
            "--reps",
            "4",
            "--threads",
            "2,1",
            "--only",
            "train,nt_xent",
            "--device",
            "cuda:1",
            "--no-memory",
            "--no-compile",
            "--no-heap-tuning",
            "--python",
            "/my/python",
        ]);
        assert_eq!(o.reps, 4);
        assert_eq!(o.threads, vec![2, 1]);
        assert_eq!(o.only, vec!["train".to_string(), "nt_xent".to_string()]);
        assert_eq!(o.device, "cuda:1");
        assert!(o.skip_memory && !o.heap_tuning && !o.compile);
        assert_eq!(o.python, PathBuf::from("/my/python"));

        let quick = options(&["--quick"]);
        assert_eq!(
            (quick.reps, quick.block_seconds, quick.retry_budget),
            (3, 0.1, 30.0)
        );
        assert_eq!(options(&["--reps", "5", "--quick"]).reps, 5);
        assert_eq!(options(&["--quick", "--reps", "5"]).reps, 5);
        // A repeated flag: the last one counts, as it did with the hand-written parser.
        assert_eq!(
            options(&["--threads", "1,2", "--threads", "2"]).threads,
            vec![2]
        );
        assert_eq!(options(&["--reps", "2", "--reps", "7"]).reps, 7);
    }

    #[test]
    fn where_the_table_goes() {
        assert_eq!(parse(&["--quick"]).run.write_to(), None);
        assert_eq!(parse(&["--only", "train"]).run.write_to(), None);
        assert_eq!(
            parse(&["--quick", "--out", "/tmp/x.md"]).run.write_to(),
            Some(PathBuf::from("/tmp/x.md"))
        );
        let to = parse(&["--no-heap-tuning"])
            .run
            .write_to()
            .expect("written");
        assert!(to.ends_with("bench/results-default-heap.md"));
    }

    #[test]
    fn bad_values_are_errors() {
        for args in [
            &["--reps", "0"][..],
            &["--reps"],
            &["--threads", "0"],
            &["--threads", "a"],
            &["--threads", ""],
            &["--frobnicate"],
            &["--quick", "worker"],
        ] {
            let parsed =
                Cli::try_parse_from(std::iter::once("ebm-bench").chain(args.iter().copied()));
            assert!(parsed.is_err(), "{args:?} should not parse");
        }
    }

    #[test]
    fn the_worker_processes_parse_as_the_runner_starts_them() {
        match parse(&["worker", "--threads", "2"]).process {
            Some(Process::Worker { threads: 2 }) => {}
            other => panic!("{other:?}"),
        }
        match parse(&["worker"]).process {
            Some(Process::Worker { threads: 1 }) => {}
            other => panic!("{other:?}"),
        }
        let spec = r#"{"kind":"nt_xent","n":4,"dim":2,"temperature":0.5,"seed":1}"#;
        match parse(&["memory", spec, "--threads", "2"]).process {
            Some(Process::Memory {
                spec: s,
                threads: 2,
            }) => assert_eq!(s, spec),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn help_names_every_flag() {
        let help = Cli::command().render_long_help().to_string();
        for flag in [
            "--quick",
            "--reps",
            "--threads",
            "--only",
            "--device",
            "--no-memory",
            "--no-heap-tuning",
            "--out",
            "--python",
            "--help",
            "worker",
            "memory",
        ] {
            assert!(
                help.contains(flag),
                "--help does not mention {flag}:\n{help}"
            );
        }
    }
}
