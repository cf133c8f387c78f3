//! # ebm-plot
//!
//! PNG plots from plain numbers: training curves, heatmaps of a 2-D scalar field with points
//! over them (energy landscapes, densities), and decision regions.
//!
//! Every function takes plain Rust data (no model, no tensor), so it can be tested alone, and
//! writes its file atomically: the image is encoded into a temporary file in the same folder,
//! which is then renamed, so a reader never sees half a PNG.
//!
//! ```
//! use ebm_plot::plot_training_curves;
//!
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("curves.png");
//! plot_training_curves(&path, &[1.0, 0.5, 0.25], &[0.0, 0.4, 0.9]).unwrap();
//! assert!(path.exists());
//! // Inputs that cannot make a plot are typed errors, and no file is written.
//! let bad = dir.path().join("bad.png");
//! assert!(plot_training_curves(&bad, &[1.0], &[]).is_err());
//! assert!(!bad.exists());
//! ```
//!
//! What it does not do: it never sees a tensor, a model or a config; it draws what it is given.
//!
//! # Text
//! Titles, axis labels and tick labels use DejaVu Sans, embedded in the crate (`fonts/`, with
//! its licence) and drawn by `ab_glyph`: text renders the same on every machine, with no
//! system font and no fontconfig.
//!
//! # Grids
//! A [`Grid`] is a regular grid of nx × ny points, `xs()[i] = x_min + i·Δx`, whose values are
//! stored row by row: `values[j * nx + i]` belongs to `(xs()[i], ys()[j])`, the order of
//! [`Grid::points`]. Each value colours a cell of size Δx × Δy centred on its point.

use image::ImageEncoder as _;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::error::Error as StdError;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// What can go wrong while plotting.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// The numbers given cannot make this plot (lengths disagree, an empty range, ...).
    #[error("invalid plot input: {0}")]
    InvalidInput(String),
    /// Drawing failed.
    #[error("cannot draw {path}: {message}")]
    Drawing {
        /// The file being drawn.
        path: PathBuf,
        /// What the drawing library said.
        message: String,
    },
    /// The PNG could not be written or moved into place.
    #[error("cannot write {path}: {message}")]
    Write {
        /// The file being written.
        path: PathBuf,
        /// The underlying error.
        message: String,
    },
}

/// Shorthand for `Result<T, PlotError>`.
pub type Result<T> = std::result::Result<T, PlotError>;

/// A title and axis labels.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Labels {
    /// Title above the plot.
    pub title: String,
    /// Horizontal axis label.
    pub x: String,
    /// Vertical axis label.
    pub y: String,
}

impl Labels {
    /// Labels from string slices.
    pub fn new(title: &str, x: &str, y: &str) -> Self {
        Self {
            title: title.into(),
            x: x.into(),
            y: y.into(),
        }
    }
}

/// One line of a curve plot: `values[e]` is drawn at epoch e + 1. Non-finite values leave gaps.
#[derive(Debug, Clone, PartialEq)]
pub struct Curve {
    /// Legend entry.
    pub label: String,
    /// One value per epoch.
    pub values: Vec<f64>,
}

/// One panel of a curve plot; panels are stacked top to bottom and share the epoch axis.
#[derive(Debug, Clone, PartialEq)]
pub struct Panel {
    /// Panel title.
    pub title: String,
    /// Vertical axis label.
    pub y_label: String,
    /// The lines, each in its own colour.
    pub curves: Vec<Curve>,
}

/// A regular grid of `nx × ny` points over `[x_min, x_max] × [y_min, y_max]` (see the module
/// docs for the order of values).
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    /// First and last x (x_min < x_max).
    pub x_range: (f64, f64),
    /// First and last y (y_min < y_max).
    pub y_range: (f64, f64),
    /// Number of points along x, ≥ 2.
    pub nx: usize,
    /// Number of points along y, ≥ 2.
    pub ny: usize,
}

impl Grid {
    /// A checked grid: finite ranges with min < max and at least 2 points per axis.
    pub fn new(x_range: (f64, f64), y_range: (f64, f64), nx: usize, ny: usize) -> Result<Self> {
        let grid = Self {
            x_range,
            y_range,
            nx,
            ny,
        };
        grid.check()?;
        Ok(grid)
    }

    fn check(&self) -> Result<()> {
        for (axis, (lo, hi), n) in [("x", self.x_range, self.nx), ("y", self.y_range, self.ny)] {
            if !(lo.is_finite() && hi.is_finite() && lo < hi) {
                return Err(PlotError::InvalidInput(format!(
                    "grid {axis} range must be finite with min < max, got [{lo}, {hi}]"
                )));
            }
            if n < 2 {
                return Err(PlotError::InvalidInput(format!(
                    "grid needs at least 2 points along {axis}, got {n}"
                )));
            }
        }
        Ok(())
    }

    /// Number of grid points, nx · ny.
    pub fn len(&self) -> usize {
        self.nx * self.ny
    }

    /// Whether the grid has no point (never true for a checked grid).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn axis((lo, hi): (f64, f64), n: usize) -> Vec<f64> {
        let step = (hi - lo) / (n.max(2) - 1) as f64;
        (0..n).map(|i| lo + step * i as f64).collect()
    }

    /// The x coordinates, `nx` evenly spaced from x_min to x_max (as `torch.linspace`).
    pub fn xs(&self) -> Vec<f64> {
        Self::axis(self.x_range, self.nx)
    }

    /// The y coordinates, `ny` evenly spaced from y_min to y_max.
    pub fn ys(&self) -> Vec<f64> {
        Self::axis(self.y_range, self.ny)
    }

    /// Every grid point, row by row (y outer, x inner): the order values are expected in.
    pub fn points(&self) -> Vec<(f64, f64)> {
        let xs = self.xs();
        self.ys()
            .into_iter()
            .flat_map(|y| xs.iter().map(move |&x| (x, y)))
            .collect()
    }

    fn cell(&self) -> (f64, f64) {
        (
            (self.x_range.1 - self.x_range.0) / (self.nx - 1) as f64,
            (self.y_range.1 - self.y_range.0) / (self.ny - 1) as f64,
        )
    }

    /// The plotted extent: the ranges widened by half a cell on each side.
    fn extent(&self) -> ((f64, f64), (f64, f64)) {
        let (dx, dy) = self.cell();
        (
            (self.x_range.0 - dx / 2.0, self.x_range.1 + dx / 2.0),
            (self.y_range.0 - dy / 2.0, self.y_range.1 + dy / 2.0),
        )
    }

    /// The rectangles of every cell, in value order.
    fn cells(&self) -> impl Iterator<Item = [(f64, f64); 2]> + '_ {
        let (dx, dy) = self.cell();
        self.points()
            .into_iter()
            .map(move |(x, y)| [(x - dx / 2.0, y - dy / 2.0), (x + dx / 2.0, y + dy / 2.0)])
    }

    fn contains(&self, (x, y): (f64, f64)) -> bool {
        let ((x0, x1), (y0, y1)) = self.extent();
        (x0..=x1).contains(&x) && (y0..=y1).contains(&y)
    }
}

