//! The 2006 tutorial's experiment: Y = X², implicit regression, trained with the energy,
//! square-square and NLL losses side by side. Prints the collapse diagnostic and the
//! argmin error of each.
//!
//! Run with `cargo xtask cargo run --release -p ebm-arch --example tutorial_collapse`.

use ebm_arch::{
    fit, Architecture, ImplicitRegression, MlpConfig, OptimizerConfig, Prediction, TrainConfig,
    YRange,
};
use ebm_core::GradientDescentConfig;
use ebm_loss::LossConfig;
use tch::{Device, Kind, Tensor};

fn main() -> ebm_core::Result<()> {
    let cpu = (Kind::Float, Device::Cpu);
    println!(
        "{:<14} {:>12} {:>12} {:>14}",
        "loss", "spread/init", "gap E_I-E_C", "|y_hat - x^2|"
    );
    // Same data, architecture, epochs and weight decay; square-square gets a smaller learning
    // rate (at 1e-2 it settles on a shallow surface).
    for (loss, lr) in [
        (LossConfig::Energy {}, 1e-2),
        (LossConfig::SquareSquare { margin: 1.0 }, 3e-3),
        (LossConfig::Nll { beta: 1.0 }, 1e-2),
    ] {
        tch::set_num_threads(1);
        tch::manual_seed(6);
        let x = Tensor::rand([200, 1], cpu) * 2.0 - 1.0;
        let y = x.square();
        let range = YRange {
            lo: -0.5,
            hi: 1.5,
            grid_points: 20,
            epsilon: 0.2,
            offending_steps: 5,
            jitter: true,
            counter_examples: None,
        };
        let search = GradientDescentConfig {
            restarts: 8,
            steps: 300,
            ..GradientDescentConfig::default()
        }
        .check()?;
        let model = ImplicitRegression::new(
            1,
            1,
            16,
            &MlpConfig::default(),
            &MlpConfig::default(),
            &range,
            search,
            Device::Cpu,
        )?;
        let config = TrainConfig {
            optimizer: OptimizerConfig::Adam {
                lr,
                weight_decay: 1e-3,
            },
            epochs: 100,
            batch_size: 20,
            probe_size: 64,
        };
        let history = fit(&model, loss.build()?.as_ref(), &x, &y, &config, 6, |_| {})?;
        let test_x = Tensor::linspace(-0.9, 0.9, 19, cpu).view([19, 1]);
        let Prediction::Continuous { y: predicted, .. } = model.predict(&test_x)? else {
            unreachable!("implicit regression predicts a continuous y")
        };
        let error = f64::try_from((predicted - test_x.square()).abs().mean(Kind::Double))?;
        let last = history.last().map_or(f64::NAN, |r| r.gap);
        println!(
            "{:<14} {:>12.4} {:>12.4} {:>14.4}",
            format!("{loss:?}").split(' ').next().unwrap_or("?"),
            history.spread_ratio(),
            last,
            error
        );
    }
    Ok(())
}
