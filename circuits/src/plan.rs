//! The one column plan: every chip configured over one shared set of columns, for a
//! dot-product width `W`. The model circuit and the chips' own tests both build their
//! circuits from it, and its column counts are what the cost model reads.
//!
//! ```text
//! advice: x_0..x_{W-1} (also a_0..a_{W/2-1} | b_0..b_{W/2-1} of the pair dot chip) | acc | e_0..e_4 (elementwise, shared by div/relu/max/argmax/mul/vardiv) | range lanes (5)
//! fixed:  w_0..w_{W-1} | bias | offset | divisor | constants | range lanes (5) | table (3)
//!         [| Poseidon round constants (6)]
//! instance: 1
//! ```
//!
//! A plan with commitments ([`ChipSet::configure_with_commitments`]) adds the packing gate
//! (over `e_0`, `e_3`, `e_4`, `divisor`, `offset`) and Poseidon (state in `e_0..e_2`, its
//! partial S-box in `e_3`, and six fixed columns of round constants). It is a separate plan,
//! not a default, so that circuits without commitments keep their verifying keys.
//!
//! Equality is enabled on every advice column (the chips copy cells between them), on the
//! constants column and on the instance column.

use ff::PrimeField;
use halo2_proofs::plonk::{Advice, Column, ConstraintSystem, Fixed, Instance};

use crate::range::{LookupRangeConfig, RangeTableConfig};
use crate::{
    ArgMaxConfig, CommitConfig, DivConfig, FixedDotConfig, MaxConfig, MulConfig, PairDotConfig,
    ReluConfig, VarDivConfig,
};

/// Every chip's config over the shared columns.
#[derive(Clone, Debug)]
pub struct ChipSet {
    /// Range checks and the shared lookup table.
    pub range: LookupRangeConfig,
    /// Fixed-weight dot products.
    pub dot: FixedDotConfig,
    /// Dot products of two cell vectors, over the halves of the dot chip's input columns.
    pub pair: PairDotConfig,
    /// Division by a constant.
    pub div: DivConfig,
    /// ReLU.
    pub relu: ReluConfig,
    /// Maximum of a window.
    pub max: MaxConfig,
    /// First index of a maximum.
    pub argmax: ArgMaxConfig,
    /// Product of two cells.
    pub mul: MulConfig,
    /// Division by a cell.
    pub vardiv: VarDivConfig,
    /// Commitments (packing and Poseidon), in a plan configured with them.
    pub commit: Option<CommitConfig>,
    /// The elementwise advice columns the one-row chips share.
    pub elementwise: [Column<Advice>; ELEMENTWISE],
    /// The elementwise fixed columns: `[offset, divisor]`.
    pub elementwise_fixed: [Column<Fixed>; 2],
    /// A fixed column for constants (`Layouter::assign_advice_from_constant`).
    pub constants: Column<Fixed>,
    /// The public values.
    pub instance: Column<Instance>,
}

/// How many columns of each kind a plan uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ColumnCounts {
    /// Advice columns.
    pub advice: usize,
    /// Fixed columns, lookup-table columns included.
    pub fixed: usize,
    /// Equality-enabled columns (the permutation argument's width), instance included.
    pub equality: usize,
    /// Lookup arguments.
    pub lookups: usize,
}

/// Elementwise advice columns shared by the one-row chips.
const ELEMENTWISE: usize = 5;
/// Range lanes: advice and fixed columns of the range chip.
const RANGE_COLUMNS: usize = 5;
/// Columns of the shared lookup table (tag, value, output).
const TABLE_COLUMNS: usize = 3;
/// Poseidon's round-constant columns (`rc_a`, `rc_b`), equality-enabled for `rc_b`.
const POSEIDON_FIXED: usize = 6;

impl ChipSet {
    /// Configures every chip for dot width `width`, and the commitments chip as well.
    pub fn configure_with_commitments(
        meta: &mut ConstraintSystem<pasta_curves::Fp>,
        width: usize,
    ) -> Self {
        let mut plan = Self::configure(meta, width);
        let [e0, e1, e2, e3, e4] = plan.elementwise;
        let [offset, divisor] = plan.elementwise_fixed;
        let rc_a = [(); 3].map(|_| meta.fixed_column());
        let rc_b = [(); 3].map(|_| meta.fixed_column());
        plan.commit = Some(CommitConfig::configure(
            meta,
            [e0, e3, e4],
            [e0, e1, e2],
            e3,
            [divisor, offset],
            rc_a,
            rc_b,
        ));
        plan
    }

