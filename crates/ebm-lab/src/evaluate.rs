//! Measuring a trained architecture, and turning models into the numbers the plots draw.
//!
//! - Finite answers (binary, multi-class): accuracy.
//! - Continuous answers (regression, implicit regression, latent): the mean squared error of
//!   the best answer, and, for the *prediction set* (the distinct minima within
//!   `eval.energy_window` of the best), its coverage of the data — the share of test points
//!   with an answer within `eval.coverage_tolerance` of their y — and the argmin error, the
//!   mean distance from a test point's y to the nearest answer of its set. Where the data
//!   knows its hidden branch or mode (two_branch, latent_mixture), the coverage of the worst
//!   branch too: an explicit regression that averages two branches covers neither.

use crate::error::RunError;
use crate::sections::EvalConfig;
use ebm_arch::{Answers, Architecture, History, Prediction};
use ebm_core::{calibration, EbmError, Minimum, Result};
use ebm_data::{Dataset, Scaler};
use ebm_plot::{
    plot_curves, plot_decision_regions, plot_density, plot_energy_landscape, plot_reliability,
    ColorRange, Curve, Grid, HeatmapOptions, Labels, Panel, ScalarField, Series,
};
use std::collections::BTreeMap;
use std::path::Path;
use tch::{Device, Kind, Tensor};

fn floats(t: &Tensor) -> Result<Vec<f64>> {
    Ok(Vec::<f64>::try_from(
        t.f_to_kind(Kind::Double)?
            .f_to_device(Device::Cpu)?
            .f_flatten(0, -1)?,
    )?)
}

/// Share of the rows of `data` whose predicted label is theirs; NaN for no row.
pub fn accuracy(model: &dyn Architecture, data: &Dataset) -> Result<f64> {
    if data.is_empty() {
        return Ok(f64::NAN);
    }
    let Prediction::Finite { index, .. } = model.predict(&data.x)? else {
        return Ok(f64::NAN);
    };
    let truth = model.label_index(&data.y)?;
    Ok(f64::try_from(
        index
            .f_eq_tensor(&truth)?
            .f_to_kind(Kind::Double)?
            .f_mean(Kind::Double)?,
    )?)
}

fn data_err(e: ebm_data::DataError) -> EbmError {
    EbmError::OutOfDomain {
        what: "target scaling".into(),
        reason: e.to_string(),
    }
}

/// The energy of every class for every row of `x`, `(values row-major, classes)`, for a
/// finite-answer model; `None` for a continuous one.
pub fn class_energies(model: &dyn Architecture, x: &Tensor) -> Result<Option<(Vec<f64>, usize)>> {
    let Answers::Finite(space) = model.answers() else {
        return Ok(None);
    };
    let inputs = model.model_inputs(x)?;
    let candidates = space.candidates(inputs.kind(), inputs.device())?;
    let energies = tch::no_grad(|| model.candidate_energies(&inputs, &candidates))?;
    let k = energies.size().get(1).copied().unwrap_or(0) as usize;
    Ok(Some((floats(&energies)?, k)))
}

/// A classifier's calibration on `data` at `beta`: the mean NLL of its labels under
/// P ∝ e^(−βE), and the expected calibration error in `bins` bins with the bins themselves.
pub fn calibration_scores(
    model: &dyn Architecture,
    data: &Dataset,
    beta: f64,
    bins: usize,
) -> Result<Option<(f64, f64, Vec<calibration::Bin>)>> {
    if data.is_empty() {
        return Ok(None);
    }
    let Some((energies, k)) = class_energies(model, &data.x)? else {
        return Ok(None);
    };
    let labels = labels_of(model, data)?;
    let nll = calibration::gibbs_nll(&energies, k, &labels, beta)?;
    let (ece, table) = calibration::calibration_bins(&energies, k, &labels, beta, bins)?;
    Ok(Some((nll, ece, table)))
}

/// The class index of each row's label.
pub fn labels_of(model: &dyn Architecture, data: &Dataset) -> Result<Vec<usize>> {
    let index = model.label_index(&data.y)?;
    Ok(Vec::<i64>::try_from(index.f_to_device(Device::Cpu)?)?
        .into_iter()
        .map(|i| i as usize)
        .collect())
}

