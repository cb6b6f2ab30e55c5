//! Hashed visibility (issue 12): a hashed tensor is public only as `Poseidon(salt, packed
//! values)`. Honest proofs verify and their openings check; other salts, values, commitments
//! and malformed encodings are rejected, under MockProver and with real proofs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers fail loudly

mod common;

use std::sync::{Arc, OnceLock};

use pasta_curves::Fp;
use zkinfer::api::{felt_hex, Committed, Openings};
use zkinfer::circuit::{Commitments, InstanceLayout, Salts};
use zkinfer::error::VerifyError;
use zkinfer::{CompiledModel, ProofBundle, Prover, Verifier, Visibilities, Visibility};

fn hashed(input: Visibility, output: Visibility) -> Visibilities {
    Visibilities {
        input,
        output,
        ..Visibilities::default()
    }
}

/// The digits MLP with its input hashed and its outputs public.
fn hashed_input() -> Arc<CompiledModel> {
    static MODEL: OnceLock<Arc<CompiledModel>> = OnceLock::new();
    MODEL
        .get_or_init(|| {
            Arc::new(common::compile_with(hashed(
                Visibility::Hashed,
                Visibility::Public,
            )))
        })
        .clone()
}

/// The digits MLP with input and outputs hashed.
fn all_hashed() -> Arc<CompiledModel> {
    static MODEL: OnceLock<Arc<CompiledModel>> = OnceLock::new();
    MODEL
        .get_or_init(|| {
            Arc::new(common::compile_with(hashed(
                Visibility::Hashed,
                Visibility::Hashed,
            )))
        })
        .clone()
}

fn proof(model: &Arc<CompiledModel>) -> (ProofBundle, Openings) {
    let prover = Prover::setup(model.clone(), &common::cache()).unwrap();
    let x = model.quantise_input(&common::sample(), false).unwrap();
    prover.prove_integer_opened(&x).unwrap()
}

#[test]
fn hashing_adds_commitment_rows_and_is_shown_by_inspect() {
    let plain = common::model().inspect().unwrap();
    let model = all_hashed();
    let inspection = model.inspect().unwrap();
    let commits: Vec<_> = inspection
        .nodes
        .iter()
        .filter(|n| n.op == "Commit")
        .map(|n| (n.name.as_str(), n.len))
        .collect();
    assert_eq!(
        commits,
        vec![("output commitment", 10), ("input commitment", 64)]
    );
    assert_eq!(inspection.instances, 2, "two commitments, nothing else");
    // Poseidon's x^5 S-box gates raise the degree (a larger extended domain); say how much.
    println!(
        "degree {} without, {} with commitments",
        plain.degree, inspection.degree
    );
    assert!(inspection.degree >= plain.degree);
    assert!(inspection.fixed_columns > plain.fixed_columns);
    let text = inspection.to_string();
    assert!(text.contains("input commitment"), "{text}");
    assert!(text.contains("input hashed, output hashed"), "{text}");
}

/// MockProver's failures for the circuit committing under `salts` while the instance column
/// holds `commitments`.
fn mock_against(model: &CompiledModel, salts: Salts, commitments: &Commitments) -> Vec<String> {
    let x = model.quantise_input(&common::sample(), false).unwrap();
    let w = model.witness(&x).unwrap();
    let layout = InstanceLayout::of(&model.graph, &model.visibility);
    let public = layout.values(&w.outputs(), &x, commitments);
    common::mock_instance(model, &w, salts, public)
}

#[test]
fn mock_accepts_honest_commitments_and_rejects_any_other() {
    let model = hashed_input();
    let x = model.quantise_input(&common::sample(), false).unwrap();
    let w = model.witness(&x).unwrap();
    let salts = Salts {
        input: Fp::from(12345),
        output: Fp::from(7),
        ..Salts::default()
    };
    assert_eq!(model.mock_salted(&w, &w.outputs(), &salts).unwrap(), vec![]);
    let layout = InstanceLayout::of(&model.graph, &model.visibility);
    let honest = layout.commit(&w.outputs(), &x, &salts).unwrap();
    assert_eq!(mock_against(&model, salts, &honest), Vec::<String>::new());
    // A public commitment under another salt, or to another input: only the copy of the
    // commitment to the instance fails.
    let other_salt = Salts {
        input: Fp::from(12346),
        ..salts
    };
    let mut other_input = x.clone();
    other_input[3] += 1;
    for commitments in [
        layout.commit(&w.outputs(), &x, &other_salt).unwrap(),
        layout.commit(&w.outputs(), &other_input, &salts).unwrap(),
    ] {
        assert_ne!(commitments, honest);
        common::assert_only_an_instance_copy_fails(&mock_against(&model, salts, &commitments));
    }
}

