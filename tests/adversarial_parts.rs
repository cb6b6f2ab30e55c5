#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Adversarial review of proving in parts (issue 13): attempts to make `PartedVerifier`
//! accept outputs the model's integer pass does not produce, to combine parts of different
//! inferences or models, or to make a crafted `parts` list in a model file mislead, crash or
//! stall the verifier. Each test asserts the attack is refused (and how).

mod common;

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use common::onnx_build::{int_attr, model_io, node, sample, tensor};
use halo2_proofs::dev::MockProver;
use zkinfer::api::{PartSpec, BUNDLE_FORMAT_VERSION};
use zkinfer::circuit::{InstanceLayout, ModelCircuit};
use zkinfer::error::VerifyError;
use zkinfer::graph::ir::Source;
use zkinfer::graph::qgraph::{QGraph, QNode, QOp, QTensor, Wiring};
use zkinfer::graph::TensorId;
use zkinfer::onnx::import_bytes;
use zkinfer::{
    CompileOptions, CompiledModel, LinkSeed, PartedProof, PartedProver, PartedVerifier, Prover,
    Visibilities, Visibility,
};

// ---------------------------------------------------------------------------------------
// Fixtures (the residual model of tests/parts.rs, and a variant whose input is read again by
// the last nodes, so it passes through every intermediate part).

fn weights(n: usize, s: usize, seed: usize) -> Vec<f32> {
    (0..n)
        .map(|i| (((i * 7 + s * 13 + seed * 5) % 11) as f32) / 10.0 - 0.5)
        .collect()
}

/// `h = relu(W1·x + b1)`, `g = sigmoid(W2·h)`, `r = h + g`, `y = W3·r`; with `skip_input`
/// also `z = y + W4·x`, the input read again at the very end.
fn residual_onnx(seed: usize, skip_input: bool) -> Vec<u8> {
    let w = |n, s| weights(n, s, seed);
    let mut nodes = vec![
        node("Gemm", &["x", "w1", "b1"], "a", vec![int_attr("transB", 1)]),
        node("Relu", &["a"], "h", vec![]),
        node("Gemm", &["h", "w2"], "c", vec![int_attr("transB", 1)]),
        node("Sigmoid", &["c"], "g", vec![]),
        node("Add", &["h", "g"], "r", vec![]),
        node("Gemm", &["r", "w3"], "y", vec![int_attr("transB", 1)]),
    ];
    let mut inits = vec![
        tensor("w1", &[12, 8], &w(96, 1)),
        tensor("b1", &[12], &w(12, 2)),
        tensor("w2", &[12, 12], &w(144, 3)),
        tensor("w3", &[4, 12], &w(48, 4)),
    ];
    let out = if skip_input {
        nodes.push(node("Gemm", &["x", "w4"], "s", vec![int_attr("transB", 1)]));
        nodes.push(node("Add", &["y", "s"], "z", vec![]));
        inits.push(tensor("w4", &[4, 8], &w(32, 5)));
        "z"
    } else {
        "y"
    };
    model_io(nodes, inits, &[("x", &[1, 8])], out, 13)
}

fn samples() -> Vec<Vec<f32>> {
    (0..6).map(|s| sample(8, s)).collect()
}

/// The model, its sigmoid's output declared as narrow as its table allows (a cut then
/// carries tensors of different widths), with `visibility`.
fn compile_with(seed: usize, skip_input: bool, visibility: Visibilities) -> CompiledModel {
    let graph = import_bytes(&residual_onnx(seed, skip_input), "residual").unwrap();
    let options = CompileOptions {
        visibility,
        ..CompileOptions::default()
    };
    let model = CompiledModel::compile(&graph, &samples(), &options).unwrap();
    let mut graph = model.graph.clone();
    let sigmoid = graph
        .nodes
        .iter_mut()
        .find(|n| matches!(n.op, QOp::Lookup(_)))
        .unwrap();
    sigmoid.output.bits = u32::try_from(sigmoid.output.scale_exp).unwrap() + 2;
    CompiledModel::from_graph(graph, model.visibility).unwrap()
}

