//! Joint inference over (y, z) and the set of predictions {ŷ(z)}.

use ebm_core::{ContinuousSpace, FiniteSpace, GradientDescent, GradientDescentConfig};
use ebm_latent::{joint_argmin, predictions_over_z, FnLatentEnergy, LatentSpace, YSpace, ZPenalty};
use proptest::prelude::*;
use rstest::rstest;
use tch::{Device, Kind, Tensor};

const CPU: Device = Device::Cpu;

fn column(values: &[f64]) -> Tensor {
    Tensor::from_slice(values).view([values.len() as i64, 1])
}

fn values(t: &Tensor) -> Vec<f64> {
    Vec::try_from(t.to_kind(Kind::Double).view([-1])).expect("values")
}

/// E(x, y, z) = table[x, y, z]: x a row index, y a class, z a column index.
fn table_energy(table: Tensor) -> FnLatentEnergy<impl Fn(&Tensor, &Tensor, &Tensor) -> Tensor> {
    let (ky, kz) = (table.size()[1], table.size()[2]);
    FnLatentEnergy::new(move |x: &Tensor, y: &Tensor, z: &Tensor| {
        let flat =
            (x.view([-1]) * (ky * kz) as f64 + y.to_kind(Kind::Double) * kz as f64 + z.view([-1]))
                .to_kind(Kind::Int64);
        table.view([-1]).index_select(0, &flat)
    })
}

/// y = x + ½ z with a hidden sign z: E = ½ (y − x − ½ z)².
fn shifted_modes() -> FnLatentEnergy<impl Fn(&Tensor, &Tensor, &Tensor) -> Tensor> {
    FnLatentEnergy::new(|x: &Tensor, y: &Tensor, z: &Tensor| {
        (y - x - z * 0.5).square().sum_dim_intlist(1, false, None) * 0.5
    })
}

fn descent() -> GradientDescent {
    GradientDescentConfig {
        restarts: 4,
        ..GradientDescentConfig::default()
    }
    .check()
    .expect("valid")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// Over a table E[b, y, z], joint argmin and predictions over z agree with brute force:
    /// the minimum energies exactly, and the chosen (y, z) attain them.
    #[test]
    fn joint_argmin_equals_brute_force_on_a_table(
        (b, ky, kz, entries) in (1usize..4, 1usize..5, 1usize..5)
            .prop_flat_map(|(b, ky, kz)| {
                (Just(b), Just(ky), Just(kz), proptest::collection::vec(-10.0f64..10.0, b * ky * kz))
            }),
        weight in 0.0f64..1.0,
    ) {
        let at = |row: usize, y: usize, z: usize| entries[(row * ky + y) * kz + z] + weight * z as f64;
        let table = Tensor::from_slice(&entries).view([b as i64, ky as i64, kz as i64]);
        let energy = table_energy(table);
        let x = column(&(0..b).map(|i| i as f64).collect::<Vec<_>>());
        let z_space = LatentSpace::finite(column(&(0..kz).map(|i| i as f64).collect::<Vec<_>>())).expect("Z");
        let y_space = FiniteSpace::Classes(ky as i64);
        // L1 on z ≥ 0 adds weight·z to the table.
        let penalty = ZPenalty::l1(weight).expect("valid");

        let best = joint_argmin(&energy, &x, YSpace::Finite(&y_space), &z_space, &penalty).expect("joint");
        let y_hat: Vec<i64> = Vec::try_from(&best.y).expect("ŷ");
        let z_hat = values(&best.z);
        let e_hat = values(&best.energy);
        let per_z = predictions_over_z(&energy, &x, YSpace::Finite(&y_space), &z_space, &penalty).expect("predictions");
        let y_of_z: Vec<i64> = Vec::try_from(per_z.y.view([-1])).expect("ŷ(z)");
        let e_of_z = values(&per_z.energy);
        for row in 0..b {
            let mut min = f64::INFINITY;
            for y in 0..ky {
                for z in 0..kz {
                    min = min.min(at(row, y, z));
                }
            }
            prop_assert!((e_hat[row] - min).abs() < 1e-12, "row {row}: {} vs {min}", e_hat[row]);
            let chosen = at(row, y_hat[row] as usize, z_hat[row] as usize);
            prop_assert!((chosen - min).abs() < 1e-12, "row {row}: (ŷ, ẑ) has energy {chosen}");
            for z in 0..kz {
                let best_y = (0..ky).map(|y| at(row, y, z)).fold(f64::INFINITY, f64::min);
                let k = row * kz + z;
                prop_assert!((e_of_z[k] - best_y).abs() < 1e-12);
                prop_assert!((at(row, y_of_z[k] as usize, z) - best_y).abs() < 1e-12);
            }
        }
    }
}

