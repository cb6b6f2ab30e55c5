//! Proving a model in parts (issue 13): the parts compose to the model exactly, links bind
//! consecutive parts, and a proof with a missing, extra, reordered, foreign or unlinked part
//! is rejected, naming the part.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers fail loudly

mod common;

use std::sync::Arc;

use common::onnx_build::{int_attr, model_io, node, sample, tensor};
use common::parts::{compile, integer_input, proof, samples, three_parts, verifier};
use zkinfer::api::felt_hex;
use zkinfer::error::VerifyError;
use zkinfer::graph::TensorId;
use zkinfer::onnx::import_bytes;
use zkinfer::{CompileOptions, CompiledModel, LinkSeed, PartedProof, PartedProver};

#[test]
fn crossing_tensors_include_the_skip_connection() {
    let model = compile(0);
    // Before the sigmoid: the ReLU's output `h` (read again by the Add) and the Dense's.
    assert_eq!(
        model.graph.crossing(3),
        vec![TensorId::of_node(1), TensorId::of_node(2)]
    );
    // Before the Add: `h` and the sigmoid's output, of different widths.
    let crossing = model.graph.crossing(4);
    assert_eq!(crossing, vec![TensorId::of_node(1), TensorId::of_node(3)]);
    let bits: Vec<u32> = crossing
        .iter()
        .map(|&t| model.graph.tensor(t).unwrap().bits)
        .collect();
    assert_eq!(bits, vec![16, 14]);
    // The input crosses no cut after the first node reads it.
    assert_eq!(model.graph.crossing(1), vec![TensorId::of_node(0)]);
}

#[test]
fn the_parts_compose_to_the_model_at_every_cut() {
    let model = compile(0);
    let n = model.graph.nodes.len();
    let mut splits: Vec<Vec<usize>> = (1..n).map(|c| vec![c]).collect();
    splits.push(vec![1, n - 2]);
    splits.push((1..n).collect());
    for cuts in splits {
        let parted = model.clone().split_at(&cuts).unwrap();
        let prover = PartedProver::new(&parted, common::cache()).unwrap();
        for s in 0..samples().len() {
            let x = integer_input(&model, s);
            let inputs = prover.part_inputs(&x).unwrap();
            let last = prover.parts().last().unwrap();
            let outputs = last.graph.eval(inputs.last().unwrap()).unwrap();
            assert_eq!(outputs, model.graph.eval(&x).unwrap(), "cuts {cuts:?}");
        }
    }
}

#[test]
fn every_part_holds_under_mock_prover_and_a_forged_link_value_breaks_the_commitment() {
    use zkinfer::circuit::InstanceLayout;
    let model = three_parts();
    let prover = PartedProver::new(&model, common::cache()).unwrap();
    let seed = LinkSeed::random();
    let x = integer_input(&model, 1);
    let inputs = prover.part_inputs(&x).unwrap();
    for (i, part) in prover.parts().iter().enumerate() {
        let w = part.witness(&inputs[i]).unwrap();
        assert_eq!(
            part.mock_salted(&w, &w.outputs(), &seed.salts(i)).unwrap(),
            vec![]
        );
    }
    // Part 2 run on other values than part 1 handed on: the instance holds the commitment
    // to the honest link values, the witness holds one changed value. Every op of the part
    // holds (it is an honest pass over the changed values); only the commitment's copy to the
    // instance fails.
    let part = &prover.parts()[2];
    assert_eq!(part.dot_width, 8);
    let salts = seed.salts(2);
    let mut forged = inputs[2].clone();
    forged[0] += 1;
    let w = part.witness(&forged).unwrap();
    let layout = InstanceLayout::of(&part.graph, &part.visibility);
    let commitments = layout.commit(&w.outputs(), &inputs[2], &salts).unwrap();
    let public = layout.values(&w.outputs(), &inputs[2], &commitments);
    let described = common::mock_instance(part, &w, salts, public);
    assert!(
        described.iter().any(|f| f.contains("Instance"))
            && described
                .iter()
                .all(|f| f.contains("Equality constraint not satisfied")),
        "{described:?}"
    );
}

#[test]
fn a_proof_in_parts_verifies_and_gives_the_models_outputs() {
    let (proof, outputs) = proof();
    let model = three_parts();
    assert_eq!(proof.parts.len(), 3);
    let x = integer_input(&model, 0);
    assert_eq!(
        *outputs,
        model.graph.outputs_to_float(&model.graph.eval(&x).unwrap())
    );
    assert_eq!(proof.outputs_float(), outputs.as_slice());
    // The links are hashed: no intermediate value is in the proof.
    for p in &proof.parts[..2] {
        assert!(p.outputs.is_empty() && p.output_commitment.is_some());
    }
}

