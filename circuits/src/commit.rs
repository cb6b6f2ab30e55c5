//! Commitments to tensors: range-checked values packed into field elements, hashed with a
//! secret salt by Poseidon (`halo2_gadgets`' `Pow5Chip` with `P128Pow5T3`, never a
//! permutation of our own).
//!
//! # Purpose
//! `p_j` packs up to `⌊PACK_BITS / bits⌋` values:
//! `p = Σ_i (v_i + 2^(bits−1)) · 2^(bits·(n−1−i))`, the first value in the most significant
//! place. The packed elements are absorbed in a chain: each block of [`BLOCK`] of them with
//! the chain value by one Poseidon hash of `BLOCK + 1` elements (`ConstantLength<16>`, rate
//! 2: eight permutations for fifteen elements), the last `m mod BLOCK` one at a time
//! (`ConstantLength<2>`, one permutation each), from the salt:
//! `c = H(… H(H_16(salt, p_0..p_14), p_15) …)`. The salt is a random field element the
//! prover keeps: a commitment to a few low-entropy values cannot be brute-forced without it.
//! The chain's length is fixed by the circuit, so a commitment binds exactly `len` values.
//!
//! # Layout
//! [`PACK_LANES`] values per packing row, each with its fixed multiplier `m_i` (`2^(bits·k)`
//! for the used slots, `0` for the unused ones of an element's last row), the row's `shift`
//! (`2^(bits·n)` for its `n` values) and `offset` (`2^(bits−1) · Σ m_i`):
//!
//! ```text
//! | v_0 | v_1 | v_2 | v_3 | acc                                  | shift | m_0..m_3 | offset | q_first | q_next |
//! |-----|-----|-----|-----|--------------------------------------|-------|----------|--------|---------|--------|
//! | a   | b   | c   | d   | Σ m_i (v_i + o)                       | r^4   | r^3..1   | o·Σm   | 1       | 0      |
//! | e   | f   | 0   | 0   | acc_prev · r^2 + Σ m_i (v_i + o)       | r^2   | r,1,0,0  | o·(r+1)| 0       | 1      |
//! ```
//! then the hashes in the state columns ([`BLOCK_ROWS`] rows per block, [`HASH_ROWS`] per
//! single element).
//!
//! # Constraints
//! - `q_first · (acc − Σ m_i v_i − offset) = 0` ("first packed values")
//! - `q_next · (acc − acc_prev · shift − Σ m_i v_i − offset) = 0` ("next packed values")
//! - Poseidon's own gates (full rounds, partial rounds, pad-and-add), from `halo2_gadgets`.
//!
//! # Soundness
//! Every value is copied from a cell the range chip proved to lie in
//! `[−2^(bits−1), 2^(bits−1))`, so each digit `v + 2^(bits−1)` lies in `[0, 2^bits)` and a
//! packed element is below `2^PACK_BITS < p`: packing never wraps, and the packed elements
//! determine the values. `shift`, the multipliers and `offset` are fixed (the verifying key
//! commits to them); an unused slot's multiplier is 0, so its cell cannot reach the sum. The
//! salt is a free witness by design; the commitment cell is constrained to the instance
//! column.
//!
//! # Panics
//! None.
//!
//! # Cost
//! `⌈n / 4⌉` rows per packed element of `n` values, plus [`BLOCK_ROWS`] per block of
//! [`BLOCK`] packed elements and [`HASH_ROWS`] per element left over ([`rows`]).

