//! # ebm-data
//!
//! Data for `ebm`: the [`Dataset`] type, seeded generators of the toy sets of the 2006
//! tutorial and of density learning, a CSV loader for users' tables, the seeded train/test
//! [`split`], and [`DataConfig`], the `data = { kind = ... }` table of a run config, with
//! [`DataError`] for everything that can go wrong.
//!
//! ```
//! use ebm_data::{split, DataConfig, TargetKind};
//!
//! let data: DataConfig = toml::from_str(r#"kind = "two_moons"
//! n = 100
//! noise = 0.1"#).unwrap();
//! let data = data.generate(7).unwrap();
//! assert_eq!(data.kind, TargetKind::Binary);
//! let (train, test) = split(&data, 0.2, 7).unwrap();
//! assert_eq!((train.len(), test.len()), (80, 20));
//!
//! // A bad hyperparameter is a typed error naming the field.
//! let bad: DataConfig = toml::from_str(r#"kind = "sine"
//! n = 0"#).unwrap();
//! assert!(bad.generate(0).unwrap_err().to_string().contains("n must be >= 1"));
//! ```
//!
//! What it does not do: it knows no model, loss or plot; it never touches libtorch's global
//! random generator.
//!
//! # Randomness
//! Generators and [`split`] draw from a seeded generator of this crate ([`SeededRng`],
//! xoshiro256**), never from libtorch's global generator: making data does not disturb
//! `tch::manual_seed` state, and a seed gives the same data on every platform.
//!
//! # Layout
//! Tensors live on the CPU with kind `Float` (labels `Int64`); move them with
//! [`Dataset::to_device`]. Rows are examples (dim 0).
//!
//! | [`TargetKind`] | `x` | `y` |
//! |---|---|---|
//! | `Regression` | Float `[N, dx]` | Float `[N, dy]` |
//! | `Classes` | Float `[N, dx]` | Int64 `[N]`, values in `0..n_classes` |
//! | `Binary` | Float `[N, dx]` | Float `[N]`, values −1 or +1 |
//! | `Density` | Float `[N, 0]` (no input) | Float `[N, d]`, the samples |
//!
//! Densities put their points in `y`, the answer an energy E(x, y) scores and a Langevin
//! sampler moves, with an empty `x`.

mod bundled;
mod config;
mod csv_loader;
mod error;
mod generators;
mod rng;
mod scale;

pub use bundled::{bundled, Bundled};
pub use config::{
    BlobsConfig, CircleConfig, CsvConfig, DataConfig, EightGaussiansConfig, GaussianMixtureConfig,
    LatentMixtureConfig, MultimodalConfig, NoFields, ParabolaConfig, RingsConfig, SineConfig,
    SpiralsConfig, TwoBranchConfig, TwoMoonsConfig,
};
pub use csv_loader::{
    encode_targets, is_missing, load_csv, load_csv_file, load_csv_from, read_inputs, CsvColumns,
    CsvTask, InputRows, Loaded, Missing, MISSING_CELLS,
};
pub use error::{DataError, Result};
pub use generators::{
    blobs, circle, eight_gaussians, gaussian_mixture, gaussian_mixture_log_density, latent_mixture,
    multimodal, parabola, rings, sine, spirals, two_branch, two_moons, BinaryLabels,
};
pub use rng::SeededRng;
pub use scale::{ScaleKind, Scaler};

use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

/// What the targets `y` of a [`Dataset`] are (see the module docs for shapes and kinds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TargetKind {
    /// Real-valued targets, Float `[N, dy]`.
    Regression,
    /// Class indices, Int64 `[N]` in `0..n_classes`.
    Classes {
        /// Number of classes (≥ 2).
        n_classes: i64,
    },
    /// Binary labels, Float `[N]` of −1 or +1.
    Binary,
    /// Samples of a density in `y` (Float `[N, d]`), with an empty input `x` (`[N, 0]`).
    Density,
}

/// A data set: inputs `x`, targets `y` and what the targets are.
#[derive(Debug)]
pub struct Dataset {
    /// Inputs, Float `[N, dx]` (`dx = 0` for densities).
    pub x: Tensor,
    /// Targets; shape and kind depend on [`Dataset::kind`].
    pub y: Tensor,
    /// What `y` holds.
    pub kind: TargetKind,
    /// The hidden variable, Float `[N, 1]`, where the generator knows it (the latent mixture's
    /// z ∈ {−1, +1}, the two-branch data's sign); never a model input.
    pub latent: Option<Tensor>,
    /// Every admissible answer of every row, Float `[N, M, d]`, where the generator knows
    /// them (the multimodal task's M modes at each x); never a model input. Evaluation
    /// measures how many of them the predictions cover.
    pub answer_sets: Option<Tensor>,
    /// Names of the input columns (`x`, `x1`, ..., or the CSV header's).
    pub feature_names: Vec<String>,
    /// For `Classes`, the name of each class index; for `Binary`, the names of −1 and +1
    /// (in that order). Empty for `Regression` and `Density`. CSV string labels map to
    /// indices in sorted order; this is that mapping.
    pub class_names: Vec<String>,
}

