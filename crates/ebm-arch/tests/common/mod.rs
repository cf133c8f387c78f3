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

/// `(x, y)` of an `ebm-data` data set (its own seeded generator, not libtorch's).
fn xy(data: ebm_data::Result<ebm_data::Dataset>) -> (Tensor, Tensor) {
    let data = data.expect("the data set");
    (data.x, data.y)
}

/// y = sin(3x) + noise, x ~ U[−1, 1].
pub fn sine(n: usize, noise: f64, seed: u64) -> (Tensor, Tensor) {
    xy(ebm_data::sine(n, noise, seed))
}

/// x ~ U[0, 1], y = ±√x with a random sign.
pub fn two_branches(n: usize, seed: u64) -> (Tensor, Tensor) {
    xy(ebm_data::two_branch(n, 0.0, seed))
}

/// Two interleaving half circles with labels in {−1, +1}.
pub fn two_moons(n: usize, noise: f64, seed: u64) -> (Tensor, Tensor) {
    xy(ebm_data::two_moons(
        n,
        noise,
        ebm_data::BinaryLabels::Signs,
        seed,
    ))
}

/// K Gaussian blobs on a circle of radius 2, std 0.5, labels 0..K.
pub fn blobs(n: usize, k: usize, seed: u64) -> (Tensor, Tensor) {
    xy(ebm_data::blobs(n, k, 0.5, seed))
}

/// K interleaved spiral arms of 0.6 turns, labels 0..K.
pub fn spirals(n: usize, k: usize, noise: f64, seed: u64) -> (Tensor, Tensor) {
    xy(ebm_data::spirals(n, k, 0.6, noise, seed))
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
