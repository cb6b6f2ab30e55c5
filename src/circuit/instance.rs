//! The instance column: where each public tensor lies, as its values or as one commitment.
//! The only place that knows the column's segments.

use std::ops::Range;

use pasta_curves::Fp;
use zkinfer_circuits::commit;
use zkinfer_circuits::value::felt;

use crate::graph::qgraph::QGraph;
use crate::visibility::{Visibilities, Visibility};

/// How one tensor shows in the instance column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Segment {
    /// Its values, one per row.
    Values(Range<usize>),
    /// One row: `Poseidon(salt, packed values)`, the values packed at `bits` bits each.
    Commitment {
        /// The row.
        row: usize,
        /// The packing width (the widest of the tensors it covers).
        bits: u32,
    },
}

impl Segment {
    /// The rows it occupies.
    pub fn rows(&self) -> Range<usize> {
        match self {
            Self::Values(rows) => rows.clone(),
            Self::Commitment { row, .. } => *row..*row + 1,
        }
    }

    /// Whether it is a commitment.
    pub fn is_hashed(&self) -> bool {
        matches!(self, Self::Commitment { .. })
    }
}

/// The salts of a proof's commitments: random field elements the prover keeps (unused for a
/// tensor that is not hashed).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Salts {
    /// The input's.
    pub input: Fp,
    /// The outputs'.
    pub output: Fp,
    /// The parameters': the model owner's, the same in every proof of the model.
    pub params: Fp,
}

/// The commitments a proof makes public (`None` for a tensor that is not hashed).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Commitments {
    /// To the input.
    pub input: Option<Fp>,
    /// To the outputs, all of them together.
    pub output: Option<Fp>,
    /// To the parameters ([`crate::graph::qgraph::GraphParams`]): the model owner's
    /// published commitment.
    pub params: Option<Fp>,
}

/// Where each public tensor lies in the one instance column: the outputs first, then the
/// input when it is public or hashed, then the parameters' commitment when they are hashed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstanceLayout {
    /// The outputs (all of them, one after another), or their commitment.
    pub outputs: Segment,
    /// The input, when it is public or hashed.
    pub input: Option<Segment>,
    /// The row of the parameters' commitment, when they are hashed (packed at
    /// [`Visibilities::param_bits`]).
    pub params: Option<usize>,
}

impl InstanceLayout {
    /// The segments of `graph` under `visibility`.
    pub fn of(graph: &QGraph, visibility: &Visibilities) -> Self {
        let outputs = match visibility.output {
            Visibility::Hashed => Segment::Commitment {
                row: 0,
                bits: output_bits(graph),
            },
            // Validation allows only public or hashed outputs; the others show as values.
            Visibility::Public | Visibility::Private | Visibility::Fixed => {
                Segment::Values(0..graph.output_len())
            }
        };
        let start = outputs.rows().end;
        let input = match visibility.input {
            Visibility::Public => Some(Segment::Values(start..start + graph.input.len)),
            Visibility::Hashed => Some(Segment::Commitment {
                row: start,
                bits: graph.input.bits,
            }),
            Visibility::Private | Visibility::Fixed => None,
        };
        let end = input.as_ref().map_or(start, |s| s.rows().end);
        Self {
            outputs,
            input,
            params: visibility.hashed_params().then_some(end),
        }
    }

    /// Rows used.
    pub fn len(&self) -> usize {
        let end = self
            .input
            .as_ref()
            .map_or(self.outputs.rows().end, |s| s.rows().end);
        self.params.map_or(end, |row| row + 1)
    }

    /// Whether no row is used.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Each commitment as `(name, values committed, packing bits)`, outputs first.
    pub fn commitments(&self, graph: &QGraph) -> Vec<(&'static str, usize, u32)> {
        let shown = [
            Some((&self.outputs, OUTPUT_COMMITMENT, graph.output_len())),
            self.input
                .as_ref()
                .map(|s| (s, "input commitment", graph.input.len)),
        ];
        shown
            .into_iter()
            .flatten()
            .filter_map(|(segment, name, len)| match segment {
                Segment::Commitment { bits, .. } => Some((name, len, *bits)),
                Segment::Values(_) => None,
            })
            .collect()
    }

