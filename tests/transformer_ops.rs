//! The operators of a GPT-style decoder (issue 14), each imported, compared with tract on
//! three inputs, compiled, and proven under MockProver with honest and forged witnesses.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers fail loudly

mod common;

use common::onnx_build::{
    agrees_with_tract_on as agrees_with_tract, float_attr, int_attr, int_tensor, model_io, node,
    proves_on as proves, sample, tensor,
};
use prost::Message;
use tract_onnx::pb::{self, type_proto, TensorProto, TypeProto, ValueInfoProto};
use zkinfer::error::QuantError;
use zkinfer::graph::qgraph::QOp;
use zkinfer::graph::witness::NodeWitness;
use zkinfer::graph::TensorId;
use zkinfer::onnx::import_bytes;
use zkinfer::{CompileOptions, CompiledModel};

/// Deterministic weights in [-0.5, 0.5).
fn weights(n: usize, seed: usize) -> Vec<f32> {
    (0..n)
        .map(|i| (((i * 29 + seed * 13 + 7) % 41) as f32) / 41.0 - 0.5)
        .collect()
}

/// Nodes named by their position (tract refuses duplicate names).
fn unique_names(mut nodes: Vec<pb::NodeProto>) -> Vec<pb::NodeProto> {
    for (i, n) in nodes.iter_mut().enumerate() {
        n.name = format!("{}_{i}", n.op_type);
    }
    nodes
}

fn samples(n: usize) -> Vec<Vec<f32>> {
    (0..3).map(|s| sample(n, s)).collect()
}

#[test]
fn layer_normalisation_decomposed_and_fused() {
    let (rows, d) = (3i64, 8usize);
    let gamma = tensor(
        "gamma",
        &[d as i64],
        &weights(d, 1).iter().map(|w| w + 1.0).collect::<Vec<_>>(),
    );
    let beta = tensor("beta", &[d as i64], &weights(d, 2));
    let decomposed = model_io(
        unique_names(vec![
            node(
                "ReduceMean",
                &["x"],
                "m",
                vec![common::onnx_build::ints_attr("axes", &[-1])],
            ),
            node("Sub", &["x", "m"], "c", vec![]),
            node("Pow", &["c", "two"], "sq", vec![]),
            node(
                "ReduceMean",
                &["sq"],
                "v",
                vec![common::onnx_build::ints_attr("axes", &[-1])],
            ),
            node("Add", &["v", "eps"], "ve", vec![]),
            node("Sqrt", &["ve"], "s", vec![]),
            node("Div", &["c", "s"], "n", vec![]),
            node("Mul", &["n", "gamma"], "g", vec![]),
            node("Add", &["g", "beta"], "y", vec![]),
        ]),
        vec![
            tensor("two", &[1], &[2.0]),
            tensor("eps", &[1], &[1e-5]),
            gamma.clone(),
            beta.clone(),
        ],
        &[("x", &[1, rows, d as i64])],
        "y",
        13,
    );
    let fused = model_io(
        vec![node(
            "LayerNormalization",
            &["x", "gamma", "beta"],
            "y",
            vec![int_attr("axis", -1), float_attr("epsilon", 1e-5)],
        )],
        vec![gamma, beta],
        &[("x", &[1, rows, d as i64])],
        "y",
        17,
    );
    let inputs = samples(rows as usize * d);
    for bytes in [&decomposed, &fused] {
        agrees_with_tract(bytes, &inputs);
        let (model, _) = proves(bytes, &inputs);
        let tables: Vec<&str> = model
            .graph
            .nodes
            .iter()
            .filter_map(|n| match &n.op {
                QOp::Lookup(l) => Some(l.function.name()),
                _ => None,
            })
            .collect();
        assert_eq!(
            tables,
            vec!["Rsqrt"],
            "one reciprocal-root table, no division"
        );
    }
}

