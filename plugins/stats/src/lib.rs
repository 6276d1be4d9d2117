//! `stats`: counts events by the value of one field, across calls.
//!
//! | function | input | output |
//! |---|---|---|
//! | `process` | a JSON object (an event) | the event with `"seen"`: how many events with this value this instance has counted, this one included |
//! | `counts` | ignored | a JSON object, value → count |
//! | `reset` | ignored | `ok`, after forgetting all counts |
//!
//! Config: `key`, the field whose value is counted (default `type`), read once by
//! `init`. An event without that field, or with `null`, counts as `(none)`; a value
//! that is not a string counts as its JSON text (`5`, `true`).
//!
//! The counts live in the instance's memory: they last across calls to one
//! instance, and start from zero in a new one (the host makes a new instance after a
//! fault, for `instance = "per-call"`, and for each concurrent instance).
#![forbid(unsafe_code)]

use serde_json::Value;
use std::cell::RefCell;
use std::collections::BTreeMap;
use wasp_sdk::{Error, Json, plugin, plugin_fn};

plugin!(init = setup, functions = [process, counts, reset]);

/// The field counted when config `key` is not set.
const DEFAULT_KEY: &str = "type";
/// What an event without the field counts as.
const NONE: &str = "(none)";

thread_local! {
    /// This instance's counts (wasm instances are single-threaded).
    static STATS: RefCell<Stats> = RefCell::new(Stats::new(DEFAULT_KEY));
}

/// Reads config `key` once per instance.
fn setup() -> Result<(), Error> {
    let key = wasp_sdk::config::get("key").unwrap_or_else(|| DEFAULT_KEY.to_string());
    if key.is_empty() {
        return Err(Error::new("bad-config", "config `key` is empty"));
    }
    wasp_sdk::debug!("counting events by `{key}`");
    STATS.with(|stats| *stats.borrow_mut() = Stats::new(&key));
    Ok(())
}

/// Counts the event and returns it with `"seen"` added.
#[plugin_fn]
fn process(Json(event): Json<Value>) -> Result<Json<Value>, Error> {
    STATS
        .with(|stats| stats.borrow_mut().record(event))
        .map(Json)
}

/// All counts so far.
#[plugin_fn]
fn counts() -> Json<BTreeMap<String, u64>> {
    Json(STATS.with(|stats| stats.borrow().counts.clone()))
}

/// Forgets all counts.
#[plugin_fn]
fn reset() -> &'static str {
    STATS.with(|stats| stats.borrow_mut().counts.clear());
    "ok"
}

/// Counts per value of one field.
struct Stats {
    /// The field whose value is counted.
    key: String,
    /// Value → number of events seen with it.
    counts: BTreeMap<String, u64>,
}

impl Stats {
    fn new(key: &str) -> Self {
        Self {
            key: key.to_string(),
            counts: BTreeMap::new(),
        }
    }

    /// Counts `event` and returns it with `"seen"`: the count of its value so far.
    ///
    /// # Errors
    /// `bad-input` when `event` is not a JSON object.
    fn record(&mut self, mut event: Value) -> Result<Value, Error> {
        let Value::Object(fields) = &mut event else {
            return Err(Error::new("bad-input", "expected a JSON object"));
        };
        let value = match fields.get(&self.key) {
            None | Some(Value::Null) => NONE.to_string(),
            Some(Value::String(text)) => text.clone(),
            Some(other) => other.to_string(),
        };
        let count = self.counts.entry(value).or_insert(0);
        *count += 1;
        fields.insert("seen".to_string(), Value::from(*count));
        Ok(event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn counts_by_value_and_adds_seen() {
        let mut stats = Stats::new("type");
        let seen = |v: Value| v["seen"].as_u64().unwrap();
        assert_eq!(seen(stats.record(json!({"type": "click"})).unwrap()), 1);
        assert_eq!(seen(stats.record(json!({"type": "view"})).unwrap()), 1);
        let out = stats.record(json!({"type": "click", "x": 1})).unwrap();
        assert_eq!(out, json!({"type": "click", "x": 1, "seen": 2}));
        assert_eq!(
            stats.counts,
            BTreeMap::from([("click".into(), 2), ("view".into(), 1)])
        );
    }

    #[test]
    fn missing_null_and_non_string_values() {
        let mut stats = Stats::new("kind");
        stats.record(json!({"type": "x"})).unwrap();
        stats.record(json!({"kind": null})).unwrap();
        stats.record(json!({"kind": 5})).unwrap();
        stats.record(json!({"kind": true})).unwrap();
        assert_eq!(
            stats.counts,
            BTreeMap::from([("(none)".into(), 2), ("5".into(), 1), ("true".into(), 1)])
        );
    }

    #[test]
    fn non_objects_are_bad_input() {
        let mut stats = Stats::new("type");
        let e = stats.record(json!(["click"])).unwrap_err();
        assert_eq!(e.code(), "bad-input");
        assert!(stats.counts.is_empty());
    }

    #[test]
    fn reset_forgets_counts_and_counts_returns_them() {
        STATS.with(|s| *s.borrow_mut() = Stats::new("type"));
        STATS
            .with(|s| s.borrow_mut().record(json!({"type": "a"})))
            .unwrap();
        assert_eq!(counts().0, BTreeMap::from([("a".into(), 1)]));
        assert_eq!(reset(), "ok");
        assert!(counts().0.is_empty());
    }
}
