//! A compile does each costly step once (issue 31, item 2): the integer graph is validated
//! once, laid out once (one walk over its nodes gives every width the cost model weighs)
//! and its hashed parameters are committed once. Counted by the library's own
//! per-thread counters (`zkinfer::counters`), which each step bumps at its one definition.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers fail loudly

use std::path::{Path, PathBuf};

use zkinfer::api::MIN_FITTED_TABLE_BITS;
use zkinfer::counters::{self, Counts};
use zkinfer::graph::ir::FloatGraph;
use zkinfer::{input, onnx, CompileOptions, CompiledModel, Visibilities, Visibility};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn import(name: &str) -> (FloatGraph, Vec<Vec<f32>>) {
    let graph = onnx::import(&data(&format!("{name}.onnx"))).unwrap();
    let samples = input::read_samples(&data(&format!("{name}.input.json"))).unwrap();
    (graph, samples)
}

/// The counts of one `compile` of `name` under `options`, and the model.
fn compile(name: &str, options: &CompileOptions) -> (CompiledModel, Counts) {
    let (graph, samples) = import(name);
    counters::take();
    let model = CompiledModel::compile(&graph, &samples, options).unwrap();
    (model, counters::take())
}

fn hashed_params() -> CompileOptions {
    CompileOptions {
        visibility: Visibilities {
            params: Visibility::Hashed,
            ..Visibilities::default()
        },
        ..CompileOptions::default()
    }
}

#[test]
fn a_whole_model_is_validated_and_laid_out_once() {
    let (model, counts) = compile("digits_mlp", &CompileOptions::default());
    assert!(!model.is_parted() && !model.graph.has_tables());
    assert_eq!(
        counts,
        Counts {
            validations: 1,
            layouts: 1,
            param_commitments: 0,
            proving_keys: 0,
            verifying_keys: 0,
        }
    );
}

#[test]
fn hashed_params_are_committed_once() {
    let (model, counts) = compile("digits_mlp", &hashed_params());
    assert!(model.weights_commitment().is_some());
    assert_eq!(
        counts,
        Counts {
            validations: 1,
            layouts: 1,
            param_commitments: 1,
            proving_keys: 0,
            verifying_keys: 0,
        }
    );
}

#[test]
fn a_forced_width_is_the_one_layout() {
    let options = CompileOptions {
        dot_width: Some(16),
        ..CompileOptions::default()
    };
    let (model, counts) = compile("digits_mlp", &options);
    assert_eq!(model.dot_width, 16);
    assert_eq!(
        counts,
        Counts {
            validations: 1,
            layouts: 1,
            param_commitments: 0,
            proving_keys: 0,
            verifying_keys: 0,
        }
    );
}

#[test]
fn fitting_tables_validates_and_lays_out_each_candidate_once_and_commits_the_chosen_once() {
    let options = hashed_params();
    let (model, counts) = compile("digits_mlp_tanh_sigmoid", &options);
    assert!(model.graph.has_tables());
    let candidates = (options.quant.table_bits - MIN_FITTED_TABLE_BITS + 1) as usize;
    assert_eq!(
        counts,
        Counts {
            validations: candidates,
            layouts: candidates,
            param_commitments: 1,
            proving_keys: 0,
            verifying_keys: 0,
        }
    );
}

#[test]
fn loading_a_model_file_checks_it_once() {
    let (model, _) = compile("digits_mlp", &hashed_params());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.zkm");
    model.save(&path).unwrap();
    counters::take();
    let loaded = CompiledModel::load(&path).unwrap();
    assert_eq!(loaded, model);
    // The file is untrusted: its graph validated, laid out at its width and its weights
    // checked against the recorded commitment, each once.
    assert_eq!(
        counters::take(),
        Counts {
            validations: 1,
            layouts: 1,
            param_commitments: 1,
            proving_keys: 0,
            verifying_keys: 0,
        }
    );
}