impl Dataset {
    /// Checks shapes and kinds agree with [`Dataset::kind`] and return the number of rows.
    pub fn check(&self) -> Result<i64> {
        let bad = |what: &str| DataError::Invalid {
            field: "dataset",
            reason: "has inconsistent tensors".into(),
            value: what.to_string(),
        };
        let xs = self.x.size();
        let ys = self.y.size();
        if xs.len() != 2 || self.x.kind() != Kind::Float {
            return Err(bad(&format!("x is {:?} {:?}", self.x.kind(), xs)));
        }
        let n = xs[0];
        let y_ok = match self.kind {
            TargetKind::Regression | TargetKind::Density => {
                ys.len() == 2 && self.y.kind() == Kind::Float
            }
            TargetKind::Classes { .. } => ys.len() == 1 && self.y.kind() == Kind::Int64,
            TargetKind::Binary => ys.len() == 1 && self.y.kind() == Kind::Float,
        };
        if !y_ok || ys[0] != n {
            return Err(bad(&format!(
                "y is {:?} {:?} for {:?} with x {:?}",
                self.y.kind(),
                ys,
                self.kind,
                xs
            )));
        }
        if let Some(z) = &self.latent {
            if z.size() != [n, 1] {
                return Err(bad(&format!("latent is {:?}", z.size())));
            }
        }
        if let Some(a) = &self.answer_sets {
            let dims = a.size();
            if dims.len() != 3 || dims[0] != n || Some(dims[2]) != ys.get(1).copied() {
                return Err(bad(&format!("answer sets are {dims:?} for y {ys:?}")));
            }
        }
        Ok(n)
    }

    /// Number of examples N.
    pub fn len(&self) -> i64 {
        self.x.size().first().copied().unwrap_or(0)
    }

    /// Whether there is no example.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Input dimension dx (0 for densities).
    pub fn x_dim(&self) -> i64 {
        self.x.size().get(1).copied().unwrap_or(0)
    }

    /// Columns of `y` for `Regression` and `Density`; `None` for label targets.
    pub fn y_dim(&self) -> Option<i64> {
        match self.kind {
            TargetKind::Regression | TargetKind::Density => self.y.size().get(1).copied(),
            TargetKind::Classes { .. } | TargetKind::Binary => None,
        }
    }

    /// A copy sharing storage with `self`.
    pub fn shallow_clone(&self) -> Dataset {
        Dataset {
            x: self.x.shallow_clone(),
            y: self.y.shallow_clone(),
            kind: self.kind,
            latent: self.latent.as_ref().map(Tensor::shallow_clone),
            answer_sets: self.answer_sets.as_ref().map(Tensor::shallow_clone),
            feature_names: self.feature_names.clone(),
            class_names: self.class_names.clone(),
        }
    }

    /// The same data on `device`.
    pub fn to_device(&self, device: Device) -> Dataset {
        Dataset {
            x: self.x.to_device(device),
            y: self.y.to_device(device),
            latent: self.latent.as_ref().map(|z| z.to_device(device)),
            answer_sets: self.answer_sets.as_ref().map(|a| a.to_device(device)),
            ..self.shallow_clone()
        }
    }

    /// The rows at `indices` (in that order). Fails on an index out of range.
    pub fn select(&self, indices: &[i64]) -> Result<Dataset> {
        let idx = Tensor::from_slice(indices).to_device(self.x.device());
        Ok(Dataset {
            x: self.x.f_index_select(0, &idx)?,
            y: self.y.f_index_select(0, &idx)?,
            latent: match &self.latent {
                Some(z) => Some(z.f_index_select(0, &idx)?),
                None => None,
            },
            answer_sets: match &self.answer_sets {
                Some(a) => Some(a.f_index_select(0, &idx)?),
                None => None,
            },
            ..self.shallow_clone()
        })
    }

