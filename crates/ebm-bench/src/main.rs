//! `ebm-bench`: the runner of `cargo xtask bench`, and its Rust worker.
//!
//! ```text
//! ebm-bench [--quick] [--reps N] [--threads 1,2] [--only NAME,...] [--device cpu]
//!           [--no-memory] [--no-heap-tuning] [--out PATH] [--python PATH]
//! ebm-bench worker --threads N          (started by the runner)
//! ebm-bench memory SPEC_JSON --threads N  (started by the runner, one fresh process)
//! ```

use anyhow::{bail, Context, Result};
use ebm_bench::report::{self, Conditions};
use ebm_bench::runner::{self, Options};
use ebm_bench::spec::Spec;
use ebm_bench::{worker, workloads};
use std::path::PathBuf;

const USAGE: &str = "usage: ebm-bench [--quick] [--reps N] [--threads 1,2] [--only train,descent,langevin,nt_xent,exhaustive]
                  [--device cpu|cuda] [--no-memory] [--no-heap-tuning] [--out PATH] [--python PATH]
  --quick      3 blocks of about 0.1 s per case and language (default: 15 blocks of 0.2 s);
               does not write bench/results.md unless --out is given
  --only       run only these workloads (does not write bench/results.md unless --out is given)
  --no-heap-tuning  run both workers with glibc's default heap settings instead of the
               GLIBC_TUNABLES that keep freed memory in the process; writes
               bench/results-default-heap.md
  --python     the Python with torch 2.13.0 (default: $EBM_PYTHON, set by cargo xtask)";

fn value<'a>(args: &'a [String], i: &mut usize, flag: &str) -> Result<&'a str> {
    *i += 1;
    args.get(*i)
        .map(String::as_str)
        .with_context(|| format!("{flag} needs a value\n{USAGE}"))
}

fn threads_flag(args: &[String]) -> Result<i32> {
    match args.iter().position(|a| a == "--threads") {
        Some(i) => Ok(args
            .get(i + 1)
            .context("--threads needs a value")?
            .parse()
            .context("--threads takes a number")?),
        None => Ok(1),
    }
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("worker") => return worker::serve(threads_flag(&args)?),
        Some("memory") => {
            tch::set_num_threads(threads_flag(&args)?);
            let spec: Spec = serde_json::from_str(args.get(1).context("memory needs a spec")?)?;
            let m = workloads::ntxent_memory(&spec, tch::Device::Cpu)?;
            println!("{}", serde_json::to_string(&m)?);
            return Ok(());
        }
        _ => {}
    }

    let mut options = Options::new(
        std::env::var_os("EBM_PYTHON")
            .map(PathBuf::from)
            .unwrap_or_default(),
    );
    let mut out: Option<PathBuf> = None;
    let mut quick = false;
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "--quick" => {
                quick = true;
                options.reps = 3;
                options.block_seconds = 0.1;
                options.retry_budget = 30.0;
            }
            "--reps" => options.reps = value(&args, &mut i, "--reps")?.parse()?,
            "--threads" => {
                options.threads = value(&args, &mut i, "--threads")?
                    .split(',')
                    .map(str::parse)
                    .collect::<Result<_, _>>()?
            }
            "--only" => {
                options.only = value(&args, &mut i, "--only")?
                    .split(',')
                    .map(str::to_string)
                    .collect()
            }
            "--device" => options.device = value(&args, &mut i, "--device")?.to_string(),
            "--no-memory" => options.skip_memory = true,
            "--no-heap-tuning" => options.heap_tuning = false,
            "--out" => out = Some(PathBuf::from(value(&args, &mut i, "--out")?)),
            "--python" => options.python = PathBuf::from(value(&args, &mut i, "--python")?),
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => bail!("unknown argument `{other}`\n{USAGE}"),
        }
        i += 1;
    }
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
    let write_to = out.or_else(|| {
        (!quick && options.only.is_empty()).then(|| {
            runner::bench_dir().join(if options.heap_tuning {
                "results.md"
            } else {
                "results-default-heap.md"
            })
        })
    });

    let command = format!("cargo xtask bench {}", args.join(" "))
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
