//! The report of a run: the folder it is written to (a `tempfile` folder renamed into place
//! only when complete), `metrics.json`, `history.csv` (`csv`'s writer), and the UTC timestamp
//! that names the folder (`time`).

use ebm_arch::History;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;
use time::macros::format_description;
use time::OffsetDateTime;

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
    /// Training rows held out to calibrate β (classifiers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n_calibration: Option<usize>,
    /// Rows held out.
    pub n_test: i64,
    /// Rows of the file left out for a missing cell (`missing = "drop_rows"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n_dropped: Option<usize>,
    /// Classes found in the data (classification and binary data; `labels.json` has their
    /// names in the order of the model's indices).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n_classes: Option<usize>,
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

/// Writes `history.csv` with `csv`'s writer:
/// `epoch,loss,gap,spread_std,spread_range,sample_gap,sample_grad_norm`, one row per epoch
/// (NaN where a model has no such number).
pub fn write_history(path: &Path, history: &History) -> io::Result<()> {
    let mut writer = csv::Writer::from_path(path)?;
    for record in &history.epochs {
        writer.serialize(record)?;
    }
    if history.epochs.is_empty() {
        writer.write_record([
            "epoch",
            "loss",
            "gap",
            "spread_std",
            "spread_range",
            "sample_gap",
            "sample_grad_norm",
        ])?;
    }
    writer.flush()
}

fn utc(time: SystemTime) -> OffsetDateTime {
    OffsetDateTime::from(time)
}

/// `YYYYMMDD-HHMMSS` in UTC.
pub fn utc_stamp(time: SystemTime) -> String {
    utc(time)
        .format(format_description!(
            "[year][month][day]-[hour][minute][second]"
        ))
        .unwrap_or_default()
}

/// The same instant as RFC 3339 to the second (`2026-11-29T12:04:05Z`), for `run.json`.
pub fn utc_rfc3339(time: SystemTime) -> String {
    utc(time)
        .format(format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
        ))
        .unwrap_or_default()
}

/// A report folder under construction: a `tempfile` folder `<root>/<name>/.tmp-<stamp>-…/`,
/// renamed to `<root>/<name>/<stamp>/` by [`RunFolder::commit`]. Dropped without a commit (an
/// error, a panic), it is removed, with `<root>/<name>/` when that is left empty.
#[derive(Debug)]
pub struct RunFolder {
    tmp: Option<tempfile::TempDir>,
    parent: PathBuf,
    stamp: String,
}

/// The run folders under construction in this process, for [`remove_unfinished`].
static UNFINISHED: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());

fn unfinished() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    UNFINISHED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Removes every run folder this process has under construction: what a SIGINT, SIGTERM or
/// SIGHUP handler calls before the process exits (`ebm-lab` installs one), so that a killed
/// run leaves nothing behind.
pub fn remove_unfinished() {
    for dir in unfinished().drain(..) {
        let _ = std::fs::remove_dir_all(&dir);
        // The config's folder too, when this run was its only one.
        if let Some(parent) = dir.parent() {
            let _ = std::fs::remove_dir(parent);
        }
    }
}

