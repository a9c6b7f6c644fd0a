//! The PyTorch state-dict layout of every built-in architecture: which torch key holds which
//! parameter of a stack of one, in which shape. Import and export (`unlearn import`,
//! `unlearn export`) read and write checkpoints through it; docs/checkpoints.md shows the torch
//! modules these keys come from (each an `nn.Sequential`, as `scripts/torch_reference/models.py`
//! defines them).

use crate::cnn::CnnConfig;
use crate::config::ModelConfig;
use crate::input::{InputSpec, ModelError};
use crate::onnx::graph::{NormField, Role};
use crate::onnx::model::burn_path;
use crate::resnet9::ResNet9Config;
use crate::resnet9_easydub::EasydubResNet9Config;
use crate::resnet9_easydub::GEOMETRIES;

/// How a torch tensor's values become a burn parameter's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transform {
    /// A linear weight: torch `[out, in]` is burn `[1, in, out]` (transposed).
    Linear,
    /// The same values in the same order; only the shape differs (a linear bias `[out]` is
    /// burn `[1, 1, out]`; convolution and batch-norm tensors are alike).
    Reshape,
}

/// One tensor of the state dict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TorchEntry {
    /// Its key in the torch state dict.
    pub key: String,
    /// The burn parameter's path in the stack (enum variants left out).
    pub path: String,
    /// Its shape in torch.
    pub shape: Vec<usize>,
    /// How its values map.
    pub transform: Transform,
}

/// A whole state dict.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TorchLayout {
    /// Every float tensor, in the torch module's order.
    pub entries: Vec<TorchEntry>,
    /// The batch norms' `num_batches_tracked` counters (int64 scalars): torch-only, written on
    /// export so that `load_state_dict(strict=True)` accepts the file, ignored on import.
    pub counters: Vec<String>,
}

impl TorchLayout {
    fn linear(&mut self, key: &str, path: &str, d_in: usize, d_out: usize, bias: bool) {
        self.entries.push(TorchEntry {
            key: format!("{key}.weight"),
            path: format!("{path}.weight"),
            shape: vec![d_out, d_in],
            transform: Transform::Linear,
        });
        if bias {
            self.entries.push(TorchEntry {
                key: format!("{key}.bias"),
                path: format!("{path}.bias"),
                shape: vec![d_out],
                transform: Transform::Reshape,
            });
        }
    }

    fn conv(&mut self, key: &str, path: &str, shape: [usize; 4], bias: bool) {
        self.entries.push(TorchEntry {
            key: format!("{key}.weight"),
            path: format!("{path}.weight"),
            shape: shape.to_vec(),
            transform: Transform::Reshape,
        });
        if bias {
            self.entries.push(TorchEntry {
                key: format!("{key}.bias"),
                path: format!("{path}.bias"),
                shape: vec![shape[0]],
                transform: Transform::Reshape,
            });
        }
    }

    fn batch_norm(&mut self, key: &str, path: &str, channels: usize) {
        for (torch, burn) in [
            ("weight", "gamma"),
            ("bias", "beta"),
            ("running_mean", "running_mean"),
            ("running_var", "running_var"),
        ] {
            self.entries.push(TorchEntry {
                key: format!("{key}.{torch}"),
                path: format!("{path}.{burn}"),
                shape: vec![channels],
                transform: Transform::Reshape,
            });
        }
        self.counters.push(format!("{key}.num_batches_tracked"));
    }

    /// A convolution (no bias) + batch norm + ReLU block: torch `nn.Sequential(conv, bn, …)`
    /// at `key`, burn `{conv, norm}` at `path`.
    fn conv_bn(&mut self, key: &str, path: &str, c_in: usize, c_out: usize, kernel: usize) {
        self.conv(
            &format!("{key}.0"),
            &format!("{path}.conv"),
            [c_out, c_in, kernel, kernel],
            false,
        );
        self.batch_norm(&format!("{key}.1"), &format!("{path}.norm"), c_out);
    }

    /// A residual pair of 3×3 blocks: torch `Residual(nn.Sequential(block, block))` at `key`
    /// (its inner module named `module`), burn `[block; 2]` at `path`.
    fn residual(&mut self, key: &str, path: &str, channels: usize) {
        for i in 0..2 {
            self.conv_bn(
                &format!("{key}.module.{i}"),
                &format!("{path}.{i}"),
                channels,
                channels,
                3,
            );
        }
    }

