//! [`DataError`]: everything that can go wrong while making, loading or splitting a data set.

use std::path::PathBuf;

/// Everything that can go wrong while making, loading or splitting a data set.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A data configuration value is outside its valid range.
    #[error("invalid data config: {field} {reason}, got {value}")]
    Invalid {
        /// The field, as written in configs (`n`, `noise`, `classes`, ...).
        field: &'static str,
        /// The rule it breaks, e.g. "must be >= 1".
        reason: String,
        /// The offending value, printed.
        value: String,
    },
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The CSV reader failed (e.g. invalid UTF-8).
    #[error("{path}: {source}")]
    Csv {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: csv::Error,
    },
    /// The file has no header, or a header and no data rows.
    #[error("{path}: {what}")]
    EmptyFile {
        /// The file.
        path: PathBuf,
        /// "the file is empty (a header line is required)" or "no data rows after the header".
        what: &'static str,
    },
    /// Two header columns have the same name.
    #[error("{path}: line 1: duplicate column name {name:?}")]
    DuplicateColumn {
        /// The file.
        path: PathBuf,
        /// The repeated name.
        name: String,
    },
    /// A column named in the config is not in the header.
    #[error("{path}: unknown {role} column {name:?}; the columns are {available:?}")]
    UnknownColumn {
        /// The file.
        path: PathBuf,
        /// "target" or "feature".
        role: &'static str,
        /// The name asked for.
        name: String,
        /// The header's column names.
        available: Vec<String>,
    },
    /// The features are empty, or include the target column.
    #[error("{path}: {reason}")]
    BadColumns {
        /// The file.
        path: PathBuf,
        /// What is wrong with the column choice.
        reason: String,
    },
    /// A row has more or fewer cells than the header.
    #[error("{path}: line {line}: expected {expected} fields (as in the header), found {found}")]
    RaggedRow {
        /// The file.
        path: PathBuf,
        /// 1-based line number (the header is line 1).
        line: u64,
        /// The header's field count.
        expected: usize,
        /// This row's field count.
        found: usize,
    },
    /// A feature or regression-target cell is not a finite number that f32 holds.
    #[error("{path}: line {line}, column {column:?}: {cell:?} is not a finite number (of at most ±3.4e38, the range of f32)")]
    NonNumeric {
        /// The file.
        path: PathBuf,
        /// 1-based line number (the header is line 1).
        line: u64,
        /// The column's name.
        column: String,
        /// The cell as read (after trimming).
        cell: String,
    },
    /// A cell read for the model holds no value (empty, `NA`, ...: see
    /// [`crate::MISSING_CELLS`]).
    #[error("{path}: line {line}, column {column:?}: missing value (an empty or NA cell); fill it in, or set `missing = \"drop_rows\"` in the data table to leave such rows out")]
    Missing {
        /// The file.
        path: PathBuf,
        /// 1-based line number (the header is line 1).
        line: u64,
        /// The column's name.
        column: String,
    },
    /// A label column that cannot serve the task (a negative class index, not two values for a
    /// binary task, an empty label).
    #[error("{path}: label column {column:?}: {reason}")]
    BadLabels {
        /// The file.
        path: PathBuf,
        /// The label column.
        column: String,
        /// What is wrong, naming the line where there is one.
        reason: String,
    },
    /// A libtorch error (building or indexing tensors).
    #[error("libtorch error: {}", ebm_core::error::first_line(.0))]
    Tch(#[from] tch::TchError),
}

/// Shorthand for `Result<T, DataError>`.
pub type Result<T> = std::result::Result<T, DataError>;
