//! Loading users' own data from a CSV file with a header.

use super::{Dataset, TargetKind};
use crate::error::{DataError, Result};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use tch::Tensor;

/// What the target column of a CSV file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CsvTask {
    /// A number per row: y Float `[N, 1]`.
    Regression,
    /// A class per row, integers or names: encoded to 0..K−1 by the sorted distinct values
    /// (numerically when all are integers), the values kept as the class names. y Int64 `[N]`.
    Classification,
    /// Exactly two distinct values, mapped to −1 and +1: numbers in increasing order (so 0/1 and
    /// −1/+1 both work), or else strings in sorted order. y Float `[N]`.
    Binary,
}

/// What to do with a row that has a missing cell: an empty cell or one of [`MISSING_CELLS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Missing {
    /// A missing cell is an error naming its line and column (the default).
    #[default]
    Error,
    /// Rows with a missing cell in a column that is read are left out; the count is reported.
    DropRows,
}

/// The cells, besides an empty one, that mean "no value".
pub const MISSING_CELLS: &[&str] = &["NA", "N/A", "NaN", "nan", "null", "NULL"];

/// Whether a (trimmed) cell holds no value.
pub fn is_missing(cell: &str) -> bool {
    cell.is_empty() || MISSING_CELLS.contains(&cell)
}

/// Which columns of a CSV file are read, and how.
#[derive(Debug, Clone, Copy)]
pub struct CsvColumns<'a> {
    /// Feature columns by name, in this order; `None`: every column but the target.
    pub features: Option<&'a [String]>,
    /// The target (or label) column.
    pub target: &'a str,
    /// What the target holds.
    pub task: CsvTask,
    /// What to do with missing cells.
    pub missing: Missing,
}

/// A data set read from a CSV file, with what reading it left out.
#[derive(Debug)]
pub struct Loaded {
    /// The rows that were kept.
    pub dataset: Dataset,
    /// The line of each kept row in the file (the header is line 1).
    pub lines: Vec<u64>,
    /// Rows left out for a missing cell (`missing = "drop_rows"`).
    pub dropped_rows: usize,
    /// The file's columns that are neither a feature nor the target.
    pub unused_columns: Vec<String>,
}

/// A CSV file's header and rows, cells trimmed, every row as wide as the header.
struct Table {
    header: Vec<String>,
    rows: Vec<(u64, csv::StringRecord)>,
}

impl Table {
    fn read<R: std::io::Read>(reader: R, path: &Path) -> Result<Table> {
        let csv_err = |source| DataError::Csv {
            path: path.to_path_buf(),
            source,
        };
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .trim(csv::Trim::All)
            .from_reader(reader);
        let header: Vec<String> = reader
            .headers()
            .map_err(csv_err)?
            .iter()
            .map(str::to_string)
            .collect();
        if header.iter().all(String::is_empty) {
            return Err(DataError::EmptyFile {
                path: path.to_path_buf(),
                what: "the file is empty (a header line is required)",
            });
        }
        let mut seen = BTreeSet::new();
        for name in &header {
            if !seen.insert(name.as_str()) {
                return Err(DataError::DuplicateColumn {
                    path: path.to_path_buf(),
                    name: name.clone(),
                });
            }
        }
        let mut rows = Vec::new();
        for record in reader.records() {
            let record = record.map_err(csv_err)?;
            let line = record.position().map_or(0, csv::Position::line);
            if record.len() != header.len() {
                return Err(DataError::RaggedRow {
                    path: path.to_path_buf(),
                    line,
                    expected: header.len(),
                    found: record.len(),
                });
            }
            rows.push((line, record));
        }
        Ok(Table { header, rows })
    }

    fn column(&self, path: &Path, role: &'static str, name: &str) -> Result<usize> {
        self.header
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| DataError::UnknownColumn {
                path: path.to_path_buf(),
                role,
                name: name.to_string(),
                available: self.header.clone(),
            })
    }

    /// The rows whose `columns` all hold a value; a missing one is an error unless `missing`
    /// drops its row. Returns the kept rows and the number dropped.
    fn complete_rows(
        &self,
        path: &Path,
        columns: &[usize],
        missing: Missing,
    ) -> Result<(Vec<&(u64, csv::StringRecord)>, usize)> {
        let mut kept = Vec::with_capacity(self.rows.len());
        let mut dropped = 0;
        for row in &self.rows {
            match columns.iter().find(|&&j| is_missing(&row.1[j])) {
                None => kept.push(row),
                Some(_) if missing == Missing::DropRows => dropped += 1,
                Some(&j) => {
                    return Err(DataError::Missing {
                        path: path.to_path_buf(),
                        line: row.0,
                        column: self.header[j].clone(),
                    })
                }
            }
        }
        Ok((kept, dropped))
    }
}

