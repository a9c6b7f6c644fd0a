//! The user's data conventions from the command line: `--normalise none|channel` and a given
//! validation set or validation indices. A logistic model's logits are recomputed by hand from
//! its exported weights and the raw values, which checks the normalisation, that training point
//! i is the user's point i, and the validation points' order; the manifest records the
//! conventions and a later command reloads the data as they were.

mod common;

use common::{assert_one_line_error, ok, s, unlearn};
use std::path::Path;
use unlearn_data::{write_npy_f32, write_npy_i64};

fn read_f32(path: &Path) -> (Vec<u64>, Vec<f32>) {
    let file = std::fs::File::open(path).unwrap();
    let npy = npyz::NpyFile::new(std::io::BufReader::new(file)).unwrap();
    (npy.shape().to_vec(), npy.into_vec::<f32>().unwrap())
}

/// The exported logistic model: torch's `0.weight` `[classes, dim]` and `0.bias`, read from
/// the safetensors layout (8-byte header length, JSON header, little-endian f32 data).
fn weights(file: &Path) -> (Vec<f32>, Vec<f32>) {
    let bytes = std::fs::read(file).unwrap();
    let len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + len]).unwrap();
    let tensor = |key: &str| -> Vec<f32> {
        let offsets = &header[key]["data_offsets"];
        let (a, b) = (offsets[0].as_u64().unwrap(), offsets[1].as_u64().unwrap());
        bytes[8 + len + a as usize..8 + len + b as usize]
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
            .collect()
    };
    (tensor("0.weight"), tensor("0.bias"))
}

/// `zoo`'s single model's logits against `W·x + b` on `rows` (already normalised by hand).
fn check_logits(zoo: &Path, out: &Path, rows: &[Vec<f32>], classes: usize) {
    ok(&["export", "--zoo", s(zoo), "--out", s(out)]);
    let (w, b) = weights(&out.join("00000.safetensors"));
    let (shape, logits) = read_f32(&zoo.join("logits.npy"));
    assert_eq!(shape, vec![1, rows.len() as u64, classes as u64]);
    let dim = rows[0].len();
    for (p, x) in rows.iter().enumerate() {
        for c in 0..classes {
            let want: f32 = b[c] + (0..dim).map(|j| w[c * dim + j] * x[j]).sum::<f32>();
            let got = logits[p * classes + c];
            assert!(
                (got - want).abs() < 1e-5,
                "point {p} class {c}: {got} vs {want}"
            );
        }
    }
}

fn manifest(zoo: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(zoo.join("manifest.json")).unwrap()).unwrap()
}

#[test]
fn raw_values_and_a_given_validation_set_keep_the_users_order() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Training rows in an order a random split would not keep; values far from standardised.
    let train: Vec<Vec<f32>> = (0..8)
        .map(|i| vec![10.0 + i as f32, 100.0 - 3.0 * i as f32, (i * i) as f32])
        .collect();
    let val: Vec<Vec<f32>> = (0..3)
        .map(|i| vec![-5.0 * i as f32, 7.0, 1.0 + i as f32])
        .collect();
    let (x, y, vx, vy) = (
        d.join("x.npy"),
        d.join("y.npy"),
        d.join("vx.npy"),
        d.join("vy.npy"),
    );
    write_npy_f32(&x, &[8, 3], &train.concat()).unwrap();
    write_npy_i64(&y, &[8], &[0, 1, 2, 0, 1, 2, 0, 1]).unwrap();
    write_npy_f32(&vx, &[3, 3], &val.concat()).unwrap();
    write_npy_i64(&vy, &[3], &[2, 1, 0]).unwrap();
    let (data, validation) = (
        format!("{},{}", s(&x), s(&y)),
        format!("{},{}", s(&vx), s(&vy)),
    );
    let zoo = d.join("zoo");
    let common = [
        "--dataset",
        &data,
        "--validation",
        &validation,
        "--normalise",
        "none",
    ];
    let mut args = vec![
        "train", "--model", "logistic", "--epochs", "2", "--lr", "1e-4",
    ];
    args.extend(common);
    args.extend(["--out", s(&zoo)]);
    ok(&args);
    let rows: Vec<Vec<f32>> = train.iter().chain(&val).cloned().collect();
    check_logits(&zoo, &d.join("export"), &rows, 3);
    let m = manifest(&zoo);
    let dataset = &m["dataset"];
    assert_eq!(
        (dataset["n_train"].as_u64(), dataset["n_val"].as_u64()),
        (Some(8), Some(3))
    );
    assert_eq!(dataset["normalise"], "none");
    assert!(dataset["validation"].as_str().unwrap().contains("vx.npy"));
    assert_eq!(dataset["validation_hash"].as_str().unwrap().len(), 64);

    // A later command reloads the data as they were trained (and would refuse other data).
    let forget = d.join("forget.txt");
    std::fs::write(&forget, "7\n").unwrap();
    ok(&[
        "forget",
        "--method",
        "gd",
        "--originals",
        s(&zoo),
        "--forget-set",
        s(&forget),
        "--out",
        s(&d.join("gd")),
    ]);
    // Oracles of the same data standardised instead of raw are refused as OM's targets.
    let oracles = d.join("oracles");
    let mut args = vec!["train", "--model", "logistic", "--epochs", "1"];
    args.extend(["--dataset", &data, "--validation", &validation]);
    args.extend(["--forget-set", s(&forget), "--out", s(&oracles)]);
    ok(&args);
    let o = unlearn(&[
        "forget",
        "--method",
        "om",
        "--originals",
        s(&zoo),
        "--forget-set",
        s(&forget),
        "--oracles",
        s(&oracles),
        "--out",
        s(&d.join("om")),
    ]);
    assert_one_line_error(&o, &["different data conventions", "--normalise"]);
    write_npy_i64(&vy, &[3], &[0, 1, 2]).unwrap();
    let o = unlearn(&[
        "forget",
        "--method",
        "gd",
        "--originals",
        s(&zoo),
        "--forget-set",
        s(&forget),
        "--out",
        s(&d.join("gd2")),
    ]);
    assert_one_line_error(&o, &["validation data", "changed", "retrain"]);
}

