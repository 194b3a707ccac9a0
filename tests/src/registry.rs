//! The registry server fixture (being written).
