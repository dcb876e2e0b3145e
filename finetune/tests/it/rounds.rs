//! Rounds: names, lineage in runs/index.json, the next slice of the pool and hard examples.

use candle_core::Device;
use finetune::progress::Reporter;
use finetune::rounds::{run_round, RoundConfig, RunsIndex};
use finetune::train::HParams;

use crate::{fixture, tiny_model};

#[test]
fn second_round_continues_from_the_first_with_the_next_slice_and_hard_examples() {
    let dir = tempfile::tempdir().unwrap();
    let base = tiny_model(dir.path());
    let runs = dir.path().join("runs");
    let mut cfg = RoundConfig {
        runs: runs.clone(),
        pool: fixture("train.jsonl"),
        valid: Some(fixture("valid.jsonl")),
        base: Some(base.clone()),
        from: None,
        rows: 24,
        hard_fraction: 0.25,
        hparams: HParams { epochs: 1, learning_rate: 3e-3, ..HParams::default() },
        mine_hard: true,
        predict_batch_size: 16,
        grad_checkpoint: false,
        device: Device::Cpu,
    };
    let r1 = run_round(&cfg, &Reporter::silent()).unwrap();
    assert_eq!(r1.name, "partfinder_t_001");
    assert_eq!((r1.pool_start, r1.pool_end, r1.hard_examples), (0, 24, 0));
    // One epoch of three steps leaves plenty of mistakes to mine.
    assert!(!r1.hard_pool_lines.is_empty());
    assert!(r1.hard_pool_lines.iter().all(|&l| (1..=24).contains(&l)));

    cfg.base = None;
    cfg.from = Some("partfinder_t_001".into());
    let r2 = run_round(&cfg, &Reporter::silent()).unwrap();
    assert_eq!(r2.name, "partfinder_t_002");
    assert_eq!(r2.parent.as_deref(), Some("partfinder_t_001"));
    assert_eq!(r2.base, runs.join("partfinder_t_001"));
    let hard = r1.hard_pool_lines.len().min(6);
    assert_eq!(r2.hard_examples, hard);
    assert_eq!((r2.pool_start, r2.pool_end), (24, 24 + 24 - hard));
    assert_eq!(r2.train.rows, 24);

    let index = RunsIndex::load(&runs).unwrap();
    assert_eq!(index.rounds.len(), 2);
    assert_eq!(index.rounds[1], r2);
    assert_eq!(index.rounds[0].train.sha256.len(), 64);
    assert!(index.rounds[1].metrics.validation_token_accuracy.is_some());
    assert_eq!(index.next_name(), "partfinder_t_003");
}
