//! standpoint: who stands where on a target in a news corpus.
pub mod model;