/// The distance from `y` to the nearest answer of `set` (∞ for an empty set).
fn distance_to_set(set: &[Vec<f64>], y: &[f64]) -> f64 {
    set.iter()
        .map(|a| {
            a.iter()
                .zip(y)
                .map(|(a, b)| (a - b) * (a - b))
                .sum::<f64>()
                .sqrt()
        })
        .fold(f64::INFINITY, f64::min)
}

/// The coverage the model claims for its prediction sets: the mean over rows of the Gibbs
/// probability P(y|x) ∝ e^(−E(x,y)) (β = 1) of the answers within `eval.coverage_tolerance`
/// of the row's set, by quadrature over the y grid. Compared with `coverage`, the share of
/// rows whose true y is within that distance, it says whether the sets are calibrated: a model
/// whose energies are log-probabilities claims what it achieves. Over counter-examples (y of
/// more than 2 dimensions) the points are one fixed uniform draw, so the probability is a
/// self-normalised Monte Carlo estimate. `None` for a finite answer space.
fn set_probability(
    model: &dyn Architecture,
    data: &Dataset,
    sets: &[Vec<Vec<f64>>],
    eval: &EvalConfig,
    target_scaler: Option<&Scaler>,
) -> Result<Option<f64>> {
    let Answers::Continuous(answers) = model.answers() else {
        return Ok(None);
    };
    let grid = answers.fixed_points();
    let d = grid.size().get(1).copied().unwrap_or(1) as usize;
    let inputs = model.model_inputs(&data.x)?;
    let grid = grid
        .f_to_kind(inputs.kind())?
        .f_to_device(inputs.device())?;
    let energies = tch::no_grad(|| model.candidate_energies(&inputs, &grid))?;
    let k = energies.size()[1] as usize;
    let p = floats(&energies.f_neg()?.f_softmax(1, Kind::Double)?)?;
    let points: Vec<Vec<f64>> = floats(&grid)?
        .chunks_exact(d)
        .map(|g| match target_scaler {
            Some(s) => s.invert_row(g),
            None => g.to_vec(),
        })
        .collect();
    let mut total = 0.0;
    for (i, set) in sets.iter().enumerate() {
        total += points
            .iter()
            .enumerate()
            .filter(|(_, g)| distance_to_set(set, g) <= eval.coverage_tolerance)
            .map(|(j, _)| p[i * k + j])
            .sum::<f64>();
    }
    Ok(Some(total / sets.len().max(1) as f64))
}

/// The share of (row, admissible answer) pairs whose answer has a predicted answer of the
/// row's set within 0.1·√d of it: how many of the modes the prediction sets find.
/// `answers` is `[N, M, d]` in the user's units, `sets` the rows' prediction sets.
pub fn mode_coverage(answers: &Tensor, sets: &[Vec<Vec<f64>>]) -> Result<f64> {
    let dims = answers.size();
    let (m, d) = (dims[1] as usize, dims[2] as usize);
    let tolerance = 0.1 * (d as f64).sqrt();
    let values = floats(answers)?;
    let mut covered = 0usize;
    for (i, set) in sets.iter().enumerate() {
        for k in 0..m {
            let start = (i * m + k) * d;
            if distance_to_set(set, &values[start..start + d]) <= tolerance {
                covered += 1;
            }
        }
    }
    Ok(covered as f64 / (sets.len() * m).max(1) as f64)
}

/// The distinct minima within `window` of the best one.
pub fn prediction_set(minima: &[Minimum], window: f64) -> Vec<&Minimum> {
    let best = minima.first().map_or(f64::INFINITY, |m| m.energy);
    minima
        .iter()
        .filter(|m| m.energy.is_finite() && m.energy <= best + window)
        .collect()
}

