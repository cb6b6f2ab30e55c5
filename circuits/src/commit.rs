//! Commitments to tensors: range-checked values packed into field elements, hashed with a
//! secret salt by Poseidon (`halo2_gadgets`' `Pow5Chip` with `P128Pow5T3`, never a
//! permutation of our own).
//!
//! # Purpose
//! `c = H(… H(H(salt, p_0), p_1) …, p_{m−1})`, where `H` is Poseidon over two field elements
//! (`ConstantLength<2>`: one permutation each) and `p_j` packs up to
//! `⌊PACK_BITS / bits⌋` values: `p = Σ_i (v_i + 2^(bits−1)) · 2^(bits·(n−1−i))`, the first
//! value in the most significant place. The salt is a random field element the prover keeps:
//! a commitment to a few low-entropy values cannot be brute-forced without it. The chain's
//! length is fixed by the circuit, so a commitment binds exactly `len` values.
//!
//! # Layout
//! ```text
//! | salt | value (copy) | acc                    | radix  | offset     | q_first | q_next |
//! |------|--------------|------------------------|--------|------------|---------|--------|
//! | s    | v_0          | v_0 + o                | 2^bits | 2^(bits−1) | 1       | 0      |
//! |      | v_1          | acc_0 · 2^bits + v_1 + o | 2^bits | 2^(bits−1) | 0     | 1      |
//! ```
//! then one Poseidon hash per packed element (`HASH_ROWS` rows in the state columns).
//!
//! # Constraints
//! - `q_first · (acc − value − offset) = 0` ("first packed value")
//! - `q_next · (acc − acc_prev · radix − value − offset) = 0` ("next packed value")
//! - Poseidon's own gates (full rounds, partial rounds, pad-and-add), from `halo2_gadgets`.
//!
//! # Soundness
//! Every value is copied from a cell the range chip proved to lie in
//! `[−2^(bits−1), 2^(bits−1))`, so each digit `v + offset` lies in `[0, 2^bits)` and a packed
//! element is below `2^PACK_BITS < p`: packing never wraps, and the packed elements determine
//! the values. `radix` and `offset` are fixed (the verifying key commits to them). The salt is
//! a free witness by design; the commitment cell is constrained to the instance column.
//!
//! # Panics
//! None.
//!
//! # Cost
//! One row per value, plus [`HASH_ROWS`] rows per packed element.

use halo2_gadgets::poseidon::{
    primitives::{self as poseidon, ConstantLength, P128Pow5T3},
    Hash, Pow5Chip, Pow5Config,
};
use halo2_proofs::{
    circuit::{Layouter, Value},
    plonk::{Advice, Column, ConstraintSystem, Error, Fixed, Selector},
    poly::Rotation,
};
use pasta_curves::Fp;

use crate::value::{felt, pow2};
use crate::{Cell, SignedCell};

/// Bits a packed field element holds at most (the Pallas base field has 255: this leaves
/// room, so a packed element never reaches the modulus).
pub const PACK_BITS: u32 = 252;

/// Rows one Poseidon hash of two elements occupies in the state columns: the initial state
/// (1), adding the input (2) and the permutation (1 + 8 full rounds + 28 rows of two partial
/// rounds).
pub const HASH_ROWS: usize = 40;

/// The Poseidon chip of the commitments: width 3, rate 2.
type Poseidon = Pow5Chip<Fp, 3, 2>;

/// Columns and selectors of the packing gate, and the Poseidon chip's config.
#[derive(Clone, Debug)]
pub struct CommitConfig {
    poseidon: Pow5Config<Fp, 3, 2>,
    salt: Column<Advice>,
    value: Column<Advice>,
    acc: Column<Advice>,
    radix: Column<Fixed>,
    offset: Column<Fixed>,
    q_first: Selector,
    q_next: Selector,
}

