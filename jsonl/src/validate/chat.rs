//! Checks of the chat format: the format errors of the OpenAI cookbook's *Data preparation and
//! analysis for chat model fine-tuning*, plus the `weight` rules, line by line.

use serde_json::{Map, Value};

use super::report::{Finding, Findings, Severity};
use crate::tokens::ExampleTexts;

/// Keys a message may carry.
pub const MESSAGE_KEYS: [&str; 5] = ["role", "content", "name", "function_call", "weight"];
/// Roles a message may have (`tool` as in `records::dataset::Role`).
pub const ROLES: [&str; 5] = ["system", "user", "assistant", "function", "tool"];
/// Top-level keys the hosted services accept beside `messages` but `finetune` does not use.
const UNUSED_TOP_KEYS: [&str; 3] = ["tools", "functions", "parallel_tool_calls"];

/// Checks one chat line. Returns the texts to count tokens of when the line had no error.
pub(crate) fn check_line(
    line: u64,
    obj: &Map<String, Value>,
    out: &mut Findings,
) -> Option<ExampleTexts> {
    let errors_before = out.errors;
    for key in obj.keys().filter(|k| k.as_str() != "messages") {
        let finding = if UNUSED_TOP_KEYS.contains(&key.as_str()) {
            Finding::new(
                Severity::Warning,
                "unused_key",
                "key is accepted by hosted services but not used by `finetune`",
            )
        } else {
            Finding::new(
                Severity::Error,
                "unrecognized_key",
                "unrecognised key: a chat line has only `messages`",
            )
        };
        out.push(finding.at(line).key(key.clone()));
    }
    let messages = match obj.get("messages") {
        None => {
            out.push(
                Finding::new(Severity::Error, "missing_messages", "no `messages` list")
                    .at(line)
                    .key("messages"),
            );
            return None;
        }
        Some(Value::Array(m)) if m.is_empty() => {
            out.push(
                Finding::new(Severity::Error, "missing_messages", "`messages` is empty")
                    .at(line)
                    .key("messages"),
            );
            return None;
        }
        Some(Value::Array(m)) => m,
        Some(other) => {
            out.push(
                Finding::new(
                    Severity::Error,
                    "missing_messages",
                    format!("`messages` must be a list, found {}", super::kind(other)),
                )
                .at(line)
                .key("messages"),
            );
            return None;
        }
    };
    let mut texts = ExampleTexts::chat();
    let (mut system, mut user, mut assistant) = (false, false, false);
    for (i, message) in messages.iter().enumerate() {
        let at = |key: &str| {
            if key.is_empty() {
                format!("messages[{i}]")
            } else {
                format!("messages[{i}].{key}")
            }
        };
        let Value::Object(m) = message else {
            out.push(
                Finding::new(
                    Severity::Error,
                    "message_not_object",
                    format!("a message must be an object, found {}", super::kind(message)),
                )
                .at(line)
                .key(at("")),
            );
            continue;
        };
        for key in m.keys().filter(|k| !MESSAGE_KEYS.contains(&k.as_str())) {
            out.push(
                Finding::new(
                    Severity::Error,
                    "message_unrecognized_key",
                    format!("unrecognised message key (allowed: {})", MESSAGE_KEYS.join(", ")),
                )
                .at(line)
                .key(at(key)),
            );
        }
        for key in ["role", "content"] {
            if !m.contains_key(key) {
                out.push(
                    Finding::new(
                        Severity::Error,
                        "message_missing_key",
                        format!("message has no `{key}`"),
                    )
                    .at(line)
                    .key(at(key)),
                );
            }
        }
        let role = match m.get("role") {
            None => None,
            Some(Value::String(r)) if ROLES.contains(&r.as_str()) => Some(r.as_str()),
            Some(other) => {
                out.push(
                    Finding::new(
                        Severity::Error,
                        "unrecognized_role",
                        format!("role {other} is not one of {}", ROLES.join(", ")),
                    )
                    .at(line)
                    .key(at("role")),
                );
                None
            }
        };
        system |= role == Some("system");
        user |= role == Some("user");
        assistant |= role == Some("assistant");
        let content = match m.get("content") {
            None => None,
            Some(Value::String(c)) => {
                if c.is_empty() && !m.contains_key("function_call") {
                    out.push(
                        Finding::new(Severity::Error, "missing_content", "content is empty")
                            .at(line)
                            .key(at("content")),
                    );
                }
                Some(c.as_str())
            }
            Some(other) => {
                out.push(
                    Finding::new(
                        Severity::Error,
                        "content_not_string",
                        format!("content must be a string, found {}", super::kind(other)),
                    )
                    .at(line)
                    .key(at("content")),
                );
                None
            }
        };
        let name = match m.get("name") {
            None => None,
            Some(Value::String(n)) => Some(n.clone()),
            Some(other) => {
                out.push(
                    Finding::new(
                        Severity::Error,
                        "name_not_string",
                        format!("name must be a string, found {}", super::kind(other)),
                    )
                    .at(line)
                    .key(at("name")),
                );
                None
            }
        };
        let mut trained = role == Some("assistant");
        if let Some(weight) = m.get("weight") {
            match weight.as_u64() {
                Some(w @ (0 | 1)) if weight.is_u64() => trained &= w == 1,
                _ => out.push(
                    Finding::new(
                        Severity::Error,
                        "invalid_weight",
                        format!("weight must be 0 or 1, found {weight}"),
                    )
                    .at(line)
                    .key(at("weight")),
                ),
            }
            if role.is_some() && role != Some("assistant") {
                out.push(
                    Finding::new(
                        Severity::Error,
                        "invalid_weight",
                        "weight is allowed on assistant messages only",
                    )
                    .at(line)
                    .key(at("weight")),
                );
            }
        }
        if let (Some(role), Some(content)) = (role, content) {
            texts.push_message(role.to_owned(), content.to_owned(), name, trained);
        }
    }
    if !assistant {
        out.push(
            Finding::new(Severity::Error, "missing_assistant", "no assistant message")
                .at(line)
                .key("messages"),
        );
    }
    if !system {
        out.push(
            Finding::new(Severity::Warning, "missing_system", "no system message")
                .at(line)
                .key("messages"),
        );
    }
    if !user {
        out.push(
            Finding::new(Severity::Warning, "missing_user", "no user message")
                .at(line)
                .key("messages"),
        );
    }
    (out.errors == errors_before).then_some(texts)
}
