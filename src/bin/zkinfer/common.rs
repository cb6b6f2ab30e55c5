//! The CLI's helpers every command uses: its result type, the output check, progress
//! spinners, parameters and number formatting. A leaf of the CLI's modules (it imports none
//! of them), so that `main.rs` and the commands' modules do not import each other.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget};
use zkinfer::{ParamsCache, ParamsStatus};

/// A command's result: any error, printed by `main`.
pub(crate) type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// Refuses an output path that is one of the command's input files (it would destroy it),
/// and checks that the output's folder is writable before any slow work.
pub(crate) fn check_output(output: &Path, inputs: &[&Path], folder: bool) -> Result<()> {
    let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    };
    if let Some(input) = inputs.iter().find(|i| same(output, i)) {
        return Err(format!(
            "the output {} is the input {}: refusing to overwrite an input; choose another output path",
            output.display(),
            input.display()
        )
        .into());
    }
    let dir = if folder {
        std::fs::create_dir_all(output)
            .map_err(|e| format!("cannot create the output folder {}: {e}", output.display()))?;
        output.to_path_buf()
    } else {
        if output.is_dir() {
            return Err(format!("the output {} is a folder, not a file", output.display()).into());
        }
        match output.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        }
    };
    let probe = dir.join(format!(".zkinfer-write-check-{}", std::process::id()));
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .and_then(|_| std::fs::remove_file(&probe))
        .map_err(|e| format!("cannot write to {}: {e}", dir.display()).into())
}

/// A spinner on stderr for a step with no progress of its own; hidden for `--json`.
pub(crate) fn step<T>(quiet: bool, message: &'static str, f: impl FnOnce() -> T) -> T {
    let bar = ProgressBar::new_spinner();
    if quiet {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    bar.set_message(message);
    bar.enable_steady_tick(Duration::from_millis(100));
    let t = Instant::now();
    let out = f();
    bar.finish_with_message(format!("{message}: {:.2} s", t.elapsed().as_secs_f64()));
    out
}

/// Parameters for `k`, saying on stderr when a cached file was damaged or forged.
pub(crate) fn params(
    cache: &ParamsCache,
    k: u32,
    json: bool,
) -> Result<halo2_proofs::poly::commitment::Params<pasta_curves::EqAffine>> {
    let (params, status) = step(json, "parameters", || cache.get_with_status(k))?;
    if let ParamsStatus::Replaced { reason } = status {
        eprintln!(
            "warning: the cached parameters {} were not used ({reason}); regenerated them",
            cache.path(k).display()
        );
    }
    Ok(params)
}

pub(crate) fn floats(values: &[f64]) -> String {
    let parts: Vec<String> = values.iter().map(|v| format!("{v:.4}")).collect();
    format!("[{}]", parts.join(", "))
}
