//! Built-in data generators. Each takes the number of examples `n`, the noise level and a seed
//! explicitly, and gives the same data for the same arguments (see the module docs of
//! [`crate`] for the random number generator).

use super::rng::SeededRng;
use super::{Dataset, TargetKind};
use crate::error::{DataError, Result};
use serde::{Deserialize, Serialize};
use std::f64::consts::{PI, TAU};
use tch::Tensor;

/// How two-class labels are encoded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BinaryLabels {
    /// Float −1 / +1 ([`TargetKind::Binary`]), for E = −y·G(x).
    #[default]
    Signs,
    /// Int64 0 / 1 ([`TargetKind::Classes`] with 2 classes), for multi-class energies.
    Indices,
}

pub(crate) fn check_n(n: usize) -> Result<()> {
    check_at_least("n", n, 1)
}

pub(crate) fn check_noise(noise: f64) -> Result<()> {
    if noise.is_finite() && noise >= 0.0 {
        Ok(())
    } else {
        Err(DataError::Invalid {
            field: "noise",
            reason: "must be finite and >= 0".into(),
            value: noise.to_string(),
        })
    }
}

pub(crate) fn check_at_least(field: &'static str, value: usize, min: usize) -> Result<()> {
    if value >= min {
        Ok(())
    } else {
        Err(DataError::Invalid {
            field,
            reason: format!("must be >= {min}"),
            value: value.to_string(),
        })
    }
}

pub(crate) fn check_positive(field: &'static str, value: f64) -> Result<()> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(DataError::Invalid {
            field,
            reason: "must be finite and > 0".into(),
            value: value.to_string(),
        })
    }
}

/// Row-major `[n, d]` Float tensor from f64 values.
fn matrix(values: &[f64], n: usize, d: usize) -> Result<Tensor> {
    debug_assert_eq!(values.len(), n * d);
    let v: Vec<f32> = values.iter().map(|&v| v as f32).collect();
    Ok(Tensor::from_slice(&v).f_view([n as i64, d as i64])?)
}

fn vector_f(values: &[f64]) -> Tensor {
    let v: Vec<f32> = values.iter().map(|&v| v as f32).collect();
    Tensor::from_slice(&v)
}

fn names(prefix: &str, d: usize) -> Vec<String> {
    if d == 1 {
        vec![prefix.to_string()]
    } else {
        (1..=d).map(|i| format!("{prefix}{i}")).collect()
    }
}

/// 1-D regression from a function of x drawn uniformly in [lo, hi): y = f(x, rng) + noise·ε.
fn regression_1d(
    n: usize,
    noise: f64,
    seed: u64,
    (lo, hi): (f64, f64),
    mut f: impl FnMut(f64, &mut SeededRng) -> (f64, Option<f64>),
) -> Result<Dataset> {
    check_n(n)?;
    check_noise(noise)?;
    let mut rng = SeededRng::new(seed);
    let mut xs = Vec::with_capacity(n);
    let mut ys = Vec::with_capacity(n);
    let mut zs = Vec::with_capacity(n);
    for _ in 0..n {
        let x = rng.uniform_in(lo, hi);
        let (y, z) = f(x, &mut rng);
        xs.push(x);
        ys.push(y + noise * rng.normal());
        if let Some(z) = z {
            zs.push(z);
        }
    }
    Ok(Dataset {
        x: matrix(&xs, n, 1)?,
        y: matrix(&ys, n, 1)?,
        kind: TargetKind::Regression,
        latent: if zs.len() == n {
            Some(matrix(&zs, n, 1)?)
        } else {
            None
        },
        answer_sets: None,
        feature_names: names("x", 1),
        class_names: vec![],
    })
}

/// y = sin(3x) + noise·ε, x ~ U[−1, 1]: one answer per input.
pub fn sine(n: usize, noise: f64, seed: u64) -> Result<Dataset> {
    regression_1d(n, noise, seed, (-1.0, 1.0), |x, _| ((3.0 * x).sin(), None))
}

/// The two-branch relation y² = x: x ~ U[0, 1], y = s·√x + noise·ε with a random sign s, so
/// every x has two admissible answers ±√x. The sign is returned as the latent (Float ±1).
pub fn two_branch(n: usize, noise: f64, seed: u64) -> Result<Dataset> {
    regression_1d(n, noise, seed, (0.0, 1.0), |x, rng| {
        let s = rng.sign();
        (s * x.sqrt(), Some(s))
    })
}

/// The 2006 tutorial's parabola Y = X² + noise·ε, X ~ U[−1, 1].
pub fn parabola(n: usize, noise: f64, seed: u64) -> Result<Dataset> {
    regression_1d(n, noise, seed, (-1.0, 1.0), |x, _| (x * x, None))
}

