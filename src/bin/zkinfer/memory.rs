//! Refusing a proof this machine cannot hold: a proof whose predicted peak memory exceeds
//! the machine's would run for minutes and then be killed (or swap for hours), so `prove`
//! says so before it starts and points to proving in parts.

use zkinfer::CompiledModel;

use crate::common::Result;

/// This machine's memory in bytes (`MemTotal` of `/proc/meminfo`); `None` where it cannot
/// be read (then nothing is refused).
fn machine_bytes() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

fn gib(bytes: u64) -> f64 {
    bytes as f64 / f64::from(1u32 << 30)
}

/// Refuses to prove `model` (or its part `part`) when the cost model predicts a peak above
/// this machine's memory.
pub(crate) fn check(model: &CompiledModel, part: Option<usize>) -> Result<()> {
    let Some(machine) = machine_bytes() else {
        return Ok(());
    };
    match refusal(model.predicted_peak_bytes(part)?, machine) {
        Some(reason) => Err(reason.into()),
        None => Ok(()),
    }
}

/// Why a proof predicted to peak at `predicted` bytes is refused on a machine of `machine`
/// bytes, if it is.
fn refusal(predicted: u64, machine: u64) -> Option<String> {
    (predicted > machine).then(|| {
        format!(
            "proving this model is predicted to peak at {:.1} GiB, more than this machine's \
             {:.1} GiB: it would be killed partway. Recompile it in parts that fit \
             (`zkinfer compile ... --memory-budget {}GiB`), prove it on a larger machine, or \
             pass --ignore-memory to try anyway",
            gib(predicted),
            gib(machine),
            (gib(machine) * 0.75).floor().max(1.0)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_proof_beyond_the_machine_is_refused_with_what_to_do() {
        let gib = 1u64 << 30;
        assert_eq!(refusal(3 * gib, 23 * gib), None);
        assert_eq!(refusal(23 * gib, 23 * gib), None);
        // The depthwise CNN of issue 27: 87 GiB predicted on a 23 GiB machine.
        let reason = refusal(87 * gib, 23 * gib).unwrap_or_default();
        assert!(
            reason.contains("87.0 GiB")
                && reason.contains("23.0 GiB")
                && reason.contains("--memory-budget 17GiB")
                && reason.contains("--ignore-memory"),
            "{reason}"
        );
    }

    #[test]
    fn this_machines_memory_is_read() {
        if cfg!(target_os = "linux") {
            assert!(machine_bytes().is_some_and(|b| b > 1 << 28));
        }
    }
}
