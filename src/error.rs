//! Typed errors, one enum per pipeline stage, wrapped by [`Error`](enum@Error).
//!
//! Every variant names what is at fault (node, tensor, index, value, range or field) so that
//! a user can act on the message without a debugger.

use thiserror::Error;

/// Errors in the float graph: import and validation.
#[derive(Debug, Error)]
pub enum IrError {
    /// The model file could not be read or decoded.
    #[error("cannot read model {path}: {reason}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// An operator that this version cannot prove.
    #[error("unsupported operator {op} at node '{node}'{detail}")]
    Unsupported {
        /// The ONNX op type.
        op: String,
        /// The node's name.
        node: String,
        /// What about it is unsupported (may be empty).
        detail: String,
    },
    /// A batch of several samples where the op proves one.
    #[error("node '{node}': batch size {size} is not supported (batch 1 only); export the model with batch size 1 or a symbolic batch dimension")]
    Batch {
        /// The node.
        node: String,
        /// The batch size found.
        size: usize,
    },
    /// A node refers to a tensor nobody produced.
    #[error("node '{node}' reads tensor '{tensor}', which is neither an input, an initializer nor an earlier output")]
    UnknownTensor {
        /// The node.
        node: String,
        /// The missing tensor.
        tensor: String,
    },
    /// Shapes that do not fit together.
    #[error("shape mismatch at node '{node}': expected {expected}, got {got}")]
    Shape {
        /// The node.
        node: String,
        /// What was expected.
        expected: String,
        /// What was found.
        got: String,
    },
    /// A constant that is not finite, or of a type this version does not read.
    #[error("bad constant '{tensor}': {reason}")]
    BadConstant {
        /// The tensor.
        tensor: String,
        /// Why.
        reason: String,
    },
    /// tract's independent execution of the ONNX file disagrees with the imported model.
    #[error("the imported model disagrees with the ONNX file's reference execution: {reason}")]
    Reference {
        /// Where and by how much.
        reason: String,
    },
    /// The graph has no layers or no output.
    #[error("the model is empty: {0}")]
    Empty(String),
}

/// Errors choosing scales and converting floats to integers.
#[derive(Debug, Error)]
pub enum QuantError {
    /// A float that is NaN or infinite.
    #[error("{tensor}[{index}] is {value}, which is not a finite number")]
    NotFinite {
        /// The tensor.
        tensor: String,
        /// The flat index.
        index: usize,
        /// The value.
        value: f64,
    },
    /// A calibration sample holds a NaN or an infinity.
    #[error("calibration sample {sample}, value #{index} is {value}, which is not a finite number: remove or fix that sample")]
    NotFiniteSample {
        /// The sample, from 0.
        sample: usize,
        /// The flat index within it.
        index: usize,
        /// The value.
        value: f64,
    },
    /// A value beyond the calibrated range of its tensor.
    #[error("{tensor}[{index}] = {} lies outside the calibrated range [{}, {}]; pass --clamp (Prover::prove's `clamp`) to saturate it, or recompile with calibration data that covers it", readable(*value), readable(*min), readable(*max))]
    OutOfRange {
        /// The tensor.
        tensor: String,
        /// The flat index.
        index: usize,
        /// The value.
        value: f64,
        /// Smallest representable value.
        min: f64,
        /// Largest representable value.
        max: f64,
    },
    /// A fractional value for a model whose input holds integers.
    #[error("{tensor}[{index}] = {value} is not a whole number, and the model's input holds integers (token ids)")]
    NotInteger {
        /// The tensor.
        tensor: String,
        /// The flat index.
        index: usize,
        /// The value.
        value: f64,
    },
    /// Input length does not match the model.
    #[error("input has {got} values, the model's input '{tensor}' takes {expected}")]
    InputLength {
        /// The input tensor.
        tensor: String,
        /// Values the model takes.
        expected: usize,
        /// Values given.
        got: usize,
    },
    /// The bit budget cannot hold a layer's accumulator.
    #[error(
        "node '{node}': accumulator needs {needed} bits, more than the {budget} the circuit allows"
    )]
    Overflow {
        /// The node.
        node: String,
        /// Bits needed.
        needed: u32,
        /// Bits allowed.
        budget: u32,
    },
    /// No calibration data.
    #[error("calibration needs at least one input")]
    NoCalibration,
}

