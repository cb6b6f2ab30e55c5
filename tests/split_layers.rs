//! A layer too large for any part computed in pieces (issue 13): every splittable node, in
//! any number of pieces, gives the model's outputs exactly and holds under MockProver; a
//! budget only the pieces fit compiles, proves and verifies.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers fail loudly

mod common;

use common::onnx_build::{int_attr, model_io, node, sample, tensor};
use zkinfer::onnx::import_bytes;
use zkinfer::{CompileOptions, CompiledModel, PartedProver, PartedVerifier};

/// `h1 = relu(conv(x))`, a grouped convolution of `h1` added back to `h1` (a residual
/// block), `h2 = relu(…)`, then a dense layer: a layer of each kind that can be split, one
/// with a chain of elementwise ops and a skip tensor after it.
fn conv_block_onnx() -> Vec<u8> {
    let side = 5;
    let w = |n: usize, s: usize| -> Vec<f32> {
        (0..n)
            .map(|i| (((i * 7 + s * 13) % 11) as f32) / 20.0 - 0.25)
            .collect()
    };
    let pads = || common::onnx_build::ints_attr("pads", &[1, 1, 1, 1]);
    let flat = 8 * side * side;
    model_io(
        vec![
            node("Conv", &["x", "w1", "b1"], "c1", vec![pads()]),
            node("Relu", &["c1"], "h1", vec![]),
            node(
                "Conv",
                &["h1", "w2", "b2"],
                "c2",
                vec![pads(), int_attr("group", 4)],
            ),
            node("Add", &["c2", "h1"], "r", vec![]),
            node("Relu", &["r"], "h2", vec![]),
            node("Flatten", &["h2"], "f", vec![]),
            node("Gemm", &["f", "w3", "b3"], "y", vec![int_attr("transB", 1)]),
        ],
        vec![
            tensor("w1", &[8, 3, 3, 3], &w(216, 1)),
            tensor("b1", &[8], &w(8, 2)),
            tensor("w2", &[8, 2, 3, 3], &w(144, 3)),
            tensor("b2", &[8], &w(8, 4)),
            tensor("w3", &[5, flat], &w(5 * flat as usize, 5)),
            tensor("b3", &[5], &w(5, 6)),
        ],
        &[("x", &[1, 3, side, side])],
        "y",
        13,
    )
}

/// Compiles `bytes` on `samples`, splits every node that can be split into 2, 3 and up to 16
/// pieces, and checks that each split graph is valid, computes the model's outputs exactly
/// and holds under MockProver. Returns the compiled model and the kinds split, one per split.
fn pieces_agree(bytes: &[u8], samples: &[Vec<f32>]) -> (CompiledModel, Vec<&'static str>) {
    let graph = import_bytes(bytes, "pieces").unwrap();
    let model = CompiledModel::compile(&graph, samples, &CompileOptions::default()).unwrap();
    let graph = &model.graph;
    let inputs: Vec<Vec<i64>> = samples
        .iter()
        .map(|s| model.quantise_input(s, false).unwrap())
        .collect();
    let mut checked = Vec::new();
    for (i, node) in graph.nodes.iter().enumerate() {
        let kind = node.op.kind();
        let units = graph.split_units(i);
        if units < 2 {
            assert!(graph.split_node(i, 2).is_err(), "{kind} is split");
            continue;
        }
        assert!(graph.split_node(i, units + 1).is_err());
        let mut counts = vec![2, 3.min(units), units.min(16)];
        counts.dedup();
        for pieces in counts {
            let split = graph.split_node(i, pieces).unwrap();
            split.graph.validate().unwrap();
            assert_eq!(split.pieces.len(), pieces);
            // The join keeps the chain's last name; every later node reads the same values.
            let chain = graph.split_chain_end(i) - i;
            assert!(split.pieces.iter().all(|p| p.len() == chain));
            assert_eq!(
                split.graph.nodes[split.join].name,
                graph.nodes[i + chain - 1].name
            );
            for x in &inputs {
                assert_eq!(
                    split.graph.eval(x).unwrap(),
                    graph.eval(x).unwrap(),
                    "{kind} in {pieces} pieces"
                );
            }
            // The circuit of the split graph holds for an honest witness.
            let whole = CompiledModel::from_graph(split.graph, model.visibility).unwrap();
            let w = whole.witness(&inputs[0]).unwrap();
            assert!(whole.mock(&w, &w.outputs()).unwrap().is_empty());
            checked.push(kind);
        }
    }
    (model, checked)
}

fn count(checked: &[&str], kind: &str) -> usize {
    checked.iter().filter(|&&k| k == kind).count()
}

#[test]
fn a_layer_computed_in_pieces_gives_the_layers_outputs_exactly() {
    let samples: Vec<Vec<f32>> = (0..4).map(|s| sample(75, s)).collect();
    let (model, checked) = pieces_agree(&conv_block_onnx(), &samples);
    // Both convolutions, the dense layer and the elementwise ops (the flattening wiring is
    // not split); the grouped convolution's chain is its Add and Relu, the first one's its
    // Relu alone (its result is read twice).
    for (kind, times) in [("Conv", 6), ("Dense", 3), ("Add", 3), ("Relu", 6)] {
        assert_eq!(count(&checked, kind), times, "{kind} in {checked:?}");
    }
    let kinds: Vec<&str> = model.graph.nodes.iter().map(|n| n.op.kind()).collect();
    assert_eq!(model.graph.split_chain_end(2), 5, "{kinds:?}");
    assert_eq!(model.graph.split_chain_end(0), 2, "{kinds:?}");
}

