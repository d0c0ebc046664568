//! Helpers for the fuzz targets: the same decoding drivers, invariant checks, reference
//! model and encoding driver as the integration tests, from one source file.

#[path = "../../tests/common/mod.rs"]
mod common;

pub use common::*;

/// The limits a fuzz input selects with its first byte, so that the limit checks are
/// exercised at small values as well as with no limits at all.
pub fn limits_from(selector: u8) -> splitfdstream::Limits {
    let limits = splitfdstream::Limits::new();
    match selector % 4 {
        0 => limits,
        1 => limits.max_inline(u64::from(selector)),
        2 => limits.max_index(u64::from(selector)),
        _ => limits
            .max_inline(u64::from(selector) * 3)
            .max_index(u64::from(selector / 4)),
    }
}

/// The splitdirfdstream limits a fuzz input selects with its first byte.
pub fn dir_limits_from(selector: u8) -> splitfdstream::dir::Limits {
    let limits = splitfdstream::dir::Limits::new();
    match selector % 5 {
        0 => limits,
        1 => limits.max_inline(u64::from(selector)),
        2 => limits.max_name(u64::from(selector / 8)),
        3 => limits.max_index(u32::from(selector / 64)),
        _ => splitfdstream::dir::Limits::reference().max_name(u64::from(selector) * 16),
    }
}
