//! Shared by the test binaries: seeding under a lock.

use std::sync::{Mutex, MutexGuard};

static RNG: Mutex<()> = Mutex::new(());

/// Locks libtorch's global generator for this test and seeds it, so tests that run in
/// parallel threads cannot interleave their draws.
pub fn seeded(seed: i64) -> MutexGuard<'static, ()> {
    let guard = RNG.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    tch::manual_seed(seed);
    guard
}
