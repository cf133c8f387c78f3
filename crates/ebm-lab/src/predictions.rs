//! What a trained model says about each input row, as a table: the run writes it for its own
//! data (`predictions.csv`, with the split of each row) and `ebm-lab predict` for new rows, by
//! the same function, so the two agree to the last digit on the same rows.
//!
//! - Classifiers: `predicted` (the user's label), `energy_<label>` for every class and
//!   `p_<label>`, the Gibbs probabilities P(y|x) ∝ e^(−βE(x,y)) at the run's calibrated β.
//! - Continuous answers: `y_hat` (or `y_hat_1`, … for several target columns) the best
//!   answer in the user's units, `energy` its energy, `set_size` and `prediction_set`, the
//!   distinct minima within `eval.energy_window` of the best (answers separated by `;`, the
//!   coordinates of one answer by spaces).

use crate::error::RunError;
use crate::evaluate::{class_energies, prediction_set};
use crate::preprocess::Preprocess;
use ebm_arch::{Architecture, Prediction};
use ebm_core::calibration::probabilities;
use std::path::Path;
use tch::{Device, Kind, Tensor};

/// A header and rows of cells.
#[derive(Debug, Clone, PartialEq)]
pub struct PredictionTable {
    /// Column names.
    pub header: Vec<String>,
    /// One row per input row, as many cells as the header.
    pub rows: Vec<Vec<String>>,
}

impl PredictionTable {
    /// The table with a first column `name` of `values`, one per row.
    pub fn with_first_column(mut self, name: &str, values: &[String]) -> PredictionTable {
        self.header.insert(0, name.to_string());
        for (row, v) in self.rows.iter_mut().zip(values) {
            row.insert(0, v.clone());
        }
        self
    }

    /// Writes the table as CSV to `path` atomically (a temporary file beside it, renamed).
    pub fn write(&self, path: &Path) -> Result<(), RunError> {
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let tmp = tempfile::NamedTempFile::new_in(dir).map_err(RunError::io(path))?;
        {
            let mut writer = csv::Writer::from_writer(std::io::BufWriter::new(tmp.as_file()));
            let csv_err = |e: csv::Error| RunError::Io {
                path: path.to_path_buf(),
                source: std::io::Error::other(e.to_string()),
            };
            writer.write_record(&self.header).map_err(csv_err)?;
            for row in &self.rows {
                writer.write_record(row).map_err(csv_err)?;
            }
            writer.flush().map_err(RunError::io(path))?;
        }
        tmp.persist(path).map_err(|e| RunError::io(path)(e.error))?;
        Ok(())
    }
}

/// The prediction of `model` for each row of `x` (as the model sees it: scaled), with
/// `classes` the user's label of each class index, `beta` the calibrated β and `window` the
/// prediction set's energy window. libtorch's generator is seeded with `seed` first: gradient
/// descent starts from random points, and the same rows with the same seed give the same table.
pub fn predict_table(
    model: &dyn Architecture,
    x: &Tensor,
    preprocess: &Preprocess,
    classes: &[String],
    beta: f64,
    window: f64,
    seed: u64,
) -> Result<PredictionTable, RunError> {
    tch::manual_seed(seed as i64);
    if let Some((energies, k)) = class_energies(model, x)? {
        let names: Vec<String> = (0..k)
            .map(|i| classes.get(i).cloned().unwrap_or_else(|| i.to_string()))
            .collect();
        let mut header = vec!["predicted".to_string()];
        header.extend(names.iter().map(|n| format!("energy_{n}")));
        header.extend(names.iter().map(|n| format!("p_{n}")));
        let rows = energies
            .chunks_exact(k.max(1))
            .map(|row| {
                let best = row
                    .iter()
                    .enumerate()
                    .fold(0, |b, (i, e)| if *e < row[b] { i } else { b });
                let mut cells = vec![names[best].clone()];
                cells.extend(row.iter().map(|e| e.to_string()));
                cells.extend(probabilities(row, beta).iter().map(|p| p.to_string()));
                cells
            })
            .collect();
        return Ok(PredictionTable { header, rows });
    }
    let Prediction::Continuous { y, minima } = model.predict(x)? else {
        return Err(RunError::Usage(format!(
            "the {} model gives neither class energies nor continuous answers",
            model.name()
        )));
    };
    let y = match &preprocess.y {
        Some(s) => s.invert(&y)?,
        None => y,
    };
    let d = y.size().get(1).copied().unwrap_or(1) as usize;
    let best = Vec::<f64>::try_from(
        y.f_to_kind(Kind::Double)?
            .f_to_device(Device::Cpu)?
            .f_flatten(0, -1)?,
    )?;
    let mut header: Vec<String> = if d == 1 {
        vec!["y_hat".into()]
    } else {
        (1..=d).map(|j| format!("y_hat_{j}")).collect()
    };
    header.extend(["energy", "set_size", "prediction_set"].map(String::from));
    let unscale = |v: &[f64]| match &preprocess.y {
        Some(s) => s.invert_row(v),
        None => v.to_vec(),
    };
    let rows = minima
        .iter()
        .enumerate()
        .map(|(i, row)| {
            let set = prediction_set(row, window);
            let mut cells: Vec<String> = best[i * d..(i + 1) * d]
                .iter()
                .map(f64::to_string)
                .collect();
            cells.push(row.first().map_or(f64::NAN, |m| m.energy).to_string());
            cells.push(set.len().to_string());
            cells.push(
                set.iter()
                    .map(|m| {
                        unscale(&m.y)
                            .iter()
                            .map(f64::to_string)
                            .collect::<Vec<_>>()
                            .join(" ")
                    })
                    .collect::<Vec<_>>()
                    .join(";"),
            );
            cells
        })
        .collect();
    Ok(PredictionTable { header, rows })
}
