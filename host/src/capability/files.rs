//! File grants: host directories preopened at guest paths, read-only or read-write.
//!
//! wasmtime-wasi (cap-std) keeps every path a plugin uses inside its preopened
//! directories: `..`, absolute paths and symlinks that lead out fail with
//! `EPERM`/`ENOENT`. What it cannot see is the host path of a preopen itself,
//! which is opened by name for every new instance. Two rules keep that name
//! honest:
//!
//! - No granted directory may be reached through an entry that lies inside a
//!   *read-write* grant — of the same plugin or of another one loaded beside it
//!   (e.g. `rw data/` and `ro data/config/`): the holder of the read-write grant
//!   could rename that entry away and put a symlink to anywhere in its place
//!   (`data/config -> ../../etc`), and the next instance would preopen the
//!   symlink's target. [`check_nesting`] is that rule; every way of loading a
//!   plugin calls it (a manifest, `Plugins::load`, a reload, a watched swap).
//! - For every instance, the directory must still be the one resolved at load:
//!   same canonical path and, on Unix, the same device and inode. A directory
//!   that another plugin (or anyone) replaced, moved or removed since is refused
//!   with an error that says to reload, never followed.

use std::path::{Component, Path, PathBuf};

use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

use crate::error::GrantError;
use crate::spec::grants::{FileGrant, FileMode};

/// Which directory a path named: device and inode on Unix (elsewhere only the
/// canonical path is compared).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DirIdentity {
    dev: u64,
    ino: u64,
}

impl DirIdentity {
    #[cfg(unix)]
    fn of(meta: &std::fs::Metadata) -> Option<Self> {
        use std::os::unix::fs::MetadataExt;
        Some(DirIdentity {
            dev: meta.dev(),
            ino: meta.ino(),
        })
    }
    #[cfg(not(unix))]
    fn of(_meta: &std::fs::Metadata) -> Option<Self> {
        None
    }
}

/// Checks that each host directory exists, canonicalises it in place, and
/// returns the identity of each.
pub(crate) fn resolve(files: &mut [FileGrant]) -> Result<Vec<Option<DirIdentity>>, GrantError> {
    let mut identities = Vec::with_capacity(files.len());
    for (index, f) in files.iter_mut().enumerate() {
        let unavailable = |path: &Path, source| GrantError::DirUnavailable {
            index,
            path: path.to_path_buf(),
            source,
        };
        let canonical = std::fs::canonicalize(&f.host).map_err(|e| unavailable(&f.host, e))?;
        let meta = std::fs::metadata(&canonical).map_err(|e| unavailable(&canonical, e))?;
        if !meta.is_dir() {
            return Err(GrantError::NotADirectory {
                index,
                path: canonical,
            });
        }
        identities.push(DirIdentity::of(&meta));
        f.host = canonical;
    }
    Ok(identities)
}

/// The nesting rule (see the module docs), over every plugin that is or will be
/// loaded side by side: `(plugin, its file grants as written)`. Returns the first
/// grant reached through a read-write grant other than itself, with the plugin it
/// belongs to.
pub(crate) fn check_nesting(
    plugins: &[(&str, &[FileGrant])],
) -> Result<(), Box<(String, GrantError)>> {
    let read_write: Vec<(&str, usize, PathBuf)> = plugins
        .iter()
        .flat_map(|(name, files)| files.iter().enumerate().map(move |(i, f)| (*name, i, f)))
        .filter(|(_, _, f)| f.mode == FileMode::ReadWrite)
        .filter_map(|(name, i, f)| std::fs::canonicalize(&f.host).ok().map(|c| (name, i, c)))
        .collect();
    for (victim, files) in plugins {
        for (index, f) in files.iter().enumerate() {
            // The path as written (made absolute, symlinks not resolved): a
            // symlink planted by the holder is already resolved away in the
            // canonical path.
            let path = std::path::absolute(&f.host).unwrap_or_else(|_| f.host.clone());
            for dir in dirs_read_on_the_way(&path) {
                let holder = read_write.iter().find(|(holder, j, root)| {
                    !(holder == victim && *j == index) && dir.starts_with(root)
                });
                if let Some((holder, _, root)) = holder {
                    return Err(Box::new((
                        victim.to_string(),
                        GrantError::NestedInReadWrite {
                            index,
                            path: path.clone(),
                            guest: f.guest.clone(),
                            outer: root.clone(),
                            holder: (holder != victim).then(|| holder.to_string()),
                        },
                    )));
                }
            }
        }
    }
    Ok(())
}

/// The directories (as they resolve now) whose entries are read while resolving
/// `path`: every prefix but the path itself, whose entry lives in its parent.
fn dirs_read_on_the_way(path: &Path) -> Vec<PathBuf> {
    let components: Vec<Component<'_>> = path.components().collect();
    let mut prefix = PathBuf::new();
    let mut dirs = Vec::new();
    for c in components.iter().take(components.len().saturating_sub(1)) {
        prefix.push(c);
        if let Ok(dir) = std::fs::canonicalize(&prefix) {
            dirs.push(dir);
        }
    }
    dirs
}

