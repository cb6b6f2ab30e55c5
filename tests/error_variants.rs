//! Every typed error a user can meet, triggered on purpose and matched by variant (not by
//! message), with the message checked to name what is at fault. Covers the integer graph's
//! validation branches, the quantiser's and the integer pass's range errors, the compiled
//! model's file errors, a circuit too large for any `k`, and parameter requests out of range.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers fail loudly

mod common;

use ndarray::{Array1, Array2};
use zkinfer::api::parse_felt;
use zkinfer::error::{
    CompileError, ParseError, PartsError, ProveError, QuantError, StructureError, VisibilityError,
    WeightsError, WitnessError,
};
use zkinfer::graph::ir::{FloatGraph, FloatNode, FloatOp};
use zkinfer::graph::qgraph::{Dense, QGraph, QNode, QOp, QTensor, Rounding};
use zkinfer::graph::TensorId;
use zkinfer::{
    CompileOptions, CompiledModel, Error, LinkSeed, PartedProver, PartedVerifier, ProofBundle,
    Prover, Visibilities, Visibility,
};

fn tensor(name: &str, len: usize, bits: u32) -> QTensor {
    QTensor {
        name: name.into(),
        len,
        scale_exp: 8,
        bits,
    }
}

/// x(4) → relu → dense(3): a valid graph to damage.
fn graph() -> QGraph {
    QGraph {
        integer_input: false,
        input: tensor("x", 4, 12),
        nodes: vec![
            QNode {
                name: "relu".into(),
                op: QOp::Relu,
                inputs: vec![TensorId(0)],
                output: tensor("relu", 4, 12),
            },
            QNode {
                name: "fc".into(),
                op: QOp::Dense(Dense {
                    weights: Array2::from_elem((3, 4), 5),
                    bias: vec![1, 2, 3],
                    shift: 8,
                }),
                inputs: vec![TensorId(1)],
                output: tensor("fc", 3, 16),
            },
        ],
        outputs: vec![TensorId(2)],
        rounding: Rounding::HalfUp,
    }
}

fn invalid(graph: QGraph) -> (String, StructureError) {
    match CompiledModel::from_graph(graph, Visibilities::default()) {
        Err(CompileError::Structure { node, source }) => (node, source),
        other => panic!("expected CompileError::Structure, got {other:?}"),
    }
}

#[test]
fn the_valid_fixture_compiles() {
    CompiledModel::from_graph(graph(), Visibilities::default()).unwrap();
}

