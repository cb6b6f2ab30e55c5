//! The one column plan: every chip configured over one shared set of columns, for a
//! dot-product width `W`. The model circuit and the chips' own tests both build their
//! circuits from it, and its column counts are what the cost model reads.
//!
//! ```text
//! advice: x_0..x_{W-1} (also a_0..a_{W/2-1} | b_0..b_{W/2-1} of the pair dot chip) | acc | e_0..e_4 (elementwise, shared by div/relu/max/argmax/mul/vardiv) | range lanes (5)
//! fixed:  w_0..w_{W-1} | bias | offset | divisor | constants | range lanes (5) | table (3)
//!         [| per commitment chip: Poseidon round constants (6), reused by packing rows]
//! instance: 1
//! ```
//!
//! A plan with commitments ([`ChipSet::configure_with_commitments`]) adds two commitment
//! chips (the input's and the outputs'), each the packing gate and Poseidon over five advice
//! and six fixed columns of its own, so commitments take rows beside the other chips' and
//! beside each other. It is a separate plan, not a default, so that circuits without
//! commitments keep their verifying keys.
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
    /// Commitments (packing and Poseidon), in a plan configured with them: the input's.
    pub commit: Option<CommitConfig>,
    /// A second commitment chip over columns of its own, for the outputs': a part of a model
    /// proven in parts hashes both its input and its outputs, and the two then take the same
    /// rows instead of one after the other.
    pub commit_out: Option<CommitConfig>,
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
/// Advice columns of one commitment chip: packing's four values over `c_0..c_3` and its
/// accumulator over `c_4`, the salt over `c_0`, Poseidon's state over `c_0..c_2` and its
/// partial S-box over `c_3`.
pub const COMMIT_ADVICE: usize = 5;
/// Fixed columns of one commitment chip: Poseidon's round constants (`rc_a`, `rc_b`,
/// equality-enabled for `rc_b`), which the packing rows reuse for their `[shift, offset]`
/// and four multipliers (packing rows and hash rows are separate regions: they share the
/// fixed columns as they share the advice ones).
pub const COMMIT_FIXED: usize = 6;

impl ChipSet {
    /// Configures every chip for dot width `width`, and the commitments chip as well.
    pub fn configure_with_commitments(
        meta: &mut ConstraintSystem<pasta_curves::Fp>,
        width: usize,
    ) -> Self {
        let mut plan = Self::configure(meta, width);
        plan.commit = Some(Self::commit_columns(meta));
        plan.commit_out = Some(Self::commit_columns(meta));
        plan
    }

    /// A commitment chip over columns of its own ([`COMMIT_ADVICE`] advice, [`COMMIT_FIXED`]
    /// fixed), so its rows never queue behind another chip's.
    fn commit_columns(meta: &mut ConstraintSystem<pasta_curves::Fp>) -> CommitConfig {
        let [c0, c1, c2, c3, c4] = [(); COMMIT_ADVICE].map(|_| meta.advice_column());
        let rc_a = [(); 3].map(|_| meta.fixed_column());
        let rc_b = [(); 3].map(|_| meta.fixed_column());
        let [shift, offset, m0] = rc_a;
        let multipliers = [m0, rc_b[0], rc_b[1], rc_b[2]];
        CommitConfig::configure(
            meta,
            [c0, c1, c2, c3],
            c4,
            c0,
            [c0, c1, c2],
            c3,
            [shift, offset],
            multipliers,
            rc_a,
            rc_b,
        )
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
            commit_out: None,
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
        let chips = if commitments { 2 } else { 0 };
        let advice = width + 1 + ELEMENTWISE + RANGE_COLUMNS + chips * COMMIT_ADVICE;
        ColumnCounts {
            advice,
            fixed: width + 4 + RANGE_COLUMNS + TABLE_COLUMNS + chips * COMMIT_FIXED,
            // Every advice column, the constants and instance, and Poseidon's `rc_b`.
            equality: advice + 2 + chips * 3,
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
