//! `upper`: uppercases text, or one string field of a JSON event.
//!
//! | function | input | output |
//! |---|---|---|
//! | `upper` | text | the text in upper case |
//! | `process` | a JSON object (an event) | the event with its string field `field` (config, default `message`) in upper case |
//!
//! In `process`, an event whose field is missing or not a string passes unchanged;
//! input that is not a JSON object is the error `bad-input`.
//!
//! Config: `field`, the name of the field that `process` uppercases.
#![forbid(unsafe_code)]

use serde_json::Value;
use wasp_sdk::{Error, Json, plugin, plugin_fn};

plugin!(functions = [upper, process]);

/// The field that `process` uppercases when config `field` is not set.
const DEFAULT_FIELD: &str = "message";

/// Uppercases the text (Unicode-aware: `ß` becomes `SS`).
#[plugin_fn]
fn upper(input: String) -> String {
    input.to_uppercase()
}

/// Uppercases the configured field of a JSON event.
#[plugin_fn]
fn process(Json(event): Json<Value>) -> Result<Json<Value>, Error> {
    let field = wasp_sdk::config::get("field").unwrap_or_else(|| DEFAULT_FIELD.to_string());
    uppercase_field(event, &field).map(Json)
}

/// Uppercases `event[field]` if it is a string; other fields and other field types
/// are left alone.
///
/// # Errors
/// `bad-input` when `event` is not a JSON object.
fn uppercase_field(mut event: Value, field: &str) -> Result<Value, Error> {
    let Value::Object(fields) = &mut event else {
        return Err(Error::new(
            "bad-input",
            format!("expected a JSON object, got {}", kind(&event)),
        ));
    };
    if let Some(Value::String(text)) = fields.get_mut(field) {
        *text = text.to_uppercase();
    }
    Ok(event)
}

/// How a JSON value is called in error messages.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn upper_is_unicode_aware() {
        assert_eq!(upper("straße, café".into()), "STRASSE, CAFÉ");
    }

    #[test]
    fn only_the_named_field_changes() {
        let event = json!({"message": "hi", "user": "ada", "n": 1});
        let out = uppercase_field(event, "message").unwrap();
        assert_eq!(out, json!({"message": "HI", "user": "ada", "n": 1}));
        let out = uppercase_field(out, "user").unwrap();
        assert_eq!(out, json!({"message": "HI", "user": "ADA", "n": 1}));
    }

    #[test]
    fn missing_or_non_string_field_passes_unchanged() {
        for event in [
            json!({"other": "x"}),
            json!({"message": 5}),
            json!({"message": null}),
        ] {
            assert_eq!(uppercase_field(event.clone(), "message").unwrap(), event);
        }
    }

    #[test]
    fn non_objects_are_bad_input() {
        for value in [json!([1]), json!("text"), json!(null), json!(3)] {
            let e = uppercase_field(value, "message").unwrap_err();
            assert_eq!(e.code(), "bad-input");
            assert!(
                e.message().starts_with("expected a JSON object, got "),
                "{e}"
            );
        }
    }
}
