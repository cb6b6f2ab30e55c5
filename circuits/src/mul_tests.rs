use super::*;
use crate::testing::Scenario;
use crate::testing::{expose, felts, malicious_tests, mock, sources, Chips, Target, Verdict};
use halo2_proofs::dev::MockProver;
use pasta_curves::Fp;

/// Multiplies pairs, claiming `products`.
#[derive(Clone, Debug, Default)]
struct Fixture {
    pairs: Vec<(i64, i64)>,
    products: Vec<i64>,
}

impl Fixture {
    fn honest(pairs: &[(i64, i64)]) -> Self {
        Self {
            pairs: pairs.to_vec(),
            products: pairs.iter().map(|(a, b)| a * b).collect(),
        }
    }
}

impl Scenario for Fixture {
    fn assign(&self, chips: Chips, mut layouter: impl Layouter<Fp>) -> Result<(), Error> {
        chips.range.table().load(&mut layouter)?;
        let a: Vec<i64> = self.pairs.iter().map(|p| p.0).collect();
        let b: Vec<i64> = self.pairs.iter().map(|p| p.1).collect();
        let a = sources(&mut layouter, &chips, &felts(&a))?;
        let b = sources(&mut layouter, &chips, &felts(&b))?;
        let products: Vec<_> = felts(&self.products)
            .into_iter()
            .map(Value::known)
            .collect();
        let p = MulChip::construct(chips.mul.clone()).mul(&mut layouter, "t", &a, &b, &products)?;
        expose(&mut layouter, &chips, &p)
    }
}

#[test]
fn products_are_exact() {
    let f = Fixture::honest(&[(3, 4), (-5, 7), (-32768, -32768), (0, 9)]);
    assert_eq!(mock(&f, &[12, -35, 1 << 30, 0]), Ok(()));
}

fn wrong_product() -> Verdict {
    let mut f = Fixture::honest(&[(3, 4)]);
    f.products[0] = 13;
    mock(&f, &[13])
}

malicious_tests! {
    a_wrong_product_is_rejected:
        wrong_product => Target::Constraint(MulConfig::GATE, MulConfig::IDENTITY);
}

#[test]
fn mul_product_count_must_match_the_operands() {
    // A spare claimed product is refused at synthesis, not silently dropped.
    let mut f = Fixture::honest(&[(3, 4)]);
    f.products.push(30);
    let verdict = MockProver::run(
        crate::testing::K,
        &crate::testing::Test(f.clone()),
        vec![felts(&[12])],
    );
    assert!(matches!(verdict, Err(Error::Synthesis)), "{verdict:?}");
}