/// A scalar field sampled on a [`Grid`] (an energy E(x, y), a log-density, ...).
#[derive(Debug, Clone, PartialEq)]
pub struct ScalarField {
    /// Where the values were taken.
    pub grid: Grid,
    /// `values[j * nx + i]` at `(xs[i], ys[j])`; non-finite values are drawn grey.
    pub values: Vec<f64>,
}

/// Which values span the colour map of a heatmap; values outside are clipped to its ends.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum ColorRange {
    /// From the smallest to the largest finite value.
    #[default]
    Full,
    /// Between two quantiles of the finite values, e.g. `(0.0, 0.95)` so that a few huge
    /// energies do not wash out the rest.
    Quantiles(f64, f64),
    /// A fixed [low, high].
    Fixed(f64, f64),
}

/// Options of the heatmap plots.
#[derive(Debug, Clone, PartialEq)]
pub struct HeatmapOptions {
    /// Title and axis labels.
    pub labels: Labels,
    /// Label of the colour bar (default "energy").
    pub value_label: String,
    /// The colour map's span.
    pub range: ColorRange,
}

impl Default for HeatmapOptions {
    fn default() -> Self {
        Self {
            labels: Labels::default(),
            value_label: "energy".into(),
            range: ColorRange::Full,
        }
    }
}

/// A set of points drawn over a heatmap, in one style, with a legend entry.
#[derive(Debug, Clone, PartialEq)]
pub struct PointLayer {
    /// Legend entry.
    pub label: String,
    /// The points; those outside the grid's extent are not drawn.
    pub points: Vec<(f64, f64)>,
    /// Fill colour (red, green, blue).
    pub color: (u8, u8, u8),
    /// Marker radius in pixels.
    pub size: u32,
}

/// Colour of the data points drawn over heatmaps.
pub const DATA_COLOR: (u8, u8, u8) = (255, 255, 255);
/// Colour of predictions and samples drawn over heatmaps.
pub const MODEL_COLOR: (u8, u8, u8) = (230, 30, 40);

const WIDTH: u32 = 800;
const HEIGHT: u32 = 600;
const COLOR_BAR_WIDTH: u32 = 110;
const FONT: &str = "sans-serif";

/// Loss and energy gap per epoch, as two panels of one PNG (`loss` on top).
pub fn plot_training_curves(path: &Path, loss: &[f64], energy_gap: &[f64]) -> Result<()> {
    let panel = |title: &str, y_label: &str, values: &[f64]| Panel {
        title: title.into(),
        y_label: y_label.into(),
        curves: vec![Curve {
            label: y_label.into(),
            values: values.to_vec(),
        }],
    };
    plot_curves(
        path,
        &[
            panel("Training loss", "loss", loss),
            panel("Energy gap E_I − E_C", "energy gap", energy_gap),
        ],
    )
}

/// Curves per epoch in stacked panels (e.g. train and test loss in one, the energy gap in
/// another). Each panel needs at least one curve with a finite value.
pub fn plot_curves(path: &Path, panels: &[Panel]) -> Result<()> {
    if panels.is_empty() {
        return Err(PlotError::InvalidInput("no panel to plot".into()));
    }
    for panel in panels {
        if !panel
            .curves
            .iter()
            .flat_map(|c| &c.values)
            .any(|v| v.is_finite())
        {
            return Err(PlotError::InvalidInput(format!(
                "panel {:?} has no finite value to plot",
                panel.title
            )));
        }
    }
    let height = 60 + 340 * panels.len() as u32;
    render(path, (WIDTH, height), |root, text| {
        let areas = root.split_evenly((panels.len(), 1));
        for (panel, area) in panels.iter().zip(&areas) {
            draw_panel(area, panel, text)?;
        }
        Ok(())
    })
}

fn draw_panel(area: &Area, panel: &Panel, text: bool) -> DrawResult {
    let epochs = panel
        .curves
        .iter()
        .map(|c| c.values.len())
        .max()
        .unwrap_or(1);
    let x_range = 0.5..(epochs as f64 + 0.5);
    let finite = panel
        .curves
        .iter()
        .flat_map(|c| c.values.iter().copied())
        .filter(|v| v.is_finite());
    let (lo, hi) = padded_range(finite);
    let mut builder = ChartBuilder::on(area);
    builder.margin(12);
    if text {
        builder
            .caption(&panel.title, (FONT, 20))
            .x_label_area_size(40)
            .y_label_area_size(70);
    }
    let mut chart = builder.build_cartesian_2d(x_range, lo..hi)?;
    if text {
        chart
            .configure_mesh()
            .x_desc("epoch")
            .y_desc(&panel.y_label)
            .x_label_formatter(&|v| {
                // Epochs are whole numbers: ticks between them get no label.
                if (v - v.round()).abs() < 1e-9 {
                    format!("{v:.0}")
                } else {
                    String::new()
                }
            })
            .y_label_formatter(&tick_format(lo, hi))
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 15))
            .light_line_style(TRANSPARENT)
            .draw()?;
    } else {
        draw_frame(&chart)?;
    }
    for (k, curve) in panel.curves.iter().enumerate() {
        let color = class_color(k);
        // Consecutive finite values form one segment; non-finite values break the line.
        let mut segments: Vec<Vec<(f64, f64)>> = vec![vec![]];
        for (e, &v) in curve.values.iter().enumerate() {
            if v.is_finite() {
                if let Some(segment) = segments.last_mut() {
                    segment.push((e as f64 + 1.0, v));
                }
            } else if segments.last().is_some_and(|s| !s.is_empty()) {
                segments.push(vec![]);
            }
        }
        let style = ShapeStyle::from(color).stroke_width(2);
        for (i, segment) in segments.iter().enumerate() {
            let series = chart.draw_series(LineSeries::new(segment.iter().copied(), style))?;
            if i == 0 && text {
                series
                    .label(&curve.label)
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
            }
            if segment.len() <= 40 {
                chart.draw_series(segment.iter().map(|&p| Circle::new(p, 3, color.filled())))?;
            }
        }
    }
    if text {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font((FONT, 14))
            .draw()?;
    }
    Ok(())
}

