//! Attacks on a model's identity (issue 27, item 1), from an adversarial review of it: each
//! test is one attack and shows it refused. The first two broke the first version of the
//! identity (it left the hashed-params weights commitment out, so another owner's weights
//! of one architecture passed for the published model); the third found `-0.0` accepted in
//! `outputs_float`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers fail loudly

mod common;

use common::cli::{fails, ok, s};
use zkinfer::error::VerifyError;
use zkinfer::graph::qgraph::QOp;
use zkinfer::{
    CompiledModel, LinkSeed, PartedProver, PartedVerifier, Prover, Verifier, Visibilities,
    Visibility,
};

fn argmax(v: &[f64]) -> usize {
    let mut best = 0;
    for (i, x) in v.iter().enumerate() {
        if *x > v[best] {
            best = i;
        }
    }
    best
}

/// The digits MLP with hashed params: the owner's file.
fn hashed_owner() -> CompiledModel {
    common::compile_with(Visibilities {
        params: Visibility::Hashed,
        ..Visibilities::default()
    })
}

/// Another owner's model of the same architecture: the last dense layer's rows (and
/// biases) for classes `a` and `b` swapped, so its argmax differs from the owner's while
/// every parameter keeps its value range (same packing widths, same layout), committed
/// under a fresh salt.
fn rival_of(owner: &CompiledModel, a: usize, b: usize) -> CompiledModel {
    let mut graph = owner.graph.clone();
    let dense = graph
        .nodes
        .iter_mut()
        .rev()
        .find_map(|n| match &mut n.op {
            QOp::Dense(d) => Some(d),
            _ => None,
        })
        .unwrap();
    for j in 0..dense.weights.ncols() {
        let (wa, wb) = (dense.weights[[a, j]], dense.weights[[b, j]]);
        dense.weights[[a, j]] = wb;
        dense.weights[[b, j]] = wa;
    }
    dense.bias.swap(a, b);
    let rival = CompiledModel::from_graph(graph, owner.visibility).unwrap();
    assert_eq!(rival.visibility, owner.visibility, "same packing widths");
    assert_eq!(rival.dot_width, owner.dot_width, "same layout");
    rival
}

/// Attack 1 (hashed params): another owner's weights of one architecture, committed under
/// their own commitment, in a verifier file handed to a verifier who holds the published
/// identity. The identity binds the commitment, so the rival file is another model, and its
/// proof (which names the rival's identity) is refused by the published one.
#[test]
fn rejects_another_owners_weights_under_the_published_identity() {
    let cache = common::cache();
    let owner = hashed_owner();
    let sample = common::sample();
    let x = owner.quantise_input(&sample, false).unwrap();
    let honest = owner.graph.outputs_to_float(&owner.graph.eval(&x).unwrap());
    let a = argmax(&honest);
    let b = (a + 1) % honest.len();
    let published_file = owner.verifier_file().unwrap();
    let published = Verifier::setup(published_file, &cache).unwrap();

    let rival = rival_of(&owner, a, b);
    assert_ne!(rival.weights_commitment(), owner.weights_commitment());
    let rival_file = rival.verifier_file().unwrap();
    let rival_verifier = Verifier::setup(rival_file, &cache).unwrap();
    // Two models, two identities.
    assert_ne!(rival_verifier.model_digest(), published.model_digest());

    let mut bundle = Prover::setup(rival.clone(), &cache)
        .unwrap()
        .prove(&sample, false)
        .unwrap();
    assert_eq!(bundle.model_digest, rival_verifier.model_digest());
    // The rival's proof is the rival's: another answer, under another identity.
    let told = rival_verifier.verify(&bundle).unwrap();
    assert_eq!(argmax(&told), b);
    assert_ne!(argmax(&told), a);
    assert!(matches!(
        published.verify(&bundle),
        Err(VerifyError::WeightsCommitment { .. })
    ));
    // Renamed to the published identity, it is refused by the published file (its
    // commitment) and by the rival's (its identity).
    bundle.model_digest = published.model_digest().to_owned();
    assert!(matches!(
        published.verify(&bundle),
        Err(VerifyError::WeightsCommitment { .. })
    ));
    assert!(matches!(
        rival_verifier.verify(&bundle),
        Err(VerifyError::ModelMismatch { .. })
    ));
}

