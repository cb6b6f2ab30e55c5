//! One module per op family of the integer graph, each implementing [`IntegerOp`]: the op's
//! whole meaning (its structural checks and output length, its integer evaluation, its
//! trained parameters, how it splits into pieces, whether it preserves its input's range).
//! [`QOp`](crate::graph::qgraph::QOp) stays an enum (it serialises well); its one list of
//! variants (`each_op!`, beside the enum) is the only place that names every op, so the rest
//! of the graph code never lists ops.

pub(super) mod argmax;
pub(super) mod gather;
pub(super) mod linear;
pub(super) mod lookup;
pub(super) mod matmul;
pub(super) mod maximum;
pub(super) mod mul;
pub(super) mod pool;
pub(super) mod relu;
pub(super) mod softmax;
pub(super) mod wiring;

use std::ops::Range;

use crate::error::WitnessError;
use crate::graph::activation::Table;
use crate::graph::qtensor::{LinearOutput, QTensor, Rounding};
use crate::graph::record::NodeWitness;

/// What every op of the integer graph is. Each op's module implements it; the graph's
/// validation, its integer pass, its parameters and its splitting call these methods through
/// [`QOp::as_op`](crate::graph::qgraph::QOp::as_op) and never match on the op themselves.
pub(crate) trait IntegerOp: Sync {
    /// The op's kind, for reports and node names.
    fn kind(&self) -> &'static str;

    /// How many tensors the op reads (`None`: any number, at least one, for wiring).
    fn arity(&self) -> Option<usize> {
        Some(1)
    }

    /// The number of values the op makes from inputs `ins` (as many as [`Self::arity`]) into
    /// `out`, after checking that its constants fit its geometry and its output's declared
    /// range (a model file is untrusted: what this accepts, the integer pass and the chips
    /// rely on). The error says what does not fit.
    fn output_len(&self, ins: &[&QTensor], out: &QTensor) -> Result<usize, String>;

    /// The integer evaluation: the op's outputs and every intermediate its chip needs.
    fn eval(&self, cx: &EvalContext<'_>) -> Result<NodeWitness, WitnessError>;

    /// Whether every output is one of its inputs' values (ReLU, max pooling, wiring): its
    /// output must then be declared no narrower than its inputs, and the circuit does not
    /// range-check it again.
    fn preserves_range(&self) -> bool;

    /// The trained parameters, `[weights, biases]`, in the order of
    /// [`Tap::param`](crate::graph::qgraph::Tap::param) and
    /// [`LinearOutput::bias_param`]: exactly the values that hashed parameters move to advice
    /// cells and a verifier file zeroes. `None` for an op with none (the constants of an
    /// average pool, an add or a table belong to the architecture).
    fn params(&self) -> Option<[Vec<i64>; 2]>;

    /// Sets every value [`Self::params`] lists to zero (a verifier file's copy).
    fn zero_params(&mut self) {}

    /// The right shift of a rescaling op (`0` for the others).
    fn shift(&self) -> u32 {
        0
    }

    /// The function table the op looks values up in, if any.
    fn table(&self) -> Option<&Table> {
        None
    }

    /// Whether the op is linear: each output a dot product and one division
    /// ([`Self::linear`]), proven by the linear chips.
    fn is_linear(&self) -> bool {
        false
    }

    /// Output `o` of a linear op; `None` for the others and for `o` out of range.
    fn linear(&self, _o: usize) -> Option<LinearOutput> {
        None
    }

    /// Whether and how the op can be computed in pieces ([`crate::graph::Split`]).
    fn splitting(&self) -> Splitting {
        Splitting::Never
    }

    /// The piece of a splittable op over `units` (of [`Splitting::Layer`]) whose outputs are
    /// `elements`; `None`: the op as it is (an elementwise op reads its slices instead).
    fn piece(&self, _units: Range<usize>, _elements: Range<usize>) -> Option<Self>
    where
        Self: Sized,
    {
        None
    }

    /// The input elements a layer's piece over `units` reads, when it reads a slice of its
    /// input (a grouped convolution's groups); `None`: the whole input.
    fn piece_input(&self, _units: Range<usize>) -> Option<Range<usize>> {
        None
    }
}

/// How an op is computed in pieces, when a layer is too large for any part.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Splitting {
    /// Never split.
    Never,
    /// A layer over `units` independent output units (a dense layer's outputs, a
    /// convolution's output channels or groups), named `label` in a piece's name.
    Layer {
        /// How many units.
        units: usize,
        /// What a unit is.
        label: &'static str,
    },
    /// Output `o` depends on element `o` of its inputs alone (their lengths equal to its
    /// own), so the op can be computed on any slice of them.
    Elementwise,
}

/// What an op's evaluation reads: its node's inputs, its output tensor and the graph's
/// rounding.
#[derive(Clone, Copy)]
pub(crate) struct EvalContext<'a> {
    /// The node's input values.
    pub(crate) inputs: Inputs<'a>,
    /// The node's output tensor (its range).
    pub(crate) out: &'a QTensor,
    /// How every division rounds.
    pub(crate) rounding: Rounding,
}

/// A node's input values, read with bounds checks (a damaged graph is reported, not a panic).
#[derive(Clone, Copy)]
pub(crate) struct Inputs<'a> {
    pub(crate) node: &'a str,
    pub(crate) xs: &'a [&'a [i64]],
}

impl Inputs<'_> {
    /// Element `index` of input `slot`.
    pub(crate) fn get(&self, slot: usize, index: usize) -> Result<i64, WitnessError> {
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
    pub(crate) fn first(&self) -> &[i64] {
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

/// The second of a binary op's inputs (validation checks the arity first).
pub(super) fn second<'t>(ins: &[&'t QTensor]) -> Result<&'t QTensor, String> {
    ins.get(1)
        .copied()
        .ok_or_else(|| "needs two inputs".to_string())
}
