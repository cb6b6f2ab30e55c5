//! How often the costly steps ran on this thread: the integer graph's validation
//! (`QGraph::validate`), a layout (`circuit::layout::plan`, one per width tried), the
//! Poseidon commitment to hashed parameters, and a proving or verifying key built. Each step counts itself
//! at its one definition, so a test can check that a compile runs each once
//! (`tests/compile_once.rs`) and that proving many inferences builds each key once
//! (`tests/parts.rs`).
//! Per thread, so tests running side by side do not count each other's steps. Not an API.

use std::cell::Cell;

/// What ran on this thread since the last [`take`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// `QGraph::validate` calls.
    pub validations: usize,
    /// `circuit::layout::plan` calls (a choice of width lays out once per width).
    pub layouts: usize,
    /// Commitments to hashed parameters.
    pub param_commitments: usize,
    /// Proving keys built (`ProvingKeys` built, one per shape).
    pub proving_keys: usize,
    /// Verifying keys built (`VerifyingKeys` built, one per shape).
    pub verifying_keys: usize,
}

thread_local! {
    static COUNTS: Cell<Counts> = const { Cell::new(Counts { validations: 0, layouts: 0, param_commitments: 0, proving_keys: 0, verifying_keys: 0 }) };
}

fn bump(f: impl FnOnce(&mut Counts)) {
    COUNTS.with(|c| {
        let mut counts = c.get();
        f(&mut counts);
        c.set(counts);
    });
}

/// The counts since the last call, reset to zero.
pub fn take() -> Counts {
    COUNTS.with(|c| c.replace(Counts::default()))
}

/// One integer graph validated.
pub(crate) fn validated() {
    bump(|c| c.validations += 1);
}

/// One layout planned.
pub(crate) fn laid_out() {
    bump(|c| c.layouts += 1);
}

/// One commitment to hashed parameters computed.
pub(crate) fn committed() {
    bump(|c| c.param_commitments += 1);
}

/// One proving key built.
pub(crate) fn proving_key() {
    bump(|c| c.proving_keys += 1);
}

/// One verifying key built.
pub(crate) fn verifying_key() {
    bump(|c| c.verifying_keys += 1);
}
