//! Bounded fuzzing of every file loader, run with the tests: seeded mutations (byte flips,
//! special bytes, truncation, insertion, duplication, deletion) of valid files. Each input must
//! give an error or a consistent dataset, never a panic. `fuzz/` runs the same entry points under
//! libFuzzer for longer (`cargo +nightly fuzz run <target>`; `.ci/run` does so briefly).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::time::{Duration, Instant};
use unlearn_data::fuzz::{Loader, load_bytes, seed_inputs};

/// Inputs per loader, and a time cap so a slow machine stays within the test budget.
const ITERATIONS: usize = 3000;
const TIME_CAP: Duration = Duration::from_secs(4);

const SPECIAL: [u8; 10] = [0, 0xff, 0x7f, 0x80, b'-', b'9', b'\n', b',', b'.', b'e'];

fn mutate(rng: &mut ChaCha8Rng, seed: &[u8]) -> Vec<u8> {
    let mut v = seed.to_vec();
    for _ in 0..rng.random_range(1..=4) {
        let len = v.len();
        let at = if len == 0 {
            0
        } else {
            rng.random_range(0..len)
        };
        match rng.random_range(0..6) {
            0 if len > 0 => v[at] ^= 1 << rng.random_range(0..8),
            1 if len > 0 => v[at] = SPECIAL[rng.random_range(0..SPECIAL.len())],
            2 => v.truncate(rng.random_range(0..=len)),
            3 => {
                let extra: Vec<u8> = (0..rng.random_range(1..16)).map(|_| rng.random()).collect();
                v.splice(at..at, extra);
            }
            4 if len > 0 => {
                let end = rng.random_range(at..=len.min(at + 64));
                let piece = v[at..end].to_vec();
                v.splice(at..at, piece);
            }
            5 if len > 0 => {
                let end = rng.random_range(at..=len.min(at + 16));
                v.drain(at..end);
            }
            _ => {}
        }
    }
    v
}

#[test]
fn every_loader_survives_mutated_inputs() {
    // A panic is what this test looks for: report it here, not as the default message per input.
    std::panic::set_hook(Box::new(|_| {}));
    let mut failures = Vec::new();
    for loader in Loader::ALL {
        let seeds = seed_inputs(loader);
        for seed in &seeds {
            if let Err(e) = load_bytes(loader, seed) {
                failures.push(format!("{loader:?}: a seed input does not load: {e}"));
            }
        }
        let mut rng = ChaCha8Rng::seed_from_u64(loader as u64);
        let (mut loaded, mut refused, mut tried) = (0, 0, 0);
        let started = Instant::now();
        while tried < ITERATIONS && started.elapsed() < TIME_CAP {
            let input = mutate(&mut rng, &seeds[tried % seeds.len()]);
            tried += 1;
            match std::panic::catch_unwind(|| load_bytes(loader, &input)) {
                Ok(Ok(())) => loaded += 1,
                Ok(Err(e)) => {
                    refused += 1;
                    let message = e.to_string();
                    if message.contains('\n') {
                        failures.push(format!("{loader:?}: multi-line error {message:?}"));
                    }
                }
                Err(panic) => {
                    let what = panic
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default();
                    failures.push(format!("{loader:?} panicked ({what}) on {input:02x?}"));
                }
            }
        }
        println!("{loader:?}: {tried} mutated inputs, {loaded} loaded, {refused} refused");
        if refused == 0 {
            failures.push(format!(
                "{loader:?}: no mutation was refused; the mutator is broken"
            ));
        }
    }
    let _ = std::panic::take_hook();
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The seed corpora of the cargo-fuzz targets (`fuzz/seeds/TARGET/`) are these seeds; run with
/// `cargo test --release -p unlearn-data --test fuzz_loaders -- --ignored` after changing them.
#[test]
#[ignore]
fn write_fuzz_seed_corpora() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds");
    for loader in Loader::ALL {
        let dir = root.join(loader.target());
        std::fs::create_dir_all(&dir).unwrap();
        for (i, seed) in seed_inputs(loader).iter().enumerate() {
            std::fs::write(dir.join(format!("seed-{i}")), seed).unwrap();
        }
    }
}

