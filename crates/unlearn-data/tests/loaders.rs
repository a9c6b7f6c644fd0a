//! Each loader on small files written here, plus every bad-input case.

use std::io::Write;
use std::path::{Path, PathBuf};

use npyz::WriterBuilder;
use tempfile::TempDir;
use unlearn_data::*;

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// Writes an npy file with numpy's default dtype for `T`.
fn npy<T: npyz::AutoSerialize + Copy>(
    dir: &Path,
    name: &str,
    shape: &[u64],
    data: &[T],
) -> PathBuf {
    let p = dir.join(name);
    let mut buf = Vec::new();
    let mut w = npyz::WriteOptions::new()
        .default_dtype()
        .shape(shape)
        .writer(&mut buf)
        .begin_nd()
        .unwrap();
    w.extend(data.iter().copied()).unwrap();
    w.finish().unwrap();
    std::fs::write(&p, buf).unwrap();
    p
}

fn err_text<T: std::fmt::Debug>(r: Result<T>) -> String {
    let e = r.expect_err("expected an error");
    let s = e.to_string();
    assert!(!s.contains('\n'), "error is not one line: {s}");
    s
}

// ---------------------------------------------------------------- CSV

#[test]
fn csv_loads_features_and_named_label_column() {
    let dir = TempDir::new().unwrap();
    let p = write(dir.path(), "toy.csv", b"a,label,b\n1,0,2.5\n3,2,-4\n");
    let d = load_csv(&p, "label").unwrap();
    assert_eq!(d.name, "toy");
    assert_eq!(d.len(), 2);
    assert_eq!(d.dim, 2);
    assert_eq!(d.features, vec![1.0, 2.5, 3.0, -4.0]);
    assert_eq!(d.labels, vec![0, 2]);
    assert_eq!(d.classes, 3);
    assert_eq!(d.image_shape, None);

    let p = write(dir.path(), "other.csv", b"y, x ,cls\n0.5, 7 ,1\n");
    let d = load_csv(&p, "cls").unwrap();
    assert_eq!(d.features, vec![0.5, 7.0]);
    assert_eq!(d.labels, vec![1]);
    assert_eq!(d.classes, 2);

    let d = load_csv_with_classes(&p, "cls", Some(5)).unwrap();
    assert_eq!(d.classes, 5);
}

#[test]
fn csv_wrong_column_count_names_line() {
    let dir = TempDir::new().unwrap();
    let p = write(dir.path(), "bad.csv", b"a,b,label\n1,2,0\n3,1\n");
    let e = err_text(load_csv(&p, "label"));
    assert!(e.contains("bad.csv") && e.contains("line 3"), "{e}");
    assert!(
        e.contains("expected 3 fields") && e.contains("found 2"),
        "{e}"
    );
}

#[test]
fn csv_non_numeric_names_line_and_column() {
    let dir = TempDir::new().unwrap();
    let p = write(dir.path(), "bad.csv", b"a,b,label\n1,2,0\n3,x7,1\n");
    let e = err_text(load_csv(&p, "label"));
    assert!(e.contains("bad.csv") && e.contains("line 3"), "{e}");
    assert!(e.contains("column 'b'") && e.contains("'x7'"), "{e}");
}

#[test]
fn csv_bad_labels_are_rejected() {
    let dir = TempDir::new().unwrap();
    for (body, bad) in [
        (&b"a,label\n1,0\n2,-1\n"[..], "'-1'"),
        (&b"a,label\n1,0\n2,1.5\n"[..], "'1.5'"),
        (&b"a,label\n1,0\n2,cat\n"[..], "'cat'"),
    ] {
        let p = write(dir.path(), "lab.csv", body);
        let e = err_text(load_csv(&p, "label"));
        assert!(e.contains("lab.csv") && e.contains("line 3"), "{e}");
        assert!(e.contains("column 'label'") && e.contains(bad), "{e}");
    }
    // "2.0" is an integer label written by a spreadsheet.
    let p = write(dir.path(), "ok.csv", b"a,label\n1,2.0\n");
    assert_eq!(load_csv(&p, "label").unwrap().labels, vec![2]);
    // Label beyond a requested class count.
    let p = write(dir.path(), "few.csv", b"a,label\n1,0\n1,4\n");
    let e = err_text(load_csv_with_classes(&p, "label", Some(3)));
    assert!(
        e.contains("few.csv") && e.contains("data row 2") && e.contains("label 4"),
        "{e}"
    );
}

