//! The cost model: predicted proving time from a circuit's shape, used to pick each model's
//! dot-product width; predicted proving memory (the partitioner's budget) and verifying time
//! ([`Shape::predicted_cold_verify_seconds`]: what a fresh `zkinfer verify` pays).
//!
//! # Model
//! halo2's prover works column by column over `2^k` rows (commitments, FFTs into the
//! extended domain of `2^(k+2)` rows at this circuit's degree 5, the quotient polynomial).
//! Every width profile has the same gates, degree and lookup arguments, and its advice,
//! fixed and permutation columns all grow by one per dot-product slot. So the time is
//!
//! ```text
//! t(k, w) = FIXED_SECONDS + 2^k · (BASE_PER_ROW + SLOT_PER_ROW · w)
//! ```
//!
//! where `FIXED_SECONDS` is per-proof overhead (transcript, multiopen), `BASE_PER_ROW`
//! covers the width-independent columns (range, elementwise, lookup, instance) and
//! `SLOT_PER_ROW` one dot slot (an advice column, a fixed column and its share
//! of the permutation argument). A circuit with commitment chips (hashed tensors, a part of
//! a model proven in parts) counts their advice columns as slots too, and has degree 6,
//! which doubles the extended domain: the share of the per-row cost that grows with it
//! ([`EXTENDED_DOMAIN_SHARE`]) doubles ([`Shape::predicted_seconds`]).
//!
//! # Calibration
//! The three constants are a least-squares fit of median proving times measured by
//! `cargo bench --bench cost_model` (2-core machine, release build; the bench prints the
//! measurements, the fit and every prediction next to its measurement). Only ratios between
//! candidate layouts matter for the choice, so the absolute scale of a faster or slower
//! machine does not change it.
//!
//! # Choice
//! [`choose`] lays the model out at every width of [`DOT_WIDTHS`] and keeps the cheapest
//! prediction: narrow rows for small models (fewer columns at the same `k`), wide rows when
//! narrow ones would push `k` up.

use serde::{Deserialize, Serialize};

use crate::circuit::layout::{self, Layout};
use crate::circuit::DOT_WIDTHS;
use crate::error::CompileError;
use crate::graph::qgraph::QGraph;
use crate::visibility::Visibilities;
use zkinfer_circuits::ChipSet;

/// Seconds per proof independent of its size (fit, see the module docs).
pub const FIXED_SECONDS: f64 = 0.167;
/// Seconds per row for the columns every width shares (fit, see the module docs).
pub const BASE_PER_ROW: f64 = 2.13e-4;
/// Seconds per row per dot-product slot (fit, see the module docs).
pub const SLOT_PER_ROW: f64 = 5.18e-6;
/// The advice columns every plan has besides the dot slots: the accumulator, the
/// elementwise group's and the range group's.
const PLAN_ADVICE: usize = 1 + layout::ELEMENTWISE_ADVICE + layout::RANGE_ADVICE;
/// The share of the per-row cost (at degree 5) that grows with halo2's extended domain (the
/// quotient's FFTs and gate evaluations; commitments and the witness do not). A circuit with
/// commitment chips has degree 6 (Poseidon's S-box under a selector), which doubles that
/// domain. Fit: LeNet-5's two linked parts at `k = 13` proved in 3.90 s and 4.61 s, 1.31x and
/// 1.26x what the degree-5 fit gives with their commitment columns counted as slots; checked
/// on LeNet-5 with hashed input and output at `k = 14`, which took 1.42x its plain proof in
/// one run, where this predicts 1.45x (BENCHMARKS.md, "LeNet-5 in two parts").
pub const EXTENDED_DOMAIN_SHARE: f64 = 0.28;

/// Peak resident bytes of a proof that do not grow with its rows (the process, the model,
/// the parameters' small part). Fit, see [`Shape::predicted_peak_bytes`].
pub const MEMORY_FIXED_BYTES: f64 = 24.0 * 1024.0 * 1024.0;
/// Peak bytes per column per row of the extended domain (fit).
pub const MEMORY_PER_CELL: f64 = 140.0;

