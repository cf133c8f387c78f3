//! The share-of-machine column's operation counts (by hand, on small specs) and the compiled
//! column's ratios and agreement.

use ebm_bench::results::{Case, Compiled, Measured};
use ebm_bench::spec::Spec;

#[test]
fn matrix_product_counts_match_hand_counts() {
    // 3 → 4 → 5: 3·4 + 4·5 = 32 multiply-adds per row.
    let exhaustive = Spec::Exhaustive {
        batch: 2,
        in_dim: 3,
        hidden: vec![4],
        classes: 5,
        seed: 0,
    };
    assert_eq!(exhaustive.matmul_flops(), Some(2.0 * 2.0 * 32.0));
    // Forward 32, weight gradients 32, input gradients 32 − 12 (none for x): 84 per row.
    let train = Spec::Train {
        batch: 2,
        in_dim: 3,
        hidden: vec![4],
        classes: 5,
        batches: 1,
        margin: 1.0,
        lr: 1e-3,
        seed: 0,
    };
    assert_eq!(train.matmul_flops(), Some(2.0 * 2.0 * 84.0));
    // 1 → 5 → 2: 15 per row. G_x on 2 rows; on 6 rows 4 steps of forward and gradient, and
    // the final energies: 2·2·15 + 2·6·15·(2·4 + 1).
    let descent = |tolerance| Spec::Descent {
        batch: 2,
        restarts: 3,
        steps: 4,
        hidden: vec![5],
        embed: 2,
        step_size: 0.1,
        momentum: 0.0,
        lo: -1.0,
        hi: 1.0,
        tolerance,
        seed: 0,
    };
    assert_eq!(descent(0.0).matmul_flops(), Some(60.0 + 1620.0));
    assert_eq!(
        descent(1e-5).matmul_flops(),
        None,
        "the active set's work depends on the data"
    );
    // 1 → 5 → 2 on 2·7 samples, 3 rounds and the last energies, G_x on 2 rows.
    let dfo = Spec::Dfo {
        batch: 2,
        samples: 7,
        iterations: 3,
        noise: 0.3,
        shrink: 0.5,
        hidden: vec![5],
        embed: 2,
        lo: -1.0,
        hi: 1.0,
        seed: 0,
    };
    assert_eq!(
        dfo.matmul_flops(),
        Some(2.0 * 2.0 * 15.0 + 2.0 * 14.0 * 15.0 * 4.0)
    );
    // 2 → 4 → 1: 12 per row; forward and input gradient per evaluation.
    let langevin = Spec::Langevin {
        chains: 3,
        steps: 2,
        hidden: vec![4],
        epsilon: 0.1,
        seed: 0,
    };
    assert_eq!(langevin.matmul_flops(), Some(4.0 * 3.0 * 12.0 * 2.0));
    let mala = Spec::Mala {
        chains: 3,
        warmup: 1,
        samples: 2,
        hidden: vec![4],
        step_size: 0.1,
        seed: 0,
    };
    assert_eq!(mala.matmul_flops(), Some(4.0 * 3.0 * 12.0 * 4.0));
    let hmc = Spec::Hmc {
        chains: 3,
        warmup: 1,
        samples: 2,
        leapfrog_steps: 5,
        hidden: vec![4],
        step_size: 0.1,
        seed: 0,
    };
    assert_eq!(hmc.matmul_flops(), Some(4.0 * 3.0 * 12.0 * 16.0));
    // 2N = 4 rows of 3: the 4 × 4 table (48 multiply-adds) forward, two products backward.
    let nt_xent = Spec::NtXent {
        n: 2,
        dim: 3,
        temperature: 0.5,
        seed: 0,
    };
    assert_eq!(nt_xent.matmul_flops(), Some(3.0 * 2.0 * 48.0));
}

fn measured(compiled: Compiled) -> Measured {
    Measured {
        case: Case {
            workload: "langevin",
            size: "tiny".into(),
            spec: Spec::Langevin {
                chains: 3,
                steps: 2,
                hidden: vec![4],
                epsilon: 0.1,
                seed: 0,
            },
            target: 1.0,
        },
        threads: 1,
        iters: 1,
        rust: vec![1.0, 2.0, 4.0],
        python: vec![2.0, 2.0, 2.0],
        compiled,
        checks: (1.0, 1.0),
        reruns: 0,
        other_load: 0.0,
    }
}

#[test]
fn the_compiled_ratio_pairs_blocks_and_its_check_must_agree() {
    let m = measured(Compiled::Timed {
        times: vec![3.0, 3.0, 3.0],
        check: 1.0,
    });
    // Per-block ratios 3, 1.5, 0.75: median 1.5, min 0.75, max 3.
    assert_eq!(m.compiled_ratio(), Some((1.5, 0.75, 3.0)));
    assert_eq!(m.compiled_median(), Some(3.0));
    assert!(m.checks_agree());
    assert!(!measured(Compiled::Timed {
        times: vec![1.0; 3],
        check: 1.1
    })
    .checks_agree());
    let m = measured(Compiled::Unavailable("no compiler".into()));
    assert_eq!(m.compiled_ratio(), None);
    assert!(
        m.checks_agree(),
        "an unavailable column has nothing to disagree with"
    );
    // Rust's rate: 288 FLOPs at the median 2 s.
    assert_eq!(m.rust_gflops(), Some(288.0 / 2.0 / 1e9));
}
