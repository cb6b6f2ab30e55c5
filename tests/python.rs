//! The Python package's tests (`python/tests`, pytest), run from `cargo test` so that the
//! README's one test command covers them, against the extension this same build made from this
//! tree (`python/` is a workspace member: `cargo test --workspace` builds
//! `target/<profile>/deps/lib_zkinfer.so`), never a stale installed copy. The interpreter is
//! `$ZKINFER_PYTHON`, else `.venv/bin/python` at the repository root, with numpy and pytest
//! (and Ray for the Ray tests) installed: `.ci/run` makes it. Without an interpreter, or when
//! the extension was not built (`cargo test --test python` alone builds only this package:
//! add `--workspace`, or `cargo build -p zkinfer-python` first), the test says so and uses
//! what it can.
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

/// A package folder holding `python/python/zkinfer` and the extension this build made
/// (`target/<profile>/deps/lib_zkinfer.so`, where cargo leaves a workspace member's `cdylib`
/// built for its tests, or `target/<profile>/` where `cargo build -p zkinfer-python` puts it),
/// for `PYTHONPATH`; `None` if the extension was not built.
fn package_from_this_build() -> Option<PathBuf> {
    let name = format!("lib_zkinfer{}", std::env::consts::DLL_SUFFIX);
    let profile = Path::new(env!("CARGO_BIN_EXE_zkinfer")).parent()?;
    let built = [profile.join("deps").join(&name), profile.join(&name)]
        .into_iter()
        .filter(|p| p.exists())
        .max_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())?;
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("python-package");
    let package = root.join("zkinfer");
    std::fs::create_dir_all(&package).unwrap();
    let sources = Path::new(env!("CARGO_MANIFEST_DIR")).join("python/python/zkinfer");
    for entry in std::fs::read_dir(&sources).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::copy(&path, package.join(path.file_name().unwrap())).unwrap();
        }
    }
    // Written beside and renamed into place: a test binary of another profile, or a second
    // run, never sees half a library.
    let staged = package.join("_zkinfer.so.partial");
    std::fs::copy(&built, &staged).unwrap();
    std::fs::rename(&staged, package.join("_zkinfer.abi3.so")).unwrap();
    Some(root)
}

/// Runs pytest on `tests` (a folder or file under `python/tests`) with `env` set.
fn pytest(tests: &str, env: &[(&str, &str)]) {
    let Some(python) = python() else {
        eprintln!(
            "no Python environment: skipping python/tests (set ZKINFER_PYTHON, or create \
             .venv as the README says)"
        );
        return;
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let params = Path::new(env!("CARGO_TARGET_TMPDIR")).join("params");
    let mut command = Command::new(&python);
    command
        .args(["-m", "pytest", "-q", tests])
        .current_dir(root)
        .env("ZKINFER_CLI", env!("CARGO_BIN_EXE_zkinfer"))
        .env("ZKINFER_PARAMS_DIR", &params);
    for (k, v) in env {
        command.env(k, v);
    }
    match package_from_this_build() {
        // Ray's workers inherit the environment, so they load the same package.
        Some(package) => {
            command.env("PYTHONPATH", package);
        }
        None => eprintln!(
            "the extension was not built with this test (run `cargo test --workspace`, or \
             `cargo build -p zkinfer-python` first): testing the zkinfer installed in {}",
            python.display()
        ),
    }
    let status = command
        .status()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));
    assert!(status.success(), "pytest failed: {status}");
}

#[test]
fn the_python_package_passes_its_tests() {
    pytest("python/tests", &[]);
}

/// The slow Python tests: `gpt2_l2` proven within 8 GiB and the encoders proven, from Python
/// (`python/tests/test_transformers.py`). About 15 minutes on 2 cores in a release build:
/// `cargo build --release -p zkinfer-python && cargo test --release --test python -- --ignored`.
#[test]
#[ignore = "real proofs of transformers from Python (about 15 minutes on 2 cores); on demand (TESTING.md)"]
fn transformers_prove_from_python() {
    pytest(
        "python/tests/test_transformers.py",
        &[("ZKINFER_SLOW", "1")],
    );
}
