//! Hashed params in a model proven in parts (issue 28, item 1): each part's params are
//! committed under their own salt, the owner publishes one commitment that binds every
//! part's in order, a verifier file holds no hashed weights, and a part proven with other
//! weights (another owner's, or two blocks' weights swapped) fails naming the part, even
//! when its bundle is relabelled with the published part's digest and commitment.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers fail loudly

mod common;

use std::sync::{Arc, OnceLock};

use common::onnx_build::{int_attr, model_io, node, sample, tensor};
use common::parts::weights;
use zkinfer::api::{felt_hex, parse_felt, parts_commitment, PartWeights};
use zkinfer::error::VerifyError;
use zkinfer::graph::qgraph::{QGraph, QOp};
use zkinfer::onnx::import_bytes;
use zkinfer::{
    CompileOptions, CompiledModel, LinkSeed, PartedProof, PartedProver, PartedVerifier,
    Visibilities, Visibility,
};

/// Three dense layers, the first two square (8 → 8 → 8 → 4): two blocks of one shape.
fn blocks_onnx() -> Vec<u8> {
    let nodes = vec![
        node("Gemm", &["x", "w1", "b1"], "a", vec![int_attr("transB", 1)]),
        node("Relu", &["a"], "h", vec![]),
        node("Gemm", &["h", "w2", "b2"], "c", vec![int_attr("transB", 1)]),
        node("Relu", &["c"], "g", vec![]),
        node("Gemm", &["g", "w3"], "y", vec![int_attr("transB", 1)]),
    ];
    let inits = vec![
        tensor("w1", &[8, 8], &weights(64, 1, 0)),
        tensor("b1", &[8], &weights(8, 2, 0)),
        tensor("w2", &[8, 8], &weights(64, 3, 0)),
        tensor("b2", &[8], &weights(8, 4, 0)),
        tensor("w3", &[4, 8], &weights(32, 5, 0)),
    ];
    model_io(nodes, inits, &[("x", &[1, 8])], "y", 13)
}

fn samples() -> Vec<Vec<f32>> {
    (0..4).map(|s| sample(8, s)).collect()
}

/// The dense nodes' indices.
fn dense_nodes(graph: &QGraph) -> Vec<usize> {
    (0..graph.nodes.len())
        .filter(|&i| matches!(graph.nodes[i].op, QOp::Dense(_)))
        .collect()
}

/// `graph` cut before each dense layer after the first: one part per layer.
fn split(model: CompiledModel) -> CompiledModel {
    let cuts = dense_nodes(&model.graph)[1..].to_vec();
    model.split_at(&cuts).unwrap()
}

/// The owner's model: hashed params, one part per dense layer, compiled once.
fn owner() -> Arc<CompiledModel> {
    static MODEL: OnceLock<Arc<CompiledModel>> = OnceLock::new();
    MODEL
        .get_or_init(|| {
            let graph = import_bytes(&blocks_onnx(), "blocks").unwrap();
            let options = CompileOptions {
                visibility: Visibilities {
                    params: Visibility::Hashed,
                    ..Visibilities::default()
                },
                ..CompileOptions::default()
            };
            let model = CompiledModel::compile(&graph, &samples(), &options).unwrap();
            Arc::new(split(model))
        })
        .clone()
}

/// The owner's model with `change` applied to its integer graph, committed under a salt of
/// its own: another owner's model of the same architecture.
fn other(change: impl FnOnce(&mut QGraph)) -> CompiledModel {
    let owner = owner();
    let mut graph = owner.graph.clone();
    change(&mut graph);
    split(CompiledModel::from_graph(graph, owner.visibility).unwrap())
}