/// A heatmap of `field` with point layers over it and a colour bar.
pub fn plot_heatmap(
    path: &Path,
    field: &ScalarField,
    layers: &[PointLayer],
    options: &HeatmapOptions,
) -> Result<()> {
    field.grid.check()?;
    if field.values.len() != field.grid.len() {
        return Err(PlotError::InvalidInput(format!(
            "the field has {} values for a {}×{} grid ({} points)",
            field.values.len(),
            field.grid.nx,
            field.grid.ny,
            field.grid.len()
        )));
    }
    let (vmin, vmax) = color_span(&field.values, options.range)?;
    render(path, (WIDTH + COLOR_BAR_WIDTH, HEIGHT), |root, text| {
        let (main, bar) = root.split_horizontally(WIDTH);
        let color_of = |v: f64| {
            if v.is_finite() {
                viridis(((v - vmin) / (vmax - vmin)).clamp(0.0, 1.0))
            } else {
                RGBColor(160, 160, 160)
            }
        };
        let mut chart = grid_chart(&main, &field.grid, &options.labels, text)?;
        chart.draw_series(
            field
                .grid
                .cells()
                .zip(&field.values)
                .map(|(cell, &v)| Rectangle::new(cell, color_of(v).filled())),
        )?;
        draw_axes_over(&mut chart, &options.labels, text)?;
        draw_layers(&mut chart, &field.grid, layers, text)?;
        draw_color_bar(&bar, (vmin, vmax), &options.value_label, text)
    })
}

/// The energy landscape E(x, y) over 1-D x and 1-D y, with the data (white) and the model's
/// predictions (red) drawn over it.
pub fn plot_energy_landscape(
    path: &Path,
    energy: &ScalarField,
    data: &[(f64, f64)],
    predictions: &[(f64, f64)],
    options: &HeatmapOptions,
) -> Result<()> {
    plot_heatmap(
        path,
        energy,
        &[
            PointLayer {
                label: "data".into(),
                points: data.to_vec(),
                color: DATA_COLOR,
                size: 3,
            },
            PointLayer {
                label: "prediction".into(),
                points: predictions.to_vec(),
                color: MODEL_COLOR,
                size: 3,
            },
        ],
        options,
    )
}

/// A 2-D density: the energy over the plane, with the data (white) and the model's samples
/// (red) drawn over it.
pub fn plot_density(
    path: &Path,
    energy: &ScalarField,
    data: &[(f64, f64)],
    samples: &[(f64, f64)],
    options: &HeatmapOptions,
) -> Result<()> {
    plot_heatmap(
        path,
        energy,
        &[
            PointLayer {
                label: "data".into(),
                points: data.to_vec(),
                color: DATA_COLOR,
                size: 2,
            },
            PointLayer {
                label: "samples".into(),
                points: samples.to_vec(),
                color: MODEL_COLOR,
                size: 2,
            },
        ],
        options,
    )
}

/// Decision regions of a 2-D classifier: `predicted[k]` (a class index in `0..classes.len()`)
/// at `grid.points()[k]` colours its cell in a light shade of the class colour, and the data
/// `points` are drawn over it in the full colour of their `labels`. `classes` names the classes
/// in the legend, in index order.
pub fn plot_decision_regions(
    path: &Path,
    grid: &Grid,
    predicted: &[i64],
    points: &[(f64, f64)],
    labels: &[i64],
    classes: &[String],
    text_labels: &Labels,
) -> Result<()> {
    grid.check()?;
    let n_classes = classes.len();
    if n_classes == 0 {
        return Err(PlotError::InvalidInput(
            "at least one class is needed".into(),
        ));
    }
    if predicted.len() != grid.len() {
        return Err(PlotError::InvalidInput(format!(
            "{} predicted classes for a {}×{} grid ({} points)",
            predicted.len(),
            grid.nx,
            grid.ny,
            grid.len()
        )));
    }
    if points.len() != labels.len() {
        return Err(PlotError::InvalidInput(format!(
            "{} points but {} labels",
            points.len(),
            labels.len()
        )));
    }
    let in_range = |c: &i64| (0..n_classes as i64).contains(c);
    if let Some(bad) = predicted.iter().chain(labels).find(|c| !in_range(c)) {
        return Err(PlotError::InvalidInput(format!(
            "class index {bad} is outside 0..{n_classes}"
        )));
    }
    render(path, (WIDTH, HEIGHT), |root, text| {
        let mut chart = grid_chart(root, grid, text_labels, text)?;
        chart.draw_series(
            grid.cells()
                .zip(predicted)
                .map(|(cell, &c)| Rectangle::new(cell, class_color(c as usize).mix(0.35).filled())),
        )?;
        draw_axes_over(&mut chart, text_labels, text)?;
        for (class, name) in classes.iter().enumerate() {
            let color = class_color(class);
            let series = chart.draw_series(
                points
                    .iter()
                    .zip(labels)
                    .filter(|&(p, &c)| c as usize == class && grid.contains(*p))
                    .map(|(&p, _)| {
                        EmptyElement::at(p)
                            + Circle::new((0, 0), 4, color.filled())
                            + Circle::new((0, 0), 4, BLACK.stroke_width(1))
                    }),
            )?;
            if text {
                series
                    .label(name)
                    .legend(move |(x, y)| Circle::new((x + 10, y), 4, color.filled()));
            }
        }
        if text {
            draw_legend(&mut chart)?;
        }
        Ok(())
    })
}

// ---------------------------------------------------------------------------------------------
// Drawing helpers.