#[test]
fn each_validation_branch_names_the_node_and_the_fault() {
    let mut g = graph();
    g.nodes[0].output.bits = 63;
    let (node, e) = invalid(g);
    assert_eq!(node, "relu");
    assert!(
        matches!(
            e,
            StructureError::Bits {
                bits: 63,
                max: 62,
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(e.to_string(), "relu has 63 bits, outside 1..=62");

    let mut g = graph();
    g.nodes[0].inputs = vec![TensorId(2)];
    let (node, e) = invalid(g);
    assert_eq!(node, "relu");
    assert!(e.to_string().contains("reads tensor #2"), "{e}");

    let mut g = graph();
    g.nodes[0].inputs = vec![TensorId(0), TensorId(0)];
    let (node, e) = invalid(g);
    assert_eq!(node, "relu");
    assert_eq!(
        e,
        StructureError::Arity {
            expected: 1,
            got: 2
        }
    );

    for (outputs, fault) in [
        (vec![], "the output list is empty"),
        (
            vec![TensorId(3)],
            "tensor #3 (node 2's output) (not a tensor of the graph",
        ),
        (vec![TensorId(2), TensorId(2)], "listed twice"),
    ] {
        let mut g = graph();
        g.outputs = outputs;
        let (node, e) = invalid(g);
        assert!(node.starts_with("graph output"), "{node}");
        assert!(e.to_string().contains(fault), "{e}");
    }

    let mut g = graph();
    g.nodes[1].output.len = 5;
    let (node, e) = invalid(g);
    assert_eq!(node, "fc");
    assert_eq!(
        e,
        StructureError::Length {
            what: "the output",
            expected: 3,
            got: 5
        }
    );

    let mut g = graph();
    g.nodes[0].output.bits = 8;
    let (node, e) = invalid(g);
    assert_eq!(node, "relu");
    assert!(
        matches!(
            e,
            StructureError::Bits {
                bits: 8,
                min: 12,
                ..
            }
        ),
        "{e}"
    );

    let mut g = graph();
    let QOp::Dense(d) = &mut g.nodes[1].op else {
        unreachable!()
    };
    d.shift = 62;
    let (_, e) = invalid(g);
    assert!(
        matches!(
            e,
            StructureError::Width {
                what: "the shift",
                needed: 62,
                ..
            }
        ),
        "{e}"
    );

    let mut g = graph();
    let QOp::Dense(d) = &mut g.nodes[1].op else {
        unreachable!()
    };
    d.weights.fill(1 << 50);
    let (_, e) = invalid(g);
    assert!(
        matches!(
            e,
            StructureError::Width {
                what: "the accumulator",
                ..
            }
        ),
        "{e}"
    );

    let mut g = graph();
    let QOp::Dense(d) = &mut g.nodes[1].op else {
        unreachable!()
    };
    d.bias.pop();
    let (_, e) = invalid(g);
    assert_eq!(
        e,
        StructureError::Length {
            what: "the bias",
            expected: 3,
            got: 2
        }
    );
}

#[test]
fn a_circuit_too_large_for_any_k_is_a_typed_error() {
    let mut g = graph();
    let len = 1 << 23;
    g.input.len = len;
    g.nodes[0].output.len = len;
    let QOp::Dense(d) = &mut g.nodes[1].op else {
        unreachable!()
    };
    d.weights = Array2::zeros((3, len));
    match CompiledModel::from_graph(g, Visibilities::default()) {
        Err(CompileError::TooLarge { .. }) => {}
        other => panic!("expected TooLarge, got {other:?}"),
    }
}

#[test]
fn integer_pass_errors_name_the_tensor_and_value() {
    let model = CompiledModel::from_graph(graph(), Visibilities::default()).unwrap();
    match model.witness(&[1, 2, 3]) {
        Err(WitnessError::InputLength { .. }) => {}
        other => panic!("expected InputLength, got {other:?}"),
    }
    // Beyond the input's 12 signed bits.
    match model.witness(&[1, 2, 3, 1 << 11]) {
        Err(WitnessError::OutOfRange {
            index: 3, value, ..
        }) => assert_eq!(value, 1 << 11),
        other => panic!("expected OutOfRange, got {other:?}"),
    }
    // A graph that skipped validation: the pass reports it instead of panicking.
    let mut broken = graph();
    broken.nodes[1].inputs = vec![TensorId(7)];
    match zkinfer::graph::witness::generate(&broken, &[1, 2, 3, 4]) {
        Err(WitnessError::Inconsistent { .. }) => {}
        other => panic!("expected Inconsistent, got {other:?}"),
    }
}

/// y = x0 + … + x7 calibrated on one-hot samples with no headroom: the input of all ones lies
/// within every input's calibrated range, but drives y to 8, beyond the range calibration
/// gave it.
#[test]
fn an_intermediate_beyond_its_calibrated_range_is_a_witness_error() {
    let graph = FloatGraph {
        integer_input: false,
        input_name: "x".into(),
        input_shape: vec![1, 8],
        nodes: vec![FloatNode {
            name: "sum".into(),
            op: FloatOp::Dense(zkinfer::graph::ir::FloatDense {
                weights: Array2::from_elem((1, 8), 1.0),
                bias: Array1::zeros(1),
            }),
            inputs: vec![TensorId(0)],
        }],
        outputs: vec![TensorId(1)],
        input_parts: Vec::new(),
    };
    let mut options = CompileOptions::default();
    options.quant.headroom_bits = 0;
    let one_hot: Vec<Vec<f32>> = (0..8)
        .map(|i| (0..8).map(|j| if i == j { 1.0 } else { 0.0 }).collect())
        .collect();
    let model = CompiledModel::compile(&graph, &one_hot, &options).unwrap();
    model
        .witness(&model.quantise_input(&one_hot[3], false).unwrap())
        .unwrap();
    let x = model.quantise_input(&[1.0; 8], false).unwrap();
    match model.witness(&x) {
        Err(WitnessError::OutOfRange { node, .. }) => assert_eq!(node, "sum"),
        other => panic!("expected OutOfRange at 'sum', got {other:?}"),
    }
    match model.quantise_input(&[1e6; 8], false) {
        Err(Error::Quant(QuantError::OutOfRange { index: 0, .. })) => {}
        other => panic!("expected QuantError::OutOfRange, got {other:?}"),
    }
}

#[test]
fn an_accumulator_beyond_the_circuits_width_is_a_quantisation_error() {
    let graph = FloatGraph {
        integer_input: false,
        input_name: "x".into(),
        input_shape: vec![1, 2],
        nodes: vec![FloatNode {
            name: "huge".into(),
            op: FloatOp::Dense(zkinfer::graph::ir::FloatDense {
                weights: Array2::from_elem((1, 2), 1e-10),
                bias: Array1::from_elem(1, 1e6),
            }),
            inputs: vec![TensorId(0)],
        }],
        outputs: vec![TensorId(1)],
        input_parts: Vec::new(),
    };
    // Tiny weights times tiny inputs plus a large bias: the accumulator's scale is so fine
    // that the bias (and the rescale to the output's coarse scale) needs more than 62 bits.
    let err = CompiledModel::compile(&graph, &[vec![1e-10, 1e-10]], &CompileOptions::default())
        .unwrap_err();
    assert!(
        matches!(err, Error::Quant(QuantError::Overflow { ref node, .. }) if node == "huge"),
        "{err:?}"
    );
}

#[test]
fn model_and_bundle_file_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.zkm");
    assert!(matches!(
        CompiledModel::load(&missing),
        Err(CompileError::Io { ref path, .. }) if path.contains("missing.zkm")
    ));
    let garbage = dir.path().join("garbage.zkm");
    std::fs::write(&garbage, "{ not json").unwrap();
    assert!(matches!(
        CompiledModel::load(&garbage),
        Err(CompileError::Format { ref path, .. }) if path.contains("garbage.zkm")
    ));
    let future = dir.path().join("future.zkm");
    std::fs::write(&future, r#"{"format_version": 99}"#).unwrap();
    assert!(matches!(
        CompiledModel::load(&future),
        Err(CompileError::Version { found: 99, .. })
    ));
    assert!(matches!(
        ProofBundle::load(&dir.path().join("missing.json")),
        Err(Error::File { ref path, .. }) if path.contains("missing.json")
    ));
}

#[test]
fn parameters_outside_the_supported_sizes_are_a_typed_error() {
    for k in [0, 23] {
        match common::cache().get(k) {
            Err(ProveError::Params { reason, .. }) => assert!(reason.contains('k'), "{reason}"),
            other => panic!(
                "k = {k}: expected ProveError::Params, got {:?}",
                other.map(drop)
            ),
        }
    }
}

/// A NaN or an infinity among the calibration samples is refused first, naming the sample
/// and the value's index (issue 27: three nonsense warnings came first, and the error named
/// the value by the joined inputs' name); a JSON number beyond f32 is refused as it is read.
#[test]
fn a_non_finite_calibration_value_is_refused_by_sample_and_index() {
    let graph = zkinfer::onnx::import(&common::data("digits_mlp.onnx")).unwrap();
    let mut samples = common::eval_set().inputs;
    samples[2][5] = f32::INFINITY;
    match CompiledModel::compile(&graph, &samples, &CompileOptions::default()) {
        Err(Error::Quant(QuantError::NotFiniteSample {
            sample: 2,
            index: 5,
            ..
        })) => {}
        other => panic!("expected NotFiniteSample at sample 2, value 5, got {other:?}"),
    }
    samples[2][5] = f32::NAN;
    let err = CompiledModel::compile(&graph, &samples, &CompileOptions::default()).unwrap_err();
    assert!(
        err.to_string().contains("calibration sample 2, value #5"),
        "{err}"
    );
    let err = zkinfer::input::parse_samples("[[1, 2], [3, 1e39]]").unwrap_err();
    assert!(
        matches!(
            &err,
            zkinfer::error::SamplesError::BeyondF32 {
                sample: 1,
                index: 1,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("32-bit float"), "{err}");
}

/// The model-wide faults `api/` refuses, each its own variant (issue 31, item 4).
#[test]
fn model_wide_faults_are_their_own_variants() {
    let model = CompiledModel::from_graph(graph(), Visibilities::default()).unwrap();

    let mut m = model.clone();
    m.dot_width = 7;
    let e = m.validate().unwrap_err();
    assert!(
        matches!(e, CompileError::DotWidth { width: 7, .. }),
        "{e:?}"
    );
    assert!(e.to_string().contains("[8, 16, 32, 64]"), "{e}");

    let mut m = model.clone();
    m.input_parts = vec![1, 2];
    let e = m.validate().unwrap_err();
    assert!(
        matches!(&e, CompileError::InputParts { parts, input_len: 4 } if parts == &[1, 2]),
        "{e:?}"
    );

    let mut m = model.clone();
    m.graph.nodes.clear();
    assert!(matches!(m.validate(), Err(CompileError::NoNodes)));

    let private_output = Visibilities {
        output: Visibility::Private,
        ..Visibilities::default()
    };
    match CompiledModel::from_graph(graph(), private_output) {
        Err(CompileError::Visibility(e)) => {
            assert!(
                matches!(
                    e,
                    VisibilityError::Unsupported {
                        tensor: "output",
                        ..
                    }
                ),
                "{e}"
            );
            assert!(e.to_string().contains("output visibility"), "{e}")
        }
        other => panic!("expected CompileError::Visibility, got {other:?}"),
    }

    let parted = model.clone().split_at(&[1]).unwrap();
    assert!(matches!(
        parted.layout(),
        Err(CompileError::ProvenInParts { parts: 2 })
    ));
    let prover = PartedProver::new(&parted, common::cache()).unwrap();
    let seed = LinkSeed::random();
    match prover.prove_part(&[0; 4], 5, &seed) {
        Err(Error::Compile(CompileError::NoSuchPart { part: 5, parts: 2 })) => {}
        other => panic!("expected CompileError::NoSuchPart, got {other:?}"),
    }

    for e in [
        PartedProver::new(&model, common::cache()).unwrap_err(),
        PartedVerifier::setup(&model, &common::cache()).unwrap_err(),
    ] {
        assert!(
            matches!(e, Error::Compile(CompileError::ProvenWhole)),
            "{e:?}"
        );
        assert!(e.to_string().contains("proven whole"), "{e}");
    }
}

#[test]
fn part_lists_and_hashed_params_faults_are_their_own_variants() {
    let model = CompiledModel::from_graph(graph(), Visibilities::default()).unwrap();
    match model.clone().split_at(&[2, 1]) {
        Err(CompileError::Parts(PartsError::Cuts { cuts, nodes: 2 })) => {
            assert_eq!(cuts, vec![2, 1])
        }
        other => panic!("expected PartsError::Cuts, got {other:?}"),
    }
    let mut one = model.clone().split_at(&[1]).unwrap();
    one.parts.truncate(1);
    assert!(matches!(
        one.validate(),
        Err(CompileError::Parts(PartsError::OnePart))
    ));
    let mut shifted = model.clone().split_at(&[1]).unwrap();
    shifted.parts[0].start = 1;
    assert!(matches!(
        shifted.validate(),
        Err(CompileError::Parts(
            PartsError::FirstNotAtZero | PartsError::NotIncreasing
        ))
    ));
    // Fixed params have no verifier file and no commitment to replace.
    assert!(matches!(
        model.verifier_file(),
        Err(CompileError::Weights(WeightsError::NotHashed))
    ));
    let hashed = Visibilities {
        params: Visibility::Hashed,
        ..Visibilities::default()
    };
    let mut owner = CompiledModel::from_graph(graph(), hashed).unwrap();
    let QOp::Dense(d) = &mut owner.graph.nodes[1].op else {
        unreachable!()
    };
    d.bias[0] += 1;
    match owner.validate() {
        Err(CompileError::Weights(WeightsError::Mismatch { .. })) => {}
        other => panic!("expected WeightsError::Mismatch, got {other:?}"),
    }
}

#[test]
fn a_verifier_file_that_is_asked_to_prove_says_so() {
    let hashed = Visibilities {
        params: Visibility::Hashed,
        ..Visibilities::default()
    };
    let model = CompiledModel::from_graph(graph(), hashed).unwrap();
    let file = model.verifier_file().unwrap();
    let k = file.layout().unwrap().k;
    let params = halo2_proofs::poly::commitment::Params::new(k);
    match Prover::from_params(file, params) {
        Err(Error::Compile(CompileError::VerifierFile)) => {}
        other => panic!("expected CompileError::VerifierFile, got {other:?}"),
    }
}

#[test]
fn text_that_does_not_parse_is_a_typed_error_naming_it() {
    match parse_felt("xyz") {
        Err(ParseError::FeltDigits { text }) => assert_eq!(text, "xyz"),
        other => panic!("expected ParseError::FeltDigits, got {other:?}"),
    }
    let above = "ff".repeat(32);
    match parse_felt(&above) {
        Err(ParseError::FeltRange { text }) => assert_eq!(text, above),
        other => panic!("expected ParseError::FeltRange, got {other:?}"),
    }
    let e = LinkSeed::parse("zz").unwrap_err();
    assert!(matches!(e, ParseError::LinkSeed { .. }), "{e:?}");
    assert!(e.to_string().contains("64 hex digits"), "{e}");
    let e = "loud".parse::<zkinfer::serve::LogFormat>().unwrap_err();
    assert_eq!(
        e,
        ParseError::LogFormat {
            found: "loud".into()
        }
    );
    assert!(e.to_string().contains("expected human, json or off"), "{e}");
}
