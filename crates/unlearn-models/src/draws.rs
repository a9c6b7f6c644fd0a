//! Random numbers drawn inside a forward pass (dropout masks in a user's module) follow the
//! model's seed. burn's backends keep one generator per process, which every
//! worker thread shares, so a draw would otherwise depend on how the threads interleave (and a
//! resumed zoo would mix two runs' draws). Each stochastic forward pass therefore runs under one
//! lock, with the generator seeded just before from the model's seed, the epoch and the step.

use burn::tensor::Device;
use std::sync::Mutex;

/// Held during a stochastic forward pass: the seed and the draws that follow it belong together.
static DRAWS: Mutex<()> = Mutex::new(());

/// Runs `f` (a forward pass) with the device's random numbers drawn from `seed` alone. Forward
/// passes of models that draw nothing should not come here: they need no lock.
pub fn with_seeded_draws<R>(device: &Device, seed: u64, f: impl FnOnce() -> R) -> R {
    let _guard = DRAWS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    device.seed(seed);
    f()
}

/// The seed of one training step: a mix of the stack's model seeds, the caller's stream (which
/// tells training from each method's fine-tune), the epoch and the step. For a stack of one it
/// depends on that model's seed alone, whatever the stack, worker or resume point.
pub fn step_seed(model_seeds: &[u64], stream: u64, epoch: usize, step: usize) -> u64 {
    let mut state = splitmix(stream);
    for &seed in model_seeds {
        state = splitmix(state ^ seed);
    }
    splitmix(splitmix(state ^ epoch as u64) ^ step as u64)
}

/// SplitMix64's finaliser: a bijective mix, so nearby inputs give unrelated seeds.
fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Distribution, Tensor};

    #[test]
    fn a_seeded_draw_repeats_across_threads() {
        let device = Device::flex();
        let draw = |seed| {
            with_seeded_draws(&device, seed, || {
                Tensor::<1>::random([16], Distribution::Default, &device)
                    .into_data()
                    .try_to_vec::<f32>()
                    .unwrap()
            })
        };
        let want = draw(step_seed(&[7], 1, 0, 3));
        let others: Vec<Vec<f32>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|t| s.spawn(move || draw(step_seed(&[7 + t % 2], 1, 0, 3))))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(others[0], want);
        assert_eq!(others[2], want);
        assert_ne!(others[1], want);
        // Every input moves the seed.
        let base = step_seed(&[7], 1, 0, 3);
        for other in [
            step_seed(&[8], 1, 0, 3),
            step_seed(&[7], 2, 0, 3),
            step_seed(&[7], 1, 1, 3),
            step_seed(&[7], 1, 0, 4),
            step_seed(&[7, 8], 1, 0, 3),
        ] {
            assert_ne!(other, base);
        }
    }
}