fn compile(seed: usize) -> CompiledModel {
    compile_with(seed, false, Visibilities::default())
}

fn integer_input(model: &CompiledModel, s: usize) -> Vec<i64> {
    model.quantise_input(&samples()[s], false).unwrap()
}

/// The residual model cut in three parts, the middle cut across the skip connection.
fn three_parts() -> Arc<CompiledModel> {
    static MODEL: OnceLock<Arc<CompiledModel>> = OnceLock::new();
    MODEL
        .get_or_init(|| {
            let model = compile(0);
            let n = model.graph.nodes.len();
            Arc::new(model.split_at(&[1, n - 2]).unwrap())
        })
        .clone()
}

fn verifier() -> &'static PartedVerifier {
    static VERIFIER: OnceLock<PartedVerifier> = OnceLock::new();
    VERIFIER.get_or_init(|| PartedVerifier::setup(&three_parts(), &common::cache()).unwrap())
}

/// One honest proof of the three-part model (three real proofs, made once).
fn proof() -> &'static PartedProof {
    static PROOF: OnceLock<PartedProof> = OnceLock::new();
    PROOF.get_or_init(|| {
        let model = three_parts();
        let prover = PartedProver::new(&model, common::cache()).unwrap();
        let (proof, _) = prover.prove(&integer_input(&model, 0)).unwrap();
        verifier().verify(&proof).unwrap();
        proof
    })
}

fn is_part_error(e: &VerifyError, part: usize, inner: fn(&VerifyError) -> bool) -> bool {
    matches!(e, VerifyError::Part { part: p, source } if *p == part && inner(source))
}

// ---------------------------------------------------------------------------------------
// The integer graphs of the parts: widths and order of what crosses a cut.

/// Every way to cut a model of `n` nodes once, twice, and before every node.
fn splits(n: usize) -> Vec<Vec<usize>> {
    let mut splits: Vec<Vec<usize>> = (1..n).map(|c| vec![c]).collect();
    for a in 1..n {
        for b in a + 1..n {
            splits.push(vec![a, b]);
        }
    }
    splits.push((1..n).collect());
    splits
}

/// Attack: a packing-width or length mismatch between part `i`'s output commitment and part
/// `i + 1`'s input commitment would let one field element stand for two different value
/// lists. At every cut of every split (skip connections and the model input passing
/// through intermediate parts included), the two commitments cover the same number of
/// values at the same width, and honest values commit to the same element on both sides.
#[test]
fn link_commitments_agree_in_length_and_width_at_every_cut() {
    for skip_input in [false, true] {
        let model = compile_with(0, skip_input, Visibilities::default());
        let n = model.graph.nodes.len();
        if skip_input {
            // The input crosses every cut: it is read again at the end.
            for cut in 1..n - 1 {
                assert!(
                    model.graph.crossing(cut).contains(&TensorId::INPUT),
                    "cut {cut}"
                );
            }
        }
        let x = integer_input(&model, 2);
        let expected = model.graph.eval(&x).unwrap();
        for cuts in splits(n) {
            let parted = model.clone().split_at(&cuts).unwrap();
            let parts = parted.part_models().unwrap();
            let seed = LinkSeed::random();
            let mut input = x.clone();
            for (i, pair) in parts.windows(2).enumerate() {
                let (a, b) = (&pair[0], &pair[1]);
                let la = InstanceLayout::of(&a.graph, &a.visibility);
                let lb = InstanceLayout::of(&b.graph, &b.visibility);
                let out = la.commitments(&a.graph);
                let inp = lb.commitments(&b.graph);
                let out_c = out.iter().find(|c| c.0 == "output commitment").unwrap();
                let in_c = inp.iter().find(|c| c.0 == "input commitment").unwrap();
                assert_eq!(
                    (out_c.1, out_c.2),
                    (in_c.1, in_c.2),
                    "cuts {cuts:?}, link {i}"
                );
                // The link is exactly the model tensors crossing the cut, in id order.
                let crossing = model.graph.crossing(cuts[i]);
                let len: usize = crossing
                    .iter()
                    .map(|&t| model.graph.tensor(t).unwrap().len)
                    .sum();
                let bits = crossing
                    .iter()
                    .map(|&t| model.graph.tensor(t).unwrap().bits)
                    .max()
                    .unwrap();
                assert_eq!((b.graph.input.len, b.graph.input.bits), (len, bits));
                // Honest values: the same commitment on both sides.
                let handed = a.graph.eval(&input).unwrap();
                let salts_a = seed.salts(i);
                let salts_b = seed.salts(i + 1);
                let ca = la.commit(&handed, &input, &salts_a).unwrap();
                let cb = lb
                    .commit(&b.graph.eval(&handed).unwrap(), &handed, &salts_b)
                    .unwrap();
                assert_eq!(ca.output, cb.input, "cuts {cuts:?}, link {i}");
                input = handed;
            }
            let last = parts.last().unwrap();
            assert_eq!(last.graph.eval(&input).unwrap(), expected, "cuts {cuts:?}");
        }
    }
}

