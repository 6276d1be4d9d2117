//! `logparse`: the worked example of `docs/porting.md`. The library function
//! [`parse_line`] and its tests are ordinary Rust, as they were before the port;
//! the port is the two functions at the top that expose it to the host.
//!
//! | function | input | output |
//! |---|---|---|
//! | `parse` | one log line: `TIMESTAMP LEVEL key=value key="quoted value" …` | a JSON object: `ts`, `level`, and each key |
//! | `process` | a JSON event with a string field `line` | the event with the parsed fields added |
//!
//! A line without a timestamp and a level is the error `bad-input`.
#![forbid(unsafe_code)]

use serde_json::{Map, Value};
use wasp_sdk::{Error, Json, plugin, plugin_fn};

plugin!(functions = [parse, process]);

// ---- the port: what the host calls ------------------------------------------

/// Parses one log line.
#[plugin_fn]
fn parse(line: String) -> Result<Json<Value>, Error> {
    parse_line(&line)
        .map(|fields| Json(Value::Object(fields)))
        .map_err(|e| Error::new("bad-input", e.to_string()))
}

/// Adds the fields parsed from the event's `line` to the event.
#[plugin_fn]
fn process(Json(mut event): Json<Value>) -> Result<Json<Value>, Error> {
    let line = event
        .get("line")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::new("bad-input", "the event needs a string field `line`"))?
        .to_string();
    let fields = parse_line(&line).map_err(|e| Error::new("bad-input", e.to_string()))?;
    if let Value::Object(map) = &mut event {
        map.extend(fields);
    }
    Ok(Json(event))
}

// ---- the library, unchanged by the port -------------------------------------

/// Why a line could not be parsed.
#[derive(Debug, PartialEq, Eq)]
pub enum ParseError {
    /// Fewer than two words: no timestamp or no level.
    MissingHeader,
    /// A `"` that is never closed.
    UnterminatedQuote(String),
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParseError::MissingHeader => {
                write!(f, "a log line starts with a timestamp and a level")
            }
            ParseError::UnterminatedQuote(key) => {
                write!(f, "the value of `{key}` has no closing quote")
            }
        }
    }
}

impl std::error::Error for ParseError {}

/// `TIMESTAMP LEVEL key=value key="quoted value" …` into `ts`, `level` and the
/// keys (a word without `=` is collected under `msg`).
pub fn parse_line(line: &str) -> Result<Map<String, Value>, ParseError> {
    let mut rest = line.trim();
    let mut word = || -> Option<&str> {
        let (w, r) = rest.split_once(' ').unwrap_or((rest, ""));
        rest = r.trim_start();
        (!w.is_empty()).then_some(w)
    };
    let (Some(ts), Some(level)) = (word(), word()) else {
        return Err(ParseError::MissingHeader);
    };
    let mut fields = Map::new();
    fields.insert("ts".into(), ts.into());
    fields.insert("level".into(), level.to_lowercase().into());
    let mut msg = Vec::new();
    let mut rest = rest;
    while !rest.is_empty() {
        let (token, after) = match rest.split_once('=') {
            Some((key, value)) if !key.contains(' ') => {
                let (value, after) = match value.strip_prefix('"') {
                    Some(quoted) => match quoted.split_once('"') {
                        Some((v, a)) => (v, a),
                        None => return Err(ParseError::UnterminatedQuote(key.to_string())),
                    },
                    None => value.split_once(' ').unwrap_or((value, "")),
                };
                fields.insert(key.to_string(), value.into());
                (None, after)
            }
            _ => {
                let (w, a) = rest.split_once(' ').unwrap_or((rest, ""));
                (Some(w), a)
            }
        };
        msg.extend(token);
        rest = after.trim_start();
    }
    if !msg.is_empty() {
        fields.insert("msg".into(), msg.join(" ").into());
    }
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_header_pairs_quotes_and_words() {
        let f =
            parse_line(r#"2026-12-03T10:00:00Z INFO user=alice path="/a b" signed in"#).unwrap();
        assert_eq!(f["ts"], "2026-12-03T10:00:00Z");
        assert_eq!(f["level"], "info");
        assert_eq!(f["user"], "alice");
        assert_eq!(f["path"], "/a b");
        assert_eq!(f["msg"], "signed in");
    }

    #[test]
    fn refuses_what_it_cannot_read() {
        assert_eq!(parse_line("oops"), Err(ParseError::MissingHeader));
        assert_eq!(
            parse_line(r#"t WARN k="open"#),
            Err(ParseError::UnterminatedQuote("k".into()))
        );
    }
}
