//! The pipeline configuration: one TOML file, one section per stage.
//!
//! Every key has a default, and the defaults are the embedded default pipeline (the reviews in
//! `data/reviews`, the committed `data/lexicon.csv`, a tiny model trained for a few steps), so
//! an empty file and no file at all mean the same run. Paths in a file are relative to the
//! file's directory; any input path may be an `s3://bucket/key` address.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The whole pipeline's options.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PipelineConfig {
    /// Lexicon building.
    pub scrape: ScrapeOptions,
    /// Review labeling.
    pub label: LabelOptions,
    /// Dataset export.
    pub jsonl: JsonlOptions,
    /// Fine-tuning.
    pub finetune: FinetuneOptions,
    /// Prediction on the test split.
    pub predict: PredictOptions,
    /// Scores, curves and report.
    pub eval: EvalOptions,
}

/// One lexicon source, as `{ lexicon = "..." }`, `{ file = "..." }`, `{ text = "..." }` or
/// `{ url = "..." }` in TOML; they are merged in the order given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// An existing lexicon CSV (`scrape --lexicon-in`).
    Lexicon(String),
    /// A saved page or plain list (`scrape --file`).
    File(String),
    /// A plain list, one part per line (`scrape --text`).
    Text(String),
    /// A live page (`scrape --url`); its stage hash covers the address, not the page.
    Url(String),
}

/// `scrape` options.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScrapeOptions {
    /// Sources merged into the lexicon [default: the committed `data/lexicon.csv`, so the
    /// default stage rebuilds the committed lexicon offline].
    pub sources: Vec<Source>,
    /// Reviewed extra aliases (`alias,canonical` CSV) [default: none].
    pub extra_aliases: Option<String>,
    /// Stop-list [default: none].
    pub stoplist: Option<String>,
    /// Use only scrape's page cache for URL sources [default: false].
    pub offline: bool,
}

impl Default for ScrapeOptions {
    fn default() -> Self {
        ScrapeOptions {
            sources: vec![Source::Lexicon("data/lexicon.csv".into())],
            extra_aliases: None,
            stoplist: None,
            offline: false,
        }
    }
}

/// `label` options.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LabelOptions {
    /// Review CSV files or directories [default: `data/reviews`].
    pub inputs: Vec<String>,
    /// Also match review titles [default: false].
    pub match_title: bool,
    /// Fraction of the lexicon's parts held out of labeling [default: 0].
    pub holdout_parts: f64,
    /// Seed of the held-out choice [default: 0].
    pub seed: u64,
    /// Worker threads [default: all cores].
    pub threads: Option<usize>,
}

impl Default for LabelOptions {
    fn default() -> Self {
        LabelOptions {
            inputs: vec!["data/reviews".into()],
            match_title: false,
            holdout_parts: 0.0,
            seed: 0,
            threads: None,
        }
    }
}

/// `jsonl export` options.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JsonlOptions {
    /// `legacy` (prompt/completion) or `chat` [default: legacy].
    pub format: String,
    /// Seed of the split and order [default: 42].
    pub seed: u64,
    /// Train,valid,test fractions [default: "0.8,0.1,0.1"].
    pub split: String,
    /// Training examples to write [default: 96; none: all].
    pub rows: Option<usize>,
    /// Fraction of reviews without parts to keep [default: 1].
    pub negatives: f64,
}

impl Default for JsonlOptions {
    fn default() -> Self {
        JsonlOptions {
            format: "legacy".into(),
            seed: 42,
            split: "0.8,0.1,0.1".into(),
            rows: Some(96),
            negatives: 1.0,
        }
    }
}

/// The tiny model written by `finetune init-tiny` when `finetune.base = "tiny"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TinyOptions {
    /// Hidden size [default: 64].
    pub hidden: usize,
    /// Decoder layers [default: 2].
    pub layers: usize,
    /// Attention heads [default: 4].
    pub heads: usize,
    /// Key/value heads [default: 2].
    pub kv_heads: usize,
    /// MLP size [default: 128].
    pub intermediate: usize,
    /// Vocabulary bound [default: 512].
    pub vocab_size: usize,
    /// Seed of the random weights [default: 0].
    pub seed: u64,
}

impl Default for TinyOptions {
    fn default() -> Self {
        TinyOptions {
            hidden: 64,
            layers: 2,
            heads: 4,
            kv_heads: 2,
            intermediate: 128,
            vocab_size: 512,
            seed: 0,
        }
    }
}

/// `finetune init-tiny` + `finetune train` options.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FinetuneOptions {
    /// Base model directory, or `tiny` for a tiny model trained from scratch [default: tiny].
    pub base: String,
    /// The tiny model's shape (used when `base = "tiny"`).
    pub tiny: TinyOptions,
    /// Epochs [default: 1].
    pub epochs: usize,
    /// Examples per micro-batch [default: 8].
    pub batch_size: usize,
    /// Peak learning rate [default: 1e-3; finetune's own default 1e-4 suits real models].
    pub learning_rate: Option<f64>,
    /// Longest sequence in tokens [default: 256].
    pub max_seq_len: usize,
    /// Training seed [default: 0].
    pub seed: u64,
    /// Worker threads [default: all cores].
    pub threads: Option<usize>,
    /// Use the CPU even when a GPU build finds a GPU [default: false].
    pub cpu: bool,
}

