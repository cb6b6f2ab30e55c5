//! Constraint coverage: every named constraint and lookup of the column plan is, in at least
//! one malicious test, the one thing that rejects the witness.
//!
//! The constraints are read from the configured constraint system itself, so a new gate, a new
//! constraint in a gate, or a new chip in [`crate::ChipSet`] joins by construction: it fails
//! here until its chip declares it in its `CONSTRAINTS` list and a malicious test (a
//! [`crate::testing::malicious_tests`] entry, listed below) breaks it alone.

use std::collections::{BTreeMap, BTreeSet};

use halo2_proofs::plonk::ConstraintSystem;
use pasta_curves::Fp;

use crate::dev::Broken;
use crate::range::LookupRangeConfig;
use crate::testing::{configure, Malicious};
use crate::{
    ArgMaxConfig, CommitConfig, DivConfig, FixedDotConfig, MaxConfig, MulConfig, PairDotConfig,
    ReluConfig, VarDivConfig,
};

/// Each chip's declared `(gate, constraint)` names.
const DECLARED: &[(&str, &[(&str, &str)])] = &[
    ("range", LookupRangeConfig::CONSTRAINTS),
    ("dot", FixedDotConfig::CONSTRAINTS),
    ("div", DivConfig::CONSTRAINTS),
    ("relu", ReluConfig::CONSTRAINTS),
    ("max", MaxConfig::CONSTRAINTS),
    ("argmax", ArgMaxConfig::CONSTRAINTS),
    ("mul", MulConfig::CONSTRAINTS),
    ("pair", PairDotConfig::CONSTRAINTS),
    ("vardiv", VarDivConfig::CONSTRAINTS),
    ("commit", CommitConfig::CONSTRAINTS),
];

/// Each chip's malicious witnesses (the function chip has no constraint of its own: it uses
/// the range chip's lookups, covered by the range tests).
const MALICIOUS: &[&[Malicious]] = &[
    crate::range::tests::MALICIOUS,
    crate::dot::tests::MALICIOUS,
    crate::div::tests::MALICIOUS,
    crate::relu::tests::MALICIOUS,
    crate::max::tests::MALICIOUS,
    crate::argmax::tests::MALICIOUS,
    crate::mul::tests::MALICIOUS,
    crate::pairdot::tests::MALICIOUS,
    crate::vardiv::tests::MALICIOUS,
    crate::commit::tests::MALICIOUS,
];

/// The plan's gate constraints, in order, and its number of lookups, read from the
/// constraint system's debug rendering (halo2 0.4 has no getters for gates).
fn configured() -> (Vec<Broken>, usize) {
    let mut cs = ConstraintSystem::<Fp>::default();
    let _ = configure(&mut cs);
    let shown = format!("{cs:?}");
    let mut constraints = Vec::new();
    const GATE: &str = "Gate { name: \"";
    const NAMES: &str = "constraint_names: [";
    for (at, _) in shown.match_indices(GATE) {
        let rest = &shown[at + GATE.len()..];
        let gate = &rest[..rest.find('"').expect("gate name")];
        // Poseidon's gates are `halo2_gadgets`' (tested there); a wrong hash shows here as
        // a commitment that misses the instance (the commit chip's tests).
        if CommitConfig::POSEIDON_GATES.contains(&gate) {
            continue;
        }
        let names = &rest[rest.find(NAMES).expect("constraint names") + NAMES.len()..];
        let names = &names[..names.find(']').expect("end of names")];
        // `"a", "b"`: the quoted parts are the odd pieces.
        for name in names.split('"').skip(1).step_by(2) {
            constraints.push(Broken::constraint(gate, name));
        }
    }
    let lookups = shown.matches("Argument { input_expressions").count();
    (constraints, lookups)
}

fn lookups() -> Vec<Broken> {
    LookupRangeConfig::LOOKUP_NAMES
        .iter()
        .map(|name| Broken::Lookup((*name).to_owned()))
        .collect()
}

#[test]
fn every_configured_constraint_is_named_and_declared_by_its_chip() {
    let (configured, lookup_count) = configured();
    assert!(!configured.is_empty(), "no gates parsed");
    // The packing gates repeat, once per commitment chip (the input's and the outputs',
    // over their own columns; the commit chip's tests forge both); no other name may.
    let packing = |b: &Broken| {
        matches!(b, Broken::Constraint(gate, _)
            if gate == CommitConfig::GATE_FIRST || gate == CommitConfig::GATE_NEXT)
    };
    let others = configured.iter().filter(|b| !packing(b)).count();
    let unique: BTreeSet<_> = configured.iter().cloned().collect();
    assert_eq!(
        unique.iter().filter(|b| !packing(b)).count(),
        others,
        "a (gate, constraint) name repeats"
    );
    assert_eq!(configured.iter().filter(|b| packing(b)).count(), 4);
    for broken in &configured {
        if let Broken::Constraint(gate, name) = broken {
            assert!(!name.is_empty(), "gate '{gate}' has an unnamed constraint");
        }
    }
    let mut declared = BTreeSet::new();
    for (chip, constraints) in DECLARED {
        for (gate, name) in *constraints {
            let fresh = declared.insert(Broken::constraint(gate, name));
            assert!(fresh, "{chip}: '{gate}': '{name}' is declared twice");
        }
    }
    assert_eq!(
        unique, declared,
        "the configured constraints differ from the chips' CONSTRAINTS lists"
    );
    assert_eq!(
        lookup_count,
        LookupRangeConfig::LOOKUP_NAMES.len(),
        "every lookup needs a name in LookupRangeConfig::LOOKUP_NAMES"
    );
}

#[test]
fn every_constraint_is_the_one_failure_of_some_malicious_test() {
    let (configured, _) = configured();
    let mut breakers: BTreeMap<Broken, Vec<&str>> = configured
        .into_iter()
        .chain(lookups())
        .map(|b| (b, Vec::new()))
        .collect();
    for malicious in MALICIOUS.iter().copied().flatten() {
        malicious.check();
        let target = malicious.breaks.broken();
        match breakers.get_mut(&target) {
            Some(tests) => tests.push(malicious.test),
            None => panic!("{}: breaks {target}, not in the plan", malicious.test),
        }
    }
    for (broken, tests) in &breakers {
        println!("{broken}: {tests:?}");
    }
    let uncovered: Vec<String> = breakers
        .iter()
        .filter(|(_, tests)| tests.is_empty())
        .map(|(broken, _)| broken.to_string())
        .collect();
    assert!(
        uncovered.is_empty(),
        "no malicious test breaks these alone: {uncovered:#?}"
    );
}

/// The harness itself: a witness that verifies is never taken for a rejected one.
#[test]
#[should_panic(expected = "verification passed")]
fn assert_fails_with_refuses_a_passing_verdict() {
    crate::dev::assert_fails_with(Ok(()), &LookupRangeConfig::LOOKUP_NAMES, &["anything"]);
}

/// The names the coverage test prints for what is uncovered.
#[test]
fn broken_constraints_print_their_gate_and_name() {
    assert_eq!(
        Broken::constraint("relu", "y = sign bit * x").to_string(),
        "gate 'relu': 'y = sign bit * x'"
    );
    assert_eq!(
        Broken::Lookup(LookupRangeConfig::LOOKUP_NAMES[0].to_owned()).to_string(),
        "lookup 'range limb in table, lane 0'"
    );
    assert_eq!(Broken::Copy.to_string(), crate::dev::COPY_FAILURE);
}
