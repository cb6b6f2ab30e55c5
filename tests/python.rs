//! The Python package's tests (`python/tests`, pytest), run from `cargo test` so that the
//! README's one test command covers them. They need the package installed in a virtual
//! environment: `$ZKINFER_PYTHON`, else `.venv/bin/python` at the repository root
//! (`python3 -m venv .venv && .venv/bin/pip install ./python pytest`; `.ci/run` does this).
//! Without one, this test says so and passes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn python() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("ZKINFER_PYTHON") {
        return Some(PathBuf::from(p));
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    venv.exists().then_some(venv)
}

#[test]
fn the_python_package_passes_its_tests() {
    let Some(python) = python() else {
        eprintln!(
            "no Python environment with zkinfer installed: skipping python/tests \
             (set ZKINFER_PYTHON, or create .venv as the README says)"
        );
        return;
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let params = Path::new(env!("CARGO_TARGET_TMPDIR")).join("params");
    let status = Command::new(&python)
        .args(["-m", "pytest", "-q", "python/tests"])
        .current_dir(root)
        .env("ZKINFER_CLI", env!("CARGO_BIN_EXE_zkinfer"))
        .env("ZKINFER_PARAMS_DIR", &params)
        .status()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));
    assert!(status.success(), "pytest failed: {status}");
}