#[test]
fn a_division_by_another_activation_is_refused_by_name() {
    let bytes = model_io(
        vec![
            node("Relu", &["x"], "r", vec![]),
            node("Div", &["x", "r"], "y", vec![]),
        ],
        vec![],
        &[("x", &[1, 4])],
        "y",
        13,
    );
    let err = import_bytes(&bytes, "t").unwrap_err().to_string();
    assert!(err.contains("Div") && err.contains("Sqrt"), "{err}");
}

/// `Softmax(Where(causal mask, scores, -10000))` over `[1, heads, n, n]`.
fn masked_softmax(heads: i64, n: i64) -> Vec<u8> {
    masked_softmax_with(heads, n, -10000.0)
}

fn masked_softmax_with(heads: i64, n: i64, fill: f32) -> Vec<u8> {
    let mask: Vec<f32> = (0..n * n)
        .map(|i| f32::from(u8::from(i % n <= i / n)))
        .collect();
    let mut mask = tensor("mask", &[1, 1, n, n], &mask);
    mask.data_type = 9;
    mask.int32_data = mask.float_data.iter().map(|v| *v as i32).collect();
    mask.float_data.clear();
    model_io(
        vec![
            node("Where", &["mask", "x", "fill"], "w", vec![]),
            node("Softmax", &["w"], "y", vec![int_attr("axis", -1)]),
        ],
        vec![mask, tensor("fill", &[1], &[fill])],
        &[("x", &[1, heads, n, n])],
        "y",
        13,
    )
}

#[test]
fn a_causal_mask_leaves_masked_scores_out_exactly() {
    let (heads, n) = (2, 4);
    let bytes = masked_softmax(heads, n);
    let inputs = samples((heads * n * n) as usize);
    agrees_with_tract(&bytes, &inputs);
    let (model, w) = proves(&bytes, &inputs);
    // Masked outputs are exactly zero, and a row with one unmasked entry is exactly one.
    let out = w.outputs();
    let one = 1i64 << model.graph.output_tensors().next().unwrap().scale_exp;
    for h in 0..heads as usize {
        for r in 0..n as usize {
            for c in 0..n as usize {
                let v = out[(h * n as usize + r) * n as usize + c];
                if c > r {
                    assert_eq!(v, 0, "head {h} row {r} column {c}");
                }
                if r == 0 && c == 0 {
                    assert_eq!(v, one);
                }
            }
        }
    }
    // No constant fill reaches the integer graph (it would wreck the scale).
    assert!(model.graph.nodes.iter().all(|n| !matches!(
        &n.op,
        QOp::Wiring(s) if s.iter().any(|s| matches!(s, zkinfer::graph::ir::Source::Constant(_)))
    )));
    // A forged witness that gives a masked position weight: the pinned zero holds the
    // public output, so the forged output is rejected.
    let mut forged = w.outputs();
    forged[1] = 1;
    let failures = common::mock_described(&model, &w, &forged);
    assert!(
        failures.iter().any(|f| f.contains("quality")),
        "{failures:?}"
    );
}

#[test]
fn a_mask_filled_with_minus_infinity_imports_and_an_infinite_weight_does_not() {
    let bytes = masked_softmax_with(1, 4, f32::NEG_INFINITY);
    let inputs = samples(16);
    agrees_with_tract(&bytes, &inputs);
    proves(&bytes, &inputs);
    // An infinity that would reach a node is refused, naming it.
    let bytes = model_io(
        vec![node("Add", &["x", "c"], "y", vec![])],
        vec![tensor("c", &[2], &[1.0, f32::INFINITY])],
        &[("x", &[1, 2])],
        "y",
        13,
    );
    let err = import_bytes(&bytes, "t").unwrap_err();
    assert!(
        matches!(err, zkinfer::error::IrError::BadConstant { .. }),
        "{err}"
    );
}

