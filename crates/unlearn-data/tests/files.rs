//! `.npy` helpers, atomic writes and hashing.

use npyz::WriterBuilder;
use tempfile::TempDir;
use unlearn_data::*;

fn err_text<T: std::fmt::Debug>(r: Result<T>) -> String {
    let s = r.expect_err("expected an error").to_string();
    assert!(!s.contains('\n'), "error is not one line: {s}");
    s
}

fn npy_with<T: npyz::AutoSerialize + Copy>(
    path: &std::path::Path,
    shape: &[u64],
    order: npyz::Order,
    data: &[T],
) {
    let mut buf = Vec::new();
    let mut w = npyz::WriteOptions::new()
        .default_dtype()
        .shape(shape)
        .order(order)
        .writer(&mut buf)
        .begin_nd()
        .unwrap();
    w.extend(data.iter().copied()).unwrap();
    w.finish().unwrap();
    std::fs::write(path, buf).unwrap();
}

fn npy<T: npyz::AutoSerialize + Copy>(path: &std::path::Path, shape: &[u64], data: &[T]) {
    npy_with(path, shape, npyz::Order::C, data)
}

#[test]
fn npy_roundtrips() {
    let dir = TempDir::new().unwrap();
    let p = dir.path().join("a.npy");
    let data = [1.5f32, -2.0, 0.25, 3.0, 4.0, 1e-7];
    write_npy_f32(&p, &[2, 3], &data).unwrap();
    assert_eq!(read_npy_f32(&p).unwrap(), (vec![2, 3], data.to_vec()));

    let p = dir.path().join("i.npy");
    write_npy_i64(&p, &[4], &[-5, 0, i64::MAX, 7]).unwrap();
    assert_eq!(
        read_npy_i64(&p).unwrap(),
        (vec![4], vec![-5, 0, i64::MAX, 7])
    );

    let p = dir.path().join("u.npy");
    write_npy_u8(&p, &[1, 2, 2], &[0, 255, 3, 4]).unwrap();
    assert_eq!(
        read_npy_u8(&p).unwrap(),
        (vec![1, 2, 2], vec![0, 255, 3, 4])
    );

    // Independently checked header: numpy's format, version 1.0, '<f4'.
    let bytes = std::fs::read(dir.path().join("a.npy")).unwrap();
    assert_eq!(&bytes[..8], b"\x93NUMPY\x01\x00");
    let header = String::from_utf8_lossy(&bytes[10..]);
    assert!(header.contains("'descr': '<f4'"), "{header}");
    assert!(header.contains("'shape': (2, 3"), "{header}");
    // The data close the file as little-endian f32.
    let tail: Vec<u8> = data.iter().flat_map(|x| x.to_le_bytes()).collect();
    assert!(bytes.ends_with(&tail));
}

#[test]
fn npy_readers_convert_compatible_dtypes() {
    let dir = TempDir::new().unwrap();
    let p = dir.path().join("f64.npy");
    npy(&p, &[3], &[0.5f64, -1.25, 1e10]);
    assert_eq!(read_npy_f32(&p).unwrap(), (vec![3], vec![0.5, -1.25, 1e10]));

    let p = dir.path().join("u16.npy");
    npy(&p, &[2], &[65535u16, 3]);
    assert_eq!(read_npy_i64(&p).unwrap().1, vec![65535, 3]);
    let p = dir.path().join("i8.npy");
    npy(&p, &[2], &[-128i8, 5]);
    assert_eq!(read_npy_i64(&p).unwrap().1, vec![-128, 5]);

    let p = dir.path().join("bool.npy");
    npy(&p, &[3], &[true, false, true]);
    assert_eq!(read_npy_u8(&p).unwrap().1, vec![1, 0, 1]);

    let p = dir.path().join("wide.npy");
    npy(&p, &[3], &[1i64, 300, 2]);
    let e = err_text(read_npy_u8(&p));
    assert!(
        e.contains("wide.npy") && e.contains("element 1") && e.contains("300"),
        "{e}"
    );
}