/// Attack: the narrowing identity Affine. Part 2's link is `[h (16 bits), g (14 bits)]`,
/// range-checked to 16 bits as a whole; a value of `g` outside its own 14 bits but inside 16
/// would reach the next nodes unchecked if the identity Affine did not range-check. A
/// witness carrying one such value fails a range lookup in the circuit.
#[test]
fn a_link_value_outside_its_own_width_is_refused_by_the_narrowing_affine() {
    let model = three_parts();
    let prover = PartedProver::new(&model, common::cache()).unwrap();
    let x = integer_input(&model, 1);
    let inputs = prover.part_inputs(&x).unwrap();
    let part = &prover.parts()[2];
    // The narrowing node and the position of `g` in the link.
    let narrow = part
        .graph
        .nodes
        .iter()
        .position(|n| n.name.ends_with("(range-checked)"))
        .expect("part 2 narrows the sigmoid's output");
    assert_eq!(part.graph.nodes[narrow].output.bits, 14);
    assert_eq!(part.graph.input.bits, 16);
    let QOp::Wiring(sources) = &part.graph.nodes[narrow - 1].op else {
        panic!("a slice feeds the narrowing node");
    };
    let Source::Element { index: at, .. } = sources[0] else {
        panic!("a slice reads the link");
    };
    // The forged witness: eval the part with the narrowing node declared 16 bits wide.
    let forged_value = (1i64 << 13) + 100;
    let mut input = inputs[2].clone();
    input[at] = forged_value;
    let mut wide = (**part).clone();
    wide.graph.nodes[narrow].output.bits = 16;
    for node in &mut wide.graph.nodes[narrow + 1..] {
        node.output.bits = node.output.bits.max(16);
    }
    let witness = match wide.witness(&input) {
        Ok(w) => w,
        Err(e) => panic!("the widened part still evaluates: {e}"),
    };
    let seed = LinkSeed::random();
    let salts = seed.salts(2);
    let layout = InstanceLayout::of(&part.graph, &part.visibility);
    let outputs = witness.outputs();
    // Public values as the forger wants them: its own link and its own outputs (clamped
    // into the declared output range so the commitment computes).
    let commitments = match layout.commit(&outputs, &input, &salts) {
        Ok(c) => c,
        Err(_) => layout
            .commit(
                &outputs
                    .iter()
                    .map(|v| (*v).clamp(-(1 << 15), (1 << 15) - 1))
                    .collect::<Vec<_>>(),
                &input,
                &salts,
            )
            .unwrap(),
    };
    let public = layout.values(&outputs, &input, &commitments);
    let k = part.layout().unwrap().k;
    assert_eq!(part.dot_width, 8);
    let circuit =
        ModelCircuit::<8, true>::for_proving(&part.graph, &part.visibility, &witness, salts);
    let failures = MockProver::run(k, &circuit, vec![public])
        .unwrap()
        .verify()
        .expect_err("a value outside its tensor's width must not pass");
    let described = zkinfer_circuits::dev::describe(&failures, zkinfer::circuit::LOOKUP_NAMES);
    // Exactly the narrowing node's range check fails, nothing else.
    assert!(
        described.len() == 1
            && described[0].contains("lookup")
            && described[0].contains("(range-checked) quotient"),
        "{described:?}"
    );
}

