//! What a model is built for (the input's shape and classes), the errors of building one, and
//! the checks the built-ins share.

use serde::{Deserialize, Serialize};

/// What the data look like: flattened feature count, optional image shape, class count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputSpec {
    /// Number of input features (for images: channels·height·width).
    pub dim: usize,
    /// `(channels, height, width)` when the features are an image.
    pub image_shape: Option<[usize; 3]>,
    /// Number of classes (width of the logits).
    pub classes: usize,
}

/// Errors building a model for a given input.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ModelError {
    /// The architecture needs image inputs but the dataset has none.
    #[error(
        "model '{model}' needs image inputs but the dataset is flat ({dim} features); use an architecture for flat features (mlp, logistic) or an image dataset"
    )]
    NeedsImages {
        /// The architecture.
        model: String,
        /// Features per row of the flat dataset.
        dim: usize,
    },
    /// The image shape does not account for the features.
    #[error("image shape {shape:?} has {product} values but the data have {dim} features per row")]
    ShapeMismatch {
        /// The stated image shape (channels, height, width).
        shape: [usize; 3],
        /// Its number of values.
        product: usize,
        /// Features per row of the data.
        dim: usize,
    },
    /// The image is too small for the pooling layers.
    #[error(
        "model '{model}' pools {pools} times, which needs height and width ≥ {need} (got {h}×{w}); use fewer layers or bigger images"
    )]
    TooSmall {
        /// The architecture.
        model: String,
        /// How many times it halves the image.
        pools: usize,
        /// The smallest height and width that survive the pooling.
        need: usize,
        /// The image's height.
        h: usize,
        /// The image's width.
        w: usize,
    },
    /// A zero width or empty layer list.
    #[error("model '{model}': {what}")]
    Invalid {
        /// The architecture.
        model: String,
        /// What is wrong.
        what: String,
    },
    /// Input batch does not match the model.
    #[error("input has {got} features per row but the model was built for {expected}")]
    InputWidth {
        /// Features per row the model was built for.
        expected: usize,
        /// Features per row given.
        got: usize,
    },
    /// An architecture spec that does not parse as that architecture's configuration.
    #[error("architecture '{kind}': {what}")]
    Spec {
        /// The architecture's name.
        kind: String,
        /// Why the spec does not parse.
        what: String,
    },
    /// Not one of the built-in architectures.
    #[error(
        "architecture '{kind}' is not built in (built in: {built_in}); a zoo of a user architecture is read from Rust with that architecture"
    )]
    NotBuiltIn {
        /// The name asked for.
        kind: String,
        /// The built-ins' names, comma-separated.
        built_in: String,
    },
    /// An ONNX file that cannot be used (unreadable, unsupported operation, wrong shapes).
    #[error("ONNX model {file}: {what}")]
    Onnx {
        /// The file.
        file: String,
        /// What is wrong, naming the node where one is at fault.
        what: String,
    },
    /// A checkpoint that cannot be written or read.
    #[error("checkpoint {path}: {what}")]
    Checkpoint {
        /// The checkpoint file.
        path: String,
        /// What went wrong.
        what: String,
    },
}

/// Checks shared by the built-ins' `validate`.
pub(crate) mod checks {
    use super::{InputSpec, ModelError};

    /// A model needs at least two classes.
    pub(crate) fn classes(model: &str, input: &InputSpec) -> Result<(), ModelError> {
        if input.classes < 2 {
            return Err(invalid(
                model,
                format!("needs at least 2 classes, the data have {}", input.classes),
            ));
        }
        Ok(())
    }

    /// The input's image shape, which must account for its features.
    pub(crate) fn image(model: &str, input: &InputSpec) -> Result<[usize; 3], ModelError> {
        let Some(shape) = input.image_shape else {
            return Err(ModelError::NeedsImages {
                model: model.to_string(),
                dim: input.dim,
            });
        };
        let product = shape.iter().product::<usize>();
        if product != input.dim {
            return Err(ModelError::ShapeMismatch {
                shape,
                product,
                dim: input.dim,
            });
        }
        Ok(shape)
    }

    /// An image that survives `pools` 2×2 poolings.
    pub(crate) fn pools(model: &str, shape: [usize; 3], pools: usize) -> Result<(), ModelError> {
        let need = 1 << pools;
        if shape[1] < need || shape[2] < need {
            return Err(ModelError::TooSmall {
                model: model.to_string(),
                pools,
                need,
                h: shape[1],
                w: shape[2],
            });
        }
        Ok(())
    }

    /// A width (channels of a first layer) of at least one.
    pub(crate) fn width(model: &str, width: usize) -> Result<(), ModelError> {
        if width == 0 {
            return Err(invalid(model, "width must be > 0"));
        }
        Ok(())
    }

    /// A configuration value out of range.
    pub(crate) fn invalid(model: &str, what: impl Into<String>) -> ModelError {
        ModelError::Invalid {
            model: model.to_string(),
            what: what.into(),
        }
    }
}