#[test]
fn missing_extra_and_reordered_parts_are_named() {
    let (proof, _) = proof();
    let v = verifier();
    let mut missing = proof.clone();
    missing.parts.pop();
    assert!(matches!(
        v.verify(&missing),
        Err(VerifyError::PartCount {
            expected: 3,
            got: 2
        })
    ));
    let mut extra = proof.clone();
    extra.parts.push(proof.parts[2].clone());
    assert!(matches!(
        v.verify(&extra),
        Err(VerifyError::PartCount {
            expected: 3,
            got: 4
        })
    ));
    let mut swapped = proof.clone();
    swapped.parts.swap(0, 1);
    let e = v.verify(&swapped).unwrap_err();
    assert!(matches!(e, VerifyError::Part { part: 0, .. }), "{e}");
    assert!(e.to_string().contains("is part 1's"), "{e}");
}

#[test]
fn a_part_of_another_model_is_named() {
    let (proof, _) = proof();
    let other = Arc::new(compile(1).split_at(&[1, 4]).unwrap());
    let prover = PartedProver::new(&other, common::cache()).unwrap();
    let seed = LinkSeed::random();
    let (foreign, _) = prover
        .prove_part(&integer_input(&other, 0), 2, &seed)
        .unwrap();
    let mut mixed = proof.clone();
    mixed.parts[2] = foreign;
    let e = verifier().verify(&mixed).unwrap_err();
    assert!(matches!(e, VerifyError::Part { part: 2, .. }), "{e}");
    assert!(
        e.to_string().contains("not for part 2 of this model"),
        "{e}"
    );
}

#[test]
fn parts_of_two_inferences_do_not_link() {
    let (proof, _) = proof();
    let model = three_parts();
    let prover = PartedProver::new(&model, common::cache()).unwrap();
    // The same input under another seed: the same values, other salts.
    let (other, _) = prover
        .prove_part(&integer_input(&model, 0), 1, &LinkSeed::random())
        .unwrap();
    let mut mixed = proof.clone();
    mixed.parts[1] = other;
    let e = verifier().verify(&mixed).unwrap_err();
    assert!(matches!(e, VerifyError::Link { from: 0, .. }), "{e}");
}

#[test]
fn a_forged_link_commitment_fails_both_parts_proofs() {
    let (proof, _) = proof();
    // Both sides of link 0 name one other commitment: the links match, the proofs do not.
    let mut forged = proof.clone();
    let other = felt_hex(&LinkSeed::random().salt(0));
    forged.parts[0].output_commitment = Some(other.clone());
    forged.parts[1].input_commitment = Some(other);
    let e = verifier().verify(&forged).unwrap_err();
    assert!(
        matches!(&e, VerifyError::Part { part: 0, source } if matches!(**source, VerifyError::InvalidProof(_))),
        "{e}"
    );
    // A changed final output fails the last part.
    let mut changed = proof.clone();
    changed.parts[2].outputs[0] += 1;
    changed.parts[2].outputs_float = three_parts()
        .part_models()
        .unwrap()
        .last()
        .unwrap()
        .graph
        .outputs_to_float(&changed.parts[2].outputs);
    let e = verifier().verify(&changed).unwrap_err();
    assert!(matches!(e, VerifyError::Part { part: 2, .. }), "{e}");
}

#[test]
fn parts_proven_separately_assemble_into_a_proof() {
    let model = three_parts();
    let prover = PartedProver::new(&model, common::cache()).unwrap();
    let seed = LinkSeed::parse(&"07".repeat(32)).unwrap();
    let x = integer_input(&model, 3);
    let parts = (0..3)
        .map(|i| prover.prove_part(&x, i, &seed).unwrap().0)
        .collect();
    let proof = PartedProof {
        format_version: zkinfer::api::BUNDLE_FORMAT_VERSION,
        parts,
    };
    let outputs = verifier().verify(&proof).unwrap();
    assert_eq!(
        outputs,
        model.graph.outputs_to_float(&model.graph.eval(&x).unwrap())
    );
    assert!(LinkSeed::parse("xyz").is_err());
}

