//! The β soft-min over a hidden sign: E(y, z) = ½ (y − z)² with z ∈ {−1, +1}.
//!
//! Prints F_β(y) = −(1/β) log Σ_z e^(−β E(y, z)) on a grid of y at several β, and where its
//! minima are. At small β the two modes blur into one well at y = 0 (for β < 1 the only
//! minimum); as β grows F_β tends to min_z E, with minima at ±1.
//!
//! Run with `cargo xtask cargo run -p ebm-latent --example soft_min`.

use ebm_core::Energy;
use ebm_latent::{FnLatentEnergy, LatentSpace, Marginalized, ZPenalty};
use tch::{Device, Kind, Tensor};

fn main() -> ebm_core::Result<()> {
    let energy = FnLatentEnergy::new(|_x: &Tensor, y: &Tensor, z: &Tensor| {
        (y - z).square().sum_dim_intlist(1, false, None) * 0.5
    });
    let z = LatentSpace::signs(Kind::Double, Device::Cpu)?;
    let mut f = Marginalized::new(energy, z, 1.0, ZPenalty::NONE)?;

    let ys: Vec<f64> = (0..=8).map(|i| -2.0 + 0.5 * f64::from(i)).collect();
    let fine: Vec<f64> = (0..=4000).map(|i| -2.0 + 0.001 * f64::from(i)).collect();
    let evaluate = |f: &Marginalized<_>, ys: &[f64]| -> ebm_core::Result<Vec<f64>> {
        let y = Tensor::from_slice(ys).view([ys.len() as i64, 1]);
        let x = Tensor::zeros([ys.len() as i64, 1], (Kind::Double, Device::Cpu));
        Ok(Vec::try_from(f.energy(&x, &y)?)?)
    };

    let header: Vec<String> = ys.iter().map(|y| format!("{y:>7.1}")).collect();
    println!("F_β(y) for E = ½ (y − z)², z ∈ {{−1, +1}}");
    println!(
        "{:>8} |{}| minima on a 0.001 grid",
        "β \\ y",
        header.join("")
    );
    for beta in [0.25, 0.5, 1.0, 2.0, 5.0, 20.0, f64::INFINITY] {
        f.beta = beta;
        let row: Vec<String> = evaluate(&f, &ys)?
            .iter()
            .map(|v| format!("{v:>7.3}"))
            .collect();
        let values = evaluate(&f, &fine)?;
        let minima: Vec<String> = (1..fine.len() - 1)
            .filter(|&i| values[i] < values[i - 1] && values[i] <= values[i + 1])
            .map(|i| format!("{:+.3}", fine[i]))
            .collect();
        println!("{beta:>8} |{}| {}", row.join(""), minima.join(", "));
    }
    Ok(())
}