/// Reads `path` (a header line, then one example per line; cells trimmed) into a [`Dataset`]
/// with the columns named in `features` (in that order; `None`: every column but the target)
/// as `x` and the column `target` as `y`, read as `task` says. A missing cell is an error; see
/// [`load_csv_from`] for the other options.
pub fn load_csv(
    path: &Path,
    features: Option<&[String]>,
    target: &str,
    task: CsvTask,
) -> Result<Dataset> {
    let columns = CsvColumns {
        features,
        target,
        task,
        missing: Missing::Error,
    };
    Ok(load_csv_file(path, columns)?.dataset)
}

/// [`load_csv_from`] of a file.
pub fn load_csv_file(path: &Path, columns: CsvColumns<'_>) -> Result<Loaded> {
    let file = std::fs::File::open(path).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    load_csv_from(std::io::BufReader::new(file), path, columns)
}

/// Reads CSV text from `reader` (`path` names it in errors) as [`CsvColumns`] says.
///
/// Errors name the file and, where it applies, the line (the header is line 1), the column and
/// the cell: [`DataError::EmptyFile`], [`DataError::UnknownColumn`] (listing the header's
/// columns), [`DataError::RaggedRow`], [`DataError::NonNumeric`], [`DataError::Missing`],
/// [`DataError::BadLabels`], [`DataError::DuplicateColumn`], [`DataError::BadColumns`].
/// Class-name mappings are returned in [`Dataset::class_names`].
pub fn load_csv_from<R: std::io::Read>(
    reader: R,
    path: &Path,
    columns: CsvColumns<'_>,
) -> Result<Loaded> {
    let table = Table::read(reader, path)?;
    let header = &table.header;
    let target_name = columns.target;
    let target = table.column(path, "target", target_name)?;
    let features: Vec<usize> = match columns.features {
        Some(names) => names
            .iter()
            .map(|name| table.column(path, "feature", name))
            .collect::<Result<_>>()?,
        None => (0..header.len()).filter(|&i| i != target).collect(),
    };
    if features.is_empty() {
        return Err(DataError::BadColumns {
            path: path.to_path_buf(),
            reason: format!(
                "no feature columns (the header has only the target {:?})",
                target_name
            ),
        });
    }
    if features.contains(&target) {
        return Err(DataError::BadColumns {
            path: path.to_path_buf(),
            reason: format!("the target {:?} is also listed as a feature", target_name),
        });
    }
    let mut read: Vec<usize> = features.clone();
    read.push(target);
    let (rows, dropped_rows) = table.complete_rows(path, &read, columns.missing)?;

    let mut x = Vec::with_capacity(rows.len() * features.len());
    let mut labels: Vec<(u64, String)> = Vec::with_capacity(rows.len());
    for (line, record) in &rows {
        for &j in &features {
            x.push(parse_number(path, *line, &header[j], &record[j])? as f32);
        }
        labels.push((*line, record[target].to_string()));
    }
    let n = labels.len();
    if n == 0 {
        return Err(DataError::EmptyFile {
            path: path.to_path_buf(),
            what: if dropped_rows > 0 {
                "no data rows left after dropping the rows with missing cells"
            } else {
                "no data rows after the header"
            },
        });
    }
    let x = Tensor::from_slice(&x).f_view([n as i64, features.len() as i64])?;
    let (y, kind, class_names) = match columns.task {
        CsvTask::Regression => (
            regression_targets(path, target_name, &labels)?,
            TargetKind::Regression,
            vec![],
        ),
        CsvTask::Classification => {
            let (indices, names) = class_indices(path, target_name, &labels)?;
            let n_classes = names.len() as i64;
            (
                Tensor::from_slice(&indices),
                TargetKind::Classes { n_classes },
                names,
            )
        }
        CsvTask::Binary => {
            let (signs, names) = binary_signs(path, target_name, &labels)?;
            (Tensor::from_slice(&signs), TargetKind::Binary, names)
        }
    };
    Ok(Loaded {
        dataset: Dataset {
            x,
            y,
            kind,
            latent: None,
            answer_sets: None,
            feature_names: features.iter().map(|&j| header[j].clone()).collect(),
            class_names,
        },
        lines: labels.iter().map(|(line, _)| *line).collect(),
        dropped_rows,
        unused_columns: (0..header.len())
            .filter(|j| !read.contains(j))
            .map(|j| header[j].clone())
            .collect(),
    })
}

