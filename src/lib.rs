//! standpoint: who stands where on a target in a news corpus.
pub mod model;
pub mod train;