    /// Configures every chip for dot width `width`.
    pub fn configure<F: PrimeField>(meta: &mut ConstraintSystem<F>, width: usize) -> Self {
        let x: Vec<_> = (0..width).map(|_| meta.advice_column()).collect();
        let w: Vec<_> = (0..width).map(|_| meta.fixed_column()).collect();
        let acc = meta.advice_column();
        let [e0, e1, e2, e3, e4] = [(); ELEMENTWISE].map(|_| meta.advice_column());
        let range_advice = [(); RANGE_COLUMNS].map(|_| meta.advice_column());
        let [bias, offset, divisor, constants] = [(); 4].map(|_| meta.fixed_column());
        let range_fixed = [(); RANGE_COLUMNS].map(|_| meta.fixed_column());
        meta.enable_constant(constants);
        let table = RangeTableConfig::configure(meta);
        let instance = meta.instance_column();
        meta.enable_equality(instance);
        Self {
            range: LookupRangeConfig::configure(meta, range_advice, range_fixed, table),
            dot: FixedDotConfig::configure(meta, x.clone(), w, acc, bias),
            pair: {
                let (a, b) = x.split_at(width / 2);
                PairDotConfig::configure(meta, a.to_vec(), b[..width / 2].to_vec(), acc)
            },
            div: DivConfig::configure(meta, [e0, e1, e2], [offset, divisor]),
            relu: ReluConfig::configure(meta, [e0, e1, e2]),
            max: MaxConfig::configure(meta, [e0, e1, e2, e3]),
            argmax: ArgMaxConfig::configure(meta, [e0, e1, e2, e3, e4]),
            mul: MulConfig::configure(meta, [e0, e1, e2]),
            vardiv: VarDivConfig::configure(meta, [e0, e1, e2, e3, e4], divisor),
            commit: None,
            elementwise: [e0, e1, e2, e3, e4],
            elementwise_fixed: [offset, divisor],
            constants,
            instance,
        }
    }

    /// The columns [`ChipSet::configure`] (or, with `commitments`,
    /// [`ChipSet::configure_with_commitments`]) allocates at dot width `width` (checked
    /// against a configured constraint system by the tests).
    pub fn columns(width: usize, commitments: bool) -> ColumnCounts {
        let advice = width + 1 + ELEMENTWISE + RANGE_COLUMNS;
        let poseidon = if commitments { POSEIDON_FIXED } else { 0 };
        ColumnCounts {
            advice,
            fixed: width + 4 + RANGE_COLUMNS + TABLE_COLUMNS + poseidon,
            equality: advice + 2 + poseidon / 2,
            lookups: crate::range::LANES,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pasta_curves::Fp;

    /// The counts agree with what `configure` allocates, read from the constraint system's
    /// pinned description (halo2 0.4 exposes no column getters).
    #[test]
    fn column_counts_match_the_configured_constraint_system() {
        for (width, commitments) in [(2, false), (4, false), (8, true), (64, false), (64, true)] {
            let mut cs = ConstraintSystem::<Fp>::default();
            let _ = if commitments {
                ChipSet::configure_with_commitments(&mut cs, width)
            } else {
                ChipSet::configure(&mut cs, width)
            };
            let pinned = format!("{:?}", cs.pinned());
            let field = |name: &str| -> usize {
                let at = pinned.find(&format!("{name}: ")).expect(name) + name.len() + 2;
                let digits: String = pinned[at..]
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect();
                digits.parse().expect(name)
            };
            let counts = ChipSet::columns(width, commitments);
            assert_eq!(field("num_advice_columns"), counts.advice, "width {width}");
            assert_eq!(field("num_fixed_columns"), counts.fixed, "width {width}");
            let permutation = pinned
                .find("permutation: Argument { columns: [")
                .expect("perm");
            let columns = &pinned[permutation..];
            let end = columns.find("] }").expect("end");
            assert_eq!(
                columns[..end].matches("Column {").count(),
                counts.equality,
                "width {width}"
            );
            assert_eq!(
                pinned.matches("Argument { input_expressions").count(),
                counts.lookups
            );
        }
    }
}