/// Attack: change a tensor that only passes through an intermediate part. The model's input
/// is read again by the last nodes, so it crosses both cuts of the split `[2, n - 2]`; the
/// middle part's output commitment over a changed copy of it does not match its circuit.
#[test]
fn a_tensor_passed_through_an_intermediate_part_cannot_change_there() {
    let model = compile_with(0, true, Visibilities::default());
    let n = model.graph.nodes.len();
    let parted = model.clone().split_at(&[2, n - 2]).unwrap();
    let prover = PartedProver::new(&parted, common::cache()).unwrap();
    let x = integer_input(&parted, 3);
    let inputs = prover.part_inputs(&x).unwrap();
    let part = &prover.parts()[1];
    let seed = LinkSeed::random();
    let salts = seed.salts(1);
    let witness = part.witness(&inputs[1]).unwrap();
    assert_eq!(
        part.mock_salted(&witness, &witness.outputs(), &salts)
            .unwrap(),
        vec![]
    );
    // The input is the first crossing tensor of the output link (id order): change its
    // first value in the handed-on values only.
    assert_eq!(parted.graph.crossing(n - 2)[0], TensorId::INPUT);
    let mut handed = witness.outputs();
    handed[0] = if handed[0] == 0 { 1 } else { 0 };
    let failures = part.mock_salted(&witness, &handed, &salts).unwrap();
    assert!(!failures.is_empty());
}

// ---------------------------------------------------------------------------------------
// Proof-level attacks on an honest three-part proof.

