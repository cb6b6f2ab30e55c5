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
    /// A tensor's external data cannot be read.
    #[error("bad constant '{tensor}': external data: {source}")]
    ExternalData {
        /// The tensor.
        tensor: String,
        /// Why.
        source: ExternalDataError,
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
    /// A node's inputs or constants do not have the shape its quantisation needs (a float
    /// graph that skipped validation).
    #[error("node '{node}': expected {expected}, got {got}")]
    Shape {
        /// The node.
        node: String,
        /// What its quantisation needs.
        expected: String,
        /// What it has.
        got: String,
    },
    /// An error budget (`--max-error`) that is not a positive number.
    #[error("--max-error {max_error}: an error budget is a positive number, the largest |float - quantised| output error allowed")]
    BudgetValue {
        /// The budget given.
        max_error: f64,
    },
    /// Too few calibration samples to hold some out of fitting the scales.
    #[error("an error budget (--max-error) needs at least 2 calibration samples: the first half fits the scales, the error is measured on the rest; got {got}")]
    BudgetSamples {
        /// Samples given.
        got: usize,
    },
    /// No setting searched meets the error budget.
    #[error("no quantisation meets --max-error {}: {reached} on {held_out} held-out calibration samples; allow at least that error, or calibrate on more samples like those you will prove", readable(*max_error))]
    BudgetUnmet {
        /// The budget.
        max_error: f64,
        /// The tightest error reached and its setting, or why none was measured.
        reached: String,
        /// Samples the error was measured on.
        held_out: usize,
    },
    /// A Gather's ids are not whole numbers at their scale: they come from an activation
    /// with a fractional scale, not from the model's integer input.
    #[error("node '{node}': ids at scale 2^{scale_exp} are not exact integers; a Gather reads the model's integer input (token ids)")]
    FractionalIds {
        /// The Gather.
        node: String,
        /// The ids' exponent.
        scale_exp: i32,
    },
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

/// What is wrong with a pooling or convolution window's geometry (from a model file or an
/// ONNX node's attributes).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum GeometryError {
    /// No spatial axis.
    #[error("a window op needs at least one spatial axis")]
    NoAxis,
    /// A rank or a size beyond what any real model needs.
    #[error("a window of rank {rank} with a size above {max_len} (at most rank {max_rank})")]
    TooLarge {
        /// The window's rank.
        rank: usize,
        /// The largest size allowed.
        max_len: usize,
        /// The largest rank allowed.
        max_rank: usize,
    },
    /// The input, the kernel, the outputs or the taps exceed the largest tensor.
    #[error("a window op over more than {max} {what}")]
    TooMany {
        /// What there are too many of ("values", "outputs or taps", "outputs or weights").
        what: &'static str,
        /// The bound.
        max: usize,
    },
    /// An attribute list of the wrong length.
    #[error("{field} has {len} entries for {rank} spatial axes")]
    FieldLength {
        /// The attribute.
        field: &'static str,
        /// Its entries.
        len: usize,
        /// The spatial axes.
        rank: usize,
    },
    /// A zero kernel size, stride or dilation.
    #[error("kernel_shape, strides and dilations must be positive")]
    NotPositive,
    /// The kernel is longer than the padded input.
    #[error("the kernel spans {span} on axis {axis}, more than the padded input")]
    KernelSpan {
        /// The axis.
        axis: usize,
        /// The kernel's span on it.
        span: usize,
    },
    /// An output position whose window reads padding alone.
    #[error("output position {position} on axis {axis} reads only padding")]
    OnlyPadding {
        /// The axis.
        axis: usize,
        /// The output position.
        position: usize,
    },
    /// Groups that do not divide the channels.
    #[error("group = {groups} must divide {channels} input and {out_channels} output channels")]
    Groups {
        /// The groups.
        groups: usize,
        /// Input channels.
        channels: usize,
        /// Output channels.
        out_channels: usize,
    },
}

