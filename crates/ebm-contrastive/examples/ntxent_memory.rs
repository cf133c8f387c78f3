//! NT-Xent forward and backward at N = 4096, D = 128 on CPU: wall time and peak memory.
//!
//! `cargo xtask cargo run --release -p ebm-contrastive --example ntxent_memory`
//!
//! The loss builds one [2N, 2N] similarity table (2N = 8192: 256 MiB in f32); an O(N³)
//! formulation would need a [2N, 2N, 2N] tensor of 2 TiB. The peak resident set size is read
//! from `VmHWM` in `/proc/self/status` (Linux only).

use ebm_contrastive::NtXentConfig;
use std::error::Error;
use std::time::Instant;
use tch::{Device, Kind, Tensor};

/// A field of /proc/self/status in MiB (the kernel reports kB), if readable.
fn status_mib(field: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn show(label: &str) {
    match (status_mib("VmHWM:"), status_mib("VmRSS:")) {
        (Some(peak), Some(now)) => {
            println!("{label:<28} peak RSS (VmHWM) {peak:8.1} MiB, current RSS {now:8.1} MiB")
        }
        _ => println!("{label:<28} /proc/self/status not readable"),
    }
}

fn main() -> Result<(), Box<dyn Error>> {
    let (n, d) = (4096i64, 128i64);
    tch::manual_seed(0);
    let options = (Kind::Float, Device::Cpu);
    let z1 = Tensor::randn([n, d], options).set_requires_grad(true);
    let z2 = Tensor::randn([n, d], options).set_requires_grad(true);
    let loss = NtXentConfig::default().check()?;
    let table_mib = (2 * n * 2 * n * 4) as f64 / (1024.0 * 1024.0);
    println!(
        "NT-Xent, N = {n}, D = {d}, f32, {} threads; one [2N, 2N] table = {table_mib:.0} MiB",
        tch::get_num_threads()
    );
    show("before");
    for run in 1..=3 {
        let start = Instant::now();
        let value = loss.loss(&z1, &z2)?;
        let forward = start.elapsed();
        value.backward();
        let total = start.elapsed();
        let grad_norm = f64::try_from(z1.grad().norm())?;
        println!(
            "run {run}: loss {:.6}, forward {:.3} s, forward+backward {:.3} s, |grad z1| {grad_norm:.3e}",
            f64::try_from(&value)?,
            forward.as_secs_f64(),
            total.as_secs_f64()
        );
        let _ = z1.grad().zero_();
        let _ = z2.grad().zero_();
        show(&format!("after run {run}"));
    }
    Ok(())
}
