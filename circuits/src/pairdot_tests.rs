use super::*;
use crate::dev::{assert_fails_with, COPY_FAILURE};
use crate::testing::{
    expose, felts, malicious_tests, mock, Chips, Scenario, Target, Verdict, LOOKUPS, WIDTH,
};
use halo2_proofs::plonk::Error;
use pasta_curves::Fp;

/// Pairs per row at the tests' dot width.
const PAIRS: usize = WIDTH / 2;

/// One pair dot product `a · b`; `partials` and `padding` may be forged; the result is
/// exposed when `expose`; `overwritten` changes a source cell of `b` behind the chip's back.
#[derive(Clone, Debug, Default)]
struct Fixture {
    a: Vec<i64>,
    b: Vec<i64>,
    partials: Vec<i64>,
    padding: Option<(i64, i64)>,
    expose: bool,
    overwritten: Option<(usize, i64)>,
}

impl Fixture {
    fn honest(a: &[i64], b: &[i64]) -> Self {
        let mut partials = Vec::new();
        let mut acc = 0;
        for (x, y) in a.chunks(PAIRS).zip(b.chunks(PAIRS)) {
            acc += x.iter().zip(y).map(|(x, y)| x * y).sum::<i64>();
            partials.push(acc);
        }
        if partials.is_empty() {
            partials.push(0);
        }
        Self {
            a: a.to_vec(),
            b: b.to_vec(),
            partials,
            padding: None,
            expose: true,
            overwritten: None,
        }
    }

    fn result(&self) -> i64 {
        self.a.iter().zip(&self.b).map(|(x, y)| x * y).sum()
    }
}

impl Scenario for Fixture {
    fn assign(&self, chips: Chips, mut layouter: impl Layouter<Fp>) -> Result<(), Error> {
        let values = felts(&[self.a.clone(), self.b.clone()].concat());
        let cells = layouter.assign_region(
            || "sources",
            |mut region| {
                let cells = values
                    .iter()
                    .enumerate()
                    .map(|(i, v)| {
                        region.assign_advice(|| "source", chips.source, i, || Value::known(*v))
                    })
                    .collect::<Result<Vec<_>, Error>>()?;
                // Behind the chip's back: the cell it was handed now holds another value.
                if let Some((i, v)) = self.overwritten {
                    let v = Value::known(crate::value::felt::<Fp>(v));
                    let row = self.a.len() + i;
                    region.assign_advice(|| "source overwritten", chips.source, row, || v)?;
                }
                Ok(cells)
            },
        )?;
        let (a, b) = cells.split_at(self.a.len());
        let task = PairTask {
            a: a.iter().collect(),
            b: b.iter().collect(),
        };
        let sums: Vec<_> = felts(&self.partials)
            .into_iter()
            .map(Value::known)
            .collect();
        let honest = Self::honest(&self.a, &self.b).partials == self.partials;
        let forgery = Forgery {
            sums: (!honest).then_some(sums.as_slice()),
            padding: self
                .padding
                .map(|(a, b)| (crate::value::felt(a), crate::value::felt(b))),
        };
        let chip = PairDotChip::construct(chips.pair.clone());
        let out = chip.lay_out(&mut layouter, "t", &[task], forgery)?;
        if self.expose {
            expose(&mut layouter, &chips, &out)?;
        }
        Ok(())
    }
}

#[test]
fn pair_dot_results_equal_the_naive_sum() {
    let a = [3, -7, 0, 12, 255, -256, 1];
    let b = [5, 2, -9, 0, 1, 1, -128];
    for n in [1, 2, 3, 4, 5, 7] {
        let f = Fixture::honest(&a[..n], &b[..n]);
        assert_eq!(mock(&f, &[f.result()]), Ok(()), "n = {n}");
    }
}

#[test]
fn pair_dot_wrong_public_result_is_rejected() {
    let f = Fixture::honest(&[1, 2, 3], &[4, 5, 6]);
    assert_fails_with(mock(&f, &[f.result() + 1]), LOOKUPS, &[COPY_FAILURE]);
}

#[test]
fn pair_dot_copied_operand_replaced_by_another_value_is_rejected() {
    // The source of b[1] holds 50 while the chip multiplies 5: only the chip's copy of it
    // into its region ties the two.
    let mut f = Fixture::honest(&[1, 2, 3], &[4, 5, 6]);
    f.overwritten = Some((1, 50));
    assert_fails_with(
        mock(&f, &[f.result()]),
        LOOKUPS,
        &[COPY_FAILURE, "'pair dot products t'"],
    );
}

/// An extra term through the padding slot of an odd-length product: the sum the gate
/// accepts would be `a · b + 7 · 3`, but the padding `a` is pinned to zero.
fn padding_with_a_term() -> Verdict {
    let mut f = Fixture::honest(&[1, 2, 3], &[4, 5, 6]);
    f.padding = Some((7, 3));
    f.partials[1] += 21;
    f.expose = false;
    mock(&f, &[])
}

/// The gates accept the padded term (its running sums are consistent); only the pin of the
/// padding `a` to zero rejects it.
#[test]
fn pair_dot_padding_with_a_term_is_rejected_by_the_pinned_zero() {
    assert_fails_with(padding_with_a_term(), LOOKUPS, &[COPY_FAILURE]);
}

fn first_row_sum_off_by_one() -> Verdict {
    // One row, so no continuation reads the forged sum.
    let mut f = Fixture::honest(&[1, 2], &[4, 5]);
    f.partials[0] += 1;
    f.expose = false;
    mock(&f, &[])
}

fn continuation_row_sum_off_by_one() -> Verdict {
    let mut f = Fixture::honest(&[1, 2, 3, 4], &[4, 5, 6, 7]);
    f.partials[1] -= 1;
    f.expose = false;
    mock(&f, &[])
}

malicious_tests! {
    pair_dot_first_row_sum_off_by_one_is_rejected:
        first_row_sum_off_by_one
            => Target::Constraint(PairDotConfig::GATE, PairDotConfig::FIRST);
    pair_dot_continuation_row_sum_off_by_one_is_rejected:
        continuation_row_sum_off_by_one
            => Target::Constraint(PairDotConfig::NEXT_GATE, PairDotConfig::NEXT);
}

#[test]
fn pair_dot_operands_of_different_lengths_are_refused_at_synthesis() {
    let mut f = Fixture::honest(&[1, 2, 3], &[4, 5, 6]);
    f.b.pop();
    let verdict = halo2_proofs::dev::MockProver::run(
        crate::testing::K,
        &crate::testing::Test(f.clone()),
        vec![felts(&[0])],
    );
    assert!(matches!(verdict, Err(Error::Synthesis)), "{verdict:?}");
}
