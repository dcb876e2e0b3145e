//! `s3://bucket/key` inputs and artifacts through the `object_store` crate (cargo feature
//! `s3`; without it every function here fails with a message saying how to enable it).
//!
//! Endpoint and credentials come from the usual environment variables: `AWS_ENDPOINT_URL`
//! (e.g. a MinIO server; plain `http://` endpoints are allowed), `AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_DEFAULT_REGION` (default `us-east-1`).
//!
//! An address names one object or, ending in `/` or naming no object, every object under
//! that prefix.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Whether a configured path is an object store address.
pub fn is_s3(path: &str) -> bool {
    path.starts_with("s3://")
}

/// `s3://bucket/key` split into bucket and key (the key without leading or trailing `/`).
///
/// # Errors
/// [`Error::S3`] when the address has no bucket.
pub fn split_url(url: &str) -> Result<(String, String)> {
    let rest = url.strip_prefix("s3://").ok_or_else(|| s3_err(url, "not an s3:// address"))?;
    let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err(s3_err(url, "no bucket in the address"));
    }
    Ok((bucket.to_owned(), key.trim_matches('/').to_owned()))
}

fn s3_err(url: &str, message: impl std::fmt::Display) -> Error {
    Error::S3 { url: url.to_owned(), message: message.to_string() }
}

/// The objects an address names: `(relative name, size, etag)` sorted by name. One object
/// gives one entry named after its last path segment; a prefix gives every object below it.
///
/// # Errors
/// [`Error::S3`] when the store cannot be reached or nothing is there.
pub fn list(url: &str) -> Result<Vec<(String, u64, String)>> {
    imp::list(url)
}

/// Downloads what `url` names into `dest` (a directory, created): one object becomes
/// `dest/<name>`, a prefix becomes `dest/<last segment>/...`. Returns the local path that
/// stands for `url`.
///
/// # Errors
/// [`Error::S3`] or [`Error::Io`].
pub fn download(url: &str, dest: &Path) -> Result<PathBuf> {
    imp::download(url, dest)
}

/// Uploads every file below `dir` to `url/<relative path>`; the files whose names are in
/// `last` go last (in that order), so that a marker written last locally is written last
/// remotely.
///
/// # Errors
/// [`Error::S3`] or [`Error::Io`].
pub fn upload_dir(dir: &Path, url: &str, last: &[&str]) -> Result<()> {
    imp::upload_dir(dir, url, last)
}

/// Whether the single object `url` exists.
///
/// # Errors
/// [`Error::S3`] when the store cannot be asked.
pub fn exists(url: &str) -> Result<bool> {
    imp::exists(url)
}

#[cfg(not(feature = "s3"))]
mod imp {
    use super::*;

    fn disabled(url: &str) -> Error {
        s3_err(url, "this partfinder was built without S3 support (rebuild with `--features s3`)")
    }
    pub fn list(url: &str) -> Result<Vec<(String, u64, String)>> {
        Err(disabled(url))
    }
    pub fn download(url: &str, _dest: &Path) -> Result<PathBuf> {
        Err(disabled(url))
    }
    pub fn upload_dir(_dir: &Path, url: &str, _last: &[&str]) -> Result<()> {
        Err(disabled(url))
    }
    pub fn exists(url: &str) -> Result<bool> {
        Err(disabled(url))
    }
}

#[cfg(feature = "s3")]
mod imp {
    use std::sync::Arc;

    use futures_util::TryStreamExt;
    use object_store::aws::AmazonS3Builder;
    use object_store::path::Path as ObjectPath;
    use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

    use super::*;