/// Points on the unit circle as 1-D regression: θ ~ U[0, 2π), x = cos θ, y = sin θ + noise·ε,
/// so each x ∈ (−1, 1) has the two answers ±√(1 − x²).
pub fn circle(n: usize, noise: f64, seed: u64) -> Result<Dataset> {
    check_n(n)?;
    check_noise(noise)?;
    let mut rng = SeededRng::new(seed);
    let mut xs = Vec::with_capacity(n);
    let mut ys = Vec::with_capacity(n);
    for _ in 0..n {
        let theta = rng.uniform_in(0.0, TAU);
        xs.push(theta.cos());
        ys.push(theta.sin() + noise * rng.normal());
    }
    Ok(Dataset {
        x: matrix(&xs, n, 1)?,
        y: matrix(&ys, n, 1)?,
        kind: TargetKind::Regression,
        latent: None,
        answer_sets: None,
        feature_names: names("x", 1),
        class_names: vec![],
    })
}

/// Builds a 2-D labelled data set from per-example (point, class) draws.
fn labelled_2d(
    n: usize,
    n_classes: usize,
    labels: BinaryLabels,
    mut draw: impl FnMut(usize, &mut SeededRng) -> (f64, f64, usize),
    seed: u64,
) -> Result<Dataset> {
    let mut rng = SeededRng::new(seed);
    let mut xs = Vec::with_capacity(2 * n);
    let mut cs = Vec::with_capacity(n);
    for i in 0..n {
        let (a, b, c) = draw(i, &mut rng);
        xs.push(a);
        xs.push(b);
        cs.push(c);
    }
    let x = matrix(&xs, n, 2)?;
    let binary = n_classes == 2 && labels == BinaryLabels::Signs;
    let (y, kind, class_names) = if binary {
        let s: Vec<f64> = cs
            .iter()
            .map(|&c| if c == 0 { -1.0 } else { 1.0 })
            .collect();
        (
            vector_f(&s),
            TargetKind::Binary,
            vec!["-1".into(), "+1".into()],
        )
    } else {
        let c: Vec<i64> = cs.iter().map(|&c| c as i64).collect();
        (
            Tensor::from_slice(&c),
            TargetKind::Classes {
                n_classes: n_classes as i64,
            },
            (0..n_classes).map(|k| k.to_string()).collect(),
        )
    };
    Ok(Dataset {
        x,
        y,
        kind,
        latent: None,
        answer_sets: None,
        feature_names: names("x", 2),
        class_names,
    })
}

/// Two interleaving half circles in 2-D (as scikit-learn's `make_moons`, with the angle drawn
/// uniformly): the upper moon (cos t, sin t) is class −1 (or 0), the lower moon
/// (1 − cos t, 0.5 − sin t) is class +1 (or 1); t ~ U[0, π], Gaussian noise of std `noise` on
/// both coordinates. Classes alternate, so they are balanced.
pub fn two_moons(n: usize, noise: f64, labels: BinaryLabels, seed: u64) -> Result<Dataset> {
    check_n(n)?;
    check_noise(noise)?;
    labelled_2d(
        n,
        2,
        labels,
        |i, rng| {
            let t = rng.uniform_in(0.0, PI);
            let c = i % 2;
            let (a, b) = if c == 0 {
                (t.cos(), t.sin())
            } else {
                (1.0 - t.cos(), 0.5 - t.sin())
            };
            (a + noise * rng.normal(), b + noise * rng.normal(), c)
        },
        seed,
    )
}

/// `classes` isotropic Gaussian blobs in 2-D with std `noise`, centred evenly on a circle of
/// radius 2 (class k at angle 2πk/K). Class k takes the examples i ≡ k (mod K).
/// Two classes give 0/1 indices ([`TargetKind::Classes`]).
pub fn blobs(n: usize, classes: usize, noise: f64, seed: u64) -> Result<Dataset> {
    check_n(n)?;
    check_at_least("classes", classes, 2)?;
    check_noise(noise)?;
    labelled_2d(
        n,
        classes,
        BinaryLabels::Indices,
        |i, rng| {
            let c = i % classes;
            let angle = TAU * c as f64 / classes as f64;
            (
                2.0 * angle.cos() + noise * rng.normal(),
                2.0 * angle.sin() + noise * rng.normal(),
                c,
            )
        },
        seed,
    )
}

/// `arms` interleaved spiral arms in 2-D, one class per arm: t ~ U[0, 1], radius 0.1 + 0.9·t,
/// angle 2πk/K + 2π·turns·t, plus Gaussian noise of std `noise`.
pub fn spirals(n: usize, arms: usize, turns: f64, noise: f64, seed: u64) -> Result<Dataset> {
    check_n(n)?;
    check_at_least("arms", arms, 2)?;
    check_positive("turns", turns)?;
    check_noise(noise)?;
    labelled_2d(
        n,
        arms,
        BinaryLabels::Indices,
        |i, rng| {
            let c = i % arms;
            let t = rng.uniform();
            let r = 0.1 + 0.9 * t;
            let angle = TAU * c as f64 / arms as f64 + TAU * turns * t;
            (
                r * angle.cos() + noise * rng.normal(),
                r * angle.sin() + noise * rng.normal(),
                c,
            )
        },
        seed,
    )
}

