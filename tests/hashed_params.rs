//! Hashed parameters (issue 12): every weight and bias in an advice cell under one Poseidon
//! commitment the model owner publishes. The verifying key is the architecture's, so a
//! verifier file without weights checks proofs; a proof made with other weights under the
//! same architecture is rejected for the published commitment, under MockProver and with
//! real proofs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers fail loudly

mod common;

use std::sync::{Arc, OnceLock};

use pasta_curves::Fp;
use zkinfer::api::felt_hex;
use zkinfer::circuit::{param_domain, InstanceLayout, Salts};
use zkinfer::error::VerifyError;
use zkinfer::graph::qgraph::{QGraph, QOp};
use zkinfer::{CompiledModel, ProofBundle, Prover, Verifier, Visibilities, Visibility};

fn visibility(input: Visibility, output: Visibility) -> Visibilities {
    Visibilities {
        input,
        output,
        params: Visibility::Hashed,
        ..Visibilities::default()
    }
}

/// The digits MLP with hashed params (input private, outputs public), compiled once.
fn owner() -> Arc<CompiledModel> {
    static MODEL: OnceLock<Arc<CompiledModel>> = OnceLock::new();
    MODEL
        .get_or_init(|| {
            Arc::new(common::compile_with(visibility(
                Visibility::Private,
                Visibility::Public,
            )))
        })
        .clone()
}

/// One proof by the owner's model, made once.
fn owner_proof() -> ProofBundle {
    static PROOF: OnceLock<ProofBundle> = OnceLock::new();
    PROOF.get_or_init(|| prove(&owner())).clone()
}

fn prove(model: &Arc<CompiledModel>) -> ProofBundle {
    let prover = Prover::setup(model.clone(), &common::cache()).unwrap();
    let x = model.quantise_input(&common::sample(), false).unwrap();
    prover.prove_integer(&x).unwrap()
}

fn verifier(model: &CompiledModel) -> Verifier {
    Verifier::setup(model.clone(), &common::cache()).unwrap()
}

/// `graph` with one parameter changed by `delta`: a weight of the first dense layer, or its
/// first bias.
fn changed(graph: &QGraph, bias: bool, delta: i64) -> QGraph {
    let mut graph = graph.clone();
    let QOp::Dense(dense) = &mut graph.nodes[0].op else {
        panic!("the digits MLP starts with a dense layer");
    };
    if bias {
        dense.bias[0] += delta;
    } else {
        dense.weights[[0, 0]] += delta;
    }
    graph
}

/// A model of the same architecture (same widths, so the same verifying key) with one
/// parameter changed: another owner's model, or a cheating prover's.
fn other_weights(bias: bool) -> CompiledModel {
    let model = owner();
    CompiledModel::from_graph(changed(&model.graph, bias, 1), model.visibility).unwrap()
}