#[test]
fn csv_missing_label_column_and_empty_set() {
    let dir = TempDir::new().unwrap();
    let p = write(dir.path(), "nolabel.csv", b"a,b,target\n1,2,0\n");
    let e = err_text(load_csv(&p, "label"));
    assert!(e.contains("nolabel.csv") && e.contains("line 1"), "{e}");
    assert!(
        e.contains("no column named 'label'") && e.contains("target"),
        "{e}"
    );

    let p = write(dir.path(), "empty.csv", b"a,b,label\n");
    let e = err_text(load_csv(&p, "label"));
    assert!(e.contains("empty.csv") && e.contains("empty"), "{e}");

    let p = write(dir.path(), "nothing.csv", b"");
    let e = err_text(load_csv(&p, "label"));
    assert!(e.contains("nothing.csv") && e.contains("empty"), "{e}");

    let e = err_text(load_csv(dir.path().join("absent.csv"), "label"));
    assert!(e.contains("absent.csv") && e.contains("cannot open"), "{e}");
}

// ---------------------------------------------------------------- digits

#[test]
fn digits_has_expected_shape_and_labels() {
    let d = digits();
    assert_eq!(d.name, "digits");
    assert_eq!(d.len(), 1797);
    assert_eq!(d.dim, 64);
    assert_eq!(d.classes, 10);
    assert_eq!(d.image_shape, Some([1, 8, 8]));
    // scikit-learn's documented class sizes for load_digits.
    assert_eq!(
        d.class_counts(),
        vec![178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    );
    assert_eq!(d.labels[0], 0);
    assert_eq!(&d.row(0)[..8], &[0.0, 0.0, 5.0, 13.0, 9.0, 1.0, 0.0, 0.0]);
    assert_eq!(d.labels[1796], 8);
    assert_eq!(
        &d.row(1796)[..8],
        &[0.0, 0.0, 10.0, 14.0, 8.0, 1.0, 0.0, 0.0]
    );
    assert!(
        d.features
            .iter()
            .all(|&x| (0.0..=16.0).contains(&x) && x.fract() == 0.0)
    );
    assert_eq!(d.features.iter().copied().fold(0.0, f32::max), 16.0);
    // A second call gives the same data.
    assert_eq!(digits().content_hash(), d.content_hash());
}

// ---------------------------------------------------------------- CIFAR-10

/// One CIFAR record whose pixels are all `pixel`, except the last one, 255.
fn cifar_record(label: u8, pixel: u8) -> Vec<u8> {
    let mut r = vec![label];
    r.extend(std::iter::repeat_n(pixel, 3072));
    r[3072] = 255;
    r
}

#[test]
fn cifar10_loads_train_batches_and_test_batch() {
    let dir = TempDir::new().unwrap();
    let mut b1 = cifar_record(3, 51);
    b1.extend(cifar_record(9, 0));
    write(dir.path(), "data_batch_1.bin", &b1);
    write(dir.path(), "data_batch_3.bin", &cifar_record(0, 102));
    write(dir.path(), "test_batch.bin", &cifar_record(7, 255));

    let d = load_cifar10_dir(dir.path(), Partition::Train).unwrap();
    assert_eq!(d.name, "cifar10-train");
    assert_eq!(d.len(), 3);
    assert_eq!(d.dim, 3072);
    assert_eq!(d.classes, 10);
    assert_eq!(d.image_shape, Some([3, 32, 32]));
    assert_eq!(d.labels, vec![3, 9, 0]);
    assert_eq!(d.row(0)[0], 0.2); // 51 / 255
    assert_eq!(d.row(0)[3071], 1.0);
    assert_eq!(d.row(1)[100], 0.0);
    assert_eq!(d.row(2)[5], 0.4); // 102 / 255

    let t = load_cifar10_dir(dir.path(), Partition::Test).unwrap();
    assert_eq!(t.labels, vec![7]);
    assert!(t.features.iter().all(|&x| x == 1.0));
}

#[test]
fn cifar10_accepts_archive_subdirectory() {
    let dir = TempDir::new().unwrap();
    let sub = dir.path().join("cifar-10-batches-bin");
    std::fs::create_dir(&sub).unwrap();
    write(&sub, "data_batch_2.bin", &cifar_record(4, 0));
    let d = load_cifar10_dir(dir.path(), Partition::Train).unwrap();
    assert_eq!(d.labels, vec![4]);
}

#[test]
fn cifar10_errors_name_file_and_record() {
    let dir = TempDir::new().unwrap();
    let mut truncated = cifar_record(1, 0);
    truncated.extend(&cifar_record(2, 0)[..100]);
    write(dir.path(), "data_batch_1.bin", &truncated);
    let e = err_text(load_cifar10_dir(dir.path(), Partition::Train));
    assert!(
        e.contains("data_batch_1.bin") && e.contains("record 2"),
        "{e}"
    );
    assert!(e.contains("truncated") && e.contains("100 of 3073"), "{e}");

    let mut bad_label = cifar_record(1, 0);
    bad_label.extend(cifar_record(2, 0));
    bad_label.extend(cifar_record(10, 0));
    write(dir.path(), "data_batch_1.bin", &bad_label);
    let e = err_text(load_cifar10_dir(dir.path(), Partition::Train));
    assert!(
        e.contains("data_batch_1.bin") && e.contains("record 3"),
        "{e}"
    );
    assert!(e.contains("label 10"), "{e}");

    let empty = TempDir::new().unwrap();
    let e = err_text(load_cifar10_dir(empty.path(), Partition::Test));
    assert!(
        e.contains("test_batch.bin") && e.contains("not found"),
        "{e}"
    );
    let e = err_text(load_cifar10_dir(empty.path(), Partition::Train));
    assert!(e.contains("data_batch_1.bin"), "{e}");
}

// ---------------------------------------------------------------- IDX

fn idx_images(n: u32, rows: u32, cols: u32, pixels: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    for v in [0x803u32, n, rows, cols] {
        b.extend(v.to_be_bytes());
    }
    b.extend(pixels);
    b
}

fn idx_labels(labels: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend(0x801u32.to_be_bytes());
    b.extend((labels.len() as u32).to_be_bytes());
    b.extend(labels);
    b
}

/// Three 2×3 images with pixel k of image i equal to 10·i + k.
fn three_images() -> Vec<u8> {
    let px: Vec<u8> = (0..3)
        .flat_map(|i| (0..6).map(move |k| 10 * i + k))
        .collect();
    idx_images(3, 2, 3, &px)
}

fn check_three(d: &Dataset) {
    assert_eq!(d.len(), 3);
    assert_eq!(d.dim, 6);
    assert_eq!(d.image_shape, Some([1, 2, 3]));
    assert_eq!(d.labels, vec![2, 0, 5]);
    assert_eq!(d.classes, 6);
    assert_eq!(d.row(0)[0], 0.0);
    assert_eq!(d.row(1)[5], 15.0 / 255.0);
    assert_eq!(d.row(2)[1], 21.0 / 255.0);
}

#[test]
fn idx_loads_plain_and_gzipped_files() {
    let dir = TempDir::new().unwrap();
    let imgs = write(dir.path(), "imgs-idx3-ubyte", &three_images());
    let labs = write(dir.path(), "labs-idx1-ubyte", &idx_labels(&[2, 0, 5]));
    check_three(&load_idx(&imgs, &labs).unwrap());

    let imgs = write(dir.path(), "imgs-idx3-ubyte.gz", &gzip(&three_images()));
    let labs = write(
        dir.path(),
        "labs-idx1-ubyte.gz",
        &gzip(&idx_labels(&[2, 0, 5])),
    );
    check_three(&load_idx(&imgs, &labs).unwrap());

    // Gzip detected by its magic bytes even without the .gz name.
    let imgs = write(dir.path(), "renamed-images", &gzip(&three_images()));
    let labs = write(dir.path(), "renamed-labels", &idx_labels(&[2, 0, 5]));
    check_three(&load_idx(&imgs, &labs).unwrap());
}

#[test]
fn idx_directory_and_fashion_mnist_layout() {
    let dir = TempDir::new().unwrap();
    write(
        dir.path(),
        "train-images-idx3-ubyte.gz",
        &gzip(&three_images()),
    );
    write(
        dir.path(),
        "train-labels-idx1-ubyte.gz",
        &gzip(&idx_labels(&[2, 0, 5])),
    );
    write(
        dir.path(),
        "t10k-images-idx3-ubyte",
        &idx_images(1, 2, 3, &[255; 6]),
    );
    write(dir.path(), "t10k-labels-idx1-ubyte", &idx_labels(&[1]));

    let d = load_fashion_mnist(dir.path(), Partition::Train).unwrap();
    assert_eq!(d.name, "fashion-mnist-train");
    check_three(&d);
    let t = load_fashion_mnist(dir.path(), Partition::Test).unwrap();
    assert_eq!(t.labels, vec![1]);
    assert_eq!(t.features, vec![1.0; 6]);

    let d = load_idx_dir(dir.path(), Partition::Train).unwrap();
    assert!(d.name.ends_with("-train"));
    check_three(&d);
}

#[test]
fn fashion_mnist_missing_names_debian_package() {
    let dir = TempDir::new().unwrap();
    let e = err_text(load_fashion_mnist(dir.path(), Partition::Train));
    assert!(e.contains("dataset-fashion-mnist"), "{e}");
    assert!(e.contains("train-images-idx3-ubyte"), "{e}");
    assert!(e.contains(&dir.path().display().to_string()), "{e}");
}

#[test]
fn idx_bad_magic() {
    let dir = TempDir::new().unwrap();
    let imgs = write(dir.path(), "imgs", &three_images());
    let labs = write(dir.path(), "labs", &idx_labels(&[2, 0, 5]));
    // Swapped arguments: each file has the other's magic.
    let e = err_text(load_idx(&labs, &imgs));
    assert!(
        e.contains("labs") && e.contains("bad magic number 0x00000801"),
        "{e}"
    );
    assert!(e.contains("swapped"), "{e}");

    let mut junk = three_images();
    junk[3] = 0x99;
    let junk = write(dir.path(), "junk", &junk);
    let e = err_text(load_idx(&junk, &labs));
    assert!(e.contains("junk") && e.contains("0x00000899"), "{e}");
}

#[test]
fn idx_count_mismatch_names_both_files() {
    let dir = TempDir::new().unwrap();
    let imgs = write(dir.path(), "imgs", &three_images());
    let labs = write(dir.path(), "labs", &idx_labels(&[2, 0]));
    let e = err_text(load_idx(&imgs, &labs));
    assert!(e.contains("imgs") && e.contains("labs"), "{e}");
    assert!(e.contains("3 images") && e.contains("2 labels"), "{e}");
}

#[test]
fn idx_truncated_data_names_record() {
    let dir = TempDir::new().unwrap();
    let mut short = three_images();
    short.truncate(16 + 6 + 4); // image 2 has 4 of 6 pixels
    let imgs = write(dir.path(), "short-imgs", &short);
    let labs = write(dir.path(), "labs", &idx_labels(&[2, 0, 5]));
    let e = err_text(load_idx(&imgs, &labs));
    assert!(e.contains("short-imgs") && e.contains("image 2"), "{e}");
    assert!(e.contains("truncated"), "{e}");

    let imgs = write(dir.path(), "imgs", &three_images());
    let mut short = idx_labels(&[2, 0, 5]);
    short.pop();
    let labs = write(dir.path(), "short-labs", &short);
    let e = err_text(load_idx(&imgs, &labs));
    assert!(e.contains("short-labs") && e.contains("label 3"), "{e}");

    // A cut gzip stream is reported as corrupt, not as a panic.
    let gz = gzip(&three_images());
    let cut = write(dir.path(), "cut.gz", &gz[..gz.len() / 2]);
    let e = err_text(load_idx(&cut, &labs));
    assert!(e.contains("cut.gz") && e.contains("gunzip"), "{e}");

    let hdr = write(dir.path(), "hdr", &three_images()[..10]);
    let e = err_text(load_idx(&hdr, &labs));
    assert!(e.contains("hdr") && e.contains("truncated header"), "{e}");
}

// ---------------------------------------------------------------- npy pair

#[test]
fn npy_pair_loads_matrix_and_images() {
    let dir = TempDir::new().unwrap();
    let f = npy(dir.path(), "x.npy", &[2, 3], &[1f32, 2., 3., 4., 5., 6.]);
    let l = npy(dir.path(), "y.npy", &[2], &[1i32, 4]);
    let d = load_npy_pair(&f, &l).unwrap();
    assert_eq!(d.name, "x");
    assert_eq!(d.dim, 3);
    assert_eq!(d.row(1), &[4.0, 5.0, 6.0]);
    assert_eq!(d.labels, vec![1, 4]);
    assert_eq!(d.classes, 5);
    assert_eq!(d.image_shape, None);

    // f64 images n×c×h×w with u8 labels.
    let px: Vec<f64> = (0..16).map(|i| i as f64 / 2.0).collect();
    let f = npy(dir.path(), "img.npy", &[2, 2, 2, 2], &px);
    let l = npy(dir.path(), "lab.npy", &[2], &[0u8, 1]);
    let d = load_npy_pair(&f, &l).unwrap();
    assert_eq!(d.dim, 8);
    assert_eq!(d.image_shape, Some([2, 2, 2]));
    assert_eq!(d.row(1)[7], 7.5);
    assert_eq!(d.classes, 2);

    // n×h×w becomes one channel; i64 labels of shape n×1.
    let f = npy(dir.path(), "g.npy", &[1, 2, 2], &[0f32; 4]);
    let l = npy(dir.path(), "g_lab.npy", &[1, 1], &[3i64]);
    let d = load_npy_pair(&f, &l).unwrap();
    assert_eq!(d.image_shape, Some([1, 2, 2]));
    assert_eq!(d.labels, vec![3]);
}

#[test]
fn npy_pair_errors() {
    let dir = TempDir::new().unwrap();
    let f = npy(dir.path(), "x.npy", &[2, 2], &[1f32, 2., 3., 4.]);

    let l = npy(dir.path(), "three.npy", &[3], &[0i32, 1, 1]);
    let e = err_text(load_npy_pair(&f, &l));
    assert!(e.contains("three.npy") && e.contains("x.npy"), "{e}");
    assert!(e.contains("3 labels") && e.contains("2 rows"), "{e}");

    let l = npy(dir.path(), "float_labels.npy", &[2], &[0f32, 1.]);
    let e = err_text(load_npy_pair(&f, &l));
    assert!(
        e.contains("float_labels.npy") && e.contains("wrong dtype <f4"),
        "{e}"
    );

    let fi = npy(dir.path(), "int_features.npy", &[2, 2], &[1i32, 2, 3, 4]);
    let l = npy(dir.path(), "y.npy", &[2], &[0i32, 1]);
    let e = err_text(load_npy_pair(&fi, &l));
    assert!(
        e.contains("int_features.npy") && e.contains("wrong dtype <i4"),
        "{e}"
    );

    let l = npy(dir.path(), "neg.npy", &[2], &[0i16, -3]);
    let e = err_text(load_npy_pair(&f, &l));
    assert!(e.contains("neg.npy") && e.contains("element 1"), "{e}");
    assert!(e.contains("-3") && e.contains("negative"), "{e}");

    let v = npy(dir.path(), "vec.npy", &[4], &[1f32, 2., 3., 4.]);
    let e = err_text(load_npy_pair(&v, &l));
    assert!(e.contains("vec.npy") && e.contains("shape [4]"), "{e}");

    let none = npy::<f32>(dir.path(), "none.npy", &[0, 5], &[]);
    let e = err_text(load_npy_pair(&none, &l));
    assert!(e.contains("none.npy") && e.contains("no data"), "{e}");

    let nan = npy(dir.path(), "nan.npy", &[2, 2], &[1f32, 2., f32::NAN, 4.]);
    let e = err_text(load_npy_pair(&nan, &l));
    assert!(
        e.contains("nan.npy") && e.contains("row 1") && e.contains("feature 0"),
        "{e}"
    );
}

// ---------------------------------------------------------------- resolve

#[test]
fn resolve_dataset_accepts_each_form() {
    assert_eq!(resolve_dataset("digits").unwrap().len(), 1797);

    let dir = TempDir::new().unwrap();
    let csv = write(dir.path(), "t.csv", b"a,label\n1,0\n2,1\n");
    assert_eq!(
        resolve_dataset(csv.to_str().unwrap()).unwrap().labels,
        vec![0, 1]
    );

    let f = npy(dir.path(), "x.npy", &[1, 2], &[1f32, 2.]);
    let l = npy(dir.path(), "y.npy", &[1], &[0i64]);
    let spec = format!("{},{}", f.display(), l.display());
    assert_eq!(resolve_dataset(&spec).unwrap().dim, 2);

    let cifar = TempDir::new().unwrap();
    write(cifar.path(), "data_batch_1.bin", &cifar_record(6, 0));
    let d = resolve_dataset(cifar.path().to_str().unwrap()).unwrap();
    assert_eq!((d.labels.clone(), d.dim), (vec![6], 3072));

    let idx = TempDir::new().unwrap();
    write(idx.path(), "train-images-idx3-ubyte", &three_images());
    write(
        idx.path(),
        "train-labels-idx1-ubyte",
        &idx_labels(&[2, 0, 5]),
    );
    check_three(&resolve_dataset(idx.path().to_str().unwrap()).unwrap());

    // Only meaningful where the Debian package is absent, as on CI.
    if !Path::new(FASHION_MNIST_DIR).exists() {
        let e = err_text(resolve_dataset("fashion-mnist"));
        assert!(e.contains("dataset-fashion-mnist"), "{e}");
    }
}

#[test]
fn resolve_dataset_rejects_unknown_specs_listing_accepted_forms() {
    for spec in ["mnist-please", "a.txt,b.npy"] {
        let e = err_text(resolve_dataset(spec));
        assert!(e.contains(spec), "{e}");
        assert!(
            e.contains("'digits'") && e.contains("FEATURES.npy,LABELS.npy"),
            "{e}"
        );
    }
    let empty = TempDir::new().unwrap();
    let e = err_text(resolve_dataset(empty.path().to_str().unwrap()));
    assert!(e.contains("neither CIFAR-10"), "{e}");
}
