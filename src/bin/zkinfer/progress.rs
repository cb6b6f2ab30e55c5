//! The progress of a parted `prove`: a bar on stderr naming the part, its shape and circuit
//! (`k`), the inference and the phase, with the elapsed time and an estimate of what is
//! left; a line per finished part (also when stderr is not a terminal); and the per-part and
//! per-shape timings that `--json` reports.
//!
//! The estimate weighs each step by the cost model's predicted time for its part (the keys
//! of a shape about as much as one proof of a part of it, as measured on ResNet-20 and
//! GPT-2; built once per shape), so the bar advances by predicted seconds and indicatif's
//! rate turns what is left into this machine's seconds.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;
use zkinfer::api::Shape;
use zkinfer::{CompiledModel, PartEvent, Phase, Shapes};

/// The display and the timings of one parted `prove` of `inferences` inputs.
pub(crate) struct PartsProgress {
    bar: ProgressBar,
    /// Each part's `k` and predicted proving seconds (in milliseconds: the bar's unit).
    parts: Vec<(u32, u64)>,
    shapes: Shapes,
    inferences: usize,
    quiet: bool,
    /// Each part's key time (the build for the first part of a shape, a lookup after).
    keys: Vec<Duration>,
    /// Each inference's witness and proof time per part.
    proofs: Vec<Vec<(Duration, Duration)>>,
}

impl PartsProgress {
    /// A bar for proving `parts` of `shapes` on `inferences` inputs; hidden with `quiet`
    /// (`--json`).
    pub(crate) fn new(
        parts: &[std::sync::Arc<CompiledModel>],
        shapes: &Shapes,
        inferences: usize,
        quiet: bool,
    ) -> Self {
        let parts: Vec<(u32, u64)> = parts
            .iter()
            .map(|p| {
                // One layout per part gives both (`predicted_seconds` would lay out again).
                p.layout().map_or((0, 1), |l| {
                    let ms = (Shape::of(&l).predicted_seconds() * 1e3).max(1.0);
                    (l.k, ms as u64)
                })
            })
            .collect();
        let keys: u64 = (0..shapes.digests.len())
            .filter_map(|s| shapes.parts_of(s).next().map(|i| parts[i].1))
            .sum();
        let total = keys
            + parts
                .iter()
                .map(|&(_, ms)| ms * inferences as u64)
                .sum::<u64>();
        let bar = ProgressBar::new(total);
        if quiet {
            bar.set_draw_target(ProgressDrawTarget::hidden());
        }
        let style = ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {percent:>3}% left ~{eta} {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar.enable_steady_tick(Duration::from_millis(200));
        Self {
            keys: vec![Duration::ZERO; parts.len()],
            proofs: vec![vec![(Duration::ZERO, Duration::ZERO); parts.len()]; inferences],
            parts,
            shapes: shapes.clone(),
            inferences,
            quiet,
            bar,
        }
    }

    /// "part 3 of 6 (shape 2 of 3, k = 10)".
    fn part_label(&self, part: usize) -> String {
        format!(
            "part {} of {} (shape {} of {}, k = {})",
            part + 1,
            self.parts.len(),
            self.shapes.of_part[part] + 1,
            self.shapes.digests.len(),
            self.parts[part].0
        )
    }

    /// Shows `event` and records its time.
    pub(crate) fn on(&mut self, event: PartEvent) {
        let ms = self.parts[event.part].1;
        let Some(took) = event.took else {
            let of = match event.inference {
                Some(s) if self.inferences > 1 => {
                    format!(", inference {} of {}", s + 1, self.inferences)
                }
                _ => String::new(),
            };
            let label = self.part_label(event.part);
            self.bar
                .set_message(format!("{label}{of}: {}", event.phase));
            return;
        };
        // Only the keys serve every inference (`inference` is `None` for them alone).
        let s = event.inference.unwrap_or(0);
        match event.phase {
            Phase::Keys => {
                self.keys[event.part] = took;
                // Counted once per shape, at its first part.
                if self.shapes.parts_of(event.shape).next() == Some(event.part) {
                    self.bar.inc(ms);
                }
            }
            Phase::Witness => self.proofs[s][event.part].0 = took,
            Phase::Proof => {
                self.proofs[s][event.part].1 = took;
                self.bar.inc(ms);
                if s + 1 == self.inferences && !self.quiet {
                    self.finished_part(event.part);
                }
            }
        }
    }

    /// The line of a part proven for every inference.
    fn finished_part(&self, part: usize) {
        let proofs: Duration = self.proofs.iter().map(|p| p[part].0 + p[part].1).sum();
        let each = if self.inferences > 1 {
            format!(" for {} inferences", self.inferences)
        } else {
            String::new()
        };
        let line = format!(
            "{}: keys {:.2} s, witness and proof {:.2} s{each}",
            self.part_label(part),
            self.keys[part].as_secs_f64(),
            proofs.as_secs_f64(),
        );
        self.bar.suspend(|| eprintln!("{line}"));
    }

    /// Clears the bar; returns each part's key time (`--json`'s `keys_s`: the build at a
    /// shape's first part, the lookup at the others).
    pub(crate) fn finish(&self) -> Vec<f64> {
        self.bar.finish_and_clear();
        self.keys.iter().map(Duration::as_secs_f64).collect()
    }

    /// Per shape (`--json`'s `shapes`): its parts, its keys' time, and its parts' witness
    /// and proof seconds over every inference.
    pub(crate) fn shapes(&self) -> serde_json::Value {
        let shapes: Vec<serde_json::Value> = (0..self.shapes.digests.len())
            .map(|s| {
                let parts: Vec<usize> = self.shapes.parts_of(s).collect();
                let keys_s: f64 = parts.iter().map(|&i| self.keys[i].as_secs_f64()).sum();
                let prove_s: f64 = self
                    .proofs
                    .iter()
                    .flat_map(|p| parts.iter().map(move |&i| (p[i].0 + p[i].1).as_secs_f64()))
                    .sum();
                json!({
                    "shape": self.shapes.digests[s],
                    "parts": parts,
                    "keys_s": keys_s,
                    "prove_s": prove_s,
                })
            })
            .collect();
        json!(shapes)
    }

    /// Inference `s`'s witness and proof seconds per part (`--json`'s `part_s`) and their
    /// sum.
    pub(crate) fn inference(&self, s: usize) -> (serde_json::Value, f64) {
        let parts: Vec<serde_json::Value> = self.proofs[s]
            .iter()
            .map(|(w, p)| json!({ "witness_s": w.as_secs_f64(), "proof_s": p.as_secs_f64() }))
            .collect();
        let total = self.proofs[s]
            .iter()
            .map(|(w, p)| (*w + *p).as_secs_f64())
            .sum();
        (json!(parts), total)
    }
}
