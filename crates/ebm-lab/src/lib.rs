//! # ebm-lab
//!
//! The experiment runner of `ebm`: a TOML config describes a run (data, model, loss,
//! training, evaluation); [`run`] trains it with `ebm-arch`, `ebm-contrastive` and `ebm-core`,
//! measures it and writes a report folder `runs/<name>/<timestamp>/` with the resolved config,
//! `metrics.json`, `history.csv`, the checkpoint and PNG plots; [`demo()`] runs the suite of
//! `configs/`. The binary `ebm-lab` (`cargo xtask run CONFIG`, `cargo xtask demo`) drives it.
//!
//! - [`config`]: [`RunConfig`], read with line-and-field errors, `--set` overrides, checks;
//! - [`data`]: built-in data sets (sine, the two-branch y² = x, the tutorial's parabola,
//!   circle, two moons, Gaussian blobs, spirals, rings, 8-Gaussians, a latent mixture), a CSV
//!   loader for users' data, a seeded train/test [`split`], and [`DataConfig`];
//! - [`runner`], [`evaluate`], [`methods`], [`report`], [`progress`]: the run itself;
//! - [`plot`]: PNG plots of training curves, energy landscapes, decision regions and densities,
//!   from plain numbers.
//!
//! ```
//! use ebm_lab::{split, DataConfig, RunConfig, TargetKind};
//!
//! // A config with a negative learning rate: the error names the field and its line.
//! let err = RunConfig::parse(r#"
//!     name = "moons"
//!     [data]
//!     kind = "two_moons"
//!     n = 100
//!     [model]
//!     kind = "binary"
//!     [loss]
//!     kind = "hinge"
//!     [train]
//!     optimizer = { kind = "adam", lr = -0.1 }
//! "#).unwrap_err();
//! assert_eq!(err.field(), Some("train.optimizer.lr"));
//! assert_eq!(err.line(), Some(11));
//!
//! let data: DataConfig = toml::from_str(r#"kind = "two_moons"
//! n = 100
//! noise = 0.1"#).unwrap();
//! let data = data.generate(7).unwrap();
//! assert_eq!(data.kind, TargetKind::Binary);
//! let (train, test) = split(&data, 0.2, 7).unwrap();
//! assert_eq!((train.len(), test.len()), (80, 20));
//! ```
//!
//! What it does not do: it defines no energy, loss or inference of its own (those are
//! `ebm-arch`, `ebm-loss`, `ebm-contrastive`, `ebm-core`; the siamese and density models of
//! [`methods`] are their networks and objectives in a training loop); plots take numbers,
//! never models; data generation never touches libtorch's global random generator.

pub mod config;
pub mod data;
pub mod demo;
pub mod error;
pub mod evaluate;
pub mod methods;
pub mod plot;
pub mod progress;
pub mod report;
pub mod runner;

pub use config::{ConfigError, LoadedConfig, ModelConfig, RunConfig};
pub use data::{load_csv, split, CsvTask, DataConfig, Dataset, SeededRng, TargetKind};
pub use demo::{demo, DemoOptions, DemoReport, DEMO_CONFIGS};
pub use error::{DataError, RunError};
pub use progress::ProgressMode;
pub use report::Metrics;
pub use runner::{run, RunOptions, RunOutcome};

#[cfg(test)]
pub(crate) mod test_util {
    use std::path::{Path, PathBuf};
    use std::sync::atomic::{AtomicU64, Ordering};

    /// A fresh folder under the system's temporary folder, removed on drop.
    pub struct TempDir(PathBuf);

    impl TempDir {
        pub fn new(tag: &str) -> Self {
            static COUNTER: AtomicU64 = AtomicU64::new(0);
            let dir = std::env::temp_dir().join(format!(
                "ebm-lab-{tag}-{}-{}",
                std::process::id(),
                COUNTER.fetch_add(1, Ordering::Relaxed)
            ));
            std::fs::create_dir_all(&dir).expect("create a temporary folder");
            Self(dir)
        }

        pub fn path(&self) -> &Path {
            &self.0
        }

        /// Writes `contents` to `name` inside the folder and returns its path.
        pub fn file(&self, name: &str, contents: &str) -> PathBuf {
            let path = self.0.join(name);
            std::fs::write(&path, contents).expect("write a temporary file");
            path
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}