    /// The layout of `config` built for `input` (an ONNX graph's is its initializers by
    /// name; the graph is read if it was not yet).
    pub fn of(config: &ModelConfig, input: &InputSpec) -> Result<Self, ModelError> {
        let mut layout = TorchLayout::default();
        let classes = input.classes;
        match config {
            ModelConfig::Logistic(_) | ModelConfig::Mlp(_) => {
                // nn.Sequential(Linear, ReLU, Linear, …): linear `i` at index 2i.
                let hidden = match config {
                    ModelConfig::Mlp(mlp) => mlp.hidden.clone(),
                    _ => Vec::new(),
                };
                let mut widths = vec![input.dim];
                widths.extend(hidden);
                widths.push(classes);
                for (i, w) in widths.windows(2).enumerate() {
                    layout.linear(
                        &(2 * i).to_string(),
                        &format!("layers.{i}"),
                        w[0],
                        w[1],
                        true,
                    );
                }
            }
            ModelConfig::Cnn(CnnConfig { channels }) => {
                // nn.Sequential((Conv2d, ReLU, MaxPool2d) per block, Flatten, Linear).
                let [mut c_in, mut h, mut w] = input.image_shape.unwrap_or([1, 1, 1]);
                for (b, &c_out) in channels.iter().enumerate() {
                    layout.conv(
                        &(3 * b).to_string(),
                        &format!("convs.{b}"),
                        [c_out, c_in, 3, 3],
                        true,
                    );
                    (c_in, h, w) = (c_out, h / 2, w / 2);
                }
                let head = (3 * channels.len() + 1).to_string();
                layout.linear(&head, "head", c_in * h * w, classes, true);
            }
            ModelConfig::ResNet9(ResNet9Config { width, .. }) => {
                // 0 prep, 1 layer1 (+pool), 2 residual, 3 layer2 (+pool), 4 layer3 (+pool),
                // 5 residual, 6 global max-pool, 7 flatten, 8 linear (no bias), 9 scale.
                let c = input.image_shape.map_or(3, |s| s[0]);
                let (w1, w2, w4, w8) = (*width, 2 * width, 4 * width, 8 * width);
                layout.conv_bn("0", "prep", c, w1, 3);
                layout.conv_bn("1", "layer1", w1, w2, 3);
                layout.residual("2", "res1", w2);
                layout.conv_bn("3", "layer2", w2, w4, 3);
                layout.conv_bn("4", "layer3", w4, w8, 3);
                layout.residual("5", "res3", w8);
                layout.linear("8", "head", w8, classes, false);
            }
            ModelConfig::ResNet9Easydub(EasydubResNet9Config { width, .. }) => {
                // 0 prep, 1 strided 5×5, 2 residual, 3 widen, 4 max-pool, 5 residual,
                // 6 unpadded 3×3, 7 global max-pool, 8 flatten, 9 linear (no bias), 10 scale.
                let c = input.image_shape.map_or(3, |s| s[0]);
                let (w1, w2, w4) = (*width, 2 * width, 4 * width);
                layout.conv_bn("0", "prep", c, w1, GEOMETRIES[0].kernel);
                layout.conv_bn("1", "down", w1, w2, GEOMETRIES[1].kernel);
                layout.residual("2", "res1", w2);
                layout.conv_bn("3", "widen", w2, w4, 3);
                layout.residual("5", "res2", w4);
                layout.conv_bn("6", "narrow", w4, w2, GEOMETRIES[2].kernel);
                layout.linear("9", "head", w2, classes, false);
            }
            ModelConfig::Onnx(onnx) => {
                let graph = onnx.graph()?;
                for init in &graph.initializers {
                    layout.entries.push(TorchEntry {
                        key: init.name.clone(),
                        path: burn_path(&graph, &init.name).expect("an initializer of the graph"),
                        shape: init.dims.clone(),
                        transform: Transform::Reshape,
                    });
                    // torch's BatchNorm keeps a counter beside its running statistics.
                    if let Role::Norm {
                        field: NormField::Mean,
                        ..
                    } = init.role
                        && let Some(module) = init.name.strip_suffix(".running_mean")
                    {
                        layout
                            .counters
                            .push(format!("{module}.num_batches_tracked"));
                    }
                }
            }
        }
        Ok(layout)
    }

    /// The entry of torch key `key`.
    pub fn entry(&self, key: &str) -> Option<&TorchEntry> {
        self.entries.iter().find(|e| e.key == key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mlp::MlpConfig;

    #[test]
    fn an_mlp_is_a_sequential_of_linears_at_even_indices() {
        let input = InputSpec {
            dim: 4,
            image_shape: None,
            classes: 3,
        };
        let layout = TorchLayout::of(&MlpConfig { hidden: vec![5] }.into(), &input).unwrap();
        let keys: Vec<(&str, &[usize])> = layout
            .entries
            .iter()
            .map(|e| (e.key.as_str(), e.shape.as_slice()))
            .collect();
        let want: [(&str, &[usize]); 4] = [
            ("0.weight", &[5, 4]),
            ("0.bias", &[5]),
            ("2.weight", &[3, 5]),
            ("2.bias", &[3]),
        ];
        assert_eq!(keys, want);
        assert!(layout.counters.is_empty());
    }

    /// The published benchmark model: 8 conv-bn blocks (each 5 tensors with the counter), a
    /// bias-free head of 128 → 10, and 2 274 880 parameters as torch counts them.
    #[test]
    fn the_benchmark_resnet9_has_the_published_shapes() {
        let input = InputSpec {
            dim: 3 * 32 * 32,
            image_shape: Some([3, 32, 32]),
            classes: 10,
        };
        let config = ModelConfig::from_name("resnet9-easydub").unwrap();
        let layout = TorchLayout::of(&config, &input).unwrap();
        assert_eq!(layout.counters.len(), 8);
        assert_eq!(layout.entry("1.0.weight").unwrap().shape, [128, 64, 5, 5]);
        assert_eq!(layout.entry("6.0.weight").unwrap().shape, [128, 256, 3, 3]);
        assert_eq!(layout.entry("9.weight").unwrap().shape, [10, 128]);
        assert!(layout.entry("9.bias").is_none());
        let params: usize = layout
            .entries
            .iter()
            .filter(|e| !e.key.ends_with("running_mean") && !e.key.ends_with("running_var"))
            .map(|e| e.shape.iter().product::<usize>())
            .sum();
        // conv weights + batch-norm affine parameters + head, as PyTorch's parameters() counts.
        let convs = 64 * 3 * 9
            + 128 * 64 * 25
            + 2 * 128 * 128 * 9
            + 256 * 128 * 9
            + 2 * 256 * 256 * 9
            + 128 * 256 * 9;
        let norms = 2 * (64 + 128 + 2 * 128 + 256 + 2 * 256 + 128);
        assert_eq!(params, convs + norms + 128 * 10);
    }
}