/// Errors running the integer forward pass.
#[derive(Debug, Error)]
pub enum WitnessError {
    /// An integer outside the declared range of its tensor: the circuit could not prove it.
    #[error(
        "node '{node}': {tensor}[{index}] = {value} is outside its declared range [{min}, {max}]: this input drives an intermediate value beyond what calibration saw; recompile with calibration data that covers such inputs, or with more headroom (`zkinfer compile --headroom-bits 3`, QuantOptions::headroom_bits)"
    )]
    OutOfRange {
        /// The node.
        node: String,
        /// The tensor (or intermediate) name.
        tensor: String,
        /// The flat index.
        index: usize,
        /// The value.
        value: i128,
        /// Range minimum.
        min: i64,
        /// Range maximum.
        max: i64,
    },
    /// A graph whose node reads what does not exist (a damaged or hand-built graph).
    #[error("node '{node}' {reason}")]
    Inconsistent {
        /// The node.
        node: String,
        /// What is wrong.
        reason: String,
    },
    /// Input length does not match.
    #[error("input has {got} values, the model takes {expected}")]
    InputLength {
        /// Expected.
        expected: usize,
        /// Given.
        got: usize,
    },
}

/// Errors reading, writing or building a compiled model.
#[derive(Debug, Error)]
pub enum CompileError {
    /// File I/O.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not a compiled model, or is damaged.
    #[error("{path} is not a valid zkinfer model: {reason}")]
    Format {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// Written by another format version.
    #[error("{path} has model format version {found}; this zkinfer reads version {expected}")]
    Version {
        /// The file.
        path: String,
        /// Found.
        found: u32,
        /// Supported.
        expected: u32,
    },
    /// The model is structurally invalid.
    #[error("invalid model: node '{node}': {reason}")]
    Invalid {
        /// The node.
        node: String,
        /// Why.
        reason: String,
    },
    /// The circuit would need more rows than any supported k.
    #[error("the circuit needs {rows} rows, beyond the largest supported k = {max_k}")]
    TooLarge {
        /// Rows needed.
        rows: usize,
        /// Largest k.
        max_k: u32,
    },
    // What `api/` refuses of a model as a whole (issue 31, item 4).
    /// A dot width no circuit has.
    #[error("invalid model: dot width {width} is not one of {supported:?}, the widths a circuit can have (recompile, or choose one of them)")]
    DotWidth {
        /// The model's width.
        width: usize,
        /// The widths a circuit can have.
        supported: &'static [usize],
    },
    /// Visibilities this version cannot prove.
    #[error("invalid model: {reason}")]
    Visibility {
        /// Which tensor's visibility, and what to use instead.
        reason: String,
    },
    /// A model of several inputs whose inputs' lengths are not its input's.
    #[error(
        "invalid model: input parts {parts:?} do not add up to the input's {input_len} values"
    )]
    InputParts {
        /// The inputs' flat lengths.
        parts: Vec<usize>,
        /// The (joined) input's length.
        input_len: usize,
    },
    /// An integer graph without a node.
    #[error("invalid model: the integer graph has no nodes")]
    NoNodes,
    /// A model proven in parts handed where one circuit is needed.
    #[error("the model is proven in {parts} parts, each its own circuit: prove and verify it with PartedProver and PartedVerifier, as the CLI does")]
    ProvenInParts {
        /// Its parts.
        parts: usize,
    },
    /// A model proven whole handed where parts are needed.
    #[error("the model is proven whole: prove it with a Prover and verify it with a Verifier (compile with --max-k, --memory-budget or --cuts to cut it into parts)")]
    ProvenWhole,
    /// A part the model does not have.
    #[error("there is no part {part}: the model has {parts} parts")]
    NoSuchPart {
        /// The part asked for (from 0).
        part: usize,
        /// The model's parts.
        parts: usize,
    },
    /// A verifier file (no weights or no salt) asked to prove.
    #[error("this is a verifier file (or its weights commitment was replaced): it holds no weights or no salt, so it verifies but cannot prove; prove with the model owner's file")]
    VerifierFile,
}

