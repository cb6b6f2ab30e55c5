//! Adversarial review of key sharing (issue 28): what a shape digest must cover, and what
//! leaving names out of keys and of the params domain lets through.
//!
//! - The shape digest moves with everything a circuit reads (ops, shifts, widths, rounding,
//!   visibilities, packing widths, dot width, and fixed params) and with nothing else
//!   (names, hashed params): two parts of one digest are one circuit.
//! - Parts with fixed params share keys only when their weights are equal.
//! - A verifier file renamed (every node and tensor name, the outputs' included) keeps every
//!   part's key and every part's weights commitment, so it passes a check of the announced
//!   weights commitment alone, and the owner's proofs, relabelled with its digests, verify
//!   under it with its names. Only the published model digest (`--model-digest`) refuses it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers fail loudly

mod common;

use std::sync::{Arc, OnceLock};

use common::onnx_build::{int_attr, model_io, node, sample, tensor};
use common::parts::weights;
use zkinfer::circuit::{param_domain, DOT_WIDTHS};
use zkinfer::error::VerifyError;
use zkinfer::graph::qgraph::{QOp, Rounding};
use zkinfer::onnx::import_bytes;
use zkinfer::{
    CompileOptions, CompiledModel, LinkSeed, PartedProof, PartedProver, PartedVerifier,
    Visibilities, Visibility,
};

/// A stem (8 → 8), two residual blocks `x + relu(W x + b)`, a head (8 → 4).
fn tower_onnx(seed: usize) -> Vec<u8> {
    let w = |n, s| weights(n, s, seed);
    let mut nodes = vec![node(
        "Gemm",
        &["x", "ws", "bs"],
        "h0",
        vec![int_attr("transB", 1)],
    )];
    let mut inits = vec![
        tensor("ws", &[8, 8], &w(64, 1)),
        tensor("bs", &[8], &w(8, 2)),
    ];
    for b in 0..2 {
        let (x, y) = (format!("h{b}"), format!("h{}", b + 1));
        let (wb, bb) = (format!("w{b}"), format!("b{b}"));
        let (a, r) = (format!("a{b}"), format!("r{b}"));
        nodes.push(node(
            "Gemm",
            &[&x, &wb, &bb],
            &a,
            vec![int_attr("transB", 1)],
        ));
        nodes.push(node("Relu", &[&a], &r, vec![]));
        nodes.push(node("Add", &[&x, &r], &y, vec![]));
        inits.push(tensor(&wb, &[8, 8], &w(64, 3 + 2 * b)));
        inits.push(tensor(&bb, &[8], &w(8, 4 + 2 * b)));
    }
    nodes.push(node(
        "Gemm",
        &["h2", "wh"],
        "y",
        vec![int_attr("transB", 1)],
    ));
    inits.push(tensor("wh", &[4, 8], &w(32, 99)));
    model_io(nodes, inits, &[("x", &[1, 8])], "y", 13)
}

fn samples() -> Vec<Vec<f32>> {
    (0..6).map(|s| sample(8, s)).collect()
}

/// The tower with hashed params, cut before every dense layer but the stem's: parts of
/// shapes `[0, 1, 1, 2]`.
fn owner() -> Arc<CompiledModel> {
    static MODEL: OnceLock<Arc<CompiledModel>> = OnceLock::new();
    MODEL
        .get_or_init(|| {
            let graph = import_bytes(&tower_onnx(7), "tower").unwrap();
            let plain =
                CompiledModel::compile(&graph, &samples(), &CompileOptions::default()).unwrap();
            let cuts: Vec<usize> = (1..plain.graph.nodes.len())
                .filter(|&i| matches!(plain.graph.nodes[i].op, QOp::Dense(_)))
                .collect();
            let options = CompileOptions {
                visibility: Visibilities {
                    params: Visibility::Hashed,
                    ..Visibilities::default()
                },
                cuts,
                ..CompileOptions::default()
            };
            let model = CompiledModel::compile(&graph, &samples(), &options).unwrap();
            let parts = model.part_models().unwrap();
            let digests: Vec<String> = parts.iter().map(|p| p.shape_digest()).collect();
            assert_eq!(parts.len(), 4);
            assert_eq!(digests[1], digests[2], "the two blocks are one shape");
            Arc::new(model)
        })
        .clone()
}

