#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Adversarial review of proving in parts (issue 13), the links: what crosses a cut. At
//! every cut the two sides' commitments cover the same values at the same width, a link
//! value outside its own tensor's width is refused by the narrowing Affine, and a tensor
//! passed through an intermediate part cannot change there. The other attacks are in
//! `adversarial_parts_proofs.rs` (an honest proof tampered with) and
//! `adversarial_parts_files.rs` (crafted `parts` lists in model files).

mod common;

use common::parts::{compile_with, integer_input, three_parts};
use zkinfer::circuit::InstanceLayout;
use zkinfer::graph::ir::Source;
use zkinfer::graph::qgraph::QOp;
use zkinfer::graph::TensorId;
use zkinfer::{LinkSeed, PartedProver, Visibilities};

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
    assert_eq!(part.dot_width, 8);
    let described = common::mock_instance(part, &witness, salts, public);
    assert!(
        !described.is_empty(),
        "a value outside its tensor's width must not pass"
    );
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
