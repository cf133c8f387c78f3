//! What a run does to its data before the model sees it, fitted on the training rows only and
//! stored in the run folder (`scaler.json`) so that every later input (test rows, `eval`,
//! `predict`) goes through the same map.

use crate::error::RunError;
use crate::sections::DataSection;
use ebm_data::{CsvTask, Dataset, ScaleKind, Scaler, TargetKind};
use serde::{Deserialize, Serialize};

/// The fitted feature and target scalers of a run, with the columns they belong to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Preprocess {
    /// The feature columns, in the model's order.
    pub features: Vec<String>,
    /// The target column and what it holds, for tables (CSV, bundled); `None` for generators.
    pub target: Option<(String, CsvTask)>,
    /// Columns of the training file the model does not read (`data.features` left them out);
    /// rows to predict may have them.
    #[serde(default)]
    pub unused_columns: Vec<String>,
    /// The feature scaler.
    pub x: Scaler,
    /// The target scaler of real-valued targets (`None` for labels and densities).
    pub y: Option<Scaler>,
}

impl Preprocess {
    /// Fits the section's scalers on `train` (the training rows, never the test rows).
    pub fn fit(
        section: &DataSection,
        train: &Dataset,
        unused_columns: &[String],
    ) -> Result<Preprocess, RunError> {
        let x = Scaler::fit(section.scale, &train.x)?;
        let y = match train.kind {
            TargetKind::Regression => Some(Scaler::fit(section.target_scale, &train.y)?),
            TargetKind::Classes { .. } | TargetKind::Binary | TargetKind::Density => None,
        };
        Ok(Preprocess {
            features: train.feature_names.clone(),
            target: section
                .source
                .table_target()
                .map(|(name, task)| (name.to_string(), task)),
            unused_columns: unused_columns.to_vec(),
            x,
            y,
        })
    }

    /// `data` as the model sees it: features (and real-valued targets) scaled.
    pub fn apply(&self, data: &Dataset) -> Result<Dataset, RunError> {
        let mut out = data.shallow_clone();
        out.x = self.x.apply(&data.x)?;
        if let (Some(y), TargetKind::Regression) = (&self.y, data.kind) {
            out.y = y.apply(&data.y)?;
        }
        Ok(out)
    }

    /// Whether the targets are scaled (metrics then convert predictions back).
    pub fn scales_targets(&self) -> bool {
        self.y.as_ref().is_some_and(|y| y.kind != ScaleKind::None)
    }
}