#[test]
fn split_with_every_output_used_and_broadcast_binary_ops() {
    let bytes = model_io(
        vec![
            pb::NodeProto {
                op_type: "Split".into(),
                name: "split".into(),
                input: vec!["x".into(), "sizes".into()],
                output: vec!["a".into(), "b".into(), "c".into()],
                attribute: vec![int_attr("axis", 2)],
                ..Default::default()
            },
            node("Sub", &["a", "b"], "d", vec![]),
            node(
                "ReduceMean",
                &["c"],
                "m",
                vec![common::onnx_build::ints_attr("axes", &[-1])],
            ),
            node("Mul", &["d", "m"], "y", vec![]),
        ],
        vec![int_tensor("sizes", &[3], &[3, 3, 2])],
        &[("x", &[1, 2, 8])],
        "y",
        13,
    );
    let inputs = samples(16);
    agrees_with_tract(&bytes, &inputs);
    proves(&bytes, &inputs);
}

#[test]
fn gather_of_an_activation_by_constant_indices_is_wiring() {
    for (indices, dims, axis) in [
        (vec![2i64, 0], vec![2i64], 1i64),
        (vec![-1], vec![], 2),
        (vec![1, 0, 3, 3], vec![2, 2], 1),
    ] {
        let bytes = model_io(
            vec![node(
                "Gather",
                &["x", "i"],
                "y",
                vec![int_attr("axis", axis)],
            )],
            vec![int_tensor("i", &dims, &indices)],
            &[("x", &[1, 4, 3])],
            "y",
            13,
        );
        let inputs = samples(12);
        agrees_with_tract(&bytes, &inputs);
        let (model, _) = proves(&bytes, &inputs);
        assert!(model
            .graph
            .nodes
            .iter()
            .all(|n| matches!(n.op, QOp::Wiring(_))));
    }
}

/// A ViT's class token: a constant `Concat`ed before the patch tokens (issue 29). It is
/// wiring whose constant cells the verifying key pins; the model agrees with tract and
/// proves, and a forged output fails.
#[test]
fn a_class_token_concatenated_before_the_tokens_is_wiring_and_proves() {
    let cls = weights(4, 3);
    let w = weights(8, 5);
    for (inputs_order, axis) in [(["cls", "x"], 1i64), (["x", "cls"], -2)] {
        let bytes = model_io(
            unique_names(vec![
                node("Concat", &inputs_order, "t", vec![int_attr("axis", axis)]),
                node("MatMul", &["t", "W"], "y", vec![]),
            ]),
            vec![tensor("cls", &[1, 1, 4], &cls), tensor("W", &[4, 2], &w)],
            &[("x", &[1, 2, 4])],
            "y",
            13,
        );
        let inputs = samples(8);
        agrees_with_tract(&bytes, &inputs);
        let (model, _) = proves(&bytes, &inputs);
        assert!(matches!(model.graph.nodes[0].op, QOp::Wiring(_)));
    }
}

/// An int64 input of token ids.
fn ids_input(name: &str, dims: &[i64]) -> ValueInfoProto {
    let mut v = common::onnx_build::value_info(name, dims);
    if let Some(TypeProto {
        value: Some(type_proto::Value::TensorType(t)),
        ..
    }) = v.r#type.as_mut()
    {
        t.elem_type = 7;
    }
    v
}

fn embedding(vocab: usize, dim: usize, tokens: i64) -> Vec<u8> {
    let table: TensorProto = tensor("wte", &[vocab as i64, dim as i64], &weights(vocab * dim, 3));
    let mut bytes = model_io(
        vec![
            node("Gather", &["wte", "ids"], "e", vec![int_attr("axis", 0)]),
            node("Add", &["e", "wpe"], "y", vec![]),
        ],
        vec![
            table,
            tensor(
                "wpe",
                &[1, tokens, dim as i64],
                &weights(tokens as usize * dim, 4),
            ),
        ],
        &[("ids", &[1, tokens])],
        "y",
        13,
    );
    let mut m = pb::ModelProto::decode(&bytes[..]).unwrap();
    m.graph.as_mut().unwrap().input = vec![ids_input("ids", &[1, tokens])];
    bytes = m.encode_to_vec();
    bytes
}

