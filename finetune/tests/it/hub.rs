//! `--base hf:ORG/NAME`: the hub client downloads a model directory from a local server that
//! answers like the Hugging Face hub (`/{org}/{name}/resolve/{revision}/{file}`, ranged GETs
//! with `ETag`, `X-Repo-Commit` and `Content-Range`), single-file and sharded weights.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};

use finetune::hub::{download, HubModel};
use finetune::model_dir::ModelDir;

use crate::tiny_model;

/// Serves `files` (URL path → bytes) until the process ends; returns the endpoint and the log
/// of requested paths.
fn hub_server(files: HashMap<String, Vec<u8>>) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let log = Arc::new(Mutex::new(Vec::new()));
    let seen = log.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request = String::new();
            reader.read_line(&mut request).unwrap();
            let path = request.split_whitespace().nth(1).unwrap_or("/").to_owned();
            let mut range: Option<(usize, Option<usize>)> = None;
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if line.trim().is_empty() {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("range: bytes=") {
                    let (a, b) = v.trim().split_once('-').unwrap_or((v.trim(), ""));
                    range = a.parse().ok().map(|a| (a, b.parse::<usize>().ok()));
                }
            }
            seen.lock().unwrap().push(path.clone());
            let response = match files.get(&path) {
                None => b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    .to_vec(),
                Some(body) => {
                    // The client probes with bytes=0-0 (metadata), then downloads bytes=N-.
                    let (start, last) = range.unwrap_or((0, None));
                    let start = start.min(body.len());
                    let end = last.map_or(body.len(), |l| l + 1).clamp(start, body.len());
                    let etag = format!("{:016x}", fnv(body));
                    let mut head = format!(
                        "HTTP/1.1 206 Partial Content\r\nContent-Length: {}\r\nETag: \"{etag}\"\r\n\
                         X-Repo-Commit: 0123456789abcdef0123456789abcdef01234567\r\n\
                         Content-Range: bytes {start}-{}/{}\r\nConnection: close\r\n\r\n",
                        end - start,
                        end.saturating_sub(1),
                        body.len()
                    )
                    .into_bytes();
                    head.extend_from_slice(&body[start..end]);
                    head
                }
            };
            let _ = stream.write_all(&response);
        }
    });
    (endpoint, log)
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

fn repo_files(model: &Path, repo: &str, sharded: bool) -> HashMap<String, Vec<u8>> {
    let mut files = HashMap::new();
    for entry in std::fs::read_dir(model).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if sharded && name == "model.safetensors" {
            continue;
        }
        files.insert(format!("/{repo}/resolve/main/{name}"), std::fs::read(&path).unwrap());
    }
    if sharded {
        // Two shards and their index, as large checkpoints are published.
        let tensors = candle_core::safetensors::load(
            model.join("model.safetensors"),
            &candle_core::Device::Cpu,
        )
        .unwrap();
        let mut names: Vec<&String> = tensors.keys().collect();
        names.sort();
        let (a, b) = names.split_at(names.len() / 2);
        let mut map = serde_json::Map::new();
        for (shard, part) in
            [("model-00001-of-00002.safetensors", a), ("model-00002-of-00002.safetensors", b)]
        {
            let subset: HashMap<String, candle_core::Tensor> =
                part.iter().map(|n| ((*n).clone(), tensors[*n].clone())).collect();
            let tmp = model.parent().unwrap().join(shard);
            candle_core::safetensors::save(&subset, &tmp).unwrap();
            files.insert(format!("/{repo}/resolve/main/{shard}"), std::fs::read(&tmp).unwrap());
            for n in part {
                map.insert((*n).clone(), shard.into());
            }
        }
        let index = serde_json::json!({"metadata": {}, "weight_map": map});
        files.insert(
            format!("/{repo}/resolve/main/model.safetensors.index.json"),
            serde_json::to_vec(&index).unwrap(),
        );
    }
    files
}

#[test]
fn base_models_download_from_a_hub_shaped_server_and_are_cached() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());
    for sharded in [false, true] {
        let repo = if sharded { "acme/tiny-sharded" } else { "acme/tiny" };
        let (endpoint, log) = hub_server(repo_files(&model, repo, sharded));
        let cache = dir.path().join(format!("cache-{sharded}"));
        let spec = HubModel::parse(&format!("hf:{repo}")).unwrap().unwrap();
        let snapshot = download(&spec, Some(&endpoint), Some(&cache)).unwrap();
        assert!(snapshot.starts_with(&cache), "{}", snapshot.display());
        for file in ["config.json", "tokenizer.json", "tokenizer_config.json"] {
            assert_eq!(
                std::fs::read(snapshot.join(file)).unwrap(),
                std::fs::read(model.join(file)).unwrap(),
                "{file}"
            );
        }
        // The downloaded directory loads, with the same weights.
        let (got, want) = (ModelDir::open(&snapshot).unwrap(), ModelDir::open(&model).unwrap());
        let device = candle_core::Device::Cpu;
        let (_, got_params) = got.load_model(&device).unwrap();
        let (_, want_params) = want.load_model(&device).unwrap();
        assert_eq!(got_params.len(), want_params.len());
        for ((n1, v1), (n2, v2)) in got_params.vars.iter().zip(&want_params.vars) {
            assert_eq!(n1, n2);
            let diff = (v1.as_tensor() - v2.as_tensor()).unwrap().abs().unwrap().sum_all().unwrap();
            assert_eq!(diff.to_scalar::<f32>().unwrap(), 0.0, "{n1}");
        }
        let requests = log.lock().unwrap().len();
        assert!(requests > 0);
        // A second resolution is served from the cache: the only requests are the probes of
        // optional files the repository does not have (the client does not cache a 404).
        assert_eq!(download(&spec, Some(&endpoint), Some(&cache)).unwrap(), snapshot);
        let again: Vec<String> = log.lock().unwrap()[requests..].to_vec();
        let served = repo_files(&model, repo, sharded);
        assert!(again.iter().all(|p| !served.contains_key(p)), "downloaded twice: {again:?}");
    }
}

#[test]
fn a_missing_repository_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let (endpoint, _) = hub_server(HashMap::new());
    let spec = HubModel::parse("hf:acme/nothing").unwrap().unwrap();
    let err = download(&spec, Some(&endpoint), Some(dir.path())).unwrap_err().to_string();
    assert!(err.contains("hf:acme/nothing@main: config.json"), "{err}");
    assert!(err.contains("404"), "{err}");
}
