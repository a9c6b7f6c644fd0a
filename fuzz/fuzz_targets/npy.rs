//! Arbitrary bytes into the npy loader: an error or a consistent result, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use unlearn_data::fuzz::{Loader, load_bytes};

fuzz_target!(|data: &[u8]| {
    let _ = load_bytes(Loader::NpyF32, data);
});