#[test]
fn an_embedding_gathers_proven_rows_and_refuses_ids_outside_the_vocabulary() {
    let (vocab, dim) = (10, 4);
    let bytes = embedding(vocab, dim, 3);
    let inputs = vec![
        vec![3.0, 0.0, 9.0],
        vec![1.0, 1.0, 2.0],
        vec![7.0, 5.0, 4.0],
    ];
    agrees_with_tract(&bytes, &inputs);
    let (model, w) = proves(&bytes, &inputs);
    let gather = model
        .graph
        .nodes
        .iter()
        .position(|n| matches!(n.op, QOp::Gather(_)))
        .unwrap();
    // A forged embedding value: no table row (key, value) matches.
    let mut bad = w.clone();
    if let NodeWitness::Values { outputs } = &mut bad.nodes[gather] {
        outputs[5] += 1;
    }
    let failures = common::mock_described(&model, &bad, &w.outputs());
    assert!(
        failures
            .iter()
            .any(|f| f.contains("lookup") || f.contains("Lookup")),
        "{failures:?}"
    );
    // Token ids are integers at scale 2^0: no rescale before the lookup, and a fractional
    // id is refused by name, at calibration and at proving.
    assert!(model.graph.integer_input && model.graph.input.scale_exp == 0);
    assert_eq!(model.graph.nodes[gather].inputs, vec![TensorId::INPUT]);
    let err = model.quantise_input(&[3.0, 2.5, 1.0], false).unwrap_err();
    assert!(
        matches!(
            err,
            zkinfer::Error::Quant(QuantError::NotInteger { index: 1, .. })
        ),
        "{err}"
    );
    let graph = import_bytes(&bytes, "t").unwrap();
    let err = CompiledModel::compile(&graph, &[vec![0.5, 1.0, 2.0]], &CompileOptions::default())
        .unwrap_err();
    assert!(err.to_string().contains("not a whole number"), "{err}");
    // An id outside the vocabulary: a typed error from the integer pass...
    let x = model.quantise_input(&[3.0, 10.0, 1.0], false).unwrap();
    let err = model.witness(&x).unwrap_err().to_string();
    assert!(err.contains("Gather") && err.contains("10"), "{err}");
    // ...and a witness with id 10 in place of another, its other records kept, fails.
    let mut forged = w.clone();
    forged.input[1] = x[1];
    let failures = common::mock_described(&model, &forged, &w.outputs());
    assert!(!failures.is_empty());
}

