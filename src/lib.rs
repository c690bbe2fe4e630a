//! standpoint: who stands where on a target in a news corpus.
//!
//! The pipeline, one module per stage, each taking and returning plain records:
//! [`corpus`] → [`segment`] → [`attribute`] (speakers) → [`actors`] (merging names) →
//! [`model`] (stance through candle, batched by [`infer`]) → [`aggregate`] → [`merge`] →
//! [`report`]. [`run`] drives them, in shards ([`shard`]) that can be checkpointed and resumed.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::missing_safety_doc, clippy::undocumented_unsafe_blocks)]

pub mod actors;
pub mod aggregate;
pub mod attribute;
pub mod bench;
pub mod corpus;
pub mod diff;
pub mod eval;
pub mod export;
pub mod finetune;
pub mod html;
pub mod infer;
pub mod lexicon;
pub mod merge;
pub mod model;
pub mod report;
pub mod run;
pub mod segment;
pub mod shard;
pub mod statements;
pub mod train;
pub mod train_ops;
