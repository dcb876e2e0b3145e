//! Model architectures, one per file in candle-transformers' style.

pub mod bert;
pub mod distilbert;
pub mod llama;
pub mod roberta;
