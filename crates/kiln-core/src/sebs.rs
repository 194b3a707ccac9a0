//! SeBS naming schemes (being written).
