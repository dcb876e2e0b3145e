//! Base models from the Hugging Face hub: `--base hf:ORG/NAME[@REVISION]`.
//!
//! The files a model directory needs ([`crate::model_dir`]) are fetched with the hub client
//! (`hf-hub`, blocking) into its cache (`$HF_HOME/hub`, by default `~/.cache/huggingface/hub`),
//! and the cached snapshot directory is used as the base. A second run finds them there and
//! downloads nothing. `HF_ENDPOINT` points the client at a mirror; `HF_TOKEN` (or the token file
//! of `huggingface-cli login`) authenticates. Weights are `model.safetensors`, or the shards a
//! `model.safetensors.index.json` lists.

use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// The prefix that names a hub model instead of a directory.
pub const PREFIX: &str = "hf:";

/// Files every model directory needs.
const REQUIRED: [&str; 2] = ["config.json", "tokenizer.json"];
/// Files used when present.
const OPTIONAL: [&str; 3] =
    ["tokenizer_config.json", "generation_config.json", "special_tokens_map.json"];
const WEIGHTS: &str = "model.safetensors";
const WEIGHTS_INDEX: &str = "model.safetensors.index.json";

/// A model on the hub: `ORG/NAME` and a revision (branch, tag or commit; default `main`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubModel {
    pub repo: String,
    pub revision: String,
}

impl HubModel {
    /// Parses `hf:ORG/NAME[@REVISION]`; `None` for anything that does not start with `hf:`.
    ///
    /// # Errors
    /// `hf:` followed by something that is not `ORG/NAME`.
    pub fn parse(spec: &str) -> Result<Option<Self>> {
        let Some(rest) = spec.strip_prefix(PREFIX) else { return Ok(None) };
        let (repo, revision) = rest.split_once('@').unwrap_or((rest, "main"));
        let valid = |s: &str| {
            !s.is_empty()
                && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        };
        match repo.split_once('/') {
            Some((org, name)) if valid(org) && valid(name) && !revision.is_empty() => {
                Ok(Some(Self { repo: repo.to_owned(), revision: revision.to_owned() }))
            }
            _ => Err(Error::Config(format!(
                "{spec:?}: a hub model is written hf:ORG/NAME or hf:ORG/NAME@REVISION"
            ))),
        }
    }
}

/// The model directory for `--base`: the path itself, or for `hf:ORG/NAME` the hub snapshot,
/// downloaded first where the cache lacks it (endpoint and cache from the environment).
///
/// # Errors
/// A malformed `hf:` spec, a build without the `hub` feature, or a failed download.
pub fn resolve_base(base: &Path) -> Result<PathBuf> {
    let Some(model) = base.to_str().map(HubModel::parse).transpose()?.flatten() else {
        return Ok(base.to_owned());
    };
    download(&model, None, None)
}

/// Downloads `model`'s files into the hub cache (or `cache_dir`), from the hub (or `endpoint`),
/// and returns the snapshot directory that holds them.
///
/// # Errors
/// Network or HTTP errors naming the file; a repository without `config.json`,
/// `tokenizer.json` or safetensors weights.
#[cfg(feature = "hub")]
pub fn download(
    model: &HubModel,
    endpoint: Option<&str>,
    cache_dir: Option<&Path>,
) -> Result<PathBuf> {
    use hf_hub::api::sync::{ApiBuilder, ApiError};
    use hf_hub::{Repo, RepoType};

    let mut builder = ApiBuilder::from_env().with_progress(false);
    if let Some(endpoint) = endpoint {
        builder = builder.with_endpoint(endpoint.trim_end_matches('/').to_owned());
    }
    if let Some(dir) = cache_dir {
        builder = builder.with_cache_dir(dir.to_owned());
    }
    let api = builder.build().map_err(|e| hub_error(model, "", &e))?;
    let repo =
        api.repo(Repo::with_revision(model.repo.clone(), RepoType::Model, model.revision.clone()));
    let not_found = |e: &ApiError| matches!(e, ApiError::RequestError(r) if matches!(**r, ureq::Error::Status(404, _)));
    let get = |file: &str| repo.get(file).map_err(|e| (not_found(&e), hub_error(model, file, &e)));

    let mut snapshot = None;
    for file in REQUIRED {
        let path = get(file).map_err(|(_, e)| e)?;
        snapshot.get_or_insert_with(|| path.parent().map(Path::to_path_buf).unwrap_or_default());
    }
    for file in OPTIONAL {
        match get(file) {
            Ok(_) | Err((true, _)) => {}
            Err((false, e)) => return Err(e),
        }
    }
    match get(WEIGHTS) {
        Ok(_) => {}
        Err((true, _)) => {
            let index = get(WEIGHTS_INDEX).map_err(|(missing, e)| {
                if missing {
                    Error::Config(format!(
                        "hf:{}@{}: no {WEIGHTS} and no {WEIGHTS_INDEX} (only safetensors weights are read)",
                        model.repo, model.revision
                    ))
                } else {
                    e
                }
            })?;
            for shard in shard_files(&index)? {
                get(&shard).map_err(|(_, e)| e)?;
            }
        }
        Err((false, e)) => return Err(e),
    }
    Ok(snapshot.unwrap_or_default())
}

/// Without the `hub` feature a hub model cannot be fetched.
///
/// # Errors
/// Always.
#[cfg(not(feature = "hub"))]
pub fn download(model: &HubModel, _: Option<&str>, _: Option<&Path>) -> Result<PathBuf> {
    Err(Error::Config(format!(
        "hf:{}: this build has no hub client (build finetune with the `hub` feature)",
        model.repo
    )))
}

#[cfg(feature = "hub")]
fn hub_error(model: &HubModel, file: &str, e: &dyn std::fmt::Display) -> Error {
    Error::Config(format!("hf:{}@{}: {file}: {e}", model.repo, model.revision))
}

/// The distinct shard file names of a `model.safetensors.index.json`, in order.
fn shard_files(index: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(index).map_err(|e| Error::io(index, e))?;
    let json: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| Error::json(index, e.line() as u64, e))?;
    let map = json
        .get("weight_map")
        .and_then(|m| m.as_object())
        .ok_or_else(|| Error::Config(format!("{}: no \"weight_map\" object", index.display())))?;
    let mut files: Vec<String> = Vec::new();
    for file in map.values().filter_map(|v| v.as_str()) {
        if !files.iter().any(|f| f == file) {
            files.push(file.to_owned());
        }
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse() {
        assert_eq!(HubModel::parse("models/tiny").unwrap(), None);
        assert_eq!(
            HubModel::parse("hf:HuggingFaceTB/SmolLM2-135M-Instruct").unwrap(),
            Some(HubModel {
                repo: "HuggingFaceTB/SmolLM2-135M-Instruct".into(),
                revision: "main".into()
            })
        );
        assert_eq!(HubModel::parse("hf:a/b@v1.0").unwrap().unwrap().revision, "v1.0");
        for bad in ["hf:", "hf:noslash", "hf:a/b/c", "hf:a/b@", "hf:/b"] {
            assert!(HubModel::parse(bad).is_err(), "{bad}");
        }
    }
}
