//! The geometry of a grouped convolution and how its work is cut: the shapes, the units of
//! parallel work (images × groups) and the tiles of output rows one matrix product computes.
//! Both lowerings (`channels_last.rs`, `unfold.rs`) and the driver (`conv.rs`) share it.

/// Shapes of a grouped convolution: `x` is `[batch, groups·c_in, height, width]`, the weight
/// `[groups·c_out, c_in, kernel_h, kernel_w]`, the output `[batch, groups·c_out, out_h, out_w]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvShape {
    /// Images.
    pub batch: usize,
    /// Independent convolutions (stacked models).
    pub groups: usize,
    /// Input channels per group.
    pub c_in: usize,
    /// Output channels per group.
    pub c_out: usize,
    /// Input height and width.
    pub input: [usize; 2],
    /// Kernel height and width.
    pub kernel: [usize; 2],
    /// Step between outputs, per axis.
    pub stride: [usize; 2],
    /// Zeros added on both sides, per axis.
    pub padding: [usize; 2],
}

/// Columns a block of images aims for: enough for the matrix kernel to run at speed, few enough
/// that the unfolded block stays in a core's cache on the shapes of the built-in models.
const BLOCK_COLUMNS: usize = 256;

impl ConvShape {
    /// Output height and width; `None` when the kernel does not fit the padded input.
    pub fn output(&self) -> Option<[usize; 2]> {
        let side = |axis: usize| {
            (self.input[axis] + 2 * self.padding[axis])
                .checked_sub(self.kernel[axis])
                .map(|s| s / self.stride[axis].max(1) + 1)
        };
        Some([side(0)?, side(1)?])
    }

    pub(super) fn out_hw(&self) -> usize {
        let [h, w] = self.output().expect("shape checked by the caller");
        h * w
    }

    /// Rows of the unfolded input: one per input channel and kernel position.
    pub(super) fn patch(&self) -> usize {
        self.c_in * self.kernel[0] * self.kernel[1]
    }

    pub(super) fn in_hw(&self) -> usize {
        self.input[0] * self.input[1]
    }

    /// Images per block.
    pub(super) fn block(&self) -> usize {
        BLOCK_COLUMNS
            .div_ceil(self.out_hw().max(1))
            .clamp(1, self.batch.max(1))
    }

    /// Elements of the input, weight and output.
    pub fn lengths(&self) -> [usize; 3] {
        [
            self.batch * self.groups * self.c_in * self.in_hw(),
            self.groups * self.c_out * self.patch(),
            self.batch * self.groups * self.c_out * self.out_hw(),
        ]
    }

    /// Multiply-adds of the forward pass, ×2: floating-point operations.
    pub fn flops(&self) -> f64 {
        2.0 * (self.batch * self.groups * self.c_out * self.out_hw() * self.patch()) as f64
    }
}

/// One unit of work: images `first..first + count` of group `group`.
#[derive(Clone, Copy)]
pub(super) struct Unit {
    pub(super) first: usize,
    pub(super) count: usize,
    pub(super) group: usize,
}

/// Output rows `first..first + rows` of every image of a unit: the piece of the output one
/// matrix product computes. A unit of one large image is cut into tiles of about
/// `BLOCK_COLUMNS` outputs so its unfolded input stays in cache; a unit of several small images
/// is one tile.
#[derive(Clone, Copy)]
pub(super) struct Tile {
    pub(super) first: usize,
    pub(super) rows: usize,
}

pub(super) fn tiles(shape: &ConvShape, unit: Unit) -> impl Iterator<Item = Tile> {
    let [oh_n, ow_n] = shape.output().expect("checked");
    let step = if unit.count == 1 {
        (BLOCK_COLUMNS / ow_n.max(1)).clamp(1, oh_n.max(1))
    } else {
        oh_n.max(1)
    };
    (0..oh_n).step_by(step).map(move |first| Tile {
        first,
        rows: step.min(oh_n - first),
    })
}

/// One image's channels of one group in an `[batch, groups·c, h, w]` tensor.
pub(super) struct UnitSlice<'a>(pub(super) &'a mut [f32]);

/// The output gradient of a unit's tile as a `[c_out, width]` matrix and its row stride: read in
/// place for one image (row stride out_h·out_w), gathered into `gathered` for several.
pub(super) fn tile_grad<'a>(
    grad: &'a [f32],
    shape: &ConvShape,
    unit: Unit,
    tile: Tile,
    gathered: &'a mut Vec<f32>,
) -> (&'a [f32], usize) {
    let (ohw, ow_n) = (shape.out_hw(), shape.output().expect("checked")[1]);
    let channels = shape.groups * shape.c_out;
    if unit.count == 1 {
        let image = unit.first * channels + unit.group * shape.c_out;
        return (&grad[image * ohw + tile.first * ow_n..], ohw);
    }
    let width = unit.count * tile.rows * ow_n;
    gathered.resize(shape.c_out * width, 0.0);
    for b in 0..unit.count {
        let image = (unit.first + b) * channels + unit.group * shape.c_out;
        for co in 0..shape.c_out {
            gathered[co * width + b * ohw..][..ohw]
                .copy_from_slice(&grad[(image + co) * ohw..][..ohw]);
        }
    }
    (gathered, width)
}
