//! # ebm-lab
//!
//! The experiment runner of `ebm`: a TOML config describes a run (data, model, loss,
//! training, evaluation); [`run`] trains it with `ebm-arch`, `ebm-contrastive` and `ebm-core`,
//! measures it and writes a report folder `runs/<name>/<timestamp>/` with the resolved config,
//! `metrics.json`, `history.csv`, the checkpoint and PNG plots; [`demo()`] runs the suite of
//! `configs/`. The binary `ebm-lab` (`cargo xtask run CONFIG`, `cargo xtask demo`) drives it.
//!
//! - [`config`]: [`RunConfig`], read with line-and-field errors, `--set` overrides, checks;
//! - [`experiment`]: one [`experiment::Experiment`] per model kind (what it takes, trains,
//!   measures and plots), registered in one list;
//! - [`sections`]: the `[data]`, `[loss]` and `[eval]` tables;
//! - [`runner`], [`evaluate`], [`report`], [`progress`]: the run itself.
//!
//! Data comes from `ebm-data`, figures from `ebm-plot`.
//!
//! ```
//! use ebm_lab::RunConfig;
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
//! ```
//!
//! What it does not do: it defines no energy, loss or inference of its own (those are
//! `ebm-arch`, `ebm-loss`, `ebm-contrastive`, `ebm-core`; the siamese and density models of
//! [`methods`] are their networks and objectives in a training loop); plots take numbers,
//! never models; data generation never touches libtorch's global random generator.

pub mod config;
pub mod demo;
pub mod error;
pub mod evaluate;
pub mod experiment;
pub mod predictions;
pub mod preprocess;
pub mod progress;
pub mod report;
pub mod runner;
pub mod sections;
pub mod sweep;
pub mod trained;

pub use config::read::LoadedConfig;
pub use config::RunConfig;
pub use demo::{demo, DemoOptions, DemoReport, DEMO_CONFIGS, FULL_CONFIGS};
pub use error::ConfigError;
pub use error::RunError;
pub use experiment::{Experiment, ModelConfig};
pub use progress::ProgressMode;
pub use report::Metrics;
pub use runner::{run, Resume, RunOptions, RunOutcome};
pub use trained::TrainedRun;
