use super::*;
use crate::dev::assert_fails_with;
use crate::testing::{configure, expose, felts, mock, Chips, LOOKUPS};
use halo2_proofs::{
    circuit::SimpleFloorPlanner,
    plonk::{Circuit, ConstraintSystem},
};
use pasta_curves::Fp;

const GAP_RANGE: &str = "'range check t gap'";
const BITS: u32 = 8;

/// Maxima of `windows` (signed 8-bit inputs); `maxima` may be forged.
#[derive(Clone, Debug, Default)]
struct Fixture {
    windows: Vec<Vec<i64>>,
    maxima: Vec<i64>,
    /// Pass the inputs through a ReLU first, so they are non-negative by construction.
    relu_first: bool,
}

impl Fixture {
    fn honest(windows: &[&[i64]]) -> Self {
        Self {
            windows: windows.iter().map(|w| w.to_vec()).collect(),
            maxima: windows
                .iter()
                .map(|w| w.iter().copied().max().unwrap_or(0))
                .collect(),
            relu_first: false,
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
        let relu = crate::ReluChip::construct(chips.relu.clone());
        let mut windows = Vec::new();
        for w in &self.windows {
            let values: Vec<_> = felts(w).into_iter().map(Value::known).collect();
            let mut cells = range.witness_signed(&mut layouter, "inputs", &values, BITS)?;
            if self.relu_first {
                let ys: Vec<_> = w
                    .iter()
                    .map(|v| Value::known(felts(&[(*v).max(0)])[0]))
                    .collect();
                cells = crate::ReluInstructions::relu(&relu, &mut layouter, "relu", &cells, &ys)?;
            }
            windows.push(cells);
        }
        let chip = MaxChip::construct(chips.max.clone(), range);
        let maxima: Vec<_> = felts(&self.maxima).into_iter().map(Value::known).collect();
        let ms = chip.max(&mut layouter, "t", &windows, &maxima)?;
        let cells: Vec<_> = ms.iter().map(|m| m.cell().clone()).collect();
        expose(&mut layouter, &chips, &cells)
    }
}

#[test]
fn max_of_honest_windows_is_accepted() {
    let f = Fixture::honest(&[&[3, 1, 2], &[-5, -7, -6], &[4], &[-128, 127], &[0, -1]]);
    assert_eq!(mock(&f, &f.maxima), Ok(()));
}

#[test]
fn max_with_ties_and_duplicates_is_accepted() {
    let f = Fixture::honest(&[&[2, 2, 1], &[5, 5, 5, 5], &[-3, -3]]);
    assert_eq!(mock(&f, &f.maxima), Ok(()));
}

#[test]
fn max_of_relu_outputs_is_accepted() {
    let mut f = Fixture::honest(&[&[0, 0, 0, 0], &[3, 9, 9, 1]]);
    f.relu_first = true;
    assert_eq!(mock(&f, &f.maxima), Ok(()));
}

#[test]
fn claimed_max_above_every_input_is_rejected() {
    let mut f = Fixture::honest(&[&[1, 3, 2]]);
    f.maxima = vec![4];
    assert_fails_with(mock(&f, &[4]), LOOKUPS, &[MaxConfig::ATTAINED]);
}

#[test]
fn claimed_max_below_an_input_is_rejected() {
    // 2 is an input, so the product is zero, but 3 - ... the gap 2 - 3 = -1 is negative.
    let mut f = Fixture::honest(&[&[1, 3, 2]]);
    f.maxima = vec![2];
    assert_fails_with(mock(&f, &[2]), LOOKUPS, &[GAP_RANGE]);
}

#[test]
fn claimed_max_wrapped_around_the_field_is_rejected() {
    // Every gap m - x_j of a huge m is a huge field element.
    let mut f = Fixture::honest(&[&[1, 3, 2]]);
    f.maxima = vec![3 - (1 << 40)];
    assert!(mock(&f, &f.maxima.clone()).is_err());
}

#[test]
fn claimed_max_of_a_tie_at_the_wrong_value_is_rejected() {
    let mut f = Fixture::honest(&[&[2, 2, 1]]);
    f.maxima = vec![1];
    assert_fails_with(mock(&f, &[1]), LOOKUPS, &[GAP_RANGE]);
}
