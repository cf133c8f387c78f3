//! # ebm-lab
//!
//! The experiment runner of `ebm`. This part holds its foundation:
//! - [`data`]: built-in data sets (sine, the two-branch y² = x, the tutorial's parabola,
//!   circle, two moons, Gaussian blobs, spirals, rings, 8-Gaussians, a latent mixture), a CSV
//!   loader for users' data, a seeded train/test [`split`], and [`DataConfig`], the `data`
//!   table of a run config;
//! - [`plot`]: PNG plots of training curves, energy landscapes, decision regions and densities,
//!   from plain numbers.
//!
//! ```
//! use ebm_lab::{split, DataConfig, TargetKind};
//!
//! let config: DataConfig = toml::from_str(r#"kind = "two_moons"
//! n = 100
//! noise = 0.1"#).unwrap();
//! let data = config.generate(7).unwrap();
//! assert_eq!(data.kind, TargetKind::Binary);
//! assert_eq!(data.x.size(), [100, 2]);
//!
//! let (train, test) = split(&data, 0.2, 7).unwrap();
//! assert_eq!((train.len(), test.len()), (80, 20));
//! ```
//!
//! What it does not do: it defines no model, loss or inference (see `ebm-arch`, `ebm-loss`,
//! `ebm-core`); plots take numbers, never models; data generation never touches libtorch's
//! global random generator.

pub mod data;
pub mod error;
pub mod plot;

pub use data::{load_csv, split, CsvTask, DataConfig, Dataset, SeededRng, TargetKind};
pub use error::DataError;

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
