//! Draws every kind of plot from built-in data and hand-written energies (no training), to see
//! what the runner's reports look like: `cargo xtask cargo run -p ebm-lab --example gallery [DIR]`.

use ebm_data::{blobs, eight_gaussians, two_branch};
use ebm_plot::{
    plot_decision_regions, plot_density, plot_energy_landscape, plot_training_curves, ColorRange,
    Grid, HeatmapOptions, Labels, ScalarField,
};
use std::path::PathBuf;

fn main() -> anyhow::Result<()> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "target/ebm-lab-gallery".into()),
    );
    std::fs::create_dir_all(&dir)?;

    // Training curves.
    let loss: Vec<f64> = (0..60)
        .map(|e| 1.0 / (1.0 + 0.2 * e as f64) + 0.05)
        .collect();
    let gap: Vec<f64> = (0..60).map(|e| 1.0 - (-0.1 * e as f64).exp()).collect();
    plot_training_curves(&dir.join("curves.png"), &loss, &gap)?;
    println!("curves.png");

    // Energy landscape of the two-branch data under E(x, y) = (y² − x)².
    let data = two_branch(300, 0.03, 1)?;
    let points = data.plot_points()?.unwrap_or_default();
    let grid = Grid::new((0.0, 1.0), (-1.2, 1.2), 120, 120)?;
    let values = grid
        .points()
        .iter()
        .map(|&(x, y)| (y * y - x).powi(2))
        .collect();
    let predictions: Vec<(f64, f64)> = (0..=20)
        .flat_map(|i| {
            let x = i as f64 / 20.0;
            [(x, x.sqrt()), (x, -x.sqrt())]
        })
        .collect();
    let options = HeatmapOptions {
        labels: Labels::new("Energy E(x, y) = (y² − x)²", "x", "y"),
        range: ColorRange::Quantiles(0.0, 0.95),
        ..HeatmapOptions::default()
    };
    plot_energy_landscape(
        &dir.join("landscape.png"),
        &ScalarField { grid, values },
        &points,
        &predictions,
        &options,
    )?;
    println!("landscape.png");

    // Decision regions of a nearest-centre classifier on three blobs.
    let data = blobs(300, 3, 0.4, 2)?;
    let points = data.plot_points()?.unwrap_or_default();
    let labels = data.label_indices()?.unwrap_or_default();
    let grid = Grid::new((-3.5, 3.5), (-3.5, 3.5), 150, 150)?;
    let centres: Vec<(f64, f64)> = (0..3)
        .map(|k| {
            let a = std::f64::consts::TAU * k as f64 / 3.0;
            (2.0 * a.cos(), 2.0 * a.sin())
        })
        .collect();
    let predicted: Vec<i64> = grid
        .points()
        .iter()
        .map(|&(x, y)| {
            let d = |k: usize| (x - centres[k].0).powi(2) + (y - centres[k].1).powi(2);
            (0..3).min_by(|&a, &b| d(a).total_cmp(&d(b))).unwrap_or(0) as i64
        })
        .collect();
    plot_decision_regions(
        &dir.join("regions.png"),
        &grid,
        &predicted,
        &points,
        &labels,
        &data.class_names,
        &Labels::new("Decision regions", "x1", "x2"),
    )?;
    println!("regions.png");

    // 8-Gaussians density under its true energy −log Σ exp(−|p − c|² / 2σ²).
    let sigma = 0.1;
    let data = eight_gaussians(400, 2.0, sigma, 3)?;
    let points = data.plot_points()?.unwrap_or_default();
    let grid = Grid::new((-3.0, 3.0), (-3.0, 3.0), 150, 150)?;
    let values = grid
        .points()
        .iter()
        .map(|&(x, y)| {
            let terms: Vec<f64> = (0..8)
                .map(|k| {
                    let a = std::f64::consts::FRAC_PI_4 * k as f64;
                    -((x - 2.0 * a.cos()).powi(2) + (y - 2.0 * a.sin()).powi(2))
                        / (2.0 * sigma * sigma)
                })
                .collect();
            let m = terms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            -(m + terms.iter().map(|t| (t - m).exp()).sum::<f64>().ln())
        })
        .collect();
    let samples: Vec<(f64, f64)> = points.iter().map(|&(x, y)| (0.9 * x, 0.9 * y)).collect();
    let options = HeatmapOptions {
        labels: Labels::new("8-Gaussians: energy and samples", "y1", "y2"),
        range: ColorRange::Quantiles(0.0, 0.5),
        ..HeatmapOptions::default()
    };
    plot_density(
        &dir.join("density.png"),
        &ScalarField { grid, values },
        &points,
        &samples,
        &options,
    )?;
    println!("density.png");
    println!("wrote {}", dir.display());
    Ok(())
}
