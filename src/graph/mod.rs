//! The model's meaning, apart from any circuit: the float graph an importer builds
//! ([`ir`]), calibration and quantisation ([`quant`]) into the integer graph ([`qgraph`]),
//! and the integer pass that evaluates it ([`witness`]), with the geometry of windows and
//! axes ([`window`]) and the tabulated functions ([`activation`]). Each op's validation and
//! evaluation live in one module of `ops/`. Nothing here imports the
//! circuit: a layout choice cannot change what a model computes.

pub mod activation;
pub mod fuse;
pub mod ir;
mod ops;
mod params;
mod partition;
pub mod qgraph;
mod qtensor;
pub mod quant;
mod record;
pub mod repeats;
mod split;
mod tensor_id;
mod validate;
pub mod window;
pub mod witness;

pub(crate) use qgraph::each_op;
pub use split::Split;
pub use tensor_id::TensorId;