fn density_2d(points: &[f64], n: usize) -> Result<Dataset> {
    Ok(Dataset {
        x: Tensor::zeros([n as i64, 0], (tch::Kind::Float, tch::Device::Cpu)),
        y: matrix(points, n, 2)?,
        kind: TargetKind::Density,
        latent: None,
        answer_sets: None,
        feature_names: vec![],
        class_names: vec![],
    })
}

/// A 2-D density on `rings` concentric rings of radii j/rings (j = 1..=rings, so the outer one has
/// radius 1), with Gaussian noise of std `noise` on both coordinates. A ring's share of points
/// is proportional to its radius, so points are evenly spread along the rings.
pub fn rings(n: usize, rings: usize, noise: f64, seed: u64) -> Result<Dataset> {
    check_n(n)?;
    check_at_least("rings", rings, 1)?;
    check_noise(noise)?;
    let mut rng = SeededRng::new(seed);
    let total: f64 = (1..=rings).map(|j| j as f64).sum();
    let mut points = Vec::with_capacity(2 * n);
    for _ in 0..n {
        // Ring j with probability j / total.
        let u = rng.uniform() * total;
        let mut acc = 0.0;
        let mut j = rings;
        for k in 1..=rings {
            acc += k as f64;
            if u < acc {
                j = k;
                break;
            }
        }
        let r = j as f64 / rings as f64;
        let theta = rng.uniform_in(0.0, TAU);
        points.push(r * theta.cos() + noise * rng.normal());
        points.push(r * theta.sin() + noise * rng.normal());
    }
    density_2d(&points, n)
}

/// The 8-Gaussians density: 8 equal Gaussians of std `noise` centred on a circle of radius
/// `radius`, at angles kπ/4.
pub fn eight_gaussians(n: usize, radius: f64, noise: f64, seed: u64) -> Result<Dataset> {
    check_n(n)?;
    check_positive("radius", radius)?;
    check_noise(noise)?;
    let mut rng = SeededRng::new(seed);
    let mut points = Vec::with_capacity(2 * n);
    for _ in 0..n {
        let k = rng.below(8);
        let angle = PI / 4.0 * k as f64;
        points.push(radius * angle.cos() + noise * rng.normal());
        points.push(radius * angle.sin() + noise * rng.normal());
    }
    density_2d(&points, n)
}

/// A density in `dim` dimensions: `modes` equal Gaussians of std `noise` (isotropic) centred
/// at ±`radius` on the first ⌈modes/2⌉ axes (mode 2i at +radius·e_i, mode 2i+1 at
/// −radius·e_i), so 1 ≤ modes ≤ 2·dim. Its log-density is [`gaussian_mixture_log_density`].
pub fn gaussian_mixture(
    n: usize,
    dim: usize,
    modes: usize,
    radius: f64,
    noise: f64,
    seed: u64,
) -> Result<Dataset> {
    check_n(n)?;
    check_mixture(dim, modes, radius, noise)?;
    let mut rng = SeededRng::new(seed);
    let mut points = Vec::with_capacity(dim * n);
    for _ in 0..n {
        let k = rng.below(modes);
        for j in 0..dim {
            let centre = mixture_centre(k, j, radius);
            points.push(centre + noise * rng.normal());
        }
    }
    Ok(Dataset {
        x: Tensor::zeros([n as i64, 0], (tch::Kind::Float, tch::Device::Cpu)),
        y: matrix(&points, n, dim)?,
        kind: TargetKind::Density,
        latent: None,
        answer_sets: None,
        feature_names: vec![],
        class_names: vec![],
    })
}

pub(crate) fn check_mixture(dim: usize, modes: usize, radius: f64, noise: f64) -> Result<()> {
    check_at_least("dim", dim, 1)?;
    check_at_least("modes", modes, 1)?;
    if modes > 2 * dim {
        return Err(DataError::Invalid {
            field: "modes",
            reason: format!("must be at most 2·dim = {} (two modes per axis)", 2 * dim),
            value: modes.to_string(),
        });
    }
    check_positive("radius", radius)?;
    check_positive("noise", noise)?;
    Ok(())
}

/// Coordinate `j` of the centre of mode `k` of [`gaussian_mixture`].
fn mixture_centre(k: usize, j: usize, radius: f64) -> f64 {
    match (j == k / 2, k % 2) {
        (true, 0) => radius,
        (true, _) => -radius,
        (false, _) => 0.0,
    }
}