/// One line of a chart over a numeric x axis: points (x, y) with an optional half-width of an
/// error bar at each (NaN or 0: none). Non-finite y leaves the point out.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Legend entry.
    pub label: String,
    /// (x, y, error) per point, in drawing order.
    pub points: Vec<(f64, f64, f64)>,
}

/// A reliability diagram: for each series (say, before and after calibration), the accuracy
/// of each confidence bin against its mean confidence, with the diagonal of perfect calibration.
/// Both axes span [0, 1]; the points are (confidence, accuracy, unused).
pub fn plot_reliability(path: &Path, title: &str, series: &[Series]) -> Result<()> {
    if series
        .iter()
        .all(|s| s.points.iter().all(|p| !p.1.is_finite()))
    {
        return Err(PlotError::InvalidInput(
            "a reliability diagram needs at least one non-empty bin".into(),
        ));
    }
    let labels = Labels::new(title, "confidence (largest P(y|x))", "accuracy");
    let diagonal = Series {
        label: "perfect calibration".into(),
        points: vec![(0.0, 0.0, f64::NAN), (1.0, 1.0, f64::NAN)],
    };
    render(path, (WIDTH, HEIGHT), |root, text| {
        draw_series_chart(
            root,
            &labels,
            ((0.0, 1.0), (0.0, 1.0)),
            Some(&diagonal),
            series,
            None,
            text,
        )
    })
}

/// A line chart of series over a numeric axis with error bars, the axes fitted to the points
/// (and error bars). `x_ticks`, when given, labels the x positions 0, 1, 2, ... by name
/// (a grid of non-numeric values).
pub fn plot_series(
    path: &Path,
    labels: &Labels,
    series: &[Series],
    x_ticks: Option<&[String]>,
) -> Result<()> {
    let finite: Vec<(f64, f64, f64)> = series
        .iter()
        .flat_map(|s| s.points.iter().copied())
        .filter(|p| p.0.is_finite() && p.1.is_finite())
        .collect();
    if finite.is_empty() {
        return Err(PlotError::InvalidInput(format!(
            "{:?}: no finite point to plot",
            labels.title
        )));
    }
    let x = padded_range(finite.iter().map(|p| p.0));
    let err = |p: &(f64, f64, f64)| if p.2.is_finite() { p.2.abs() } else { 0.0 };
    let y = padded_range(finite.iter().flat_map(|p| [p.1 - err(p), p.1 + err(p)]));
    render(path, (WIDTH, HEIGHT), |root, text| {
        draw_series_chart(root, labels, (x, y), None, series, x_ticks, text)
    })
}

fn draw_series_chart(
    root: &Area,
    labels: &Labels,
    ((x_lo, x_hi), (y_lo, y_hi)): ((f64, f64), (f64, f64)),
    reference: Option<&Series>,
    series: &[Series],
    x_ticks: Option<&[String]>,
    text: bool,
) -> DrawResult {
    let mut builder = ChartBuilder::on(root);
    builder.margin(16);
    if text {
        builder
            .caption(&labels.title, (FONT, 20))
            .x_label_area_size(45)
            .y_label_area_size(70);
    }
    let mut chart = builder.build_cartesian_2d(x_lo..x_hi, y_lo..y_hi)?;
    if text {
        let ticks = x_ticks.map(<[String]>::to_vec);
        let x_format = tick_format(x_lo, x_hi);
        chart
            .configure_mesh()
            .x_desc(&labels.x)
            .y_desc(&labels.y)
            .x_label_formatter(&|v| match &ticks {
                Some(names) if (v - v.round()).abs() < 1e-9 && v.round() >= 0.0 => {
                    names.get(v.round() as usize).cloned().unwrap_or_default()
                }
                Some(_) => String::new(),
                None => x_format(v),
            })
            .y_label_formatter(&tick_format(y_lo, y_hi))
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 15))
            .light_line_style(TRANSPARENT)
            .draw()?;
    } else {
        draw_frame(&chart)?;
    }
    if let Some(reference) = reference {
        let style = ShapeStyle::from(RGBColor(150, 150, 150)).stroke_width(1);
        let series = chart.draw_series(LineSeries::new(
            reference.points.iter().map(|p| (p.0, p.1)),
            style,
        ))?;
        if text {
            series
                .label(&reference.label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
        }
    }
    for (k, s) in series.iter().enumerate() {
        let color = class_color(k);
        let style = ShapeStyle::from(color).stroke_width(2);
        let points: Vec<(f64, f64, f64)> = s
            .points
            .iter()
            .copied()
            .filter(|p| p.0.is_finite() && p.1.is_finite())
            .collect();
        let line = chart.draw_series(LineSeries::new(points.iter().map(|p| (p.0, p.1)), style))?;
        if text {
            line.label(&s.label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
        }
        chart.draw_series(
            points
                .iter()
                .map(|p| Circle::new((p.0, p.1), 4, color.filled())),
        )?;
        chart.draw_series(
            points
                .iter()
                .filter(|p| p.2.is_finite() && p.2 > 0.0)
                .map(|p| PathElement::new(vec![(p.0, p.1 - p.2), (p.0, p.1 + p.2)], style)),
        )?;
    }
    if text {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font((FONT, 14))
            .draw()?;
    }
    Ok(())
}

type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;
type Chart<'a, 'b> = ChartContext<
    'a,
    BitMapBackend<'b>,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;
type DrawResult = std::result::Result<(), Box<dyn StdError>>;

/// The embedded font, registered with plotters once per process.
static FONT_BYTES: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");

fn register_font() -> Result<()> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        plotters::style::register_font(FONT, FontStyle::Normal, FONT_BYTES).is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err(PlotError::InvalidInput(
            "the embedded font does not parse".into(),
        ))
    }
}

