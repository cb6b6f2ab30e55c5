//! Adversarial witnesses against the transformer ops' circuits: MatMul of two activations
//! (pair dot products + one rescale), the embedding Gather (key = dim·id + j, a lookup in a
//! per-node tagged table) and the masked softmax (masked elements out of max and sum, their
//! outputs one pinned zero). Each test forges a witness the honest pass would never make and
//! asserts that MockProver rejects it, and by which named constraint, lookup or copy.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers fail loudly

mod common;

use common::onnx_build::{int_attr, model_io, node, sample, tensor};
use prost::Message;
use tract_onnx::pb::{self, type_proto};
use zkinfer::graph::ir::Source;
use zkinfer::graph::qgraph::QOp;
use zkinfer::graph::witness::{generate, NodeWitness, Witness};
use zkinfer::graph::TensorId;
use zkinfer::onnx::import_bytes;
use zkinfer::{CompileOptions, CompiledModel};

/// Compiles on `inputs`; the honest witness of the first input verifies.
fn compile(bytes: &[u8], inputs: &[Vec<f32>]) -> (CompiledModel, Witness) {
    let graph = import_bytes(bytes, "adv").unwrap();
    let model = CompiledModel::compile(&graph, inputs, &CompileOptions::default()).unwrap();
    let w = model
        .witness(&model.quantise_input(&inputs[0], false).unwrap())
        .unwrap();
    assert_eq!(model.mock(&w, &w.outputs()).unwrap(), vec![]);
    (model, w)
}

/// Node `$i`'s op as variant `$v` (a test of the wrong node panics).
macro_rules! op {
    ($model:expr, $i:expr, $v:ident) => {
        match &$model.graph.nodes[$i].op {
            QOp::$v(x) => x,
            _ => panic!("not a {}", stringify!($v)),
        }
    };
}

/// Every failure mentions one of `any`; at least one mentions `must`.
fn only(f: &[String], any: &[&str], must: &str) {
    let known = |s: &String| any.iter().any(|a| s.contains(a));
    assert!(f.iter().all(known), "{f:#?}");
    assert!(f.iter().any(|s| s.contains(must)), "{f:#?}");
}

/// `p = Softmax(Where(causal, x, -1e4))`, `y = MatMul(p, x)` over `[1, 1, n, n]`: a
/// masked softmax feeding a product of two activations (n = 5 leaves padding pairs at any
/// dot width, and continuation rows at width 8).
fn attention(n: i64) -> Vec<u8> {
    let causal: Vec<i32> = (0..n * n).map(|i| i32::from(i % n <= i / n)).collect();
    let mut mask = tensor("mask", &[1, 1, n, n], &[]);
    mask.data_type = 9;
    mask.int32_data = causal;
    model_io(
        vec![
            node("Where", &["mask", "x", "fill"], "w", vec![]),
            node("Softmax", &["w"], "p", vec![int_attr("axis", -1)]),
            node("MatMul", &["p", "x"], "y", vec![]),
        ],
        vec![mask, tensor("fill", &[1], &[-10000.0])],
        &[("x", &[1, 1, n, n])],
        "y",
        13,
    )
}

fn attention_model() -> (CompiledModel, Witness, usize, usize) {
    let n = 5;
    let inputs: Vec<_> = (0..3).map(|s| sample(n * n, s)).collect();
    let (model, w) = compile(&attention(n as i64), &inputs);
    let at = |f: fn(&QOp) -> bool| model.graph.nodes.iter().position(|n| f(&n.op)).unwrap();
    let sm = at(|op| matches!(op, QOp::Softmax(s) if !s.keep.is_empty()));
    let mm = at(|op| matches!(op, QOp::MatMul(_)));
    assert_eq!(
        op!(model, mm, MatMul).k % (model.dot_width / 2).min(5),
        5 % 4,
        "padding"
    );
    (model, w, sm, mm)
}

/// Recomputes MatMul node `i`'s record from `w`'s (possibly forged) operand tensors, with
/// the graph's integer semantics: the "honest" rescale of forged operands.
fn rederive_matmul(model: &CompiledModel, w: &mut Witness, i: usize) {
    let (mm, node) = (op!(model, i, MatMul), &model.graph.nodes[i]);
    let [a, b] = [0, 1].map(|j| w.tensor(node.inputs[j]).to_vec());
    let d = 1i128 << mm.shift;
    let off = model.graph.rounding.offset(1 << mm.shift);
    let (quotients, remainders) = (0..node.output.len)
        .map(|o| {
            let (t, r, c) = (o / (mm.m * mm.n), (o / mm.n) % mm.m, o % mm.n);
            let acc: i128 = (0..mm.k)
                .map(|l| {
                    a[(t * mm.m + r) * mm.k + l] as i128 * b[(t * mm.k + l) * mm.n + c] as i128
                })
                .sum::<i128>()
                + off as i128;
            (acc.div_euclid(d) as i64, acc.rem_euclid(d) as i64)
        })
        .unzip();
    w.nodes[i] = NodeWitness::Linear {
        quotients,
        remainders,
    };
}