#[test]
fn the_verifier_file_holds_no_weights_and_rebuilds_the_same_key() {
    let model = owner();
    let file = model.verifier_file().unwrap();
    let params = file.graph.params();
    assert!(params.values.iter().flatten().all(|v| *v == 0));
    assert!(model.graph.params().values[0].iter().any(|v| *v != 0));
    assert!(file.weights.as_ref().unwrap().salt.is_none());
    assert!(file.is_verifier_file() && !model.is_verifier_file());
    assert_eq!(file.weights_commitment(), model.weights_commitment());
    assert!(
        file.quant_report.is_none(),
        "the calibration report stays with the owner"
    );
    // The commitment's domain is the architecture's, the widths' and the visibilities': the
    // verifier file's is the owner's, another width's or another visibility's is not.
    let seen = model.visibility;
    assert_eq!(
        param_domain(&file.graph, &seen),
        param_domain(&model.graph, &seen)
    );
    let mut wider = seen;
    wider.param_bits[0] += 1;
    let mut shown = seen;
    shown.input = zkinfer::Visibility::Public;
    let mut hidden = seen;
    hidden.output = zkinfer::Visibility::Hashed;
    for other in [wider, shown, hidden] {
        assert_ne!(
            param_domain(&model.graph, &seen),
            param_domain(&model.graph, &other),
            "{other:?}"
        );
    }
    // Written and read back: no salt in the file.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v.zkm");
    file.save(&path).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains("\"salt\""), "{text}");
    let loaded = CompiledModel::load(&path).unwrap();
    assert_eq!(loaded, file);

    let bundle = owner_proof();
    assert_eq!(
        bundle.weights_commitment.as_deref(),
        Some(model.weights.as_ref().unwrap().commitment.as_str())
    );
    let from_file = verifier(&loaded);
    let from_owner = verifier(&model);
    assert_eq!(from_file.model_digest(), from_owner.model_digest());
    assert_eq!(
        from_file.verify(&bundle).unwrap(),
        from_owner.verify(&bundle).unwrap()
    );
    from_file
        .verify_batch(&[bundle.clone(), bundle.clone()])
        .unwrap();
    // The verifier file cannot prove.
    let err = Prover::setup(Arc::new(loaded), &common::cache()).unwrap_err();
    assert!(err.to_string().contains("verifier file"), "{err}");
}

