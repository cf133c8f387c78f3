//! [`ConfigError`]: what is wrong with a config, and where (file, line, dotted field);
//! [`RunError`]: everything that can stop a run. Data ([`ebm_data::DataError`]) and plots
//! ([`ebm_plot::PlotError`]) have errors of their own, wrapped here.

use std::path::{Path, PathBuf};

/// A config that cannot be read, parsed or used, with where the problem is.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A syntax error, an unknown field, a wrong type or a value out of range.
    #[error("{}", describe_invalid(file.as_deref(), *line, field.as_deref(), message))]
    Invalid {
        /// The config file, when it came from one.
        file: Option<PathBuf>,
        /// The 1-based line, when it can be told.
        line: Option<usize>,
        /// The dotted field (`train.optimizer.lr`), when it can be told.
        field: Option<String>,
        /// What is wrong.
        message: String,
    },
    /// A `--set key=value` override that cannot be applied.
    #[error("--set {assignment}: {message}")]
    Override {
        /// The override as given.
        assignment: String,
        /// The dotted key.
        field: Option<String>,
        /// What is wrong.
        message: String,
    },
}

fn describe_invalid(
    file: Option<&Path>,
    line: Option<usize>,
    field: Option<&str>,
    message: &str,
) -> String {
    let mut out = String::new();
    if let Some(file) = file {
        out.push_str(&file.display().to_string());
    }
    if let Some(line) = line {
        if !out.is_empty() {
            out.push_str(", ");
        }
        out.push_str(&format!("line {line}"));
    }
    if let Some(field) = field {
        if !out.is_empty() {
            out.push_str(", ");
        }
        out.push_str(&format!("field `{field}`"));
    }
    if out.is_empty() {
        format!("invalid config: {message}")
    } else {
        format!("{out}: {message}")
    }
}

impl ConfigError {
    pub(crate) fn invalid(field: &str, message: impl Into<String>) -> Self {
        ConfigError::Invalid {
            file: None,
            line: None,
            field: (!field.is_empty()).then(|| field.to_string()),
            message: message.into(),
        }
    }

    /// The dotted field the error is about, if known.
    pub fn field(&self) -> Option<&str> {
        match self {
            ConfigError::Io { .. } => None,
            ConfigError::Invalid { field, .. } | ConfigError::Override { field, .. } => {
                field.as_deref()
            }
        }
    }

    /// The line the error is about, if known.
    pub fn line(&self) -> Option<usize> {
        match self {
            ConfigError::Invalid { line, .. } => *line,
            ConfigError::Io { .. } | ConfigError::Override { .. } => None,
        }
    }
}

/// Everything that can stop a run: the config, the data, the model (training, inference),
/// the plots, the files of the report.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The config is wrong (see [`ConfigError`]).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The data could not be made, loaded or split.
    #[error("data: {0}")]
    Data(#[from] ebm_data::DataError),
    /// Building, training or evaluating the model failed.
    #[error("model: {0}")]
    Model(#[from] ebm_core::EbmError),
    /// A plot could not be drawn or written.
    #[error("plot: {0}")]
    Plot(#[from] ebm_plot::PlotError),
    /// A report file could not be written.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A libtorch error outside the model code.
    #[error("libtorch: {}", ebm_core::error::first_line(.0))]
    Tch(#[from] tch::TchError),
    /// A run folder to predict, evaluate or resume from lacks a piece or holds a broken one.
    #[error("run folder {dir}: {reason}")]
    RunFolder {
        /// The folder.
        dir: PathBuf,
        /// What is missing or wrong, naming the file.
        reason: String,
    },
    /// The disk that holds the runs folder has less free space than a run writes.
    #[error("not enough free disk space in {dir}: this run writes about {needed} (checkpoint, predictions, plots) and {available} is free; free some space or pass --runs-dir on another disk")]
    Disk {
        /// The runs folder.
        dir: PathBuf,
        /// What the run needs, in words.
        needed: String,
        /// What is free, in words.
        available: String,
    },
    /// A command line asks for something the run cannot do.
    #[error("{0}")]
    Usage(String),
}

impl RunError {
    /// An I/O error on `path`.
    pub fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> RunError + '_ {
        move |source| RunError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}
