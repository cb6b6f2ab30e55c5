//! Helpers for MockProver tests: render failures by *name* so tests can assert which
//! constraint, lookup or copy failed, and in which region.
//!
//! `halo2_proofs` 0.4 does not name lookup arguments, so callers pass the names of their
//! lookups in the order `configure` created them.

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
