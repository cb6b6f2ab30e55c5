#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Adversarial review of proving in parts (issue 13), through the model file: crafted
//! `parts` lists are refused without panic or stall, parts that skip the first nodes are
//! refused by the prover and the verifier as by the file's checks (and what such parts would
//! let a prover forge), and a file of many tiny parts over one wide link costs no more to
//! load than a multiple of the same graph whole.

mod common;

use std::sync::Arc;
use std::time::Instant;

use common::parts::{integer_input, samples, three_parts};
use zkinfer::api::{PartSpec, BUNDLE_FORMAT_VERSION};
use zkinfer::graph::ir::Source;
use zkinfer::graph::qgraph::{QGraph, QNode, QOp, QTensor, Wiring};
use zkinfer::graph::TensorId;
use zkinfer::{
    CompiledModel, LinkSeed, PartedProof, PartedProver, PartedVerifier, Prover, Visibilities,
    Visibility,
};

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
