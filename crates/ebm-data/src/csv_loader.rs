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

/// Reads `path` (a header line, then one example per line; cells trimmed) into a [`Dataset`]
/// with the columns named in `features` (in that order; `None`: every column but the target)
/// as `x` and the column `target` as `y`, read as `task` says.
///
/// Errors name the file and, where it applies, the line (the header is line 1), the column and
/// the cell: [`DataError::EmptyFile`], [`DataError::UnknownColumn`] (listing the header's
/// columns), [`DataError::RaggedRow`], [`DataError::NonNumeric`], [`DataError::BadLabels`],
/// [`DataError::DuplicateColumn`], [`DataError::BadColumns`]. Class-name mappings are returned
/// in [`Dataset::class_names`].
pub fn load_csv(
    path: &Path,
    features: Option<&[String]>,
    target: &str,
    task: CsvTask,
) -> Result<Dataset> {
    let file = std::fs::File::open(path).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let csv_err = |source| DataError::Csv {
        path: path.to_path_buf(),
        source,
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(file);
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
    let column = |role: &'static str, name: &str| -> Result<usize> {
        header
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| DataError::UnknownColumn {
                path: path.to_path_buf(),
                role,
                name: name.to_string(),
                available: header.clone(),
            })
    };
    let target_name = target;
    let target = column("target", target_name)?;
    let features: Vec<usize> = match features {
        Some(names) => names
            .iter()
            .map(|name| column("feature", name))
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

    let mut x = Vec::new();
    let mut labels: Vec<(u64, String)> = Vec::new();
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
        for &j in &features {
            x.push(parse_number(path, line, &header[j], &record[j])? as f32);
        }
        labels.push((line, record[target].to_string()));
    }
    let n = labels.len();
    if n == 0 {
        return Err(DataError::EmptyFile {
            path: path.to_path_buf(),
            what: "no data rows after the header",
        });
    }
    let x = Tensor::from_slice(&x).f_view([n as i64, features.len() as i64])?;
    let (y, kind, class_names) = match task {
        CsvTask::Regression => {
            let y = labels
                .iter()
                .map(|(line, cell)| parse_number(path, *line, target_name, cell).map(|v| v as f32))
                .collect::<Result<Vec<f32>>>()?;
            (
                Tensor::from_slice(&y).f_view([n as i64, 1])?,
                TargetKind::Regression,
                vec![],
            )
        }
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
    Ok(Dataset {
        x,
        y,
        kind,
        latent: None,
        feature_names: features.iter().map(|&j| header[j].clone()).collect(),
        class_names,
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

fn check_no_empty_label(path: &Path, column: &str, labels: &[(u64, String)]) -> Result<()> {
    match labels.iter().find(|(_, cell)| cell.is_empty()) {
        Some((line, _)) => Err(bad_labels(
            path,
            column,
            format!("line {line}: empty label"),
        )),
        None => Ok(()),
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
    check_no_empty_label(path, column, labels)?;
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
    check_no_empty_label(path, column, labels)?;
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
        // A regression target, an empty cell and a NaN are caught the same way.
        let err = load("a,y\n1,2\n3,high\n", None, "y", CsvTask::Regression).expect_err("target");
        assert!(matches!(&err, DataError::NonNumeric { line: 3, column, .. } if column == "y"));
        let err = load("a,y\n,2\n", None, "y", CsvTask::Regression).expect_err("empty");
        assert!(matches!(&err, DataError::NonNumeric { line: 2, cell, .. } if cell.is_empty()));
        let err = load("a,y\nNaN,2\n", None, "y", CsvTask::Regression).expect_err("nan");
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
            matches!(&err, DataError::BadLabels { reason, .. } if reason.contains("line 3")),
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
}