#[cfg(test)]
thread_local! {
    /// Lets a test draw without text on its own thread (to check geometry by pixels).
    static NO_TEXT_IN_TESTS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Draws into memory, then writes the PNG atomically.
fn render<F>(path: &Path, (w, h): (u32, u32), draw: F) -> Result<()>
where
    F: Fn(&Area, bool) -> DrawResult,
{
    register_font()?;
    #[cfg(test)]
    let text = !NO_TEXT_IN_TESTS.with(std::cell::Cell::get);
    #[cfg(not(test))]
    let text = true;
    let mut buffer = vec![255u8; (w * h * 3) as usize];
    let drawn = (|| -> DrawResult {
        let root = BitMapBackend::with_buffer(&mut buffer, (w, h)).into_drawing_area();
        root.fill(&WHITE)?;
        draw(&root, text)?;
        root.present()?;
        Ok(())
    })();
    drawn.map_err(|e| PlotError::Drawing {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    write_png_atomically(path, (w, h), &buffer)
}

/// Encodes the pixels as PNG into a temporary file beside `path` and renames it into place.
fn write_png_atomically(path: &Path, (w, h): (u32, u32), pixels: &[u8]) -> Result<()> {
    let write_err = |message: String| PlotError::Write {
        path: path.to_path_buf(),
        message,
    };
    if path.file_name().is_none() {
        return Err(write_err("the path has no file name".into()));
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut temp = tempfile::Builder::new()
        .prefix(".ebm-plot-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| write_err(e.to_string()))?;
    let mut png = Vec::new();
    image::codecs::png::PngEncoder::new(&mut png)
        .write_image(pixels, w, h, image::ColorType::Rgb8)
        .map_err(|e| write_err(e.to_string()))?;
    temp.write_all(&png).map_err(|e| write_err(e.to_string()))?;
    temp.persist(path)
        .map_err(|e| write_err(e.error.to_string()))?;
    Ok(())
}

/// A chart whose coordinates are the grid's extent, with room for labels when there is text.
fn grid_chart<'a, 'b>(
    area: &'a Area<'b>,
    grid: &Grid,
    labels: &Labels,
    text: bool,
) -> std::result::Result<Chart<'a, 'b>, Box<dyn StdError>> {
    let ((x0, x1), (y0, y1)) = grid.extent();
    let mut builder = ChartBuilder::on(area);
    builder.margin(12);
    if text {
        if !labels.title.is_empty() {
            builder.caption(&labels.title, (FONT, 22));
        }
        builder.x_label_area_size(45).y_label_area_size(60);
    }
    Ok(builder.build_cartesian_2d(x0..x1, y0..y1)?)
}

/// Axes (and their labels) drawn after the cells, so that the cells do not hide them.
fn draw_axes_over<'a, 'b: 'a>(
    chart: &mut Chart<'a, 'b>,
    labels: &Labels,
    text: bool,
) -> DrawResult {
    if text {
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc(&labels.x)
            .y_desc(&labels.y)
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 15))
            .draw()?;
    } else {
        draw_frame(chart)?;
    }
    Ok(())
}

/// A plain frame around the plotting area, for plots without text.
fn draw_frame(chart: &Chart) -> DrawResult {
    let x = chart.x_range();
    let y = chart.y_range();
    chart.plotting_area().draw(&Rectangle::new(
        [(x.start, y.start), (x.end, y.end)],
        BLACK.stroke_width(1),
    ))?;
    Ok(())
}

fn draw_layers<'a, 'b: 'a>(
    chart: &mut Chart<'a, 'b>,
    grid: &Grid,
    layers: &[PointLayer],
    text: bool,
) -> DrawResult {
    for layer in layers {
        let (r, g, b) = layer.color;
        let color = RGBColor(r, g, b);
        let size = layer.size as i32;
        let series = chart.draw_series(layer.points.iter().filter(|p| grid.contains(**p)).map(
            |&p| {
                EmptyElement::at(p)
                    + Circle::new((0, 0), size, color.filled())
                    + Circle::new((0, 0), size, BLACK.stroke_width(1))
            },
        ))?;
        if text {
            series.label(&layer.label).legend(move |(x, y)| {
                EmptyElement::at((x + 10, y))
                    + Circle::new((0, 0), 4, color.filled())
                    + Circle::new((0, 0), 4, BLACK.stroke_width(1))
            });
        }
    }
    if text && !layers.is_empty() {
        draw_legend(chart)?;
    }
    Ok(())
}

fn draw_legend<'a, 'b: 'a>(chart: &mut Chart<'a, 'b>) -> DrawResult {
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font((FONT, 14))
        .draw()?;
    Ok(())
}

/// A vertical colour bar from `lo` (bottom) to `hi` (top), labelled when there is text.
fn draw_color_bar(area: &Area, (lo, hi): (f64, f64), label: &str, text: bool) -> DrawResult {
    let mut builder = ChartBuilder::on(area);
    builder.margin_top(12).margin_bottom(12).margin_right(8);
    if text {
        // Same vertical room as the main chart's caption and x labels, so the bar lines up.
        builder
            .set_label_area_size(LabelAreaPosition::Top, 30)
            .x_label_area_size(45)
            .y_label_area_size(70);
    }
    let mut chart = builder.build_cartesian_2d(0.0..1.0, lo..hi)?;
    let steps = 128;
    let step = (hi - lo) / steps as f64;
    chart.draw_series((0..steps).map(|i| {
        let v0 = lo + step * i as f64;
        Rectangle::new(
            [(0.0, v0), (1.0, v0 + step)],
            viridis((i as f64 + 0.5) / steps as f64).filled(),
        )
    }))?;
    if text {
        chart
            .configure_mesh()
            .disable_mesh()
            .disable_x_axis()
            .x_labels(0)
            .y_labels(6)
            .y_desc(label)
            .y_label_formatter(&tick_format(lo, hi))
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 15))
            .draw()?;
    }
    draw_frame(&chart)
}

/// Tick labels for an axis spanning [lo, hi]: as many decimals as a tenth of the span needs
/// (so all labels of an axis agree), scientific notation for very large or very fine axes,
/// and a plain 0 for rounding residue such as −5.6e-17.
fn tick_format(lo: f64, hi: f64) -> impl Fn(&f64) -> String {
    let span = (hi - lo).abs().max(f64::MIN_POSITIVE);
    let magnitude = lo.abs().max(hi.abs());
    let decimals = (-(span / 10.0).log10().floor()).max(0.0) as usize;
    move |&v| {
        if v.abs() < span * 1e-9 {
            "0".into()
        } else if magnitude >= 1e5 || decimals > 4 {
            format!("{v:.2e}")
        } else {
            format!("{v:.decimals$}")
        }
    }
}