    /// Whether some tensor is hashed (the circuit then needs the commitment chip).
    pub fn hashes(&self) -> bool {
        self.outputs.is_hashed()
            || self.input.as_ref().is_some_and(Segment::is_hashed)
            || self.params.is_some()
    }

    /// The commitments to `outputs` and `input` under `salts`, for the hashed tensors (the
    /// parameters' is the model's, not a proof's: callers set it); `Err` names a value
    /// outside its tensor's range (the integer pass never makes one).
    pub fn commit(
        &self,
        outputs: &[i64],
        input: &[i64],
        salts: &Salts,
    ) -> Result<Commitments, usize> {
        let commit = |segment: &Segment, values: &[i64], salt: Fp| match segment {
            Segment::Commitment { bits, .. } => commit::commitment(values, *bits, salt).map(Some),
            Segment::Values(_) => Ok(None),
        };
        Ok(Commitments {
            output: commit(&self.outputs, outputs, salts.output)?,
            input: match &self.input {
                Some(segment) => commit(segment, input, salts.input)?,
                None => None,
            },
            params: None,
        })
    }

    /// The instance column's values: the outputs (or their commitment), then the input (or
    /// its commitment) when it is shown, then the parameters' commitment when they are
    /// hashed. A hashed tensor whose commitment is missing shows as zero, which no honest
    /// proof matches.
    pub fn values(&self, outputs: &[i64], input: &[i64], commitments: &Commitments) -> Vec<Fp> {
        let mut values = Vec::with_capacity(self.len());
        let mut show = |segment: &Segment, tensor: &[i64], commitment: Option<Fp>| match segment {
            Segment::Values(_) => values.extend(tensor.iter().map(|v| felt::<Fp>(*v))),
            Segment::Commitment { .. } => values.push(commitment.unwrap_or_default()),
        };
        show(&self.outputs, outputs, commitments.output);
        if let Some(segment) = &self.input {
            show(segment, input, commitments.input);
        }
        if self.params.is_some() {
            values.push(commitments.params.unwrap_or_default());
        }
        values
    }
}

/// The domain of a graph's parameters commitment: a digest of the architecture (the graph
/// with every parameter zero, as a verifier file holds it, and its names blanked) and of the visibilities (who sees
/// the input and output, and the packing widths of the params), as a field element the
/// circuit pins as the chain's first element. A commitment made for one architecture,
/// packing or visibility therefore cannot be opened as another's (the same packed elements
/// read at other widths, the same values under a graph that uses them differently, or the
/// owner's weights reused by a model that shows what the owner's hides).
pub fn param_domain(graph: &QGraph, visibility: &Visibilities) -> Fp {
    use blake2::{Blake2b512, Digest};
    use ff::FromUniformBytes;
    // Names left out: blocks of one structure, the same but for their names, are one
    // circuit (their position is bound by each part's own salt and the published list).
    let architecture = graph.structure(false);
    let mut hasher = Blake2b512::new();
    hasher.update(b"zkinfer params commitment domain v3");
    hasher.update(visibility.param_bits[0].to_le_bytes());
    hasher.update(visibility.param_bits[1].to_le_bytes());
    for seen in [visibility.input, visibility.output, visibility.params] {
        hasher.update(seen.to_string().as_bytes());
        hasher.update([0]);
    }
    // A graph always serialises (string keys, finite numbers).
    hasher.update(serde_json::to_vec(&architecture).unwrap_or_default());
    let wide: [u8; 64] = hasher.finalize().into();
    Fp::from_uniform_bytes(&wide)
}

/// The name of the outputs' commitment in [`InstanceLayout::commitments`].
pub const OUTPUT_COMMITMENT: &str = "output commitment";

/// The packing width of the outputs' commitment: the widest output (each output value is
/// range-checked to its own width, which is no wider).
pub fn output_bits(graph: &QGraph) -> u32 {
    graph.output_tensors().map(|t| t.bits).max().unwrap_or(1)
}
