//! Parts of one shape share keys (issue 28, items 2, 3 and 6): a tower of residual blocks
//! with hashed params, quantised and cut alike, proves with one proving key per distinct
//! shape and verifies with one verifying key per shape; and sharing a key lets no part pass
//! for another: a block's proof replayed at another block's place, two blocks' proofs
//! swapped, a part of a second proof, a part proven with another owner's weights of the
//! same shape, and keys of another shape are all refused, naming the part.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers fail loudly

mod common;

use std::sync::{Arc, OnceLock};

use common::onnx_build::{int_attr, model_io, node, sample, tensor};
use common::parts::weights;
use zkinfer::counters;
use zkinfer::error::{Error, ProveError, VerifyError};
use zkinfer::graph::qgraph::QOp;
use zkinfer::onnx::import_bytes;
use zkinfer::{
    CompileOptions, CompiledModel, LinkSeed, PartedProof, PartedProver, PartedVerifier,
    ProofBundle, Prover, ProvingKeys, Visibilities, Visibility,
};

/// Blocks in the tower.
const BLOCKS: usize = 4;

/// A stem (8 → 8), then `BLOCKS` residual blocks `x + relu(W x + b)` of width 8, then a head
/// (8 → 4); `seed` picks the weights (another owner's model of the same architecture).
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
    for b in 0..BLOCKS {
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
    let last = format!("h{BLOCKS}");
    nodes.push(node(
        "Gemm",
        &[&last, "wh"],
        "y",
        vec![int_attr("transB", 1)],
    ));
    inits.push(tensor("wh", &[4, 8], &w(32, 99)));
    model_io(nodes, inits, &[("x", &[1, 8])], "y", 13)
}

/// The tower of seed 7 is bundled for the Python tests (`python/tests/test_parts.py`, which
/// cannot build ONNX): it must be this generator's. `ZKINFER_WRITE_DATA=1` rewrites it.
#[test]
fn the_bundled_tower_is_this_generator() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/residual_tower.onnx"
    );
    if std::env::var_os("ZKINFER_WRITE_DATA").is_some() {
        std::fs::write(path, tower_onnx(7)).unwrap();
    }
    assert_eq!(std::fs::read(path).unwrap(), tower_onnx(7));
}

fn samples() -> Vec<Vec<f32>> {
    (0..6).map(|s| sample(8, s)).collect()
}

fn hashed() -> Visibilities {
    Visibilities {
        params: Visibility::Hashed,
        ..Visibilities::default()
    }
}

/// The tower compiled with hashed params, cut before every block's dense layer and before
/// the head (`share_keys` as given).
fn compile(seed: usize, share_keys: bool) -> CompiledModel {
    let graph = import_bytes(&tower_onnx(seed), "tower").unwrap();
    // Where the dense layers are (a compile without cuts lays the graph out the same way).
    let plain = CompiledModel::compile(&graph, &samples(), &CompileOptions::default()).unwrap();
    let cuts: Vec<usize> = (1..plain.graph.nodes.len())
        .filter(|&i| matches!(plain.graph.nodes[i].op, QOp::Dense(_)))
        .collect();
    assert_eq!(cuts.len(), BLOCKS + 1);
    let options = CompileOptions {
        visibility: hashed(),
        cuts,
        share_keys,
        ..CompileOptions::default()
    };
    CompiledModel::compile(&graph, &samples(), &options).unwrap()
}

fn owner() -> Arc<CompiledModel> {
    static MODEL: OnceLock<Arc<CompiledModel>> = OnceLock::new();
    MODEL.get_or_init(|| Arc::new(compile(7, true))).clone()
}

/// The link seed of every proof here: known, so that a forger can prove a part whose links
/// match (the worst case; a real seed is secret).
fn seed(s: usize) -> LinkSeed {
    LinkSeed::parse(&"5e".repeat(32))
        .unwrap()
        .for_inference(s as u64)
}

fn x(s: usize) -> Vec<i64> {
    owner().quantise_input(&samples()[s], true).unwrap()
}

/// The owner's proofs of two inputs (one prover, keys once per shape) and the proving keys
/// built for them.
fn proofs() -> &'static (Vec<PartedProof>, usize) {
    static PROOFS: OnceLock<(Vec<PartedProof>, usize)> = OnceLock::new();
    PROOFS.get_or_init(|| {
        let prover = PartedProver::new(&owner(), common::cache()).unwrap();
        counters::take();
        let proved = prover.prove_many(&[x(0), x(1)], seed, |_| {}).unwrap();
        let keys = counters::take().proving_keys;
        (proved.into_iter().map(|(p, _)| p).collect(), keys)
    })
}

fn verifier() -> &'static PartedVerifier {
    static VERIFIER: OnceLock<PartedVerifier> = OnceLock::new();
    VERIFIER.get_or_init(|| {
        let file = owner().verifier_file().unwrap();
        PartedVerifier::setup(&file, &common::cache()).unwrap()
    })
}

/// The part a rejection names.
fn failing_part(result: Result<Vec<f64>, VerifyError>) -> usize {
    match result {
        Err(VerifyError::Part { part, .. }) => part,
        other => panic!("expected a part to fail, got {other:?}"),
    }
}