#[test]
fn npy_fortran_order_is_returned_in_c_order() {
    let dir = TempDir::new().unwrap();
    let p = dir.path().join("f.npy");
    // The matrix [[1, 2, 3], [4, 5, 6]] stored column-major.
    npy_with(
        &p,
        &[2, 3],
        npyz::Order::Fortran,
        &[1f32, 4., 2., 5., 3., 6.],
    );
    assert_eq!(
        read_npy_f32(&p).unwrap(),
        (vec![2, 3], vec![1., 2., 3., 4., 5., 6.])
    );
}

#[test]
fn npy_errors_name_the_file() {
    let dir = TempDir::new().unwrap();
    let p = dir.path().join("ints.npy");
    npy(&p, &[2], &[1i32, 2]);
    let e = err_text(read_npy_f32(&p));
    assert!(
        e.contains("ints.npy") && e.contains("wrong dtype <i4"),
        "{e}"
    );

    let p = dir.path().join("floats.npy");
    npy(&p, &[2], &[1f32, 2.]);
    let e = err_text(read_npy_i64(&p));
    assert!(e.contains("floats.npy") && e.contains("integer"), "{e}");

    let p = dir.path().join("cut.npy");
    write_npy_f32(&p, &[10], &[0.0; 10]).unwrap();
    let bytes = std::fs::read(&p).unwrap();
    std::fs::write(&p, &bytes[..bytes.len() - 6]).unwrap();
    let e = err_text(read_npy_f32(&p));
    assert!(e.contains("cut.npy") && e.contains("truncated"), "{e}");

    let p = dir.path().join("junk.npy");
    std::fs::write(&p, b"not numpy at all").unwrap();
    let e = err_text(read_npy_f32(&p));
    assert!(
        e.contains("junk.npy") && e.contains("not a valid .npy"),
        "{e}"
    );

    let e = err_text(read_npy_f32(dir.path().join("absent.npy")));
    assert!(e.contains("absent.npy") && e.contains("cannot read"), "{e}");

    let e = err_text(write_npy_f32(dir.path().join("w.npy"), &[2, 2], &[1.0; 3]));
    assert!(
        e.contains("w.npy") && e.contains("4 elements") && e.contains("3 were given"),
        "{e}"
    );
    assert!(!dir.path().join("w.npy").exists());
}

fn leftovers(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp-"))
        .collect()
}

#[test]
fn atomic_write_replaces_whole_file_or_nothing() {
    let dir = TempDir::new().unwrap();
    let p = dir.path().join("sub/dir/out.txt");
    atomic_write(&p, |w| w.write_all(b"first")).unwrap();
    assert_eq!(std::fs::read(&p).unwrap(), b"first");
    atomic_write_bytes(&p, b"second").unwrap();
    assert_eq!(std::fs::read(&p).unwrap(), b"second");

    let e = atomic_write(&p, |w| {
        w.write_all(b"partial")?;
        Err(std::io::Error::other("disk on fire"))
    })
    .unwrap_err()
    .to_string();
    assert!(e.contains("out.txt") && e.contains("disk on fire"), "{e}");
    assert_eq!(std::fs::read(&p).unwrap(), b"second");
    assert!(leftovers(p.parent().unwrap()).is_empty());
}

#[test]
fn sha256_of_file_and_gz_reading() {
    let dir = TempDir::new().unwrap();
    let p = dir.path().join("abc");
    std::fs::write(&p, b"abc").unwrap();
    // FIPS 180-2 test vector for "abc".
    assert_eq!(
        sha256_file(&p).unwrap(),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert_eq!(read_maybe_gz(&p).unwrap(), b"abc");

    let gz = dir.path().join("abc.gz");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut enc, b"abc").unwrap();
    std::fs::write(&gz, enc.finish().unwrap()).unwrap();
    assert_eq!(read_maybe_gz(&gz).unwrap(), b"abc");
    assert!(err_text(sha256_file(dir.path().join("nope"))).contains("nope"));
}
