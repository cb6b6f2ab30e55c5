//! Helpers for MockProver tests: render failures by *name* so tests can assert which
//! constraint, lookup or copy failed, and in which region.
//!
//! `halo2_proofs` 0.4 does not name lookup arguments, so callers pass the names of their
//! lookups in the order `configure` created them.

use std::collections::BTreeSet;

use halo2_proofs::dev::VerifyFailure;

/// One line per failure: the constraint or lookup name followed by its location.
pub fn describe(failures: &[VerifyFailure], lookup_names: &[&str]) -> Vec<String> {
    failures
        .iter()
        .map(|failure| match failure {
            VerifyFailure::Lookup {
                lookup_index,
                location,
            } => {
                let name = lookup_names.get(*lookup_index).copied().unwrap_or("?");
                format!("lookup '{name}' {location}")
            }
            VerifyFailure::ConstraintNotSatisfied {
                constraint,
                location,
                ..
            } => format!("{constraint} {location}"),
            other => other.to_string(),
        })
        .collect()
}

/// Asserts that verification failed, that every failure names one of `expected`, and that
/// each of `expected` is named at least once.
///
/// # Panics
/// When the assertion fails (this is a test helper).
pub fn assert_fails_with(
    result: Result<(), Vec<VerifyFailure>>,
    lookup_names: &[&str],
    expected: &[&str],
) {
    let failures = match result {
        Ok(()) => panic_msg(&format!(
            "verification passed; expected failures {expected:?}"
        )),
        Err(failures) => describe(&failures, lookup_names),
    };
    for line in &failures {
        if !expected.iter().any(|e| line.contains(e)) {
            panic_msg(&format!(
                "unexpected failure {line:?}; expected {expected:?}"
            ));
        }
    }
    for e in expected {
        if !failures.iter().any(|line| line.contains(e)) {
            panic_msg(&format!("no failure names {e:?}; got {failures:#?}"));
        }
    }
}

#[expect(clippy::panic, reason = "test helper: a failed assertion must panic")]
fn panic_msg(msg: &str) -> ! {
    panic!("{msg}")
}

/// What a failed copy (equality) constraint prints.
pub const COPY_FAILURE: &str = "Equality constraint not satisfied";

/// What one MockProver failure names, without its location: the unit in which tests assert
/// *which* constraint rejected a witness.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Broken {
    /// A gate's constraint, as `(gate name, constraint name)`.
    Constraint(String, String),
    /// A lookup argument, by the name its chip gives it.
    Lookup(String),
    /// An equality (copy) constraint, between advice cells or with the instance column.
    Copy,
    /// Anything else (an unassigned cell, a poisoned constraint), as halo2 prints it.
    Other(String),
}

impl Broken {
    /// A gate's constraint, from the chip's name constants.
    pub fn constraint(gate: &str, constraint: &str) -> Self {
        Self::Constraint(gate.to_owned(), constraint.to_owned())
    }
}

impl std::fmt::Display for Broken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Constraint(gate, constraint) => write!(f, "gate '{gate}': '{constraint}'"),
            Self::Lookup(name) => write!(f, "lookup '{name}'"),
            Self::Copy => f.write_str(COPY_FAILURE),
            Self::Other(what) => f.write_str(what),
        }
    }
}

/// The distinct things that `failures` name, locations dropped.
pub fn named_failures(failures: &[VerifyFailure], lookup_names: &[&str]) -> BTreeSet<Broken> {
    failures
        .iter()
        .map(|failure| match failure {
            VerifyFailure::Lookup { lookup_index, .. } => Broken::Lookup(
                lookup_names
                    .get(*lookup_index)
                    .map_or_else(|| format!("lookup {lookup_index}"), |n| (*n).to_owned()),
            ),
            VerifyFailure::ConstraintNotSatisfied { constraint, .. } => {
                parse_constraint(&constraint.to_string())
            }
            VerifyFailure::Permutation { .. } => Broken::Copy,
            other => Broken::Other(other.to_string()),
        })
        .collect()
}

/// Reads `(gate, constraint)` back from halo2's rendering of a constraint,
/// `Constraint 1 ('name') in gate 0 ('gate name')` (an unnamed constraint has no `('name')`).
fn parse_constraint(shown: &str) -> Broken {
    const GATE: &str = " in gate ";
    let Some(at) = shown.find(GATE) else {
        return Broken::Other(shown.to_owned());
    };
    let quoted = |s: &str| -> Option<String> {
        let start = s.find("('")? + 2;
        let end = s.rfind("')")?;
        s.get(start..end).map(str::to_owned)
    };
    let constraint = quoted(&shown[..at]).unwrap_or_default();
    match quoted(&shown[at + GATE.len()..]) {
        Some(gate) => Broken::Constraint(gate, constraint),
        None => Broken::Other(shown.to_owned()),
    }
}
