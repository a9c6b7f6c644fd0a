//! Whether two backends compute the same models: a stack trained from the same seeds on the same
//! points on each gives the same logits, up to summation order. The wgpu test and
//! `unlearn bench-speed --agreement` (the first thing to run on a new GPU) share these cases.

use crate::inference::{features, stack_logits};
use crate::trainer::{Member, TrainSet, train_stack};
use crate::{Recipe, TrainError};
use burn::tensor::{Device, Tensor};
use unlearn_data::{Dataset, digits, prepare, synthetic_images};
use unlearn_models::{Architecture, ModelConfig};
use unlearn_models::{CnnConfig, ResNet9Config};

/// Largest logit difference accepted between backends: different summation orders drift by
/// ~1e-7 over a few SGD steps (measured on lavapipe), a wrong kernel by O(1).
pub const TOLERANCE: f32 = 1e-3;

/// One model's comparison.
#[derive(Debug, Clone)]
pub struct Agreement {
    /// Which model, and how long it trained.
    pub case: String,
    /// Largest |logit difference| over every evaluated point, class and model.
    pub max_abs_diff: f32,
    /// Largest |logit| on the reference backend (a model that never trained has none).
    pub max_abs_logit: f32,
}

impl Agreement {
    /// Within [`TOLERANCE`] absolutely and relatively to the logits' size.
    pub fn agrees(&self) -> bool {
        self.max_abs_diff < TOLERANCE && self.max_abs_diff < TOLERANCE * self.max_abs_logit
    }
}

/// Checks that `device` computes (wgpu panics on first use where no adapter can be found):
/// `Err` with the reason where it does not.
pub fn probe(device: &Device) -> Result<(), String> {
    let attempt = std::panic::catch_unwind(|| {
        let probe = Tensor::<1>::from_floats([1.0, 2.0, 3.0], device);
        probe.sum().into_scalar::<f32>()
    });
    match attempt {
        Ok(sum) if (sum - 6.0).abs() < 1e-6 => Ok(()),
        Ok(sum) => Err(format!("the device computed 1 + 2 + 3 = {sum}")),
        Err(panic) => Err(panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "the backend panicked".into())),
    }
}

/// Trains two models of `recipe` in one stack (batched matmuls and grouped convolutions run as in
/// a real zoo) on the first `points` of `train`, on `device` and on `reference`, and compares
/// their logits on `eval`.
pub fn compare(
    case: &str,
    recipe: &Recipe,
    train: &Dataset,
    eval: &Dataset,
    points: usize,
    device: &Device,
    reference: &Device,
) -> Result<Agreement, TrainError> {
    let arch = ModelConfig::from_spec(&recipe.model)?;
    // Two models in one stack where the architecture stacks (ONNX graphs run one at a time).
    let models = arch.max_stack().unwrap_or(2).min(2) as u64;
    let members: Vec<Member> = (0..models)
        .map(|seed| Member {
            index: seed as usize,
            seed,
            indices: (0..points.min(train.len())).collect(),
        })
        .collect();
    let run = |device: &Device| -> Result<Vec<f32>, TrainError> {
        let set = TrainSet::new(train, device);
        let model = train_stack(&arch, recipe, &set, &members, device, &mut |_| {})?;
        Ok(stack_logits(&model, &features(eval, device), members.len()))
    };
    let (tested, expected) = (run(device)?, run(reference)?);
    let max_abs_diff = tested
        .iter()
        .zip(&expected)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    Ok(Agreement {
        case: case.to_string(),
        max_abs_diff,
        max_abs_logit: expected.iter().map(|v| v.abs()).fold(0.0, f32::max),
    })
}

/// The standard cases, tiny so a software device runs them in seconds: the digits MLP after two
/// epochs, and the small CNN (grouped convolutions, max-pool) and a width-2 ResNet-9 (batch
/// norm, residual blocks, three pools) after four steps on 3×8×8 synthetic images.
pub fn standard_cases(device: &Device, reference: &Device) -> Result<Vec<Agreement>, TrainError> {
    let digits = prepare(&digits(), 0.2, 0)?;
    let mut mlp = Recipe::named("mlp")?;
    mlp.epochs = 2;
    let mut out = vec![compare(
        "mlp, 2 epochs",
        &mlp,
        &digits.train,
        &digits.val,
        256,
        device,
        reference,
    )?];
    let (train, eval) = (
        synthetic_images(64, [3, 8, 8], 4, 1),
        synthetic_images(32, [3, 8, 8], 4, 2),
    );
    for (name, model) in [
        (
            "cnn",
            ModelConfig::Cnn(CnnConfig {
                channels: vec![4, 8],
            }),
        ),
        (
            "resnet9",
            ModelConfig::ResNet9(ResNet9Config {
                width: 2,
                scale: 0.125,
            }),
        ),
    ] {
        let mut recipe = Recipe::named(name)?;
        recipe.model = model.spec();
        recipe.epochs = 1;
        recipe.batch_size = 16;
        out.push(compare(
            &format!("{name}, 4 steps"),
            &recipe,
            &train,
            &eval,
            64,
            device,
            reference,
        )?);
    }
    Ok(out)
}
