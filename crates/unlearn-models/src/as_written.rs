//! f32 hyper-parameters serialised as the decimal the user wrote: JSON numbers are f64, and
//! widening 5e−4f32 gives 0.0005000000237487257; f32's own shortest decimal (0.0005) reads back
//! as the same f32, so that is what is written.

use serde::Serializer;

/// `#[serde(serialize_with = "unlearn_models::as_written::f32")]`.
pub fn f32<S: Serializer>(value: &f32, serializer: S) -> Result<S::Ok, S::Error> {
    match value.to_string().parse::<f64>() {
        Ok(shortest) if value.is_finite() => serializer.serialize_f64(shortest),
        _ => serializer.serialize_f32(*value),
    }
}

#[cfg(test)]
mod tests {
    #[derive(serde::Serialize, serde::Deserialize)]
    struct P {
        #[serde(serialize_with = "super::f32")]
        x: f32,
    }

    #[test]
    fn f32_values_print_as_written_and_read_back_exactly() {
        for (x, text) in [
            (5e-4f32, "0.0005"),
            (0.99, "0.99"),
            (0.1, "0.1"),
            (4.0, "4.0"),
            (1e-8, "1e-8"),
        ] {
            let json = serde_json::to_string(&P { x }).unwrap();
            assert_eq!(json, format!("{{\"x\":{text}}}"));
            let back: P = serde_json::from_str(&json).unwrap();
            assert_eq!(back.x.to_bits(), x.to_bits());
        }
    }
}
