//! Turning the errors of lower crates into [`ConfigError`]s on their dotted field.

use crate::error::ConfigError;
use ebm_core::EbmError;
use ebm_data::DataError;

/// An `ebm` hyperparameter error as a config error on `section.name`.
pub(super) fn hyper(section: &str, e: EbmError) -> ConfigError {
    match e {
        EbmError::Hyperparameter {
            name,
            reason,
            value,
        } => ConfigError::invalid(&join(section, &name), format!("{reason}, got {value}")),
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
