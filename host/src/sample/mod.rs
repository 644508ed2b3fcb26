//! Sample data a person can feed a pipeline with (`ingot produce`, `ingot
//! demo`): realistic, deterministic for a seed.

pub mod logs;