    /// The points a 2-D plot draws for this data set: (x, y) for 1-D regression, (x₁, x₂) for
    /// 2-D inputs with labels, (y₁, y₂) for 2-D densities. `None` when the data is not 2-D in
    /// one of these senses.
    pub fn plot_points(&self) -> Result<Option<Vec<(f64, f64)>>> {
        let pair = |a: &Tensor, b: &Tensor| -> Result<Vec<(f64, f64)>> {
            let a = Vec::<f64>::try_from(a.f_to_kind(Kind::Double)?.f_flatten(0, -1)?)?;
            let b = Vec::<f64>::try_from(b.f_to_kind(Kind::Double)?.f_flatten(0, -1)?)?;
            Ok(a.into_iter().zip(b).collect())
        };
        let x_dim = self.x_dim();
        let points = match self.kind {
            TargetKind::Regression if x_dim == 1 && self.y_dim() == Some(1) => {
                Some(pair(&self.x, &self.y)?)
            }
            TargetKind::Classes { .. } | TargetKind::Binary if x_dim == 2 => {
                Some(pair(&self.x.f_select(1, 0)?, &self.x.f_select(1, 1)?)?)
            }
            TargetKind::Density if self.y_dim() == Some(2) => {
                Some(pair(&self.y.f_select(1, 0)?, &self.y.f_select(1, 1)?)?)
            }
            _ => None,
        };
        Ok(points)
    }

    /// Labels as class indices: `Classes` as they are, `Binary` as 0 (for −1) and 1 (for +1).
    /// `None` for `Regression` and `Density`.
    pub fn label_indices(&self) -> Result<Option<Vec<i64>>> {
        let labels = match self.kind {
            TargetKind::Classes { .. } => Some(Vec::<i64>::try_from(
                self.y.f_to_kind(Kind::Int64)?.f_to_device(Device::Cpu)?,
            )?),
            TargetKind::Binary => Some(Vec::<i64>::try_from(
                self.y
                    .f_gt(0.0)?
                    .f_to_kind(Kind::Int64)?
                    .f_to_device(Device::Cpu)?,
            )?),
            TargetKind::Regression | TargetKind::Density => None,
        };
        Ok(labels)
    }
}

/// The (train, test) row counts [`split`] makes of `n` rows: `round(n · test_fraction)` test
/// rows, at most `n − 1`, so that at least one row trains.
pub fn split_sizes(n: usize, test_fraction: f64) -> (usize, usize) {
    if n == 0 {
        return (0, 0);
    }
    let test = ((n as f64 * test_fraction).round() as usize).min(n - 1);
    (n - test, test)
}

/// Splits `dataset` into (train, test) by a permutation fixed by `seed`.
///
/// The test set gets `round(N · test_fraction)` rows, at most N − 1, so the training set is never
/// empty; `test_fraction = 0` gives an empty test set. Fails unless 0 ≤ `test_fraction` < 1.
pub fn split(dataset: &Dataset, test_fraction: f64, seed: u64) -> Result<(Dataset, Dataset)> {
    let rows = split_rows(dataset, test_fraction, seed, false)?;
    Ok((dataset.select(&rows.train)?, dataset.select(&rows.test)?))
}

/// The rows of a split, as indices into the data set, each side in a seeded random order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitRows {
    /// Training rows.
    pub train: Vec<i64>,
    /// Test rows.
    pub test: Vec<i64>,
}

