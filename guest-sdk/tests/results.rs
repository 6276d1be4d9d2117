//! `#[plugin_fn]` tells a fallible function from an infallible one by its return
//! type (the `PluginResult` trait), not by the type's name.
#![allow(clippy::unwrap_used)]

use wasp_sdk::{Error, Json, plugin_fn};

/// An alias hides the name `Result`.
type Outcome = Result<String, Error>;

#[plugin_fn]
fn aliased(input: String) -> Outcome {
    if input.is_empty() {
        return Err(Error::new("empty", "nothing"));
    }
    Ok(input)
}

#[plugin_fn]
fn spelled_out(input: String) -> std::result::Result<Json<usize>, std::io::Error> {
    if input == "io" {
        return Err(std::io::Error::other("disk on fire"));
    }
    Ok(Json(input.len()))
}

#[plugin_fn]
fn plain(input: Vec<u8>) -> Vec<u8> {
    input
}

#[plugin_fn]
fn nothing() {}

#[test]
fn results_are_told_by_type() {
    assert_eq!(
        (__wasp_plugin_fn_aliased.call)(b"hi".to_vec()).unwrap(),
        b"hi"
    );
    let err = (__wasp_plugin_fn_aliased.call)(Vec::new()).unwrap_err();
    assert_eq!(err.code(), "empty");
    assert_eq!(
        (__wasp_plugin_fn_spelled_out.call)(b"abc".to_vec()).unwrap(),
        b"3"
    );
    let err = (__wasp_plugin_fn_spelled_out.call)(b"io".to_vec()).unwrap_err();
    assert!(err.message().contains("disk on fire"), "{err}");
    assert_eq!((__wasp_plugin_fn_plain.call)(vec![1, 2]).unwrap(), [1, 2]);
    assert!((__wasp_plugin_fn_nothing.call)(vec![9]).unwrap().is_empty());
}