/// Preopens one resolved grant in a new instance's context, after checking that
/// its host path still names the directory resolved at load.
pub(crate) fn preopen(
    b: &mut WasiCtxBuilder,
    index: usize,
    f: &FileGrant,
    identity: Option<DirIdentity>,
) -> Result<(), GrantError> {
    let perms = match f.mode {
        FileMode::ReadOnly => FsPerms::ReadOnly,
        FileMode::ReadWrite => FsPerms::ReadWrite,
    };
    b.preopened_dir(&f.host, &f.guest, perms)
        .map_err(|source| GrantError::Preopen {
            index,
            path: f.host.clone(),
            source,
        })?;
    // Checked after opening: a directory swapped before the open is still
    // swapped now, and one swapped after it was opened correctly is refused
    // anyway (fail closed).
    if identity.is_some() && !unchanged(f, identity) {
        return Err(GrantError::DirChanged {
            index,
            path: f.host.clone(),
            guest: f.guest.clone(),
        });
    }
    Ok(())
}

/// Whether `f.host` still resolves, without symlinks, to the directory recorded
/// at load.
fn unchanged(f: &FileGrant, identity: Option<DirIdentity>) -> bool {
    let same_path = std::fs::canonicalize(&f.host).is_ok_and(|c| c == f.host);
    let same_dir = std::fs::metadata(&f.host)
        .ok()
        .and_then(|m| DirIdentity::of(&m))
        == identity;
    same_path && same_dir
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(host: &Path, mode: FileMode) -> FileGrant {
        FileGrant::new(host, "/g", mode)
    }

    fn nested(files: &[FileGrant]) -> bool {
        check_nesting(&[("p", files)]).is_err()
    }

    #[test]
    fn nested_grants_inside_read_write_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let inner = dir.path().join("a/b");
        std::fs::create_dir_all(&inner).unwrap();
        let refused = |outer: FileMode, inner_mode: FileMode| {
            nested(&[grant(dir.path(), outer), grant(&inner, inner_mode)])
        };
        assert!(refused(FileMode::ReadWrite, FileMode::ReadOnly));
        assert!(refused(FileMode::ReadWrite, FileMode::ReadWrite));
        assert!(!refused(FileMode::ReadOnly, FileMode::ReadOnly));
        assert!(!refused(FileMode::ReadOnly, FileMode::ReadWrite));
        // The same directory twice is not nesting.
        assert!(!nested(&[
            grant(dir.path(), FileMode::ReadWrite),
            grant(dir.path(), FileMode::ReadOnly),
        ]));
    }

    #[test]
    fn a_grant_inside_another_plugins_read_write_grant_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let inner = dir.path().join("x");
        std::fs::create_dir_all(&inner).unwrap();
        let a = [grant(dir.path(), FileMode::ReadWrite)];
        let b = [grant(&inner, FileMode::ReadOnly)];
        let (victim, err) = *check_nesting(&[("a", &a), ("b", &b)]).unwrap_err();
        assert_eq!(victim, "b");
        assert!(
            matches!(err, GrantError::NestedInReadWrite { holder: Some(ref h), .. } if h == "a")
        );
        let ro = [grant(dir.path(), FileMode::ReadOnly)];
        assert!(check_nesting(&[("a", &ro), ("b", &b)]).is_ok());
    }

    #[cfg(unix)]
    #[test]
    fn a_planted_symlink_in_a_read_write_grant_is_seen_through() {
        // What a plugin leaves behind: data/config is a symlink that leads out.
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir_all(dir.path().join("outside")).unwrap();
        std::fs::create_dir(&data).unwrap();
        std::os::unix::fs::symlink("../outside", data.join("config")).unwrap();
        assert!(nested(&[
            grant(&data, FileMode::ReadWrite),
            grant(&data.join("config"), FileMode::ReadOnly),
        ]));
    }

    #[cfg(unix)]
    #[test]
    fn a_directory_replaced_after_load_is_not_preopened() {
        let dir = tempfile::tempdir().unwrap();
        let g = dir.path().join("g");
        std::fs::create_dir(&g).unwrap();
        let mut files = [grant(&g, FileMode::ReadOnly)];
        let ids = resolve(&mut files).unwrap();
        let mut b = WasiCtxBuilder::new();
        preopen(&mut b, 0, &files[0], ids[0]).unwrap();
        std::fs::rename(&g, dir.path().join("old")).unwrap();
        std::fs::create_dir(dir.path().join("other")).unwrap();
        std::os::unix::fs::symlink("other", &g).unwrap();
        let err = preopen(&mut WasiCtxBuilder::new(), 0, &files[0], ids[0]).unwrap_err();
        assert!(matches!(err, GrantError::DirChanged { .. }), "{err}");
    }
}
