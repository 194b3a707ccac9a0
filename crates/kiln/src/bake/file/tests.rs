//! Tests of reading `kiln.toml`: each refusal at its place, the expansion, and properties.
