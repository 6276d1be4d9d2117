//! `redact`: masks e-mail addresses and payment card numbers.
//!
//! | function | input | output |
//! |---|---|---|
//! | `redact` | text | the text, masked |
//! | `process` | any JSON value (usually an event object) | the same value with every string inside it masked, at any depth (object keys are kept) |
//!
//! Masking keeps what is useful for debugging and drops what identifies a person or
//! a card: `ada@example.com` becomes `***@example.com`, and a Luhn-valid card number
//! of 13 to 19 digits (optionally grouped by single spaces or dashes) becomes
//! `****-****-****-1111`, keeping its last four digits. Phone numbers, dates and other
//! numbers are left alone; see `src/scanner.rs` for the exact rules.
//!
//! No configuration.
#![forbid(unsafe_code)]

mod scanner;

use serde_json::Value;
use std::borrow::Cow;
use wasp_sdk::{Json, plugin, plugin_fn};

plugin!(functions = [redact, process]);

/// Masks the text.
#[plugin_fn]
fn redact(input: String) -> String {
    match scanner::redact(&input) {
        Cow::Borrowed(_) => input,
        Cow::Owned(masked) => masked,
    }
}

/// Masks every string in a JSON value.
#[plugin_fn]
fn process(Json(mut value): Json<Value>) -> Json<Value> {
    redact_value(&mut value);
    Json(value)
}

/// Masks every string inside `value`, recursively; keys and non-strings are kept.
fn redact_value(value: &mut Value) {
    match value {
        Value::String(text) => {
            if let Cow::Owned(masked) = scanner::redact(text) {
                *text = masked;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_value),
        Value::Object(fields) => fields.values_mut().for_each(redact_value),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn redact_masks_text() {
        assert_eq!(
            redact("ada@example.com 4111111111111111".into()),
            "***@example.com ****-****-****-1111"
        );
        assert_eq!(redact("nothing".into()), "nothing");
    }

    #[test]
    fn process_masks_strings_at_any_depth() {
        let Json(out) = process(Json(json!({
            "user": "ada@example.com",
            "ada@example.com": "key kept",
            "payment": {"cards": ["4111 1111 1111 1111", 4111111111111111_u64], "ok": true},
            "n": null
        })));
        assert_eq!(
            out,
            json!({
                "user": "***@example.com",
                "ada@example.com": "key kept",
                "payment": {"cards": ["****-****-****-1111", 4111111111111111_u64], "ok": true},
                "n": null
            })
        );
    }

    #[test]
    fn process_accepts_any_json_value() {
        assert_eq!(
            process(Json(json!("ada@example.com"))).0,
            json!("***@example.com")
        );
        assert_eq!(process(Json(json!(7))).0, json!(7));
    }
}
