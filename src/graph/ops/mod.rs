//! One module per op family, holding the op's whole meaning in the graph stage: its float
//! semantics and quantisation ([`FloatKernel`], for the float graph an importer builds) and
//! its integer meaning ([`IntegerOp`]: structural checks and output length, integer
//! evaluation, trained parameters, how it splits into pieces, whether it preserves its
//! input's range). [`QOp`](crate::graph::qgraph::QOp) and
//! [`FloatOp`](crate::graph::ir::FloatOp) stay enums (they serialise well); each has one list
//! of variants beside it (`each_op!`, `each_float_op!`), the only places that name every op,
//! so the rest of the graph code never lists ops.

pub(crate) mod argmax;
pub(crate) mod gather;
pub(crate) mod linear;
pub(crate) mod lookup;
pub(crate) mod matmul;
pub(crate) mod maximum;
pub(crate) mod mul;
pub(crate) mod pool;
pub(crate) mod relu;
pub(crate) mod softmax;
pub(crate) mod wiring;

use std::ops::Range;

use crate::error::{Error, StructureError, WitnessError};
use crate::graph::activation::Table;
use crate::graph::qtensor::{LinearOutput, QTensor, Rounding};
use crate::graph::quant::options::QuantOptions;
use crate::graph::record::NodeWitness;
use crate::graph::TensorId;

/// What every op of the float graph is: the model's meaning as imported, before
/// quantisation. Each op's module implements it; the float graph's validation and
/// evaluation, the quantiser and the importer's constant folding call it through
/// `each_float_op!` and never match on the op themselves.
pub trait FloatKernel {
    /// The integer op it quantises to.
    type Integer;

    /// The op's kind, for messages and reports.
    fn kind(&self) -> &'static str;

    /// How many tensors the op reads (`None`: any number, at least one, for wiring).
    fn arity(&self) -> Option<usize> {
        Some(1)
    }

    /// The number of values the op makes from inputs of `lens` (as many as
    /// [`Self::arity`]; no checks, see [`Self::check`]).
    fn output_len(&self, lens: &[usize]) -> usize;

    /// Structural checks against inputs of `lens`: its constants fit its geometry and its
    /// inputs. The error says what was expected and what was found.
    fn check(&self, lens: &[usize]) -> Result<(), Mismatch>;

    /// Every constant of the op, which must be finite (weights, biases, pad values).
    fn constants(&self) -> Vec<f32> {
        Vec::new()
    }

    /// The largest magnitude among the weights that quantise to the integer op's trained
    /// params at one scale (`None` for an op without).
    fn weight_max(&self) -> Option<f64> {
        None
    }

    /// Sets the trained weights and biases to zero: the op's structure alone, which
    /// repeated blocks share ([`crate::graph::repeats`]).
    fn zero_trained(&mut self) {}

    /// The float semantics, in `f64`.
    fn eval(&self, xs: &[&[f64]]) -> Vec<f64>;

    /// The integer op for inputs `ins` (their integer tensors), whose output's calibrated
    /// range allows the exponent `calibrated`; `q` quantises and adds the nodes that bring
    /// inputs to the scales the op needs.
    fn quantise(
        &self,
        q: &mut dyn Quantiser,
        name: &str,
        ins: &[Operand],
        calibrated: i32,
    ) -> Result<Quantised<Self::Integer>, Error>;

    /// Folds a constant map `y = scale · x + bias` (one constant per output) that follows
    /// the op into it, when the op can absorb it exactly (a linear layer); `false` leaves
    /// the op unchanged.
    fn fold(&mut self, _scale: &[f32], _bias: &[f32]) -> bool {
        false
    }
}

/// What a float op's structure expected and what it found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mismatch {
    /// What the op needs.
    pub expected: String,
    /// What it has.
    pub got: String,
}

impl Mismatch {
    /// `expected`, `got`.
    pub(crate) fn new(expected: impl Into<String>, got: impl ToString) -> Self {
        Self {
            expected: expected.into(),
            got: got.to_string(),
        }
    }
}

/// `Ok` when `len` is `expected`, else the mismatch (an input's length).
pub(crate) fn need_len(len: usize, expected: usize) -> Result<(), Mismatch> {
    if len == expected {
        Ok(())
    } else {
        Err(Mismatch::new(format!("an input of {expected} values"), len))
    }
}

/// Input `k` of a float op's evaluation (empty when it has none: a graph that skipped
/// validation evaluates to too few values, which its callers report, not a panic).
pub(crate) fn arg<'x>(xs: &[&'x [f64]], k: usize) -> &'x [f64] {
    xs.get(k).copied().unwrap_or_default()
}