/// A deep ReLU MLP: `layers` Gemm + ReLU pairs of `width` units.
fn deep_onnx(layers: usize, width: usize) -> Vec<u8> {
    let w: Vec<f32> = (0..width * width)
        .map(|i| (((i * 7 + 3) % 13) as f32) / 12.0 - 0.5)
        .collect();
    let mut nodes = Vec::new();
    let mut last = "x".to_string();
    for l in 0..layers {
        let (a, h) = (format!("a{l}"), format!("h{l}"));
        nodes.push(node("Gemm", &[&last, "w"], &a, vec![int_attr("transB", 1)]));
        nodes.push(node("Relu", &[&a], &h, vec![]));
        last = h;
    }
    model_io(
        nodes,
        vec![tensor("w", &[width as i64, width as i64], &w)],
        &[("x", &[1, width as i64])],
        &last,
        13,
    )
}

#[test]
fn max_k_cuts_a_model_into_parts_that_fit() {
    let graph = import_bytes(&deep_onnx(12, 48), "deep").unwrap();
    let samples: Vec<Vec<f32>> = (0..4).map(|s| sample(48, s)).collect();
    let whole = CompiledModel::compile(&graph, &samples, &CompileOptions::default()).unwrap();
    let k = whole.layout().unwrap().k;
    let options = CompileOptions {
        budget: zkinfer::circuit::cost::Budget {
            max_k: Some(k - 1),
            memory_bytes: None,
        },
        ..CompileOptions::default()
    };
    let model = CompiledModel::compile(&graph, &samples, &options).unwrap();
    assert!(model.is_parted());
    for part in model.part_models().unwrap() {
        assert!(part.layout().unwrap().k < k);
    }
    let x = model.quantise_input(&samples[1], false).unwrap();
    let prover = PartedProver::new(&model, common::cache()).unwrap();
    let inputs = prover.part_inputs(&x).unwrap();
    let last = prover.parts().last().unwrap();
    assert_eq!(
        last.graph.eval(inputs.last().unwrap()).unwrap(),
        whole.graph.eval(&x).unwrap()
    );
    // A model that fits is proven whole.
    let fits = CompileOptions {
        budget: zkinfer::circuit::cost::Budget {
            max_k: Some(k),
            memory_bytes: None,
        },
        ..CompileOptions::default()
    };
    assert!(!CompiledModel::compile(&graph, &samples, &fits)
        .unwrap()
        .is_parted());
    // A node that alone needs more is named.
    let tiny = CompileOptions {
        budget: zkinfer::circuit::cost::Budget {
            max_k: Some(8),
            memory_bytes: None,
        },
        ..CompileOptions::default()
    };
    let e = CompiledModel::compile(&graph, &samples, &tiny).unwrap_err();
    assert!(e.to_string().contains("raise --max-k"), "{e}");
}

#[test]
fn a_parted_model_file_round_trips_and_bad_parts_are_refused() {
    let model = three_parts();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.zkm");
    model.save(&path).unwrap();
    assert_eq!(CompiledModel::load(&path).unwrap(), *model);
    let text = std::fs::read_to_string(&path).unwrap();
    let mut value: serde_json::Value = serde_json::from_str(&text).unwrap();
    for bad in [
        serde_json::json!([{"start": 1, "dot_width": 8}, {"start": 3, "dot_width": 8}]),
        serde_json::json!([{"start": 0, "dot_width": 8}, {"start": 0, "dot_width": 8}]),
        serde_json::json!([{"start": 0, "dot_width": 8}, {"start": 99, "dot_width": 8}]),
        serde_json::json!([{"start": 0, "dot_width": 8}]),
        serde_json::json!([{"start": 0, "dot_width": 8}, {"start": 3, "dot_width": 7}]),
    ] {
        value["parts"] = bad.clone();
        let e = CompiledModel::from_json(value.to_string().as_bytes(), "m").unwrap_err();
        assert!(
            e.to_string().contains("part") || e.to_string().contains("width"),
            "{bad}: {e}"
        );
    }
    // Whole-model APIs refuse a parted model with a reason.
    let e = zkinfer::Prover::setup(Arc::clone(&model), &common::cache()).unwrap_err();
    assert!(e.to_string().contains("parts"), "{e}");
}

#[test]
fn link_values_count_every_crossing_tensor_at_every_cut() {
    let model = compile(0);
    let n = model.graph.nodes.len();
    let all: Vec<usize> = (1..n).collect();
    for cuts in [vec![1], vec![4], vec![1, n - 2], all] {
        let by_crossing: usize = cuts
            .iter()
            .flat_map(|&c| model.graph.crossing(c))
            .map(|t| model.graph.tensor(t).unwrap().len)
            .sum();
        assert_eq!(
            model.graph.link_values(&cuts),
            by_crossing as u128,
            "{cuts:?}"
        );
    }
}

