//! kiln-cache: the caches that let kiln skip work.
//!
//! It will hold L2 build records on disk (fingerprint → image, inputs manifest), L1 image
//! existence answers in memory (moka) with their persisted snapshot, and `CachedEngine`, the
//! decorator that implements `ImageEngine` over another engine. Nothing is cached yet: every
//! build reaches the engine.
