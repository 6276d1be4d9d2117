//! `stats`: counts events by the value of one field, across calls and, with kv,
//! across runs.
//!
//! | function | input | output |
//! |---|---|---|
//! | `process` | a JSON object (an event) | the event with `"seen"`: how many events with this value have been counted, this one included |
//! | `counts` | ignored | a JSON object, value → count |
//! | `reset` | ignored | `ok`, after forgetting all counts |
//!
//! Config: `key`, the field whose value is counted (default `type`), read once by
//! `init`. An event without that field, or with `null`, counts as `(none)`; a value
//! that is not a string counts as its JSON text (`5`, `true`).
//!
//! Where the counts live:
//!
//! - **With the kv grant** (`kv = true`), in the plugin's key-value store, one key per
//!   value: `count/<value>`, holding the count as decimal text. They survive the
//!   instance, the host and restarts: a second `wasp run` keeps counting where the
//!   first stopped. A kv failure (e.g. the quota) is the error `kv` for that event.
//!   Values longer than about 1 KiB cannot be keys and fail that way. Counting is a
//!   read then a write: with `max-instances` above 1, concurrent instances may lose
//!   counts.
//! - **Without it**, in the instance's memory, after one warning at `init`: they last
//!   across calls to one instance, and start from zero in a new one (the host makes
//!   a new instance after a fault, for `instance = "per-call"`, and for each
//!   concurrent instance).
#![forbid(unsafe_code)]

use serde_json::Value;
use std::cell::RefCell;
use std::collections::BTreeMap;
use wasp_sdk::{Error, Json, kv, plugin, plugin_fn};

plugin!(init = setup, functions = [process, counts, reset]);

/// The field counted when config `key` is not set.
const DEFAULT_KEY: &str = "type";
/// What an event without the field counts as.
const NONE: &str = "(none)";
/// The kv keys of the counts: `count/<value>`.
const PREFIX: &str = "count/";

thread_local! {
    /// This instance's counter (wasm instances are single-threaded).
    static STATS: RefCell<Stats> = RefCell::new(Stats::new(DEFAULT_KEY, Store::memory()));
}

/// Reads config `key` and finds out whether kv is granted, once per instance.
fn setup() -> Result<(), Error> {
    let key = wasp_sdk::config::get("key").unwrap_or_else(|| DEFAULT_KEY.to_string());
    if key.is_empty() {
        return Err(Error::new("bad-config", "config `key` is empty"));
    }
    // Any kv call fails without the grant; reading one count is a cheap probe.
    let store = match kv::get(&kv_key(NONE)) {
        Ok(_) => Store::Kv,
        Err(e) => {
            wasp_sdk::warn!(
                error = e.message();
                "kv is unavailable, so counts are kept in this instance's memory only"
            );
            Store::memory()
        }
    };
    wasp_sdk::debug!(key = key, store = store.name(); "counting events");
    STATS.with(|stats| *stats.borrow_mut() = Stats::new(&key, store));
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
fn counts() -> Result<Json<BTreeMap<String, u64>>, Error> {
    STATS.with(|stats| stats.borrow().store.counts()).map(Json)
}

/// Forgets all counts.
#[plugin_fn]
fn reset() -> Result<&'static str, Error> {
    STATS.with(|stats| stats.borrow_mut().store.clear())?;
    Ok("ok")
}

/// Counts per value of one field.
struct Stats {
    /// The field whose value is counted.
    key: String,
    /// Where the counts are kept.
    store: Store,
}

impl Stats {
    fn new(key: &str, store: Store) -> Self {
        Self {
            key: key.to_string(),
            store,
        }
    }

    /// Counts `event` and returns it with `"seen"`: the count of its value so far.
    ///
    /// # Errors
    /// `bad-input` when `event` is not a JSON object; `kv` when the store fails.
    fn record(&mut self, mut event: Value) -> Result<Value, Error> {
        let Value::Object(fields) = &mut event else {
            return Err(Error::new("bad-input", "expected a JSON object"));
        };
        let value = match fields.get(&self.key) {
            None | Some(Value::Null) => NONE.to_string(),
            Some(Value::String(text)) => text.clone(),
            Some(other) => other.to_string(),
        };
        let count = self.store.increment(&value)?;
        fields.insert("seen".to_string(), Value::from(count));
        Ok(event)
    }
}

/// Value → count, in kv or in memory.
enum Store {
    /// In the host's kv store, under `count/<value>`.
    Kv,
    /// In this instance's memory.
    Memory(BTreeMap<String, u64>),
}

impl Store {
    fn memory() -> Self {
        Self::Memory(BTreeMap::new())
    }

