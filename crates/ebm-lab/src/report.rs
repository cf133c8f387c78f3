//! The report of a run: the folder it is written to (built under a temporary name and renamed
//! into place only when complete), `metrics.json`, `history.csv`, and the UTC timestamp that
//! names the folder.

use ebm_arch::History;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// What `metrics.json` holds. It depends only on the config and the seed (no time, no path),
/// so that a rerun on the CPU with one thread gives an identical file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// The config's name.
    pub name: String,
    /// The model kind (`binary`, `siamese`, …).
    pub model: String,
    /// The loss kind.
    pub loss: String,
    /// The data kind.
    pub data: String,
    /// The seed.
    pub seed: u64,
    /// Rows trained on.
    pub n_train: i64,
    /// Rows held out.
    pub n_test: i64,
    /// Epochs trained.
    pub epochs: usize,
    /// The last epoch's mean training loss.
    pub final_loss: f64,
    /// The last epoch's energy gap (E_I − E_C; negative − positive pairs; noise − data).
    pub final_gap: f64,
    /// Spread of the energy over Y before training.
    pub initial_spread_std: f64,
    /// Spread after the last epoch.
    pub final_spread_std: f64,
    /// final / initial spread.
    pub spread_ratio: f64,
    /// The energy surface went flat: the spread fell below 1% of its initial value.
    pub collapsed: bool,
    /// The summary's metric.
    pub metric: String,
    /// Its value.
    pub value: f64,
    /// Every metric of the evaluation, by name.
    pub metrics: BTreeMap<String, f64>,
}

/// Below this fraction of its initial value, the spread means a collapsed energy.
pub const COLLAPSE_RATIO: f64 = 0.01;

/// Writes `history.csv`: `epoch,loss,gap,spread_std,spread_range`, one row per epoch.
pub fn write_history(path: &Path, history: &History) -> io::Result<()> {
    let mut text = String::from("epoch,loss,gap,spread_std,spread_range\n");
    for r in &history.epochs {
        text.push_str(&format!(
            "{},{},{},{},{}\n",
            r.epoch, r.loss, r.gap, r.spread_std, r.spread_range
        ));
    }
    std::fs::write(path, text)
}

/// `YYYYMMDD-HHMMSS` in UTC.
pub fn utc_stamp(time: SystemTime) -> String {
    let secs = time
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}{m:02}{d:02}-{:02}{:02}{:02}",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// The same instant as RFC 3339 (`2026-11-29T12:04:05Z`), for `run.json`.
pub fn utc_rfc3339(time: SystemTime) -> String {
    let s = utc_stamp(time);
    format!(
        "{}-{}-{}T{}:{}:{}Z",
        &s[0..4],
        &s[4..6],
        &s[6..8],
        &s[9..11],
        &s[11..13],
        &s[13..15]
    )
}

/// (year, month, day) of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// A report folder under construction: `<root>/<name>/.tmp-<stamp>-<pid>-<k>/`, renamed to
/// `<root>/<name>/<stamp>/` by [`RunFolder::commit`]. Dropped without a commit (an error, a
/// panic), it is removed, with `<root>/<name>/` when that is left empty.
#[derive(Debug)]
pub struct RunFolder {
    tmp: PathBuf,
    parent: PathBuf,
    stamp: String,
    committed: bool,
}

impl RunFolder {
    /// Creates the temporary folder.
    pub fn create(root: &Path, name: &str, stamp: &str) -> io::Result<RunFolder> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let parent = root.join(name);
        std::fs::create_dir_all(&parent)?;
        let tmp = parent.join(format!(
            ".tmp-{stamp}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir(&tmp)?;
        Ok(RunFolder {
            tmp,
            parent,
            stamp: stamp.to_string(),
            committed: false,
        })
    }

    /// Where files go until the commit.
    pub fn path(&self) -> &Path {
        &self.tmp
    }

    /// A file inside the folder.
    pub fn file(&self, name: &str) -> PathBuf {
        self.tmp.join(name)
    }

    /// Moves the folder to `<name>/<stamp>/`, or `<stamp>-2`, `-3`, … when that exists: an
    /// existing run folder is never overwritten.
    pub fn commit(mut self) -> io::Result<PathBuf> {
        for k in 1.. {
            let name = if k == 1 {
                self.stamp.clone()
            } else {
                format!("{}-{k}", self.stamp)
            };
            let target = self.parent.join(name);
            if target.exists() {
                continue;
            }
            std::fs::rename(&self.tmp, &target)?;
            self.committed = true;
            return Ok(target);
        }
        unreachable!("an unbounded range always yields")
    }
}

impl Drop for RunFolder {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_dir_all(&self.tmp);
            // Only succeeds when empty: other runs of the same config stay.
            let _ = std::fs::remove_dir(&self.parent);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn stamps_are_utc_calendar_dates() {
        let at = |secs: u64| utc_stamp(UNIX_EPOCH + Duration::from_secs(secs));
        assert_eq!(at(0), "19700101-000000");
        assert_eq!(at(951_782_400), "20000229-000000"); // a leap day
        assert_eq!(at(1_795_953_845), "20261129-120405");
        assert_eq!(
            utc_rfc3339(UNIX_EPOCH + Duration::from_secs(1_795_953_845)),
            "2026-11-29T12:04:05Z"
        );
    }

    #[test]
    fn a_folder_appears_only_on_commit_and_never_overwrites() {
        let root = tempfile::tempdir().expect("a temporary folder");
        let first = RunFolder::create(root.path(), "demo", "20260101-000000").expect("create");
        std::fs::write(first.file("a.txt"), "1").expect("write");
        assert!(!root.path().join("demo/20260101-000000").exists());
        let a = first.commit().expect("commit");
        assert_eq!(a, root.path().join("demo/20260101-000000"));
        let second = RunFolder::create(root.path(), "demo", "20260101-000000").expect("create");
        std::fs::write(second.file("a.txt"), "2").expect("write");
        let b = second.commit().expect("commit");
        assert_eq!(b, root.path().join("demo/20260101-000000-2"));
        assert_eq!(std::fs::read_to_string(a.join("a.txt")).expect("read"), "1");

        let dropped = RunFolder::create(root.path(), "failed", "20260101-000000").expect("create");
        std::fs::write(dropped.file("half.txt"), "x").expect("write");
        drop(dropped);
        assert!(!root.path().join("failed").exists());
    }
}