#[test]
fn matmul_rescale_operands_and_outputs_are_bound() {
    let (model, w, _, mm) = attention_model();
    // Quotient and remainder shifted together (q·d + r unchanged, so the division identity
    // holds): the remainder's range check fails.
    let d = 1i64 << op!(model, mm, MatMul).shift;
    for delta in [1i64, -1] {
        let mut forged = w.clone();
        if let NodeWitness::Linear {
            quotients,
            remainders,
        } = &mut forged.nodes[mm]
        {
            quotients[2] += delta;
            remainders[2] -= delta * d;
        }
        let f = common::mock_rejected(&model, &forged, &forged.outputs());
        only(&f, &["range limb in table"], "rescale remainder");
    }
    // An honest witness for another input, claimed with this input's outputs.
    let w2 = model
        .witness(&model.quantise_input(&sample(25, 7), false).unwrap())
        .unwrap();
    assert_ne!(w2.outputs(), w.outputs());
    let f = common::mock_rejected(&model, &w2, &w.outputs());
    only(&f, &["quality"], "quality");
    // The input cells changed under unchanged records: a kept score (row 4, column 1) feeds
    // both the softmax and the product, so the product's rescale identity breaks.
    let mut forged = w.clone();
    forged.input[21] += 3;
    let f = common::mock_rejected(&model, &forged, &w.outputs());
    let rescale = format!("{} rescale", model.graph.nodes[mm].name);
    assert!(
        f.iter()
            .any(|s| s.contains(&rescale) && s.contains("q * d + r")),
        "{f:#?}"
    );
}

#[test]
fn a_masked_softmax_keeps_masked_elements_out_of_its_outputs_and_the_product() {
    let (model, w, sm, mm) = attention_model();
    let s = op!(model, sm, Softmax);
    // Row 0 keeps only column 0: give column 4 (masked) full weight in the record, and
    // rescale the product honestly over it. The product reads the pinned zero instead.
    let mut forged = w.clone();
    let NodeWitness::Softmax { outputs, .. } = &mut forged.nodes[sm] else {
        panic!()
    };
    assert_eq!(outputs[4], 0);
    outputs[4] = 1 << s.out_scale;
    rederive_matmul(&model, &mut forged, mm);
    assert_ne!(forged.outputs(), w.outputs());
    let f = common::mock_rejected(&model, &forged, &forged.outputs());
    only(&f, &["x + offset = q * d + r"], "rescale");
    // The same graph with the mask dropped: an honest witness of unmasked semantics...
    let mut open = model.graph.clone();
    let QOp::Softmax(o) = &mut open.nodes[sm].op else {
        panic!()
    };
    let keep = std::mem::take(&mut o.keep);
    let mut forged = w.clone();
    forged.nodes[sm] = generate(&open, &w.input).unwrap().nodes[sm].clone();
    // ...laid out as the masked circuit expects: kept elements only, masked outputs zero.
    let flat: Vec<usize> = (0..s.axis.groups()).flat_map(|g| s.axis.group(g)).collect();
    let pick = |v: &mut Vec<i64>| {
        *v = flat
            .iter()
            .zip(&*v)
            .filter(|(i, _)| keep[**i])
            .map(|p| *p.1)
            .collect();
    };
    let NodeWitness::Softmax {
        reduced,
        remainders,
        exps,
        outputs,
        ..
    } = &mut forged.nodes[sm]
    else {
        panic!()
    };
    [reduced, remainders, exps].into_iter().for_each(pick);
    outputs
        .iter_mut()
        .zip(&keep)
        .for_each(|(y, k)| *y *= i64::from(*k));
    assert_ne!(
        forged.nodes[sm], w.nodes[sm],
        "unmasked semantics must differ"
    );
    rederive_matmul(&model, &mut forged, mm);
    // Rows whose overall max is masked: no kept element attains it; the others' sums differ.
    let name = &model.graph.nodes[sm].name;
    let f = common::mock_rejected(&model, &forged, &forged.outputs());
    only(&f, &[name], "max equals an input");
}