#[test]
fn tampered_link_commitments_are_refused() {
    let proof = proof();
    let v = verifier();

    // Both sides of a link dropped: "nothing" links nothing.
    let mut none = proof.clone();
    none.parts[0].output_commitment = None;
    none.parts[1].input_commitment = None;
    let e = v.verify(&none).unwrap_err();
    assert!(matches!(e, VerifyError::Link { from: 0, .. }), "{e}");

    // Link 1's commitment copied onto link 0: the strings match, part 0's proof does not.
    let mut dup = proof.clone();
    let c1 = dup.parts[1].output_commitment.clone();
    dup.parts[0].output_commitment = c1.clone();
    dup.parts[1].input_commitment = c1;
    let e = v.verify(&dup).unwrap_err();
    assert!(
        is_part_error(&e, 0, |s| matches!(s, VerifyError::InvalidProof(_))),
        "{e}"
    );

    // The same element spelt differently on both sides (uppercase hex, or plus the
    // modulus): equal strings, but not the canonical spelling, refused before any proof.
    let c0 = proof.parts[0].output_commitment.clone().unwrap();
    for spelling in [c0.to_uppercase(), non_canonical(&c0)] {
        let mut odd = proof.clone();
        odd.parts[0].output_commitment = Some(spelling.clone());
        odd.parts[1].input_commitment = Some(spelling);
        let e = v.verify(&odd).unwrap_err();
        assert!(
            is_part_error(&e, 0, |s| matches!(s, VerifyError::Commitment { .. })),
            "{e}"
        );
    }

    // One side changed only: refused as a broken link, before any cryptography.
    let mut one = proof.clone();
    one.parts[1].input_commitment = one.parts[2].input_commitment.clone();
    let e = v.verify(&one).unwrap_err();
    assert!(matches!(e, VerifyError::Link { from: 0, .. }), "{e}");

    // The last part's public outputs also offered as a commitment (output hashed there?).
    let mut both = proof.clone();
    both.parts[2].output_commitment = Some(c0.clone());
    let e = v.verify(&both).unwrap_err();
    assert!(
        is_part_error(&e, 2, |s| matches!(s, VerifyError::Commitment { .. })),
        "{e}"
    );

    // An intermediate part showing values besides its commitment.
    let mut shown = proof.clone();
    shown.parts[0].outputs = vec![0; 12];
    shown.parts[0].outputs_float = vec![0.0; 12];
    let e = v.verify(&shown).unwrap_err();
    assert!(
        is_part_error(&e, 0, |s| matches!(s, VerifyError::Shape { .. })),
        "{e}"
    );

    // A private input offered as public on the first part.
    let mut public = proof.clone();
    public.parts[0].public_input = Some(vec![0; 8]);
    let e = v.verify(&public).unwrap_err();
    assert!(
        is_part_error(&e, 0, |s| matches!(s, VerifyError::Shape { .. })),
        "{e}"
    );

    // An input commitment added to the first part, whose input is private.
    let mut input = proof.clone();
    input.parts[0].input_commitment = Some(c0);
    let e = v.verify(&input).unwrap_err();
    assert!(
        is_part_error(&e, 0, |s| matches!(s, VerifyError::Commitment { .. })),
        "{e}"
    );

    // Other format versions, of the whole proof or of a part.
    let mut version = proof.clone();
    version.format_version += 1;
    assert!(matches!(
        v.verify(&version),
        Err(VerifyError::FormatVersion { .. })
    ));
    let mut circuit = proof.clone();
    circuit.parts[1].circuit_version += 1;
    let e = v.verify(&circuit).unwrap_err();
    assert!(
        is_part_error(&e, 1, |s| matches!(s, VerifyError::CircuitVersion { .. })),
        "{e}"
    );

    // An empty proof, and a proof of one part repeated three times.
    let empty = PartedProof {
        format_version: BUNDLE_FORMAT_VERSION,
        parts: Vec::new(),
    };
    assert!(matches!(
        v.verify(&empty),
        Err(VerifyError::PartCount { got: 0, .. })
    ));
    let mut same = proof.clone();
    same.parts = vec![proof.parts[1].clone(); 3];
    let e = v.verify(&same).unwrap_err();
    assert!(matches!(e, VerifyError::Part { part: 0, .. }), "{e}");
    assert!(e.to_string().contains("is part 1's"), "{e}");

    // The honest proof still verifies after all this.
    v.verify(proof).unwrap();
}

/// `text` (a canonical element's 64 hex digits, little-endian) plus the field's modulus, if
/// that still fits 256 bits; else the same digits with a leading-zero byte changed.
fn non_canonical(text: &str) -> String {
    // Pallas base field modulus p = 0x40000000000000000000000000000000224698fc094cf91b992d30ed00000001.
    let p = hex_le("40000000000000000000000000000000224698fc094cf91b992d30ed00000001");
    let mut v = [0u8; 32];
    hex::decode_to_slice(text, &mut v).unwrap();
    let mut carry = 0u16;
    for i in 0..32 {
        let s = u16::from(v[i]) + u16::from(p[i]) + carry;
        v[i] = (s & 0xff) as u8;
        carry = s >> 8;
    }
    assert_eq!(carry, 0, "x + p fits 256 bits for x < 2^254");
    hex::encode(v)
}

fn hex_le(be: &str) -> [u8; 32] {
    let mut b = [0u8; 32];
    hex::decode_to_slice(be, &mut b).unwrap();
    b.reverse();
    b
}