/// A value given as text (a commitment, a salt, a link seed, a flag) that does not parse
/// (issue 31, item 4).
#[derive(Clone, Debug, PartialEq, Error)]
pub enum ParseError {
    /// Not a field element's 64 lowercase hex digits.
    #[error("'{text}' is not 64 lowercase hex digits (a field element's 32 bytes)")]
    FeltDigits {
        /// The text.
        text: String,
    },
    /// 64 hex digits at or above the field's modulus.
    #[error("'{text}' is not below the field's modulus (not canonical)")]
    FeltRange {
        /// The text.
        text: String,
    },
    /// A link seed that is not 64 hex digits.
    #[error("a link seed is 64 hex digits (32 bytes): {source}")]
    LinkSeed {
        /// What is wrong with the digits.
        source: hex::FromHexError,
    },
    /// A log format the service does not write.
    #[error("log format '{found}': expected human, json or off")]
    LogFormat {
        /// The text given.
        found: String,
    },
}

/// Errors generating parameters or keys, or proving.
#[derive(Debug, Error)]
pub enum ProveError {
    /// Parameter cache I/O.
    #[error("parameter cache {path}: {reason}")]
    Params {
        /// The file or folder.
        path: String,
        /// Why.
        reason: String,
    },
    /// halo2 refused to build keys or a proof.
    #[error("{stage} failed: {source}")]
    Halo2 {
        /// keygen or proving.
        stage: &'static str,
        /// halo2's error.
        #[source]
        source: halo2_proofs::plonk::Error,
    },
    /// Synthesising one node of the circuit failed (its record does not fit the node: a
    /// damaged model or witness).
    #[error("{stage} failed at node '{node}': {source}")]
    Synthesis {
        /// keygen or proving.
        stage: &'static str,
        /// The node.
        node: String,
        /// halo2's error.
        #[source]
        source: halo2_proofs::plonk::Error,
    },
    /// A hashed tensor could not be committed to.
    #[error("committing to a hashed tensor failed: {reason}")]
    Commitment {
        /// Why.
        reason: String,
    },
}

impl ProveError {
    /// A halo2 error of `stage`, naming the node whose synthesis failed when there is one.
    pub fn from_halo2(
        stage: &'static str,
        node: Option<String>,
        source: halo2_proofs::plonk::Error,
    ) -> Self {
        match node {
            Some(node) => Self::Synthesis {
                stage,
                node,
                source,
            },
            None => Self::Halo2 { stage, source },
        }
    }
}

