//! Every file a user can be handed is untrusted: arbitrary and mutated bytes fed to each
//! parser (ONNX, input JSON, compiled model, proof bundle, parameter file) give a typed
//! error or a valid value, never a panic. Fixed seeds and bounded case counts keep CI
//! repeatable; failures are recorded in `fuzz_parsers.proptest-regressions`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers fail loudly

mod common;

use std::sync::OnceLock;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use serde_json::Value;
use zkinfer::input::parse_samples;
use zkinfer::onnx::import_bytes;
use zkinfer::{CompiledModel, ParamsCache, ProofBundle, Prover, Verifier};

/// `cases` per property, or `FUZZ_CASES` for a longer run (`FUZZ_CASES=5000 cargo test
/// --release --test fuzz_parsers`).
fn config(cases: u32) -> Config {
    let cases = std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(cases);
    Config {
        cases,
        rng_seed: RngSeed::Fixed(0x7a6b_1f00),
        ..Config::default()
    }
}

/// A byte-level mutation: flip, overwrite, insert, delete or truncate.
#[derive(Clone, Debug)]
enum Edit {
    Flip(usize, u8),
    Set(usize, u8),
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
    Truncate(usize),
}

fn edits() -> impl Strategy<Value = Vec<Edit>> {
    let edit = prop_oneof![
        (any::<usize>(), 1u8..).prop_map(|(i, b)| Edit::Flip(i, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Set(i, b)),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(i, b)| Edit::Insert(i, b)),
        (any::<usize>(), 1usize..64).prop_map(|(i, n)| Edit::Delete(i, n)),
        any::<usize>().prop_map(Edit::Truncate),
    ];
    prop::collection::vec(edit, 1..6)
}

fn mutate(bytes: &[u8], edits: &[Edit]) -> Vec<u8> {
    let mut b = bytes.to_vec();
    for e in edits {
        let at = |i: usize, len: usize| if len == 0 { 0 } else { i % len };
        match e {
            Edit::Flip(i, x) if !b.is_empty() => {
                let i = at(*i, b.len());
                b[i] ^= x;
            }
            Edit::Set(i, x) if !b.is_empty() => {
                let i = at(*i, b.len());
                b[i] = *x;
            }
            Edit::Insert(i, xs) => {
                let i = at(*i, b.len() + 1);
                b.splice(i..i, xs.iter().copied());
            }
            Edit::Delete(i, n) if !b.is_empty() => {
                let i = at(*i, b.len());
                let end = (i + n).min(b.len());
                b.drain(i..end);
            }
            Edit::Truncate(i) => {
                let i = at(*i, b.len() + 1);
                b.truncate(i);
            }
            _ => {}
        }
    }
    b
}

/// A JSON-level mutation: a number, string or array somewhere in the document replaced.
#[derive(Clone, Debug)]
enum Leaf {
    Int(i64),
    Big(u64),
    Float(f64),
    Text(String),
    Null,
    Empty,
}

fn leaves() -> impl Strategy<Value = Vec<(usize, Leaf)>> {
    let leaf = prop_oneof![
        prop_oneof![
            Just(0i64),
            Just(-1),
            Just(1),
            Just(62),
            Just(63),
            Just(64),
            Just(i64::MIN),
            Just(i64::MAX),
            any::<i64>()
        ]
        .prop_map(Leaf::Int),
        any::<u64>().prop_map(Leaf::Big),
        prop_oneof![Just(f64::MAX), Just(-0.0), Just(1e300), any::<f64>()].prop_map(Leaf::Float),
        "[a-z]{0,8}".prop_map(Leaf::Text),
        Just(Leaf::Null),
        Just(Leaf::Empty),
    ];
    prop::collection::vec((any::<usize>(), leaf), 1..4)
}

