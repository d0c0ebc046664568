//! I/O adapters for the `splitfdstream` codec.
#![no_std]
