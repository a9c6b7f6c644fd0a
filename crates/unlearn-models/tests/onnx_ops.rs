//! The ONNX interpreter's operations against values worked out by hand from the ONNX operator
//! definitions: broadcasting, Gemm's transposes and scales, Reshape's 0 and −1, Pad's crop,
//! ReduceMean's axes, the shape arithmetic of `x.view(x.size(0), -1)`, pooling and padding of a
//! convolution.

use burn::tensor::Device;
use unlearn_models::onnx::op::Window;
use unlearn_models::onnx::ops::{self, Arith};
use unlearn_models::onnx::value::Value;

fn floats(values: &[f32], dims: &[usize]) -> Value {
    Value::floats(values, dims, &Device::default()).unwrap()
}

fn read(v: Value) -> (Vec<usize>, Vec<f32>) {
    let dims = v.dims();
    let flat = v.reshape(&[dims.iter().product()]).unwrap();
    let Value::R1(t) = flat else { panic!("floats") };
    (dims, t.into_data().try_to_vec::<f32>().unwrap())
}

#[test]
fn elementwise_arithmetic_broadcasts_as_numpy() {
    // [2, 1] + [3] → [2, 3]
    let y = ops::arith(
        Arith::Add,
        floats(&[10.0, 20.0], &[2, 1]),
        floats(&[1.0, 2.0, 3.0], &[3]),
    )
    .unwrap();
    assert_eq!(
        read(y),
        (vec![2, 3], vec![11.0, 12.0, 13.0, 21.0, 22.0, 23.0])
    );
    let y = ops::arith(Arith::Div, floats(&[3.0, 6.0], &[2]), floats(&[1.5], &[])).unwrap();
    assert_eq!(read(y).1, vec![2.0, 4.0]);
}

#[test]
fn gemm_transposes_and_scales() {
    // A [1, 2] = [1, 2]; B stored transposed [3, 2]: rows (1, 0), (0, 1), (1, 1); C = [1, 1, 1].
    let a = floats(&[1.0, 2.0], &[1, 2]);
    let b = floats(&[1.0, 0.0, 0.0, 1.0, 1.0, 1.0], &[3, 2]);
    let c = floats(&[1.0, 1.0, 1.0], &[3]);
    let y = ops::gemm(a, b, Some(c), (2.0, 0.5, false, true)).unwrap();
    // 2·(1, 2, 3) + 0.5·(1, 1, 1)
    assert_eq!(read(y), (vec![1, 3], vec![2.5, 4.5, 6.5]));
}

#[test]
fn reshape_copies_zeros_and_infers_minus_one() {
    let x = floats(&(0..24).map(|v| v as f32).collect::<Vec<_>>(), &[2, 3, 4]);
    let y = ops::reshape(x.clone(), &[0, -1], false).unwrap();
    assert_eq!(y.dims(), vec![2, 12]);
    assert!(
        ops::reshape(x, &[5, -1], false).is_err(),
        "24 is not a multiple of 5"
    );
}

#[test]
fn the_shape_arithmetic_of_view_batch_minus_one() {
    // Shape → Gather(0) → Unsqueeze → Concat with [-1] → Reshape
    let x = floats(&[0.0; 8], &[2, 1, 2, 2]);
    let shape = Value::Ints {
        dims: vec![4],
        values: x.dims().iter().map(|&d| d as i64).collect(),
    };
    let batch = ops::gather(
        shape,
        Value::Ints {
            dims: vec![],
            values: vec![0],
        },
    )
    .unwrap();
    assert_eq!(
        batch.dims(),
        Vec::<usize>::new(),
        "a scalar index gives a scalar"
    );
    let batch = ops::unsqueeze(batch, &[0]).unwrap();
    let target = ops::concat(
        vec![
            batch,
            Value::Ints {
                dims: vec![1],
                values: vec![-1],
            },
        ],
        0,
    )
    .unwrap();
    assert_eq!(target.ints().unwrap(), &[2, -1]);
    let y = ops::reshape(x, target.ints().unwrap(), false).unwrap();
    assert_eq!(y.dims(), vec![2, 4]);
}

#[test]
fn pad_adds_and_negative_pads_crop() {
    // [[1, 2, 3], [4, 5, 6]], pads (begins 0, 1; ends 0, −1): a zero column in front, the last
    // column cropped.
    let x = floats(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
    let y = ops::pad(x, &[0, 1, 0, -1], 0.0, &Device::default()).unwrap();
    assert_eq!(read(y), (vec![2, 3], vec![0.0, 1.0, 2.0, 0.0, 4.0, 5.0]));
}

#[test]
fn reduce_mean_over_axes_with_and_without_kept_dims() {
    let x = floats(&[1.0, 2.0, 3.0, 5.0], &[2, 2]);
    let y = ops::reduce_mean(x.clone(), &[-1], false, false).unwrap();
    assert_eq!(read(y), (vec![2], vec![1.5, 4.0]));
    let y = ops::reduce_mean(x.clone(), &[0], true, false).unwrap();
    assert_eq!(read(y), (vec![1, 2], vec![2.0, 3.5]));
    let y = ops::reduce_mean(x, &[], false, false).unwrap();
    assert_eq!(read(y).1, vec![2.75]);
}

#[test]
fn pooling_and_convolution_follow_pytorchs_padding() {
    // 1×1×3×3 of 1..9. Max pool 2×2, stride 1: [[5, 6], [8, 9]].
    let x = floats(
        &(1..=9).map(|v| v as f32).collect::<Vec<_>>(),
        &[1, 1, 3, 3],
    );
    let window = |kernel, pads| Window {
        kernel,
        strides: [1, 1],
        pads,
        dilations: [1, 1],
        ceil_mode: false,
    };
    let y = ops::max_pool(x.clone(), &window([2, 2], [(0, 0), (0, 0)])).unwrap();
    assert_eq!(read(y), (vec![1, 1, 2, 2], vec![5.0, 6.0, 8.0, 9.0]));
    // Average pool 2×2 with one row of padding at the top, padding not counted:
    // windows (1,2), (2,3) alone, then (1,2,4,5), (2,3,5,6), (4,5,7,8), (5,6,8,9).
    let y = ops::average_pool(x.clone(), &window([2, 2], [(1, 0), (0, 0)]), false).unwrap();
    assert_eq!(
        read(y),
        (vec![1, 1, 3, 2], vec![1.5, 2.5, 3.0, 4.0, 6.0, 7.0])
    );
    // A 1×1 convolution of weight 2 with asymmetric padding (left 1): a zero column in front.
    let w = floats(&[2.0], &[1, 1, 1, 1]);
    let conv_window = Window {
        kernel: [1, 1],
        strides: [1, 1],
        pads: [(0, 0), (1, 0)],
        dilations: [1, 1],
        ceil_mode: false,
    };
    let y = ops::conv(x, w, None, &conv_window, 1).unwrap();
    assert_eq!(
        read(y),
        (
            vec![1, 1, 3, 4],
            vec![
                0.0, 2.0, 4.0, 6.0, 0.0, 8.0, 10.0, 12.0, 0.0, 14.0, 16.0, 18.0
            ]
        )
    );
}
