//! Tests of reading `kiln.toml`: each refusal at its place, the expansion, a snapshot of the
//! design's example, and properties of random matrices.

mod bases;
mod expansion;
mod fixture;
mod properties;
mod snapshot;
mod test_specs;
mod validation;
