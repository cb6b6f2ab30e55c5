//! The `zkinfer` command line.
fn main() {}