/// The exact log-density of [`gaussian_mixture`] at each row of `y` (`[N, dim]` values, row
/// major): log (1/M) Σ_k N(y; c_k, noise² I).
pub fn gaussian_mixture_log_density(
    y: &[f64],
    dim: usize,
    modes: usize,
    radius: f64,
    noise: f64,
) -> Result<Vec<f64>> {
    check_mixture(dim, modes, radius, noise)?;
    let norm = -0.5 * dim as f64 * (2.0 * PI * noise * noise).ln() - (modes as f64).ln();
    Ok(y.chunks(dim)
        .map(|row| {
            let terms: Vec<f64> = (0..modes)
                .map(|k| {
                    let d2: f64 = row
                        .iter()
                        .enumerate()
                        .map(|(j, v)| (v - mixture_centre(k, j, radius)).powi(2))
                        .sum();
                    -d2 / (2.0 * noise * noise)
                })
                .collect();
            let top = terms.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            top + terms.iter().map(|t| (t - top).exp()).sum::<f64>().ln() + norm
        })
        .collect())
}

/// The multimodal task of implicit models at scale: x ~ U[−1, 1]^`inputs`, and at every x the
/// `modes` admissible answers y_m = s_m ⊙ g(x) ∈ R^`dim`, m = 0..M−1; each row takes one of
/// them (uniformly) plus noise·ε.
///
/// g_j(x) = 0.6 + 0.3·sin(π·a_j·x + φ_j) is smooth and in [0.3, 0.9] (its a_j and φ_j come
/// from a fixed seed, so every seed draws from the same task), and the sign patterns are
/// s_m,j = −1 when bit (j mod L) of m is set, L = ⌈log₂ M⌉: for M a power of two every
/// coordinate is + in half the modes, so the modes' mean is 0 and a regression to the mean
/// covers none of them; two modes differ by at least 0.6 in some coordinate. Needs
/// M ≤ 2^dim. The row's mode is returned in [`Dataset::latent`], every row's M noise-free
/// answers in [`Dataset::answer_sets`].
pub fn multimodal(
    n: usize,
    inputs: usize,
    dim: usize,
    modes: usize,
    noise: f64,
    seed: u64,
) -> Result<Dataset> {
    check_n(n)?;
    check_multimodal(inputs, dim, modes)?;
    check_noise(noise)?;
    let (a, phase) = multimodal_branches(inputs, dim);
    let bits = usize::BITS - (modes - 1).leading_zeros();
    let sign = |m: usize, j: usize| -> f64 {
        if bits > 0 && (m >> (j % bits as usize)) & 1 == 1 {
            -1.0
        } else {
            1.0
        }
    };
    let mut rng = SeededRng::new(seed);
    let (mut xs, mut ys, mut zs) = (
        Vec::with_capacity(n * inputs),
        Vec::with_capacity(n * dim),
        Vec::with_capacity(n),
    );
    let mut sets = Vec::with_capacity(n * modes * dim);
    for _ in 0..n {
        let x: Vec<f64> = (0..inputs).map(|_| rng.uniform_in(-1.0, 1.0)).collect();
        let g: Vec<f64> = (0..dim)
            .map(|j| {
                let t: f64 = (0..inputs).map(|i| a[j * inputs + i] * x[i]).sum();
                0.6 + 0.3 * (PI * t + phase[j]).sin()
            })
            .collect();
        let m = rng.below(modes);
        for (j, gj) in g.iter().enumerate() {
            ys.push(sign(m, j) * gj + noise * rng.normal());
        }
        for k in 0..modes {
            sets.extend(g.iter().enumerate().map(|(j, gj)| sign(k, j) * gj));
        }
        xs.extend(x);
        zs.push(m as f64);
    }
    let floats: Vec<f32> = sets.iter().map(|&v| v as f32).collect();
    Ok(Dataset {
        x: matrix(&xs, n, inputs)?,
        y: matrix(&ys, n, dim)?,
        kind: TargetKind::Regression,
        latent: Some(matrix(&zs, n, 1)?),
        answer_sets: Some(Tensor::f_from_slice(&floats)?.f_view([
            n as i64,
            modes as i64,
            dim as i64,
        ])?),
        feature_names: names("x", inputs),
        class_names: vec![],
    })
}

pub(crate) fn check_multimodal(inputs: usize, dim: usize, modes: usize) -> Result<()> {
    check_at_least("inputs", inputs, 1)?;
    check_at_least("dim", dim, 1)?;
    check_at_least("modes", modes, 1)?;
    if dim < usize::BITS as usize && modes > 1 << dim {
        return Err(DataError::Invalid {
            field: "modes",
            reason: format!(
                "must be at most 2^dim = {} (distinct sign patterns)",
                1u64 << dim
            ),
            value: modes.to_string(),
        });
    }
    Ok(())
}