/// Attack: swap part proofs between two models of the same architecture and cuts but other
/// weights. Every foreign part is named by its digest, whatever its place.
#[test]
fn parts_of_a_model_of_the_same_architecture_are_refused() {
    let proof = proof();
    let model = three_parts();
    let n = model.graph.nodes.len();
    let other = Arc::new(compile(1).split_at(&[1, n - 2]).unwrap());
    assert_eq!(other.parts, model.parts);
    let prover = PartedProver::new(&other, common::cache()).unwrap();
    // A part proof of the other model, made with the seed of... any: the links are checked
    // after the digests.
    let (foreign, _) = prover
        .prove_part(&integer_input(&other, 0), 1, &LinkSeed::random())
        .unwrap();
    let mut mixed = proof.clone();
    // Make the links match the foreign part, so only the digest can refuse it.
    mixed.parts[0].output_commitment = foreign.input_commitment.clone();
    mixed.parts[2].input_commitment = foreign.output_commitment.clone();
    mixed.parts[1] = foreign;
    let e = verifier().verify(&mixed).unwrap_err();
    assert!(matches!(e, VerifyError::Part { part: 1, .. }), "{e}");
    assert!(e.to_string().contains("not for part 1"), "{e}");
    // And with its digest relabelled as ours: the proof fails against our key.
    let mut relabelled = mixed.clone();
    relabelled.parts[1].model_digest = proof.parts[1].model_digest.clone();
    let e = verifier().verify(&relabelled).unwrap_err();
    assert!(matches!(e, VerifyError::Part { .. }), "{e}");
    assert!(
        matches!(&e, VerifyError::Part { source, .. } if matches!(**source, VerifyError::InvalidProof(_))),
        "{e}"
    );
}

// ---------------------------------------------------------------------------------------
// Crafted `parts` lists in model files.

fn model_value() -> serde_json::Value {
    serde_json::to_value(&*three_parts()).unwrap()
}

fn load_with_parts(parts: serde_json::Value) -> Result<CompiledModel, String> {
    let mut value = model_value();
    value["parts"] = parts;
    CompiledModel::from_json(value.to_string().as_bytes(), "crafted").map_err(|e| e.to_string())
}

#[test]
fn crafted_part_lists_are_refused_without_panic_or_stall() {
    let n = three_parts().graph.nodes.len();
    let started = Instant::now();
    let huge = u64::MAX;
    for bad in [
        serde_json::json!([{"start": 0, "dot_width": 8}, {"start": huge, "dot_width": 8}]),
        serde_json::json!([{"start": huge, "dot_width": 8}, {"start": 0, "dot_width": 8}]),
        serde_json::json!([{"start": 0, "dot_width": 8}, {"start": n, "dot_width": 8}]),
        serde_json::json!([{"start": 0, "dot_width": 8}, {"start": 2, "dot_width": 1}]),
        serde_json::json!([{"start": 0, "dot_width": 8}, {"start": 2, "dot_width": huge}]),
        serde_json::json!([{"start": 0, "dot_width": 0}, {"start": 2, "dot_width": 8}]),
        serde_json::json!([{"start": 0, "dot_width": 8}, {"start": 3, "dot_width": 8}, {"start": 2, "dot_width": 8}]),
    ] {
        let e = load_with_parts(bad.clone()).unwrap_err();
        assert!(
            e.contains("part") || e.contains("width") || e.contains("range"),
            "{bad}: {e}"
        );
    }
    // Not even parseable: negative, fractional, unknown fields, missing fields.
    for bad in [
        serde_json::json!([{"start": -1, "dot_width": 8}, {"start": 2, "dot_width": 8}]),
        serde_json::json!([{"start": 0.5, "dot_width": 8}, {"start": 2, "dot_width": 8}]),
        serde_json::json!([{"start": 0, "dot_width": 8, "k": 3}, {"start": 2, "dot_width": 8}]),
        serde_json::json!([{"start": 0}, {"start": 2, "dot_width": 8}]),
    ] {
        assert!(load_with_parts(bad.clone()).is_err(), "{bad}");
    }
    // A million parts (most beyond the graph): refused by the cheap checks, quickly.
    let many: Vec<serde_json::Value> = (0..1_000_000u64)
        .map(|s| serde_json::json!({"start": s, "dot_width": 8}))
        .collect();
    assert!(load_with_parts(serde_json::Value::Array(many)).is_err());
    assert!(started.elapsed().as_secs() < 60, "{:?}", started.elapsed());
    // Every node its own part: accepted, and the parts still compose to the model.
    let every: Vec<serde_json::Value> = (0..n)
        .map(|s| serde_json::json!({"start": s, "dot_width": 8}))
        .collect();
    let model = load_with_parts(serde_json::Value::Array(every)).unwrap();
    let prover = PartedProver::new(&model, common::cache()).unwrap();
    for s in 0..samples().len() {
        let x = integer_input(&model, s);
        let inputs = prover.part_inputs(&x).unwrap();
        let last = prover.parts().last().unwrap();
        assert_eq!(
            last.graph.eval(inputs.last().unwrap()).unwrap(),
            model.graph.eval(&x).unwrap()
        );
    }
}