/// The length of input `k` (0 when there is none; validation checks the arity).
pub(crate) fn len_of(lens: &[usize], k: usize) -> usize {
    lens.get(k).copied().unwrap_or(0)
}

/// `Ok` when a binary elementwise op's two inputs have one length.
pub(crate) fn same_lengths(lens: &[usize]) -> Result<(), Mismatch> {
    if len_of(lens, 0) == len_of(lens, 1) {
        Ok(())
    } else {
        Err(Mismatch::new(
            "two inputs of one length (broadcasting is not supported)",
            format!("{} and {}", len_of(lens, 0), len_of(lens, 1)),
        ))
    }
}

/// A quantised node's input: its tensor in the integer graph.
#[derive(Clone, Debug)]
pub struct Operand {
    /// The integer tensor's id.
    pub id: TensorId,
    /// The tensor (its length, scale and width).
    pub tensor: QTensor,
}

/// What a float op quantises to: the integer op, the tensors it reads, and its output's
/// length and exponent.
#[derive(Debug)]
pub struct Quantised<Op> {
    /// The integer op.
    pub op: Op,
    /// The tensors it reads (after any rescaling the quantiser added).
    pub inputs: Vec<TensorId>,
    /// Its output's length.
    pub len: usize,
    /// Its output's exponent.
    pub scale_exp: i32,
}

/// What an op's quantisation asks of the quantiser.
#[allow(missing_debug_implementations)]
pub trait Quantiser {
    /// The precision options.
    fn options(&self) -> &QuantOptions;

    /// Adds a node `name` dividing `input` down to the coarser exponent `scale_exp` (an
    /// affine map with unit weights and a right shift); its output's id.
    fn rescale(&mut self, name: &str, input: &Operand, scale_exp: i32) -> Result<TensorId, Error>;

    /// The largest weight magnitude the node being quantised shares its weights' scale
    /// with: `own`, or more when the node is one of a repeated block's repetitions
    /// quantised alike.
    fn weight_max(&self, own: f64) -> f64 {
        own
    }
}

/// The inputs `ins` of node `name` brought to one scale: the finest are divided down to
/// the coarsest (nodes `name.align<k>`); the scale, `fallback` when there are none. For ops
/// whose outputs are their inputs' values (max, wiring), which share one scale.
pub(crate) fn align(
    q: &mut dyn Quantiser,
    name: &str,
    ins: &[Operand],
    fallback: i32,
) -> Result<(Vec<TensorId>, i32), Error> {
    let e = ins
        .iter()
        .map(|o| o.tensor.scale_exp)
        .min()
        .unwrap_or(fallback);
    let mut inputs = Vec::with_capacity(ins.len());
    for (k, o) in ins.iter().enumerate() {
        if o.tensor.scale_exp == e {
            inputs.push(o.id);
        } else {
            inputs.push(q.rescale(&format!("{name}.align{k}"), o, e)?);
        }
    }
    Ok((inputs, e))
}

/// Operand `k` of node `name` (the float graph's validation checks the arity first; a
/// graph that skipped it is reported, not a panic).
pub(crate) fn operand<'o>(name: &str, ins: &'o [Operand], k: usize) -> Result<&'o Operand, Error> {
    ins.get(k).ok_or_else(|| {
        crate::error::QuantError::Shape {
            node: name.to_string(),
            expected: format!("at least {} inputs", k + 1),
            got: ins.len().to_string(),
        }
        .into()
    })
}

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
    fn output_len(&self, ins: &[&QTensor], out: &QTensor) -> Result<usize, StructureError>;

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
pub(super) fn second<'t>(ins: &[&'t QTensor]) -> Result<&'t QTensor, StructureError> {
    ins.get(1).copied().ok_or(StructureError::Arity {
        expected: 2,
        got: ins.len(),
    })
}

/// `Ok` when `tensor` (`what`) has `expected` values.
pub(super) fn check_len(
    what: &'static str,
    got: usize,
    expected: usize,
) -> Result<(), StructureError> {
    if got == expected {
        Ok(())
    } else {
        Err(StructureError::Length {
            what,
            expected,
            got,
        })
    }
}

/// `Ok` when every value lies in `out`'s declared range, else the first that does not.
pub(super) fn check_in_range(
    what: &'static str,
    values: &[i64],
    out: &QTensor,
) -> Result<(), StructureError> {
    match values.iter().find(|v| **v < out.min() || **v > out.max()) {
        Some(&value) => Err(StructureError::OutOfRange {
            what,
            value,
            min: out.min(),
            max: out.max(),
        }),
        None => Ok(()),
    }
}