/// Numbers of a regression target, `[N, 1]`.
fn regression_targets(path: &Path, column: &str, cells: &[(u64, String)]) -> Result<Tensor> {
    let y = cells
        .iter()
        .map(|(line, cell)| parse_number(path, *line, column, cell).map(|v| v as f32))
        .collect::<Result<Vec<f32>>>()?;
    Ok(Tensor::from_slice(&y).f_view([cells.len() as i64, 1])?)
}

/// New rows for a trained model: the inputs and, where the file has it, the target.
#[derive(Debug)]
pub struct InputRows {
    /// The features, Float `[N, features]`, in the model's column order.
    pub x: Tensor,
    /// The target column's cells of the kept rows, with their lines, if the file has it.
    pub target: Option<Vec<(u64, String)>>,
    /// The line of each kept row (the header is line 1).
    pub lines: Vec<u64>,
    /// Rows left out for a missing cell.
    pub dropped_rows: usize,
}

/// Reads rows for a trained model from `path`: the header must hold exactly the model's
/// `features`, in that order, and may hold the `target` column and the `unused` columns of
/// the training file anywhere (the target's cells are returned, unparsed, for evaluation; the
/// unused ones are skipped); `target_required` makes it an error to lack the target.
///
/// A missing feature, an extra column, a wrong order, a non-numeric or missing cell: each an
/// error that names it.
pub fn read_inputs(
    path: &Path,
    features: &[String],
    target: &str,
    unused: &[String],
    target_required: bool,
    missing: Missing,
) -> Result<InputRows> {
    let file = std::fs::File::open(path).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let table = Table::read(std::io::BufReader::new(file), path)?;
    let bad = |reason: String| DataError::BadColumns {
        path: path.to_path_buf(),
        reason,
    };
    for name in features {
        if !table.header.contains(name) {
            return Err(bad(format!(
                "the model's feature column {name:?} is missing; the model reads {features:?}"
            )));
        }
    }
    let target_at = table.header.iter().position(|h| h == target);
    let skipped = |h: &String| h.as_str() == target || unused.contains(h);
    if let Some(extra) = table
        .header
        .iter()
        .find(|h| !features.contains(h) && !skipped(h))
    {
        return Err(bad(format!(
            "column {extra:?} is not one the model reads; the model reads {features:?} (and the target {target:?})"
        )));
    }
    let order: Vec<&String> = table.header.iter().filter(|h| !skipped(h)).collect();
    if order.iter().zip(features).any(|(a, b)| *a != b) {
        return Err(bad(format!(
            "the feature columns are in the order {order:?}; the model reads them as {features:?}"
        )));
    }
    if target_required && target_at.is_none() {
        return Err(bad(format!(
            "no target column {target:?}: evaluation needs the true answers"
        )));
    }
    let columns: Vec<usize> = features
        .iter()
        .map(|name| table.column(path, "feature", name))
        .collect::<Result<_>>()?;
    let mut read = columns.clone();
    read.extend(target_at);
    let (rows, dropped_rows) = table.complete_rows(path, &read, missing)?;
    let mut x = Vec::with_capacity(rows.len() * columns.len());
    for (line, record) in &rows {
        for &j in &columns {
            x.push(parse_number(path, *line, &table.header[j], &record[j])? as f32);
        }
    }
    let x = Tensor::from_slice(&x).f_view([rows.len() as i64, columns.len() as i64])?;
    Ok(InputRows {
        x,
        target: target_at.map(|t| {
            rows.iter()
                .map(|(line, record)| (*line, record[t].to_string()))
                .collect()
        }),
        lines: rows.iter().map(|(line, _)| *line).collect(),
        dropped_rows,
    })
}

