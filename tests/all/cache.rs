//! The compile cache: a second load of the same file skips compiling and gives
//! the same results; a corrupted entry is ignored and rebuilt, never trusted.

use wasp_host::{PluginOptions, Runtime};
use wasp_tests::fixtures;

async fn load(cache: &std::path::Path) -> wasp_host::Plugin {
    // A fresh runtime (and engine) each time, as after a restart.
    let rt = Runtime::builder().cache_dir(cache).build().unwrap();
    rt.load_file(fixtures::UPPER, PluginOptions::default())
        .await
        .unwrap()
}

#[tokio::test]
async fn second_load_comes_from_the_cache_with_the_same_results() {
    let dir = tempfile::tempdir().unwrap();
    let cold = load(dir.path()).await;
    assert!(!cold.was_cached());
    let warm = load(dir.path()).await;
    assert!(warm.was_cached());
    assert_eq!(cold.info(), warm.info());
    assert_eq!(cold.imports(), warm.imports());
    assert_eq!(cold.sha256(), warm.sha256());
    assert_eq!(cold.was_adapted(), warm.was_adapted());
    for input in ["hello", "ünïcödé", ""] {
        let a: String = cold.call("upper", input).await.unwrap();
        let b: String = warm.call("upper", input).await.unwrap();
        assert_eq!(a, b);
    }
}

#[tokio::test]
async fn corrupted_entries_are_rebuilt_not_trusted() {
    let dir = tempfile::tempdir().unwrap();
    load(dir.path()).await;
    let entries: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    let entry = &entries[0];
    for corrupt in [
        |b: &mut Vec<u8>| {
            let mid = b.len() / 2;
            b[mid] ^= 0x40;
        },
        |b: &mut Vec<u8>| b.truncate(b.len() / 3),
        |b: &mut Vec<u8>| *b = b"WASPCACHE\x01 definitely not code".to_vec(),
    ] {
        let mut bytes = std::fs::read(entry).unwrap();
        corrupt(&mut bytes);
        std::fs::write(entry, &bytes).unwrap();
        let p = load(dir.path()).await;
        assert!(!p.was_cached(), "a corrupted entry was used");
        let out: String = p.call("upper", "still fine").await.unwrap();
        assert_eq!(out, "STILL FINE");
        // ... and the entry was rewritten.
        assert!(load(dir.path()).await.was_cached());
    }
}

#[tokio::test]
async fn a_cache_directory_others_can_write_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let shared = dir.path().join("shared");
    std::fs::create_dir(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).unwrap();
    // As root the chmod back to 0700 succeeds, so the directory is tightened
    // rather than refused; either way it must not stay world-writable.
    match Runtime::builder().cache_dir(&shared).build() {
        Ok(_) => {
            let mode = std::fs::metadata(&shared).unwrap().permissions().mode();
            assert_eq!(mode & 0o022, 0, "left writable by others: {mode:o}");
        }
        Err(e) => assert!(e.to_string().contains("writable by other users"), "{e}"),
    }
}