#[test]
fn a_strided_dilated_depthwise_layer_and_its_long_chain_in_pieces() {
    // Depthwise with two output channels per input one (group 2, 4 outputs), strides and
    // dilations 2, then Relu, a batch norm (an affine map: it cannot fold through the Relu)
    // and a sigmoid (a table), the last the model's output.
    let w = |n: usize, s: usize| -> Vec<f32> {
        (0..n)
            .map(|i| (((i * 3 + s * 7) % 9) as f32) / 8.0 - 0.4)
            .collect()
    };
    let ints = common::onnx_build::ints_attr;
    let bytes = model_io(
        vec![
            node(
                "Conv",
                &["x", "w", "b"],
                "c",
                vec![
                    int_attr("group", 2),
                    ints("strides", &[2, 2]),
                    ints("dilations", &[2, 2]),
                    ints("pads", &[2, 2, 2, 2]),
                ],
            ),
            node("Relu", &["c"], "h", vec![]),
            node(
                "BatchNormalization",
                &["h", "gamma", "beta", "mean", "var"],
                "n",
                vec![],
            ),
            node("Sigmoid", &["n"], "y", vec![]),
        ],
        vec![
            tensor("w", &[4, 1, 3, 3], &w(36, 1)),
            tensor("b", &[4], &w(4, 2)),
            tensor("gamma", &[4], &[1.5, 0.5, -1.0, 2.0]),
            tensor("beta", &[4], &w(4, 3)),
            tensor("mean", &[4], &w(4, 4)),
            tensor("var", &[4], &[0.8, 1.7, 1.0, 0.3]),
        ],
        &[("x", &[1, 2, 7, 7])],
        "y",
        13,
    );
    let samples: Vec<Vec<f32>> = (0..4).map(|s| sample(98, s)).collect();
    let (model, checked) = pieces_agree(&bytes, &samples);
    let kinds: Vec<&str> = model.graph.nodes.iter().map(|n| n.op.kind()).collect();
    assert_eq!(kinds, ["Conv", "Relu", "Affine", "Sigmoid"]);
    // The convolution's chain runs to the model's output.
    assert_eq!(model.graph.split_chain_end(0), 4);
    for kind in kinds {
        assert!(count(&checked, kind) >= 1, "{kind} in {checked:?}");
    }
}

/// `y = W · relu(conv(x))` with a convolution of many output channels from few input ones:
/// its range checks alone need more rows than its links.
fn wide_conv_onnx() -> Vec<u8> {
    let w = |n: usize, s: usize| -> Vec<f32> {
        (0..n)
            .map(|i| (((i * 5 + s * 17) % 13) as f32) / 24.0 - 0.25)
            .collect()
    };
    model_io(
        vec![
            node(
                "Conv",
                &["x", "w1", "b1"],
                "c",
                vec![common::onnx_build::ints_attr("pads", &[1, 1, 1, 1])],
            ),
            node("Relu", &["c"], "h", vec![]),
            node("Flatten", &["h"], "f", vec![]),
            node("Gemm", &["f", "w2"], "y", vec![int_attr("transB", 1)]),
        ],
        vec![
            tensor("w1", &[28, 4, 3, 3], &w(1008, 1)),
            tensor("b1", &[28], &w(28, 2)),
            tensor("w2", &[5, 1008], &w(5040, 3)),
        ],
        &[("x", &[1, 4, 6, 6])],
        "y",
        13,
    )
}

#[test]
fn a_layer_no_part_can_hold_is_split_then_proven_and_verified() {
    let graph = import_bytes(&wide_conv_onnx(), "wide conv").unwrap();
    let samples: Vec<Vec<f32>> = (0..3).map(|s| sample(144, s)).collect();
    let compile = |max_k| {
        let options = CompileOptions {
            budget: zkinfer::circuit::cost::Budget {
                max_k,
                memory_bytes: None,
            },
            ..CompileOptions::default()
        };
        CompiledModel::compile(&graph, &samples, &options)
    };
    let whole = compile(None).unwrap();
    // The largest `k` at which the convolution fits no part alone, and its pieces do.
    let k = (zkinfer::circuit::layout::MIN_K..whole.layout().unwrap().k)
        .rev()
        .find(|&k| {
            let budget = zkinfer::circuit::cost::Budget {
                max_k: Some(k),
                memory_bytes: None,
            };
            zkinfer::api::partition(&whole.graph, &whole.visibility, &budget, &[]).is_err()
                && compile(Some(k)).is_ok()
        })
        .expect("a budget that only the convolution in pieces fits");
    let model = compile(Some(k)).unwrap();
    let names: Vec<&str> = model.graph.nodes.iter().map(|n| n.name.as_str()).collect();
    assert!(names.iter().any(|n| n.contains("(channels")), "{names:?}");
    assert!(model.is_parted());
    for part in model.part_models().unwrap() {
        assert!(part.layout().unwrap().k <= k);
    }
    let x = model.quantise_input(&samples[1], false).unwrap();
    let prover = PartedProver::new(&model, common::cache()).unwrap();
    let (proof, _) = prover.prove(&x).unwrap();
    let verifier = PartedVerifier::setup(&model, &common::cache()).unwrap();
    let outputs = verifier.verify(&proof).unwrap();
    assert_eq!(
        outputs,
        whole.graph.outputs_to_float(&whole.graph.eval(&x).unwrap())
    );
}
