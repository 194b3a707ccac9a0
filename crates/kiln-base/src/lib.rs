//! kiln-base: choosing the smallest base image that satisfies a service's needs.
//!
//! The [`Catalogue`] is data: a versioned TOML file of tiers (name, context, parent tier,
//! capabilities from a closed vocabulary, size limit, platforms, probes), one plugin table and
//! what build modes need, read with the place of every value so that a mistake is reported at
//! its line and column ([`Error::InvalidCatalogue`]). Strategies choose a tier for
//! [`Requirements`] and say why ([`Selection`]); they compose by wrapping ([`Tiered`] at the
//! core, [`PlatformAware`] and [`PluginAware`] around it, [`compose`] in a configured order).
//! When nothing fits, [`Error::NoTierFits`] says for every tier which constraint failed; the
//! largest tier is taken instead only when fallback is allowed, and the selection says so.
//! [`Verification`] is what checking a built tier against its claims found.
//!
//! Building tiers and running their probes is the facade's work (`kiln`): this crate does no
//! I/O besides reading the catalogue.

pub mod catalogue;
mod error;
mod request;
pub mod strategy;
mod verification;

pub use catalogue::{
    CATALOGUE_VERSION, Catalogue, Location, MEGABYTE, Tier, directory_at, platform_tag,
    resolve_path,
};
pub use error::{Error, Rejection, Result};
pub use request::{Requirements, Selection};
pub use strategy::{
    BaseStrategy, ChainOptions, DynStrategy, PlatformAware, PluginAware, StrategyKind, Tiered,
    compose,
};
pub use verification::{Check, CheckKind, VERIFICATION_SCHEMA, Verification};