/// A GPT-style decoder built here, with other dimensions than `tiny_gpt` and the fused
/// `LayerNormalization` node (opset 17): `vocab` tokens, `ctx` positions, `d` model width,
/// `heads` heads, one layer (attention with a causal mask, an erf-GELU MLP, residuals), a
/// final normalisation and the logits.
fn decoder(vocab: usize, ctx: usize, d: usize, heads: usize) -> Vec<u8> {
    let dh = d / heads;
    let (t, di, hi, dhi, vi) = (ctx as i64, d as i64, heads as i64, dh as i64, vocab as i64);
    let mut seed = 10;
    let mut w = |name: &str, dims: &[i64], scale: f32| {
        seed += 1;
        let n = dims.iter().product::<i64>() as usize;
        let v: Vec<f32> = weights(n, seed).iter().map(|x| x * scale).collect();
        tensor(name, dims, &v)
    };
    let s = 2.0 / (d as f32).sqrt();
    let mut inits = vec![
        w("wte", &[vi, di], 1.0),
        w("wpe", &[1, t, di], 0.5),
        w("w_qkv", &[di, 3 * di], s),
        w("b_qkv", &[3 * di], 0.1),
        w("w_o", &[di, di], s),
        w("b_o", &[di], 0.1),
        w("w_1", &[di, 4 * di], s),
        w("b_1", &[4 * di], 0.1),
        w("w_2", &[4 * di, di], s / 2.0),
        w("b_2", &[di], 0.1),
        w("w_lm", &[di, vi], s),
    ];
    for ln in ["ln1", "ln2", "lnf"] {
        let g: Vec<f32> = weights(d, ln.len()).iter().map(|x| 1.0 + x / 2.0).collect();
        inits.push(tensor(&format!("{ln}.g"), &[di], &g));
        inits.push(w(&format!("{ln}.b"), &[di], 0.2));
    }
    let causal: Vec<f32> = (0..ctx * ctx)
        .map(|i| f32::from(u8::from(i % ctx <= i / ctx)))
        .collect();
    let mut mask = tensor("mask", &[1, 1, t, t], &[]);
    mask.data_type = 9;
    mask.int32_data = causal.iter().map(|v| *v as i32).collect();
    inits.extend([
        mask,
        tensor("fill", &[1], &[-10000.0]),
        tensor("scale", &[1], &[1.0 / (dh as f32).sqrt()]),
        tensor("half", &[1], &[0.5]),
        tensor("one", &[1], &[1.0]),
        tensor("sqrt2", &[1], &[std::f32::consts::SQRT_2]),
        int_tensor("split", &[3], &[di, di, di]),
        int_tensor("heads_shape", &[4], &[1, t, hi, dhi]),
        int_tensor("model_shape", &[3], &[1, t, di]),
    ]);
    let ln = |name: &str, x: &str, y: &str| {
        node(
            "LayerNormalization",
            &[x, &format!("{name}.g"), &format!("{name}.b")],
            y,
            vec![int_attr("axis", -1), float_attr("epsilon", 1e-5)],
        )
    };
    let perm = |p: &[i64]| common::onnx_build::ints_attr("perm", p);
    let nodes = vec![
        node("Gather", &["wte", "ids"], "tok", vec![int_attr("axis", 0)]),
        node("Add", &["tok", "wpe"], "x0", vec![]),
        ln("ln1", "x0", "h1"),
        node("MatMul", &["h1", "w_qkv"], "qkv0", vec![]),
        node("Add", &["qkv0", "b_qkv"], "qkv", vec![]),
        pb::NodeProto {
            op_type: "Split".into(),
            input: vec!["qkv".into(), "split".into()],
            output: vec!["q0".into(), "k0".into(), "v0".into()],
            attribute: vec![int_attr("axis", 2)],
            ..Default::default()
        },
        node("Reshape", &["q0", "heads_shape"], "q1", vec![]),
        node("Transpose", &["q1"], "q", vec![perm(&[0, 2, 1, 3])]),
        node("Reshape", &["k0", "heads_shape"], "k1", vec![]),
        node("Transpose", &["k1"], "kt", vec![perm(&[0, 2, 3, 1])]),
        node("Reshape", &["v0", "heads_shape"], "v1", vec![]),
        node("Transpose", &["v1"], "v", vec![perm(&[0, 2, 1, 3])]),
        node("MatMul", &["q", "kt"], "scores0", vec![]),
        node("Mul", &["scores0", "scale"], "scores", vec![]),
        node("Where", &["mask", "scores", "fill"], "masked", vec![]),
        node("Softmax", &["masked"], "p", vec![int_attr("axis", -1)]),
        node("MatMul", &["p", "v"], "o0", vec![]),
        node("Transpose", &["o0"], "o1", vec![perm(&[0, 2, 1, 3])]),
        node("Reshape", &["o1", "model_shape"], "o2", vec![]),
        node("MatMul", &["o2", "w_o"], "o3", vec![]),
        node("Add", &["o3", "b_o"], "o", vec![]),
        node("Add", &["x0", "o"], "x1", vec![]),
        ln("ln2", "x1", "h2"),
        node("MatMul", &["h2", "w_1"], "f0", vec![]),
        node("Add", &["f0", "b_1"], "f1", vec![]),
        node("Mul", &["f1", "half"], "g0", vec![]),
        node("Div", &["f1", "sqrt2"], "g1", vec![]),
        node("Erf", &["g1"], "g2", vec![]),
        node("Add", &["g2", "one"], "g3", vec![]),
        node("Mul", &["g0", "g3"], "g", vec![]),
        node("MatMul", &["g", "w_2"], "f2", vec![]),
        node("Add", &["f2", "b_2"], "f", vec![]),
        node("Add", &["x1", "f"], "x2", vec![]),
        ln("lnf", "x2", "h3"),
        node("MatMul", &["h3", "w_lm"], "logits", vec![]),
    ];
    let bytes = model_io(
        unique_names(nodes),
        inits,
        &[("ids", &[1, t])],
        "logits",
        17,
    );
    let mut m = pb::ModelProto::decode(&bytes[..]).unwrap();
    m.graph.as_mut().unwrap().input = vec![ids_input("ids", &[1, t])];
    m.encode_to_vec()
}