/// What does not fit in a node of the integer graph (a model file is untrusted input: what
/// validation accepts, the integer pass and the chips rely on).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum StructureError {
    /// A tensor read that is not an earlier tensor of the graph.
    #[error("reads {tensor}, which is not an earlier tensor")]
    UnknownTensor {
        /// The tensor.
        tensor: String,
    },
    /// The wrong number of inputs.
    #[error("has {got} inputs, its op takes {expected}")]
    Arity {
        /// What the op takes.
        expected: usize,
        /// What the node has.
        got: usize,
    },
    /// A length that does not fit.
    #[error("{what} has {got} values, {expected} expected")]
    Length {
        /// What ("the input", "the bias", "the output", "the mask", ...).
        what: &'static str,
        /// The length needed.
        expected: usize,
        /// The length found.
        got: usize,
    },
    /// More values than any tensor may hold.
    #[error("{what} has {got} values, more than {max}")]
    TooLong {
        /// What.
        what: &'static str,
        /// Its length.
        got: usize,
        /// The bound.
        max: usize,
    },
    /// A list that must not be empty.
    #[error("{what} is empty")]
    Empty {
        /// What.
        what: &'static str,
    },
    /// Constants or geometry whose shape does not fit the op's inputs.
    #[error("{what}: expected {expected}, got {got}")]
    Shape {
        /// What.
        what: &'static str,
        /// The shape needed.
        expected: String,
        /// The shape found.
        got: String,
    },
    /// A constant outside the output's declared range.
    #[error("{what} {value} lies outside the output's range [{min}, {max}]")]
    OutOfRange {
        /// What ("table output", "constant", ...).
        what: &'static str,
        /// The value.
        value: i64,
        /// Range minimum.
        min: i64,
        /// Range maximum.
        max: i64,
    },
    /// A tensor at a scale the op cannot read or make.
    #[error("{what} at scale 2^{got}, expected 2^{expected}")]
    Scale {
        /// Which tensor.
        what: &'static str,
        /// The scale needed.
        expected: i32,
        /// The scale found.
        got: i32,
    },
    /// A width, shift or sum beyond what the integer pass and the chips allow.
    #[error("{what} needs {needed} bits, more than the {max} allowed")]
    Width {
        /// What.
        what: &'static str,
        /// Bits needed.
        needed: u32,
        /// Bits allowed.
        max: u32,
    },
    /// A tensor wider or narrower than widths allow, or an output narrower than the input
    /// whose values it holds.
    #[error("{tensor} has {bits} bits, outside {min}..={max}")]
    Bits {
        /// The tensor.
        tensor: String,
        /// Its declared width.
        bits: u32,
        /// The narrowest allowed.
        min: u32,
        /// The widest allowed.
        max: u32,
    },
    /// A softmax mask that leaves a group empty.
    #[error("group {group} is masked entirely")]
    EmptyGroup {
        /// The group.
        group: usize,
    },
    /// The op's geometry.
    #[error(transparent)]
    Geometry(#[from] GeometryError),
}

/// Why a tensor's ONNX external data cannot be read (the model file is untrusted: its data
/// must lie in a regular file inside the model's own folder, at the length its shape needs).
#[derive(Debug, Error)]
pub enum ExternalDataError {
    /// An `external_data` value that is not a byte count.
    #[error("{key} '{value}' is not a byte count")]
    NotACount {
        /// `offset` or `length`.
        key: String,
        /// The value given.
        value: String,
    },
    /// A key this reader does not understand.
    #[error("key '{key}' is not understood")]
    UnknownKey {
        /// The key.
        key: String,
    },
    /// No `location`.
    #[error("no 'location' is given")]
    NoLocation,
    /// A location that is not a plain relative path.
    #[error("location '{location}' is not a relative path inside the model's folder")]
    NotRelative {
        /// The location.
        location: String,
    },
    /// A location that leads out of the model's folder.
    #[error("location '{location}' leads out of the model's folder (a symbolic link?)")]
    OutOfFolder {
        /// The location.
        location: String,
    },
    /// A location that is not a regular file.
    #[error("location '{location}' is not a regular file")]
    NotAFile {
        /// The location.
        location: String,
    },
    /// The file cannot be opened or read.
    #[error("{location}: {source}")]
    Io {
        /// The location (or "the model's folder").
        location: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A data type with no fixed width.
    #[error("data type {data_type} cannot be external here")]
    DataType {
        /// ONNX's data type number.
        data_type: i32,
    },
    /// Dimensions that are no size.
    #[error("shape {dims:?} is not a size")]
    Dims {
        /// The dimensions.
        dims: Vec<i64>,
    },
    /// A `length` other than the shape's.
    #[error("'length' {length} is not the tensor's {expected} bytes (shape {dims:?})")]
    Length {
        /// The length given.
        length: u64,
        /// The length the shape needs.
        expected: u64,
        /// The shape.
        dims: Vec<i64>,
    },
    /// Bytes beyond the end of the file.
    #[error("bytes {offset}..{end} lie beyond the end of {location} ({size} bytes)")]
    BeyondEnd {
        /// The location.
        location: String,
        /// The first byte.
        offset: u64,
        /// One past the last.
        end: u64,
        /// The file's size.
        size: u64,
    },
}

/// A visibility setting this version does not prove.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum VisibilityError {
    /// A name that is no visibility.
    #[error("unknown visibility '{name}' (one of private, public, hashed, fixed)")]
    Unknown {
        /// The name given.
        name: String,
    },
    /// A visibility a tensor cannot have.
    #[error("{tensor} visibility '{visibility}' is not supported (use {allowed})")]
    Unsupported {
        /// "input", "output" or "params".
        tensor: &'static str,
        /// The visibility given.
        visibility: String,
        /// What that tensor may be.
        allowed: String,
    },
    /// Hashed params need packing widths of 1 to 62 bits.
    #[error("hashed params need packing widths of 1 to 62 bits, found {found:?}")]
    ParamBits {
        /// The widths found.
        found: [u32; 2],
    },
    /// Packing widths for params that are not hashed.
    #[error("param_bits {found:?} are set, but the params are not hashed")]
    UnhashedParamBits {
        /// The widths found.
        found: [u32; 2],
    },
}

