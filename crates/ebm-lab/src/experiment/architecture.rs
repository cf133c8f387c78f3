//! What the five architectures of the tutorial share: training one with a tutorial loss,
//! accuracy or the continuous-answer scores, the checkpoint, and the landscape or
//! decision-region plot.

use super::base::{insert, Dims, Experiment, RunContext, Trained};
use crate::error::{ConfigError, RunError};
use crate::evaluate::{
    accuracy, calibration_scores, class_energies, continuous_scores, decision_regions,
    energy_landscape, labels_of, reliability_figure,
};
use crate::predictions::predict_table;
use crate::sections::LossSection;
use ebm_arch::{fit_from, Answers, Architecture, YRange};
use ebm_core::{calibration, EbmError};
use ebm_data::{Dataset, TargetKind};
use std::collections::BTreeMap;

/// What a continuous-answer architecture adds to its run.
struct Continuous<'a> {
    /// The box of y (the landscape's y axis).
    y_range: &'a YRange,
    /// Whether `train_mse` is reported too (explicit regression).
    train_mse: bool,
}

/// The model of a kind, for the run's data.
fn built(
    kind: &dyn Experiment,
    context: &RunContext<'_>,
) -> Result<Box<dyn Architecture>, RunError> {
    kind.architecture(Dims::of(&context.data.train), context.data.device)?
        .ok_or_else(|| RunError::Usage("this model kind has no architecture".into()))
}

/// Builds a continuous-answer architecture of `kind` for the run's data, trains and measures
/// it.
pub(super) fn run_continuous(
    context: &RunContext<'_>,
    kind: &dyn Experiment,
    y_range: &YRange,
    train_mse: bool,
) -> Result<Trained, RunError> {
    let mut model = built(kind, context)?;
    let continuous = Continuous { y_range, train_mse };
    run_architecture(context, model.as_mut(), Some(continuous))
}

/// Builds a classifier (binary or multi-class) of `kind`, trains and measures it.
pub(super) fn run_classifier(
    context: &RunContext<'_>,
    kind: &dyn Experiment,
) -> Result<Trained, RunError> {
    let mut model = built(kind, context)?;
    run_architecture(context, model.as_mut(), None)
}

/// The training rows of a classifier split into (rows to train on, rows to calibrate β on,
/// with their indices in the data set), stratified; no calibration rows when
/// `eval.calibration_fraction` is 0 or the model is not a classifier.
fn calibration_split(
    context: &RunContext<'_>,
    model: &dyn Architecture,
) -> Result<(Dataset, Option<Dataset>, Vec<i64>), RunError> {
    let train = &context.data.train;
    let fraction = context.eval.calibration_fraction;
    if fraction == 0.0 || !matches!(model.answers(), Answers::Finite(_)) {
        return Ok((train.shallow_clone(), None, vec![]));
    }
    // Its own seed, so that the calibration rows do not repeat the test split's pattern.
    let rows = ebm_data::split_rows(&context.data.train_cpu, fraction, context.seed ^ 0xCA1B, true)
        .map_err(|e| {
            ConfigError::invalid(
                "eval.calibration_fraction",
                format!(
                    "{fraction} of the {} training rows cannot hold out a calibration set: {e} (lower it, or 0 to keep β = 1)",
                    train.len()
                ),
            )
        })?;
    let in_data = rows
        .test
        .iter()
        .map(|&i| context.data.rows.train[i as usize])
        .collect();
    Ok((
        train.select(&rows.train)?,
        Some(train.select(&rows.test)?),
        in_data,
    ))
}

/// Trains `model` with the run's tutorial loss and measures it.
fn run_architecture(
    context: &RunContext<'_>,
    model: &mut dyn Architecture,
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
    let start = context.start(model.var_store_mut())?;
    let model: &dyn Architecture = model;
    let (fit_rows, calibration_rows, calibration_index) = calibration_split(context, model)?;
    let (history, optimizer) = fit_from(
        model,
        loss.as_ref(),
        &fit_rows.x,
        &fit_rows.y,
        context.train,
        context.seed,
        start,
        |r| context.progress.epoch(r),
    )?;
    context.progress.finish();
    context.save_trained(model.var_store(), &optimizer)?;
    let mut metrics = BTreeMap::new();
    let mut beta = 1.0;
    match model.answers() {
        Answers::Finite(_) => {
            insert(&mut metrics, "train_accuracy", accuracy(model, &fit_rows)?);
            insert(&mut metrics, "test_accuracy", accuracy(model, &data.test)?);
            if let Some(rows) = &calibration_rows {
                beta = calibrate(context, model, rows, &mut metrics)?;
            }
        }
        Answers::Continuous(_) => {
            let target = data.preprocess.y.as_ref();
            for (name, value) in continuous_scores(model, &data.test, eval, target)? {
                let name = match name {
                    "mse" => "test_mse",
                    "r2" => "test_r2",
                    other => other,
                };
                insert(&mut metrics, name, value);
            }
            if continuous.as_ref().is_some_and(|c| c.train_mse) {
                let train = continuous_scores(model, &data.train, eval, target)?;
                insert(
                    &mut metrics,
                    "train_mse",
                    train.get("mse").copied().unwrap_or(f64::NAN),
                );
            }
        }
    }
    write_predictions(context, model, beta, &calibration_index)?;
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
        calibration_rows: calibration_rows.as_ref().map_or(0, |r| r.len() as usize),
    })
}

