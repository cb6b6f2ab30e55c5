//! Running the `zkinfer` binary from the integration tests.

use std::path::Path;
use std::process::{Command, Output};

pub fn zkinfer(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_zkinfer"))
        .args(args)
        .env("ZKINFER_PARAMS_DIR", super::cache().dir())
        .output()
        .unwrap()
}

pub fn ok(args: &[&str]) -> String {
    let out = zkinfer(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs a failing command and returns its one-line reason.
pub fn fails(args: &[&str]) -> String {
    let out = zkinfer(args);
    assert!(!out.status.success(), "{args:?} succeeded");
    let err = String::from_utf8(out.stderr).unwrap();
    let line = err.lines().last().unwrap_or_default().to_string();
    assert!(line.starts_with("error: "), "{err}");
    line
}

pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}