    fn runtime(url: &str) -> Result<tokio::runtime::Runtime> {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| s3_err(url, format!("cannot start the I/O runtime: {e}")))
    }

    fn store(url: &str) -> Result<(Arc<dyn ObjectStore>, String)> {
        let (bucket, key) = split_url(url)?;
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
        let endpoint = std::env::var("AWS_ENDPOINT_URL")
            .or_else(|_| std::env::var("AWS_ENDPOINT"))
            .unwrap_or_default();
        if endpoint.starts_with("http://") {
            builder = builder.with_allow_http(true);
        }
        if std::env::var_os("AWS_DEFAULT_REGION").is_none()
            && std::env::var_os("AWS_REGION").is_none()
        {
            builder = builder.with_region("us-east-1");
        }
        let store = builder.build().map_err(|e| s3_err(url, e))?;
        Ok((Arc::new(store), key))
    }

    async fn objects(
        store: &dyn ObjectStore,
        url: &str,
        key: &str,
    ) -> Result<Vec<(String, u64, String)>> {
        let path = ObjectPath::from(key);
        if !key.is_empty() {
            match store.head(&path).await {
                Ok(meta) => {
                    let name = key.rsplit('/').next().unwrap_or(key).to_owned();
                    return Ok(vec![(name, meta.size, meta.e_tag.unwrap_or_default())]);
                }
                Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(s3_err(url, e)),
            }
        }
        let prefix = (!key.is_empty()).then_some(&path);
        let metas: Vec<_> = store.list(prefix).try_collect().await.map_err(|e| s3_err(url, e))?;
        let mut out: Vec<_> = metas
            .into_iter()
            .map(|m| {
                let full = m.location.to_string();
                let rel = full.strip_prefix(key).unwrap_or(&full).trim_start_matches('/');
                (rel.to_owned(), m.size, m.e_tag.unwrap_or_default())
            })
            .collect();
        if out.is_empty() {
            return Err(s3_err(url, "no such object or prefix"));
        }
        out.sort();
        Ok(out)
    }

    pub fn list(url: &str) -> Result<Vec<(String, u64, String)>> {
        let (store, key) = store(url)?;
        runtime(url)?.block_on(objects(store.as_ref(), url, &key))
    }

    pub fn download(url: &str, dest: &Path) -> Result<PathBuf> {
        let (store, key) = store(url)?;
        runtime(url)?.block_on(async {
            let path = ObjectPath::from(key.as_str());
            let single = !key.is_empty() && store.head(&path).await.is_ok();
            let last = key.rsplit('/').next().filter(|s| !s.is_empty()).unwrap_or("root");
            let root = dest.join(last);
            let entries = if single {
                vec![(String::new(), key.clone())]
            } else {
                objects(store.as_ref(), url, &key)
                    .await?
                    .into_iter()
                    .map(|(rel, _, _)| {
                        let full =
                            if key.is_empty() { rel.clone() } else { format!("{key}/{rel}") };
                        (rel, full)
                    })
                    .collect()
            };
            for (rel, full) in entries {
                let local = if rel.is_empty() { root.clone() } else { root.join(&rel) };
                let bytes = store
                    .get(&ObjectPath::from(full.as_str()))
                    .await
                    .map_err(|e| s3_err(url, e))?
                    .bytes()
                    .await
                    .map_err(|e| s3_err(url, e))?;
                if let Some(parent) = local.parent() {
                    std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
                }
                std::fs::write(&local, &bytes).map_err(|e| Error::io(&local, e))?;
            }
            Ok(root)
        })
    }

    pub fn upload_dir(dir: &Path, url: &str, last: &[&str]) -> Result<()> {
        let (store, key) = store(url)?;
        let mut files = Vec::new();
        collect(dir, dir, &mut files)?;
        // Stable order, with the `last` names moved to the end in the order given.
        files.sort_by_key(|rel| {
            (last.iter().position(|l| l == rel).map_or(0, |i| i + 1), rel.clone())
        });
        runtime(url)?.block_on(async {
            for rel in files {
                let local = dir.join(&rel);
                let bytes = std::fs::read(&local).map_err(|e| Error::io(&local, e))?;
                let full = if key.is_empty() { rel.clone() } else { format!("{key}/{rel}") };
                store
                    .put(&ObjectPath::from(full.as_str()), PutPayload::from(bytes))
                    .await
                    .map_err(|e| s3_err(&format!("{url}/{rel}"), e))?;
            }
            Ok(())
        })
    }

    fn collect(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<()> {
        for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
            let entry = entry.map_err(|e| Error::io(dir, e))?;
            let path = entry.path();
            if path.is_dir() {
                collect(root, &path, out)?;
            } else {
                let rel = path.strip_prefix(root).unwrap_or(&path);
                out.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
        Ok(())
    }

    pub fn exists(url: &str) -> Result<bool> {
        let (store, key) = store(url)?;
        runtime(url)?.block_on(async {
            match store.head(&ObjectPath::from(key.as_str())).await {
                Ok(_) => Ok(true),
                Err(object_store::Error::NotFound { .. }) => Ok(false),
                Err(e) => Err(s3_err(url, e)),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_split_into_bucket_and_key() {
        let cases = [
            ("s3://b/k/x.csv", Some(("b", "k/x.csv"))),
            ("s3://b/prefix/", Some(("b", "prefix"))),
            ("s3://b", Some(("b", ""))),
            ("s3:///k", None),
            ("data/x.csv", None),
        ];
        for (url, expected) in cases {
            let got = split_url(url).ok();
            let got = got.as_ref().map(|(b, k)| (b.as_str(), k.as_str()));
            assert_eq!(got, expected, "{url}");
        }
    }
}
