//! Gradient descent to a tolerance drops converged rows from the batch (an active set): the
//! same distinct minima as descending every row for every step, for a fraction of the rows'
//! gradient evaluations.

use ebm_core::{ContinuousSpace, Energy, GradientDescentConfig, Result};
use std::cell::Cell;
use tch::{Device, Kind, Tensor};

/// E(x, y) = (y₁² − x)² + (y₂ − ½)²·(1 + x), minima at y = (±√x, ½): two per row, reached at
/// rates that depend on x (the rows converge at different steps). Counts the rows it is asked
/// for a gradient at.
struct TwoWells {
    gradient_rows: Cell<i64>,
}

impl Energy for TwoWells {
    fn energy(&self, x: &Tensor, y: &Tensor) -> Result<Tensor> {
        let x = x.select(1, 0);
        let a = y.select(1, 0);
        let b = y.select(1, 1);
        Ok((a.square() - &x).square() + (b - 0.5).square() * (x + 1.0))
    }

    fn energy_and_grad(&self, x: &Tensor, y: &Tensor) -> Result<(Tensor, Tensor)> {
        self.gradient_rows
            .set(self.gradient_rows.get() + y.size()[0]);
        // The autograd default, by way of a plain energy.
        ebm_core::energy_and_grad_y(&Plain(self), x, y)
    }
}

struct Plain<'a>(&'a TwoWells);

impl Energy for Plain<'_> {
    fn energy(&self, x: &Tensor, y: &Tensor) -> Result<Tensor> {
        self.0.energy(x, y)
    }
}

fn descend(tolerance: f64, steps: usize) -> (ebm_core::Minima, i64) {
    tch::manual_seed(5);
    let energy = TwoWells {
        gradient_rows: Cell::new(0),
    };
    let x = Tensor::linspace(0.25, 2.0, 12, (Kind::Double, Device::Cpu)).view([12, 1]);
    let gd = GradientDescentConfig {
        step_size: 0.02,
        momentum: 0.5,
        steps,
        tolerance,
        restarts: 6,
        init_scale: 1.0,
        backtracking: false,
        ..GradientDescentConfig::default()
    }
    .check()
    .expect("valid");
    let space = ContinuousSpace::boxed(2, -2.0, 2.0).expect("a box");
    let minima = gd.minimize(&energy, &x, &space).expect("descends");
    (minima, energy.gradient_rows.get())
}

#[test]
fn converged_rows_leave_the_batch_and_the_minima_stay_the_same() {
    let steps = 1000;
    let (full, full_rows) = descend(0.0, steps);
    let (active, active_rows) = descend(1e-6, steps);
    assert_eq!(
        full_rows,
        12 * 6 * steps as i64,
        "no tolerance: every row, every step"
    );
    println!(
        "gradient rows: {active_rows} with the active set, {full_rows} without ({:.2}×), {} steps",
        full_rows as f64 / active_rows as f64,
        active.steps_taken
    );
    assert!(
        active_rows * 2 <= full_rows,
        "{active_rows} of {full_rows} row-gradients"
    );
    // The same distinct minima per x: as many, at the same places (within 1e-4). Both wells
    // have energy 0, so their order by energy is rounding's: compare them sorted by place.
    let by_place = |m: &Vec<ebm_core::Minimum>| {
        let mut m = m.clone();
        m.sort_by(|p, q| p.y[0].total_cmp(&q.y[0]));
        m
    };
    for (row, (a, f)) in active.distinct.iter().zip(&full.distinct).enumerate() {
        let (a, f) = (&by_place(a), &by_place(f));
        assert_eq!(a.len(), f.len(), "x row {row}: {a:?} vs {f:?}");
        for (ma, mf) in a.iter().zip(f) {
            for (ya, yf) in ma.y.iter().zip(&mf.y) {
                assert!((ya - yf).abs() < 1e-4, "x row {row}: {ma:?} vs {mf:?}");
            }
        }
        // And they are the true minima (±√x, ½).
        let xv = 0.25 + 1.75 * row as f64 / 11.0;
        for m in a {
            assert!((m.y[0].abs() - xv.sqrt()).abs() < 1e-3, "{m:?} at x {xv}");
            assert!((m.y[1] - 0.5).abs() < 1e-3, "{m:?}");
        }
    }
    // Every restart's point, not only the distinct ones, is where the full descent put it.
    let gap = f64::try_from((&active.y - &full.y).abs().max()).expect("a number");
    assert!(gap < 1e-4, "largest difference {gap}");
}
