//! `compile --max-error E` ([`CompileOptions::max_error`]): the quantisation the cost model
//! predicts proves fastest among those whose outputs stay within `E` of the float model on
//! calibration samples the scales were not fitted on.
//!
//! The calibration set is cut in two: the scales are fitted on the first half (rounded up)
//! and the error is measured on the rest, so the error reported is one the scales did not
//! see, and the model kept is the one measured. A setting is a width of activations, of
//! weights and of activation tables' inputs, for the whole model. Error falls and rows rise
//! as any width grows (wider range checks, wider accumulators, larger tables), so:
//!
//! 1. the most precise setting is measured first: if even it misses, no setting meets the
//!    budget, and the error names what it reached;
//! 2. for each weight and table width, activation widths are measured narrowest first up to
//!    the first within budget; a setting no narrower in any width than one already within
//!    budget is not measured (it cannot be cheaper);
//! 3. the settings within budget that no other is narrower-or-equal than in every width are
//!    laid out, and the one predicted fastest is kept (the smaller error on a tie).
//!
//! One float pass over the samples serves every setting ([`Calibrated`]). The layout and
//! its cost are the caller's (`lay_out`): this module knows quantisation only.

use crate::error::{readable, Error, QuantError};
use crate::graph::ir::FloatGraph;
use crate::graph::qgraph::QGraph;
use crate::graph::quant::{BudgetReport, Calibrated, QuantOptions, QuantReport};
use crate::graph::repeats::Repeat;

/// The reason given when no setting was measured (the ladders below are never empty).
const NOTHING_MEASURED: &str = "no setting was measured";

/// Activation widths searched.
const ACTIVATION_BITS: [u32; 8] = [12, 14, 16, 18, 20, 24, 28, 32];
/// Weight widths searched.
const WEIGHT_BITS: [u32; 7] = [6, 8, 10, 12, 14, 16, 20];
/// Table input widths searched (for a model with activation tables).
const TABLE_BITS: [u32; 6] = [9, 10, 11, 12, 14, 16];

/// One setting of the widths.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Setting {
    activation: u32,
    weight: u32,
    table: u32,
}

impl Setting {
    /// `base` (headroom, rounding) at these widths. Fractional bits grow with the
    /// activation width as the presets have them (16 at 16 bits, 18 at 24), then with the
    /// width (22 at 28, 26 at 32): fewer would leave a wide tensor's range, and the table
    /// that spans it, far larger than its values, and the error would grow with the width.
    fn options(self, base: &QuantOptions) -> QuantOptions {
        QuantOptions {
            activation_bits: self.activation,
            weight_bits: self.weight,
            table_bits: self.table,
            max_frac_bits: match self.activation {
                a if a <= 16 => a as i32,
                a if a <= 24 => 16 + (a as i32 - 16) / 4,
                a => a as i32 - 6,
            },
            ..base.clone()
        }
    }

    /// Whether every width of `self` is at most `other`'s.
    fn within(self, other: Setting) -> bool {
        self.activation <= other.activation
            && self.weight <= other.weight
            && self.table <= other.table
    }

    fn describe(self) -> String {
        format!(
            "{}-bit activations, {}-bit weights, {}-bit tables",
            self.activation, self.weight, self.table
        )
    }
}

/// A setting measured: its integer graph, its report on the fitting samples and its error
/// on the held-out ones.
struct Measured {
    setting: Setting,
    graph: QGraph,
    report: QuantReport,
    error: f64,
}

