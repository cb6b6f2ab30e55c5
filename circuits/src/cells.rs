//! Cells whose range is proven: what the range chip returns, and what every chip that needs
//! a bounded input takes. Their constructors are crate-private, so outside this crate a
//! `SignedCell` or `UnsignedCell` always comes from a range check (or a range-preserving
//! chip such as ReLU).

use ff::PrimeField;

use crate::Cell;

/// Whether a signed value is known to be non-negative, and how.
#[derive(Clone, Debug)]
pub enum Sign<F: PrimeField> {
    /// The sign bit from the value's decomposition: `1` iff the value is `>= 0`.
    Bit(Cell<F>),
    /// The value is non-negative by construction (for example a ReLU output).
    NonNegative,
}

/// A cell proven to hold an integer in `[-2^(bits-1), 2^(bits-1))`.
///
/// Only the range chip and the chips that preserve the range (ReLU) build one.
#[derive(Clone, Debug)]
pub struct SignedCell<F: PrimeField> {
    cell: Cell<F>,
    sign: Sign<F>,
    bits: u32,
}

impl<F: PrimeField> SignedCell<F> {
    /// The cell.
    pub fn cell(&self) -> &Cell<F> {
        &self.cell
    }
    /// The sign evidence.
    pub fn sign(&self) -> &Sign<F> {
        &self.sign
    }
    /// The proven width.
    pub fn bits(&self) -> u32 {
        self.bits
    }
    /// A cell the range chip has just proven to `bits` bits, with its sign evidence.
    pub(crate) fn proven(cell: Cell<F>, sign: Sign<F>, bits: u32) -> Self {
        Self { cell, sign, bits }
    }
    /// A non-negative cell whose range the caller has proven by other means (a ReLU output,
    /// bounded by its range-checked input).
    pub(crate) fn nonnegative_by_construction(cell: Cell<F>, bits: u32) -> Self {
        Self {
            cell,
            sign: Sign::NonNegative,
            bits,
        }
    }
}

/// A cell proven to hold an integer in `[0, 2^bits)`.
#[derive(Clone, Debug)]
pub struct UnsignedCell<F: PrimeField> {
    cell: Cell<F>,
    bits: u32,
}

impl<F: PrimeField> UnsignedCell<F> {
    /// A cell the range chip has just proven to lie in `[0, 2^bits)`.
    pub(crate) fn proven(cell: Cell<F>, bits: u32) -> Self {
        Self { cell, bits }
    }
    /// The cell.
    pub fn cell(&self) -> &Cell<F> {
        &self.cell
    }
    /// The proven width.
    pub fn bits(&self) -> u32 {
        self.bits
    }
}
