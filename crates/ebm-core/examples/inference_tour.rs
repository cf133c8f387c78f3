//! A tour of ebm-core inference on hand-written energies: gradient descent with restarts on
//! a double well, exhaustive argmin over a table, and free energies at several β.
//!
//! Run with `cargo xtask cargo run -p ebm-core --example inference_tour`.

use ebm_core::{
    exhaustive_argmin, free_energy, gibbs_probabilities, ContinuousSpace, FiniteSpace, FnEnergy,
    GradientDescentConfig,
};
use tch::Tensor;

fn main() -> ebm_core::Result<()> {
    tch::manual_seed(0);
    // 1. Gradient descent with restarts on E(y) = (y² − 1)² + 0.1·x·y: two wells, tilted by x.
    let energy = FnEnergy::new(|x: &Tensor, y: &Tensor| {
        ((y.square() - 1.0).square() + x * y * 0.1).sum_dim_intlist(1, false, None)
    });
    let x = Tensor::from_slice(&[0.0f32, 1.0]).view([2, 1]);
    let gd = GradientDescentConfig {
        restarts: 8,
        ..GradientDescentConfig::default()
    }
    .check()?;
    let minima = gd.minimize(&energy, &x, &ContinuousSpace::real(1)?)?;
    println!(
        "gradient descent on the double well (8 restarts, {} steps):",
        minima.steps_taken
    );
    for (i, row) in minima.distinct.iter().enumerate() {
        let found: Vec<String> = row
            .iter()
            .map(|m| format!("y = {:+.4} (E = {:.4})", m.y[0], m.energy))
            .collect();
        println!("  x = {i}: {}", found.join(", "));
    }

    // 2. Exhaustive argmin over an energy table given as a set of 5 candidates.
    let candidates = Tensor::from_slice(&[-2.0f32, -0.5, 0.0, 0.7, 2.5]).view([5, 1]);
    let quadratic =
        FnEnergy::new(|x: &Tensor, y: &Tensor| (x - y).square().sum_dim_intlist(1, false, None));
    let xs = Tensor::from_slice(&[-1.4f32, 0.3, 2.0]).view([3, 1]);
    let best = exhaustive_argmin(&quadratic, &xs, &FiniteSpace::Set(candidates))?;
    let ys: Vec<f32> = Vec::try_from(best.y.view([-1]))?;
    println!("exhaustive argmin over {{-2, -0.5, 0, 0.7, 2.5}} for x = -1.4, 0.3, 2.0: {ys:?}");

    // 3. Free energies and Gibbs probabilities of the energies [0, 1, 3] at several β.
    let e = Tensor::from_slice(&[0.0f32, 1.0, 3.0]).view([1, 3]);
    println!("energies [0, 1, 3]:");
    for beta in [0.1, 1.0, 10.0, f64::INFINITY] {
        let f = f64::try_from(free_energy(&e, beta, 1)?.view([-1]).get(0))?;
        let p: Vec<f32> = Vec::try_from(gibbs_probabilities(&e, beta, 1)?.view([-1]))?;
        println!("  beta = {beta:>4}: F = {f:+.5}, P = {p:.4?}");
    }
    Ok(())
}
