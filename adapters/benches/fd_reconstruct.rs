//! Zero-copy reconstruction benchmark (being written).
fn main() {}
