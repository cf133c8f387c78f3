//! Prints every loss of the family at a few (E_C, E_I) pairs, with Y = {correct, incorrect}
//! (so NLL and MEE see e_all = [E_C, E_I]) and the default hyperparameters
//! (m = 1, δ = 0.5, γ = 1, β = 1).
//!
//! Run it with `cargo xtask cargo run -p ebm-loss --example losses_table`.

use ebm_loss::{LossConfig, LossInput, Reduction};
use tch::Tensor;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let pairs = [(0.0, 1.0), (1.0, 2.0), (0.5, 0.5), (2.0, 1.0), (3.0, 0.5)];
    let ec = Tensor::from_slice(&pairs.map(|p| p.0));
    let ei = Tensor::from_slice(&pairs.map(|p| p.1));
    let all = Tensor::stack(&[&ec, &ei], 1);
    let input = LossInput::with_all(&ec, &ei, &all);

    print!("{:<20}", "loss \\ (E_C, E_I)");
    for (c, i) in pairs {
        print!("{:>12}", format!("({c}, {i})"));
    }
    println!();
    for config in LossConfig::all_defaults() {
        let loss = config.build()?;
        let values: Vec<f64> = Vec::try_from(loss.loss(&input, Reduction::None)?)?;
        print!("{:<20}", loss.name());
        for v in values {
            print!("{v:>12.6}");
        }
        println!();
    }
    Ok(())
}