impl CommitConfig {
    /// The gate of an element's first digit.
    pub const GATE_FIRST: &'static str = "pack first";
    /// The gate of every further digit.
    pub const GATE_NEXT: &'static str = "pack next";
    /// The first value of a packed element.
    pub const FIRST: &'static str = "first packed value";
    /// Every further value of a packed element.
    pub const NEXT: &'static str = "next packed value";
    /// Every constraint of the packing gates, as `(gate, constraint)` names.
    pub const CONSTRAINTS: &'static [(&'static str, &'static str)] = &[
        (Self::GATE_FIRST, Self::FIRST),
        (Self::GATE_NEXT, Self::NEXT),
    ];
    /// The gates `halo2_gadgets`' Poseidon chip adds (its soundness is that crate's; a wrong
    /// commitment is caught here by the instance column, see the tests).
    pub const POSEIDON_GATES: &'static [&'static str] =
        &["full round", "partial rounds", "pad-and-add"];

    /// Creates the packing gate and the Poseidon chip over caller-allocated columns:
    /// `advice = [salt, value, acc, state_0, state_1, state_2, partial_sbox]` (they may
    /// repeat: the packing rows and the hash rows are separate regions), `[radix, offset]`,
    /// and Poseidon's round-constant columns.
    pub fn configure(
        meta: &mut ConstraintSystem<Fp>,
        [salt, value, acc]: [Column<Advice>; 3],
        state: [Column<Advice>; 3],
        partial_sbox: Column<Advice>,
        [radix, offset]: [Column<Fixed>; 2],
        rc_a: [Column<Fixed>; 3],
        rc_b: [Column<Fixed>; 3],
    ) -> Self {
        for column in [salt, value, acc] {
            meta.enable_equality(column);
        }
        let q_first = meta.selector();
        let q_next = meta.selector();
        // Two gates: the first digit's must not query the row above (another region's).
        meta.create_gate(Self::GATE_FIRST, |meta| {
            let first = meta.query_selector(q_first);
            let v = meta.query_advice(value, Rotation::cur());
            let acc = meta.query_advice(acc, Rotation::cur());
            let offset = meta.query_fixed(offset);
            vec![(Self::FIRST, first * (acc - v - offset))]
        });
        meta.create_gate(Self::GATE_NEXT, |meta| {
            let next = meta.query_selector(q_next);
            let v = meta.query_advice(value, Rotation::cur());
            let acc_cur = meta.query_advice(acc, Rotation::cur());
            let acc_prev = meta.query_advice(acc, Rotation::prev());
            let radix = meta.query_fixed(radix);
            let offset = meta.query_fixed(offset);
            vec![(Self::NEXT, next * (acc_cur - acc_prev * radix - v - offset))]
        });
        let poseidon = Poseidon::configure::<P128Pow5T3>(meta, state, partial_sbox, rc_a, rc_b);
        Self {
            poseidon,
            salt,
            value,
            acc,
            radix,
            offset,
            q_first,
            q_next,
        }
    }
}

/// Values per packed element at `bits` bits each.
pub fn per_element(bits: u32) -> usize {
    (PACK_BITS / bits.clamp(1, PACK_BITS)) as usize
}

/// Packed elements for `len` values of `bits` bits.
pub fn packed_len(len: usize, bits: u32) -> usize {
    len.div_ceil(per_element(bits))
}

/// Rows a commitment to `len` values of `bits` bits occupies (packing, then hashing).
pub fn rows(len: usize, bits: u32) -> usize {
    len.max(1) + packed_len(len, bits) * HASH_ROWS
}

/// Packs `values` of `bits` bits (`1..=62`) into field elements, or names the first value
/// outside `[−2^(bits−1), 2^(bits−1))`.
pub fn pack(values: &[i64], bits: u32) -> Result<Vec<Fp>, usize> {
    if !(1..=62).contains(&bits) {
        return Err(0);
    }
    let half = 1i64 << (bits - 1);
    if let Some(bad) = values.iter().position(|v| !(-half..half).contains(v)) {
        return Err(bad);
    }
    let radix: Fp = pow2(bits);
    Ok(values
        .chunks(per_element(bits))
        .map(|chunk| {
            chunk
                .iter()
                .fold(Fp::zero(), |acc, v| acc * radix + felt::<Fp>(v + half))
        })
        .collect())
}