/// Encodes target cells with a trained model's labels: `task` as the model was trained,
/// `class_names` its mapping (class index i is `class_names[i]`; binary: −1, then +1). A label
/// the model does not know is an error naming its line. Regression: the numbers, `[N, 1]`.
pub fn encode_targets(
    path: &Path,
    column: &str,
    cells: &[(u64, String)],
    task: CsvTask,
    class_names: &[String],
) -> Result<Tensor> {
    if task == CsvTask::Regression {
        return regression_targets(path, column, cells);
    }
    let same = |cell: &str, name: &str| {
        cell == name
            || matches!((cell.parse::<f64>(), name.parse::<f64>()), (Ok(a), Ok(b)) if a == b)
    };
    let mut indices = Vec::with_capacity(cells.len());
    for (line, cell) in cells {
        match class_names.iter().position(|name| same(cell, name)) {
            Some(i) => indices.push(i as i64),
            None => {
                return Err(bad_labels(
                    path,
                    column,
                    format!(
                        "line {line}: label {cell:?} is not one the model was trained on ({class_names:?})"
                    ),
                ))
            }
        }
    }
    Ok(match task {
        CsvTask::Binary => Tensor::from_slice(
            &indices
                .iter()
                .map(|&i| if i == 0 { -1.0f32 } else { 1.0 })
                .collect::<Vec<_>>(),
        ),
        CsvTask::Classification | CsvTask::Regression => Tensor::from_slice(&indices),
    })
}

/// A finite number that f32 (the tensors' kind) holds: `1e300` is as much an error as `abc`.
fn parse_number(path: &Path, line: u64, column: &str, cell: &str) -> Result<f64> {
    match cell.parse::<f64>() {
        Ok(v) if v.is_finite() && (v as f32).is_finite() => Ok(v),
        _ => Err(DataError::NonNumeric {
            path: path.to_path_buf(),
            line,
            column: column.to_string(),
            cell: cell.to_string(),
        }),
    }
}

fn bad_labels(path: &Path, column: &str, reason: String) -> DataError {
    DataError::BadLabels {
        path: PathBuf::from(path),
        column: column.to_string(),
        reason,
    }
}

/// Class labels encoded to 0..K−1 by their sorted distinct values: numerically when every
/// label is an integer (`2019`, `2020` are classes 0 and 1, never indices), else as strings.
/// The names are the distinct labels as written, in that order.
fn class_indices(
    path: &Path,
    column: &str,
    labels: &[(u64, String)],
) -> Result<(Vec<i64>, Vec<String>)> {
    let ints: Option<Vec<i64>> = labels.iter().map(|(_, c)| c.parse().ok()).collect();
    let (indices, names) = match ints {
        Some(ints) => {
            let distinct: Vec<i64> = ints
                .iter()
                .copied()
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            let index: BTreeMap<i64, i64> = distinct
                .iter()
                .enumerate()
                .map(|(i, &v)| (v, i as i64))
                .collect();
            (
                ints.iter().map(|v| index[v]).collect(),
                distinct.iter().map(i64::to_string).collect(),
            )
        }
        None => {
            let names: Vec<String> = labels
                .iter()
                .map(|(_, c)| c.clone())
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            let index: BTreeMap<&str, i64> = names
                .iter()
                .enumerate()
                .map(|(i, s)| (s.as_str(), i as i64))
                .collect();
            let indices = labels.iter().map(|(_, c)| index[c.as_str()]).collect();
            (indices, names)
        }
    };
    if names.len() < 2 {
        return Err(bad_labels(
            path,
            column,
            format!("classification needs at least 2 classes, found {names:?}"),
        ));
    }
    Ok((indices, names))
}