/// The metrics of a continuous-answer model on `data` (see the module docs): `mse`, `r2`,
/// `coverage`, `argmin_error`, `prediction_set_size`, with a known latent
/// `mode_coverage_min`, and with known answer sets `mode_coverage` ([`mode_coverage`]). `data` is as the model sees it; with a target scaler the answers and
/// targets are mapped back first, so that every number is in the user's units.
pub fn continuous_scores(
    model: &dyn Architecture,
    data: &Dataset,
    eval: &EvalConfig,
    target_scaler: Option<&Scaler>,
) -> Result<BTreeMap<&'static str, f64>> {
    let mut out = BTreeMap::new();
    if data.is_empty() {
        return Ok(out);
    }
    let Prediction::Continuous { y: best, minima } = model.predict(&data.x)? else {
        return Ok(out);
    };
    let (best, truth) = match target_scaler {
        Some(s) => (
            s.invert(&best).map_err(data_err)?,
            s.invert(&data.y).map_err(data_err)?,
        ),
        None => (best, data.y.shallow_clone()),
    };
    let truth = truth.f_to_kind(Kind::Double)?;
    let sse = f64::try_from(
        best.f_to_kind(Kind::Double)?
            .f_sub(&truth)?
            .f_square()?
            .f_sum(Kind::Double)?,
    )?;
    let sst = f64::try_from(
        truth
            .f_sub(&truth.f_mean_dim(0, true, Kind::Double)?)?
            .f_square()?
            .f_sum(Kind::Double)?,
    )?;
    out.insert("mse", sse / truth.numel() as f64);
    // R² = 1 − SSE / SST with the test rows' own mean (scikit-learn's r2_score); undefined for
    // a constant target.
    if sst > 0.0 {
        out.insert("r2", 1.0 - sse / sst);
    }
    let d = data.y.size()[1] as usize;
    let ys = floats(&truth)?;
    let mut distances = Vec::with_capacity(minima.len());
    let mut sets: Vec<Vec<Vec<f64>>> = Vec::with_capacity(minima.len());
    let mut set_sizes = 0usize;
    for (i, row) in minima.iter().enumerate() {
        let y = &ys[i * d..(i + 1) * d];
        let set: Vec<Vec<f64>> = prediction_set(row, eval.energy_window)
            .iter()
            .map(|m| match target_scaler {
                Some(s) => s.invert_row(&m.y),
                None => m.y.clone(),
            })
            .collect();
        set_sizes += set.len();
        distances.push(distance_to_set(&set, y));
        sets.push(set);
    }
    let n = distances.len() as f64;
    let covered: Vec<bool> = distances
        .iter()
        .map(|&dist| dist <= eval.coverage_tolerance)
        .collect();
    out.insert(
        "coverage",
        covered.iter().filter(|&&c| c).count() as f64 / n,
    );
    out.insert("argmin_error", distances.iter().sum::<f64>() / n);
    if let Some(claimed) = set_probability(model, data, &sets, eval, target_scaler)? {
        out.insert("set_probability", claimed);
    }
    out.insert("prediction_set_size", set_sizes as f64 / n);
    if let Some(latent) = &data.latent {
        let modes = floats(latent)?;
        let mut groups: BTreeMap<i64, (usize, usize)> = BTreeMap::new();
        for (mode, &c) in modes.iter().zip(&covered) {
            let entry = groups.entry(mode.round() as i64).or_default();
            entry.0 += usize::from(c);
            entry.1 += 1;
        }
        let worst = groups
            .values()
            .map(|&(c, total)| c as f64 / total as f64)
            .fold(f64::INFINITY, f64::min);
        out.insert("mode_coverage_min", worst);
    }
    if let Some(answers) = &data.answer_sets {
        out.insert("mode_coverage", mode_coverage(answers, &sets)?);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Figures.

/// `[lo, hi]` of `values` widened by `pad` of the span on each side (±1 around a point).
fn padded_range(values: &[f64], pad: f64) -> (f64, f64) {
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !(lo.is_finite() && hi.is_finite()) {
        return (-1.0, 1.0);
    }
    let span = hi - lo;
    if span <= 1e-12 {
        (lo - 1.0, hi + 1.0)
    } else {
        (lo - pad * span, hi + pad * span)
    }
}

fn column(values: &[f64], device: Device) -> Tensor {
    let v: Vec<f32> = values.iter().map(|&v| v as f32).collect();
    Tensor::from_slice(&v).view([-1, 1]).to_device(device)
}

/// The loss, the energy gap and the spread per epoch, and for sampling models the samples'
/// energy gap and gradient norm, as stacked panels (a panel with no finite value is left out).
pub fn training_curves(
    path: &Path,
    history: &History,
    gap_title: &str,
) -> std::result::Result<(), RunError> {
    let series = |f: fn(&ebm_arch::EpochRecord) -> f64| -> Vec<f64> {
        history.epochs.iter().map(f).collect()
    };
    let panel = |title: &str, y_label: &str, values: Vec<f64>| Panel {
        title: title.into(),
        y_label: y_label.into(),
        curves: vec![Curve {
            label: y_label.into(),
            values,
        }],
    };
    let panels: Vec<Panel> = [
        panel("Training loss", "loss", series(|r| r.loss)),
        panel(gap_title, "energy gap", series(|r| r.gap)),
        panel(
            "Energy spread (std over Y; ~0 means collapse)",
            "spread",
            series(|r| r.spread_std),
        ),
        panel(
            "Samples: E(samples) - E(data) (~0 when the sampler keeps up)",
            "sample gap",
            series(|r| r.sample_gap),
        ),
        panel(
            "Samples: mean |grad_y E| at the samples",
            "gradient norm",
            series(|r| r.sample_grad_norm),
        ),
    ]
    .into_iter()
    .filter(|p| p.curves[0].values.iter().any(|v| v.is_finite()))
    .collect();
    if !panels.is_empty() {
        plot_curves(path, &panels)?;
    }
    Ok(())
}

/// E(x, y) over the data's x range and the model's y range, with the training data (`train`,
/// on the CPU) and the prediction sets at `eval.plot_predictions` values of x drawn over it.
pub fn energy_landscape(
    path: &Path,
    model: &dyn Architecture,
    train: &Dataset,
    y_range: (f64, f64),
    eval: &EvalConfig,
    title: &str,
) -> std::result::Result<(), RunError> {
    let device = model.var_store().device();
    let xs = floats(&train.x)?;
    let (x0, x1) = padded_range(&xs, 0.05);
    let grid = Grid::new((x0, x1), y_range, eval.plot_grid, eval.plot_grid)?;
    let energies = {
        let _guard = tch::no_grad_guard();
        model.candidate_energies(&column(&grid.xs(), device), &column(&grid.ys(), device))?
    };
    // [nx, ny], row i = x_i; the plot wants values[j * nx + i].
    let e = floats(&energies)?;
    let (nx, ny) = (grid.nx, grid.ny);
    let values = (0..ny)
        .flat_map(|j| (0..nx).map(move |i| (i, j)))
        .map(|(i, j)| e[i * ny + j])
        .collect();
    let at: Vec<f64> = (0..eval.plot_predictions)
        .map(|k| {
            let t = (k as f64 + 0.5) / eval.plot_predictions as f64;
            x0 + t * (x1 - x0)
        })
        .collect();
    let predictions = match model.predict(&column(&at, device))? {
        Prediction::Continuous { minima, .. } => at
            .iter()
            .zip(&minima)
            .flat_map(|(&x, row)| {
                prediction_set(row, eval.energy_window)
                    .into_iter()
                    .map(move |m| (x, m.y[0]))
            })
            .collect(),
        Prediction::Finite { .. } => vec![],
    };
    let data = train.plot_points()?.unwrap_or_default();
    let options = HeatmapOptions {
        labels: Labels::new(title, "x", "y"),
        range: ColorRange::Quantiles(0.0, 0.95),
        ..HeatmapOptions::default()
    };
    plot_energy_landscape(
        path,
        &ScalarField { grid, values },
        &data,
        &predictions,
        &options,
    )?;
    Ok(())
}

/// The predicted class over the plane of a 2-D input, with the training data (`train`, on the
/// CPU).
pub fn decision_regions(
    path: &Path,
    model: &dyn Architecture,
    train: &Dataset,
    n_classes: usize,
    eval: &EvalConfig,
    title: &str,
) -> std::result::Result<(), RunError> {
    let device = model.var_store().device();
    let x = floats(&train.x)?;
    let first: Vec<f64> = x.iter().step_by(2).copied().collect();
    let second: Vec<f64> = x.iter().skip(1).step_by(2).copied().collect();
    let grid = Grid::new(
        padded_range(&first, 0.1),
        padded_range(&second, 0.1),
        eval.plot_grid,
        eval.plot_grid,
    )?;
    let flat: Vec<f32> = grid
        .points()
        .iter()
        .flat_map(|&(a, b)| [a as f32, b as f32])
        .collect();
    let points = Tensor::from_slice(&flat).view([-1, 2]).to_device(device);
    let predicted = match model.predict(&points)? {
        Prediction::Finite { index, .. } => {
            Vec::<i64>::try_from(index.f_to_device(Device::Cpu)?.f_to_kind(Kind::Int64)?)?
        }
        Prediction::Continuous { .. } => return Ok(()),
    };
    let data = train.plot_points()?.unwrap_or_default();
    let labels = train.label_indices()?.unwrap_or_default();
    let names = |i: usize| train.feature_names.get(i).cloned().unwrap_or_default();
    let classes: Vec<String> = (0..n_classes)
        .map(|k| match train.class_names.get(k) {
            // Generated data names its classes by number, CSV files by their labels.
            Some(name) if name.parse::<f64>().is_err() && !name.is_empty() => name.clone(),
            Some(name) if !name.is_empty() => format!("class {name}"),
            _ => format!("class {k}"),
        })
        .collect();
    plot_decision_regions(
        path,
        &grid,
        &predicted,
        &data,
        &labels,
        &classes,
        &Labels::new(title, &names(0), &names(1)),
    )?;
    Ok(())
}

/// A 2-D energy density over the box of `data` (on the CPU), with the data and the model's
/// samples; `energies` takes points on `device`.
pub fn density_figure(
    path: &Path,
    energies: impl Fn(&Tensor) -> Result<Tensor>,
    device: Device,
    data: &Dataset,
    samples: &Tensor,
    eval: &EvalConfig,
    title: &str,
) -> std::result::Result<(), RunError> {
    let y = floats(&data.y)?;
    let first: Vec<f64> = y.iter().step_by(2).copied().collect();
    let second: Vec<f64> = y.iter().skip(1).step_by(2).copied().collect();
    let grid = Grid::new(
        padded_range(&first, 0.15),
        padded_range(&second, 0.15),
        eval.plot_grid,
        eval.plot_grid,
    )?;
    let flat: Vec<f32> = grid
        .points()
        .iter()
        .flat_map(|&(a, b)| [a as f32, b as f32])
        .collect();
    let points = Tensor::from_slice(&flat).view([-1, 2]).to_device(device);
    let values = floats(&energies(&points)?)?;
    let s = floats(samples)?;
    let samples: Vec<(f64, f64)> = s.chunks(2).map(|p| (p[0], p[1])).collect();
    let options = HeatmapOptions {
        labels: Labels::new(title, "y1", "y2"),
        range: ColorRange::Quantiles(0.0, 0.95),
        ..HeatmapOptions::default()
    };
    plot_density(
        path,
        &ScalarField { grid, values },
        &data.plot_points()?.unwrap_or_default(),
        &samples,
        &options,
    )?;
    Ok(())
}

/// `calibration.png`: the reliability diagram of a classifier's test rows at β = 1 and at the
/// fitted β, each series `(β, ECE, bins)`.
pub fn reliability_figure(
    path: &Path,
    title: &str,
    series: &[(f64, f64, &[calibration::Bin])],
) -> std::result::Result<(), RunError> {
    let series: Vec<Series> = series
        .iter()
        .map(|(beta, ece, bins)| Series {
            label: format!("β = {beta:.3}: ECE {ece:.4}"),
            points: bins
                .iter()
                .filter(|b| b.count > 0)
                .map(|b| (b.confidence, b.accuracy, f64::NAN))
                .collect(),
        })
        .collect();
    Ok(plot_reliability(path, title, &series)?)
}
