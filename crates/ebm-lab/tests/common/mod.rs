//! Shared by the integration tests: the configs folder, temporary folders, tiny runs.
#![allow(dead_code)]

use ebm_lab::{run, LoadedConfig, ProgressMode, RunConfig, RunError, RunOptions, RunOutcome};
use std::path::{Path, PathBuf};

/// The workspace's `configs/` folder.
pub fn configs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs")
}

/// A fresh folder under the system's temporary folder, removed on drop.
/// A fresh temporary folder (tempfile's), removed on drop, with helpers.
pub struct TempDir(tempfile::TempDir);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        let dir = tempfile::Builder::new()
            .prefix(&format!("ebm-lab-it-{tag}-"))
            .tempdir()
            .expect("create a temporary folder");
        Self(dir)
    }

    pub fn path(&self) -> &Path {
        self.0.path()
    }

    /// Writes `contents` to `name` inside the folder and returns its path.
    pub fn file(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.path().join(name);
        std::fs::write(&path, contents).expect("write a temporary file");
        path
    }

    /// Every entry under the folder, recursively, as paths relative to it, sorted.
    pub fn tree(&self) -> Vec<String> {
        fn walk(dir: &Path, root: &Path, out: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
                let path = entry.path();
                out.push(
                    path.strip_prefix(root)
                        .expect("inside")
                        .display()
                        .to_string(),
                );
                if path.is_dir() {
                    walk(&path, root, out);
                }
            }
        }
        let mut out = Vec::new();
        walk(self.path(), self.path(), &mut out);
        out.sort();
        out
    }
}

/// A config of `configs/` shrunk to a tiny run, with overrides.
pub fn tiny(file: &str, overrides: &[&str]) -> LoadedConfig {
    let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    let mut loaded =
        RunConfig::load_with(&configs_dir().join(file), &[]).expect("the config loads");
    loaded.config.shrink();
    loaded.config = loaded
        .config
        .with_overrides(&overrides)
        .expect("the overrides apply");
    loaded.overrides = overrides;
    loaded
}

/// Runs a loaded config quietly with reports under `runs`.
pub fn run_in(loaded: &LoadedConfig, runs: &Path) -> Result<RunOutcome, RunError> {
    run(
        loaded,
        &RunOptions {
            runs_dir: runs.to_path_buf(),
            progress: ProgressMode::Quiet,
            ..RunOptions::default()
        },
    )
}