impl Default for FinetuneOptions {
    fn default() -> Self {
        FinetuneOptions {
            base: "tiny".into(),
            tiny: TinyOptions::default(),
            epochs: 1,
            batch_size: 8,
            learning_rate: Some(1e-3),
            max_seq_len: 256,
            seed: 0,
            threads: None,
            cpu: false,
        }
    }
}

/// `finetune predict` options.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PredictOptions {
    /// Predict only the first N test examples [default: all].
    pub limit: Option<usize>,
    /// Examples per batch [default: 16].
    pub batch_size: usize,
    /// Generation budget per example [default: 24].
    pub max_new_tokens: usize,
}

impl Default for PredictOptions {
    fn default() -> Self {
        PredictOptions { limit: None, batch_size: 16, max_new_tokens: 24 }
    }
}

/// `eval` options.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EvalOptions {
    /// Title of the HTML report [default: "partfinder pipeline"].
    pub title: String,
}

impl Default for EvalOptions {
    fn default() -> Self {
        EvalOptions { title: "partfinder pipeline".into() }
    }
}

impl PipelineConfig {
    /// Parses a configuration from TOML text; `path` only names the file in errors.
    ///
    /// # Errors
    /// [`Error::Config`] for invalid TOML or unknown keys, [`Error::Invalid`] for bad values.
    pub fn from_toml(text: &str, path: &Path) -> Result<Self> {
        let config: PipelineConfig = toml::from_str(text)
            .map_err(|e| Error::Config { path: path.to_owned(), message: e.to_string() })?;
        config.validate()?;
        Ok(config)
    }

    /// Reads a configuration file.
    ///
    /// # Errors
    /// [`Error::Io`] when it cannot be read, else as [`PipelineConfig::from_toml`].
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::from_toml(&text, path)
    }

    /// The configuration as TOML (what `partfinder pipeline --print-config` shows).
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("the configuration serialises")
    }

    /// Checks the values that the stages would otherwise reject late.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming the key.
    pub fn validate(&self) -> Result<()> {
        let invalid = |key: &str, message: &str| {
            Err(Error::Invalid { key: key.into(), message: message.into() })
        };
        if self.scrape.sources.is_empty() {
            return invalid("scrape.sources", "at least one source is needed");
        }
        if self.label.inputs.is_empty() {
            return invalid("label.inputs", "at least one review file or directory is needed");
        }
        if !(0.0..1.0).contains(&self.label.holdout_parts) {
            return invalid("label.holdout_parts", "must be in [0, 1)");
        }
        if !matches!(self.jsonl.format.as_str(), "legacy" | "chat") {
            return invalid("jsonl.format", "must be \"legacy\" or \"chat\"");
        }
        if self.finetune.epochs == 0 || self.finetune.batch_size == 0 {
            return invalid("finetune", "epochs and batch_size must be at least 1");
        }
        if self.predict.limit == Some(0) {
            return invalid("predict.limit", "must be at least 1");
        }
        Ok(())
    }
}

/// Where relative paths of the embedded default are resolved: the working directory when it
/// holds `data/lexicon.csv` (the repository root, or a container's work directory), else
/// `$PARTFINDER_ROOT` when it does (the Flyte image sets `/app`), else the workspace that built
/// this binary.
pub fn default_base_dir() -> PathBuf {
    let holds_data = |dir: &Path| dir.join("data/lexicon.csv").is_file();
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    if holds_data(&cwd) {
        return cwd;
    }
    match std::env::var_os("PARTFINDER_ROOT").map(PathBuf::from) {
        Some(root) if holds_data(&root) => root,
        _ => PathBuf::from(env!("CARGO_MANIFEST_DIR")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_is_the_default() {
        let c = PipelineConfig::from_toml("", Path::new("p.toml")).unwrap();
        assert_eq!(c, PipelineConfig::default());
    }

    #[test]
    fn default_round_trips_through_toml() {
        let text = PipelineConfig::default().to_toml();
        let c = PipelineConfig::from_toml(&text, Path::new("p.toml")).unwrap();
        assert_eq!(c, PipelineConfig::default());
    }

    #[test]
    fn sources_and_overrides_parse() {
        let text = r#"
            [scrape]
            sources = [{ file = "page.html" }, { url = "https://example.invalid/x" }]
            [finetune]
            base = "models/m"
            epochs = 3
        "#;
        let c = PipelineConfig::from_toml(text, Path::new("p.toml")).unwrap();
        assert_eq!(
            c.scrape.sources,
            [Source::File("page.html".into()), Source::Url("https://example.invalid/x".into())]
        );
        assert_eq!(c.finetune.base, "models/m");
        assert_eq!(c.finetune.epochs, 3);
        assert_eq!(c.finetune.batch_size, 8);
    }

    #[test]
    fn bad_files_name_the_problem() {
        let cases = [
            ("[label]\ninputz = []\n", "inputz"),
            ("[jsonl]\nformat = \"xml\"\n", "jsonl.format"),
            ("[label]\nholdout_parts = 1.5\n", "label.holdout_parts"),
            ("[scrape]\nsources = []\n", "scrape.sources"),
        ];
        for (text, expected) in cases {
            let err = PipelineConfig::from_toml(text, Path::new("p.toml")).unwrap_err();
            assert!(err.to_string().contains(expected), "{text:?}: {err}");
        }
    }
}