/// The rows [`split`] (or, with `stratify`, a stratified split) puts on each side.
///
/// Stratified: every class (of `Classes` or `Binary` targets) gets `round(n_c · test_fraction)`
/// test rows, at least 1 and at most n_c − 1 when `test_fraction > 0`, so that every class is on
/// both sides; a class of a single row is an error naming it. Other targets split plainly.
pub fn split_rows(
    dataset: &Dataset,
    test_fraction: f64,
    seed: u64,
    stratify: bool,
) -> Result<SplitRows> {
    if !(0.0..1.0).contains(&test_fraction) {
        return Err(DataError::Invalid {
            field: "test_fraction",
            reason: "must be in [0, 1)".into(),
            value: test_fraction.to_string(),
        });
    }
    let n = dataset.check()?;
    if n == 0 {
        return Err(DataError::Invalid {
            field: "dataset",
            reason: "must have at least one row to split".into(),
            value: "0 rows".into(),
        });
    }
    let order: Vec<i64> = SeededRng::new(seed)
        .permutation(n as usize)
        .into_iter()
        .map(|i| i as i64)
        .collect();
    let labels = match stratify {
        true => dataset.label_indices()?,
        false => None,
    };
    let Some(labels) = labels.filter(|_| test_fraction > 0.0) else {
        let (_, n_test) = split_sizes(n as usize, test_fraction);
        let (test, train) = order.split_at(n_test);
        return Ok(SplitRows {
            train: train.to_vec(),
            test: test.to_vec(),
        });
    };
    let mut by_class: std::collections::BTreeMap<i64, Vec<i64>> = Default::default();
    for &i in &order {
        by_class.entry(labels[i as usize]).or_default().push(i);
    }
    let mut is_test = vec![false; n as usize];
    for (class, rows) in &by_class {
        let n_c = rows.len();
        if n_c < 2 {
            let name = dataset
                .class_names
                .get(*class as usize)
                .cloned()
                .unwrap_or_else(|| class.to_string());
            return Err(DataError::Invalid {
                field: "stratify",
                reason: format!(
                    "needs at least 2 rows of every class (one for each side of the split); class {name:?} has {n_c}"
                ),
                value: "true (set data.stratify = false to split without it)".into(),
            });
        }
        let t = ((n_c as f64 * test_fraction).round() as usize).clamp(1, n_c - 1);
        for &i in &rows[..t] {
            is_test[i as usize] = true;
        }
    }
    let (test, train): (Vec<i64>, Vec<i64>) = order.iter().partition(|&&i| is_test[i as usize]);
    Ok(SplitRows { train, test })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sorted_x(data: &Dataset) -> Vec<f64> {
        let mut v =
            Vec::<f64>::try_from(data.x.to_kind(Kind::Double).flatten(0, -1)).expect("values");
        v.sort_by(f64::total_cmp);
        v
    }

    #[test]
    fn split_sizes_cover_the_data_without_overlap() {
        let data = latent_mixture(100, 0.1, 0).expect("ok");
        let (train, test) = split(&data, 0.2, 3).expect("ok");
        assert_eq!((train.len(), test.len()), (80, 20));
        assert_eq!(train.check().expect("consistent"), 80);
        assert_eq!(test.latent.as_ref().map(Tensor::size), Some(vec![20, 1]));
        let mut joined = sorted_x(&train);
        joined.extend(sorted_x(&test));
        joined.sort_by(f64::total_cmp);
        assert_eq!(joined, sorted_x(&data));
        // Rows stay whole: y − x − 0.5 z is the noise, small, in both parts.
        for part in [&train, &test] {
            let z = part.latent.as_ref().expect("latent kept");
            let residual = (&part.y - &part.x - z * 0.5).abs().max().double_value(&[]);
            assert!(residual < 0.6, "rows were shuffled apart: {residual}");
        }
    }

    #[test]
    fn split_is_deterministic_by_seed() {
        let data = two_moons(60, 0.1, BinaryLabels::Indices, 1).expect("ok");
        let (a_train, a_test) = split(&data, 0.25, 7).expect("ok");
        let (b_train, b_test) = split(&data, 0.25, 7).expect("ok");
        let (c_train, _) = split(&data, 0.25, 8).expect("ok");
        assert!(a_train.x.equal(&b_train.x) && a_train.y.equal(&b_train.y));
        assert!(a_test.x.equal(&b_test.x) && a_test.y.equal(&b_test.y));
        assert!(!a_train.x.equal(&c_train.x));
        assert_eq!(a_train.kind, data.kind);
        assert_eq!(a_train.class_names, data.class_names);
    }

    #[test]
    fn split_edge_cases() {
        let data = sine(10, 0.1, 0).expect("ok");
        let (train, test) = split(&data, 0.0, 0).expect("ok");
        assert_eq!((train.len(), test.len()), (10, 0));
        assert_eq!(test.x.size(), [0, 1]);
        let (train, test) = split(&data, 0.99, 0).expect("ok");
        assert_eq!((train.len(), test.len()), (1, 9));
        let one = sine(1, 0.1, 0).expect("ok");
        let (train, test) = split(&one, 0.5, 0).expect("ok");
        assert_eq!((train.len(), test.len()), (1, 0));
        for bad in [-0.1, 1.0, 1.5, f64::NAN] {
            match split(&data, bad, 0) {
                Err(DataError::Invalid { field, .. }) => assert_eq!(field, "test_fraction"),
                other => panic!("test_fraction {bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn plot_points_and_label_indices() {
        let moons = two_moons(6, 0.0, BinaryLabels::Signs, 0).expect("ok");
        let points = moons.plot_points().expect("ok").expect("2-D inputs");
        assert_eq!(points.len(), 6);
        let x = Vec::<f32>::try_from(moons.x.flatten(0, -1)).expect("values");
        assert_eq!(points[1], (f64::from(x[2]), f64::from(x[3])));
        assert_eq!(
            moons.label_indices().expect("ok"),
            Some(vec![0, 1, 0, 1, 0, 1])
        );

        let curve = parabola(5, 0.0, 0).expect("ok");
        for (x, y) in curve.plot_points().expect("ok").expect("1-D x and y") {
            assert!((y - x * x).abs() < 1e-6);
        }
        assert_eq!(curve.label_indices().expect("ok"), None);
        assert_eq!(curve.y_dim(), Some(1));

        let ring = rings(5, 1, 0.0, 0).expect("ok");
        for (a, b) in ring.plot_points().expect("ok").expect("2-D density") {
            assert!((a * a + b * b - 1.0).abs() < 1e-5);
        }
        assert_eq!(ring.x_dim(), 0);
    }

    #[test]
    fn a_stratified_split_puts_every_class_on_both_sides() {
        // 3 classes of 50, 30 and 4 rows: 25 % of each class, rounded, at least one.
        let labels: Vec<i64> = [vec![0; 50], vec![1; 30], vec![2; 4]].concat();
        let n = labels.len() as i64;
        let data = Dataset {
            x: Tensor::arange(n, (Kind::Float, Device::Cpu)).view([n, 1]),
            y: Tensor::from_slice(&labels),
            kind: TargetKind::Classes { n_classes: 3 },
            latent: None,
            answer_sets: None,
            feature_names: vec!["x".into()],
            class_names: vec!["a".into(), "b".into(), "c".into()],
        };
        let rows = split_rows(&data, 0.25, 3, true).expect("splits");
        let count =
            |side: &[i64], c: i64| side.iter().filter(|&&i| labels[i as usize] == c).count();
        assert_eq!(
            (
                count(&rows.test, 0),
                count(&rows.test, 1),
                count(&rows.test, 2)
            ),
            (13, 8, 1)
        );
        assert_eq!(rows.train.len() + rows.test.len(), n as usize);
        let mut all: Vec<i64> = rows.train.iter().chain(&rows.test).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..n).collect::<Vec<_>>());
        assert_eq!(split_rows(&data, 0.25, 3, true).expect("splits"), rows);
        // A class of one row cannot be on both sides.
        let one = data.select(&(0..81).collect::<Vec<_>>()).expect("rows");
        let err = split_rows(&one, 0.25, 0, true).expect_err("class c has one row");
        assert!(err.to_string().contains("class \"c\" has 1"), "{err}");
        // Regression targets split plainly, as `split` does.
        let sine = sine(40, 0.1, 0).expect("ok");
        let (_, test) = split(&sine, 0.25, 5).expect("ok");
        let rows = split_rows(&sine, 0.25, 5, true).expect("ok");
        assert!(sine.select(&rows.test).expect("rows").x.equal(&test.x));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        #[test]
        fn stratified_test_shares_follow_each_class(k in 2usize..6, per in 2usize..30, f in 0.05f64..0.9, seed in any::<u64>()) {
            let data = blobs(k * per, k, 0.1, seed).expect("ok");
            let labels = data.label_indices().expect("ok").expect("labels");
            let rows = split_rows(&data, f, seed, true).expect("splits");
            for c in 0..k as i64 {
                let n_c = labels.iter().filter(|&&l| l == c).count();
                let t = rows.test.iter().filter(|&&i| labels[i as usize] == c).count();
                prop_assert!(t >= 1 && t < n_c, "class {} has {} of {} in test", c, t, n_c);
                prop_assert!((t as f64 - n_c as f64 * f).abs() <= 1.0);
            }
        }

        #[test]
        fn split_sizes_for_any_n_and_fraction(n in 1usize..120, f in 0.0f64..0.999, seed in any::<u64>()) {
            let data = blobs(n, 3, 0.1, 0).expect("ok");
            let (train, test) = split(&data, f, seed).expect("ok");
            let expected = ((n as f64 * f).round() as i64).min(n as i64 - 1);
            prop_assert_eq!(test.len(), expected);
            prop_assert_eq!(train.len() + test.len(), n as i64);
            prop_assert!(!train.is_empty());
        }

        #[test]
        fn labels_stay_in_range_for_any_seed(k in 2usize..7, seed in any::<u64>()) {
            let data = spirals(40, k, 1.0, 0.2, seed).expect("ok");
            let labels = data.label_indices().expect("ok").expect("labels");
            prop_assert!(labels.iter().all(|&c| (0..k as i64).contains(&c)));
        }
    }
}