#[test]
fn a_proof_with_other_weights_is_rejected_for_the_published_commitment() {
    let model = owner();
    let file = model.verifier_file().unwrap();
    let cheat = Arc::new(other_weights(false));
    assert_ne!(cheat.weights_commitment(), model.weights_commitment());
    let mut forged = prove(&cheat);
    let verifier = verifier(&file);
    // Same architecture, same key: the identity binds the published commitment, so the
    // cheat's proof names another model, refused for its commitment; renamed, likewise.
    assert_ne!(forged.model_digest, verifier.model_digest());
    assert!(matches!(
        verifier.verify(&forged),
        Err(VerifyError::WeightsCommitment { .. })
    ));
    let as_made = forged.clone();
    forged.model_digest = verifier.model_digest().to_owned();
    let err = verifier.verify(&forged).unwrap_err();
    assert!(
        matches!(err, VerifyError::WeightsCommitment { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("other weights"), "{err}");
    // Claiming the published commitment does not help: the proof is for other weights.
    let mut claimed = forged.clone();
    claimed.weights_commitment = model.weights.as_ref().map(|w| w.commitment.clone());
    assert!(matches!(
        verifier.verify(&claimed),
        Err(VerifyError::InvalidProof(_))
    ));
    assert!(verifier.verify_batch(&[claimed]).is_err());
    // The cheat's own proof verifies against the cheat's own published commitment.
    let mut expecting = file.clone();
    expecting
        .expect_weights_commitment(cheat.weights_commitment().unwrap())
        .unwrap();
    self::verifier(&expecting).verify(&as_made).unwrap();
}

/// MockProver's failures for `model`'s circuit committing its parameters under `salt` while
/// the instance column holds the owner's published commitment.
fn mock_for_published(model: &CompiledModel, salt: Fp) -> Vec<String> {
    let x = model.quantise_input(&common::sample(), false).unwrap();
    let w = model.witness(&x).unwrap();
    let layout = InstanceLayout::of(&model.graph, &model.visibility);
    let mut commitments = layout.commit(&w.outputs(), &x, &Salts::default()).unwrap();
    commitments.params = owner().weights_commitment();
    let public = layout.values(&w.outputs(), &x, &commitments);
    let salts = Salts {
        params: salt,
        ..Salts::default()
    };
    common::mock_instance(model, &w, salts, public)
}

fn owner_salt() -> Fp {
    let salt = owner().weights.as_ref().unwrap().salt.clone().unwrap();
    zkinfer::api::parse_felt(&salt).unwrap()
}

#[test]
fn mock_accepts_the_owner_and_rejects_other_weights_or_salts_by_the_instance_only() {
    let model = owner();
    assert_eq!(
        mock_for_published(&model, owner_salt()),
        Vec::<String>::new()
    );
    for (graph, salt) in [
        // Another weight or bias, even under the owner's salt.
        (changed(&model.graph, false, 1), owner_salt()),
        (changed(&model.graph, true, -1), owner_salt()),
        // The owner's weights under another salt.
        (model.graph.clone(), owner_salt() + Fp::one()),
    ] {
        let cheat = CompiledModel {
            graph,
            ..(*model).clone()
        };
        common::assert_only_an_instance_copy_fails(&mock_for_published(&cheat, salt));
    }
}

#[test]
fn a_weight_outside_its_declared_width_is_refused_and_fails_its_range_check() {
    let model = owner();
    let [bits, _] = model.visibility.param_bits;
    // The smallest weight outside the declared width, in place of the first one.
    let QOp::Dense(dense) = &model.graph.nodes[0].op else {
        panic!("a dense layer first");
    };
    let graph = changed(
        &model.graph,
        false,
        (1i64 << (bits - 1)) - dense.weights[[0, 0]],
    );
    // Compiling at the declared widths names the weight.
    let err = CompiledModel::from_graph(graph.clone(), model.visibility)
        .unwrap_err()
        .to_string();
    assert!(err.contains(&format!("declared {bits} bits")), "{err}");
    // A prover that skips the check is stopped by the range check before packing.
    let cheat = CompiledModel {
        graph,
        ..(*model).clone()
    };
    let failures = mock_for_published(&cheat, owner_salt());
    assert!(
        failures.iter().any(|f| f.contains("range check weights")),
        "{failures:?}"
    );
}

#[test]
fn files_whose_weights_or_commitment_disagree_are_refused() {
    let model = owner();
    // The owner's file with a weight changed after compiling.
    let tampered = CompiledModel {
        graph: changed(&model.graph, false, 1),
        ..(*model).clone()
    };
    let err = tampered.validate().unwrap_err().to_string();
    assert!(
        err.contains("weights or the commitment were changed"),
        "{err}"
    );
    // A verifier file given a salt: its zero weights do not match the commitment.
    let mut salted = model.verifier_file().unwrap();
    salted.weights.as_mut().unwrap().salt = Some(felt_hex(&Fp::one()));
    assert!(salted.validate().is_err());
    // A malformed commitment.
    let mut malformed = model.verifier_file().unwrap();
    malformed.weights.as_mut().unwrap().commitment = "abc".into();
    let err = malformed.validate().unwrap_err().to_string();
    assert!(err.contains("weights commitment"), "{err}");
    // A commitment recorded for fixed params, and hashed params without one.
    let mut fixed = (*common::model()).clone();
    fixed.weights = model.weights.clone();
    assert!(fixed.validate().is_err());
    let mut missing = (*model).clone();
    missing.weights = None;
    assert!(missing.validate().is_err());
    let mut unset = (*model).clone();
    unset.visibility.param_bits = [0, 0];
    let err = unset.validate().unwrap_err().to_string();
    assert!(err.contains("packing widths"), "{err}");
    // Fixed params have no verifier file and no commitment to expect.
    let err = common::model().verifier_file().unwrap_err().to_string();
    assert!(err.contains("--param-visibility hashed"), "{err}");
    assert!((*common::model())
        .clone()
        .expect_weights_commitment(Fp::one())
        .is_err());
    // Cut into parts, the params are committed part by part under the owner's salt (see
    // `tests/hashed_parts.rs`); a verifier file, without the salt, cannot be cut.
    let parted = (*model).clone().split_at(&[1]).unwrap();
    assert_eq!(parted.weights.as_ref().unwrap().parts.len(), 2);
    let err = model.verifier_file().unwrap().split_at(&[1]).unwrap_err();
    assert!(err.to_string().contains("verifier file"), "{err}");
}

#[test]
fn bundles_must_carry_exactly_the_published_commitment() {
    let file = owner().verifier_file().unwrap();
    let verifier = verifier(&file);
    let bundle = owner_proof();
    let mut missing = bundle.clone();
    missing.weights_commitment = None;
    let err = verifier.verify(&missing).unwrap_err();
    assert!(
        matches!(
            err,
            VerifyError::Commitment {
                field: "weights_commitment",
                ..
            }
        ),
        "{err}"
    );
    let mut malformed = bundle.clone();
    malformed.weights_commitment = Some("xyz".into());
    assert!(matches!(
        verifier.verify(&malformed),
        Err(VerifyError::Commitment { .. })
    ));
    // A proof of another architecture (fixed params): its key is not this one.
    let plain = prove(&common::model());
    assert!(matches!(
        verifier.verify(&plain),
        Err(VerifyError::ModelMismatch { .. })
    ));
    // A model that hashes its params but names no commitment verifies nothing.
    let mut nameless = file.clone();
    nameless.weights = None;
    let nameless = Verifier::setup(nameless, &common::cache()).unwrap();
    let mut renamed = bundle.clone();
    renamed.model_digest = nameless.model_digest().to_owned();
    let err = nameless.verify(&renamed).unwrap_err();
    assert!(
        err.to_string()
            .contains("records no valid weights commitment"),
        "{err}"
    );
    // A fixed-params verifier refuses a bundle that carries a weights commitment.
    let plain_verifier = self::verifier(&common::model());
    let mut extra = plain.clone();
    extra.weights_commitment = bundle.weights_commitment.clone();
    assert!(matches!(
        plain_verifier.verify(&extra),
        Err(VerifyError::Commitment { .. })
    ));
}

#[test]
fn everything_hashed_round_trips_and_inspect_shows_the_commitment() {
    let model = Arc::new(common::compile_with(visibility(
        Visibility::Hashed,
        Visibility::Hashed,
    )));
    let inspection = model.inspect().unwrap();
    let params = inspection
        .nodes
        .iter()
        .find(|n| n.name == "params commitment")
        .expect("a row for the parameters' commitment");
    let values = model.graph.params().values;
    assert_eq!(params.len, values[0].len() + values[1].len());
    assert!(params.rows.commit > 0 && params.rows.range > 0);
    assert_eq!(inspection.instances, 3, "three commitments, nothing else");
    assert!(inspection.to_string().contains("parameters hashed"));
    let bundle = prove(&model);
    assert!(bundle.outputs.is_empty() && bundle.public_input.is_none());
    verifier(&model.verifier_file().unwrap())
        .verify(&bundle)
        .unwrap();
}

#[test]
fn public_input_and_output_round_trip_with_hashed_params() {
    let model = Arc::new(common::compile_with(visibility(
        Visibility::Public,
        Visibility::Public,
    )));
    let bundle = prove(&model);
    let outputs = verifier(&model.verifier_file().unwrap())
        .verify(&bundle)
        .unwrap();
    // Hashing the parameters changes the circuit, not the integer semantics.
    let plain = common::model();
    let x = plain.quantise_input(&common::sample(), false).unwrap();
    let expected = plain
        .graph
        .outputs_to_float(&plain.witness(&x).unwrap().outputs());
    assert_eq!(outputs, expected);
}

#[test]
fn an_embedding_table_is_refused_naming_its_node() {
    let graph = zkinfer::onnx::import(&common::data("tiny_gpt.onnx")).unwrap();
    let eval = zkinfer::input::EvalSet::read(&common::data("tiny_gpt.eval.json")).unwrap();
    let options = zkinfer::CompileOptions {
        visibility: visibility(Visibility::Private, Visibility::Public),
        ..zkinfer::CompileOptions::default()
    };
    let err = CompiledModel::compile(&graph, &eval.inputs, &options)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("Gather") && err.contains("--param-visibility fixed"),
        "{err}"
    );
}
