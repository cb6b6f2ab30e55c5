//! Layout choice: every width profile proves the same integer pass, the cost model picks the
//! cheapest prediction, a forced width is honoured, a proof made at one width is rejected by
//! a model compiled at another, and activation tables are fitted to the proof's size.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers fail loudly

mod common;

use zkinfer::circuit::cost::Shape;
use zkinfer::circuit::DOT_WIDTHS;
use zkinfer::error::VerifyError;
use zkinfer::{onnx, CompileOptions, CompiledModel, Error, Prover, Verifier};

fn compile_at(dot_width: Option<usize>) -> Result<CompiledModel, Error> {
    let graph = onnx::import(&common::data("digits_mlp.onnx")).unwrap();
    let options = CompileOptions {
        dot_width,
        ..CompileOptions::default()
    };
    CompiledModel::compile(&graph, &common::eval_set().inputs, &options)
}

#[test]
fn every_width_satisfies_the_circuit_with_the_same_outputs() {
    let x = common::model()
        .quantise_input(&common::sample(), false)
        .unwrap();
    // Every width must prove the same integers (the pass does not depend on the layout).
    let expected = common::model().witness(&x).unwrap().outputs();
    for w in DOT_WIDTHS {
        let model = compile_at(Some(w)).unwrap();
        assert_eq!(model.dot_width, w);
        let witness = model.witness(&x).unwrap();
        assert_eq!(&witness.outputs(), expected.as_slice(), "width {w}");
        assert_eq!(
            model.mock(&witness, &expected).unwrap(),
            vec![],
            "width {w}"
        );
        // A wrong output claim fails at every width.
        let mut wrong = expected.clone();
        wrong[0] += 1;
        common::assert_exactly(
            &common::mock_failures(&model, &witness, &wrong),
            &["Equality constraint|Advice", "Equality constraint|Instance"],
        );
    }
}

#[test]
fn wider_rows_never_need_more_rows() {
    let ks: Vec<u32> = DOT_WIDTHS
        .iter()
        .map(|&w| compile_at(Some(w)).unwrap().layout().unwrap().k)
        .collect();
    assert!(ks.windows(2).all(|p| p[1] <= p[0]), "{ks:?}");
}

/// The choice is checked against measurement, not against the cost model itself: the widths
/// that proved fastest when each model was proven at every width (BENCHMARKS.md, "Layout
/// choice": `cargo bench --bench cost_model`).
#[test]
fn the_cost_model_picks_the_width_measured_fastest() {
    assert_eq!(compile_at(None).unwrap().dot_width, 8, "digits_mlp");
    assert_eq!(
        tanh_sigmoid(&CompileOptions::default()).dot_width,
        8,
        "tanh/sigmoid"
    );
    let graph = onnx::import(&common::data("lenet5.onnx")).unwrap();
    let x = zkinfer::input::read_samples(&common::data("lenet5.input.json")).unwrap();
    let lenet = CompiledModel::compile(&graph, &x, &CompileOptions::default()).unwrap();
    assert_eq!(lenet.dot_width, 32, "lenet5");
}

#[test]
fn predictions_grow_with_rows_and_width() {
    let shape = |k, dot_width| {
        Shape::of(&zkinfer::circuit::layout::Layout {
            nodes: vec![],
            rows: 0,
            k,
            dot_width,
            instances: 0,
            table_rows: 0,
            commitments: false,
        })
    };
    assert!(shape(11, 8).predicted_seconds() > shape(10, 8).predicted_seconds());
    assert!(shape(10, 16).predicted_seconds() > shape(10, 8).predicted_seconds());
    assert_eq!(shape(10, 8).advice + 8, shape(10, 16).advice);
}

/// The verifying-time predictions against the times measured on the calibration machine
/// (BENCHMARKS.md, "Verifier start-up": parameters, key and check): a cold verification of
/// digits_mlp took 0.19–0.21 s and a warm one 9–11 ms, of LeNet-5 4.2–4.6 s and 75–90 ms.
/// Each prediction must land within a factor of 1.5 of those.
#[test]
fn verifying_time_predictions_match_the_measured_times() {
    let mlp = compile_at(None).unwrap().inspect().unwrap();
    within(
        "digits_mlp cold",
        mlp.predicted_cold_verify_s,
        0.19,
        0.21,
        1.5,
    );
    within("digits_mlp warm", mlp.predicted_verify_s, 0.009, 0.011, 1.5);
    let lenet = lenet5(&CompileOptions::default()).inspect().unwrap();
    within("lenet5 cold", lenet.predicted_cold_verify_s, 4.2, 4.6, 1.5);
    within("lenet5 warm", lenet.predicted_verify_s, 0.075, 0.090, 1.5);
}