/// The commitment to `values` of `bits` bits under `salt`, or the index of a value outside
/// the range (an opening with such a value cannot match any proof).
pub fn commitment(values: &[i64], bits: u32, salt: Fp) -> Result<Fp, usize> {
    Ok(chain(salt, &pack(values, bits)?))
}

/// The commitment to several groups of values, each packed at its own width, in one chain:
/// `H(… H(salt, p_0) …)` over the packed elements of every group, one group after another
/// (a model's weights at the weight width, then its biases at theirs). `Err((g, i))` names
/// value `i` of group `g` outside its range.
pub fn group_commitment(groups: &[(&[i64], u32)], salt: Fp) -> Result<Fp, (usize, usize)> {
    let mut packed = Vec::new();
    for (g, (values, bits)) in groups.iter().enumerate() {
        packed.extend(pack(values, *bits).map_err(|i| (g, i))?);
    }
    Ok(chain(salt, &packed))
}

/// Rows a commitment to `groups` of `(len, bits)` occupies (packing, then hashing).
pub fn group_rows(groups: &[(usize, u32)]) -> usize {
    groups
        .iter()
        .map(|&(len, bits)| len + packed_len(len, bits) * HASH_ROWS)
        .sum::<usize>()
        .max(1)
}

/// `H(… H(salt, p_0) …, p_{m−1})`.
fn chain(salt: Fp, packed: &[Fp]) -> Fp {
    packed.iter().fold(salt, |h, p| {
        poseidon::Hash::<Fp, P128Pow5T3, ConstantLength<2>, 3, 2>::init().hash([h, *p])
    })
}

/// Commitments in a circuit.
pub trait CommitInstructions {
    /// Commits to the range-checked `values` (each proven to `bits` bits or fewer) under
    /// `salt`, returning the commitment's cell.
    fn commit(
        &self,
        layouter: &mut impl Layouter<Fp>,
        name: &str,
        values: &[SignedCell<Fp>],
        bits: u32,
        salt: Value<Fp>,
    ) -> Result<Cell<Fp>, Error>;

    /// Commits to several groups of range-checked values, each group packed at its own
    /// width (every value of group `g` proven to `groups[g].1` bits or fewer), in one chain
    /// under `salt` ([`group_commitment`]). Empty groups are skipped.
    fn commit_groups(
        &self,
        layouter: &mut impl Layouter<Fp>,
        name: &str,
        groups: &[(&[SignedCell<Fp>], u32)],
        salt: Value<Fp>,
    ) -> Result<Cell<Fp>, Error>;
}

/// The commitment chip.
#[derive(Clone, Debug)]
pub struct CommitChip {
    config: CommitConfig,
    /// Tests only: `(row, delta)` added to that row's accumulator, to forge a packing.
    #[cfg(test)]
    tamper: Option<(usize, Fp)>,
}

impl CommitChip {
    /// A chip over a configured gate.
    pub fn construct(config: CommitConfig) -> Self {
        Self {
            config,
            #[cfg(test)]
            tamper: None,
        }
    }

    /// The accumulator the prover assigns on `row` (forged in tests).
    fn assigned_acc(&self, row: usize, acc: Value<Fp>) -> Value<Fp> {
        #[cfg(test)]
        if let Some((at, delta)) = self.tamper {
            if at == row {
                return acc.map(|a| a + delta);
            }
        }
        let _ = row;
        acc
    }

