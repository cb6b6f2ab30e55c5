use super::*;
use crate::dev::{assert_fails_with, COPY_FAILURE};
use crate::testing::Scenario;
use crate::testing::{
    expose, felts, malicious_tests, mock, Chips, Target, Verdict, LOOKUPS, WIDTH,
};
use halo2_proofs::dev::MockProver;
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
    /// After the chip was handed source cell `i` (holding the input), the cell is overwritten
    /// with `v`: the chip still sees the input through its handle, so only its own copy
    /// constraint ties what it multiplies to what the source cell holds.
    overwritten: Option<(usize, i64)>,
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
            overwritten: None,
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

impl Scenario for Fixture {
    fn assign(&self, chips: Chips, mut layouter: impl Layouter<Fp>) -> Result<(), Error> {
        let cells = self.sources(&chips, &mut layouter)?;
        let weights = felts(&self.weights);
        let partials: Vec<_> = felts(&self.partials)
            .into_iter()
            .map(Value::known)
            .collect();
        let chip = FixedDotChip::construct(chips.dot.clone());
        let task = DotTask {
            inputs: cells.iter().collect(),
            weights: &weights,
            bias: crate::value::felt(self.bias),
        };
        let out = if self.partials == Self::honest(&self.inputs, &self.weights, self.bias).partials
        {
            chip.dot_products(&mut layouter, "t", &[task])?.remove(0)
        } else {
            chip.forged_dot_product(&mut layouter, &task, &partials)?
        };
        if self.expose {
            expose(&mut layouter, &chips, &[out])?;
        }
        Ok(())
    }
}

impl Fixture {
    /// The inputs as source cells (standing for another chip's outputs), then the
    /// [`Fixture::overwritten`] cell given its new value behind the returned handle's back.
    fn sources(
        &self,
        chips: &Chips,
        layouter: &mut impl Layouter<Fp>,
    ) -> Result<Vec<Cell<Fp>>, Error> {
        let values = felts(&self.inputs);
        layouter.assign_region(
            || "sources",
            |mut region| {
                let cells = values
                    .iter()
                    .enumerate()
                    .map(|(i, v)| {
                        region.assign_advice(|| "source", chips.source, i, || Value::known(*v))
                    })
                    .collect::<Result<Vec<_>, Error>>()?;
                if let Some((i, v)) = self.overwritten {
                    let v = Value::known(crate::value::felt::<Fp>(v));
                    region.assign_advice(|| "source overwritten", chips.source, i, || v)?;
                }
                Ok(cells)
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

/// The first row's running sum off by one.
fn first_row_sum_off_by_one() -> Verdict {
    let mut f = Fixture::honest(&[1, 2, 3], &[4, 5, 6], 7);
    f.partials[0] += 1;
    f.expose = false;
    mock(&f, &[])
}

/// The second row's running sum off by one.
fn continuation_row_sum_off_by_one() -> Verdict {
    let mut f = Fixture::honest(&[1, 2, 3, 4, 5, 6], &[4, 5, 6, 7, 8, 9], 7);
    f.partials[1] -= 1;
    f.expose = false;
    mock(&f, &[])
}

/// The sum without its bias.
fn bias_dropped() -> Verdict {
    let mut f = Fixture::honest(&[1, 2], &[3, 4], 100);
    f.partials[0] -= 100;
    f.expose = false;
    mock(&f, &[])
}

malicious_tests! {
    dot_first_row_sum_off_by_one_is_rejected:
        first_row_sum_off_by_one
            => Target::Constraint(FixedDotConfig::GATE, FixedDotConfig::FIRST);
    dot_continuation_row_sum_off_by_one_is_rejected:
        continuation_row_sum_off_by_one
            => Target::Constraint(FixedDotConfig::NEXT_GATE, FixedDotConfig::NEXT);
    dot_bias_is_not_dropped:
        bias_dropped => Target::Constraint(FixedDotConfig::GATE, FixedDotConfig::FIRST);
}

#[test]
fn dot_copied_input_replaced_by_another_value_is_rejected() {
    // Source cell 2 holds 30 while the chip multiplies 3: the gate and the result are
    // consistent with 3, so only the chip's own copy of input 2 into its region catches it
    // (a chip that re-witnessed its inputs from their values would pass this witness).
    let mut f = Fixture::honest(&[1, 2, 3, 4], &[4, 5, 6, 7], 7);
    f.overwritten = Some((2, 30));
    assert_fails_with(
        mock(&f, &[f.result()]),
        LOOKUPS,
        &[COPY_FAILURE, "'dot products t'"],
    );
}

#[test]
fn dot_sources_overwritten_with_their_own_values_are_accepted() {
    // The control for the test above: the overwrite itself is harmless.
    let mut f = Fixture::honest(&[1, 2, 3, 4], &[4, 5, 6, 7], 7);
    f.overwritten = Some((2, 3));
    assert_eq!(mock(&f, &[f.result()]), Ok(()));
}

#[test]
fn dot_weight_count_must_match_the_inputs() {
    // A spare weight is refused at synthesis, not silently dropped.
    let f = Fixture::honest(&[1, 2, 3], &[4, 5, 6, 7], 0);
    let verdict = MockProver::run(
        crate::testing::K,
        &crate::testing::Test(f.clone()),
        vec![felts(&[32])],
    );
    assert!(matches!(verdict, Err(Error::Synthesis)), "{verdict:?}");
}

/// Two dot products laid out by one call: `1..=5 · 1..=5` (two rows at width 4) and
/// `[1, 2] · [10, 20] + 3`, both results exposed.
#[derive(Clone, Debug, Default)]
struct TwoTasks;

impl Scenario for TwoTasks {
    fn assign(&self, chips: Chips, mut layouter: impl Layouter<Fp>) -> Result<(), Error> {
        let cells = crate::testing::sources(&mut layouter, &chips, &felts(&[1, 2, 3, 4, 5]))?;
        let (a, b) = (felts(&[1, 2, 3, 4, 5]), felts(&[10, 20]));
        let tasks = [
            DotTask {
                inputs: cells.iter().collect(),
                weights: &a,
                bias: crate::value::felt(0),
            },
            DotTask {
                inputs: cells[..2].iter().collect(),
                weights: &b,
                bias: crate::value::felt(3),
            },
        ];
        let out =
            FixedDotChip::construct(chips.dot.clone()).dot_products(&mut layouter, "t", &tasks)?;
        expose(&mut layouter, &chips, &out)
    }
}

#[test]
fn dot_products_of_one_call_occupy_their_own_rows() {
    assert_eq!(mock(&TwoTasks, &[55, 53]), Ok(()));
}