/// Replaces the `n`-th scalar or array (in document order, modulo their count).
fn replace_leaf(value: &mut Value, n: usize, leaf: &Leaf) {
    fn count(v: &Value) -> usize {
        match v {
            Value::Array(a) => 1 + a.iter().map(count).sum::<usize>(),
            Value::Object(o) => o.values().map(count).sum(),
            _ => 1,
        }
    }
    fn visit(v: &mut Value, n: &mut usize, leaf: &Leaf) -> bool {
        let here = !matches!(v, Value::Object(_));
        if here {
            if *n == 0 {
                *v = match leaf {
                    Leaf::Int(i) => Value::from(*i),
                    Leaf::Big(u) => Value::from(*u),
                    Leaf::Float(f) => {
                        serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number)
                    }
                    Leaf::Text(s) => Value::from(s.clone()),
                    Leaf::Null => Value::Null,
                    Leaf::Empty => Value::Array(vec![]),
                };
                return true;
            }
            *n -= 1;
        }
        match v {
            Value::Array(a) => a.iter_mut().any(|x| visit(x, n, leaf)),
            Value::Object(o) => o.values_mut().any(|x| visit(x, n, leaf)),
            _ => false,
        }
    }
    let total = count(value).max(1);
    let mut n = n % total;
    visit(value, &mut n, leaf);
}

fn onnx_bytes() -> &'static [Vec<u8>] {
    static BYTES: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    BYTES.get_or_init(|| {
        [
            "digits_mlp.onnx",
            "digits_cnn.onnx",
            "digits_mlp_tanh_sigmoid.onnx",
        ]
        .iter()
        .map(|f| std::fs::read(common::data(f)).unwrap())
        .collect()
    })
}

fn model_json() -> &'static Value {
    static MODEL: OnceLock<Value> = OnceLock::new();
    MODEL.get_or_init(|| serde_json::to_value(&*common::model()).unwrap())
}

fn honest() -> &'static (ProofBundle, Verifier) {
    static HONEST: OnceLock<(ProofBundle, Verifier)> = OnceLock::new();
    HONEST.get_or_init(|| {
        let cache = common::cache();
        let bundle = Prover::setup(common::model(), &cache)
            .unwrap()
            .prove(&common::sample(), false)
            .unwrap();
        (bundle, Verifier::setup(common::model(), &cache).unwrap())
    })
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn onnx_import_never_panics_on_mutated_models(which in 0usize..3, edits in edits()) {
        let bytes = mutate(&onnx_bytes()[which], &edits);
        if let Ok(graph) = import_bytes(&bytes, "fuzz") {
            // A model that imports is runnable.
            let _ = graph.forward(&vec![0.0; graph.input_len()]);
        }
    }

    #[test]
    fn onnx_import_never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = import_bytes(&bytes, "fuzz");
    }

    #[test]
    fn input_json_never_panics(text in ".{0,64}", edits in edits()) {
        let _ = parse_samples(&text);
        let valid = br#"{"input_data": [[0.5, -1.0, 2e3], [1, 2, 3]]}"#;
        let mutated = mutate(valid, &edits);
        let _ = parse_samples(&String::from_utf8_lossy(&mutated));
    }
}

/// A structural mutation of an ONNX model: a node's integer attribute, an initializer's
/// dimension or an input's dimension set to a hostile value.
#[derive(Clone, Debug)]
enum Structural {
    Attribute {
        node: usize,
        value: i64,
        ints: bool,
    },
    InitDim {
        tensor: usize,
        dim: usize,
        value: i64,
    },
    InputDim {
        dim: usize,
        value: i64,
    },
}

fn structural() -> impl Strategy<Value = Vec<Structural>> {
    let value = prop_oneof![
        Just(0i64),
        Just(-1),
        Just(1),
        Just(2),
        Just(3),
        Just(-7),
        Just(1 << 20),
        Just(1 << 40),
        Just(i64::MAX),
        Just(i64::MIN)
    ];
    let edit = prop_oneof![
        (any::<usize>(), value.clone(), any::<bool>())
            .prop_map(|(node, value, ints)| Structural::Attribute { node, value, ints }),
        (any::<usize>(), any::<usize>(), value.clone())
            .prop_map(|(tensor, dim, value)| Structural::InitDim { tensor, dim, value }),
        (any::<usize>(), value).prop_map(|(dim, value)| Structural::InputDim { dim, value }),
    ];
    prop::collection::vec(edit, 1..4)
}