/// Attack: a model whose `parts` list does not start at node 0, built without the model
/// file's checks (its fields are public; `CompiledModel` deserialises with plain serde).
/// Its first part would take the link before node `start` as its (private) input, so its
/// outputs are those of the graph's tail on any value: `PartedVerifier::setup` (and the
/// prover) must refuse it as `CompiledModel::from_json` does.
#[test]
fn parts_that_skip_the_first_nodes_are_refused_by_the_verifier_too() {
    let model = three_parts();
    let n = model.graph.nodes.len();
    let mut value = model_value();
    value["parts"] = serde_json::json!([
        {"start": 2, "dot_width": 8},
        {"start": n - 2, "dot_width": 8},
    ]);
    // The model file path refuses it...
    let e = CompiledModel::from_json(value.to_string().as_bytes(), "crafted").unwrap_err();
    assert!(e.to_string().contains("node 0"), "{e}");
    // ...but the same model deserialised with serde, or edited in memory:
    let crafted: CompiledModel = serde_json::from_value(value).unwrap();
    let mut edited = (*model).clone();
    edited.parts = crafted.parts.clone();
    assert_eq!(crafted, edited);
    assert!(
        PartedProver::new(&edited, common::cache()).is_err(),
        "PartedProver::new accepts parts that skip nodes 0..2"
    );
    assert!(
        PartedVerifier::setup(&edited, &common::cache()).is_err(),
        "PartedVerifier::setup accepts parts that skip nodes 0..2"
    );
}

/// The forgery the previous test guards against, end to end: with the parts `[2.., n-2..]`
/// the first part's private input is the ReLU's output `h`, which no input to the model
/// makes negative. A proof over `h = -1, -2, ...` verifies when the verifier is built from
/// the edited model.
#[test]
fn a_verifier_built_from_unchecked_parts_accepts_a_computation_the_model_never_performs() {
    let model = three_parts();
    let n = model.graph.nodes.len();
    let mut edited = (*model).clone();
    edited.parts = vec![
        PartSpec {
            start: 2,
            dot_width: 8,
        },
        PartSpec {
            start: n - 2,
            dot_width: 8,
        },
    ];
    let Ok(verifier) = PartedVerifier::setup(&edited, &common::cache()) else {
        return; // refused: nothing to forge
    };
    let parts = edited.part_models().unwrap();
    // The first part's input is the ReLU's output alone.
    assert_eq!(edited.graph.crossing(2), vec![TensorId::of_node(1)]);
    assert!(matches!(edited.graph.nodes[1].op, QOp::Relu));
    let h: Vec<i64> = (0..parts[0].graph.input.len as i64)
        .map(|i| -1 - i)
        .collect();
    let seed = LinkSeed::random();
    let p0 = Prover::setup(Arc::new(parts[0].clone()), &common::cache()).unwrap();
    let (b0, _) = p0.prove_salted(&h, &seed.salts(0)).unwrap();
    let handed = parts[0].graph.eval(&h).unwrap();
    let p1 = Prover::setup(Arc::new(parts[1].clone()), &common::cache()).unwrap();
    let (b1, _) = p1.prove_salted(&handed, &seed.salts(1)).unwrap();
    let forged = PartedProof {
        format_version: BUNDLE_FORMAT_VERSION,
        parts: vec![b0, b1],
    };
    let result = verifier.verify(&forged);
    assert!(
        result.is_err(),
        "accepted outputs {result:?} of the model's tail on a negative ReLU output"
    );
}