/// The fixed a_j (`[dim, inputs]`, row major, N(0, 1/inputs)) and φ_j of [`multimodal`]'s g.
fn multimodal_branches(inputs: usize, dim: usize) -> (Vec<f64>, Vec<f64>) {
    let mut rng = SeededRng::new(0x6d75_6c74_696d_6f64);
    let scale = 1.0 / (inputs as f64).sqrt();
    let a = (0..dim * inputs).map(|_| scale * rng.normal()).collect();
    let phase = (0..dim).map(|_| rng.uniform_in(0.0, 2.0 * PI)).collect();
    (a, phase)
}

/// The latent-variable mixture y = x + 0.5·z + noise·ε, x ~ U[−1, 1], with a hidden
/// z ∈ {−1, +1} (equally likely) returned in [`Dataset::latent`] and never in `x`.
pub fn latent_mixture(n: usize, noise: f64, seed: u64) -> Result<Dataset> {
    regression_1d(n, noise, seed, (-1.0, 1.0), |x, rng| {
        let z = rng.sign();
        (x + 0.5 * z, Some(z))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use tch::Kind;

    fn floats(t: &Tensor) -> Vec<f64> {
        Vec::<f64>::try_from(t.to_kind(Kind::Double).flatten(0, -1)).expect("float values")
    }

    fn ints(t: &Tensor) -> Vec<i64> {
        Vec::<i64>::try_from(t).expect("integer values")
    }

    fn pairs(t: &Tensor) -> Vec<(f64, f64)> {
        floats(t).chunks(2).map(|p| (p[0], p[1])).collect()
    }

    /// Every generator by name, with small n.
    fn make(name: &str, n: usize, noise: f64, seed: u64) -> Dataset {
        let data = match name {
            "sine" => sine(n, noise, seed),
            "two_branch" => two_branch(n, noise, seed),
            "parabola" => parabola(n, noise, seed),
            "circle" => circle(n, noise, seed),
            "two_moons" => two_moons(n, noise, BinaryLabels::Signs, seed),
            "two_moons_indices" => two_moons(n, noise, BinaryLabels::Indices, seed),
            "blobs" => blobs(n, 4, noise, seed),
            "spirals" => spirals(n, 3, 1.5, noise, seed),
            "rings" => rings(n, 3, noise, seed),
            "eight_gaussians" => eight_gaussians(n, 2.0, noise, seed),
            "latent_mixture" => latent_mixture(n, noise, seed),
            "gaussian_mixture" => gaussian_mixture(n, 5, 6, 2.0, noise, seed),
            "multimodal" => multimodal(n, 3, 8, 4, noise, seed),
            other => panic!("no generator {other}"),
        };
        data.expect("valid arguments")
    }

    #[rstest]
    #[case("sine", [60, 1], vec![60, 1], Kind::Float, TargetKind::Regression, false)]
    #[case("two_branch", [60, 1], vec![60, 1], Kind::Float, TargetKind::Regression, true)]
    #[case("parabola", [60, 1], vec![60, 1], Kind::Float, TargetKind::Regression, false)]
    #[case("circle", [60, 1], vec![60, 1], Kind::Float, TargetKind::Regression, false)]
    #[case("two_moons", [60, 2], vec![60], Kind::Float, TargetKind::Binary, false)]
    #[case("two_moons_indices", [60, 2], vec![60], Kind::Int64, TargetKind::Classes { n_classes: 2 }, false)]
    #[case("blobs", [60, 2], vec![60], Kind::Int64, TargetKind::Classes { n_classes: 4 }, false)]
    #[case("spirals", [60, 2], vec![60], Kind::Int64, TargetKind::Classes { n_classes: 3 }, false)]
    #[case("rings", [60, 0], vec![60, 2], Kind::Float, TargetKind::Density, false)]
    #[case("eight_gaussians", [60, 0], vec![60, 2], Kind::Float, TargetKind::Density, false)]
    #[case("latent_mixture", [60, 1], vec![60, 1], Kind::Float, TargetKind::Regression, true)]
    #[case("gaussian_mixture", [60, 0], vec![60, 5], Kind::Float, TargetKind::Density, false)]
    #[case("multimodal", [60, 3], vec![60, 8], Kind::Float, TargetKind::Regression, true)]
    fn shapes_and_kinds(
        #[case] name: &str,
        #[case] x_shape: [i64; 2],
        #[case] y_shape: Vec<i64>,
        #[case] y_kind: Kind,
        #[case] kind: TargetKind,
        #[case] has_latent: bool,
    ) {
        let data = make(name, 60, 0.1, 0);
        assert_eq!(data.x.size(), x_shape);
        assert_eq!(data.x.kind(), Kind::Float);
        assert_eq!(data.y.size(), y_shape);
        assert_eq!(data.y.kind(), y_kind);
        assert_eq!(data.kind, kind);
        assert_eq!(
            data.latent.as_ref().map(Tensor::size),
            has_latent.then(|| vec![60, 1])
        );
        assert_eq!(data.check().expect("consistent"), 60);
        assert!(floats(&data.x).iter().all(|v| v.is_finite()));
        assert!(floats(&data.y).iter().all(|v| v.is_finite()));
    }

    #[rstest]
    fn deterministic_for_a_seed_and_different_for_another(
        #[values(
            "sine",
            "two_branch",
            "parabola",
            "circle",
            "two_moons",
            "two_moons_indices",
            "blobs",
            "spirals",
            "rings",
            "eight_gaussians",
            "latent_mixture",
            "gaussian_mixture"
        )]
        name: &str,
    ) {
        let a = make(name, 50, 0.1, 11);
        let b = make(name, 50, 0.1, 11);
        let c = make(name, 50, 0.1, 12);
        assert!(
            a.x.equal(&b.x) && a.y.equal(&b.y),
            "{name}: same seed, other data"
        );
        assert!(
            !(a.x.equal(&c.x) && a.y.equal(&c.y)),
            "{name}: other seed, same data"
        );
    }

    #[test]
    fn generators_leave_the_global_torch_generator_alone() {
        tch::manual_seed(5);
        let expected = Tensor::randn([4], (Kind::Float, tch::Device::Cpu));
        tch::manual_seed(5);
        let _ = make("two_moons", 100, 0.1, 1);
        let _ = make("rings", 100, 0.1, 1);
        let got = Tensor::randn([4], (Kind::Float, tch::Device::Cpu));
        assert!(expected.equal(&got));
    }

    #[test]
    fn noiseless_regression_data_lies_on_its_curve() {
        let check = |data: Dataset, f: &dyn Fn(f64, f64) -> f64, (lo, hi): (f64, f64)| {
            for (x, y) in floats(&data.x).into_iter().zip(floats(&data.y)) {
                assert!((lo..=hi).contains(&x), "x = {x} outside [{lo}, {hi}]");
                assert!(f(x, y).abs() < 1e-5, "({x}, {y}) is off its curve");
            }
        };
        check(
            sine(200, 0.0, 1).expect("ok"),
            &|x, y| y - (3.0 * x).sin(),
            (-1.0, 1.0),
        );
        check(
            parabola(200, 0.0, 1).expect("ok"),
            &|x, y| y - x * x,
            (-1.0, 1.0),
        );
        check(
            two_branch(200, 0.0, 1).expect("ok"),
            &|x, y| y * y - x,
            (0.0, 1.0),
        );
        check(
            circle(200, 0.0, 1).expect("ok"),
            &|x, y| x * x + y * y - 1.0,
            (-1.0, 1.0),
        );
    }

    #[test]
    fn two_branch_data_has_both_signs_matching_its_latent() {
        let data = two_branch(400, 0.01, 3).expect("ok");
        let y = floats(&data.y);
        let s = floats(data.latent.as_ref().expect("the sign is returned"));
        let positive = y.iter().filter(|&&v| v > 0.0).count();
        // Binomial(400, 1/2): 140..260 holds with overwhelming probability, for any seed.
        assert!(
            (140..=260).contains(&positive),
            "{positive} of 400 positive"
        );
        // Away from x ≈ 0 the noise cannot flip the sign.
        for ((x, y), s) in floats(&data.x).into_iter().zip(&y).zip(&s) {
            if x > 0.01 {
                assert_eq!(y.signum(), *s);
            }
        }
    }

    #[test]
    fn latent_mixture_is_x_plus_half_z() {
        let data = latent_mixture(300, 0.0, 4).expect("ok");
        let z = floats(data.latent.as_ref().expect("z is returned"));
        assert!(z.iter().all(|&v| v == 1.0 || v == -1.0));
        assert!(z.contains(&1.0) && z.contains(&-1.0));
        for ((x, y), z) in floats(&data.x).into_iter().zip(floats(&data.y)).zip(z) {
            assert!((y - x - 0.5 * z).abs() < 1e-6);
        }
    }

    #[test]
    fn labels_are_in_range_and_every_class_appears() {
        for (data, k) in [
            (make("blobs", 200, 0.3, 1), 4),
            (make("spirals", 200, 0.05, 1), 3),
            (make("two_moons_indices", 200, 0.1, 1), 2),
        ] {
            let labels = ints(&data.y);
            assert!(labels.iter().all(|&c| (0..k).contains(&c)));
            assert!((0..k).all(|c| labels.contains(&c)), "a class is missing");
            assert_eq!(data.class_names.len(), k as usize);
        }
        let signs = floats(&make("two_moons", 200, 0.1, 1).y);
        assert!(signs.iter().all(|&s| s == 1.0 || s == -1.0));
        assert_eq!(signs.iter().filter(|&&s| s > 0.0).count(), 100);
    }

    #[test]
    fn the_two_moon_encodings_agree() {
        let signs = two_moons(80, 0.1, BinaryLabels::Signs, 9).expect("ok");
        let indices = two_moons(80, 0.1, BinaryLabels::Indices, 9).expect("ok");
        assert!(signs.x.equal(&indices.x));
        let as_signs: Vec<f64> = ints(&indices.y)
            .iter()
            .map(|&c| 2.0 * c as f64 - 1.0)
            .collect();
        assert_eq!(floats(&signs.y), as_signs);
        // Noiseless moons: the upper one is on the unit circle above y = 0.
        let clean = two_moons(100, 0.0, BinaryLabels::Indices, 2).expect("ok");
        for ((a, b), c) in pairs(&clean.x).into_iter().zip(ints(&clean.y)) {
            if c == 0 {
                assert!((a * a + b * b - 1.0).abs() < 1e-5 && b >= -1e-6);
            } else {
                assert!(((1.0 - a).powi(2) + (0.5 - b).powi(2) - 1.0).abs() < 1e-5);
            }
        }
    }

    #[test]
    fn noiseless_densities_lie_on_their_rings_and_centres() {
        let radii: Vec<f64> = pairs(&rings(300, 3, 0.0, 5).expect("ok").y)
            .into_iter()
            .map(|(a, b)| (a * a + b * b).sqrt())
            .collect();
        for ring in [1.0 / 3.0, 2.0 / 3.0, 1.0] {
            assert!(
                radii.iter().any(|r| (r - ring).abs() < 1e-5),
                "ring {ring} empty"
            );
        }
        assert!(radii.iter().all(|r| [1.0 / 3.0, 2.0 / 3.0, 1.0]
            .iter()
            .any(|q| (r - q).abs() < 1e-5)));

        let mut used = [false; 8];
        for (a, b) in pairs(&eight_gaussians(300, 2.0, 0.0, 5).expect("ok").y) {
            let k = (b.atan2(a) / (PI / 4.0)).round().rem_euclid(8.0) as usize;
            let angle = PI / 4.0 * k as f64;
            assert!((a - 2.0 * angle.cos()).abs() < 1e-5 && (b - 2.0 * angle.sin()).abs() < 1e-5);
            used[k] = true;
        }
        assert!(used.iter().all(|&u| u), "not every centre was used");
    }

    #[test]
    fn multimodal_answers_are_the_sign_patterns_of_one_branch() {
        let data = multimodal(200, 2, 4, 4, 0.0, 7).expect("data");
        let sets = data.answer_sets.as_ref().expect("answer sets");
        assert_eq!(sets.size(), vec![200, 4, 4]);
        let sets = floats(sets);
        let ys = floats(&data.y);
        let modes = floats(data.latent.as_ref().expect("modes"));
        for (i, row) in sets.chunks(16).enumerate() {
            let g = &row[0..4];
            // Mode 0 is all +: g itself, in [0.3, 0.9].
            assert!(
                g.iter().all(|&v| (0.3 - 1e-6..=0.9 + 1e-6).contains(&v)),
                "{g:?}"
            );
            // L = 2 bits: coordinate j flips with bit (j mod 2) of m.
            let expect = |m: usize, j: usize| if (m >> (j % 2)) & 1 == 1 { -g[j] } else { g[j] };
            for m in 0..4 {
                for j in 0..4 {
                    assert!((row[m * 4 + j] - expect(m, j)).abs() < 1e-6);
                }
            }
            // Noise-free: the row's y is its own mode's answer.
            let m = modes[i] as usize;
            for j in 0..4 {
                assert!((ys[i * 4 + j] - row[m * 4 + j]).abs() < 1e-6);
            }
        }
        // Four balanced sign patterns: the modes' mean is 0 in every coordinate.
        for row in sets.chunks(16) {
            for j in 0..4 {
                let mean: f64 = (0..4).map(|m| row[m * 4 + j]).sum::<f64>() / 4.0;
                assert!(mean.abs() < 1e-6);
            }
        }
        // Every mode is drawn.
        for m in 0..4 {
            assert!(modes.iter().any(|&z| z as usize == m));
        }
    }

    #[test]
    fn multimodal_draws_the_same_task_for_every_seed() {
        // g_j(x) = 0.6 + 0.3·sin(π·a_j·x + φ_j) with the fixed (a, φ): mode 0 of every row, at
        // any seed, is that formula at the row's x.
        let (a, phase) = multimodal_branches(2, 3);
        for seed in [1, 2] {
            let data = multimodal(50, 2, 3, 2, 0.05, seed).expect("data");
            let xs = floats(&data.x);
            let sets = floats(data.answer_sets.as_ref().expect("sets"));
            for (i, x) in xs.chunks(2).enumerate() {
                for j in 0..3 {
                    let t = a[j * 2] * x[0] + a[j * 2 + 1] * x[1];
                    let g = 0.6 + 0.3 * (PI * t + phase[j]).sin();
                    assert!((sets[i * 6 + j] - g).abs() < 1e-6);
                    // Two modes: L = 1 bit, mode 1 is −g in every coordinate.
                    assert!((sets[i * 6 + 3 + j] + g).abs() < 1e-6);
                }
            }
        }
    }

    #[rstest]
    #[case::n_zero(sine(0, 0.1, 0), "n")]
    #[case::negative_noise(parabola(10, -0.1, 0), "noise")]
    #[case::nan_noise(circle(10, f64::NAN, 0), "noise")]
    #[case::one_class(blobs(10, 1, 0.1, 0), "classes")]
    #[case::one_arm(spirals(10, 1, 1.0, 0.1, 0), "arms")]
    #[case::zero_turns(spirals(10, 2, 0.0, 0.1, 0), "turns")]
    #[case::zero_rings(rings(10, 0, 0.1, 0), "rings")]
    #[case::zero_radius(eight_gaussians(10, 0.0, 0.1, 0), "radius")]
    #[case::infinite_noise(two_moons(10, f64::INFINITY, BinaryLabels::Signs, 0), "noise")]
    #[case::no_inputs(multimodal(10, 0, 2, 2, 0.1, 0), "inputs")]
    #[case::no_answer_dimension(multimodal(10, 1, 0, 2, 0.1, 0), "dim")]
    #[case::too_many_modes(multimodal(10, 1, 2, 5, 0.1, 0), "modes")]
    #[case::no_modes(multimodal(10, 1, 2, 0, 0.1, 0), "modes")]
    fn bad_arguments_name_the_field(#[case] result: Result<Dataset>, #[case] field: &str) {
        match result {
            Err(DataError::Invalid { field: f, .. }) => assert_eq!(f, field),
            other => panic!("expected an invalid {field}, got {other:?}"),
        }
    }

    #[test]
    fn one_example_is_enough() {
        for name in ["sine", "two_moons", "blobs", "rings", "latent_mixture"] {
            assert_eq!(make(name, 1, 0.1, 0).len(), 1);
        }
    }

    #[test]
    fn gaussian_mixture_centres_and_log_density_by_hand() {
        // Modes 0..4 of 3 in R^2 sit at +r e0, -r e0, +r e1.
        assert_eq!(
            [(0, 0), (0, 1), (1, 0), (1, 1), (2, 0), (2, 1)]
                .map(|(k, j)| mixture_centre(k, j, 2.0)),
            [2.0, 0.0, -2.0, 0.0, 0.0, 2.0]
        );
        // One mode at the origin's neighbour: log N(y; (r, 0), s^2 I) in 2-D at y = (r, 0).
        let (r, s) = (1.5, 0.5);
        let at_centre = gaussian_mixture_log_density(&[r, 0.0], 2, 1, r, s).expect("valid");
        let expected = -(2.0 * PI * s * s).ln();
        assert!((at_centre[0] - expected).abs() < 1e-12);
        // Two modes, at y = 0 both at distance r: log(½·2·N) = log N(r).
        let mid = gaussian_mixture_log_density(&[0.0, 0.0], 2, 2, r, s).expect("valid");
        let expected = -(2.0 * PI * s * s).ln() - r * r / (2.0 * s * s);
        assert!((mid[0] - expected).abs() < 1e-12);
        // Drawn points: each coordinate's mean is ~0 on the axes without modes, and the
        // spread around the nearest centre is the noise.
        let data = gaussian_mixture(4000, 4, 2, 2.0, 0.3, 5).expect("valid");
        let y = floats(&data.y);
        let off_axis: f64 = y.chunks(4).map(|row| row[3]).sum::<f64>() / 4000.0;
        assert!(off_axis.abs() < 0.03, "{off_axis}");
        let near = y
            .chunks(4)
            .filter(|row| (row[0].abs() - 2.0).abs() < 1.2)
            .count();
        assert!(near > 3990, "{near} of 4000 near ±2 on axis 0");
    }

    #[test]
    fn gaussian_mixture_refuses_impossible_settings() {
        for (dim, modes, radius, noise, field) in [
            (0, 1, 1.0, 0.1, "dim"),
            (2, 0, 1.0, 0.1, "modes"),
            (2, 5, 1.0, 0.1, "modes"),
            (2, 2, 0.0, 0.1, "radius"),
            (2, 2, 1.0, 0.0, "noise"),
            (2, 2, 1.0, f64::NAN, "noise"),
        ] {
            match gaussian_mixture(10, dim, modes, radius, noise, 0) {
                Err(DataError::Invalid { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{field}: {other:?}"),
            }
        }
    }
}
