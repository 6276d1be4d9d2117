//! `wordcount`: counts lines, words and bytes. Written with plain wit-bindgen and no
//! wasp SDK, to show that any component of the `wasp:plugin` world is a plugin.
//!
//! | function | input | output |
//! |---|---|---|
//! | `count` | UTF-8 text | `{"lines":L,"words":W,"bytes":B}` |
//! | `process` | a JSON object (an event) | the event with `"words"`: the number of words in its string field `message` (0 without one) |
//!
//! Words are separated by Unicode white space; lines are counted like
//! [`str::lines`] (a last line without a newline counts; `""` has none). Input that
//! is not UTF-8, or not a JSON object for `process`, is the error `bad-input`; an
//! unknown function is `unknown-function`. No configuration.
//!
//! Without the SDK, this crate implements the `guest` interface itself: `info`,
//! `init` and `call` with its own routing. What it gives up: the SDK's panic hook (a
//! panic here traps with Rust's message on stderr instead of the host's log) and
//! `#![forbid(unsafe_code)]` (the generated bindings are unsafe code in this crate).
#![deny(unsafe_code)]

use bindings::exports::wasp::plugin::guest::{Guest, PluginError, PluginInfo};
use serde_json::{Value, json};

/// The bindings for `wit/v0.1.0/plugin.wit`, and the export of [`WordCount`].
#[allow(unsafe_code, missing_docs)]
mod bindings {
    wit_bindgen::generate!({
        // Relative to this crate's manifest: the frozen `wasp:plugin@0.1.0` (this
        // plugin stays on 0.1.0, which the host keeps serving beside 0.2.0).
        path: "../../wit/v0.1.0",
        world: "plugin",
    });

    use super::WordCount;
    export!(WordCount);
}

/// The function names, in the order `info` lists them.
const FUNCTIONS: [&str; 2] = ["count", "process"];

/// The plugin; wit-bindgen's `export!` makes its `Guest` impl the component's exports.
struct WordCount;

impl Guest for WordCount {
    fn info() -> PluginInfo {
        PluginInfo {
            name: env!("CARGO_PKG_NAME").to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            description: env!("CARGO_PKG_DESCRIPTION").to_string(),
            functions: FUNCTIONS.iter().map(|f| f.to_string()).collect(),
        }
    }

    fn init() -> Result<(), PluginError> {
        Ok(())
    }

    fn call(function: String, input: Vec<u8>) -> Result<Vec<u8>, PluginError> {
        match function.as_str() {
            "count" => {
                let text = String::from_utf8(input)
                    .map_err(|e| error("bad-input", format!("`count` needs UTF-8 text: {e}")))?;
                Ok(count(&text).to_string().into_bytes())
            }
            "process" => {
                let event: Value = serde_json::from_slice(&input)
                    .map_err(|e| error("bad-input", format!("`process` needs JSON: {e}")))?;
                let event = process(event).map_err(|message| error("bad-input", message))?;
                Ok(event.to_string().into_bytes())
            }
            other => Err(error(
                "unknown-function",
                format!(
                    "plugin `wordcount` has no function `{other}`; available: {}",
                    FUNCTIONS.join(", ")
                ),
            )),
        }
    }
}

fn error(code: &str, message: String) -> PluginError {
    PluginError {
        code: code.to_string(),
        message,
    }
}

/// `{"lines":L,"words":W,"bytes":B}` for `text`.
fn count(text: &str) -> Value {
    json!({
        "lines": text.lines().count(),
        "words": words(text),
        "bytes": text.len(),
    })
}

/// The number of white-space separated words.
fn words(text: &str) -> usize {
    text.split_whitespace().count()
}

/// Adds `"words"` to an event object, counting its string field `message`.
///
/// # Errors
/// A message when `event` is not a JSON object.
fn process(mut event: Value) -> Result<Value, String> {
    let Value::Object(fields) = &mut event else {
        return Err("`process` needs a JSON object".to_string());
    };
    let n = match fields.get("message") {
        Some(Value::String(message)) => words(message),
        _ => 0,
    };
    fields.insert("words".to_string(), Value::from(n));
    Ok(event)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_lines_words_bytes() {
        assert_eq!(count(""), json!({"lines": 0, "words": 0, "bytes": 0}));
        assert_eq!(
            count("one two\nthree"),
            json!({"lines": 2, "words": 3, "bytes": 13})
        );
        assert_eq!(
            count("a\n\n b \n"),
            json!({"lines": 3, "words": 2, "bytes": 7})
        );
        // Unicode: bytes are UTF-8 bytes; U+3000 is white space.
        assert_eq!(
            count("héllo\u{3000}wörld"),
            json!({"lines": 1, "words": 2, "bytes": 15})
        );
    }

    #[test]
    fn output_is_compact_json_with_sorted_keys() {
        // serde_json sorts keys: the wire format is stable.
        assert_eq!(
            count("a b").to_string(),
            r#"{"bytes":3,"lines":1,"words":2}"#
        );
    }

    #[test]
    fn process_adds_words() {
        let out = process(json!({"message": "the quick fox", "n": 1})).unwrap();
        assert_eq!(out, json!({"message": "the quick fox", "n": 1, "words": 3}));
        assert_eq!(process(json!({"message": 5})).unwrap()["words"], 0);
        assert_eq!(process(json!({})).unwrap()["words"], 0);
        assert!(process(json!([1])).is_err());
    }

    #[test]
    fn routing_and_errors() {
        let out = WordCount::call("count".into(), b"a b".to_vec()).unwrap();
        assert_eq!(out, br#"{"bytes":3,"lines":1,"words":2}"#);
        let e = WordCount::call("nope".into(), Vec::new()).unwrap_err();
        assert_eq!(e.code, "unknown-function");
        assert_eq!(
            e.message,
            "plugin `wordcount` has no function `nope`; available: count, process"
        );
        let e = WordCount::call("count".into(), vec![0xff]).unwrap_err();
        assert_eq!(e.code, "bad-input");
        let e = WordCount::call("process".into(), b"[]".to_vec()).unwrap_err();
        assert_eq!(e.code, "bad-input");
        assert_eq!(WordCount::info().functions, FUNCTIONS);
    }
}
