//! One module per op family of the integer graph, each implementing [`CircuitOp`] for its
//! ops: their rows in the layout and their synthesis, over the typed witness record each
//! reads ([`FromWitness`]). [`rows`] and [`synthesize`] are the circuit stage's one dispatch
//! over [`QOp`](crate::graph::qgraph::QOp), through the graph stage's one list of ops
//! (`each_op!`), so a new op is a compile error until it implements both stages' traits.

#![deny(clippy::wildcard_enum_match_arm)]

mod argmax;
pub(super) mod cells;
mod gather;
mod linear;
mod lookup;
mod matmul;
mod max;
mod maximum;
mod mul;
pub(super) mod params;
mod relu;
mod softmax;
mod wiring;

use halo2_proofs::{circuit::Layouter, plonk::Error};
use pasta_curves::Fp;
use zkinfer_circuits::{ChipSet, FunctionTable, SignedCell};

pub(super) use params::rows as params_rows;

use crate::circuit::rows::{OpRows, RowContext};
use crate::error::CompileError;
use crate::graph::each_op;
use crate::graph::qgraph::{QGraph, QNode, Relu};
use crate::graph::witness::NodeWitness;
use params::NodeParams;

/// What the circuit needs of every op: its rows in the layout (an upper bound of what its
/// synthesis assigns) and its synthesis, which copies the recorded integers into cells and
/// computes nothing semantic.
pub(super) trait CircuitOp {
    /// The witness record the synthesis reads ([`NodeWitness`]'s variant, typed).
    type Record<'w>: FromWitness<'w>;

    /// The node's rows per column group, and its rows of the shared table.
    fn rows(&self, cx: &RowContext<'_>) -> Result<OpRows, CompileError>;

    /// The node's output cells from its inputs' cells `ins`; `record` is `None` at key
    /// generation (every advice value unknown).
    fn synthesize(
        &self,
        cx: &SynthContext<'_>,
        layouter: &mut impl Layouter<Fp>,
        ins: &[&[SignedCell<Fp>]],
        record: Option<Self::Record<'_>>,
    ) -> Result<Vec<SignedCell<Fp>>, Error>;
}

/// A typed view of one [`NodeWitness`] variant: `None` for another variant.
pub(super) trait FromWitness<'w>: Sized {
    /// The view, if `record` is of this kind.
    fn from_witness(record: &'w NodeWitness) -> Option<Self>;
}

/// What a node's synthesis may read besides its inputs' cells.
pub(super) struct SynthContext<'a> {
    /// Every chip's config.
    pub(super) config: &'a ChipSet,
    /// The graph (its rounding).
    pub(super) graph: &'a QGraph,
    /// The node.
    pub(super) node: &'a QNode,
    /// The node's function table, when its op has one ([`crate::circuit::function_tables`]).
    pub(super) table: Option<&'a FunctionTable<Fp>>,
    /// The node's committed parameter cells, when parameters are hashed and it has some.
    pub(super) params: Option<NodeParams<'a>>,
}

impl SynthContext<'_> {
    /// The node's function table (a synthesis error for an op that has none loaded).
    pub(super) fn table(&self) -> Result<&FunctionTable<Fp>, Error> {
        self.table.ok_or(Error::Synthesis)
    }
}

/// The node's rows: the circuit stage's dispatch for the layout.
pub(super) fn rows(cx: &RowContext<'_>) -> Result<OpRows, CompileError> {
    each_op!(&cx.node.op, op => op.rows(cx), relu: &Relu)
}

/// The node's synthesis: the circuit stage's dispatch for the model circuit. The one check
/// of which record arrived is here: a record of another kind (a witness of another graph)
/// is a synthesis error.
pub(super) fn synthesize(
    cx: &SynthContext<'_>,
    layouter: &mut impl Layouter<Fp>,
    ins: &[&[SignedCell<Fp>]],
    record: Option<&NodeWitness>,
) -> Result<Vec<SignedCell<Fp>>, Error> {
    each_op!(&cx.node.op, op => run(op, cx, layouter, ins, record), relu: &Relu)
}

