//! The two kinds of worker process and the line protocol between them and the runner.
//!
//! A worker reads one JSON [`Request`] per line on stdin and answers one JSON line on stdout:
//! `{"ok": true, "reply": ...}` or `{"ok": false, "error": "..."}`. The Rust worker is this
//! binary (`ebm-bench worker`), the Python worker is `bench/torch_bench.py worker`.

use crate::spec::{loaded_libtorch, Info, Peak, Request, Timing};
use crate::workloads::{self, Workload};
use anyhow::{anyhow, bail, Context, Result};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

/// The envelope of every answer.
#[derive(Debug, Serialize, Deserialize)]
struct Envelope {
    ok: bool,
    #[serde(default)]
    reply: serde_json::Value,
    #[serde(default)]
    error: String,
}

/// Serves requests on stdin until `quit` or end of input (the Rust worker's main loop).
pub fn serve(threads: i32) -> Result<()> {
    tch::set_num_threads(threads);
    let stdin = std::io::stdin();
    let mut stdout = std::io::stdout().lock();
    let mut case: Option<Box<dyn Workload>> = None;
    for line in stdin.lock().lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let request: Request =
            serde_json::from_str(&line).with_context(|| format!("bad request line `{line}`"))?;
        if matches!(request, Request::Quit) {
            break;
        }
        let envelope = match handle(&request, &mut case) {
            Ok(reply) => Envelope {
                ok: true,
                reply,
                error: String::new(),
            },
            Err(e) => Envelope {
                ok: false,
                reply: serde_json::Value::Null,
                error: format!("{e:#}"),
            },
        };
        writeln!(stdout, "{}", serde_json::to_string(&envelope)?)?;
        stdout.flush()?;
    }
    Ok(())
}

fn handle(request: &Request, case: &mut Option<Box<dyn Workload>>) -> Result<serde_json::Value> {
    Ok(match request {
        Request::Info => serde_json::to_value(Info {
            language: "rust".into(),
            libtorch: loaded_libtorch(),
            threads: i64::from(tch::get_num_threads()),
            version: "tch 0.26".into(),
        })?,
        Request::Setup { spec, dir, device } => {
            *case = None;
            *case = Some(workloads::setup(
                spec,
                Path::new(dir),
                workloads::parse_device(device)?,
            )?);
            serde_json::Value::Null
        }
        Request::Run { iters } => {
            let Some(case) = case.as_mut() else {
                bail!("`run` before `setup`")
            };
            serde_json::to_value(case.run(*iters)?)?
        }
        Request::Peak { device } => serde_json::to_value(peak(workloads::parse_device(device)?)?)?,
        Request::Quit => serde_json::Value::Null,
    })
}

/// The order of the peak's matrices: large enough for the BLAS to reach its best rate, small
/// enough for a product to take well under a second on one core.
const PEAK_ORDER: i64 = 2048;

/// The best of seven timed `n × n` single-precision products (after two untimed ones), into
/// a preallocated output: the machine's matrix-multiply peak through libtorch at the
/// worker's thread count.
fn peak(device: tch::Device) -> Result<Peak> {
    let n = PEAK_ORDER;
    let options = (tch::Kind::Float, device);
    let a = tch::Tensor::f_randn([n, n], options)?;
    let b = tch::Tensor::f_randn([n, n], options)?;
    let out = tch::Tensor::f_empty([n, n], options)?;
    let mut best = f64::INFINITY;
    for rep in 0..9 {
        let start = std::time::Instant::now();
        let _ = a.f_mm_out(&out, &b)?;
        let _ = out.f_sum(tch::Kind::Double)?.f_double_value(&[])?;
        if rep >= 2 {
            best = best.min(start.elapsed().as_secs_f64());
        }
    }
    Ok(Peak {
        n,
        gflops: 2.0 * (n as f64).powi(3) / best / 1e9,
    })
}

/// A running worker process seen from the runner.
pub struct Worker {
    name: String,
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Worker {
    /// Starts `command` with piped stdin and stdout (stderr goes to the terminal).
    pub fn spawn(name: &str, mut command: Command) -> Result<Self> {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("could not start the {name} worker: {command:?}"))?;
        let stdin = child.stdin.take().ok_or_else(|| anyhow!("no stdin"))?;
        let stdout = BufReader::new(child.stdout.take().ok_or_else(|| anyhow!("no stdout"))?);
        Ok(Worker {
            name: name.to_string(),
            child,
            stdin,
            stdout,
        })
    }

    /// Sends one request and waits for its answer.
    pub fn request<T: DeserializeOwned>(&mut self, request: &Request) -> Result<T> {
        writeln!(self.stdin, "{}", serde_json::to_string(request)?)
            .with_context(|| format!("the {} worker is gone", self.name))?;
        self.stdin.flush()?;
        let mut line = String::new();
        let n = self.stdout.read_line(&mut line)?;
        if n == 0 {
            bail!("the {} worker exited without answering", self.name);
        }
        let envelope: Envelope = serde_json::from_str(&line)
            .with_context(|| format!("bad answer from the {} worker: `{line}`", self.name))?;
        if !envelope.ok {
            bail!("the {} worker failed: {}", self.name, envelope.error);
        }
        Ok(serde_json::from_value(envelope.reply)?)
    }

    /// Its libtorch, threads and version.
    pub fn info(&mut self) -> Result<Info> {
        self.request(&Request::Info)
    }

    /// Builds a case.
    pub fn setup(&mut self, spec: &crate::spec::Spec, dir: &Path, device: &str) -> Result<()> {
        let _: serde_json::Value = self.request(&Request::Setup {
            spec: spec.clone(),
            dir: dir.to_string_lossy().into_owned(),
            device: device.to_string(),
        })?;
        Ok(())
    }

    /// Times a block of `iters` iterations.
    pub fn run(&mut self, iters: usize) -> Result<Timing> {
        self.request(&Request::Run { iters })
    }

    /// The machine's matrix-multiply peak on `device` (Rust worker only).
    pub fn peak(&mut self, device: &str) -> Result<Peak> {
        self.request(&Request::Peak {
            device: device.to_string(),
        })
    }

    /// The worker's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The worker's name (`rust` or `python`).
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = writeln!(
            self.stdin,
            "{}",
            serde_json::to_string(&Request::Quit).unwrap_or_default()
        );
        let _ = self.stdin.flush();
        let _ = self.child.wait();
    }
}
