//! Sliding-window geometry shared by convolution and pooling (ONNX conventions).
//!
//! Tensors are flat, row-major `[channels, spatial…]` (batch 1). A window op's output
//! position `p` reads, for each kernel offset `k`, the input position
//! `p · stride + k · dilation − pad_begin` in every spatial axis; positions that fall in the
//! padding are skipped (zero padding contributes nothing to a sum, and pooling ignores it),
//! so padding costs no cells. [`Window::taps`] is the single definition of that indexing:
//! the float pass, the integer pass, the witness and the circuit all use it.

use serde::{Deserialize, Serialize};

use crate::error::GeometryError;

/// The geometry of a window op over a `[channels, spatial…]` input.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    /// Input channels.
    pub channels: usize,
    /// Input spatial dimensions (1-D, 2-D, …).
    pub input: Vec<usize>,
    /// Kernel spatial dimensions.
    pub kernel: Vec<usize>,
    /// Stride per axis.
    pub strides: Vec<usize>,
    /// Padding: every axis's begin, then every axis's end (ONNX `pads`).
    pub pads: Vec<usize>,
    /// Dilation per axis.
    pub dilations: Vec<usize>,
}

impl Window {
    /// A window with unit strides and dilations and no padding.
    pub fn dense(channels: usize, input: Vec<usize>, kernel: Vec<usize>) -> Self {
        let rank = input.len();
        Self {
            channels,
            input,
            kernel,
            strides: vec![1; rank],
            pads: vec![0; 2 * rank],
            dilations: vec![1; rank],
        }
    }

    /// Checks that every list has one entry per axis and the output is not empty; the error
    /// says which field is wrong.
    pub fn validate(&self) -> Result<(), GeometryError> {
        let rank = self.input.len();
        if rank == 0 {
            return Err(GeometryError::NoAxis);
        }
        // Bound every number first, so that no arithmetic below can overflow and no loop
        // runs for longer than a real model needs (a model file is untrusted input).
        let channels = [self.channels];
        let mut numbers = channels
            .iter()
            .chain(&self.input)
            .chain(&self.kernel)
            .chain(&self.strides)
            .chain(&self.pads)
            .chain(&self.dilations);
        if rank > MAX_RANK || numbers.any(|n| *n > MAX_LEN) {
            return Err(GeometryError::TooLarge {
                rank,
                max_len: MAX_LEN,
                max_rank: MAX_RANK,
            });
        }
        let product = |v: &[usize]| v.iter().try_fold(1usize, |n, d| n.checked_mul(*d));
        let too_big = |n: Option<usize>| n.is_none_or(|n| n > MAX_LEN);
        if too_big(product(&self.input).and_then(|n| n.checked_mul(self.channels)))
            || too_big(product(&self.kernel))
        {
            return Err(GeometryError::TooMany {
                what: "values",
                max: MAX_LEN,
            });
        }
        for (field, len, want) in [
            ("kernel_shape", self.kernel.len(), rank),
            ("strides", self.strides.len(), rank),
            ("dilations", self.dilations.len(), rank),
            ("pads", self.pads.len(), 2 * rank),
        ] {
            if len != want {
                return Err(GeometryError::FieldLength { field, len, rank });
            }
        }
        if self.kernel.contains(&0) || self.strides.contains(&0) || self.dilations.contains(&0) {
            return Err(GeometryError::NotPositive);
        }
        for axis in 0..rank {
            let span = self.dilations[axis] * (self.kernel[axis] - 1) + 1;
            if self.input[axis] + self.pads[axis] + self.pads[rank + axis] < span {
                return Err(GeometryError::KernelSpan { axis, span });
            }
        }
        let out = self.output();
        let taps = product(&out)
            .and_then(|n| n.checked_mul(self.channels))
            .and_then(|n| n.checked_mul(self.kernel_len()));
        if too_big(product(&out).and_then(|n| n.checked_mul(self.channels)))
            || taps.is_none_or(|n| n > MAX_TAPS)
        {
            return Err(GeometryError::TooMany {
                what: "outputs or taps",
                max: MAX_LEN,
            });
        }
        // A window over padding alone has no value (a max of nothing, an average of zero
        // values), so every output position must read at least one input element.
        for (axis, &positions) in out.iter().enumerate() {
            for c in 0..positions {
                let sees_input = (0..self.kernel[axis]).any(|k| {
                    (c * self.strides[axis] + k * self.dilations[axis])
                        .checked_sub(self.pads[axis])
                        .is_some_and(|p| p < self.input[axis])
                });
                if !sees_input {
                    return Err(GeometryError::OnlyPadding { axis, position: c });
                }
            }
        }
        Ok(())
    }