/// `y = Concat(Gather(wte, ids), Gather(wte2, ids))`, ids an int64 input of `tokens`.
fn two_embeddings(vocab: usize, dim: usize, tokens: i64) -> Vec<u8> {
    let table = |name: &str, seed: usize| {
        let v: Vec<f32> = (0..vocab * dim)
            .map(|i| (((i * 29 + seed * 13 + 7) % 41) as f32) / 41.0 - 0.5)
            .collect();
        tensor(name, &[vocab as i64, dim as i64], &v)
    };
    let mut nodes = vec![
        node("Gather", &["wte", "ids"], "e1", vec![int_attr("axis", 0)]),
        node("Gather", &["wte2", "ids"], "e2", vec![int_attr("axis", 0)]),
        node("Concat", &["e1", "e2"], "y", vec![int_attr("axis", -1)]),
    ];
    for (i, n) in nodes.iter_mut().enumerate() {
        n.name = format!("{}_{i}", n.op_type);
    }
    let bytes = model_io(
        nodes,
        vec![table("wte", 3), table("wte2", 5)],
        &[("ids", &[1, tokens])],
        "y",
        13,
    );
    let mut m = pb::ModelProto::decode(&bytes[..]).unwrap();
    let ids = m.graph.as_mut().unwrap().input[0].r#type.as_mut().unwrap();
    let Some(type_proto::Value::TensorType(t)) = ids.value.as_mut() else {
        panic!()
    };
    t.elem_type = 7; // int64 token ids
    m.encode_to_vec()
}

/// Recomputes every wiring node's record (Concat) from its sources, so that the public
/// outputs follow a forged record upstream.
fn rewire(model: &CompiledModel, w: &mut Witness) {
    for (i, node) in model.graph.nodes.iter().enumerate() {
        if let QOp::Wiring(sources) = &node.op {
            let outputs = sources
                .iter()
                .map(|s| match s {
                    Source::Element { input, index } => w.tensor(node.inputs[*input])[*index],
                    Source::Constant(c) => *c,
                })
                .collect();
            w.nodes[i] = NodeWitness::Values { outputs };
        }
    }
}

fn rows(w: &mut Witness, i: usize) -> &mut Vec<i64> {
    match &mut w.nodes[i] {
        NodeWitness::Values { outputs } => outputs,
        _ => panic!(),
    }
}

#[test]
fn a_gather_with_another_row_another_table_or_an_id_outside_the_vocabulary_fails() {
    let inputs = [[3.0, 0.0, 9.0], [1.0, 1.0, 2.0], [7.0, 5.0, 4.0]].map(|x| x.to_vec());
    let (model, w) = compile(&two_embeddings(10, 4, 3), &inputs);
    let g: Vec<usize> = (0..model.graph.nodes.len())
        .filter(|&i| matches!(model.graph.nodes[i].op, QOp::Gather(_)))
        .collect();
    let lookup = |i: usize| format!("function {}", model.graph.nodes[i].name);
    let (dim, table) = (
        op!(model, g[0], Gather).dim,
        &op!(model, g[0], Gather).table,
    );
    let table = &table.outputs;
    let check = |mut forged: Witness, names: &[usize]| {
        rewire(&model, &mut forged);
        assert_ne!(forged.outputs(), w.outputs());
        let f = common::mock_rejected(&model, &forged, &forged.outputs());
        only(&f, &["range limb in table"], &lookup(names[0]));
        assert!(names
            .iter()
            .all(|&i| f.iter().any(|s| s.contains(&lookup(i)))));
    };
    // Token 0 (id 3) given row 4's values: genuine (key, value) rows of the table, but
    // for keys 16..20, not the proven keys 12..16.
    let mut forged = w.clone();
    rows(&mut forged, g[0])[..dim].copy_from_slice(&table[4 * dim..5 * dim]);
    check(forged, &[g[0]]);
    // The second gather given the first's values at the same keys: the tag differs.
    let mut forged = w.clone();
    *rows(&mut forged, g[1]) = rows(&mut forged, g[0]).clone();
    check(forged, &[g[1]]);
    // Id 10 = vocab (keys 40..44, past the table) and id -1 (keys -4..0: field elements
    // near p), each claimed with a real row's values: both gathers' lookups fail.
    for (id, row) in [(10i64, 9usize), (-1, 8)] {
        // The input quantised honestly for `id` at token 1 (integer ids at scale 2^0, read
        // by the gathers directly), and any node between the input and a gather evaluated
        // honestly on it.
        let x = model.quantise_input(&[3.0, id as f32, 9.0], false).unwrap();
        assert_eq!(x[1], id);
        let mut forged = w.clone();
        for &i in &g {
            if let Some(idn) = model.graph.nodes[i].inputs[0].node() {
                let mut single = model.graph.clone();
                single.nodes = vec![model.graph.nodes[idn].clone()];
                assert_eq!(single.nodes[0].inputs, vec![TensorId::INPUT]);
                single.outputs = vec![TensorId::of_node(0)];
                let pre = generate(&single, &x).unwrap();
                assert_eq!(pre.outputs()[1], id);
                forged.nodes[idn] = pre.nodes[0].clone();
            }
            let t = &op!(model, i, Gather).table.outputs;
            rows(&mut forged, i)[dim..2 * dim].copy_from_slice(&t[row * dim..(row + 1) * dim]);
        }
        forged.input = x;
        check(forged, &g);
    }
}