#[test]
fn proofs_in_parts_verify_in_a_batch_and_a_bad_one_fails_it() {
    let (first, _) = proof();
    let model = three_parts();
    let prover = PartedProver::new(&model, common::cache()).unwrap();
    let (second, _) = prover.prove(&integer_input(&model, 2)).unwrap();
    let v = verifier();
    v.verify_batch(&[first.clone(), second.clone()]).unwrap();
    let mut bad = second.clone();
    bad.parts[1].proof.replace_range(0..2, "00");
    let e = v.verify_batch(&[first.clone(), bad]).unwrap_err();
    assert!(matches!(e, VerifyError::Part { part: 1, .. }), "{e}");
    let mut unlinked = second;
    unlinked.parts[1] = first.parts[1].clone();
    let e = v.verify_batch(&[first.clone(), unlinked]).unwrap_err();
    assert!(matches!(e, VerifyError::Link { .. }), "{e}");
}

#[test]
fn many_inferences_build_each_parts_keys_once_and_do_not_link_across() {
    use zkinfer::{PartEvent, Phase};
    let model = three_parts();
    let prover = PartedProver::new(&model, common::cache()).unwrap();
    let xs: Vec<Vec<i64>> = (0..3).map(|s| integer_input(&model, s)).collect();
    let mut events: Vec<PartEvent> = Vec::new();
    zkinfer::counters::take();
    let proofs = prover
        .prove_many(&xs, |_| LinkSeed::random(), |e| events.push(e))
        .unwrap();
    assert_eq!(zkinfer::counters::take().proving_keys, 3);
    // Keys once per part, part after part; a witness and a proof per part and inference.
    let ended = |phase| {
        events
            .iter()
            .filter(|e| e.phase == phase && e.took.is_some())
            .map(|e| (e.part, e.inference))
            .collect::<Vec<_>>()
    };
    assert_eq!(ended(Phase::Keys), vec![(0, None), (1, None), (2, None)]);
    let each: Vec<(usize, Option<usize>)> = (0..3)
        .flat_map(|p| (0..3).map(move |s| (p, Some(s))))
        .collect();
    assert_eq!(ended(Phase::Witness), each);
    assert_eq!(ended(Phase::Proof), each);
    // Every phase starts before it ends, and the next one starts after.
    assert_eq!(events.len(), 2 * (3 + 9 + 9));
    assert!(events.chunks(2).all(|c| c[0].took.is_none()
        && c[1].took.is_some()
        && (c[0].part, c[0].inference, c[0].phase) == (c[1].part, c[1].inference, c[1].phase)));
    for (s, (proof, _)) in proofs.iter().enumerate() {
        let outputs = verifier().verify(proof).unwrap();
        let x = &xs[s];
        assert_eq!(
            outputs,
            model.graph.outputs_to_float(&model.graph.eval(x).unwrap())
        );
    }
    // Each inference drew its own seed: a part of one does not link into another.
    let mut mixed = proofs[0].0.clone();
    mixed.parts[1] = proofs[1].0.parts[1].clone();
    let e = verifier().verify(&mixed).unwrap_err();
    assert!(matches!(e, VerifyError::Link { from: 0, .. }), "{e}");
}

#[test]
fn a_part_proven_alone_keeps_its_keys_for_the_next_inference() {
    let model = three_parts();
    let prover = PartedProver::new(&model, common::cache()).unwrap();
    let seed = LinkSeed::random();
    let x = integer_input(&model, 0);
    zkinfer::counters::take();
    let (first, _) = prover.prove_part(&x, 1, &seed).unwrap();
    let (second, _) = prover.prove_part(&x, 1, &seed).unwrap();
    assert_eq!(zkinfer::counters::take().proving_keys, 1);
    // The same part under the same seed commits to the same link values.
    assert_eq!(first.input_commitment, second.input_commitment);
    assert_eq!(first.output_commitment, second.output_commitment);
    // Another part drops them and builds its own.
    let (other, _) = prover.prove_part(&x, 2, &seed).unwrap();
    assert_eq!(zkinfer::counters::take().proving_keys, 1);
    assert_eq!(other.input_commitment, first.output_commitment);
}