/// Fits β on the calibration rows, measures the test rows' NLL and ECE at β = 1 and at β,
/// draws `calibration.png`, and returns β.
fn calibrate(
    context: &RunContext<'_>,
    model: &dyn Architecture,
    rows: &Dataset,
    metrics: &mut BTreeMap<String, f64>,
) -> Result<f64, RunError> {
    let Some((energies, k)) = class_energies(model, &rows.x)? else {
        return Ok(1.0);
    };
    let fit = calibration::fit_beta(&energies, k, &labels_of(model, rows)?)?;
    insert(metrics, "beta", fit.beta);
    insert(
        metrics,
        "beta_identified",
        f64::from(u8::from(fit.identified)),
    );
    insert(metrics, "calibration_nll", fit.nll);
    let bins = context.eval.calibration_bins;
    let test = &context.data.test;
    let (Some(raw), Some(calibrated)) = (
        calibration_scores(model, test, 1.0, bins)?,
        calibration_scores(model, test, fit.beta, bins)?,
    ) else {
        return Ok(fit.beta);
    };
    insert(metrics, "test_nll_uncalibrated", raw.0);
    insert(metrics, "test_ece_uncalibrated", raw.1);
    insert(metrics, "test_nll", calibrated.0);
    insert(metrics, "test_ece", calibrated.1);
    reliability_figure(
        &context.folder.file("calibration.png"),
        &context.title("reliability of P(y|x) on the test rows"),
        &[
            (1.0, raw.1, &raw.2),
            (fit.beta, calibrated.1, &calibrated.2),
        ],
    )?;
    Ok(fit.beta)
}

/// `predictions.csv`: the model's answer for every row of the data, in the data's order, with
/// its part: `train`, `calibration` (held out of training to fit β) or `test` (see
/// [`crate::predictions`]).
fn write_predictions(
    context: &RunContext<'_>,
    model: &dyn Architecture,
    beta: f64,
    calibration: &[i64],
) -> Result<(), RunError> {
    let data = context.data;
    let x = data.all_cpu.x.f_to_device(data.device)?;
    let table = predict_table(
        model,
        &x,
        &data.preprocess,
        &data.all_cpu.class_names,
        beta,
        context.eval.energy_window,
        context.seed,
    )?;
    let mut split = vec![String::from("train"); data.all_cpu.len() as usize];
    for &i in &data.rows.test {
        split[i as usize] = "test".into();
    }
    for &i in calibration {
        split[i as usize] = "calibration".into();
    }
    let index: Vec<String> = (0..split.len()).map(|i| i.to_string()).collect();
    table
        .with_first_column("split", &split)
        .with_first_column("row", &index)
        .write(&context.folder.file("predictions.csv"))
}

/// The metrics of the continuous-answer architectures without `train_mse`.
pub(super) const CONTINUOUS_METRICS: &[&str] = &[
    "coverage",
    "argmin_error",
    "test_mse",
    "test_r2",
    "prediction_set_size",
    "set_probability",
    "mode_coverage_min",
    "mode_coverage",
];

/// The metrics of the classifiers.
pub(super) const CLASSIFIER_METRICS: &[&str] = &[
    "test_accuracy",
    "train_accuracy",
    "test_ece",
    "test_ece_uncalibrated",
    "test_nll",
    "test_nll_uncalibrated",
    "beta",
    "beta_identified",
    "calibration_nll",
];

/// Shortens a continuous answer's grid, counter-examples and searches for a quick run.
pub(super) fn shrink_continuous(y_range: &mut YRange, search: &mut ebm_core::SearchConfig) {
    y_range.grid_points = y_range.grid_points.min(12);
    y_range.offending_steps = y_range.offending_steps.min(2);
    if let Some(c) = &mut y_range.counter_examples {
        c.n = c.n.min(32);
        c.refine_steps = c.refine_steps.min(2);
    }
    match search {
        ebm_core::SearchConfig::GradientDescent(gd) => shrink_search(gd),
        ebm_core::SearchConfig::Dfo(dfo) => {
            dfo.samples = dfo.samples.min(256);
            dfo.keep = dfo.keep.min(dfo.samples);
        }
        ebm_core::SearchConfig::Langevin(l) => {
            l.chains = l.chains.min(2);
            l.steps = l.steps.min(10);
            shrink_search(&mut l.descent);
        }
    }
}

/// Shortens a gradient descent for a quick run.
pub(super) fn shrink_search(search: &mut ebm_core::GradientDescentConfig) {
    search.steps = search.steps.min(20);
    search.restarts = search.restarts.min(2);
}
