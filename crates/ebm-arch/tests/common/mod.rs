//! Small seeded data sets for the acceptance tests.
#![allow(dead_code)]

use std::sync::{Mutex, MutexGuard};
use tch::{Device, Kind, Tensor};

static TORCH_RNG: Mutex<()> = Mutex::new(());

/// Takes the lock on libtorch's global generator and seeds it. Tests of one binary run on
/// parallel threads; without the lock their draws interleave and a seeded run stops being
/// repeatable. Hold the guard for the whole test.
pub fn seeded(seed: i64) -> MutexGuard<'static, ()> {
    let guard = TORCH_RNG
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    tch::manual_seed(seed);
    tch::set_num_threads(1);
    guard
}

pub const CPU: (Kind, Device) = (Kind::Float, Device::Cpu);

/// y = sin(3x) + noise, x ~ U[−1, 1].
pub fn sine(n: i64, noise: f64) -> (Tensor, Tensor) {
    let x = Tensor::rand([n, 1], CPU) * 2.0 - 1.0;
    let y = (&x * 3.0).sin() + Tensor::randn([n, 1], CPU) * noise;
    (x, y)
}

/// x ~ U[0, 1], y = ±√x with a random sign.
pub fn two_branches(n: i64) -> (Tensor, Tensor) {
    let x = Tensor::rand([n, 1], CPU);
    let sign =
        Tensor::randint(2, [n, 1], (Kind::Int64, Device::Cpu)).to_kind(Kind::Float) * 2.0 - 1.0;
    let y = x.sqrt() * sign;
    (x, y)
}

/// Two interleaving half circles with labels in {−1, +1}.
pub fn two_moons(n: i64, noise: f64) -> (Tensor, Tensor) {
    let half = n / 2;
    let t = Tensor::rand([half], CPU) * std::f64::consts::PI;
    let upper = Tensor::stack(&[t.cos(), t.sin()], 1);
    let t = Tensor::rand([n - half], CPU) * std::f64::consts::PI;
    let lower = Tensor::stack(&[-t.cos() + 1.0, -t.sin() + 0.5], 1);
    let x = Tensor::cat(&[upper, lower], 0) + Tensor::randn([n, 2], CPU) * noise;
    let y = Tensor::cat(
        &[Tensor::ones([half], CPU), -Tensor::ones([n - half], CPU)],
        0,
    );
    (x, y)
}

/// K Gaussian blobs on a circle of radius 4, std 1, labels 0..K.
pub fn blobs(n_per: i64, k: i64) -> (Tensor, Tensor) {
    let mut xs = Vec::new();
    let mut ys = Vec::new();
    for c in 0..k {
        let angle = 2.0 * std::f64::consts::PI * c as f64 / k as f64;
        let center =
            Tensor::from_slice(&[4.0 * angle.cos() as f32, 4.0 * angle.sin() as f32]).view([1, 2]);
        xs.push(Tensor::randn([n_per, 2], CPU) + center);
        ys.push(Tensor::full([n_per], c, (Kind::Int64, Device::Cpu)));
    }
    (Tensor::cat(&xs, 0), Tensor::cat(&ys, 0))
}

/// K interleaved spiral arms, labels 0..K.
pub fn spirals(n_per: i64, k: i64, noise: f64) -> (Tensor, Tensor) {
    let mut xs = Vec::new();
    let mut ys = Vec::new();
    for c in 0..k {
        let r = Tensor::linspace(0.1, 1.0, n_per, CPU);
        let theta = &r * 4.0 + 2.0 * std::f64::consts::PI * c as f64 / k as f64;
        let arm = Tensor::stack(&[&r * theta.cos(), &r * theta.sin()], 1);
        xs.push(arm + Tensor::randn([n_per, 2], CPU) * noise);
        ys.push(Tensor::full([n_per], c, (Kind::Int64, Device::Cpu)));
    }
    (Tensor::cat(&xs, 0), Tensor::cat(&ys, 0))
}

pub fn accuracy(predicted: &Tensor, y: &Tensor) -> f64 {
    f64::try_from(
        predicted
            .eq_tensor(y)
            .to_kind(Kind::Double)
            .mean(Kind::Double),
    )
    .expect("accuracy")
}