#[test]
fn every_fuzz_target_has_a_seed_corpus() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    for loader in Loader::ALL {
        let target = root.join(format!("fuzz_targets/{}.rs", loader.target()));
        let source = std::fs::read_to_string(&target)
            .unwrap_or_else(|e| panic!("{}: {e}", target.display()));
        assert!(
            source.contains(&format!("Loader::{loader:?}")),
            "{} fuzzes another loader",
            target.display()
        );
        let seeds = root.join("seeds").join(loader.target());
        let files = std::fs::read_dir(&seeds).map(|d| d.count()).unwrap_or(0);
        assert!(
            files > 0,
            "{} is empty: run the ignored test write_fuzz_seed_corpora",
            seeds.display()
        );
    }
}

/// A `.npy` file of format 1.0 with `header` (a Python dict literal) and `data`.
fn npy_v1(header: &str, data: &[u8]) -> Vec<u8> {
    let mut text = header.to_string();
    while !(10 + text.len() + 1).is_multiple_of(64) {
        text.push(' ');
    }
    text.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend((text.len() as u16).to_le_bytes());
    out.extend(text.as_bytes());
    out.extend(data);
    out
}

/// Found by cargo fuzz: the npy reader allocated what a corrupt header promised (a 4 GiB header,
/// a 3.6 GB array) before reading. Both are refused now, with the cause.
#[test]
fn npy_headers_promising_more_than_the_file_holds_are_refused_before_allocating() {
    let dir = tempfile::tempdir().unwrap();
    let huge_shape = npy_v1(
        "{'descr': '<f4', 'fortran_order': False, 'shape': (100000, 100000), }",
        &[0; 16],
    );
    let mut huge_header = b"\x93NUMPY\x03\x00".to_vec();
    huge_header.extend(0xF000_0000u32.to_le_bytes());
    huge_header.extend(b"{'descr': '<f4'");
    let overflow = npy_v1(
        "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 16), }",
        &[0; 16],
    );
    // A header of nested brackets made npyz's parser backtrack for minutes (libFuzzer timeout).
    let mut nested = b"\x93NUMPY\x01\x00".to_vec();
    let text = format!("{}'shape': (3, ), }}", "{[(".repeat(12));
    nested.extend((text.len() as u16).to_le_bytes());
    nested.extend(text.as_bytes());
    let overflow_quoted = npy_v1(
        "{\"descr\": '<f4', 'fortran_order': False, \"shape\": [4294967296, 4294967296, 16], }",
        &[0; 16],
    );
    for (name, bytes, needle) in [
        (
            "overflow-quoted",
            overflow_quoted,
            "more elements than fit in 64 bits",
        ),
        ("nested", nested, "nests brackets 37 deep"), // 12 × 3 opened, then the shape's
        ("shape", huge_shape, "needs more data than the file's"),
        ("header", huge_header, "the header claims 4026531840 bytes"),
        ("overflow", overflow, "more elements than fit in 64 bits"),
    ] {
        let path = dir.path().join(format!("{name}.npy"));
        std::fs::write(&path, bytes).unwrap();
        let e = unlearn_data::read_npy_f32(&path).unwrap_err().to_string();
        assert!(e.contains(needle) && e.contains("corrupt"), "{name}: {e}");
    }
    // The same layout with the data it promises loads.
    let path = dir.path().join("ok.npy");
    let values: Vec<u8> = [1.5f32, -2.0]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    std::fs::write(
        &path,
        npy_v1(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }",
            &values,
        ),
    )
    .unwrap();
    assert_eq!(
        unlearn_data::read_npy_f32(&path).unwrap(),
        (vec![2], vec![1.5, -2.0])
    );
}

/// A small .gz that expands far beyond what its IDX header declares is read only as far as the
/// header says (plus 64 KiB to report trailing bytes), not to the end.
#[test]
fn gzipped_idx_is_decompressed_only_as_far_as_its_header_declares() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let mut raw = vec![0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 2]; // 1 image of 2×2
    raw.extend([1, 2, 3, 4]);
    raw.resize(raw.len() + (64 << 20), 0); // then 64 MiB of zeros: ~64 KiB compressed
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&raw).unwrap();
    let images = dir.path().join("images-idx3-ubyte.gz");
    std::fs::write(&images, gz.finish().unwrap()).unwrap();
    let labels = dir.path().join("labels-idx1-ubyte");
    std::fs::write(&labels, [0, 0, 8, 1, 0, 0, 0, 1, 7]).unwrap();
    let e = unlearn_data::load_idx(&images, &labels)
        .unwrap_err()
        .to_string();
    // Exactly the 64 KiB of slack was read past the declared data, not 64 MiB.
    assert!(e.contains("65536 bytes follow the 1 images"), "{e}");
}