/// The first two dense layers' weights and biases swapped (their shifts stay): two blocks
/// of one shape, each at the other's position.
fn swap_blocks(graph: &mut QGraph) {
    let dense = dense_nodes(graph);
    let take = |graph: &QGraph, i: usize| match &graph.nodes[i].op {
        QOp::Dense(d) => (d.weights.clone(), d.bias.clone()),
        _ => unreachable!(),
    };
    let (a, b) = (take(graph, dense[0]), take(graph, dense[1]));
    for (i, (weights, bias)) in [(dense[0], b), (dense[1], a)] {
        let QOp::Dense(d) = &mut graph.nodes[i].op else {
            unreachable!()
        };
        (d.weights, d.bias) = (weights, bias);
    }
}

fn x(model: &CompiledModel, s: usize) -> Vec<i64> {
    model.quantise_input(&samples()[s], false).unwrap()
}

fn prove(model: &CompiledModel, seed: &LinkSeed) -> PartedProof {
    let prover = PartedProver::new(model, common::cache()).unwrap();
    prover.prove_seeded(&x(model, 0), seed).unwrap().0
}

/// The verifier a verifier holds: set up from the owner's verifier file.
fn verifier() -> &'static PartedVerifier {
    static VERIFIER: OnceLock<PartedVerifier> = OnceLock::new();
    VERIFIER.get_or_init(|| {
        PartedVerifier::setup(&owner().verifier_file().unwrap(), &common::cache()).unwrap()
    })
}

/// The part a verification failed at.
fn failed_part(err: VerifyError) -> usize {
    match err {
        VerifyError::Part { part, .. } => part,
        other => panic!("expected a part's failure, got {other}"),
    }
}

/// `proof`'s part `i` relabelled as the owner's: its model digest and weights commitment.
fn relabelled(mut proof: PartedProof, honest: &PartedProof, i: usize) -> PartedProof {
    proof.parts[i].model_digest = honest.parts[i].model_digest.clone();
    proof.parts[i].weights_commitment = honest.parts[i].weights_commitment.clone();
    proof
}

#[test]
fn each_part_is_committed_and_the_published_value_binds_them_in_order() {
    let model = owner();
    assert_eq!(model.parts.len(), 3);
    let weights = model.weights.as_ref().unwrap();
    let parts: Vec<_> = weights
        .parts
        .iter()
        .map(|c| PartWeights::Hashed(parse_felt(c.as_deref().unwrap()).unwrap()))
        .collect();
    assert_eq!(parts.len(), 3);
    assert_eq!(
        felt_hex(&parts_commitment(&parts)),
        weights.commitment,
        "the published value is the digest of the parts' commitments"
    );
    // In order: the same commitments in another order digest to another value.
    let mut reordered = parts.clone();
    reordered.swap(0, 1);
    assert_ne!(parts_commitment(&reordered), parts_commitment(&parts));
    // Each part's model carries its entry and a salt of its own.
    let part_models = model.part_models().unwrap();
    let salts: Vec<_> = part_models
        .iter()
        .map(|p| p.weights.as_ref().unwrap().salt.clone().unwrap())
        .collect();
    assert!(salts[0] != salts[1] && salts[1] != salts[2]);
    for (i, part) in part_models.iter().enumerate() {
        let w = part.weights.as_ref().unwrap();
        assert_eq!(Some(&w.commitment), weights.parts[i].as_ref());
        assert!(part.visibility.hashed_params());
    }
}

#[test]
fn the_verifier_file_holds_no_weights_and_verifies_the_owners_proof() {
    let model = owner();
    let file = model.verifier_file().unwrap();
    assert!(file.is_verifier_file());
    assert!(file.graph.params().values.iter().flatten().all(|&v| v == 0));
    assert!(model
        .graph
        .params()
        .values
        .iter()
        .flatten()
        .any(|&v| v != 0));
    // A file through JSON and back is the same file, and still checks.
    let text = serde_json::to_string(&file).unwrap();
    let back: CompiledModel = serde_json::from_str(&text).unwrap();
    back.validate().unwrap();
    // One identity for the owner's model and its verifier file: the same parts' keys.
    let owners = PartedVerifier::setup(&model, &common::cache()).unwrap();
    assert_eq!(owners.model_digest(), verifier().model_digest());
    let proof = prove(&model, &LinkSeed::random());
    let outputs = verifier().verify(&proof).unwrap();
    let expected = model.graph.eval(&x(&model, 0)).unwrap();
    assert_eq!(outputs, model.graph.outputs_to_float(&expected));
    // A verifier file cannot prove, nor be cut again.
    assert!(PartedProver::new(&file, common::cache())
        .and_then(|p| p.prove(&x(&model, 0)).map(drop))
        .is_err());
    assert!(file.clone().split_at(&[1]).is_err());
}

