//! How busy the machine is apart from the benchmark's own workers, from `/proc` (Linux).
//!
//! Other work on the machine (another build) steals CPU from the timed blocks; with two
//! threads on two cores, one preempted OpenMP thread stalls the whole parallel region. The
//! runner measures the CPU time everything else used during each pair of timed blocks and
//! runs a pair again when it was disturbed.

use std::time::Instant;

/// Clock ticks per second of `/proc` CPU times (`USER_HZ`, 100 on Linux).
const TICKS_PER_SECOND: f64 = 100.0;

/// Busy CPU time of the whole machine, in ticks: user, nice, system, irq, softirq and steal
/// (time a hypervisor gave to someone else) from the first line of `/proc/stat`.
pub fn machine_busy_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let fields: Vec<u64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .map(|f| f.parse().ok())
        .collect::<Option<_>>()?;
    // user nice system idle iowait irq softirq steal ...
    let pick = |i: usize| fields.get(i).copied().unwrap_or(0);
    Some(pick(0) + pick(1) + pick(2) + pick(5) + pick(6) + pick(7))
}

/// CPU time a process used, all threads (utime + stime), in ticks.
pub fn process_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces: the fields that follow start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// A window over which the CPU use of everything but some processes is measured.
#[derive(Debug)]
pub struct Meter {
    start: Instant,
    busy: u64,
    own: u64,
    pids: Vec<u32>,
}

impl Meter {
    /// Starts a window; `pids` are the processes that count as ours. `None` off Linux.
    pub fn start(pids: &[u32]) -> Option<Self> {
        Some(Meter {
            start: Instant::now(),
            busy: machine_busy_ticks()?,
            own: pids
                .iter()
                .map(|&p| process_ticks(p))
                .sum::<Option<u64>>()?,
            pids: pids.to_vec(),
        })
    }

    /// The average number of cores everything else kept busy since the start.
    pub fn others(&self) -> Option<f64> {
        let seconds = self.start.elapsed().as_secs_f64();
        let busy = machine_busy_ticks()?.saturating_sub(self.busy);
        let own = self
            .pids
            .iter()
            .map(|&p| process_ticks(p))
            .sum::<Option<u64>>()?
            .saturating_sub(self.own);
        Some(busy.saturating_sub(own) as f64 / TICKS_PER_SECOND / seconds.max(1e-3))
    }
}

/// Waits until everything else keeps fewer than `threshold` cores busy (measured over
/// one-second windows), for at most `patience` seconds. Returns the last load seen.
pub fn wait_for_quiet(threshold: f64, patience: f64) -> f64 {
    let start = Instant::now();
    loop {
        let Some(meter) = Meter::start(&[]) else {
            return 0.0;
        };
        std::thread::sleep(std::time::Duration::from_secs(1));
        let others = meter.others().unwrap_or(0.0);
        if others < threshold || start.elapsed().as_secs_f64() >= patience {
            return others;
        }
    }
}
