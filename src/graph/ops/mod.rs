//! One module per op family of the integer graph: its validation (`output_len`: the values
//! it makes, after checking its constants fit its geometry) and its integer evaluation
//! (`eval`: the values a chip needs). [`super::validate`] and [`super::witness`] dispatch
//! to them with one exhaustive `match` each, so a new op is a compile error until both
//! stages handle it.

pub(super) mod argmax;
pub(super) mod gather;
pub(super) mod linear;
pub(super) mod lookup;
pub(super) mod matmul;
pub(super) mod mul;
pub(super) mod pool;
pub(super) mod relu;
pub(super) mod softmax;
pub(super) mod wiring;

use crate::error::WitnessError;
use crate::graph::qgraph::QTensor;

/// A node's input values, read with bounds checks (a damaged graph is reported, not a panic).
#[derive(Clone, Copy)]
pub(super) struct Inputs<'a> {
    pub(super) node: &'a str,
    pub(super) xs: &'a [&'a [i64]],
}

impl Inputs<'_> {
    /// Element `index` of input `slot`.
    pub(super) fn get(&self, slot: usize, index: usize) -> Result<i64, WitnessError> {
        self.xs
            .get(slot)
            .and_then(|x| x.get(index))
            .copied()
            .ok_or_else(|| WitnessError::Inconsistent {
                node: self.node.to_string(),
                reason: format!("reads element {index} of input {slot}, which does not exist"),
            })
    }

    /// The first input (empty if there is none).
    pub(super) fn first(&self) -> &[i64] {
        self.xs.first().copied().unwrap_or_default()
    }
}

/// Three columns from rows of three.
pub(super) fn unzip3<A, B, C>(rows: Vec<(A, B, C)>) -> (Vec<A>, Vec<B>, Vec<C>) {
    let mut columns = (
        Vec::with_capacity(rows.len()),
        Vec::with_capacity(rows.len()),
        Vec::with_capacity(rows.len()),
    );
    for (a, b, c) in rows {
        columns.0.push(a);
        columns.1.push(b);
        columns.2.push(c);
    }
    columns
}

/// `value` as an element of `tensor`, or the range error naming it.
pub(super) fn check_range(
    node: &str,
    tensor: &QTensor,
    index: usize,
    value: i128,
) -> Result<i64, WitnessError> {
    let (min, max) = (tensor.min(), tensor.max());
    if value < i128::from(min) || value > i128::from(max) {
        return Err(WitnessError::OutOfRange {
            node: node.to_string(),
            tensor: tensor.name.clone(),
            index,
            value,
            min,
            max,
        });
    }
    i64::try_from(value).map_err(|_| unreachable_range(node, &tensor.name, index, value))
}

/// `value` as an `i64` (validation keeps it so; a damaged graph is reported).
pub(super) fn to_i64(
    node: &str,
    what: &str,
    index: usize,
    value: i128,
) -> Result<i64, WitnessError> {
    i64::try_from(value).map_err(|_| unreachable_range(node, what, index, value))
}

pub(super) fn unreachable_range(
    node: &str,
    tensor: &str,
    index: usize,
    value: i128,
) -> WitnessError {
    WitnessError::OutOfRange {
        node: node.to_string(),
        tensor: tensor.to_string(),
        index,
        value,
        min: i64::MIN,
        max: i64::MAX,
    }
}
