//! The `splitfdstream` command.
fn main() {}
