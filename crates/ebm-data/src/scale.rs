//! Feature and target scaling: a [`Scaler`] is fitted on the training rows only and applied,
//! unchanged, to every later input (test rows, evaluation data, rows to predict).

use crate::error::{DataError, Result};
use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

/// How columns are scaled (`data.scale`, `data.target_scale`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScaleKind {
    /// (v − mean) / std per column, the population std (as scikit-learn's `StandardScaler`).
    Standard,
    /// (v − min) / (max − min) per column: the training rows span [0, 1].
    Minmax,
    /// The values as they are.
    None,
}

impl ScaleKind {
    /// The name as written in configs.
    pub fn name(self) -> &'static str {
        match self {
            ScaleKind::Standard => "standard",
            ScaleKind::Minmax => "minmax",
            ScaleKind::None => "none",
        }
    }
}

/// A fitted per-column affine map: `scaled = (v − offset) / factor`.
///
/// A column that is constant on the training rows gets factor 1 (its values move to 0 and stay
/// distinguishable from later, different values) rather than a division by zero.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scaler {
    /// How it was fitted.
    pub kind: ScaleKind,
    /// Subtracted from each column.
    pub offset: Vec<f64>,
    /// Each column is divided by it (> 0).
    pub factor: Vec<f64>,
}

impl Scaler {
    /// Fits `kind` on the rows of `values` (`[N, d]`, N ≥ 1, finite).
    pub fn fit(kind: ScaleKind, values: &Tensor) -> Result<Scaler> {
        let size = values.size();
        let bad = |reason: &str| DataError::Invalid {
            field: "scale",
            reason: reason.to_string(),
            value: format!("values of shape {size:?}"),
        };
        if size.len() != 2 {
            return Err(bad("needs a [rows, columns] table"));
        }
        let d = size[1] as usize;
        if kind == ScaleKind::None {
            return Ok(Scaler::identity(d));
        }
        if size[0] == 0 {
            return Err(bad("cannot be fitted on no rows"));
        }
        let v = values.f_to_kind(Kind::Double)?;
        let (offset, spread) = match kind {
            ScaleKind::Standard => (
                v.f_mean_dim(0, false, Kind::Double)?,
                v.f_std_correction(0, 0, false)?,
            ),
            ScaleKind::Minmax => {
                let (lo, _) = v.f_min_dim(0, false)?;
                let (hi, _) = v.f_max_dim(0, false)?;
                let span = hi.f_sub(&lo)?;
                (lo, span)
            }
            ScaleKind::None => unreachable!("returned above"),
        };
        let offset = Vec::<f64>::try_from(offset)?;
        let factor: Vec<f64> = Vec::<f64>::try_from(spread)?
            .into_iter()
            .map(|s| if s.is_finite() && s > 1e-12 { s } else { 1.0 })
            .collect();
        if offset.iter().any(|o| !o.is_finite()) {
            return Err(bad("needs finite values"));
        }
        Ok(Scaler {
            kind,
            offset,
            factor,
        })
    }

    /// The map that changes nothing, for `d` columns.
    pub fn identity(d: usize) -> Scaler {
        Scaler {
            kind: ScaleKind::None,
            offset: vec![0.0; d],
            factor: vec![1.0; d],
        }
    }

    /// Number of columns.
    pub fn width(&self) -> usize {
        self.offset.len()
    }

    fn check_width(&self, values: &Tensor) -> Result<()> {
        let size = values.size();
        if size.len() != 2 || size[1] != self.width() as i64 {
            return Err(DataError::Invalid {
                field: "scale",
                reason: format!("was fitted on {} columns", self.width()),
                value: format!("values of shape {size:?}"),
            });
        }
        Ok(())
    }

    fn row_tensors(&self, like: &Tensor) -> Result<(Tensor, Tensor)> {
        let offset = Tensor::from_slice(&self.offset)
            .f_to_kind(like.kind())?
            .f_to_device(like.device())?;
        let factor = Tensor::from_slice(&self.factor)
            .f_to_kind(like.kind())?
            .f_to_device(like.device())?;
        Ok((offset, factor))
    }

    /// `(values − offset) / factor`, `[N, d]`, in the kind and on the device of `values`.
    pub fn apply(&self, values: &Tensor) -> Result<Tensor> {
        self.check_width(values)?;
        if self.kind == ScaleKind::None {
            return Ok(values.shallow_clone());
        }
        let (offset, factor) = self.row_tensors(values)?;
        Ok(values.f_sub(&offset)?.f_div(&factor)?)
    }

