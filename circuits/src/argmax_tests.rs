use super::*;
use crate::dev::assert_fails_with;
use crate::max::{MaxChip, MaxInstructions};
use crate::testing::{configure, expose, felts, mock, Chips, LOOKUPS};
use halo2_proofs::{
    circuit::SimpleFloorPlanner,
    plonk::{Circuit, ConstraintSystem},
};
use pasta_curves::Fp;

const EARLIER_RANGE: &str = "'range check t earlier gap'";
const BITS: u32 = 8;

/// Argmax of `windows` (signed 8-bit), claiming `indices`.
#[derive(Clone, Debug, Default)]
struct Fixture {
    windows: Vec<Vec<i64>>,
    indices: Vec<i64>,
}

/// ONNX's rule: the first index of the maximum.
fn first_argmax(w: &[i64]) -> i64 {
    let m = w.iter().copied().max().unwrap_or(0);
    w.iter().position(|v| *v == m).unwrap_or(0) as i64
}

impl Fixture {
    fn honest(windows: &[&[i64]]) -> Self {
        Self {
            windows: windows.iter().map(|w| w.to_vec()).collect(),
            indices: windows.iter().map(|w| first_argmax(w)).collect(),
        }
    }
}

impl Circuit<Fp> for Fixture {
    type Config = Chips;
    type FloorPlanner = SimpleFloorPlanner;

    fn without_witnesses(&self) -> Self {
        Self::default()
    }

    fn configure(meta: &mut ConstraintSystem<Fp>) -> Chips {
        configure(meta)
    }

    fn synthesize(&self, chips: Chips, mut layouter: impl Layouter<Fp>) -> Result<(), Error> {
        chips.range.table().load(&mut layouter)?;
        let range = LookupRangeChip::construct(chips.range.clone());
        let mut windows = Vec::new();
        for w in &self.windows {
            let values: Vec<_> = felts(w).into_iter().map(Value::known).collect();
            windows.push(range.witness_signed(&mut layouter, "inputs", &values, BITS)?);
        }
        let maxima: Vec<_> = self
            .windows
            .iter()
            .map(|w| Value::known(felts(&[w.iter().copied().max().unwrap_or(0)])[0]))
            .collect();
        let max = MaxChip::construct(chips.max.clone(), range.clone());
        let (_, gaps) = max.max_with_gaps(&mut layouter, "t", &windows, &maxima)?;
        let chip = ArgMaxChip::construct(chips.argmax.clone(), range);
        let indices: Vec<_> = felts(&self.indices).into_iter().map(Value::known).collect();
        let out = chip.argmax(&mut layouter, "t", &gaps, BITS, &indices)?;
        let cells: Vec<_> = out.iter().map(|c| c.cell().clone()).collect();
        expose(&mut layouter, &chips, &cells)
    }
}

#[test]
fn argmax_of_honest_windows_is_the_first_maximum() {
    let f = Fixture::honest(&[
        &[3, 1, 3, 2],
        &[1, 2, 5],
        &[-4],
        &[0, 0, 0],
        &[-128, 127, 127],
    ]);
    assert_eq!(f.indices, vec![0, 2, 0, 0, 1]);
    assert_eq!(mock(&f, &f.indices), Ok(()));
}

#[test]
fn argmax_later_index_at_a_tie_is_rejected() {
    let mut f = Fixture::honest(&[&[3, 1, 3]]);
    f.indices = vec![2];
    assert_fails_with(mock(&f, &[2]), LOOKUPS, &[EARLIER_RANGE]);
}

#[test]
fn argmax_index_of_a_smaller_element_is_rejected() {
    let mut f = Fixture::honest(&[&[1, 5, 2]]);
    f.indices = vec![0];
    assert_fails_with(mock(&f, &[0]), LOOKUPS, &[ArgMaxConfig::ATTAINS]);
    let mut f = Fixture::honest(&[&[1, 5, 2]]);
    f.indices = vec![2];
    assert_fails_with(
        mock(&f, &[2]),
        LOOKUPS,
        &[ArgMaxConfig::ATTAINS, EARLIER_RANGE],
    );
}

#[test]
fn argmax_index_past_the_window_is_rejected() {
    let mut f = Fixture::honest(&[&[1, 5, 2]]);
    f.indices = vec![3];
    assert_fails_with(mock(&f, &[3]), LOOKUPS, &[ArgMaxConfig::ONE, EARLIER_RANGE]);
}

#[test]
fn argmax_public_index_must_match_the_proven_one() {
    let f = Fixture::honest(&[&[1, 5, 2]]);
    assert!(mock(&f, &[0]).is_err());
}