    /// Assigns the packing rows of `values` (each proven to `bits` bits or fewer); returns
    /// each packed element's cell.
    fn pack(
        &self,
        layouter: &mut impl Layouter<Fp>,
        name: &str,
        values: &[SignedCell<Fp>],
        bits: u32,
    ) -> Result<Vec<Cell<Fp>>, Error> {
        if values.is_empty() || !(1..=62).contains(&bits) || values.iter().any(|v| v.bits() > bits)
        {
            return Err(Error::Synthesis);
        }
        let c = &self.config;
        let per = per_element(bits);
        let radix: Fp = pow2(bits);
        let offset: Fp = pow2(bits - 1);
        layouter.assign_region(
            || format!("pack {name}"),
            |mut region| {
                let mut packed = Vec::with_capacity(values.len().div_ceil(per));
                let mut acc: Option<Cell<Fp>> = None;
                for (row, v) in values.iter().enumerate() {
                    let v = v
                        .cell()
                        .copy_advice(|| "value", &mut region, c.value, row)?;
                    region.assign_fixed(|| "radix", c.radix, row, || Value::known(radix))?;
                    region.assign_fixed(|| "offset", c.offset, row, || Value::known(offset))?;
                    let digit = v.value().map(|v| *v + offset);
                    let next = match (&acc, row % per) {
                        (Some(prev), i) if i != 0 => {
                            c.q_next.enable(&mut region, row)?;
                            prev.value().map(|a| *a * radix) + digit
                        }
                        _ => {
                            c.q_first.enable(&mut region, row)?;
                            digit
                        }
                    };
                    let next = self.assigned_acc(row, next);
                    let cell = region.assign_advice(|| "acc", c.acc, row, || next)?;
                    if row % per == per - 1 || row + 1 == values.len() {
                        packed.push(cell.clone());
                    }
                    acc = Some(cell);
                }
                Ok(packed)
            },
        )
    }

    /// The salt's cell (a free witness by design).
    fn salt(&self, layouter: &mut impl Layouter<Fp>, salt: Value<Fp>) -> Result<Cell<Fp>, Error> {
        layouter.assign_region(
            || "salt",
            |mut region| region.assign_advice(|| "salt", self.config.salt, 0, || salt),
        )
    }

    /// `H(… H(h, p_0) …, p_{m−1})` in the circuit.
    fn chain(
        &self,
        layouter: &mut impl Layouter<Fp>,
        name: &str,
        start: Cell<Fp>,
        packed: Vec<Cell<Fp>>,
    ) -> Result<Cell<Fp>, Error> {
        packed.into_iter().enumerate().try_fold(start, |h, (j, p)| {
            let hash = Hash::<Fp, Poseidon, P128Pow5T3, ConstantLength<2>, 3, 2>::init(
                Poseidon::construct(self.config.poseidon.clone()),
                layouter.namespace(|| format!("{name} hash {j} init")),
            )?;
            hash.hash(layouter.namespace(|| format!("{name} hash {j}")), [h, p])
        })
    }
}

impl CommitInstructions for CommitChip {
    fn commit(
        &self,
        layouter: &mut impl Layouter<Fp>,
        name: &str,
        values: &[SignedCell<Fp>],
        bits: u32,
        salt: Value<Fp>,
    ) -> Result<Cell<Fp>, Error> {
        self.commit_groups(layouter, name, &[(values, bits)], salt)
    }

    fn commit_groups(
        &self,
        layouter: &mut impl Layouter<Fp>,
        name: &str,
        groups: &[(&[SignedCell<Fp>], u32)],
        salt: Value<Fp>,
    ) -> Result<Cell<Fp>, Error> {
        let mut packed = Vec::new();
        for (g, (values, bits)) in groups.iter().enumerate() {
            if !values.is_empty() {
                packed.extend(self.pack(layouter, &format!("{name} {g}"), values, *bits)?);
            }
        }
        if packed.is_empty() {
            return Err(Error::Synthesis);
        }
        let salt = self.salt(layouter, salt)?;
        self.chain(layouter, name, salt, packed)
    }
}

#[cfg(test)]
#[path = "commit_tests.rs"]
pub(crate) mod tests;