    /// The inverse: scaled values back in the user's units.
    pub fn invert(&self, values: &Tensor) -> Result<Tensor> {
        self.check_width(values)?;
        if self.kind == ScaleKind::None {
            return Ok(values.shallow_clone());
        }
        let (offset, factor) = self.row_tensors(values)?;
        Ok(values.f_mul(&factor)?.f_add(&offset)?)
    }

    /// The inverse of one row of plain numbers.
    pub fn invert_row(&self, row: &[f64]) -> Vec<f64> {
        row.iter()
            .zip(self.offset.iter().zip(&self.factor))
            .map(|(v, (o, f))| v * f + o)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn values(rows: &[[f64; 2]]) -> Tensor {
        Tensor::from_slice(&rows.concat()).view([rows.len() as i64, 2])
    }

    fn floats(t: &Tensor) -> Vec<f64> {
        Vec::<f64>::try_from(t.to_kind(Kind::Double).flatten(0, -1)).expect("values")
    }

    #[test]
    fn standard_and_minmax_by_hand() {
        // Column 0: 1, 2, 3 (mean 2, population std √(2/3)); column 1: 10, 10, 40.
        let v = values(&[[1.0, 10.0], [2.0, 10.0], [3.0, 40.0]]);
        let s = Scaler::fit(ScaleKind::Standard, &v).expect("fits");
        assert_eq!(s.offset, [2.0, 20.0]);
        assert!((s.factor[0] - (2.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert!((s.factor[1] - 200.0f64.sqrt()).abs() < 1e-12);
        let m = Scaler::fit(ScaleKind::Minmax, &v).expect("fits");
        assert_eq!(
            (m.offset.clone(), m.factor.clone()),
            (vec![1.0, 10.0], vec![2.0, 30.0])
        );
        assert_eq!(
            floats(&m.apply(&v).expect("applies")),
            [0.0, 0.0, 0.5, 0.0, 1.0, 1.0]
        );
        let none = Scaler::fit(ScaleKind::None, &v).expect("fits");
        assert_eq!(floats(&none.apply(&v).expect("applies")), floats(&v));
    }

    #[test]
    fn a_constant_column_gets_factor_one_and_bad_shapes_are_errors() {
        let v = values(&[[5.0, 1.0], [5.0, 2.0]]);
        let s = Scaler::fit(ScaleKind::Standard, &v).expect("fits");
        assert_eq!(s.factor[0], 1.0);
        assert_eq!(
            floats(&s.apply(&values(&[[7.0, 1.5]])).expect("ok"))[0],
            2.0
        );
        let err = s.apply(&Tensor::zeros([3, 3], (Kind::Float, tch::Device::Cpu)));
        assert!(matches!(
            err,
            Err(DataError::Invalid { field: "scale", .. })
        ));
        let empty = Tensor::zeros([0, 2], (Kind::Float, tch::Device::Cpu));
        assert!(Scaler::fit(ScaleKind::Standard, &empty).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        /// Standard scaling gives training columns of mean 0 and std 1 (or 0 when constant);
        /// min-max gives [0, 1]; `invert` undoes `apply`.
        #[test]
        fn scaled_training_rows_have_the_promised_moments(
            rows in proptest::collection::vec((-1e3f64..1e3, -1e3f64..1e3), 2..40),
        ) {
            let v = Tensor::from_slice(&rows.iter().flat_map(|&(a, b)| [a, b]).collect::<Vec<_>>())
                .view([rows.len() as i64, 2]);
            let s = Scaler::fit(ScaleKind::Standard, &v).expect("fits");
            let z = s.apply(&v).expect("applies");
            for (j, m) in floats(&z.mean_dim(0, false, Kind::Double)).into_iter().enumerate() {
                prop_assert!(m.abs() < 1e-9, "column {j}: mean {m}");
            }
            for sd in floats(&z.std_correction(0, 0, false)) {
                prop_assert!((sd - 1.0).abs() < 1e-9 || sd < 1e-9, "std {sd}");
            }
            let back = floats(&s.invert(&z).expect("inverts"));
            for (a, b) in back.iter().zip(floats(&v)) {
                prop_assert!((a - b).abs() < 1e-9 * (1.0 + b.abs()));
            }
            let m = Scaler::fit(ScaleKind::Minmax, &v).expect("fits");
            for x in floats(&m.apply(&v).expect("applies")) {
                prop_assert!((-1e-12..=1.0 + 1e-12).contains(&x));
            }
        }
    }
}
