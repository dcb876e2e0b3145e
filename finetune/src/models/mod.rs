//! Model architectures, one per file in candle-transformers' style.

pub mod llama;