fn starts(model: &CompiledModel) -> Vec<usize> {
    model.parts[1..].iter().map(|p| p.start).collect()
}

/// The first dense layer's index in `model`'s graph.
fn first_dense(model: &CompiledModel) -> usize {
    model
        .graph
        .nodes
        .iter()
        .position(|n| matches!(n.op, QOp::Dense(_)))
        .unwrap()
}

fn dense_mut(model: &mut CompiledModel, i: usize) -> &mut zkinfer::graph::qgraph::Dense {
    match &mut model.graph.nodes[i].op {
        QOp::Dense(d) => d,
        _ => panic!("node {i} is not a dense layer"),
    }
}

/// Every name in `model`'s graph changed.
fn renamed(mut model: CompiledModel) -> CompiledModel {
    model.graph.input.name = "evil input".into();
    for (i, node) in model.graph.nodes.iter_mut().enumerate() {
        node.name = format!("evil node {i}");
        node.output.name = format!("evil tensor {i}");
    }
    model
}

#[test]
fn the_shape_digest_moves_with_what_the_circuit_reads_and_nothing_else() {
    let block = owner().part_models().unwrap().remove(1);
    let digest = block.shape_digest();
    let domain = |m: &CompiledModel| param_domain(&m.graph, &m.visibility);
    let same = |m: &CompiledModel, what: &str| {
        assert_eq!(m.shape_digest(), digest, "{what} changed the shape");
    };
    let other = |m: &CompiledModel, what: &str| {
        assert_ne!(m.shape_digest(), digest, "{what} left the shape as it was");
    };
    let d = first_dense(&block);

    // Names and hashed params are no part of the circuit.
    let names = renamed(block.clone());
    same(&names, "renaming");
    assert_eq!(domain(&names), domain(&block));
    let mut weight = block.clone();
    dense_mut(&mut weight, d).weights[[0, 0]] += 1;
    dense_mut(&mut weight, d).bias[0] -= 1;
    same(&weight, "a hashed param");
    assert_eq!(domain(&weight), domain(&block));

    // Everything else the circuit reads is.
    let mut shift = block.clone();
    dense_mut(&mut shift, d).shift += 1;
    other(&shift, "a shift");
    assert_ne!(domain(&shift), domain(&block));
    let mut bits = block.clone();
    bits.graph.nodes[d].output.bits -= 1;
    other(&bits, "an output width");
    let mut scale = block.clone();
    scale.graph.nodes[d].output.scale_exp += 1;
    other(&scale, "a scale");
    let mut rounding = block.clone();
    rounding.graph.rounding = match block.graph.rounding {
        Rounding::Floor => Rounding::HalfUp,
        Rounding::HalfUp => Rounding::Floor,
    };
    other(&rounding, "the rounding");
    let mut width = block.clone();
    width.dot_width = *DOT_WIDTHS.iter().find(|&&w| w != block.dot_width).unwrap();
    other(&width, "the dot width");
    let mut packing = block.clone();
    packing.visibility.param_bits[0] += 1;
    other(&packing, "a packing width");
    assert_ne!(domain(&packing), domain(&block));
    let mut shown = block.clone();
    shown.visibility.output = Visibility::Public;
    other(&shown, "the output's visibility");
    assert_ne!(domain(&shown), domain(&block));

    // Fixed params are fixed columns: the shape holds them.
    let mut fixed = block.clone();
    fixed.visibility.params = Visibility::Fixed;
    fixed.visibility.param_bits = [0, 0];
    fixed.weights = None;
    let mut fixed_weight = fixed.clone();
    dense_mut(&mut fixed_weight, d).weights[[0, 0]] += 1;
    assert_ne!(fixed.shape_digest(), fixed_weight.shape_digest());

    // The owner's parts and the verifier file's are of one shape each (one key, both sides).
    let file = owner().verifier_file().unwrap();
    let theirs: Vec<String> = file
        .part_models()
        .unwrap()
        .iter()
        .map(CompiledModel::shape_digest)
        .collect();
    let mine: Vec<String> = owner()
        .part_models()
        .unwrap()
        .iter()
        .map(CompiledModel::shape_digest)
        .collect();
    assert_eq!(theirs, mine);
}