/// A precision preset's name that is none of them.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown precision '{name}' (standard or high)")]
pub struct PrecisionError {
    /// The name given.
    pub name: String,
}

/// What is wrong with an input file's samples (JSON: see [`crate::input`]).
#[derive(Debug, Error)]
pub enum SamplesError {
    /// NaN or Infinity, which JSON cannot hold and a model cannot take.
    #[error("input contains NaN or Infinity (first near line {line}, column {column}), which is not a finite number")]
    NotFinite {
        /// Line of the first parse error.
        line: usize,
        /// Its column.
        column: usize,
    },
    /// Not JSON.
    #[error("not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// An object without any of the keys inputs are read from.
    #[error("expected a key \"input_data\", \"inputs\" or \"input\"")]
    NoKey,
    /// Not an array of numbers.
    #[error("{field}: expected an array of numbers")]
    NotArray {
        /// Where.
        field: &'static str,
    },
    /// No sample at all.
    #[error("{field}: no samples")]
    NoSamples {
        /// Where.
        field: &'static str,
    },
    /// Something other than a number.
    #[error("{field}[{sample}]: value #{index} is {found}, not a number")]
    NotNumber {
        /// Where.
        field: &'static str,
        /// The sample.
        sample: usize,
        /// The value's position in the flattened sample.
        index: usize,
        /// What was found.
        found: String,
    },
    /// A number no 32-bit float holds.
    #[error("{field}[{sample}]: value #{index} = {value} is beyond the range of a 32-bit float (ONNX inputs are f32)")]
    BeyondF32 {
        /// Where.
        field: &'static str,
        /// The sample.
        sample: usize,
        /// The value's position in the flattened sample.
        index: usize,
        /// The number as written.
        value: String,
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
    /// The list of a model's parts.
    #[error("invalid model parts: {0}")]
    Parts(#[from] PartsError),
    /// No part that starts at a node fits the budget.
    #[error("node '{node}': no part that starts at this node fits {budget} (raise --max-k or --memory-budget)")]
    NoPartFits {
        /// The node.
        node: String,
        /// The budget, as a person reads it.
        budget: String,
    },
    /// The record of hashed parameters.
    #[error("invalid model params: {0}")]
    Weights(#[from] WeightsError),
    /// A range of nodes that is not a part of the graph.
    #[error("nodes {start}..{end} are not a non-empty range of the graph's {nodes} nodes")]
    NoSuchNodes {
        /// The first node.
        start: usize,
        /// One past the last.
        end: usize,
        /// The graph's nodes.
        nodes: usize,
    },
    /// A layer asked to split into more pieces than it has output units (or fewer than 2).
    #[error(
        "node '{node}': a {kind} of {units} output units cannot be split into {pieces} pieces"
    )]
    Pieces {
        /// The node.
        node: String,
        /// Its op.
        kind: &'static str,
        /// Its output units.
        units: usize,
        /// The pieces asked for.
        pieces: usize,
    },
    /// The model's visibilities.
    #[error("invalid model: {0}")]
    Visibility(#[from] VisibilityError),
    /// A node of the integer graph that does not fit its inputs or its output.
    #[error("invalid model: node '{node}': {source}")]
    Structure {
        /// The node (or tensor, or "graph outputs").
        node: String,
        /// What does not fit.
        source: StructureError,
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

/// What is wrong with a model's list of parts.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum PartsError {
    /// Cuts that are not increasing node indices.
    #[error("cuts {cuts:?} are not increasing node indices in 1..{nodes}")]
    Cuts {
        /// The cuts given.
        cuts: Vec<usize>,
        /// The graph's nodes.
        nodes: usize,
    },
    /// A list of one part.
    #[error("one part: a model proven whole lists none")]
    OnePart,
    /// A first part that does not start at node 0.
    #[error("the first part does not start at node 0")]
    FirstNotAtZero,
    /// Starts that are not increasing, or beyond the graph.
    #[error("part starts are not increasing node indices within the graph")]
    NotIncreasing,
    /// Links too large to load cheaply.
    #[error("its links carry {values} values in all, more than {max}")]
    LinksTooLarge {
        /// The links' values in all.
        values: u128,
        /// The bound.
        max: usize,
    },
}

/// What is wrong with a model's hashed parameters or their record.
#[derive(Clone, Debug, PartialEq, Error)]
pub enum WeightsError {
    /// A parameter wider than its declared packing width.
    #[error("{kind} {index} = {value} does not fit the declared {bits} bits")]
    TooWide {
        /// "weight" or "bias".
        kind: &'static str,
        /// Its index in commitment order.
        index: usize,
        /// Its value.
        value: i64,
        /// The declared width.
        bits: u32,
    },
    /// An embedding table, which hashed params do not cover.
    #[error("node '{node}': hashed params do not cover a Gather's embedding table yet (it is a lookup table the verifying key commits to): use --param-visibility fixed")]
    Gather {
        /// The Gather.
        node: String,
    },
    /// A model with nothing to hash.
    #[error("the model has no trained parameters to hash: use --param-visibility fixed")]
    NoParams,
    /// A verifier file asked of a model whose params are fixed.
    #[error("a verifier file needs hashed params (compile with --param-visibility hashed): with fixed params the verifying key commits to the weights themselves")]
    NotHashed,
    /// A weights commitment asked of a model whose params are fixed.
    #[error("the model's params are not hashed: it has no weights commitment")]
    NoCommitment,
    /// A commitment or salt that does not parse.
    #[error("{field}: {source}")]
    Felt {
        /// "weights commitment" or "salt".
        field: &'static str,
        /// Why.
        source: ParseError,
    },
    /// Weights that do not commit to the recorded commitment.
    #[error("the file's weights commit to {found}, not to its recorded commitment {recorded}: the weights or the commitment were changed")]
    Mismatch {
        /// What the weights commit to.
        found: String,
        /// What the file records.
        recorded: String,
    },
    /// A commitment recorded for fixed params.
    #[error("the file records a weights commitment, but its params are not hashed")]
    UnexpectedCommitment,
    /// Hashed params without a recorded commitment.
    #[error("the params are hashed, but the file records no weights commitment")]
    MissingCommitment,
    /// Packing widths out of range.
    #[error("hashed params need packing widths of 1 to 62 bits, found {bits:?}")]
    PackingWidths {
        /// The widths.
        bits: [u32; 2],
    },
    /// A part's weights that do not commit to its recorded commitment.
    #[error("part {part}: its weights commit to {found}, not to its recorded commitment {recorded}: the weights or the commitment were changed")]
    PartMismatch {
        /// The part.
        part: usize,
        /// What the weights commit to.
        found: String,
        /// What the file records.
        recorded: String,
    },
    /// A list of part commitments of another length than the parts.
    #[error("the file records {found} part weights commitments for {parts} parts")]
    PartCount {
        /// Entries recorded.
        found: usize,
        /// Parts of the model (0 when proven whole).
        parts: usize,
    },
    /// A part commitment recorded for a part with fixed params, or missing for one with
    /// hashed params.
    #[error("part {part}: its params are {}, but the file {} a commitment for it", if *hashed { "hashed" } else { "fixed (no params, or an embedding table)" }, if *hashed { "records no" } else { "records" })]
    PartEntry {
        /// The part.
        part: usize,
        /// Whether the part's params are hashed.
        hashed: bool,
    },
    /// Part commitments that do not hash to the model's commitment: the list was changed,
    /// or a verifier was told another published commitment.
    #[error("the parts' weights commitments hash to {found}, not to {recorded}: this file is not the published model's (or its list was changed)")]
    PartsCommitment {
        /// What the list hashes to.
        found: String,
        /// The commitment recorded or published.
        recorded: String,
    },
    /// A part holding an embedding table (so its params stay fixed, in the verifier file)
    /// and other trained params, which the verifier file would then publish.
    #[error("part {part} holds an embedding table, so its params stay fixed and its verifier file holds them, and also the trained params of node '{node}', which it would publish: cut before node {index} (--cut-before), so the table has a part of its own")]
    ExposedParams {
        /// The part.
        part: usize,
        /// The node whose params would be published.
        node: String,
        /// Its index, where a cut keeps them hashed.
        index: usize,
    },
    /// A model in parts none of whose parts can hash its params.
    #[error("no part of the model has params hashed params can cover (every part has none, or an embedding table): use --param-visibility fixed")]
    NoHashablePart,
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
    /// Keys built for one circuit shape handed to a model of another.
    #[error(
        "these keys were built for circuit shape {keys}, the model's shape is {model}: build the model's own keys"
    )]
    KeyShape {
        /// The shape the keys were built from.
        keys: String,
        /// The model's shape.
        model: String,
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
    /// An input file's samples.
    #[error("{path}: {source}")]
    Samples {
        /// The file.
        path: String,
        /// What is wrong.
        source: SamplesError,
    },
    /// A file that cannot be read or written.
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