/// Seconds per elliptic-curve addition in halo2's multi-scalar multiplication (its Booth
/// windows, both threads of the calibration machine). Fit: one commitment to `2^10`, `2^14`
/// and `2^17` dense values took 7 ms, 72 ms and 467 ms (`examples/verifier_startup.rs`).
pub const MSM_ADD_SECONDS: f64 = 1.6e-7;
/// A fixed column's commitment against a dense column's: weights are small integers and
/// selectors mostly zero, so most of their Booth digits add nothing (measured: 8 ms against
/// 72 ms at `2^14`; the share also covers the key's synthesis).
pub const FIXED_COMMITMENT_SHARE: f64 = 0.12;
/// Seconds per row to read, digest-check and decode the IPA parameters (LeNet-5 at `k = 14`:
/// 0.22 s).
pub const PARAMS_LOAD_PER_ROW: f64 = 1.4e-5;

/// Predicted seconds of one multi-scalar multiplication over `2^k` dense scalars: halo2 0.4
/// picks windows of `c = ⌈ln 2^k⌉` bits, `256 / c + 1` of them, and each window adds every
/// point into a bucket and then sums its `2^c` buckets.
pub fn msm_seconds(k: u32) -> f64 {
    let n = (1u64 << k) as f64;
    let c = n.ln().ceil();
    let windows = (256.0 / c).floor() + 1.0;
    MSM_ADD_SECONDS * windows * (n + c.exp2())
}

/// The shape the prediction reads.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Shape {
    /// Rows are `2^k`.
    pub k: u32,
    /// Dot-product slots per row.
    pub dot_width: usize,
    /// Advice columns.
    pub advice: usize,
    /// Fixed columns.
    pub fixed: usize,
    /// Equality-enabled columns (the permutation argument).
    pub equality: usize,
    /// Lookup arguments.
    pub lookups: usize,
    /// The constraint system's degree.
    pub degree: usize,
}

impl Shape {
    /// The shape of `layout`.
    pub fn of(layout: &Layout) -> Self {
        let w = layout.dot_width;
        let columns = ChipSet::columns(w, layout.commitments);
        Self {
            k: layout.k,
            dot_width: w,
            advice: columns.advice,
            fixed: columns.fixed,
            equality: columns.equality,
            lookups: columns.lookups,
            degree: crate::circuit::degree(layout.commitments),
        }
    }

    /// Predicted proving time in seconds on the calibration machine: the fit of the module
    /// docs, where every advice column beyond the plan's own (the accumulator, elementwise
    /// and range columns) costs as a dot slot does (the commitment chips' columns too), and
    /// the share of the per-row cost that grows with the extended domain doubles with it at
    /// degree 6 ([`EXTENDED_DOMAIN_SHARE`]).
    pub fn predicted_seconds(&self) -> f64 {
        let rows = (1u64 << self.k) as f64;
        let slots = self.advice.saturating_sub(PLAN_ADVICE) as f64;
        let domain = 1.0 + EXTENDED_DOMAIN_SHARE * (self.extension() / 4.0 - 1.0);
        FIXED_SECONDS + rows * (BASE_PER_ROW + SLOT_PER_ROW * slots) * domain
    }

    /// How many times `2^k` rows halo2's extended domain has: `2^⌈log2(degree − 1)⌉` (4 at
    /// this circuit's degree 5, 8 at degree 6 with the commitment chips).
    fn extension(&self) -> f64 {
        (self.degree.saturating_sub(1).max(1) as f64)
            .log2()
            .ceil()
            .exp2()
    }

    /// Predicted seconds to rebuild the verifying key, which a cold verification (a fresh
    /// process: `zkinfer verify`) pays before it checks anything. halo2 0.4 cannot
    /// serialise keys, so `keygen_vk` commits to every column the key describes: the
    /// permutation argument's one polynomial per equality-enabled column, dense field
    /// elements (LeNet-5's 45 take 3.3 of its 3.9 s), and every fixed column, cheaper ones.
    pub fn predicted_key_seconds(&self) -> f64 {
        msm_seconds(self.k) * (self.equality as f64 + FIXED_COMMITMENT_SHARE * self.fixed as f64)
    }

    /// Predicted seconds of a verification with the key in hand (a warm verifier: a kept
    /// [`crate::Verifier`], the service): IPA's final check is one multi-scalar
    /// multiplication over `2^k` points.
    pub fn predicted_verify_seconds(&self) -> f64 {
        msm_seconds(self.k)
    }

    /// Predicted seconds to read, digest-check and decode the IPA parameters of `2^k` rows.
    pub fn predicted_params_seconds(&self) -> f64 {
        (1u64 << self.k) as f64 * PARAMS_LOAD_PER_ROW
    }

    /// Predicted seconds of a cold verification: parameters loaded, the verifying key
    /// rebuilt, the proof checked.
    pub fn predicted_cold_verify_seconds(&self) -> f64 {
        self.predicted_params_seconds()
            + self.predicted_key_seconds()
            + self.predicted_verify_seconds()
    }

