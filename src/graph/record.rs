//! What one node's integer evaluation records: its outputs and every intermediate its chip
//! needs. A leaf module: the op modules write it, the witness collects it, the circuit reads
//! it.

/// What one node recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeWitness {
    /// A linear op (Dense, Conv, AvgPool, Add, Affine).
    Linear {
        /// Per output: the divided value (the node's output).
        quotients: Vec<i64>,
        /// Per output: the division's remainder, in `[0, d)`.
        remainders: Vec<i64>,
    },
    /// A product of two tensors, rescaled.
    Product {
        /// Per element: `a · b`.
        products: Vec<i64>,
        /// Per element: the rescaled product (the node's output).
        quotients: Vec<i64>,
        /// Per element: the rescale's remainder.
        remainders: Vec<i64>,
    },
    /// A table lookup.
    Lookup {
        /// Per element: the reduced input `floor(x / 2^shift)`, the table's index.
        reduced: Vec<i64>,
        /// Per element: the reduction's remainder, in `[0, 2^shift)`.
        remainders: Vec<i64>,
        /// Per element: the table's output.
        outputs: Vec<i64>,
    },
    /// The first index of each group's maximum.
    ArgMax {
        /// Per group: the maximum.
        maxima: Vec<i64>,
        /// Per group: the index (the node's output).
        indices: Vec<i64>,
    },
    /// A softmax; per-element records are in group order (group 0's elements first).
    Softmax {
        /// Per group: the maximum.
        maxima: Vec<i64>,
        /// Per element: the reduced gap `floor((m − x) / 2^shift)`.
        reduced: Vec<i64>,
        /// Per element: the reduction's remainder.
        remainders: Vec<i64>,
        /// Per element: the table's exponential.
        exps: Vec<i64>,
        /// Per element, in tensor order: the output.
        outputs: Vec<i64>,
    },
    /// An elementwise op (ReLU, MaxPool) or wiring: just its outputs.
    Values {
        /// The outputs.
        outputs: Vec<i64>,
    },
}

impl NodeWitness {
    /// The node's output values.
    pub fn output(&self) -> &[i64] {
        match self {
            Self::Linear { quotients, .. } | Self::Product { quotients, .. } => quotients,
            Self::Lookup { outputs, .. }
            | Self::Softmax { outputs, .. }
            | Self::Values { outputs } => outputs,
            Self::ArgMax { indices, .. } => indices,
        }
    }
}
