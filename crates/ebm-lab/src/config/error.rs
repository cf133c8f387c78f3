//! [`ConfigError`]: what is wrong with a config, and where (file, line, dotted field).

use crate::error::DataError;
use ebm_core::EbmError;
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
    pub(super) fn invalid(field: &str, message: impl Into<String>) -> Self {
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
            _ => None,
        }
    }

    /// Adds the file and, from the text, the line of the field (when not known yet).
    pub(super) fn in_file(self, file: Option<&Path>, text: &str) -> Self {
        match self {
            ConfigError::Invalid {
                file: None,
                line,
                field,
                message,
            } => {
                let line = line.or_else(|| {
                    field
                        .as_deref()
                        .and_then(|f| super::read::locate_nearest(text, &split_path(f)))
                });
                ConfigError::Invalid {
                    file: file.map(Path::to_path_buf),
                    line,
                    field,
                    message,
                }
            }
            other => other,
        }
    }
}

/// An `ebm` hyperparameter error as a config error on `section.name`.
pub(super) fn hyper(section: &str, e: EbmError) -> ConfigError {
    match e {
        EbmError::Hyperparameter {
            name,
            reason,
            value,
        } if name.contains(' ') => {
            // A description rather than a key ("z penalty weight"): the section is the field.
            ConfigError::invalid(section, format!("{name} {reason}, got {value}"))
        }
        EbmError::Hyperparameter {
            name,
            reason,
            value,
        } => ConfigError::invalid(&join(section, name), format!("{reason}, got {value}")),
        other => ConfigError::invalid(section, other.to_string()),
    }
}

pub(super) fn data_error(e: DataError) -> ConfigError {
    match e {
        DataError::Invalid {
            field,
            reason,
            value,
        } => {
            let path = if field == "test_fraction" {
                "data.test_fraction".to_string()
            } else {
                join("data", field)
            };
            ConfigError::invalid(&path, format!("{reason}, got {value}"))
        }
        other => ConfigError::invalid("data", other.to_string()),
    }
}

pub(super) fn join(section: &str, name: &str) -> String {
    if section.is_empty() {
        name.to_string()
    } else if name.is_empty() {
        section.to_string()
    } else {
        format!("{section}.{name}")
    }
}

pub(super) fn split_path(path: &str) -> Vec<&str> {
    path.split('.').filter(|s| !s.is_empty()).collect()
}