// ---------------------------------------------------------------------------------------
// Resource use of a crafted parted model file.

/// A model of `n` one-value nodes that all read an input of `len` values, so the input
/// crosses every cut; cut before every node.
fn wide_link_model(len: usize, n: usize) -> CompiledModel {
    let input = QTensor {
        name: "x".into(),
        len,
        scale_exp: 0,
        bits: 8,
    };
    let nodes: Vec<QNode> = (0..n)
        .map(|i| QNode {
            name: format!("pick {i}"),
            op: QOp::Wiring(Wiring(vec![Source::Element {
                input: 0,
                index: i % len,
            }])),
            inputs: vec![TensorId::INPUT],
            output: QTensor {
                name: format!("p{i}"),
                len: 1,
                scale_exp: 0,
                bits: 8,
            },
        })
        .collect();
    let base = three_parts();
    let graph = QGraph {
        input,
        nodes,
        outputs: vec![TensorId::of_node(n - 1)],
        rounding: base.graph.rounding,
        integer_input: false,
    };
    let visibility = Visibilities {
        output: Visibility::Public,
        ..Visibilities::default()
    };
    let mut model = CompiledModel::from_graph(graph, visibility).unwrap();
    model.parts = (0..n)
        .map(|start| PartSpec {
            start,
            dot_width: 8,
        })
        .collect();
    model
}

/// Attack (resources): the model file states tensor lengths as numbers, and every part
/// re-slices each tensor that crosses its cut. A file of `n` tiny nodes reading one input of
/// `len` values, cut before every node, makes loading it build `n` part graphs of `len`
/// wired values each (all kept at once) and lay out `n` circuits of about `3 len` rows: work
/// and memory in `n · len` from a file of size in `n`. Whole, the same graph lays out once.
///
/// Measured at a size this machine bears; the bound asserted is that loading the parted file
/// costs at most a small multiple of loading the same graph whole.
#[test]
fn loading_a_parted_file_costs_no_more_than_a_multiple_of_the_whole_model() {
    let env = |name: &str, default: usize| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let (len, n) = (env("ZK_DOS_LEN", 1 << 18), env("ZK_DOS_PARTS", 160));
    let parted = wide_link_model(len, n);
    let mut whole = parted.clone();
    whole.parts = Vec::new();
    let parted_json = serde_json::to_vec(&parted).unwrap();
    let whole_json = serde_json::to_vec(&whole).unwrap();
    let t = Instant::now();
    CompiledModel::from_json(&whole_json, "whole").unwrap();
    let whole_time = t.elapsed();
    let t = Instant::now();
    let loaded = CompiledModel::from_json(&parted_json, "parted");
    let parted_time = t.elapsed();
    let wired: usize = loaded
        .as_ref()
        .map(|m| m.part_models().unwrap())
        .unwrap_or_default()
        .iter()
        .flat_map(|p| &p.graph.nodes)
        .map(|node| match &node.op {
            QOp::Wiring(s) => s.len(),
            _ => 0,
        })
        .sum();
    eprintln!(
        "file {} bytes; whole loads in {whole_time:?}, parted in {parted_time:?} ({}); \
         {wired} wired values in the parts",
        parted_json.len(),
        if loaded.is_ok() {
            "accepted"
        } else {
            "refused"
        },
    );
    assert!(
        loaded.is_err() || parted_time < whole_time * 8 + std::time::Duration::from_millis(200),
        "a {} byte file of {n} parts takes {parted_time:?} to load (whole: {whole_time:?}), \
         {wired} wired values: the parts' work grows as n · len",
        parted_json.len()
    );
}