    /// Predicted peak resident memory of proving, in bytes. halo2 holds every column's
    /// polynomial (advice, fixed, and the permutation's and lookups' own, which grow with
    /// them) over the extended domain, `2^k · 2^⌈log2(degree − 1)⌉` rows (4x at this
    /// circuit's degree 5, 8x at degree 6 with the commitment chips), so
    ///
    /// ```text
    /// peak(k, columns, d) = MEMORY_FIXED + 2^k · ext(d) · (advice + fixed) · MEMORY_PER_CELL
    /// ```
    ///
    /// fit to the peak RSS of LeNet-5 whole (k = 14, 87 columns, degree 5: 845 MiB) and of a
    /// ResNet-20 part (k = 17, 113 columns, degree 6: 15.1 GiB), both within 8 %
    /// (BENCHMARKS.md, "The memory model").
    pub fn predicted_peak_bytes(&self) -> u64 {
        let rows = (1u64 << self.k) as f64;
        let columns = (self.advice + self.fixed) as f64;
        (MEMORY_FIXED_BYTES + rows * self.extension() * columns * MEMORY_PER_CELL) as u64
    }
}

/// The layout of `graph` with the lowest predicted proving time among the widths that fit
/// `budget`; `None` when none does.
pub fn choose_within(
    graph: &QGraph,
    visibility: &Visibilities,
    budget: &Budget,
) -> Result<Option<Layout>, CompileError> {
    Ok(fastest(graph, visibility, |l| budget.fits(l))?.0)
}

/// The one loop over the widths behind [`choose`] and [`choose_within`]: the layout with
/// the lowest predicted proving time among those `fits` accepts, and the last width's
/// [`CompileError::TooLarge`] (a width too large for any `k` is skipped). Any other error
/// of the layout is the model's, at every width: returned at once.
fn fastest(
    graph: &QGraph,
    visibility: &Visibilities,
    fits: impl Fn(&Layout) -> bool,
) -> Result<(Option<Layout>, Option<CompileError>), CompileError> {
    let mut best: Option<(f64, Layout)> = None;
    let mut too_large = None;
    for layout in layout::plan_widths(graph, visibility, &DOT_WIDTHS)? {
        match layout {
            Ok(l) if fits(&l) => {
                let t = Shape::of(&l).predicted_seconds();
                if best.as_ref().is_none_or(|(bt, _)| t < *bt) {
                    best = Some((t, l));
                }
            }
            Ok(_) => {}
            Err(e @ CompileError::TooLarge { .. }) => too_large = Some(e),
            Err(e) => return Err(e),
        }
    }
    Ok((best.map(|(_, l)| l), too_large))
}

/// What one circuit may cost: the most rows (`2^max_k`) and the most predicted peak memory.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Budget {
    /// The largest `k`.
    pub max_k: Option<u32>,
    /// The most predicted peak memory of proving, bytes ([`Shape::predicted_peak_bytes`]).
    pub memory_bytes: Option<u64>,
}

impl Budget {
    /// Whether no limit is set.
    pub fn is_unlimited(&self) -> bool {
        self.max_k.is_none() && self.memory_bytes.is_none()
    }

    /// Whether a circuit of this layout fits.
    pub fn fits(&self, layout: &Layout) -> bool {
        self.max_k.is_none_or(|k| layout.k <= k)
            && self
                .memory_bytes
                .is_none_or(|m| Shape::of(layout).predicted_peak_bytes() <= m)
    }
}

impl std::fmt::Display for Budget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.max_k, self.memory_bytes) {
            (Some(k), Some(m)) => write!(f, "2^{k} rows and {} MiB", m >> 20),
            (Some(k), None) => write!(f, "2^{k} rows"),
            (None, Some(m)) => write!(f, "{} MiB of predicted peak memory", m >> 20),
            (None, None) => f.write_str("no limit"),
        }
    }
}

/// The layout of `graph` at the width with the lowest predicted proving time.
pub fn choose(graph: &QGraph, visibility: &Visibilities) -> Result<Layout, CompileError> {
    match fastest(graph, visibility, |_| true)? {
        (Some(l), _) => Ok(l),
        (None, Some(too_large)) => Err(too_large),
        // No width was tried (none is configured): the default width's layout.
        (None, None) => layout::plan(graph, visibility, layout::DOT_WIDTH),
    }
}