/// Attack 1 at the CLI: `verify --model-digest <published>` with the rival's verifier file is
/// refused (it succeeded, printing the rival's argmax, before the identity bound the
/// commitment).
#[test]
fn rejects_at_the_cli_another_owners_weights_under_the_published_identity() {
    let cache = common::cache();
    let dir = tempfile::tempdir().unwrap();
    let owner = hashed_owner();
    let sample = common::sample();
    let x = owner.quantise_input(&sample, false).unwrap();
    let honest = owner.graph.outputs_to_float(&owner.graph.eval(&x).unwrap());
    let a = argmax(&honest);
    let b = (a + 2) % honest.len();
    let published = Verifier::setup(owner.verifier_file().unwrap(), &cache)
        .unwrap()
        .model_digest()
        .to_owned();
    let rival = rival_of(&owner, a, b);
    let rival_path = dir.path().join("rival.verifier.zkm");
    rival.verifier_file().unwrap().save(&rival_path).unwrap();
    let bundle = Prover::setup(rival, &cache)
        .unwrap()
        .prove(&sample, false)
        .unwrap();
    let proof = dir.path().join("proof.json");
    bundle.save(&proof).unwrap();
    let e = fails(&[
        "verify",
        s(&rival_path),
        s(&proof),
        "--model-digest",
        &published,
    ]);
    assert!(e.contains("not the published"), "{e}");
    // Unasked, it verifies as what it is: the rival's model, under the rival's identity.
    let plain = ok(&["verify", s(&rival_path), s(&proof)]);
    assert!(plain.contains(&format!("argmax: {b}")), "{plain}");
    assert!(!plain.contains(&published), "{plain}");
}

/// Attack 2 (a non-canonical bundle field): `-0.0` where the proven value is `+0.0` (the
/// same real number, but a consumer reading the bundle's own `outputs_float` would see the
/// sign). Floats must match bit for bit.
#[test]
fn rejects_negative_zero_in_outputs_float() {
    let cache = common::cache();
    // The MLP with its Relu's output as a second output: exact zeros are likely there.
    let mut graph = common::model().graph.clone();
    let relu = graph
        .nodes
        .iter()
        .position(|n| matches!(n.op, QOp::Relu))
        .unwrap();
    graph.outputs.push(zkinfer::graph::TensorId::of_node(relu));
    let model =
        std::sync::Arc::new(CompiledModel::from_graph(graph, Visibilities::default()).unwrap());
    let mut bundle = Prover::setup(model.clone(), &cache)
        .unwrap()
        .prove(&common::sample(), false)
        .unwrap();
    let verifier = Verifier::setup(model, &cache).unwrap();
    verifier.verify(&bundle).unwrap();
    // The Relu's output has exact zeros: claim −0.0 for one.
    let zeros: Vec<usize> = (0..bundle.outputs.len())
        .filter(|&i| bundle.outputs[i] == 0)
        .collect();
    assert!(!zeros.is_empty(), "the Relu's output has exact zeros");
    bundle.outputs_float[zeros[0]] = -0.0;
    assert!(matches!(
        verifier.verify(&bundle),
        Err(VerifyError::FloatMismatch { .. })
    ));
}