/// The cheapest model within `max_error` (see the module's documentation): `lay_out` makes a
/// model of a quantised graph and its report and predicts its proving time.
pub(super) fn cheapest_within<T>(
    graph: &FloatGraph,
    calibration: &[Vec<f32>],
    base: &QuantOptions,
    repeats: &[Repeat],
    max_error: f64,
    mut lay_out: impl FnMut(QGraph, QuantReport) -> Result<(T, f64), Error>,
) -> Result<T, Error> {
    if !(max_error.is_finite() && max_error > 0.0) {
        return Err(QuantError::BudgetValue { max_error }.into());
    }
    if calibration.len() < 2 {
        return Err(QuantError::BudgetSamples {
            got: calibration.len(),
        }
        .into());
    }
    let (fit, held) = calibration.split_at(calibration.len().div_ceil(2));
    let search = Search {
        fit: Calibrated::run(graph, fit)?,
        held: Calibrated::run(graph, held)?,
        base,
        repeats,
        max_error,
    };
    // The most precise setting that lays out: the widest activations, then weights, whose
    // accumulators fit the circuit.
    let widest_first = ACTIVATION_BITS.iter().rev().flat_map(|&activation| {
        WEIGHT_BITS.iter().rev().map(move |&weight| Setting {
            activation,
            weight,
            table: TABLE_BITS[TABLE_BITS.len() - 1],
        })
    });
    let mut tried = 0;
    let mut outcome = None;
    for setting in widest_first {
        tried += 1;
        let measured = search.measure(setting)?;
        let usable = measured.is_ok();
        outcome = Some(measured);
        if usable {
            break;
        }
    }
    let precise = match outcome {
        Some(Ok(m)) if m.error <= max_error => m,
        Some(Ok(m)) => {
            let reached = format!(
                "the tightest, at {}, is {}",
                m.setting.describe(),
                readable(m.error)
            );
            return Err(search.unmet(reached));
        }
        Some(Err(unusable)) => return Err(search.unmet(unusable.to_string())),
        None => return Err(search.unmet(NOTHING_MEASURED.into())),
    };
    let top = precise.setting;
    let has_tables = precise.graph.has_tables();
    let tables: &[u32] = match has_tables {
        true => &TABLE_BITS,
        false => &TABLE_BITS[TABLE_BITS.len() - 1..],
    };
    let mut within = vec![precise];
    // Measures `setting` unless a setting within budget is no wider in any width; keeps it
    // when within budget. `Some(true)`: within budget; `None`: not measured.
    let mut try_setting =
        |setting: Setting, within: &mut Vec<Measured>| -> Result<Option<bool>, Error> {
            if within.iter().any(|m| m.setting.within(setting)) {
                return Ok(None);
            }
            tried += 1;
            Ok(Some(match search.measure(setting)? {
                Ok(m) if m.error <= max_error => {
                    within.push(m);
                    true
                }
                _ => false,
            }))
        };
    let widest = |weight, table| Setting {
        activation: top.activation,
        weight,
        table,
    };
    for &table in tables {
        // Error falls as any width grows: a table width the widest activations and weights
        // miss with is skipped whole, and so is a weight width the widest activations miss
        // with (a setting not measured because one within budget is narrower counts as
        // within budget).
        if try_setting(widest(top.weight, table), &mut within)? == Some(false) {
            continue;
        }
        for &weight in WEIGHT_BITS.iter().filter(|&&w| w <= top.weight) {
            if try_setting(widest(weight, table), &mut within)? == Some(false) {
                continue;
            }
            for &activation in ACTIVATION_BITS.iter().filter(|&&a| a < top.activation) {
                let setting = Setting {
                    activation,
                    weight,
                    table,
                };
                if try_setting(setting, &mut within)? != Some(false) {
                    break;
                }
            }
        }
    }
    // Only settings nothing else within budget is narrower-or-equal than are laid out.
    let settings: Vec<Setting> = within.iter().map(|m| m.setting).collect();
    let frontier = within.into_iter().filter(|m| {
        !settings
            .iter()
            .any(|&s| s != m.setting && s.within(m.setting))
    });
    let held_out_samples = search.held.len();
    let mut best: Option<(T, f64, f64)> = None;
    let mut unlaid = None;
    for m in frontier {
        let mut report = m.report;
        report.budget = Some(BudgetReport {
            max_error,
            held_out_error: m.error,
            held_out_samples,
            activation_bits: m.setting.activation,
            weight_bits: m.setting.weight,
            table_bits: has_tables.then_some(m.setting.table),
            settings_tried: tried,
        });
        // A setting that does not lay out (a circuit beyond every k, no part that fits the
        // budget) leaves the others in the race.
        let (candidate, seconds) = match lay_out(m.graph, report) {
            Ok(laid_out) => laid_out,
            Err(e) => {
                unlaid = Some(e);
                continue;
            }
        };
        let better = best
            .as_ref()
            .is_none_or(|(_, s, e)| (seconds, m.error) < (*s, *e));
        if better {
            best = Some((candidate, seconds, m.error));
        }
    }
    // `within` held the most precise setting: the frontier is never empty, so with no best
    // some setting failed to lay out.
    match (best, unlaid) {
        (Some((model, _, _)), _) => Ok(model),
        (None, Some(e)) => Err(e),
        (None, None) => Err(search.unmet(NOTHING_MEASURED.into())),
    }
}

/// Why a setting cannot be used: an accumulator too wide for the circuit (a quantisation
/// error), or a held-out sample leaving a declared range (a witness error).
struct Unusable {
    setting: Setting,
    cause: Error,
}

impl std::fmt::Display for Unusable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let at = self.setting.describe();
        match &self.cause {
            Error::Witness(e) => write!(
                f,
                "at {at}, a held-out sample cannot be proven: {e} (more calibration samples, or --headroom-bits, widen the ranges)"
            ),
            e => write!(f, "at {at}, {e}"),
        }
    }
}

/// What every measurement shares.
struct Search<'a> {
    fit: Calibrated<'a>,
    held: Calibrated<'a>,
    base: &'a QuantOptions,
    /// Repeated blocks quantised alike (none: each node its own scales).
    repeats: &'a [Repeat],
    max_error: f64,
}

impl Search<'_> {
    /// `setting` quantised on the fitting samples and measured on the held-out ones, or why
    /// it cannot be used ([`Unusable`]). Other errors are the graph's.
    fn measure(&self, setting: Setting) -> Result<Result<Measured, Unusable>, Error> {
        let unusable = |cause| Ok(Err(Unusable { setting, cause }));
        let (graph, report) = match self
            .fit
            .quantise_alike(&setting.options(self.base), self.repeats)
        {
            Ok(q) => q,
            Err(e @ Error::Quant(QuantError::Overflow { .. })) => return unusable(e),
            Err(e) => return Err(e),
        };
        match self.held.max_output_error(&graph) {
            Ok(error) => Ok(Ok(Measured {
                setting,
                graph,
                report,
                error,
            })),
            Err(e @ Error::Witness(_)) => unusable(e),
            Err(e) => Err(e),
        }
    }

    fn unmet(&self, reached: String) -> Error {
        QuantError::BudgetUnmet {
            max_error: self.max_error,
            reached,
            held_out: self.held.len(),
        }
        .into()
    }
}

#[cfg(test)]
mod tests {
    use super::Setting;
    use crate::graph::quant::{Precision, QuantOptions};

    #[test]
    fn settings_at_the_presets_widths_are_the_presets() {
        let base = QuantOptions::default();
        let standard = Setting {
            activation: 16,
            weight: 10,
            table: 10,
        };
        let high = Setting {
            activation: 24,
            weight: 16,
            table: 12,
        };
        assert_eq!(
            standard.options(&base),
            QuantOptions::of(Precision::Standard)
        );
        assert_eq!(high.options(&base), QuantOptions::of(Precision::High));
    }
}
