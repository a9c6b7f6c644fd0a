//! A user's module with dropout (and batch norm) trains to the same bits from the same seeds:
//! with one worker or several (whose forward passes would otherwise share the device's random
//! state in whatever order the threads run), and across an interrupted and resumed zoo. Its
//! dropout really draws: the same model without it trains to other logits.

mod common;

use burn::module::{Module, ParamId};
use burn::nn::{BatchNorm, BatchNormConfig, Dropout, DropoutConfig, Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};
use common::{digits_split, info, small_mlp};
use serde::Serialize;
use std::path::Path;
use unlearn_models::init::reseed;
use unlearn_models::{ArchSpec, InputSpec, ModelError, Single, SingleArchitecture, SingleModel};
use unlearn_train::{Zoo, ZooKind, ZooSpec, train_zoo};

/// input → 16 → batch norm → ReLU → dropout → classes.
#[derive(Module, Debug)]
struct DropMlp {
    hidden: Linear,
    norm: BatchNorm,
    dropout: Dropout,
    head: Linear,
}

impl SingleModel for DropMlp {
    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let h = self.hidden.forward(x);
        // Batch norm over the features of a [batch, features] input: as [batch, features, 1].
        let [batch, width] = h.dims();
        let h = self
            .norm
            .forward(h.reshape([batch, width, 1]))
            .reshape([batch, width]);
        self.head.forward(self.dropout.forward(relu(h)))
    }

    fn head_param_ids(&self) -> Vec<ParamId> {
        vec![self.head.weight.id]
    }
}

#[derive(Debug, Clone, Serialize)]
struct DropMlpConfig {
    dropout: f64,
}

impl SingleArchitecture for DropMlpConfig {
    type Model = DropMlp;

    fn spec(&self) -> ArchSpec {
        ArchSpec::new("drop-mlp", self)
    }

    fn init(&self, input: &InputSpec, seed: u64, device: &Device) -> Result<DropMlp, ModelError> {
        let model = DropMlp {
            hidden: LinearConfig::new(input.dim, 16).init(device),
            norm: BatchNormConfig::new(16).init(device),
            dropout: DropoutConfig::new(self.dropout).init(),
            head: LinearConfig::new(16, input.classes).init(device),
        };
        Ok(reseed(model, seed))
    }
}

fn zoo(dropout: f64, workers: usize, models: usize, out: &Path) -> Zoo {
    let data = digits_split();
    let arch = Single(DropMlpConfig { dropout });
    let mut recipe = small_mlp(2);
    recipe.model = unlearn_models::Architecture::spec(&arch);
    let spec = ZooSpec {
        workers,
        ..ZooSpec::new(recipe, ZooKind::Full, models)
    };
    train_zoo(&arch, &spec, &data, info(&data), out, &Device::flex(), &()).unwrap()
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

#[test]
fn dropout_follows_each_models_seed_across_workers_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let one = zoo(0.5, 1, 4, &dir.path().join("one"));
    let out = dir.path().join("four");
    let four = zoo(0.5, 4, 4, &out);
    assert_eq!(
        bits(&one.logits),
        bits(&four.logits),
        "workers changed the draws"
    );

    // Interrupted after some models: the missing one is retrained alone, to the same bits.
    std::fs::remove_file(out.join("logits/00002.npy")).unwrap();
    std::fs::remove_file(out.join("models/00002.bpk")).unwrap();
    std::fs::remove_file(out.join("logits.npy")).unwrap();
    let resumed = zoo(0.5, 3, 4, &out);
    assert_eq!(
        bits(&resumed.logits),
        bits(&one.logits),
        "the resume drew otherwise"
    );

    // The dropout does draw: without it the same seeds train to other logits.
    let none = zoo(0.0, 1, 4, &dir.path().join("none"));
    assert_ne!(bits(&none.logits), bits(&one.logits));
}