fn mutate_structure(bytes: &[u8], edits: &[Structural]) -> Vec<u8> {
    use prost::Message;
    use tract_onnx::pb::{tensor_shape_proto::dimension, type_proto, ModelProto};
    let mut model = ModelProto::decode(bytes).unwrap();
    let graph = model.graph.as_mut().unwrap();
    for e in edits {
        match e {
            Structural::Attribute { node, value, ints } => {
                let n = node % graph.node.len();
                let node = &mut graph.node[n];
                if let Some(a) = node.attribute.first_mut() {
                    if *ints && !a.ints.is_empty() {
                        let i = n % a.ints.len();
                        a.ints[i] = *value;
                    } else {
                        a.i = *value;
                    }
                } else {
                    node.attribute.push(tract_onnx::pb::AttributeProto {
                        name: "axis".into(),
                        i: *value,
                        r#type: 2,
                        ..Default::default()
                    });
                }
            }
            Structural::InitDim { tensor, dim, value } if !graph.initializer.is_empty() => {
                let t = tensor % graph.initializer.len();
                let dims = &mut graph.initializer[t].dims;
                if !dims.is_empty() {
                    let d = dim % dims.len();
                    dims[d] = *value;
                }
            }
            Structural::InputDim { dim, value } => {
                if let Some(type_proto::Value::TensorType(t)) = graph
                    .input
                    .first_mut()
                    .and_then(|i| i.r#type.as_mut())
                    .and_then(|t| t.value.as_mut())
                {
                    if let Some(shape) = t.shape.as_mut() {
                        if !shape.dim.is_empty() {
                            let d = dim % shape.dim.len();
                            shape.dim[d].value = Some(dimension::Value::DimValue(*value));
                        }
                    }
                }
            }
            Structural::InitDim { .. } => {}
        }
    }
    model.encode_to_vec()
}

proptest! {
    #![proptest_config(config(96))]

    #[test]
    fn onnx_models_with_hostile_attributes_and_shapes_fail_cleanly(which in 0usize..3, edits in structural()) {
        let bytes = mutate_structure(&onnx_bytes()[which], &edits);
        if let Ok(graph) = import_bytes(&bytes, "fuzz") {
            let x = vec![0.25; graph.input_len()];
            let _ = graph.forward(&x);
            let _ = zkinfer::CompiledModel::compile(&graph, &[x], &zkinfer::CompileOptions::default());
        }
    }
}

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn compiled_models_with_mutated_fields_load_or_fail_cleanly(leaves in leaves()) {
        let mut value = model_json().clone();
        for (n, leaf) in &leaves {
            replace_leaf(&mut value, *n, leaf);
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.zkm");
        std::fs::write(&path, value.to_string()).unwrap();
        if let Ok(model) = CompiledModel::load(&path) {
            // A model that loads is one the prover can run: no panic on any input.
            let _ = model.witness(&vec![0; model.graph.input.len]);
            let _ = model.predicted_seconds();
        }
    }

    #[test]
    fn compiled_model_bytes_mutated_load_or_fail_cleanly(edits in edits()) {
        let bytes = mutate(model_json().to_string().as_bytes(), &edits);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.zkm");
        std::fs::write(&path, bytes).unwrap();
        let _ = CompiledModel::load(&path);
    }

    #[test]
    fn parameter_files_are_checked_not_trusted(edits in edits()) {
        let dir = tempfile::tempdir().unwrap();
        let cache = ParamsCache::new(dir.path());
        let honest = {
            let mut b = Vec::new();
            cache.get(3).unwrap().write(&mut b).unwrap();
            b
        };
        let mutated = mutate(&honest, &edits);
        std::fs::write(cache.path(3), &mutated).unwrap();
        let mut used = Vec::new();
        cache.get(3).unwrap().write(&mut used).unwrap();
        prop_assert_eq!(used, honest);
    }
}

proptest! {
    #![proptest_config(config(24))]

    #[test]
    fn proof_bundles_with_mutated_fields_are_rejected_cleanly(leaves in leaves()) {
        let (bundle, verifier) = honest();
        let mut value = serde_json::to_value(bundle).unwrap();
        for (n, leaf) in &leaves {
            replace_leaf(&mut value, *n, leaf);
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.json");
        std::fs::write(&path, value.to_string()).unwrap();
        if let Ok(forged) = ProofBundle::load(&path) {
            if forged != *bundle {
                prop_assert!(verifier.verify(&forged).is_err(), "a changed bundle verified");
            }
        }
    }

    #[test]
    fn proof_bundle_bytes_mutated_are_rejected_cleanly(edits in edits()) {
        let (bundle, verifier) = honest();
        let bytes = mutate(serde_json::to_string(bundle).unwrap().as_bytes(), &edits);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.json");
        std::fs::write(&path, bytes).unwrap();
        if let Ok(forged) = ProofBundle::load(&path) {
            if forged != *bundle {
                prop_assert!(verifier.verify(&forged).is_err(), "a changed bundle verified");
            }
        }
    }
}