/// The colour map's span from the finite values and the requested range.
fn color_span(values: &[f64], range: ColorRange) -> Result<(f64, f64)> {
    let mut finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    finite.sort_by(f64::total_cmp);
    let quantile = |q: f64| -> f64 {
        let pos = q * (finite.len() - 1) as f64;
        finite[pos.round() as usize]
    };
    let (lo, hi) = match range {
        ColorRange::Fixed(lo, hi) => {
            if !(lo.is_finite() && hi.is_finite() && lo < hi) {
                return Err(PlotError::InvalidInput(format!(
                    "colour range must be finite with low < high, got [{lo}, {hi}]"
                )));
            }
            return Ok((lo, hi));
        }
        _ if finite.is_empty() => return Ok((0.0, 1.0)),
        ColorRange::Full => (quantile(0.0), quantile(1.0)),
        ColorRange::Quantiles(a, b) => {
            if !((0.0..=1.0).contains(&a) && (0.0..=1.0).contains(&b) && a < b) {
                return Err(PlotError::InvalidInput(format!(
                    "colour quantiles must satisfy 0 <= low < high <= 1, got ({a}, {b})"
                )));
            }
            (quantile(a), quantile(b))
        }
    };
    Ok(if lo < hi {
        (lo, hi)
    } else {
        (lo - 0.5, lo + 0.5)
    })
}

/// `[lo, hi]` of the values with 5 % padding (±1 around a constant; [0, 1] when there is none).
fn padded_range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if lo > hi {
        (0.0, 1.0)
    } else if lo == hi {
        (lo - 1.0, hi + 1.0)
    } else {
        let pad = 0.05 * (hi - lo);
        (lo - pad, hi + pad)
    }
}

/// The viridis colour map at t ∈ [0, 1] (plotters' `ViridisRGB`).
fn viridis(t: f64) -> RGBColor {
    ViridisRGB.get_color(t.clamp(0.0, 1.0))
}