#[test]
fn two_blocks_swapped_fail_at_the_first_even_relabelled() {
    let honest = prove(&owner(), &LinkSeed::random());
    let swapped = other(swap_blocks);
    assert_eq!(
        swapped.part_models().unwrap()[0].graph.nodes.len(),
        owner().part_models().unwrap()[0].graph.nodes.len()
    );
    let proof = prove(&swapped, &LinkSeed::random());
    // As it is: another model's parts.
    assert_eq!(failed_part(verifier().verify(&proof).unwrap_err()), 0);
    // Relabelled as the owner's at every part: part 0's proof was made for another
    // commitment, so it fails against the published one.
    let mut forged = proof;
    for i in 0..3 {
        forged = relabelled(forged, &honest, i);
    }
    let err = verifier().verify(&forged).unwrap_err();
    assert_eq!(failed_part(err), 0);
}

#[test]
fn a_last_part_with_another_owners_weights_fails_naming_it() {
    // Another owner changed one weight of the last layer only: parts 0 and 1 are the same,
    // so with the same link seed every link of the spliced proof matches.
    let last = |graph: &mut QGraph| {
        let i = *dense_nodes(graph).last().unwrap();
        let QOp::Dense(d) = &mut graph.nodes[i].op else {
            unreachable!()
        };
        d.weights[[0, 0]] += 1;
    };
    let theirs = other(last);
    let seed = LinkSeed::random();
    let honest = prove(&owner(), &seed);
    let prover = PartedProver::new(&theirs, common::cache()).unwrap();
    let (part, _) = prover.prove_part(&x(&theirs, 0), 2, &seed).unwrap();
    let mut spliced = honest.clone();
    spliced.parts[2] = part;
    assert_eq!(
        spliced.parts[1].output_commitment, spliced.parts[2].input_commitment,
        "the links match: only the weights differ"
    );
    assert_eq!(failed_part(verifier().verify(&spliced).unwrap_err()), 2);
    let forged = relabelled(spliced, &honest, 2);
    assert_eq!(failed_part(verifier().verify(&forged).unwrap_err()), 2);
    verifier().verify(&honest).unwrap();
}

#[test]
fn files_whose_part_commitments_disagree_are_refused() {
    let model = owner();
    // The owner's file with a weight of part 1 changed after compiling: named.
    let mut tampered = (*model).clone();
    let i = dense_nodes(&tampered.graph)[1];
    let QOp::Dense(d) = &mut tampered.graph.nodes[i].op else {
        unreachable!()
    };
    d.weights[[0, 0]] += 1;
    let err = tampered.validate().unwrap_err().to_string();
    assert!(err.contains("part 1") && err.contains("changed"), "{err}");
    // A list entry changed: it no longer hashes to the recorded commitment.
    let mut file = model.verifier_file().unwrap();
    file.weights.as_mut().unwrap().parts[2] = Some(felt_hex(&pasta_curves::Fp::one()));
    let err = file.validate().unwrap_err().to_string();
    assert!(err.contains("hash to"), "{err}");
    // An entry missing, or one too many.
    let mut short = model.verifier_file().unwrap();
    short.weights.as_mut().unwrap().parts.pop();
    assert!(short.validate().unwrap_err().to_string().contains("2 part"));
    let mut absent = model.verifier_file().unwrap();
    absent.weights.as_mut().unwrap().parts[0] = None;
    let err = absent.validate().unwrap_err().to_string();
    assert!(
        err.contains("part 0") && err.contains("records no"),
        "{err}"
    );
    // A verifier told another published commitment: the file is not that model's.
    let mut told = model.verifier_file().unwrap();
    let err = told
        .expect_weights_commitment(pasta_curves::Fp::one())
        .unwrap_err()
        .to_string();
    assert!(err.contains("not the published model"), "{err}");
    let published = model.weights_commitment().unwrap();
    told.expect_weights_commitment(published).unwrap();
}