    /// Output spatial dimensions: `floor((in + pads − dilation·(k−1) − 1) / stride) + 1`.
    pub fn output(&self) -> Vec<usize> {
        let rank = self.input.len();
        (0..rank)
            .map(|a| {
                let padded = self.input[a] + self.pads[a] + self.pads[rank + a];
                let span = self.dilations[a] * (self.kernel[a].max(1) - 1) + 1;
                padded.saturating_sub(span) / self.strides[a].max(1) + 1
            })
            .collect()
    }

    /// Output positions per channel.
    pub fn positions(&self) -> usize {
        self.output().iter().product()
    }

    /// Input positions per channel.
    pub fn input_positions(&self) -> usize {
        self.input.iter().product()
    }

    /// Kernel offsets per channel.
    pub fn kernel_len(&self) -> usize {
        self.kernel.iter().product()
    }

    /// For output position `p`: the `(kernel offset, input position)` pairs that fall
    /// inside the input, in kernel order.
    pub fn taps(&self, p: usize) -> Vec<(usize, usize)> {
        let rank = self.input.len();
        let out = self.output();
        let mut coord = vec![0usize; rank];
        let mut rest = p;
        for a in (0..rank).rev() {
            coord[a] = rest % out[a];
            rest /= out[a];
        }
        let mut taps = Vec::with_capacity(self.kernel_len());
        'kernel: for k in 0..self.kernel_len() {
            let mut offset = k;
            let mut index = 0usize;
            for a in (0..rank).rev() {
                let ka = offset % self.kernel[a];
                offset /= self.kernel[a];
                let pos = coord[a] * self.strides[a] + ka * self.dilations[a];
                let Some(pos) = pos.checked_sub(self.pads[a]) else {
                    continue 'kernel;
                };
                if pos >= self.input[a] {
                    continue 'kernel;
                }
                // Row-major: accumulate from the last axis with its stride.
                index += pos * self.input[a + 1..].iter().product::<usize>();
            }
            taps.push((k, index));
        }
        taps
    }
}

/// The most values any window, tensor or axis may have: far beyond what a circuit of
/// `2^22` rows holds, and small enough that no size computation overflows.
pub const MAX_LEN: usize = 1 << 24;

/// The most multiplications one op may have: `2^22` rows of 64 products.
pub const MAX_TAPS: usize = 1 << 28;

/// The most spatial axes a window may have.
pub const MAX_RANK: usize = 8;

/// A convolution's geometry: a window plus output channels and groups.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConvShape {
    /// The window over the input.
    pub window: Window,
    /// Output channels.
    pub out_channels: usize,
    /// Groups (`channels` for depthwise).
    pub groups: usize,
}

impl ConvShape {
    /// Checks the window, and that groups divide both channel counts.
    pub fn validate(&self) -> Result<(), GeometryError> {
        self.window.validate()?;
        let outputs = self.out_channels.checked_mul(self.window.positions());
        let weights = self.out_channels.checked_mul(self.window.kernel_len());
        let taps = outputs
            .and_then(|n| n.checked_mul(self.window.channels / self.groups.max(1)))
            .and_then(|n| n.checked_mul(self.window.kernel_len()));
        if outputs.is_none_or(|n| n > MAX_LEN)
            || weights.is_none_or(|n| n > MAX_LEN)
            || taps.is_none_or(|n| n > MAX_TAPS)
        {
            return Err(GeometryError::TooMany {
                what: "outputs or weights",
                max: MAX_LEN,
            });
        }
        let g = self.groups;
        if g == 0 || !self.window.channels.is_multiple_of(g) || !self.out_channels.is_multiple_of(g)
        {
            return Err(GeometryError::Groups {
                groups: g,
                channels: self.window.channels,
                out_channels: self.out_channels,
            });
        }
        Ok(())
    }

    /// Output values: out channels × positions.
    pub fn outputs(&self) -> usize {
        self.out_channels * self.window.positions()
    }

    /// Weights: `[out_channels, channels / groups, kernel…]`.
    pub fn weights_len(&self) -> usize {
        self.out_channels * (self.window.channels / self.groups.max(1)) * self.window.kernel_len()
    }

    /// For output `o`: the `(input index, weight index)` pairs of its dot product.
    pub fn taps(&self, o: usize) -> Vec<(usize, usize)> {
        let w = &self.window;
        let positions = w.positions().max(1);
        let (oc, p) = (o / positions, o % positions);
        let groups = self.groups.max(1);
        let in_per_group = w.channels / groups;
        let out_per_group = (self.out_channels / groups).max(1);
        let group = oc / out_per_group;
        let spatial = w.taps(p);
        let klen = w.kernel_len();
        let mut taps = Vec::with_capacity(in_per_group * spatial.len());
        for local in 0..in_per_group {
            let ic = group * in_per_group + local;
            for &(k, s) in &spatial {
                taps.push((
                    ic * w.input_positions() + s,
                    (oc * in_per_group + local) * klen + k,
                ));
            }
        }
        taps
    }
}

