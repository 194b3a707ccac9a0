//! kiln-base: choosing the smallest base image that satisfies a service's needs.
//!
//! It will hold the base-image strategies (tiered, platform-aware, plugin-aware, composed by
//! wrapping), the catalogue of tiers as data, and the manager that builds missing tiers in
//! dependency order. No issue has asked for it yet; the crate marks its place in the layering.
