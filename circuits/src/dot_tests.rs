use super::*;
use crate::dev::{assert_fails_with, COPY_FAILURE};
use crate::testing::{configure, expose, felts, mock, sources, Chips, LOOKUPS, WIDTH};
use halo2_proofs::{
    circuit::SimpleFloorPlanner,
    plonk::{Circuit, ConstraintSystem},
};
use pasta_curves::Fp;

/// One dot product; `partials` may be tampered with (then forced into the chip's
/// accumulator cells); the result is exposed when `expose`.
#[derive(Clone, Debug, Default)]
struct Fixture {
    inputs: Vec<i64>,
    weights: Vec<i64>,
    bias: i64,
    partials: Vec<i64>,
    expose: bool,
    /// Re-witness input `i` as `v` instead of copying it.
    rewitness: Option<(usize, i64)>,
}

impl Fixture {
    fn honest(inputs: &[i64], weights: &[i64], bias: i64) -> Self {
        let mut partials = Vec::new();
        let mut acc = bias;
        for (x, w) in inputs.chunks(WIDTH).zip(weights.chunks(WIDTH)) {
            acc += x.iter().zip(w).map(|(x, w)| x * w).sum::<i64>();
            partials.push(acc);
        }
        if partials.is_empty() {
            partials.push(bias);
        }
        Self {
            inputs: inputs.to_vec(),
            weights: weights.to_vec(),
            bias,
            partials,
            expose: true,
            rewitness: None,
        }
    }

    fn result(&self) -> i64 {
        self.bias
            + self
                .inputs
                .iter()
                .zip(&self.weights)
                .map(|(x, w)| x * w)
                .sum::<i64>()
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
        let cells = sources(&mut layouter, &chips, &felts(&self.inputs))?;
        let weights = felts(&self.weights);
        let partials: Vec<_> = felts(&self.partials)
            .into_iter()
            .map(Value::known)
            .collect();
        let out = match self.rewitness {
            None => {
                let chip = FixedDotChip::construct(chips.dot.clone());
                let task = DotTask {
                    inputs: cells.iter().collect(),
                    weights: &weights,
                    bias: crate::value::felt(self.bias),
                };
                if self.partials == Self::honest(&self.inputs, &self.weights, self.bias).partials {
                    chip.dot_products(&mut layouter, "t", &[task])?.remove(0)
                } else {
                    chip.forged_dot_product(&mut layouter, &task, &partials)?
                }
            }
            Some((i, v)) => self.forged_single_row(&chips, &mut layouter, &cells, i, v)?,
        };
        if self.expose {
            expose(&mut layouter, &chips, &[out])?;
        }
        Ok(())
    }
}

impl Fixture {
    /// A one-row dot product whose input `i` is assigned as `v` and then only *claimed* equal
    /// to the source cell: the copy constraint must catch it.
    fn forged_single_row(
        &self,
        chips: &Chips,
        layouter: &mut impl Layouter<Fp>,
        cells: &[Cell<Fp>],
        i: usize,
        v: i64,
    ) -> Result<Cell<Fp>, Error> {
        let c = &chips.dot;
        layouter.assign_region(
            || "dot products forged",
            |mut region| {
                #[allow(clippy::needless_range_loop)] // slot indexes four parallel arrays
                for slot in 0..WIDTH {
                    let (x, w) = (self.inputs[slot], self.weights[slot]);
                    let x = if slot == i { v } else { x };
                    let cell = region.assign_advice(
                        || "x",
                        c.x[slot],
                        0,
                        || Value::known(crate::value::felt::<Fp>(x)),
                    )?;
                    region.constrain_equal(cells[slot].cell(), cell.cell())?;
                    region.assign_fixed(
                        || "w",
                        c.w[slot],
                        0,
                        || Value::known(crate::value::felt::<Fp>(w)),
                    )?;
                }
                region.assign_fixed(
                    || "bias",
                    c.bias,
                    0,
                    || Value::known(crate::value::felt::<Fp>(self.bias)),
                )?;
                c.q_first.enable(&mut region, 0)?;
                let forged = self.result() + (v - self.inputs[i]) * self.weights[i];
                region.assign_advice(
                    || "acc",
                    c.acc,
                    0,
                    || Value::known(crate::value::felt::<Fp>(forged)),
                )
            },
        )
    }
}

#[test]
fn dot_results_equal_the_naive_sum() {
    let inputs = [3, -7, 0, 12, 255, -256, 1, 9, -1];
    let weights = [5, 2, -9, 0, 1, 1, -128, 127, 64];
    for n in [1, 3, 4, 5, 8, 9] {
        let f = Fixture::honest(&inputs[..n], &weights[..n], -17);
        assert_eq!(mock(&f, &[f.result()]), Ok(()), "n = {n}");
    }
}

#[test]
fn dot_wrong_public_result_is_rejected() {
    let f = Fixture::honest(&[1, 2, 3], &[4, 5, 6], 7);
    assert_fails_with(mock(&f, &[f.result() + 1]), LOOKUPS, &[COPY_FAILURE]);
}

#[test]
fn dot_first_row_sum_off_by_one_is_rejected() {
    let mut f = Fixture::honest(&[1, 2, 3], &[4, 5, 6], 7);
    f.partials[0] += 1;
    f.expose = false;
    assert_fails_with(mock(&f, &[]), LOOKUPS, &[FixedDotConfig::FIRST]);
}

#[test]
fn dot_continuation_row_sum_off_by_one_is_rejected() {
    let mut f = Fixture::honest(&[1, 2, 3, 4, 5, 6], &[4, 5, 6, 7, 8, 9], 7);
    f.partials[1] -= 1;
    f.expose = false;
    assert_fails_with(mock(&f, &[]), LOOKUPS, &[FixedDotConfig::NEXT]);
}

#[test]
fn dot_bias_is_not_dropped() {
    let mut f = Fixture::honest(&[1, 2], &[3, 4], 100);
    f.partials[0] -= 100;
    f.expose = false;
    assert_fails_with(mock(&f, &[]), LOOKUPS, &[FixedDotConfig::FIRST]);
}

#[test]
fn dot_copied_input_replaced_by_another_value_is_rejected() {
    let mut f = Fixture::honest(&[1, 2, 3, 4], &[4, 5, 6, 7], 7);
    f.rewitness = Some((2, 30));
    f.expose = false;
    assert_fails_with(mock(&f, &[]), LOOKUPS, &[COPY_FAILURE]);
}
