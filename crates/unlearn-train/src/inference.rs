//! Logits of a stack on a set of points.

use burn::tensor::{Device, Tensor, TensorData};
use unlearn_data::Dataset;
use unlearn_models::StackModel;

/// Points evaluated in one forward pass; bounds memory for big stacks.
const CHUNK: usize = 1024;

/// Features of `data` as a `[n, d]` tensor on `device`.
pub fn features(data: &Dataset, device: &Device) -> Tensor<2> {
    Tensor::from_data(
        TensorData::new(data.features.clone(), [data.len(), data.dim]),
        device,
    )
}

/// Logits `[K, P, C]` (row-major, flattened) of a stack of `models` on the points `x` (`[P, d]`).
pub fn stack_logits<M: StackModel>(model: &M, x: &Tensor<2>, models: usize) -> Vec<f32> {
    let [points, _] = x.dims();
    let mut parts = Vec::new();
    let mut start = 0;
    while start < points {
        let len = CHUNK.min(points - start);
        parts.push(model.forward_shared(x.clone().narrow(0, start, len), models));
        start += len;
    }
    Tensor::cat(parts, 1)
        .into_data()
        .try_into_vec::<f32>()
        .expect("float logits")
}
