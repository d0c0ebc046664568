//! Blocking `embedded-io` 0.7 adapters: `no_std`, no allocation.
