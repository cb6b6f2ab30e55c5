//! halo2 chips for zkinfer.
//!
//! This crate holds gadgets only: it knows nothing about models, ONNX or threads. Every chip
//! follows the same anatomy: an `…Instructions` trait that says *what* is computed, a chip
//! that decides *how* (columns, gates, lookups), and a config built by `configure` from
//! columns the caller allocates, so chips can share columns and the one range table.
//!
//! | chip | computes | per element |
//! |---|---|---|
//! | [`range::LookupRangeChip`] | `0 <= x < 2^n`, `-2^(n-1) <= x < 2^(n-1)` | `ceil(ceil(n / 8) / 2)` rows (two 8-bit limbs per row), 2 lookups each |
//! | [`dot::FixedDotChip`] | `b + sum_i x_i * w_i`, weights in fixed columns | `ceil(len / width)` rows |
//! | [`div::DivChip`] | `floor((x + c) / d)`, any constant `d` | 1 row + range checks of `q` and `r` |
//! | [`relu::ReluChip`] | `max(x, 0)` from the sign bit | 1 row |
//! | [`function::FunctionChip`] | `f(x)` by lookup in a tabulated domain | half a row, 1 lookup |
//! | [`argmax::ArgMaxChip`] | first index of a window's max | `n` rows + `n` range checks |
//! | [`vardiv::VarDivChip`] | `floor(n · c / d)` for cells `n`, `d > 0` | 1 row + range checks of `q`, `r`, `d − 1 − r` |
//! | [`mul::MulChip`] | `a · b` for two cells | 1 row |
//! | [`pairdot::PairDotChip`] | `sum_i a_i * b_i` for two vectors of cells (attention) | `ceil(len / (width / 2))` rows |
//! | [`max::MaxChip`] | `max(x_0, …, x_n-1)`: not below any input, equal to one | `n` rows + `n` range checks |
//! | [`commit::CommitChip`] | `Poseidon(salt, packed values)` (`halo2_gadgets`' `Pow5Chip`) | 1 row, plus 40 rows per packed element of `⌊252 / bits⌋` values |
//!
//! All chips speak in field elements; [`value`] is the one place where signed integers
//! become field elements and back.

pub mod argmax;
mod cells;
pub mod commit;
#[cfg(test)]
mod coverage_tests;
pub mod dev;
pub mod div;
pub mod dot;
pub mod function;
pub mod max;
pub mod mul;
pub mod pairdot;
pub mod plan;
pub mod range;
pub mod relu;
#[cfg(test)]
mod testing;
pub mod value;
pub mod vardiv;

pub use argmax::{ArgMaxChip, ArgMaxConfig, ArgMaxInstructions};
pub use commit::{CommitChip, CommitConfig, CommitInstructions};
pub use div::{DivChip, DivConfig, DivInstructions, DivSpec};
pub use dot::{DotInstructions, DotTask, FixedDotChip, FixedDotConfig};
pub use function::{FunctionChip, FunctionInstructions};
pub use max::{MaxChip, MaxConfig, MaxInstructions};
pub use mul::{MulChip, MulConfig, MulInstructions};
pub use pairdot::{PairDotChip, PairDotConfig, PairDotInstructions, PairTask};
pub use plan::{ChipSet, ColumnCounts};
pub use range::{
    FunctionTable, LookupRangeChip, LookupRangeConfig, RangeInstructions, RangeTableConfig, Sign,
    SignedCell, UnsignedCell, FIRST_FUNCTION_TAG,
};
pub use relu::{ReluChip, ReluConfig, ReluInstructions};
pub use vardiv::{VarDivChip, VarDivConfig, VarDivInstructions};

/// A cell holding one field element, the currency between chips.
pub type Cell<F> = halo2_proofs::circuit::AssignedCell<F, F>;