/// Asserts that a predicted time lies within `factor` of the measured range `low..=high`.
fn within(what: &str, predicted: f64, low: f64, high: f64, factor: f64) {
    assert!(
        predicted >= low / factor && predicted <= high * factor,
        "{what}: predicted {predicted:.3} s, measured {low}–{high} s"
    );
}

fn lenet5(options: &CompileOptions) -> CompiledModel {
    let graph = onnx::import(&common::data("lenet5.onnx")).unwrap();
    let x = zkinfer::input::read_samples(&common::data("lenet5.input.json")).unwrap();
    CompiledModel::compile(&graph, &x, options).unwrap()
}

/// The proving-time predictions against measured proofs (BENCHMARKS.md, "LeNet-5 in two
/// parts": the CLI's witness-and-proof times, keys excluded): LeNet-5 whole (`k = 14`, degree
/// 5) took 5.64–5.69 s; cut at `--max-k 13`, its two linked parts (degree 6, with the
/// commitment chips' columns) took 3.90–3.92 s and 4.60–4.62 s. Each prediction must land
/// within a factor of 1.2 of those.
#[test]
fn proving_time_predictions_match_the_measured_times_with_and_without_commitments() {
    let compile = |max_k| {
        lenet5(&CompileOptions {
            budget: zkinfer::circuit::cost::Budget {
                max_k,
                memory_bytes: None,
            },
            ..CompileOptions::default()
        })
    };
    let predicted = |model: &CompiledModel| model.predicted_seconds().unwrap();
    within("lenet5 whole", predicted(&compile(None)), 5.64, 5.69, 1.2);
    let parts = compile(Some(13)).part_models().unwrap();
    assert_eq!(parts.len(), 2);
    within("lenet5 part 0", predicted(&parts[0]), 3.90, 3.92, 1.2);
    within("lenet5 part 1", predicted(&parts[1]), 4.60, 4.62, 1.2);
}

#[test]
fn an_unsupported_width_is_a_typed_error() {
    let err = compile_at(Some(12)).unwrap_err();
    assert!(err.to_string().contains("dot width 12"), "{err}");
}

#[test]
fn a_proof_at_one_width_is_rejected_by_a_model_at_another() {
    let (narrow, wide) = (compile_at(Some(8)).unwrap(), compile_at(Some(16)).unwrap());
    let bundle = Prover::setup(narrow.clone(), &common::cache())
        .unwrap()
        .prove(&common::sample(), false)
        .unwrap();
    let err = Verifier::setup(wide.clone(), &common::cache())
        .unwrap()
        .verify(&bundle)
        .unwrap_err();
    assert!(matches!(err, VerifyError::ModelMismatch { .. }), "{err}");
}

fn tanh_sigmoid(options: &CompileOptions) -> CompiledModel {
    let graph = onnx::import(&common::data("digits_mlp_tanh_sigmoid.onnx")).unwrap();
    let eval = zkinfer::input::EvalSet::read(&common::data("digits_mlp_tanh_sigmoid.eval.json"));
    CompiledModel::compile(&graph, &eval.unwrap().inputs, options).unwrap()
}

fn table_sizes(model: &CompiledModel) -> Vec<usize> {
    zkinfer::circuit::function_tables(&model.graph)
        .into_iter()
        .flatten()
        .map(|t| t.entries.len())
        .collect()
}

#[test]
fn tables_keep_the_most_precision_that_costs_nothing() {
    // Two 10-bit tables (2 · 1024 rows) would set k = 12 on their own; at 9 bits the
    // circuit fits k = 11.
    let fitted = tanh_sigmoid(&CompileOptions::default());
    assert_eq!(fitted.layout().unwrap().k, 11);
    assert_eq!(table_sizes(&fitted), vec![512, 512]);
    let exact = tanh_sigmoid(&CompileOptions {
        fit_tables: false,
        ..CompileOptions::default()
    });
    assert_eq!(exact.layout().unwrap().k, 12);
    assert_eq!(table_sizes(&exact), vec![1024, 1024]);
    assert!(fitted.predicted_seconds().unwrap() < exact.predicted_seconds().unwrap());
}