/// Why a proof was rejected.
#[derive(Debug, Error)]
pub enum VerifyError {
    /// The bundle's format version is not this library's.
    #[error("proof bundle format version {found}; this zkinfer verifies version {expected}")]
    FormatVersion {
        /// Found.
        found: u32,
        /// Supported.
        expected: u32,
    },
    /// The bundle was made for another circuit version.
    #[error(
        "proof made with circuit version {found}; this zkinfer builds circuit version {expected}"
    )]
    CircuitVersion {
        /// Found.
        found: u32,
        /// Supported.
        expected: u32,
    },
    /// The bundle names another model's verifying key.
    #[error("proof is for model {found}, not for this model ({expected})")]
    ModelMismatch {
        /// Digest in the bundle.
        found: String,
        /// Digest of the model given.
        expected: String,
    },
    /// Wrong number of public values.
    #[error("{field} has {got} values; the model has {expected}")]
    Shape {
        /// The bundle field.
        field: &'static str,
        /// Expected.
        expected: usize,
        /// Given.
        got: usize,
    },
    /// A public value outside its declared range.
    #[error("{field}[{index}] = {value} is outside its declared range [{min}, {max}]")]
    OutOfRange {
        /// The bundle field.
        field: &'static str,
        /// Index.
        index: usize,
        /// Value.
        value: i64,
        /// Range minimum.
        min: i64,
        /// Range maximum.
        max: i64,
    },
    /// The float outputs do not match the integer outputs at the model's scale.
    #[error("outputs_float[{index}] = {got} does not equal the proven output {expected}")]
    FloatMismatch {
        /// Index.
        index: usize,
        /// Derived from the integer output.
        expected: f64,
        /// In the bundle.
        got: f64,
    },
    /// The proof does not verify: tampered bytes, outputs or inputs.
    #[error("the proof is invalid for these public values: {0}")]
    InvalidProof(String),
    /// The proof is not exactly as long as this model's proofs: bytes were appended or cut.
    #[error("the proof has {got} bytes; proofs of this model have exactly {expected}")]
    ProofLength {
        /// This model's proof length.
        expected: usize,
        /// The bundle's.
        got: usize,
    },
    /// A proof of a model proven in parts has the wrong number of part proofs.
    #[error("the proof has {got} part proofs; the model is proven in {expected} parts")]
    PartCount {
        /// Parts of the model.
        expected: usize,
        /// Part proofs in the bundle.
        got: usize,
    },
    /// One part's proof fails.
    #[error("part {part}: {source}")]
    Part {
        /// Which part (from 0).
        part: usize,
        /// Why it fails.
        source: Box<VerifyError>,
    },
    /// Two consecutive parts do not prove one computation: the commitment to what part
    /// `from` hands on is not the one part `from + 1` reads.
    #[error(
        "the link from part {from} to part {} does not match: part {from} commits to {output}, part {} reads {input}",
        from + 1,
        from + 1
    )]
    Link {
        /// The earlier part.
        from: usize,
        /// Its output commitment.
        output: String,
        /// The next part's input commitment.
        input: String,
    },
    /// A commitment is missing, malformed, or present where the model hashes nothing.
    #[error("{field}: {reason}")]
    Commitment {
        /// The bundle or opening field.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The proof commits to other parameters than the ones the model owner published: it
    /// was made with other weights under the same architecture.
    #[error(
        "the proof's weights commitment {found} is not the model's published {expected}: \
         the proof was made with other weights"
    )]
    WeightsCommitment {
        /// The published commitment (the model file's, or the one given).
        expected: String,
        /// The bundle's.
        found: String,
    },
    /// An opening does not open its commitment.
    #[error("the opening of the {tensor} does not match: {reason}")]
    Opening {
        /// `input` or `output`.
        tensor: String,
        /// What disagrees.
        reason: String,
    },
}

/// Any zkinfer error.
#[derive(Debug, Error)]
pub enum Error {
    /// Float graph.
    #[error(transparent)]
    Ir(#[from] IrError),
    /// Quantisation.
    #[error(transparent)]
    Quant(#[from] QuantError),
    /// Integer forward pass.
    #[error(transparent)]
    Witness(#[from] WitnessError),
    /// Compiled model.
    #[error(transparent)]
    Compile(#[from] CompileError),
    /// Setup and proving.
    #[error(transparent)]
    Prove(#[from] ProveError),
    /// Verification.
    #[error(transparent)]
    Verify(#[from] VerifyError),
    /// Input or bundle files.
    #[error("{path}: {reason}")]
    File {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
}

/// A number as a person reads it: plain decimals in an ordinary range, else scientific.
pub fn readable(v: f64) -> String {
    if v == 0.0 || (1e-3..1e6).contains(&v.abs()) {
        let s = format!("{v:.4}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        s.to_string()
    } else {
        format!("{v:.3e}")
    }
}