/// Attack 3 (parts): parts replayed at another position, or mixed from two inferences
/// (even under one link seed), or a part of another model.
#[test]
fn rejects_parts_out_of_place_mixed_or_of_another_model() {
    let cache = common::cache();
    let model = (*common::model()).clone().split_at(&[1]).unwrap();
    assert!(model.is_parted());
    let prover = PartedProver::new(&model, cache.clone()).unwrap();
    let verifier = PartedVerifier::setup(&model, &cache).unwrap();
    // The parted identity is not any part's identity, nor the whole model's.
    let whole = Verifier::setup(common::model(), &cache).unwrap();
    assert_ne!(verifier.model_digest(), whole.model_digest());
    for part in verifier.parts() {
        assert_ne!(part.model_digest(), verifier.model_digest());
    }
    assert_ne!(
        verifier.parts()[0].model_digest(),
        verifier.parts()[1].model_digest()
    );

    let eval = common::eval_set();
    let x = model.quantise_input(&eval.inputs[0], false).unwrap();
    let y = model.quantise_input(&eval.inputs[1], false).unwrap();
    let seed = LinkSeed([7; 32]);
    let (px, _) = prover.prove_seeded(&x, &seed).unwrap();
    let (py, _) = prover.prove_seeded(&y, &seed).unwrap();
    verifier.verify(&px).unwrap();
    verifier.verify(&py).unwrap();

    // Swapped order.
    let mut swapped = px.clone();
    swapped.parts.swap(0, 1);
    assert!(matches!(
        verifier.verify(&swapped),
        Err(VerifyError::Part { part: 0, .. })
    ));
    // Part 0 of x, part 1 of y, under the same seed: the link commitments differ.
    let mut mixed = px.clone();
    mixed.parts[1] = py.parts[1].clone();
    assert!(matches!(
        verifier.verify(&mixed),
        Err(VerifyError::Link { from: 0, .. })
    ));
    // Relinked by copying y's input commitment into x's part 0: the proof refuses it.
    let mut relinked = mixed.clone();
    relinked.parts[0].output_commitment = relinked.parts[1].input_commitment.clone();
    assert!(matches!(
        verifier.verify(&relinked),
        Err(VerifyError::Part { part: 0, .. })
    ));
    // The whole model's bundle as a one-part proof of the parted model: wrong count.
    let whole_bundle = Prover::setup(common::model(), &cache)
        .unwrap()
        .prove_integer(&x)
        .unwrap();
    let one = zkinfer::PartedProof {
        format_version: px.format_version,
        parts: vec![whole_bundle.clone()],
    };
    assert!(matches!(
        verifier.verify(&one),
        Err(VerifyError::PartCount { .. })
    ));
    // And the last part's bundle is refused by the whole model's verifier.
    assert!(matches!(
        whole.verify(&px.parts[1]),
        Err(VerifyError::ModelMismatch { .. })
    ));
}

/// Attack 4 (parted model fields the parts do not inherit): the whole model's `dot_width`
/// and `quant_report` are outside the parted identity; they are read by nothing that
/// verifies a parted proof. `outputs` order of the whole model is the last part's, so
/// reversing it changes the identity.
#[test]
fn parted_identity_binds_output_order_and_ignores_only_unread_fields() {
    let cache = common::cache();
    let mut graph = common::model().graph.clone();
    // A second output (the hidden layer), so that the order is a leaf.
    let hidden = zkinfer::graph::TensorId::of_node(0);
    graph.outputs.push(hidden);
    let model = CompiledModel::from_graph(graph, Visibilities::default())
        .unwrap()
        .split_at(&[2])
        .unwrap();
    let id = |m: &CompiledModel| {
        PartedVerifier::setup(m, &cache)
            .unwrap()
            .model_digest()
            .to_owned()
    };
    let base = id(&model);
    let mut reversed = model.clone();
    reversed.graph.outputs.reverse();
    assert_ne!(id(&reversed), base);
    let mut other_width = model.clone();
    other_width.dot_width = if model.dot_width == 8 { 16 } else { 8 };
    other_width.validate().unwrap();
    assert_eq!(id(&other_width), base, "the whole model's width is unread");
    let mut reported = model.clone();
    reported.quant_report = None;
    assert_eq!(id(&reported), base, "the calibration report is unread");
}

/// Attack 5 (link seeds): with several samples each gets `for_inference(i)`; one sample
/// uses the seed itself. No two of these share a link salt.
#[test]
fn rejects_shared_link_salts_between_inferences() {
    let seed = LinkSeed([3; 32]);
    let mut salts = Vec::new();
    for s in [
        seed,
        seed.for_inference(0),
        seed.for_inference(1),
        seed.for_inference(2),
    ] {
        for j in 0..4 {
            salts.push(s.salt(j));
        }
    }
    let n = salts.len();
    salts.sort_by_key(|f| format!("{f:?}"));
    salts.dedup();
    assert_eq!(salts.len(), n);
}