/// For E = ½ (y − x − ½ z)² with z ∈ {−1, +1}, the predictions over z are x − ½ and x + ½,
/// by gradient descent on a continuous y; an L2 penalty leaves them in place and adds λ z² = λ
/// to their energies.
#[rstest]
#[case(ZPenalty::NONE, 0.0)]
#[case(ZPenalty::l2(0.3).expect("valid"), 0.3)]
fn predictions_over_z_are_x_plus_or_minus_a_half(#[case] penalty: ZPenalty, #[case] added: f64) {
    tch::manual_seed(1);
    let xs = [-1.0, 0.0, 0.7, 2.0];
    let z_space = LatentSpace::signs(Kind::Double, CPU).expect("signs");
    let gd = descent();
    let y_space = YSpace::Continuous {
        space: &ContinuousSpace::real(1).expect("R"),
        gd: &gd,
    };
    let p = predictions_over_z(&shifted_modes(), &column(&xs), y_space, &z_space, &penalty)
        .expect("predictions");
    assert_eq!(p.y.size(), vec![4, 2, 1]);
    let ys = values(&p.y);
    let es = values(&p.energy);
    for (b, x) in xs.iter().enumerate() {
        for (k, z) in [-1.0, 1.0].iter().enumerate() {
            let y = ys[b * 2 + k];
            assert!(
                (y - (x + 0.5 * z)).abs() < 1e-3,
                "x = {x}, z = {z}: ŷ = {y}"
            );
            assert!((es[b * 2 + k] - added).abs() < 1e-6);
        }
    }
}

/// The same predictions with y enumerated over a grid of step 0.05 on [−3, 3]: x ± ½ exactly
/// for grid-aligned x.
#[test]
fn predictions_over_z_on_a_finite_grid_of_y() {
    let grid: Vec<f64> = (0..=120).map(|i| -3.0 + i as f64 * 0.05).collect();
    let y_space = FiniteSpace::Set(column(&grid));
    let z_space = LatentSpace::signs(Kind::Double, CPU).expect("signs");
    let xs = [-1.0, 0.0, 0.7];
    let p = predictions_over_z(
        &shifted_modes(),
        &column(&xs),
        YSpace::Finite(&y_space),
        &z_space,
        &ZPenalty::NONE,
    )
    .expect("predictions");
    let ys = values(&p.y);
    for (b, x) in xs.iter().enumerate() {
        assert!((ys[b * 2] - (x - 0.5)).abs() < 1e-9 && (ys[b * 2 + 1] - (x + 0.5)).abs() < 1e-9);
    }
}

/// Continuous y × finite z: E = ½ (y − x − ½ z)² − 0.1 x z prefers z = sign x, so
/// ŷ = x + ½ sign x, ẑ = sign x, E = −0.1 |x|.
#[test]
fn joint_argmin_with_a_continuous_y() {
    tch::manual_seed(2);
    let energy = FnLatentEnergy::new(|x: &Tensor, y: &Tensor, z: &Tensor| {
        ((y - x - z * 0.5).square() * 0.5 - x * z * 0.1).sum_dim_intlist(1, false, None)
    });
    let xs = [-1.0, 0.5, 2.0];
    let gd = descent();
    let y_space = YSpace::Continuous {
        space: &ContinuousSpace::real(1).expect("R"),
        gd: &gd,
    };
    let z_space = LatentSpace::signs(Kind::Double, CPU).expect("signs");
    let best =
        joint_argmin(&energy, &column(&xs), y_space, &z_space, &ZPenalty::NONE).expect("joint");
    let (ys, zs, es) = (values(&best.y), values(&best.z), values(&best.energy));
    for (b, x) in xs.iter().enumerate() {
        let sign = x.signum();
        assert!(
            (ys[b] - (x + 0.5 * sign)).abs() < 1e-3,
            "x = {x}: ŷ = {}",
            ys[b]
        );
        assert_eq!(zs[b], sign);
        assert!((es[b] + 0.1 * x.abs()).abs() < 1e-6);
    }
}

/// Finite y × continuous z: E = (y − x − z)² + z² gives ẑ(y) = (y − x)/2 and
/// min_z E = (y − x)²/2, so ŷ is the candidate nearest x.
#[test]
fn joint_argmin_with_a_continuous_z() {
    tch::manual_seed(3);
    let energy = FnLatentEnergy::new(|x: &Tensor, y: &Tensor, z: &Tensor| {
        ((y - x - z).square() + z.square()).sum_dim_intlist(1, false, None)
    });
    let xs = [0.2, 1.7, 2.6];
    let y_space = FiniteSpace::Set(column(&[0.0, 1.0, 2.0, 3.0]));
    let z_space =
        LatentSpace::continuous(ContinuousSpace::real(1).expect("R"), descent()).expect("z");
    let best = joint_argmin(
        &energy,
        &column(&xs),
        YSpace::Finite(&y_space),
        &z_space,
        &ZPenalty::NONE,
    )
    .expect("joint");
    let (ys, zs, es) = (values(&best.y), values(&best.z), values(&best.energy));
    for (b, (x, nearest)) in xs.iter().zip([0.0, 2.0, 3.0]).enumerate() {
        assert_eq!(ys[b], nearest, "x = {x}");
        assert!((zs[b] - (nearest - x) / 2.0).abs() < 1e-4, "ẑ = {}", zs[b]);
        assert!((es[b] - (nearest - x).powi(2) / 2.0).abs() < 1e-6);
    }
}
