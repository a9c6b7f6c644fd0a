//! The built-in default data set: scikit-learn's 8×8 handwritten digits,
//! embedded in the binary so that every command works without downloads.
//! See `assets/README.md` for its origin and licence.

use std::path::Path;
use std::sync::OnceLock;

use crate::csv_loader::parse_csv;
use crate::dataset::Dataset;

/// The embedded CSV: header `p0,...,p63,label`, 1797 rows.
const DIGITS_CSV: &str = include_str!("../../../assets/digits.csv");

/// Name given to the embedded data set.
pub const DIGITS_NAME: &str = "digits";

/// The UCI optical-recognition digits (scikit-learn's `load_digits`): 1797
/// images of 8×8 pixels with grey levels 0–16 (not rescaled), 10 classes,
/// `image_shape = Some([1, 8, 8])`.
pub fn digits() -> Dataset {
    // Parsed once per process; callers get their own copy to modify freely.
    static DIGITS: OnceLock<Dataset> = OnceLock::new();
    DIGITS
        .get_or_init(|| {
            let mut d = parse_csv(
                DIGITS_CSV.as_bytes(),
                Path::new("assets/digits.csv (embedded)"),
                DIGITS_NAME,
                "label",
                Some(10),
            )
            .expect("the embedded digits.csv is valid; this is checked by the tests");
            d.image_shape = Some([1, 8, 8]);
            d
        })
        .clone()
}
