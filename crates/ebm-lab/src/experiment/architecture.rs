//! What the five architectures of the tutorial share: training one with a tutorial loss,
//! accuracy or the continuous-answer scores, the checkpoint, and the landscape or
//! decision-region plot.

use super::base::{insert, RunContext, Trained};
use crate::error::RunError;
use crate::evaluate::{accuracy, continuous_scores, decision_regions, energy_landscape};
use crate::sections::LossSection;
use ebm_arch::{fit, save_checkpoint, Answers, Architecture, YRange};
use ebm_core::EbmError;
use ebm_data::TargetKind;
use std::collections::BTreeMap;

/// What a continuous-answer architecture adds to its run.
struct Continuous<'a> {
    /// The box of y (the landscape's y axis).
    y_range: &'a YRange,
    /// Whether `train_mse` is reported too (explicit regression).
    train_mse: bool,
}

/// Builds a continuous-answer architecture for the run's data (`build(x_dim, y_dim, device)`),
/// trains and measures it.
pub(super) fn run_continuous<A: Architecture>(
    context: &RunContext<'_>,
    build: impl FnOnce(i64, i64, tch::Device) -> ebm_core::Result<A>,
    y_range: &YRange,
    train_mse: bool,
) -> Result<Trained, RunError> {
    let train = &context.data.train;
    let model = build(
        train.x_dim(),
        train.y_dim().unwrap_or(1),
        context.data.device,
    )?;
    let continuous = Continuous { y_range, train_mse };
    run_architecture(context, &model, Some(continuous))
}

/// Trains a classifier (binary or multi-class) and measures it.
pub(super) fn run_classifier(
    context: &RunContext<'_>,
    model: &dyn Architecture,
) -> Result<Trained, RunError> {
    run_architecture(context, model, None)
}

/// Trains `model` with the run's tutorial loss and measures it.
fn run_architecture(
    context: &RunContext<'_>,
    model: &dyn Architecture,
    continuous: Option<Continuous<'_>>,
) -> Result<Trained, RunError> {
    let LossSection::Energy(loss) = context.loss else {
        return Err(EbmError::hyperparameter(
            "loss.kind",
            "does not go with an architecture of the tutorial",
            context.loss.kind_name(),
        )
        .into());
    };
    let data = context.data;
    let eval = context.eval;
    let loss = loss.build()?;
    let history = fit(
        model,
        loss.as_ref(),
        &data.train.x,
        &data.train.y,
        context.train,
        context.seed,
        |r| context.progress.epoch(r),
    )?;
    context.progress.finish();
    // The checkpoint as soon as training ends: a full disk shows before evaluating.
    save_checkpoint(model.var_store(), &context.folder.file("model.safetensors"))?;
    let mut metrics = BTreeMap::new();
    match model.answers() {
        Answers::Finite(_) => {
            insert(
                &mut metrics,
                "train_accuracy",
                accuracy(model, &data.train)?,
            );
            insert(&mut metrics, "test_accuracy", accuracy(model, &data.test)?);
        }
        Answers::Continuous(_) => {
            for (name, value) in continuous_scores(model, &data.test, eval)? {
                let name = if name == "mse" { "test_mse" } else { name };
                insert(&mut metrics, name, value);
            }
            if continuous.as_ref().is_some_and(|c| c.train_mse) {
                let train = continuous_scores(model, &data.train, eval)?;
                insert(
                    &mut metrics,
                    "train_mse",
                    train.get("mse").copied().unwrap_or(f64::NAN),
                );
            }
        }
    }
    let x_dim = data.train.x_dim();
    match (model.answers(), &continuous) {
        (Answers::Continuous(_), Some(c)) if x_dim == 1 && data.train.y_dim() == Some(1) => {
            energy_landscape(
                &context.folder.file("energy_landscape.png"),
                model,
                &data.train_cpu,
                (c.y_range.lo, c.y_range.hi),
                eval,
                &context.title("E(x, y)"),
            )?;
        }
        (Answers::Finite(_), _) if x_dim == 2 => {
            let classes = match data.train.kind {
                TargetKind::Classes { n_classes } => n_classes as usize,
                TargetKind::Binary | TargetKind::Regression | TargetKind::Density => 2,
            };
            decision_regions(
                &context.folder.file("decision_regions.png"),
                model,
                &data.train_cpu,
                classes,
                eval,
                &context.title("decision regions"),
            )?;
        }
        (Answers::Continuous(_) | Answers::Finite(_), _) => {}
    }
    Ok(Trained {
        history,
        metrics,
        gap_title: "Energy gap E_I − E_C",
    })
}

/// The metrics of the continuous-answer architectures without `train_mse`.
pub(super) const CONTINUOUS_METRICS: &[&str] = &[
    "coverage",
    "argmin_error",
    "test_mse",
    "prediction_set_size",
    "mode_coverage_min",
];

/// The metrics of the classifiers.
pub(super) const CLASSIFIER_METRICS: &[&str] = &["test_accuracy", "train_accuracy"];

/// Shortens a continuous answer's grid and searches for a quick run.
pub(super) fn shrink_continuous(
    y_range: &mut YRange,
    search: &mut ebm_core::GradientDescentConfig,
) {
    y_range.grid_points = y_range.grid_points.min(12);
    y_range.offending_steps = y_range.offending_steps.min(2);
    shrink_search(search);
}

/// Shortens a gradient descent for a quick run.
pub(super) fn shrink_search(search: &mut ebm_core::GradientDescentConfig) {
    search.steps = search.steps.min(20);
    search.restarts = search.restarts.min(2);
}