/// Exactly two distinct values → −1 (the smaller) and +1 (the larger).
fn binary_signs(
    path: &Path,
    column: &str,
    labels: &[(u64, String)],
) -> Result<(Vec<f32>, Vec<String>)> {
    let numbers: Option<Vec<f64>> = labels
        .iter()
        .map(|(_, c)| c.parse::<f64>().ok().filter(|v| v.is_finite()))
        .collect();
    let distinct: Vec<String> = match &numbers {
        Some(values) => {
            let mut v: Vec<f64> = values.clone();
            v.sort_by(f64::total_cmp);
            v.dedup();
            v.iter().map(f64::to_string).collect()
        }
        None => labels
            .iter()
            .map(|(_, c)| c.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect(),
    };
    if distinct.len() != 2 {
        let shown: Vec<&String> = distinct.iter().take(10).collect();
        return Err(bad_labels(
            path,
            column,
            format!(
                "a binary task needs exactly 2 distinct values, found {}: {shown:?}{}",
                distinct.len(),
                if distinct.len() > 10 { " ..." } else { "" }
            ),
        ));
    }
    let signs = match &numbers {
        Some(values) => {
            let low = values.iter().copied().fold(f64::INFINITY, f64::min);
            values
                .iter()
                .map(|&v| if v == low { -1.0 } else { 1.0 })
                .collect()
        }
        None => labels
            .iter()
            .map(|(_, c)| if *c == distinct[0] { -1.0 } else { 1.0 })
            .collect(),
    };
    Ok((signs, distinct))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Kind;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn load(
        contents: &str,
        features: Option<&[&str]>,
        target: &str,
        task: CsvTask,
    ) -> Result<Dataset> {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let path = dir.path().join("data.csv");
        std::fs::write(&path, contents).expect("writes");
        let features = features.map(names);
        load_csv(&path, features.as_deref(), target, task)
    }

    fn floats(t: &Tensor) -> Vec<f64> {
        Vec::<f64>::try_from(t.to_kind(Kind::Double).flatten(0, -1)).expect("values")
    }

    #[test]
    fn a_good_regression_file_loads() {
        let data = load(
            "a, b ,y\n1,2,3\n 4 ,5.5,-6e-1\n\n7,8,9\n",
            None,
            "y",
            CsvTask::Regression,
        )
        .expect("loads");
        assert_eq!(data.kind, TargetKind::Regression);
        assert_eq!(data.x.size(), [3, 2]);
        assert_eq!(data.y.size(), [3, 1]);
        assert_eq!(floats(&data.x), [1.0, 2.0, 4.0, 5.5, 7.0, 8.0]);
        assert!((floats(&data.y)[1] + 0.6).abs() < 1e-6);
        assert_eq!(data.feature_names, ["a", "b"]);
        assert!(data.class_names.is_empty());
        data.check().expect("consistent");
    }

    #[test]
    fn features_are_taken_by_name_in_the_given_order() {
        let data = load(
            "y,a,b,c\n0,1,2,3\n1,4,5,6\n",
            Some(&["c", "a"]),
            "y",
            CsvTask::Regression,
        )
        .expect("loads");
        assert_eq!(floats(&data.x), [3.0, 1.0, 6.0, 4.0]);
        assert_eq!(data.feature_names, ["c", "a"]);
    }

    #[test]
    fn string_classes_map_to_sorted_indices() {
        let data = load(
            "x1,x2,species\n0,0,versicolor\n1,1,setosa\n2,2,virginica\n3,3,setosa\n",
            None,
            "species",
            CsvTask::Classification,
        )
        .expect("loads");
        assert_eq!(data.kind, TargetKind::Classes { n_classes: 3 });
        assert_eq!(data.y.kind(), Kind::Int64);
        assert_eq!(Vec::<i64>::try_from(&data.y).expect("ints"), [1, 0, 2, 0]);
        assert_eq!(data.class_names, ["setosa", "versicolor", "virginica"]);
    }

    #[rstest::rstest]
    #[case::gaps("0.1,2\n0.2,0\n0.3,2\n", &[1, 0, 1], &["0", "2"])]
    #[case::years("0.1,2020\n0.2,2019\n0.3,2020\n", &[1, 0, 1], &["2019", "2020"])]
    #[case::huge("0.1,1000000000000\n0.2,7\n", &[1, 0], &["7", "1000000000000"])]
    #[case::negative("0.1,0\n0.2,-1\n0.3,1\n", &[1, 0, 2], &["-1", "0", "1"])]
    #[case::numeric_not_string_order("0.1,10\n0.2,9\n", &[1, 0], &["9", "10"])]
    fn integer_classes_are_encoded_by_their_sorted_values(
        #[case] rows: &str,
        #[case] indices: &[i64],
        #[case] names: &[&str],
    ) {
        let data = load(
            &format!("x,label\n{rows}"),
            None,
            "label",
            CsvTask::Classification,
        )
        .expect("loads");
        let k = names.len() as i64;
        assert_eq!(data.kind, TargetKind::Classes { n_classes: k });
        assert_eq!(Vec::<i64>::try_from(&data.y).expect("ints"), indices);
        assert_eq!(data.class_names, names);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        /// Any integer labels: K is the number of distinct values, indices lie in 0..K and
        /// keep the labels' order, and the names give each row's label back.
        #[test]
        fn any_integer_labels_encode_to_dense_indices(labels in proptest::collection::vec(-1_000_000_000_000i64..1_000_000_000_000, 2..40)) {
            let distinct: BTreeSet<i64> = labels.iter().copied().collect();
            proptest::prop_assume!(distinct.len() >= 2);
            let rows: String = labels.iter().map(|l| format!("0.5,{l}\n")).collect();
            let data = load(&format!("x,label\n{rows}"), None, "label", CsvTask::Classification)
                .expect("loads");
            proptest::prop_assert_eq!(data.kind, TargetKind::Classes { n_classes: distinct.len() as i64 });
            let y = Vec::<i64>::try_from(&data.y).expect("ints");
            for (label, index) in labels.iter().zip(&y) {
                proptest::prop_assert_eq!(&data.class_names[*index as usize], &label.to_string());
            }
        }
    }

    #[test]
    fn binary_labels_map_to_signs() {
        for (labels, names) in [
            (["0", "1", "1"], ["0", "1"]),
            (["-1", "1", "1"], ["-1", "1"]),
            (["no", "yes", "yes"], ["no", "yes"]),
        ] {
            let contents = format!("x,t\n1,{}\n2,{}\n3,{}\n", labels[0], labels[1], labels[2]);
            let data = load(&contents, None, "t", CsvTask::Binary).expect("loads");
            assert_eq!(data.kind, TargetKind::Binary);
            assert_eq!(floats(&data.y), [-1.0, 1.0, 1.0]);
            assert_eq!(data.class_names, names);
        }
    }

    #[test]
    fn ragged_row_names_the_line() {
        let err = load("a,b,y\n1,2,3\n4,5\n", None, "y", CsvTask::Regression).expect_err("ragged");
        assert!(
            matches!(
                err,
                DataError::RaggedRow {
                    line: 3,
                    expected: 3,
                    found: 2,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("line 3"), "{err}");
        let err =
            load("a,y\n1,2\n3,4\n5,6,7\n", None, "y", CsvTask::Regression).expect_err("ragged");
        assert!(
            matches!(
                err,
                DataError::RaggedRow {
                    line: 4,
                    found: 3,
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn non_numeric_cell_names_line_column_and_cell() {
        let err = load("a,b,y\n1,2,3\n4,five,6\n", None, "y", CsvTask::Regression)
            .expect_err("non-numeric");
        match &err {
            DataError::NonNumeric {
                line, column, cell, ..
            } => {
                assert_eq!((*line, column.as_str(), cell.as_str()), (3, "b", "five"));
            }
            other => panic!("{other:?}"),
        }
        let message = err.to_string();
        for part in ["line 3", "\"b\"", "\"five\""] {
            assert!(message.contains(part), "{part} not in {message}");
        }
        // A regression target is caught the same way; `inf` is not a missing value but a bad one.
        let err = load("a,y\n1,2\n3,high\n", None, "y", CsvTask::Regression).expect_err("target");
        assert!(matches!(&err, DataError::NonNumeric { line: 3, column, .. } if column == "y"));
        let err = load("a,y\ninf,2\n", None, "y", CsvTask::Regression).expect_err("inf");
        assert!(matches!(&err, DataError::NonNumeric { line: 2, .. }));
    }

    /// Finite in f64 but not in f32 (the tensors' kind): named like any bad cell.
    #[rstest::rstest]
    #[case::feature("a,y\n1,2\n1e300,3\n", 3, "a")]
    #[case::negative_feature("a,y\n-4e38,2\n", 2, "a")]
    #[case::target("a,y\n1,2\n2,1e39\n", 3, "y")]
    fn cells_beyond_f32_name_line_and_column(
        #[case] text: &str,
        #[case] at: u64,
        #[case] name: &str,
    ) {
        let err = load(text, None, "y", CsvTask::Regression).expect_err("beyond f32");
        assert!(
            matches!(&err, DataError::NonNumeric { line, column, .. } if *line == at && column == name),
            "{err}"
        );
        assert!(err.to_string().contains("f32"), "{err}");
    }

    #[test]
    fn unknown_columns_list_the_columns_that_exist() {
        let err = load("a,b,y\n1,2,3\n", None, "label", CsvTask::Classification)
            .expect_err("unknown target");
        match &err {
            DataError::UnknownColumn {
                role,
                name,
                available,
                ..
            } => {
                assert_eq!((*role, name.as_str()), ("target", "label"));
                assert_eq!(available, &["a", "b", "y"]);
            }
            other => panic!("{other:?}"),
        }
        assert!(err.to_string().contains(r#"["a", "b", "y"]"#), "{err}");
        let err = load(
            "a,b,y\n1,2,3\n",
            Some(&["a", "c"]),
            "y",
            CsvTask::Regression,
        )
        .expect_err("unknown feature");
        assert!(
            matches!(&err, DataError::UnknownColumn { role: "feature", name, .. } if name == "c"),
            "{err:?}"
        );
    }

    #[test]
    fn empty_files_are_errors() {
        for contents in ["", "\n\n"] {
            let err = load(contents, None, "y", CsvTask::Regression).expect_err("empty");
            assert!(
                matches!(err, DataError::EmptyFile { what, .. } if what.contains("header")),
                "{contents:?}"
            );
        }
        let err = load("a,y\n", None, "y", CsvTask::Regression).expect_err("no rows");
        assert!(matches!(err, DataError::EmptyFile { what, .. } if what.contains("no data rows")));
    }

    #[test]
    fn bad_column_choices_and_labels_are_errors() {
        let err = load("a,a,y\n1,2,3\n", None, "y", CsvTask::Regression).expect_err("duplicate");
        assert!(matches!(&err, DataError::DuplicateColumn { name, .. } if name == "a"));
        let err = load("y\n1\n", None, "y", CsvTask::Regression).expect_err("no features");
        assert!(matches!(err, DataError::BadColumns { .. }));
        let err = load("a,y\n1,2\n", Some(&["a", "y"]), "y", CsvTask::Regression)
            .expect_err("target as feature");
        assert!(matches!(err, DataError::BadColumns { .. }));
        let err =
            load("a,c\n1,x\n2,\n", None, "c", CsvTask::Classification).expect_err("empty label");
        assert!(
            matches!(&err, DataError::Missing { line: 3, column, .. } if column == "c"),
            "{err}"
        );
        let err =
            load("a,c\n1,0\n2,0\n", None, "c", CsvTask::Classification).expect_err("one class");
        assert!(matches!(err, DataError::BadLabels { .. }));
        let err =
            load("a,c\n1,0\n2,1\n3,2\n", None, "c", CsvTask::Binary).expect_err("three values");
        assert!(
            matches!(&err, DataError::BadLabels { reason, .. } if reason.contains("exactly 2")),
            "{err}"
        );
    }

    #[test]
    fn a_missing_file_is_an_io_error_naming_it() {
        let err = load_csv(
            Path::new("/nonexistent/ebm.csv"),
            None,
            "y",
            CsvTask::Regression,
        )
        .expect_err("missing");
        assert!(matches!(err, DataError::Io { .. }));
        assert!(err.to_string().contains("/nonexistent/ebm.csv"));
    }

    fn write(contents: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let path = dir.path().join("data.csv");
        std::fs::write(&path, contents).expect("writes");
        (dir, path)
    }

    fn columns(missing: Missing) -> CsvColumns<'static> {
        CsvColumns {
            features: None,
            target: "y",
            task: CsvTask::Regression,
            missing,
        }
    }

    #[rstest::rstest]
    #[case::empty_feature("a,b,y\n1,2,3\n4,,6\n", 3, "b")]
    #[case::na("a,b,y\n1,NA,3\n", 2, "b")]
    #[case::nan("a,b,y\n1,2,3\n4,5,6\nNaN,5,6\n", 4, "a")]
    #[case::null_target("a,b,y\n1,2,null\n", 2, "y")]
    #[case::n_a_target("a,b,y\n1,2,3\n1,2,N/A\n", 3, "y")]
    fn a_missing_cell_is_an_error_naming_line_and_column(
        #[case] text: &str,
        #[case] at: u64,
        #[case] name: &str,
    ) {
        let (_dir, path) = write(text);
        let err = load_csv_file(&path, columns(Missing::Error)).expect_err("missing");
        assert!(
            matches!(&err, DataError::Missing { line, column, .. } if *line == at && column == name),
            "{err:?}"
        );
        let message = err.to_string();
        assert!(
            message.contains(&format!("line {at}")) && message.contains("drop_rows"),
            "{message}"
        );
    }

    #[test]
    fn drop_rows_leaves_out_rows_with_a_missing_cell_and_counts_them() {
        let (_dir, path) = write("a,b,unused,y\n1,2,,3\n4,,x,6\n7,8,x,NA\n9,10,x,11\n");
        let only_ab = [String::from("a"), String::from("b")];
        let loaded = load_csv_file(
            &path,
            CsvColumns {
                features: Some(&only_ab),
                ..columns(Missing::DropRows)
            },
        )
        .expect("loads");
        // Line 2's gap is in a column that is not read: the row stays.
        assert_eq!(loaded.dropped_rows, 2);
        assert_eq!(loaded.lines, [2, 5]);
        assert_eq!(floats(&loaded.dataset.x), [1.0, 2.0, 9.0, 10.0]);
        assert_eq!(floats(&loaded.dataset.y), [3.0, 11.0]);
        let (_dir, path) = write("a,y\n,1\nNA,2\n");
        let err = load_csv_file(&path, columns(Missing::DropRows)).expect_err("nothing left");
        assert!(matches!(err, DataError::EmptyFile { what, .. } if what.contains("missing")));
    }

    #[rstest::rstest]
    #[case::missing_feature("a,y\n1,2\n", "\"b\" is missing")]
    #[case::extra_column("a,b,c,y\n1,2,3,4\n", "column \"c\" is not one the model reads")]
    #[case::wrong_order("b,a,y\n1,2,3\n", "in the order [\"b\", \"a\"]")]
    #[case::non_numeric("a,b\n1,x\n", "\"x\" is not a finite number")]
    #[case::missing_cell("a,b\n1,\n", "missing value")]
    fn rows_for_a_model_must_match_its_columns(#[case] text: &str, #[case] expected: &str) {
        let (_dir, path) = write(text);
        let features = [String::from("a"), String::from("b")];
        let err = read_inputs(&path, &features, "y", &[], false, Missing::Error).expect_err("bad");
        assert!(err.to_string().contains(expected), "{err}");
    }

    #[test]
    fn rows_for_a_model_take_the_target_anywhere_and_encode_it_with_the_model_labels() {
        let features = [String::from("a"), String::from("b")];
        let (_dir, path) = write("label,a,b\ncat,1,2\ndog,3,4\n");
        let rows =
            read_inputs(&path, &features, "label", &[], true, Missing::Error).expect("reads");
        assert_eq!(floats(&rows.x), [1.0, 2.0, 3.0, 4.0]);
        let cells = rows.target.expect("the target is there");
        let names = [
            String::from("ant"),
            String::from("cat"),
            String::from("dog"),
        ];
        let y = encode_targets(&path, "label", &cells, CsvTask::Classification, &names)
            .expect("known labels");
        assert_eq!(Vec::<i64>::try_from(&y).expect("ints"), [1, 2]);
        let err = encode_targets(&path, "label", &cells, CsvTask::Classification, &names[..2])
            .expect_err("dog is unknown");
        assert!(err.to_string().contains("line 3: label \"dog\""), "{err}");
        // Integer labels match by value; binary labels map to −1/+1 in the model's order.
        let cells = vec![(2, "2020".to_string()), (3, "2019.0".to_string())];
        let years = [String::from("2019"), String::from("2020")];
        let y = encode_targets(&path, "t", &cells, CsvTask::Binary, &years).expect("binary");
        assert_eq!(floats(&y), [1.0, -1.0]);
        // Without the target, evaluation refuses and prediction goes on.
        let (_dir, path) = write("a,b\n1,2\n");
        assert!(read_inputs(&path, &features, "label", &[], true, Missing::Error).is_err());
        let rows =
            read_inputs(&path, &features, "label", &[], false, Missing::Error).expect("reads");
        assert!(rows.target.is_none());
        // Columns the training file had and the model did not read are skipped, not errors.
        let (_dir2, with_notes) = write("note,a,label,b\nx,1,cat,2\n");
        let unused = [String::from("note")];
        let rows = read_inputs(
            &with_notes,
            &features,
            "label",
            &unused,
            true,
            Missing::Error,
        )
        .expect("reads");
        assert_eq!(floats(&rows.x), [1.0, 2.0]);
        assert!(read_inputs(&with_notes, &features, "label", &[], true, Missing::Error).is_err());
    }
}
