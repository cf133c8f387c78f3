//! The real data sets that ship with `ebm` (the repository's `data/` folder, compiled in):
//! iris, digits and diabetes, the small tables scikit-learn bundles. Sources and licences are in
//! `data/README.md`.

use crate::csv_loader::{load_csv_from, CsvColumns, CsvTask, Loaded, Missing};
use crate::error::Result;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// A bundled data set (`data.kind = "iris" | "digits" | "diabetes"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Bundled {
    /// Fisher's iris: 150 flowers, 4 measurements (cm), 3 species (text labels).
    Iris,
    /// Optical digits: 1,797 images of 8 × 8 pixels (0..16), digits 0..9.
    Digits,
    /// Diabetes progression (Efron et al. 2004): 442 patients, 10 raw baseline variables, a
    /// real-valued target.
    Diabetes,
}

impl Bundled {
    /// The name as written in configs.
    pub fn name(self) -> &'static str {
        match self {
            Bundled::Iris => "iris",
            Bundled::Digits => "digits",
            Bundled::Diabetes => "diabetes",
        }
    }

    /// The CSV text.
    pub fn text(self) -> &'static str {
        match self {
            Bundled::Iris => include_str!("../../../data/iris.csv"),
            Bundled::Digits => include_str!("../../../data/digits.csv"),
            Bundled::Diabetes => include_str!("../../../data/diabetes.csv"),
        }
    }

    /// The target column.
    pub fn target(self) -> &'static str {
        match self {
            Bundled::Iris => "species",
            Bundled::Digits => "digit",
            Bundled::Diabetes => "progression",
        }
    }

    /// What the target holds.
    pub fn task(self) -> CsvTask {
        match self {
            Bundled::Iris | Bundled::Digits => CsvTask::Classification,
            Bundled::Diabetes => CsvTask::Regression,
        }
    }

    /// The path errors name, and the file in the repository.
    pub fn path(self) -> &'static Path {
        Path::new(match self {
            Bundled::Iris => "data/iris.csv",
            Bundled::Digits => "data/digits.csv",
            Bundled::Diabetes => "data/diabetes.csv",
        })
    }
}

/// Loads a bundled data set: every column but the target as features.
pub fn bundled(which: Bundled) -> Result<Loaded> {
    load_csv_from(
        which.text().as_bytes(),
        which.path(),
        CsvColumns {
            features: None,
            target: which.target(),
            task: which.task(),
            missing: Missing::Error,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TargetKind;
    use tch::Kind;

    #[test]
    fn the_bundled_sets_have_their_published_shapes() {
        let iris = bundled(Bundled::Iris).expect("loads").dataset;
        assert_eq!(iris.x.size(), [150, 4]);
        assert_eq!(iris.kind, TargetKind::Classes { n_classes: 3 });
        assert_eq!(iris.class_names, ["setosa", "versicolor", "virginica"]);
        let counts = iris.y.bincount::<&tch::Tensor>(None, 3);
        assert_eq!(Vec::<i64>::try_from(counts).expect("ints"), [50, 50, 50]);

        let digits = bundled(Bundled::Digits).expect("loads").dataset;
        assert_eq!(digits.x.size(), [1797, 64]);
        assert_eq!(digits.kind, TargetKind::Classes { n_classes: 10 });
        assert_eq!(digits.x.max().double_value(&[]), 16.0);
        assert_eq!(digits.feature_names[63], "p63");

        let diabetes = bundled(Bundled::Diabetes).expect("loads").dataset;
        assert_eq!(diabetes.x.size(), [442, 10]);
        assert_eq!(diabetes.kind, TargetKind::Regression);
        let y = diabetes.y.to_kind(Kind::Double);
        assert_eq!(
            (y.min().double_value(&[]), y.max().double_value(&[])),
            (25.0, 346.0)
        );
        // The first row as published: age 59, sex 2, bmi 32.1, ..., progression 151.
        assert_eq!(diabetes.x.double_value(&[0, 0]), 59.0);
        assert!((diabetes.x.double_value(&[0, 2]) - 32.1).abs() < 1e-5);
        assert_eq!(y.double_value(&[0, 0]), 151.0);
    }
}