/// For output `o` of a pool over `window`: the input indices of its window (same channel).
pub fn pool_taps(window: &Window, o: usize) -> Vec<usize> {
    let positions = window.positions().max(1);
    let (c, p) = (o / positions, o % positions);
    window
        .taps(p)
        .into_iter()
        .map(|(_, s)| c * window.input_positions() + s)
        .collect()
}

/// A reduction along one axis of a row-major tensor (ArgMax, Softmax): the tensor is
/// `[outer, len, inner]`, and group `(o, i)` is the `len` values along the axis.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Axis {
    /// Product of the dimensions before the axis.
    pub outer: usize,
    /// The axis's length.
    pub len: usize,
    /// Product of the dimensions after the axis.
    pub inner: usize,
}

impl Axis {
    /// The axis `axis` (negative counts from the end) of `shape`.
    pub fn of(shape: &[usize], axis: i64) -> Option<Self> {
        let rank = i64::try_from(shape.len()).ok()?;
        let a = usize::try_from(if axis < 0 { axis + rank } else { axis }).ok()?;
        (a < shape.len()).then(|| Self {
            outer: shape[..a].iter().product(),
            len: shape[a],
            inner: shape[a + 1..].iter().product(),
        })
    }

    /// Number of groups.
    pub fn groups(&self) -> usize {
        self.outer.saturating_mul(self.inner)
    }

    /// Values in the tensor.
    pub fn size(&self) -> usize {
        self.outer
            .saturating_mul(self.len)
            .saturating_mul(self.inner)
    }

    /// The flat indices of group `g`, in axis order.
    pub fn group(&self, g: usize) -> Vec<usize> {
        let inner = self.inner.max(1);
        let (o, i) = (g / inner, g % inner);
        (0..self.len)
            .map(|a| (o * self.len + a) * self.inner + i)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_sizes_follow_onnx() {
        // 28x28, 5x5 kernel: 24x24; 2x2 stride 2: 12x12.
        assert_eq!(
            Window::dense(1, vec![28, 28], vec![5, 5]).output(),
            vec![24, 24]
        );
        let mut pool = Window::dense(6, vec![24, 24], vec![2, 2]);
        pool.strides = vec![2, 2];
        assert_eq!(pool.output(), vec![12, 12]);
        // Padding 1 and dilation 2 on 1-D: (7 + 2 - 2*2 - 1) / 1 + 1 = 5.
        let mut w = Window::dense(1, vec![7], vec![3]);
        w.pads = vec![1, 1];
        w.dilations = vec![2];
        assert_eq!(w.output(), vec![5]);
    }

    #[test]
    fn taps_skip_padding_and_follow_dilation() {
        let mut w = Window::dense(1, vec![4], vec![3]);
        w.pads = vec![1, 1];
        // Output 0 reads inputs -1 (pad), 0, 1.
        assert_eq!(w.taps(0), vec![(1, 0), (2, 1)]);
        assert_eq!(w.taps(3), vec![(0, 2), (1, 3)]);
        let mut d = Window::dense(1, vec![5], vec![2]);
        d.dilations = vec![3];
        assert_eq!(d.taps(1), vec![(0, 1), (1, 4)]);
    }

    #[test]
    fn two_d_taps_are_row_major() {
        let w = Window::dense(1, vec![3, 3], vec![2, 2]);
        assert_eq!(w.taps(3), vec![(0, 4), (1, 5), (2, 7), (3, 8)]);
    }

    #[test]
    fn axis_groups_stride_over_the_inner_dimensions() {
        let axis = Axis::of(&[2, 3, 2], 1).unwrap();
        assert_eq!(axis.groups(), 4);
        assert_eq!(axis.group(1), vec![1, 3, 5]);
        assert_eq!(axis.group(2), vec![6, 8, 10]);
        assert_eq!(
            Axis::of(&[1, 10], -1).unwrap().group(0),
            (0..10).collect::<Vec<_>>()
        );
        assert!(Axis::of(&[1, 10], 2).is_none());
    }

    #[test]
    fn depthwise_conv_reads_one_channel() {
        let conv = ConvShape {
            window: Window::dense(2, vec![3], vec![2]),
            out_channels: 2,
            groups: 2,
        };
        assert!(conv.validate().is_ok());
        // Output channel 1, position 0: input channel 1 positions 0, 1; weights 2, 3.
        assert_eq!(conv.taps(2), vec![(3, 2), (4, 3)]);
    }
}