fn run<'w, O: CircuitOp>(
    op: &O,
    cx: &SynthContext<'_>,
    layouter: &mut impl Layouter<Fp>,
    ins: &[&[SignedCell<Fp>]],
    record: Option<&'w NodeWitness>,
) -> Result<Vec<SignedCell<Fp>>, Error> {
    let record = match record {
        Some(w) => Some(O::Record::<'w>::from_witness(w).ok_or(Error::Synthesis)?),
        None => None,
    };
    op.synthesize(cx, layouter, ins, record)
}

/// A linear record: per output, the quotient (the output) and the remainder.
pub(super) struct Quotients<'w> {
    pub(super) quotients: &'w [i64],
    pub(super) remainders: &'w [i64],
}

impl<'w> FromWitness<'w> for Quotients<'w> {
    fn from_witness(record: &'w NodeWitness) -> Option<Self> {
        if let NodeWitness::Linear {
            quotients,
            remainders,
        } = record
        {
            Some(Self {
                quotients,
                remainders,
            })
        } else {
            None
        }
    }
}

/// A product record: per element, the product, its quotient and its remainder.
pub(super) struct Products<'w> {
    pub(super) products: &'w [i64],
    pub(super) quotients: &'w [i64],
    pub(super) remainders: &'w [i64],
}

impl<'w> FromWitness<'w> for Products<'w> {
    fn from_witness(record: &'w NodeWitness) -> Option<Self> {
        if let NodeWitness::Product {
            products,
            quotients,
            remainders,
        } = record
        {
            Some(Self {
                products,
                quotients,
                remainders,
            })
        } else {
            None
        }
    }
}

/// A lookup record: per element, the reduced input, its remainder and the table's output.
pub(super) struct Lookups<'w> {
    pub(super) reduced: &'w [i64],
    pub(super) remainders: &'w [i64],
    pub(super) outputs: &'w [i64],
}

impl<'w> FromWitness<'w> for Lookups<'w> {
    fn from_witness(record: &'w NodeWitness) -> Option<Self> {
        if let NodeWitness::Lookup {
            reduced,
            remainders,
            outputs,
        } = record
        {
            Some(Self {
                reduced,
                remainders,
                outputs,
            })
        } else {
            None
        }
    }
}

/// An argmax record: per group, the maximum and its first index.
pub(super) struct ArgMaxima<'w> {
    pub(super) maxima: &'w [i64],
    pub(super) indices: &'w [i64],
}

impl<'w> FromWitness<'w> for ArgMaxima<'w> {
    fn from_witness(record: &'w NodeWitness) -> Option<Self> {
        if let NodeWitness::ArgMax { maxima, indices } = record {
            Some(Self { maxima, indices })
        } else {
            None
        }
    }
}

/// A softmax record ([`NodeWitness::Softmax`]).
pub(super) struct Softmaxes<'w> {
    pub(super) maxima: &'w [i64],
    pub(super) reduced: &'w [i64],
    pub(super) remainders: &'w [i64],
    pub(super) exps: &'w [i64],
    pub(super) outputs: &'w [i64],
}

impl<'w> FromWitness<'w> for Softmaxes<'w> {
    fn from_witness(record: &'w NodeWitness) -> Option<Self> {
        if let NodeWitness::Softmax {
            maxima,
            reduced,
            remainders,
            exps,
            outputs,
        } = record
        {
            Some(Self {
                maxima,
                reduced,
                remainders,
                exps,
                outputs,
            })
        } else {
            None
        }
    }
}

/// Plain output values (ReLU, max pooling, an embedding).
pub(super) struct Outputs<'w>(pub(super) &'w [i64]);

impl<'w> FromWitness<'w> for Outputs<'w> {
    fn from_witness(record: &'w NodeWitness) -> Option<Self> {
        if let NodeWitness::Values { outputs } = record {
            Some(Self(outputs))
        } else {
            None
        }
    }
}

/// No record: wiring's cells are copies, whatever was recorded.
pub(super) struct Unread;

impl FromWitness<'_> for Unread {
    fn from_witness(_: &NodeWitness) -> Option<Self> {
        Some(Self)
    }
}