#[test]
fn hashed_input_proves_verifies_and_opens() {
    let model = hashed_input();
    let (bundle, openings) = proof(&model);
    let verifier = Verifier::setup(model.clone(), &common::cache()).unwrap();
    verifier.verify(&bundle).unwrap();
    assert!(bundle.public_input.is_none());
    assert_eq!(bundle.outputs.len(), 10, "outputs stay public");
    let commitment = bundle.input_commitment.clone().unwrap();
    assert_eq!(openings.openings.len(), 1);
    let opening = &openings.openings[0];
    assert_eq!(opening.tensor, Committed::Input);
    assert_eq!(opening.commitment, commitment);
    assert_eq!(opening.commitment_in(&bundle), Some(commitment.as_str()));
    model.check_opening(opening).unwrap();

    // A wrong salt, value, length or commitment in an opening fails, naming what disagrees.
    let mut wrong = opening.clone();
    wrong.salt = felt_hex(&Fp::from(1));
    assert!(matches!(
        model.check_opening(&wrong),
        Err(VerifyError::Opening { .. })
    ));
    let mut wrong = opening.clone();
    wrong.values[0] += 1;
    assert!(matches!(
        model.check_opening(&wrong),
        Err(VerifyError::Opening { .. })
    ));
    let mut wrong = opening.clone();
    wrong.values.pop();
    let err = model.check_opening(&wrong).unwrap_err().to_string();
    assert!(err.contains("63 values; the model's input has 64"), "{err}");
    let mut wrong = opening.clone();
    wrong.salt = "zz".into();
    let err = model.check_opening(&wrong).unwrap_err().to_string();
    assert!(
        err.contains("salt") && err.contains("64 lowercase hex"),
        "{err}"
    );

    // Another (well-formed) commitment in the bundle: the proof no longer verifies.
    let mut forged = bundle.clone();
    forged.input_commitment = Some(felt_hex(&Fp::from(99)));
    assert!(matches!(
        verifier.verify(&forged),
        Err(VerifyError::InvalidProof(_))
    ));
    // A value above the modulus, a missing commitment, one the model does not use.
    let mut forged = bundle.clone();
    forged.input_commitment = Some("ff".repeat(32));
    let err = verifier.verify(&forged).unwrap_err().to_string();
    assert!(
        err.contains("input_commitment") && err.contains("modulus"),
        "{err}"
    );
    let mut forged = bundle.clone();
    forged.input_commitment = None;
    let err = verifier.verify(&forged).unwrap_err().to_string();
    assert!(err.contains("missing"), "{err}");
    let mut forged = bundle.clone();
    forged.output_commitment = Some(felt_hex(&Fp::from(1)));
    let err = verifier.verify(&forged).unwrap_err().to_string();
    assert!(err.contains("output_commitment: present"), "{err}");
    // Edited outputs still fail as before.
    let mut forged = bundle;
    forged.outputs[0] += 1;
    forged.outputs_float = model.graph.outputs_to_float(&forged.outputs);
    assert!(verifier.verify(&forged).is_err());
}

#[test]
fn all_hashed_proofs_reveal_nothing_but_commitments_and_open_to_the_outputs() {
    let model = all_hashed();
    let (bundle, openings) = proof(&model);
    let verifier = Verifier::setup(model.clone(), &common::cache()).unwrap();
    verifier.verify(&bundle).unwrap();
    assert!(bundle.outputs.is_empty() && bundle.outputs_float.is_empty());
    assert!(bundle.public_input.is_none());
    let x = model.quantise_input(&common::sample(), false).unwrap();
    let outputs = model.graph.eval(&x).unwrap();
    let output = openings
        .openings
        .iter()
        .find(|o| o.tensor == Committed::Output)
        .unwrap();
    assert_eq!(
        output.values, outputs,
        "the opening reveals the proven outputs"
    );
    for opening in &openings.openings {
        model.check_opening(opening).unwrap();
        assert_eq!(
            opening.commitment_in(&bundle),
            Some(opening.commitment.as_str())
        );
    }
    // Two proofs of one input carry different commitments (fresh salts).
    let (again, _) = proof(&model);
    assert_ne!(again.input_commitment, bundle.input_commitment);
    // Claiming outputs beside a hashed output is refused.
    let mut forged = bundle.clone();
    forged.outputs = outputs;
    forged.outputs_float = model.graph.outputs_to_float(&forged.outputs);
    let err = verifier.verify(&forged).unwrap_err();
    assert!(
        matches!(
            err,
            VerifyError::Shape {
                field: "outputs",
                ..
            }
        ),
        "{err}"
    );
    // Swapping the two commitments fails.
    let mut swapped = bundle.clone();
    swapped.input_commitment = bundle.output_commitment.clone();
    swapped.output_commitment = bundle.input_commitment.clone();
    assert!(matches!(
        verifier.verify(&swapped),
        Err(VerifyError::InvalidProof(_))
    ));
    // The openings file round-trips.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("openings.json");
    openings.save(&path).unwrap();
    assert_eq!(Openings::load(&path).unwrap(), openings);
}

#[test]
fn models_without_hashing_keep_their_circuit() {
    // No commitment chip unless something is hashed: the plain model's layout is unchanged
    // (its verifying-key digest is pinned in `tests/untrusted_files.rs`).
    let plain = common::model();
    assert!(!plain.layout().unwrap().commitments);
    assert!(hashed_input().layout().unwrap().commitments);
}