/// Class colours (matplotlib's tab10), repeating after ten.
fn class_color(k: usize) -> RGBColor {
    const TAB10: [(u8, u8, u8); 10] = [
        (31, 119, 180),
        (255, 127, 14),
        (44, 160, 44),
        (214, 39, 40),
        (148, 103, 189),
        (140, 86, 75),
        (227, 119, 194),
        (127, 127, 127),
        (188, 189, 34),
        (23, 190, 207),
    ];
    let (r, g, b) = TAB10[k % TAB10.len()];
    RGBColor(r, g, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG_MAGIC: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];

    /// Checks `path` is a PNG that decodes, and returns its pixels.
    fn read_png(path: &Path) -> image::RgbImage {
        let bytes = std::fs::read(path).expect("the PNG exists");
        assert_eq!(bytes[..8], PNG_MAGIC, "not a PNG");
        image::load_from_memory_with_format(&bytes, image::ImageFormat::Png)
            .expect("the PNG decodes")
            .to_rgb8()
    }

    /// The folder holds exactly these files: no temporary file is left behind.
    fn assert_only(dir: &Path, names: &[&str]) {
        let mut found: Vec<String> = std::fs::read_dir(dir)
            .expect("readable")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        found.sort();
        assert_eq!(found, names);
    }

    fn without_text<T>(f: impl FnOnce() -> T) -> T {
        NO_TEXT_IN_TESTS.with(|c| c.set(true));
        let out = f();
        NO_TEXT_IN_TESTS.with(|c| c.set(false));
        out
    }

    fn field(nx: usize, ny: usize, f: impl Fn(f64, f64) -> f64) -> ScalarField {
        let grid = Grid::new((-1.0, 1.0), (-2.0, 2.0), nx, ny).expect("valid grid");
        let values = grid.points().iter().map(|&(x, y)| f(x, y)).collect();
        ScalarField { grid, values }
    }

    /// The pixel of data point `p` in a plot drawn without text on a `width`-pixel-wide main
    /// area: the chart spans the grid's extent inside 12-pixel margins.
    fn pixel_of(grid: &Grid, (x, y): (f64, f64), width: u32) -> (u32, u32) {
        let ((x0, x1), (y0, y1)) = grid.extent();
        let (w, h) = (f64::from(width - 24), f64::from(HEIGHT - 24));
        let px = 12.0 + w * (x - x0) / (x1 - x0);
        let py = 12.0 + h * (y1 - y) / (y1 - y0);
        (px.round() as u32, py.round() as u32)
    }

    fn close(a: image::Rgb<u8>, b: (u8, u8, u8), tol: i32) -> bool {
        let d = |u: u8, v: u8| (i32::from(u) - i32::from(v)).abs() <= tol;
        d(a[0], b.0) && d(a[1], b.1) && d(a[2], b.2)
    }

    #[rstest::rstest]
    #[case(-0.4, 1.4, -5.6e-17, "0")]
    #[case(-0.4, 1.4, 1.2, "1.2")]
    #[case(1.4, 3.6, 2.5, "2.5")]
    #[case(0.48, 0.92, 0.85, "0.85")]
    #[case(0.0, 38.0, 30.0, "30")]
    #[case(0.0, 2e6, 1e6, "1.00e6")]
    #[case(1.0, 1.000001, 1.0000005, "1.00e0")]
    fn tick_labels_agree_along_an_axis(
        #[case] lo: f64,
        #[case] hi: f64,
        #[case] v: f64,
        #[case] expected: &str,
    ) {
        assert_eq!(tick_format(lo, hi)(&v), expected);
    }

    #[test]
    fn grid_points_come_row_by_row() {
        let grid = Grid::new((0.0, 1.0), (10.0, 12.0), 3, 2).expect("valid");
        assert_eq!(grid.xs(), [0.0, 0.5, 1.0]);
        assert_eq!(grid.ys(), [10.0, 12.0]);
        let points = grid.points();
        assert_eq!(points.len(), grid.len());
        assert_eq!(points[1], (0.5, 10.0));
        assert_eq!(points[3], (0.0, 12.0));
        for bad in [
            Grid::new((1.0, 1.0), (0.0, 1.0), 3, 3),
            Grid::new((0.0, f64::NAN), (0.0, 1.0), 3, 3),
            Grid::new((0.0, 1.0), (0.0, 1.0), 1, 3),
        ] {
            assert!(matches!(bad, Err(PlotError::InvalidInput(_))));
        }
    }

    #[test]
    fn reliability_and_series_charts_write_pngs_and_refuse_nothing_to_draw() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let path = dir.path().join("calibration.png");
        let before = Series {
            label: "β = 1, ECE 0.12".into(),
            points: vec![
                (0.35, 0.5, f64::NAN),
                (0.75, 0.9, f64::NAN),
                (f64::NAN, f64::NAN, f64::NAN),
            ],
        };
        let after = Series {
            label: "β = 2.3, ECE 0.02".into(),
            points: vec![(0.55, 0.5, f64::NAN), (0.92, 0.9, f64::NAN)],
        };
        plot_reliability(&path, "digits: reliability", &[before, after]).expect("plots");
        assert_eq!(read_png(&path).dimensions(), (WIDTH, HEIGHT));
        let empty = Series {
            label: "none".into(),
            points: vec![(f64::NAN, f64::NAN, f64::NAN)],
        };
        let bad = dir.path().join("bad.png");
        assert!(plot_reliability(&bad, "t", std::slice::from_ref(&empty)).is_err());
        let sweep = dir.path().join("sweep.png");
        let s = Series {
            label: "test_accuracy".into(),
            points: vec![(0.0, 0.9, 0.01), (1.0, 0.95, 0.02), (2.0, 0.97, f64::NAN)],
        };
        let ticks = ["a".to_string(), "b".to_string(), "c".to_string()];
        plot_series(
            &sweep,
            &Labels::new("sweep", "lr", "accuracy"),
            &[s],
            Some(&ticks),
        )
        .expect("plots");
        assert!(read_png(&sweep).dimensions() == (WIDTH, HEIGHT));
        assert!(plot_series(&bad, &Labels::new("t", "x", "y"), &[empty], None).is_err());
        assert_only(dir.path(), &["calibration.png", "sweep.png"]);
    }

    #[test]
    fn training_curves_write_a_png_with_text() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let path = dir.path().join("curves.png");
        let loss: Vec<f64> = (0..30).map(|e| 1.0 / (1.0 + e as f64)).collect();
        let mut gap: Vec<f64> = (0..30).map(|e| 0.1 * e as f64).collect();
        gap[10] = f64::NAN; // a gap in the line, not an error
        plot_training_curves(&path, &loss, &gap).expect("plots");
        let img = read_png(&path);
        assert_eq!(img.dimensions(), (WIDTH, 60 + 2 * 340));
        assert_only(dir.path(), &["curves.png"]);
        // The embedded font draws: the same plot without text has other pixels (titles,
        // ticks, legend), on every machine.
        let bare = dir.path().join("bare.png");
        without_text(|| plot_training_curves(&bare, &loss, &gap)).expect("plots");
        assert_ne!(read_png(&bare), img);
        // The title band holds dark pixels of text.
        let dark_in_title = (0..WIDTH)
            .flat_map(|x| (0..30).map(move |y| (x, y)))
            .filter(|&(x, y)| img.get_pixel(x, y)[0] < 100)
            .count();
        assert!(
            dark_in_title > 50,
            "{dark_in_title} dark pixels in the title band"
        );
    }

    #[test]
    fn several_curves_in_several_panels() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let path = dir.path().join("panels.png");
        let curve = |label: &str, values: Vec<f64>| Curve {
            label: label.into(),
            values,
        };
        let panels = [
            Panel {
                title: "loss".into(),
                y_label: "loss".into(),
                curves: vec![
                    curve("train", vec![3.0, 2.0, 1.5]),
                    curve("test", vec![3.5, 2.5]),
                ],
            },
            Panel {
                title: "gap".into(),
                y_label: "E_I − E_C".into(),
                curves: vec![curve("gap", vec![0.5])],
            },
            Panel {
                title: "accuracy".into(),
                y_label: "accuracy".into(),
                curves: vec![curve("test", vec![0.5, 0.7, 0.9])],
            },
        ];
        plot_curves(&path, &panels).expect("plots");
        assert_eq!(read_png(&path).dimensions(), (WIDTH, 60 + 3 * 340));
        assert!(matches!(
            plot_curves(&path, &[]),
            Err(PlotError::InvalidInput(_))
        ));
        let all_nan = Panel {
            curves: vec![curve("x", vec![f64::NAN])],
            ..panels[1].clone()
        };
        assert!(matches!(
            plot_curves(&path, &[all_nan]),
            Err(PlotError::InvalidInput(_))
        ));
    }

    #[test]
    fn energy_landscape_colours_low_to_high_and_shows_points() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let path = dir.path().join("landscape.png");
        // E grows from left to right: dark (viridis 0) on the left, yellow on the right.
        let energy = field(50, 40, |x, _| x);
        without_text(|| {
            plot_energy_landscape(
                &path,
                &energy,
                &[(0.0, 0.0), (0.5, 1.0), (9.0, 9.0)], // the last one is outside: skipped
                &[(-0.5, -1.0)],
                &HeatmapOptions::default(),
            )
        })
        .expect("plots");
        let img = read_png(&path);
        assert_eq!(img.dimensions(), (WIDTH + COLOR_BAR_WIDTH, HEIGHT));
        // Without text the chart spans the 12-pixel margins of the 800-pixel main area.
        assert!(
            close(*img.get_pixel(20, 300), (68, 1, 84), 12),
            "{:?}",
            img.get_pixel(20, 300)
        );
        assert!(
            close(*img.get_pixel(780, 300), (253, 231, 37), 12),
            "{:?}",
            img.get_pixel(780, 300)
        );
        // The data point at (0, 0) is white, the prediction at (−0.5, −1) red.
        let (px, py) = pixel_of(&energy.grid, (0.0, 0.0), WIDTH);
        assert!(
            close(*img.get_pixel(px, py), DATA_COLOR, 30),
            "{:?}",
            img.get_pixel(px, py)
        );
        let (px, py) = pixel_of(&energy.grid, (-0.5, -1.0), WIDTH);
        assert!(
            close(*img.get_pixel(px, py), MODEL_COLOR, 30),
            "{:?}",
            img.get_pixel(px, py)
        );
        // The colour bar runs from dark at the bottom to yellow at the top.
        let bar_x = WIDTH + COLOR_BAR_WIDTH / 2;
        assert!(close(*img.get_pixel(bar_x, HEIGHT - 20), (68, 1, 84), 12));
        assert!(close(*img.get_pixel(bar_x, 20), (253, 231, 37), 12));
        assert_only(dir.path(), &["landscape.png"]);
    }

    #[test]
    fn heatmaps_take_non_finite_values_and_colour_ranges() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let mut energy = field(30, 30, |x, y| x * x + y * y);
        energy.values[0] = f64::NAN;
        energy.values[1] = f64::INFINITY;
        for (i, range) in [
            ColorRange::Full,
            ColorRange::Quantiles(0.05, 0.9),
            ColorRange::Fixed(0.0, 2.0),
        ]
        .into_iter()
        .enumerate()
        {
            let path = dir.path().join(format!("density{i}.png"));
            let options = HeatmapOptions {
                labels: Labels::new("density", "y1", "y2"),
                range,
                ..HeatmapOptions::default()
            };
            plot_density(&path, &energy, &[(0.1, 0.2)], &[(0.3, -0.4)], &options).expect("plots");
            read_png(&path);
        }
        // A constant field and an all-NaN field still plot.
        for (name, value) in [("const.png", 3.0), ("nan.png", f64::NAN)] {
            let flat = field(5, 5, |_, _| value);
            let path = dir.path().join(name);
            plot_heatmap(&path, &flat, &[], &HeatmapOptions::default()).expect("plots");
            read_png(&path);
        }
    }

    #[test]
    fn heatmap_input_errors() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let path = dir.path().join("bad.png");
        let mut energy = field(10, 10, |x, _| x);
        energy.values.pop();
        let err = plot_energy_landscape(&path, &energy, &[], &[], &HeatmapOptions::default())
            .expect_err("99 values for 100 points");
        assert!(err.to_string().contains("99 values"), "{err}");
        let energy = field(10, 10, |x, _| x);
        for range in [
            ColorRange::Quantiles(0.9, 0.1),
            ColorRange::Quantiles(0.0, 1.5),
            ColorRange::Fixed(1.0, 1.0),
        ] {
            let options = HeatmapOptions {
                range,
                ..HeatmapOptions::default()
            };
            assert!(matches!(
                plot_heatmap(&path, &energy, &[], &options),
                Err(PlotError::InvalidInput(_))
            ));
        }
        assert_only(dir.path(), &[]);
    }

    #[test]
    fn decision_regions_colour_each_class() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let path = dir.path().join("regions.png");
        let grid = Grid::new((-1.0, 1.0), (-1.0, 1.0), 40, 40).expect("valid");
        let predicted: Vec<i64> = grid
            .points()
            .iter()
            .map(|&(x, _)| i64::from(x > 0.0))
            .collect();
        let points = [(-0.5, 0.5), (0.5, -0.5)];
        without_text(|| {
            plot_decision_regions(
                &path,
                &grid,
                &predicted,
                &points,
                &[0, 1],
                &names(2),
                &Labels::default(),
            )
        })
        .expect("plots");
        let img = read_png(&path);
        assert_eq!(img.dimensions(), (WIDTH, HEIGHT));
        // Light blue (class 0) on the left, light orange (class 1) on the right.
        let left = img.get_pixel(100, 100);
        let right = img.get_pixel(700, 100);
        assert!(left[2] > left[0] && left[0] < 250, "{left:?}");
        assert!(right[0] > right[2] && right[2] < 250, "{right:?}");
        // The points are drawn in their class's full colour.
        let (px, py) = pixel_of(&grid, points[0], WIDTH);
        let p = img.get_pixel(px, py);
        assert!(close(*p, (31, 119, 180), 30), "{p:?}");
        let (px, py) = pixel_of(&grid, points[1], WIDTH);
        let p = img.get_pixel(px, py);
        assert!(close(*p, (255, 127, 14), 30), "{p:?}");

        let text_path = dir.path().join("regions_text.png");
        let labels = Labels::new("Decision regions", "x1", "x2");
        plot_decision_regions(
            &text_path,
            &grid,
            &predicted,
            &points,
            &[0, 1],
            &["left".to_string(), "right".to_string()],
            &labels,
        )
        .expect("plots");
        read_png(&text_path);
        assert_only(dir.path(), &["regions.png", "regions_text.png"]);
    }

    fn names(k: usize) -> Vec<String> {
        (0..k).map(|c| format!("class {c}")).collect()
    }

    #[test]
    fn decision_region_input_errors() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let path = dir.path().join("bad.png");
        let grid = Grid::new((-1.0, 1.0), (-1.0, 1.0), 4, 4).expect("valid");
        let ok = vec![0i64; 16];
        // (predicted classes, points, labels, number of classes, expected message)
        type Case<'a> = (&'a [i64], &'a [(f64, f64)], &'a [i64], usize, &'a str);
        let cases: [Case; 4] = [
            (&ok[..15], &[], &[], 2, "15 predicted"),
            (&ok, &[(0.0, 0.0)], &[], 2, "1 points but 0 labels"),
            (&ok, &[(0.0, 0.0)], &[2], 2, "class index 2"),
            (&ok, &[], &[], 0, "at least one class"),
        ];
        for (predicted, points, labels, k, expected) in cases {
            let err = plot_decision_regions(
                &path,
                &grid,
                predicted,
                points,
                labels,
                &names(k),
                &Labels::default(),
            )
            .expect_err("invalid");
            assert!(
                err.to_string().contains(expected),
                "{expected:?} not in {err}"
            );
        }
        assert_only(dir.path(), &[]);
    }

    #[test]
    fn drawing_and_writing_failures_leave_no_file() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let path = dir.path().join("never.png");
        let draw = |_: &Area, _: bool| -> DrawResult { Err("cannot draw".into()) };
        let err = render(&path, (32, 32), draw).expect_err("fails");
        assert!(matches!(err, PlotError::Drawing { .. }), "{err:?}");
        let missing = dir.path().join("no-such-folder").join("x.png");
        let err = plot_training_curves(&missing, &[1.0], &[0.0]).expect_err("no folder");
        assert!(matches!(err, PlotError::Write { .. }), "{err:?}");
        assert_only(dir.path(), &[]);
    }

    #[test]
    fn an_existing_file_is_replaced_whole() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let path = dir.path().join("curves.png");
        std::fs::write(&path, b"old contents").expect("write");
        plot_training_curves(&path, &[2.0, 1.0], &[0.0, 0.5]).expect("plots");
        read_png(&path);
        assert_only(dir.path(), &["curves.png"]);
    }
}