#[test]
fn a_part_with_an_embedding_table_keeps_fixed_params_and_says_so() {
    let graph = zkinfer::onnx::import(&common::data("tiny_gpt.onnx")).unwrap();
    let eval = zkinfer::input::EvalSet::read(&common::data("tiny_gpt.eval.json")).unwrap();
    let mut options = CompileOptions {
        visibility: Visibilities {
            params: Visibility::Hashed,
            ..Visibilities::default()
        },
        ..CompileOptions::default()
    };
    // Proven whole, the embedding table is refused (a lookup table in fixed columns).
    let err = CompiledModel::compile(&graph, &eval.inputs[..2], &options).unwrap_err();
    assert!(err.to_string().contains("Gather"), "{err}");
    // In parts, a part holding it keeps fixed params, so it may hold no other trained params
    // (the positional embedding's add, node 1, here): refused, naming where to cut.
    options.cuts = vec![4, 40];
    let err = CompiledModel::compile(&graph, &eval.inputs[..2], &options).unwrap_err();
    assert!(err.to_string().contains("cut before node 1"), "{err}");
    // Cut there, the table's part keeps fixed params; the others hash theirs.
    options.cuts = vec![1, 40];
    let model = CompiledModel::compile(&graph, &eval.inputs[..2], &options).unwrap();
    let entries = &model.weights.as_ref().unwrap().parts;
    assert_eq!(entries.len(), 3);
    assert!(entries[0].is_none() && entries[1].is_some() && entries[2].is_some());
    let parts = model.part_models().unwrap();
    assert!(!parts[0].visibility.hashed_params() && parts[0].weights.is_none());
    // Its verifier file keeps the fixed part's table and zeroes the hashed parts' params.
    let file = model.verifier_file().unwrap();
    let file_parts = file.part_models().unwrap();
    assert_eq!(file_parts[0].graph, parts[0].graph);
    assert!(file_parts[1..].iter().all(|p| p
        .graph
        .params()
        .values
        .iter()
        .flatten()
        .all(|&v| v == 0)));
    // The published value binds the fixed part's weights: a verifier file with another
    // embedding table, or with a node moved from a hashed part into the fixed one, is
    // refused on load.
    let mut table = file.clone();
    let gather = table
        .graph
        .nodes
        .iter_mut()
        .find_map(|n| match &mut n.op {
            QOp::Gather(g) => Some(g),
            _ => None,
        })
        .unwrap();
    gather.table.outputs[0] += 1;
    let err = table.validate().unwrap_err().to_string();
    assert!(err.contains("hash to"), "{err}");
    let mut moved = file.clone();
    moved.parts[1].start += 1;
    assert!(moved.validate().is_err());

    // Cut by a budget (its tables fitted, which predicts each candidate's time before any
    // commitment exists): the partitioner ends the table's part right after it.
    options.cuts = Vec::new();
    options.budget = zkinfer::circuit::cost::Budget {
        max_k: Some(16),
        memory_bytes: None,
    };
    let budgeted = CompiledModel::compile(&graph, &eval.inputs[..2], &options).unwrap();
    assert!(budgeted.is_parted());
    assert_eq!(budgeted.parts[1].start, 1, "{:?}", budgeted.parts);
    let entries = &budgeted.weights.as_ref().unwrap().parts;
    assert!(entries[0].is_none() && entries[1..].iter().all(Option::is_some));
}
