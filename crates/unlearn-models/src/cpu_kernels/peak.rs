//! What the machine's matrix kernel achieves on a large square product, on all cores: the
//! attainable peak the convolutions' rate is compared with (`unlearn bench-speed`).

use std::time::Instant;

/// GFLOP/s of an `n×n` by `n×n` f32 product with the matrix kernel the convolutions call, using
/// every rayon thread; the best of `repeats` after one warm-up.
pub fn matmul_gflops(n: usize, repeats: usize) -> f64 {
    let a: Vec<f32> = (0..n * n).map(|i| (i % 13) as f32 * 0.01).collect();
    let b: Vec<f32> = (0..n * n).map(|i| (i % 7) as f32 * 0.01).collect();
    let mut c = vec![0.0f32; n * n];
    let mut best = f64::MAX;
    for round in 0..=repeats.max(1) {
        let started = Instant::now();
        // SAFETY: all three buffers are n×n, row-major, and `c` aliases neither operand.
        unsafe {
            gemm::gemm(
                n,
                n,
                n,
                c.as_mut_ptr(),
                1,
                n as isize,
                false,
                a.as_ptr(),
                1,
                n as isize,
                b.as_ptr(),
                1,
                n as isize,
                0.0,
                1.0,
                false,
                false,
                false,
                gemm::Parallelism::Rayon(0),
            );
        }
        std::hint::black_box(&c);
        if round > 0 {
            best = best.min(started.elapsed().as_secs_f64());
        }
    }
    2.0 * (n * n * n) as f64 / best.max(1e-12) / 1e9
}
