//! Puts `memory.x` where the linker finds it, and rebuilds when the update data changes.

use std::path::PathBuf;

fn main() {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default());
    std::fs::write(out.join("memory.x"), include_bytes!("memory.x")).unwrap_or_default();
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=memory.x");
    println!("cargo:rerun-if-changed=data");
}