/// Token sequences in `[0, vocab)`.
fn token_samples(vocab: usize, ctx: usize, count: usize) -> Vec<Vec<f32>> {
    (0..count)
        .map(|s| {
            (0..ctx)
                .map(|i| ((i * 7 + s * 13 + s * s) % vocab) as f32)
                .collect()
        })
        .collect()
}

#[test]
fn a_second_decoder_with_three_heads_and_fused_layer_norm_proves() {
    let (vocab, ctx) = (32, 8);
    let bytes = decoder(vocab, ctx, 48, 3);
    let inputs = token_samples(vocab, ctx, 6);
    agrees_with_tract(&bytes, &inputs[..3]);
    let (model, w) = proves(&bytes, &inputs);
    // Attention's products are pair dot products, one rescale per output.
    let matmuls = model
        .graph
        .nodes
        .iter()
        .filter(|n| matches!(n.op, QOp::MatMul(_)))
        .count();
    assert_eq!(matmuls, 2, "Q·Kᵀ and P·V");
    // A forged attention score: its record's quotient off by one breaks the rescale.
    let scores = model
        .graph
        .nodes
        .iter()
        .position(|n| matches!(n.op, QOp::MatMul(_)))
        .unwrap();
    let mut forged = w.clone();
    if let NodeWitness::Linear { quotients, .. } = &mut forged.nodes[scores] {
        quotients[3] += 1;
    }
    let failures = common::mock_described(&model, &forged, &w.outputs());
    assert!(failures.iter().any(|f| f.contains("div")), "{failures:?}");
}

#[test]
#[ignore = "a real proof at k = 16 (about a minute with the parameters); CI runs it"]
fn a_second_decoder_proves_and_verifies_for_real() {
    let (vocab, ctx) = (32, 8);
    let bytes = decoder(vocab, ctx, 48, 3);
    let inputs = token_samples(vocab, ctx, 6);
    let graph = import_bytes(&bytes, "decoder").unwrap();
    let model = CompiledModel::compile(&graph, &inputs, &CompileOptions::default()).unwrap();
    let cache = common::cache();
    let bundle = zkinfer::Prover::setup(model.clone(), &cache)
        .unwrap()
        .prove(&inputs[2], false)
        .unwrap();
    let verifier = zkinfer::Verifier::setup(model.clone(), &cache).unwrap();
    verifier.verify(&bundle).unwrap();
    // The proven logits are the integer pass's, and a changed one is refused.
    let x = model.quantise_input(&inputs[2], false).unwrap();
    assert_eq!(bundle.outputs, model.witness(&x).unwrap().outputs());
    let mut forged = bundle.clone();
    forged.outputs[5] += 1;
    forged.outputs_float = model.graph.outputs_to_float(&forged.outputs);
    assert!(verifier.verify(&forged).is_err());
}