use halo2_gadgets::poseidon::{
    primitives::{self as poseidon, ConstantLength, P128Pow5T3},
    Hash, Pow5Chip, Pow5Config,
};
use halo2_proofs::{
    circuit::{Layouter, Value},
    plonk::{Advice, Column, ConstraintSystem, Error, Expression, Fixed, Selector, VirtualCells},
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

/// Values per packing row.
pub const PACK_LANES: usize = 4;

/// Packed elements one block hash absorbs beside the chain value.
pub const BLOCK: usize = 15;

/// Rows one block hash (`BLOCK + 1` elements, eight permutations) occupies in the state
/// columns: the initial state, then per permutation the pad-and-add and the permutation.
pub const BLOCK_ROWS: usize = 1 + (BLOCK + 1).div_ceil(2) * (HASH_ROWS - 1);

/// The Poseidon chip of the commitments: width 3, rate 2.
type Poseidon = Pow5Chip<Fp, 3, 2>;

/// Columns and selectors of the packing gate, and the Poseidon chip's config.
#[derive(Clone, Debug)]
pub struct CommitConfig {
    poseidon: Pow5Config<Fp, 3, 2>,
    salt: Column<Advice>,
    values: [Column<Advice>; PACK_LANES],
    acc: Column<Advice>,
    shift: Column<Fixed>,
    multipliers: [Column<Fixed>; PACK_LANES],
    offset: Column<Fixed>,
    q_first: Selector,
    q_next: Selector,
}

impl CommitConfig {
    /// The gate of an element's first digit.
    pub const GATE_FIRST: &'static str = "pack first";
    /// The gate of every further digit.
    pub const GATE_NEXT: &'static str = "pack next";
    /// The first row of a packed element.
    pub const FIRST: &'static str = "first packed values";
    /// Every further row of a packed element.
    pub const NEXT: &'static str = "next packed values";
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
    /// `values` and `acc` (the packing rows), `salt`, Poseidon's `state` and
    /// `partial_sbox` (they may repeat the packing columns: packing rows and hash rows are
    /// separate regions), the packing's fixed `[shift, offset]` and `multipliers`, and
    /// Poseidon's round-constant columns. Every packing advice column becomes
    /// equality-enabled.
    #[allow(clippy::too_many_arguments)]
    pub fn configure(
        meta: &mut ConstraintSystem<Fp>,
        values: [Column<Advice>; PACK_LANES],
        acc: Column<Advice>,
        salt: Column<Advice>,
        state: [Column<Advice>; 3],
        partial_sbox: Column<Advice>,
        [shift, offset]: [Column<Fixed>; 2],
        multipliers: [Column<Fixed>; PACK_LANES],
        rc_a: [Column<Fixed>; 3],
        rc_b: [Column<Fixed>; 3],
    ) -> Self {
        for column in values.into_iter().chain([acc, salt]) {
            meta.enable_equality(column);
        }
        let q_first = meta.selector();
        let q_next = meta.selector();
        let digits = move |meta: &mut VirtualCells<'_, Fp>| {
            let sum = values
                .iter()
                .zip(&multipliers)
                .map(|(v, m)| meta.query_advice(*v, Rotation::cur()) * meta.query_fixed(*m))
                .fold(Expression::Constant(Fp::zero()), |a, b| a + b);
            sum + meta.query_fixed(offset)
        };
        // Two gates: the first row's must not query the row above (another region's).
        meta.create_gate(Self::GATE_FIRST, |meta| {
            let first = meta.query_selector(q_first);
            let acc = meta.query_advice(acc, Rotation::cur());
            vec![(Self::FIRST, first * (acc - digits(meta)))]
        });
        meta.create_gate(Self::GATE_NEXT, |meta| {
            let next = meta.query_selector(q_next);
            let acc_cur = meta.query_advice(acc, Rotation::cur());
            let acc_prev = meta.query_advice(acc, Rotation::prev());
            let shift = meta.query_fixed(shift);
            vec![(
                Self::NEXT,
                next * (acc_cur - acc_prev * shift - digits(meta)),
            )]
        });
        let poseidon = Poseidon::configure::<P128Pow5T3>(meta, state, partial_sbox, rc_a, rc_b);
        Self {
            poseidon,
            salt,
            values,
            acc,
            shift,
            multipliers,
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
    (packing_rows(len, bits) + hash_rows(packed_len(len, bits))).max(1)
}

/// Packing rows of `len` values of `bits` bits: `⌈n / PACK_LANES⌉` per packed element.
fn packing_rows(len: usize, bits: u32) -> usize {
    let per = per_element(bits);
    len / per * per.div_ceil(PACK_LANES) + (len % per).div_ceil(PACK_LANES)
}

/// Hash rows of a chain over `m` packed elements.
fn hash_rows(m: usize) -> usize {
    m / BLOCK * BLOCK_ROWS + m % BLOCK * HASH_ROWS
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

/// The commitment to several groups of values, each packed at its own width, in one chain
/// that starts with `domain`: the chain from `salt` over `domain` and then the packed
/// elements of every group, one group after another (a model's weights at the weight width,
/// then its biases at theirs). `domain` names what the values are (a digest of the
/// architecture and widths they belong to), so one commitment cannot be read as the values
/// of another architecture or packing. `Err((g, i))` names value `i` of group `g` outside
/// its range.
pub fn group_commitment(
    groups: &[(&[i64], u32)],
    salt: Fp,
    domain: Fp,
) -> Result<Fp, (usize, usize)> {
    let mut packed = vec![domain];
    for (g, (values, bits)) in groups.iter().enumerate() {
        packed.extend(pack(values, *bits).map_err(|i| (g, i))?);
    }
    Ok(chain(salt, &packed))
}

/// Rows a commitment to `groups` of `(len, bits)` occupies (packing, then hashing the
/// domain and the packed elements).
pub fn group_rows(groups: &[(usize, u32)]) -> usize {
    let packing: usize = groups.iter().map(|&(l, b)| packing_rows(l, b)).sum();
    let elements: usize = groups.iter().map(|&(l, b)| packed_len(l, b)).sum();
    packing + hash_rows(elements + 1)
}

/// The chain from `salt` over `packed`: blocks of [`BLOCK`] elements, then one at a time.
fn chain(salt: Fp, packed: &[Fp]) -> Fp {
    let blocks = packed.chunks_exact(BLOCK);
    let rest = blocks.remainder();
    let h = blocks.fold(salt, |h, block| {
        let mut message = [h; BLOCK + 1];
        message[1..].copy_from_slice(block);
        poseidon::Hash::<Fp, P128Pow5T3, ConstantLength<{ BLOCK + 1 }>, 3, 2>::init().hash(message)
    });
    rest.iter().fold(h, |h, p| {
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
    /// under `salt` that starts with the constant `domain` ([`group_commitment`]). Empty
    /// groups are skipped.
    fn commit_groups(
        &self,
        layouter: &mut impl Layouter<Fp>,
        name: &str,
        groups: &[(&[SignedCell<Fp>], u32)],
        salt: Value<Fp>,
        domain: Fp,
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
        // `radix^k` for `k = 0..=PACK_LANES`.
        let powers: Vec<Fp> = std::iter::successors(Some(Fp::one()), |p| Some(*p * radix))
            .take(PACK_LANES + 1)
            .collect();
        layouter.assign_region(
            || format!("pack {name}"),
            |mut region| {
                let mut packed = Vec::with_capacity(values.len().div_ceil(per));
                let mut row = 0;
                for element in values.chunks(per) {
                    let mut acc: Option<Cell<Fp>> = None;
                    for lanes in element.chunks(PACK_LANES) {
                        let n = lanes.len();
                        let mut sum = Value::known(Fp::zero());
                        let mut row_offset = Fp::zero();
                        for slot in 0..PACK_LANES {
                            // Used slots weigh `radix^(n−1−slot)`; unused ones 0.
                            let m = if slot < n {
                                powers[n - 1 - slot]
                            } else {
                                Fp::zero()
                            };
                            region.assign_fixed(
                                || "m",
                                c.multipliers[slot],
                                row,
                                || Value::known(m),
                            )?;
                            match lanes.get(slot) {
                                Some(v) => {
                                    let x = v.cell().copy_advice(
                                        || "value",
                                        &mut region,
                                        c.values[slot],
                                        row,
                                    )?;
                                    sum = sum + x.value().map(|x| (*x + offset) * m);
                                    row_offset += offset * m;
                                }
                                None => {
                                    region.assign_advice(
                                        || "unused",
                                        c.values[slot],
                                        row,
                                        || Value::known(Fp::zero()),
                                    )?;
                                }
                            }
                        }
                        let shift = powers[n];
                        region.assign_fixed(|| "shift", c.shift, row, || Value::known(shift))?;
                        region.assign_fixed(
                            || "offset",
                            c.offset,
                            row,
                            || Value::known(row_offset),
                        )?;
                        let next = match &acc {
                            Some(prev) => {
                                c.q_next.enable(&mut region, row)?;
                                prev.value().map(|a| *a * shift) + sum
                            }
                            None => {
                                c.q_first.enable(&mut region, row)?;
                                sum
                            }
                        };
                        let next = self.assigned_acc(row, next);
                        acc = Some(region.assign_advice(|| "acc", c.acc, row, || next)?);
                        row += 1;
                    }
                    packed.push(acc.ok_or(Error::Synthesis)?);
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

    /// A cell pinned to the constant `domain` (through the constant column, so the
    /// verifying key fixes it).
    fn domain(&self, layouter: &mut impl Layouter<Fp>, domain: Fp) -> Result<Cell<Fp>, Error> {
        layouter.assign_region(
            || "domain",
            |mut region| {
                region.assign_advice_from_constant(|| "domain", self.config.salt, 0, domain)
            },
        )
    }

    /// Packs every non-empty group.
    fn pack_groups(
        &self,
        layouter: &mut impl Layouter<Fp>,
        name: &str,
        groups: &[(&[SignedCell<Fp>], u32)],
    ) -> Result<Vec<Cell<Fp>>, Error> {
        let mut packed = Vec::new();
        for (g, (values, bits)) in groups.iter().enumerate() {
            if !values.is_empty() {
                packed.extend(self.pack(layouter, &format!("{name} {g}"), values, *bits)?);
            }
        }
        Ok(packed)
    }

    /// The chain from `start` over `packed` in the circuit, as [`chain`] computes it.
    fn chain(
        &self,
        layouter: &mut impl Layouter<Fp>,
        name: &str,
        start: Cell<Fp>,
        packed: Vec<Cell<Fp>>,
    ) -> Result<Cell<Fp>, Error> {
        let chip = || Poseidon::construct(self.config.poseidon.clone());
        let blocks = packed.chunks_exact(BLOCK);
        let rest = blocks.remainder();
        let mut h = start;
        for (j, block) in blocks.enumerate() {
            let message: Vec<Cell<Fp>> = std::iter::once(h).chain(block.iter().cloned()).collect();
            let message: [Cell<Fp>; BLOCK + 1] =
                message.try_into().map_err(|_| Error::Synthesis)?;
            let hash = Hash::<Fp, Poseidon, P128Pow5T3, ConstantLength<{ BLOCK + 1 }>, 3, 2>::init(
                chip(),
                layouter.namespace(|| format!("{name} block {j} init")),
            )?;
            h = hash.hash(layouter.namespace(|| format!("{name} block {j}")), message)?;
        }
        for (j, p) in rest.iter().enumerate() {
            let hash = Hash::<Fp, Poseidon, P128Pow5T3, ConstantLength<2>, 3, 2>::init(
                chip(),
                layouter.namespace(|| format!("{name} hash {j} init")),
            )?;
            h = hash.hash(
                layouter.namespace(|| format!("{name} hash {j}")),
                [h, p.clone()],
            )?;
        }
        Ok(h)
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
        let packed = self.pack_groups(layouter, name, &[(values, bits)])?;
        let salt = self.salt(layouter, salt)?;
        self.chain(layouter, name, salt, packed)
    }

    fn commit_groups(
        &self,
        layouter: &mut impl Layouter<Fp>,
        name: &str,
        groups: &[(&[SignedCell<Fp>], u32)],
        salt: Value<Fp>,
        domain: Fp,
    ) -> Result<Cell<Fp>, Error> {
        let packed = self.pack_groups(layouter, name, groups)?;
        if packed.is_empty() {
            return Err(Error::Synthesis);
        }
        let salt = self.salt(layouter, salt)?;
        let domain = self.domain(layouter, domain)?;
        let chained = std::iter::once(domain).chain(packed).collect();
        self.chain(layouter, name, salt, chained)
    }
}

#[cfg(test)]
#[path = "commit_tests.rs"]
pub(crate) mod tests;
