//! Random access to the rebuilt byte stream.

/// Placeholder until the seekable reconstructor lands.
#[derive(Debug)]
pub struct SeekableReconstructor;
