//! The real imported SmolLM2-135M-Instruct (`scripts/setup-models.sh`), when it is installed:
//! its tokenizer gives the ids that Hugging Face transformers gives on the same GGUF, and the
//! directory opens as a model directory with its chat template. Skipped with a note otherwise
//! (the tiny-GGUF unit tests in `src/gguf.rs` always run).

use std::path::PathBuf;

use finetune::model_dir::ModelDir;
use records::dataset::{Message, Role};

fn imported_model() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models/smollm2-135m-instruct");
    if dir.join("tokenizer.json").exists() && dir.join("config.json").exists() {
        Some(dir)
    } else {
        eprintln!("note: {} not installed (scripts/setup-models.sh); skipped", dir.display());
        None
    }
}

#[test]
fn imported_smollm2_tokenizer_matches_transformers_ids() {
    let Some(dir) = imported_model() else { return };
    let model = ModelDir::open(&dir).unwrap();
    // Reference ids measured with transformers 5.23 on SmolLM2-135M-Instruct.Q4_1.gguf
    // (AutoTokenizer.from_pretrained(dir, gguf_file=...)(text, add_special_tokens=False)).
    let cases: [(&str, &[u32]); 2] = [
        ("2019 Civic 5W-30", &[34, 32, 33, 41, 42560, 216, 37, 71, 29, 35, 32]),
        ("café naïve — ok", &[83, 1939, 2756, 15486, 46494, 1841, 10907]),
    ];
    for (text, want) in cases {
        let enc = model.tokenizer.encode(text, false).unwrap();
        assert_eq!(enc.get_ids(), want, "{text:?}");
        assert_eq!(model.tokenizer.decode(enc.get_ids(), false).unwrap(), text);
    }
    assert_eq!(model.config.vocab_size, 49_152);
    assert_eq!(model.tokenizer.get_vocab_size(true), 49_152);
}

#[test]
fn imported_smollm2_renders_its_chat_template() {
    let Some(dir) = imported_model() else { return };
    let model = ModelDir::open(&dir).unwrap();
    let chat = model.chat_template().unwrap().expect("the GGUF's chat template is kept");
    assert_eq!(chat.eos_token, "<|im_end|>");
    let messages =
        [Message::new(Role::User, "brakes squeal"), Message::new(Role::Assistant, "brake pad END")];
    let text = chat.render(&messages, false).unwrap();
    assert!(text.starts_with("<|im_start|>system\n"), "{text}");
    assert!(text.ends_with("<|im_start|>assistant\nbrake pad END<|im_end|>\n"), "{text}");
}