    /// For the log.
    fn name(&self) -> &'static str {
        match self {
            Self::Kv => "kv",
            Self::Memory(_) => "memory",
        }
    }

    /// Adds one to the count of `value` and returns the new count.
    fn increment(&mut self, value: &str) -> Result<u64, Error> {
        match self {
            Self::Kv => {
                let key = kv_key(value);
                let count = parse_count(&key, kv::get(&key)?.as_deref())? + 1;
                kv::set(&key, count.to_string().as_bytes())?;
                Ok(count)
            }
            Self::Memory(counts) => {
                let count = counts.entry(value.to_string()).or_insert(0);
                *count += 1;
                Ok(*count)
            }
        }
    }

    /// Every count.
    fn counts(&self) -> Result<BTreeMap<String, u64>, Error> {
        match self {
            Self::Kv => kv::list_keys(PREFIX)?
                .into_iter()
                .map(|key| {
                    let count = parse_count(&key, kv::get(&key)?.as_deref())?;
                    let value = key.strip_prefix(PREFIX).unwrap_or(&key).to_string();
                    Ok((value, count))
                })
                .collect(),
            Self::Memory(counts) => Ok(counts.clone()),
        }
    }

    /// Forgets every count.
    fn clear(&mut self) -> Result<(), Error> {
        match self {
            Self::Kv => {
                for key in kv::list_keys(PREFIX)? {
                    kv::delete(&key)?;
                }
                Ok(())
            }
            Self::Memory(counts) => {
                counts.clear();
                Ok(())
            }
        }
    }
}

/// The kv key of `value`'s count.
fn kv_key(value: &str) -> String {
    format!("{PREFIX}{value}")
}

/// A stored count (decimal text); a missing key counts as 0.
///
/// # Errors
/// `kv` when the stored bytes are not a decimal count.
fn parse_count(key: &str, stored: Option<&[u8]>) -> Result<u64, Error> {
    let Some(bytes) = stored else {
        return Ok(0);
    };
    std::str::from_utf8(bytes)
        .ok()
        .and_then(|text| text.parse().ok())
        .ok_or_else(|| {
            Error::new(
                "kv",
                format!(
                    "key `{key}` holds {:?}, not a count",
                    String::from_utf8_lossy(bytes)
                ),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn memory(stats: &Stats) -> &BTreeMap<String, u64> {
        match &stats.store {
            Store::Memory(counts) => counts,
            Store::Kv => panic!("expected memory"),
        }
    }

    #[test]
    fn counts_by_value_and_adds_seen() {
        let mut stats = Stats::new("type", Store::memory());
        let seen = |v: Value| v["seen"].as_u64().unwrap();
        assert_eq!(seen(stats.record(json!({"type": "click"})).unwrap()), 1);
        assert_eq!(seen(stats.record(json!({"type": "view"})).unwrap()), 1);
        let out = stats.record(json!({"type": "click", "x": 1})).unwrap();
        assert_eq!(out, json!({"type": "click", "x": 1, "seen": 2}));
        assert_eq!(
            memory(&stats),
            &BTreeMap::from([("click".into(), 2), ("view".into(), 1)])
        );
    }

    #[test]
    fn missing_null_and_non_string_values() {
        let mut stats = Stats::new("kind", Store::memory());
        stats.record(json!({"type": "x"})).unwrap();
        stats.record(json!({"kind": null})).unwrap();
        stats.record(json!({"kind": 5})).unwrap();
        stats.record(json!({"kind": true})).unwrap();
        assert_eq!(
            memory(&stats),
            &BTreeMap::from([("(none)".into(), 2), ("5".into(), 1), ("true".into(), 1)])
        );
    }

    #[test]
    fn non_objects_are_bad_input() {
        let mut stats = Stats::new("type", Store::memory());
        let e = stats.record(json!(["click"])).unwrap_err();
        assert_eq!(e.code(), "bad-input");
        assert!(memory(&stats).is_empty());
    }

    #[test]
    fn reset_forgets_counts_and_counts_returns_them() {
        STATS.with(|s| *s.borrow_mut() = Stats::new("type", Store::memory()));
        STATS
            .with(|s| s.borrow_mut().record(json!({"type": "a"})))
            .unwrap();
        assert_eq!(counts().unwrap().0, BTreeMap::from([("a".into(), 1)]));
        assert_eq!(reset().unwrap(), "ok");
        assert!(counts().unwrap().0.is_empty());
    }

    #[test]
    fn kv_keys_and_stored_counts() {
        assert_eq!(kv_key("click"), "count/click");
        assert_eq!(kv_key("a/b"), "count/a/b");
        assert_eq!(parse_count("k", None).unwrap(), 0);
        assert_eq!(parse_count("k", Some(b"41")).unwrap(), 41);
        for bad in [&b"x"[..], b"-1", b"", &[0xff]] {
            let e = parse_count("count/a", Some(bad)).unwrap_err();
            assert_eq!(e.code(), "kv");
            assert!(e.message().starts_with("key `count/a` holds "), "{e}");
        }
    }
}
