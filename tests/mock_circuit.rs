//! The model circuit under MockProver: the honest witness passes, and each recorded witness
//! field, perturbed, fails a named constraint. Also thread-count determinism and layout.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers fail loudly

mod common;

use halo2_proofs::{
    dev::MockProver,
    plonk::{Circuit, ConstraintSystem},
};
use pasta_curves::Fp;
use zkinfer::circuit::{instances, ModelCircuit, LOOKUP_NAMES};
use zkinfer::layout::{DOT_WIDTH, UNUSABLE_ROWS};
use zkinfer::witness::{generate, NodeWitness, Witness};
use zkinfer_circuits::{dev::describe, DivConfig, FixedDotConfig, ReluConfig};

fn honest() -> Witness {
    let model = common::model();
    let x = model.quantise_input(&common::sample(), false).unwrap();
    generate(&model.graph, &x, DOT_WIDTH).unwrap()
}

/// MockProver failures for `witness`, claiming the honest outputs as public values.
fn failures(witness: &Witness) -> Vec<String> {
    let model = common::model();
    let honest = honest();
    let public = instances(&model.graph, false, honest.output(), &honest.input);
    let circuit = ModelCircuit::for_proving(&model.graph, false, witness);
    let k = model.layout().unwrap().k;
    match MockProver::run(k, &circuit, vec![public]).unwrap().verify() {
        Ok(()) => vec![],
        Err(f) => describe(&f, LOOKUP_NAMES),
    }
}

fn assert_names(failures: &[String], name: &str) {
    assert!(
        failures.iter().any(|f| f.contains(name)),
        "no failure names {name:?}: {failures:#?}"
    );
}

#[test]
fn model_circuit_accepts_the_honest_witness() {
    assert_eq!(failures(&honest()), Vec::<String>::new());
}

#[test]
fn model_circuit_perturbed_input_breaks_the_first_dot_product() {
    let mut w = honest();
    w.input[5] += 1;
    assert_names(&failures(&w), FixedDotConfig::FIRST);
}

#[test]
fn model_circuit_perturbed_partial_sum_is_rejected() {
    let mut w = honest();
    let NodeWitness::Linear { partials, .. } = &mut w.nodes[0] else {
        panic!("first node is dense")
    };
    partials[3][0] += 1;
    assert_names(&failures(&w), FixedDotConfig::FIRST);
}

#[test]
fn model_circuit_perturbed_quotient_is_rejected() {
    let mut w = honest();
    let NodeWitness::Linear { quotients, .. } = &mut w.nodes[0] else {
        panic!("first node is dense")
    };
    quotients[2] += 1;
    assert_names(&failures(&w), DivConfig::IDENTITY);
}

#[test]
fn model_circuit_perturbed_remainder_is_rejected() {
    let mut w = honest();
    let NodeWitness::Linear { remainders, .. } = &mut w.nodes[2] else {
        panic!("third node is dense")
    };
    remainders[0] += 1;
    assert_names(&failures(&w), DivConfig::IDENTITY);
}

#[test]
fn model_circuit_perturbed_relu_output_is_rejected() {
    let mut w = honest();
    let NodeWitness::Values { outputs } = &mut w.nodes[1] else {
        panic!("second node is relu")
    };
    outputs[0] += 1;
    assert_names(&failures(&w), ReluConfig::IDENTITY);
}

#[test]
fn model_circuit_wrong_public_output_is_rejected() {
    let model = common::model();
    let w = honest();
    let mut outputs = w.output().to_vec();
    outputs[0] += 1;
    let public = instances(&model.graph, false, &outputs, &w.input);
    let circuit = ModelCircuit::for_proving(&model.graph, false, &w);
    let result = MockProver::run(model.layout().unwrap().k, &circuit, vec![public])
        .unwrap()
        .verify();
    assert_names(
        &describe(&result.unwrap_err(), LOOKUP_NAMES),
        zkinfer_circuits::dev::COPY_FAILURE,
    );
}

#[test]
fn witness_is_identical_at_one_and_many_threads() {
    let model = common::model();
    let inputs = common::eval_set().inputs;
    let run = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| {
                inputs
                    .iter()
                    .map(|x| {
                        generate(
                            &model.graph,
                            &model.quantise_input(x, false).unwrap(),
                            DOT_WIDTH,
                        )
                        .unwrap()
                    })
                    .collect::<Vec<_>>()
            })
    };
    assert_eq!(run(1), run(4));
}

#[test]
fn layout_reserves_enough_blinding_rows() {
    let mut cs = ConstraintSystem::<Fp>::default();
    let _ = ModelCircuit::configure(&mut cs);
    assert!(
        cs.blinding_factors() < UNUSABLE_ROWS,
        "{} blinding rows",
        cs.blinding_factors() + 1
    );
}

/// A graph whose column groups only fit in `2^k` side by side (the sum of their rows does
/// not): the MockProver at the planned `k` proves that the planner's height is right.
#[test]
fn layout_k_fits_a_graph_taller_than_its_tallest_group() {
    use zkinfer::qgraph::{Dense, QGraph, QNode, QOp, QTensor};
    use zkinfer::quant::Rounding;
    let tensor = |name: &str, len| QTensor {
        name: name.into(),
        len,
        scale_exp: 8,
        bits: 16,
    };
    let dense = |out: usize, inp: usize, seed: i64| Dense {
        weights: ndarray::Array2::from_shape_fn((out, inp), |(o, i)| {
            ((o as i64 * 7 + i as i64 * 3 + seed) % 7) - 3
        }),
        bias: (0..out as i64).map(|o| o * 5 - 40).collect(),
        shift: 9,
    };
    let graph = QGraph {
        input: tensor("x", 64),
        nodes: vec![
            QNode {
                name: "fc1".into(),
                op: QOp::Dense(dense(200, 64, 1)),
                inputs: vec![0],
                output: tensor("fc1", 200),
            },
            QNode {
                name: "relu".into(),
                op: QOp::Relu,
                inputs: vec![1],
                output: tensor("relu", 200),
            },
            QNode {
                name: "fc2".into(),
                op: QOp::Dense(dense(10, 200, 2)),
                inputs: vec![2],
                output: tensor("fc2", 10),
            },
        ],
        rounding: Rounding::HalfUp,
    };
    let layout = zkinfer::layout::plan(&graph, false).unwrap();
    let sum: usize = layout
        .nodes
        .iter()
        .map(|n| n.dot + n.elementwise + n.range)
        .sum();
    assert!(
        sum + UNUSABLE_ROWS > 1 << layout.k,
        "the test needs a graph taller than 2^k in sum"
    );
    let input: Vec<i64> = (0..64).map(|i| (i * 37 % 512) - 256).collect();
    let w = generate(&graph, &input, DOT_WIDTH).unwrap();
    let public = instances(&graph, false, w.output(), &input);
    let circuit = ModelCircuit::for_proving(&graph, false, &w);
    assert_eq!(
        MockProver::run(layout.k, &circuit, vec![public])
            .unwrap()
            .verify(),
        Ok(())
    );
}