#[test]
fn repeated_blocks_are_parts_of_one_shape() {
    let model = owner();
    let prover = PartedProver::new(&model, common::cache()).unwrap();
    let shapes = prover.shapes();
    // The stem, the blocks (one shape: the stem's output, which the first block reads, is
    // quantised alike with the blocks' outputs), the head.
    assert_eq!(model.parts.len(), BLOCKS + 2);
    assert_eq!(shapes.of_part, vec![0, 1, 1, 1, 1, 2]);
    // Equal shapes hold equal structures: the parts differ in their weights.
    let parts = model.part_models().unwrap();
    let weights_of = |i: usize| parts[i].graph.params();
    assert_ne!(weights_of(2), weights_of(3));
}

#[test]
fn without_sharing_every_block_has_its_own_scales_and_shape() {
    let model = compile(7, false);
    let prover = PartedProver::new(&model, common::cache()).unwrap();
    assert!(
        prover.shapes().digests.len() > 3,
        "{:?}",
        prover.shapes().of_part
    );
}

#[test]
fn keys_are_built_once_per_shape_and_proofs_verify() {
    let (proofs, keys) = proofs();
    assert_eq!(
        *keys, 3,
        "one proving key per distinct shape, for two inferences"
    );
    counters::take();
    let file = owner().verifier_file().unwrap();
    let verifier = PartedVerifier::setup(&file, &common::cache()).unwrap();
    assert_eq!(counters::take().verifying_keys, 3);
    for proof in proofs {
        verifier.verify(proof).unwrap();
    }
    verifier.verify_batch(proofs).unwrap();
}

#[test]
fn a_block_replayed_at_another_blocks_place_fails() {
    let (proofs, _) = proofs();
    let mut replayed = proofs[0].clone();
    // Block 2's proof (part 3) in block 3's place (part 4): the same key verifies both.
    replayed.parts[4] = replayed.parts[3].clone();
    let err = verifier().verify(&replayed);
    assert!(matches!(failing_part(err), 3 | 4));
    // Relabelled with part 4's digest, links and weights commitment it still fails: the
    // proof's public weights commitment is part 3's, under part 3's salt.
    replayed.parts[4] = relabelled(replayed.parts[4].clone(), &proofs[0].parts[4]);
    assert_eq!(failing_part(verifier().verify(&replayed)), 4);
}

#[test]
fn two_blocks_proofs_swapped_fail() {
    let (proofs, _) = proofs();
    let mut swapped = proofs[0].clone();
    swapped.parts.swap(2, 3);
    assert_eq!(failing_part(verifier().verify(&swapped)), 2);
}

#[test]
fn a_part_of_a_second_proof_fails() {
    let (proofs, _) = proofs();
    let mut mixed = proofs[0].clone();
    mixed.parts[3] = proofs[1].parts[3].clone();
    // Its links are the second proof's: the link into it differs.
    match verifier().verify(&mixed) {
        Err(VerifyError::Link { from, .. }) => assert!(from == 2 || from == 3),
        other => panic!("expected a link to fail, got {other:?}"),
    }
}

/// Another owner's model of the same shapes: the owner's integer graph with one weight of
/// block 1 (part 2) changed, committed under a salt of its own, cut where the owner's is.
fn other_owner() -> CompiledModel {
    let owner = owner();
    let mut graph = owner.graph.clone();
    let QOp::Dense(dense) = &mut graph.nodes[owner.parts[2].start].op else {
        panic!("part 2 starts with block 1's dense layer")
    };
    let w = dense.weights.iter_mut().next().unwrap();
    *w += if *w > 0 { -1 } else { 1 };
    let starts: Vec<usize> = owner.parts[1..].iter().map(|p| p.start).collect();
    CompiledModel::from_graph(graph, owner.visibility)
        .unwrap()
        .split_at(&starts)
        .unwrap()
}

#[test]
fn a_part_with_another_owners_weights_of_the_same_shape_fails() {
    let other = PartedProver::new(&other_owner(), common::cache()).unwrap();
    let mine = PartedProver::new(&owner(), common::cache()).unwrap();
    // One circuit: the other owner's parts are of the owner's shapes, keys and all.
    assert_eq!(other.shapes(), mine.shapes());
    // The other owner's block 1 under the honest proof's link seed (its links match),
    // relabelled as the owner's.
    let (theirs, _) = other.prove_part(&x(0), 2, &seed(0)).unwrap();
    let mut spliced = proofs().0[0].clone();
    assert_eq!(theirs.input_commitment, spliced.parts[2].input_commitment);
    spliced.parts[2] = relabelled(theirs, &spliced.parts[2]);
    assert_eq!(failing_part(verifier().verify(&spliced)), 2);
}

#[test]
fn keys_of_another_shape_are_refused() {
    let model = owner();
    let parts: Vec<Arc<CompiledModel>> = model
        .part_models()
        .unwrap()
        .into_iter()
        .map(Arc::new)
        .collect();
    let keys = Arc::new(ProvingKeys::build(&parts[2], &common::cache()).unwrap());
    // Another block of the shape takes them, the head does not.
    Prover::with_keys(Arc::clone(&parts[3]), &keys).unwrap();
    match Prover::with_keys(Arc::clone(&parts[5]), &keys) {
        Err(Error::Prove(ProveError::KeyShape { keys: k, model: m })) => {
            assert_eq!(k, keys.shape());
            assert_ne!(k, m);
        }
        other => panic!("expected KeyShape, got {other:?}"),
    }
}

/// A part proof relabelled as another: the honest part's digest, links and commitment.
fn relabelled(mut forged: ProofBundle, honest: &ProofBundle) -> ProofBundle {
    forged.model_digest = honest.model_digest.clone();
    forged.input_commitment = honest.input_commitment.clone();
    forged.output_commitment = honest.output_commitment.clone();
    forged.weights_commitment = honest.weights_commitment.clone();
    forged
}
