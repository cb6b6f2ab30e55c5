//! The extension library is built with the tests: `cargo test --workspace` compiles this test,
//! which links the package's library, so cargo builds the library's `cdylib` too
//! (`target/<profile>/deps/lib_zkinfer.so`, beside this test), where the root crate's
//! `tests/python.rs` finds it and loads it into Python. This checks that it is there.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[test]
fn the_extension_library_is_built_beside_this_test() {
    // target/<profile>/deps/extension-<hash>
    let lib = std::env::current_exe()
        .unwrap()
        .with_file_name(format!("lib_zkinfer{}", std::env::consts::DLL_SUFFIX));
    assert!(lib.exists(), "{} was not built", lib.display());
}