#[test]
fn parts_with_fixed_params_share_keys_only_with_equal_weights() {
    let owner = owner();
    // The owner's integer graph (blocks quantised alike) with fixed params, cut alike.
    let fixed = |graph| {
        CompiledModel::from_graph(graph, Visibilities::default())
            .unwrap()
            .split_at(&starts(&owner))
            .unwrap()
    };
    let digests = |m: &CompiledModel| -> Vec<String> {
        m.part_models()
            .unwrap()
            .iter()
            .map(CompiledModel::shape_digest)
            .collect()
    };
    let apart = digests(&fixed(owner.graph.clone()));
    assert_ne!(
        apart[1], apart[2],
        "blocks of other fixed weights share a key"
    );
    // Block 1 given block 0's ops (weights included): one circuit.
    let mut graph = owner.graph.clone();
    let ranges = owner.part_ranges();
    for (a, b) in ranges[1].clone().zip(ranges[2].clone()) {
        graph.nodes[b].op = graph.nodes[a].op.clone();
    }
    let alike = digests(&fixed(graph));
    assert_eq!(alike[1], alike[2]);
}

fn seed() -> LinkSeed {
    LinkSeed::parse(&"a7".repeat(32)).unwrap()
}

/// The owner's proof of sample 0.
fn proof() -> &'static PartedProof {
    static PROOF: OnceLock<PartedProof> = OnceLock::new();
    PROOF.get_or_init(|| {
        let x = owner().quantise_input(&samples()[0], true).unwrap();
        let prover = PartedProver::new(&owner(), common::cache()).unwrap();
        prover.prove_seeded(&x, &seed()).unwrap().0
    })
}

#[test]
fn a_renamed_verifier_file_passes_the_weights_commitment_but_not_the_model_digest() {
    let file = owner().verifier_file().unwrap();
    let published = PartedVerifier::setup(&file, &common::cache()).unwrap();
    published.verify(proof()).unwrap();
    let announced = file.weights_commitment().unwrap();

    // Someone else's copy of the verifier file, every name changed (the output's too).
    let mut forged = renamed(file.clone());
    forged.validate().unwrap();
    // The announced weights commitment accepts it: the params domain leaves names out.
    forged.expect_weights_commitment(announced).unwrap();
    let verifier = PartedVerifier::setup(&forged, &common::cache()).unwrap();
    for (theirs, mine) in verifier.parts().iter().zip(published.parts()) {
        assert_eq!(
            theirs.key_digest(),
            mine.key_digest(),
            "one key per part, names aside"
        );
    }
    // The published model digest refuses it.
    assert_ne!(verifier.model_digest(), published.model_digest());
    match verifier.verify(proof()) {
        Err(VerifyError::Part { part: 0, .. }) => {}
        other => panic!("expected part 0's digest to differ, got {other:?}"),
    }
    // Relabelled with the renamed parts' digests, the owner's proof verifies under the
    // renamed file (as a proof of a model with fixed params always did): the proof binds
    // the circuit and the weights; the names are bound by the published digest alone.
    let mut relabelled = proof().clone();
    for (bundle, part) in relabelled.parts.iter_mut().zip(verifier.parts()) {
        bundle.model_digest = part.model_digest().to_owned();
    }
    assert_eq!(
        verifier.verify(&relabelled).unwrap(),
        published.verify(proof()).unwrap()
    );
}