/// Removes the unfinished run folders of `parent` whose process is gone (a `kill -9`, a
/// crash): their names hold the pid that made them. Folders of live processes stay. Only
/// where `/proc` tells which processes live.
fn remove_orphans(parent: &Path) {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        // `.tmp-YYYYMMDD-HHMMSS-<pid>-<random>`
        let Some(rest) = name.strip_prefix(".tmp-") else {
            continue;
        };
        let Some(pid) = rest.split('-').nth(2).and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if !Path::new("/proc").join(pid.to_string()).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

impl RunFolder {
    /// Creates the temporary folder, after removing those that killed runs of the same name
    /// left behind.
    pub fn create(root: &Path, name: &str, stamp: &str) -> io::Result<RunFolder> {
        let parent = root.join(name);
        std::fs::create_dir_all(&parent)?;
        remove_orphans(&parent);
        let tmp = tempfile::Builder::new()
            .prefix(&format!(".tmp-{stamp}-{}-", std::process::id()))
            .tempdir_in(&parent)?;
        unfinished().push(tmp.path().to_path_buf());
        Ok(RunFolder {
            tmp: Some(tmp),
            parent,
            stamp: stamp.to_string(),
        })
    }

    /// Where files go until the commit.
    pub fn path(&self) -> &Path {
        match &self.tmp {
            Some(tmp) => tmp.path(),
            None => &self.parent,
        }
    }

    /// A file inside the folder.
    pub fn file(&self, name: &str) -> PathBuf {
        self.path().join(name)
    }

    /// Moves the folder to `<name>/<stamp>/`, or `<stamp>-2`, `-3`, … when that exists: an
    /// existing run folder is never overwritten, and two runs committing at once never take
    /// the same name. The name is claimed by creating it (which fails if it exists), then
    /// the finished folder is renamed onto the empty claim (atomic on POSIX).
    pub fn commit(mut self) -> io::Result<PathBuf> {
        let tmp = self.path().to_path_buf();
        for k in 1.. {
            let name = if k == 1 {
                self.stamp.clone()
            } else {
                format!("{}-{k}", self.stamp)
            };
            let target = self.parent.join(name);
            match std::fs::create_dir(&target) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
            if let Err(e) = std::fs::rename(&tmp, &target) {
                let _ = std::fs::remove_dir(&target);
                return Err(e);
            }
            // The folder is in place: nothing is left for the TempDir to remove.
            if let Some(dir) = self.tmp.take() {
                unfinished().retain(|p| p != dir.path());
                let _ = dir.keep();
            }
            return Ok(target);
        }
        unreachable!("an unbounded range always yields")
    }
}

impl Drop for RunFolder {
    fn drop(&mut self) {
        if let Some(tmp) = self.tmp.take() {
            unfinished().retain(|p| p != tmp.path());
            drop(tmp);
            // Only succeeds when empty: other runs of the same config stay.
            let _ = std::fs::remove_dir(&self.parent);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

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

        // The temporary folder is hidden and removed on drop.
        let dropped = RunFolder::create(root.path(), "failed", "20260101-000000").expect("create");
        let name = dropped
            .path()
            .file_name()
            .expect("a name")
            .to_string_lossy()
            .into_owned();
        assert!(name.starts_with(".tmp-20260101-000000-"), "{name}");
        std::fs::write(dropped.file("half.txt"), "x").expect("write");
        drop(dropped);
        assert!(!root.path().join("failed").exists());
    }
}

#[cfg(test)]
mod commit_tests {
    use super::*;

    #[test]
    fn leftovers_of_dead_processes_go_and_those_of_live_ones_stay() {
        let root = tempfile::tempdir().expect("a temporary folder");
        let parent = root.path().join("cfg");
        // No process has pid 4294967295 (Linux pids stop at 2^22).
        let dead = parent.join(".tmp-20260101-000000-4294967295-abc");
        let live = parent.join(format!(".tmp-20260101-000000-{}-def", std::process::id()));
        let kept = parent.join("20250101-000000");
        for dir in [&dead, &live, &kept] {
            std::fs::create_dir_all(dir).expect("dir");
            std::fs::write(dir.join("half.txt"), "x").expect("write");
        }
        let folder = RunFolder::create(root.path(), "cfg", "20260101-000001").expect("create");
        assert!(!dead.exists(), "the dead run's folder is removed");
        assert!(
            live.exists() && kept.exists(),
            "a live run and a finished one stay"
        );
        drop(folder);
    }

    /// (`remove_unfinished` itself is tested on a real process, in tests/runs.rs: here it
    /// would remove the folders of the tests running beside this one.)
    #[test]
    fn folders_under_construction_are_registered_until_committed_or_dropped() {
        let root = tempfile::tempdir().expect("a temporary folder");
        let folder = RunFolder::create(root.path(), "sig", "20260101-000000").expect("create");
        let path = folder.path().to_path_buf();
        assert!(unfinished().contains(&path));
        drop(folder);
        assert!(!unfinished().contains(&path));
        let done = RunFolder::create(root.path(), "sig", "20260101-000001").expect("create");
        let path = done.path().to_path_buf();
        done.commit().expect("commit");
        assert!(!unfinished().contains(&path));
    }

    #[test]
    fn many_runs_committing_at_once_each_keep_their_folder() {
        let root = tempfile::tempdir().expect("a temporary folder");
        let runs = 24;
        let barrier = std::sync::Barrier::new(runs);
        let dirs: Vec<PathBuf> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..runs)
                .map(|i| {
                    let (root, barrier) = (root.path(), &barrier);
                    scope.spawn(move || {
                        let folder =
                            RunFolder::create(root, "same", "20260101-000000").expect("create");
                        std::fs::write(folder.file("id.txt"), i.to_string()).expect("write");
                        barrier.wait();
                        folder.commit().expect("commit")
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("a run"))
                .collect()
        });
        let mut ids: Vec<usize> = dirs
            .iter()
            .map(|d| {
                std::fs::read_to_string(d.join("id.txt"))
                    .expect("every finished run is kept")
                    .parse()
                    .expect("an id")
            })
            .collect();
        ids.sort_unstable();
        assert_eq!(ids, (0..runs).collect::<Vec<_>>());
        let names: std::collections::BTreeSet<_> = dirs.iter().collect();
        assert_eq!(names.len(), runs, "two runs took the same folder");
        // Nothing temporary is left.
        let left: Vec<_> = std::fs::read_dir(root.path().join("same"))
            .expect("read")
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with(".tmp"))
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }
}

#[cfg(test)]
mod history_tests {
    use super::*;
    use ebm_arch::EpochRecord;

    #[test]
    fn history_csv_has_a_header_and_one_row_per_epoch() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let path = dir.path().join("history.csv");
        let record = |epoch, loss| EpochRecord {
            epoch,
            loss,
            gap: 0.5,
            spread_std: 0.25,
            spread_range: f64::NAN,
            sample_gap: f64::NAN,
            sample_grad_norm: 0.5,
        };
        let history = History {
            epochs: vec![record(1, 2.0), record(2, 1.5)],
            initial_spread_std: 1.0,
        };
        write_history(&path, &history).expect("writes");
        let text = std::fs::read_to_string(&path).expect("reads");
        assert_eq!(
            text,
            "epoch,loss,gap,spread_std,spread_range,sample_gap,sample_grad_norm\n1,2.0,0.5,0.25,NaN,NaN,0.5\n2,1.5,0.5,0.25,NaN,NaN,0.5\n"
        );
        write_history(&path, &History::default()).expect("writes");
        let text = std::fs::read_to_string(&path).expect("reads");
        assert_eq!(
            text,
            "epoch,loss,gap,spread_std,spread_range,sample_gap,sample_grad_norm\n"
        );
    }
}