#[test]
fn channel_statistics_and_validation_indices() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Six images of 2 channels × 1×2 pixels.
    let images: Vec<Vec<f32>> = (0..6)
        .map(|i| {
            let i = i as f32;
            vec![i, 2.0 * i, 10.0 * i, 50.0 - i]
        })
        .collect();
    let (x, y, idx) = (d.join("x.npy"), d.join("y.npy"), d.join("val.txt"));
    write_npy_f32(&x, &[6, 2, 1, 2], &images.concat()).unwrap();
    write_npy_i64(&y, &[6], &[0, 1, 0, 1, 0, 1]).unwrap();
    std::fs::write(&idx, "4\n1\n").unwrap();
    let data = format!("{},{}", s(&x), s(&y));
    let zoo = d.join("zoo");
    ok(&[
        "train",
        "--model",
        "logistic",
        "--epochs",
        "1",
        "--dataset",
        &data,
        "--val-indices",
        s(&idx),
        "--normalise",
        "channel",
        "--channel-mean",
        "1,10",
        "--channel-std",
        "2,5",
        "--out",
        s(&zoo),
    ]);
    // Training points 0, 2, 3, 5 in order, then the validation points 1 and 4 (ascending).
    let (mean, std) = ([1.0, 1.0, 10.0, 10.0], [2.0, 2.0, 5.0, 5.0]);
    let rows: Vec<Vec<f32>> = [0, 2, 3, 5, 1, 4]
        .iter()
        .map(|&i| (0..4).map(|j| (images[i][j] - mean[j]) / std[j]).collect())
        .collect();
    check_logits(&zoo, &d.join("export"), &rows, 2);
    let dataset = &manifest(&zoo)["dataset"];
    assert_eq!(dataset["normalise"], "channel");
    assert_eq!(dataset["channel_mean"], serde_json::json!([1.0, 10.0]));
    assert_eq!(dataset["val_indices"]["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(
        (dataset["n_train"].as_u64(), dataset["n_val"].as_u64()),
        (Some(4), Some(2))
    );

    // Bad conventions are one-line errors naming the cause.
    let bad = |extra: &[&str], needles: &[&str]| {
        let mut args = vec!["train", "--dataset", &data, "--out"];
        let out = d.join("bad");
        args.push(s(&out));
        args.extend_from_slice(extra);
        assert_one_line_error(&unlearn(&args), needles);
        assert!(!out.join("manifest.json").exists());
    };
    bad(
        &[
            "--normalise",
            "channel",
            "--channel-mean",
            "1",
            "--channel-std",
            "2",
        ],
        &["1 channel means", "2 channels"],
    );
    std::fs::write(&idx, "9\n").unwrap();
    bad(
        &["--val-indices", s(&idx)],
        &["val.txt", "line 1", "out of range"],
    );
    std::fs::write(&idx, "# none\n").unwrap();
    bad(
        &["--val-indices", s(&idx)],
        &["the validation index file is empty"],
    );
    bad(
        &["--validation", "test"],
        &["test part", "give the validation data"],
    );
}
