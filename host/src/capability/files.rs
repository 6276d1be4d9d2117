//! File grants: host directories preopened at guest paths, read-only or read-write.
//!
//! wasmtime-wasi (cap-std) keeps every path a plugin uses inside its preopened
//! directories: `..`, absolute paths and symlinks that lead out fail with
//! `EPERM`/`ENOENT`. What it cannot see is the host path of a preopen itself,
//! which is opened by name for every new instance. Two rules keep that name
//! honest:
//!
//! - At load, no granted directory may be reached through an entry that lies
//!   inside a *read-write* grant of the same plugin (e.g. `rw data/` and
//!   `ro data/config/`): the plugin could rename that entry away and put a
//!   symlink to anywhere in its place (`data/config -> ../../etc`), and the next
//!   instance — or the next load of the same manifest — would preopen the
//!   symlink's target.
//! - For every instance, the directory must still be the one resolved at load:
//!   same canonical path and, on Unix, the same device and inode. A directory
//!   that another plugin (or anyone) replaced, moved or removed since is refused
//!   with an error that says to reload, never followed.

use std::path::{Component, Path, PathBuf};

use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

use crate::error::{Error, Result};

/// A host directory made visible to the plugin at a guest path.
///
/// ```
/// use wasp_host::{FileGrant, FileMode};
/// let g = FileGrant::new("data", "/data", FileMode::ReadOnly);
/// assert_eq!(g.guest(), "/data");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileGrant {
    pub(crate) host: PathBuf,
    pub(crate) guest: String,
    pub(crate) mode: FileMode,
    /// Which directory `host` was at load; `None` before [`resolve`].
    pub(crate) identity: Option<DirIdentity>,
}

impl FileGrant {
    /// `host` is a directory on the host (canonicalised at load), `guest` the path
    /// the plugin opens it by.
    ///
    /// ```
    /// let g = wasp_host::FileGrant::new("/tmp", "/tmp", wasp_host::FileMode::ReadWrite);
    /// assert_eq!(g.mode(), wasp_host::FileMode::ReadWrite);
    /// ```
    pub fn new(host: impl Into<PathBuf>, guest: impl Into<String>, mode: FileMode) -> Self {
        FileGrant {
            host: host.into(),
            guest: guest.into(),
            mode,
            identity: None,
        }
    }
    /// The host directory.
    ///
    /// ```
    /// let g = wasp_host::FileGrant::new("/tmp", "/t", wasp_host::FileMode::ReadOnly);
    /// assert_eq!(g.host(), std::path::Path::new("/tmp"));
    /// ```
    pub fn host(&self) -> &Path {
        &self.host
    }
    /// The guest path.
    ///
    /// ```
    /// let g = wasp_host::FileGrant::new("/tmp", "/t", wasp_host::FileMode::ReadOnly);
    /// assert_eq!(g.guest(), "/t");
    /// ```
    pub fn guest(&self) -> &str {
        &self.guest
    }
    /// Read-only or read-write.
    ///
    /// ```
    /// let g = wasp_host::FileGrant::new("/tmp", "/t", wasp_host::FileMode::ReadOnly);
    /// assert_eq!(g.mode(), wasp_host::FileMode::ReadOnly);
    /// ```
    pub fn mode(&self) -> FileMode {
        self.mode
    }
}

/// What a plugin may do in a granted directory.
///
/// ```
/// assert_eq!("ro".parse::<wasp_host::FileMode>(), Ok(wasp_host::FileMode::ReadOnly));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileMode {
    /// `"ro"`: read and list only.
    ReadOnly,
    /// `"rw"`: also create, write, rename and delete inside the directory.
    ReadWrite,
}

impl std::str::FromStr for FileMode {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "ro" => Ok(FileMode::ReadOnly),
            "rw" => Ok(FileMode::ReadWrite),
            other => Err(format!("invalid mode `{other}`: use \"ro\" or \"rw\"")),
        }
    }
}

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

/// Checks the file grants before a plugin is loaded: each host directory exists
/// and is canonicalised, its identity recorded, and none is reached through a
/// read-write grant of the same plugin (see the module docs).
pub(crate) fn resolve(plugin: &str, files: &mut [FileGrant]) -> Result<()> {
    // The paths as written (made absolute, symlinks not resolved): the nesting
    // check walks them, because a symlink planted by the plugin is already
    // resolved away in the canonical path.
    let written: Vec<PathBuf> = files
        .iter()
        .map(|f| std::path::absolute(&f.host).unwrap_or_else(|_| f.host.clone()))
        .collect();
    for f in files.iter_mut() {
        let canonical = std::fs::canonicalize(&f.host).map_err(|e| {
            Error::load(
                plugin,
                format!(
                    "grants.files: host directory {} cannot be opened: {e}",
                    f.host.display()
                ),
            )
        })?;
        let meta = std::fs::metadata(&canonical).map_err(|e| {
            Error::load(
                plugin,
                format!(
                    "grants.files: host directory {} cannot be opened: {e}",
                    canonical.display()
                ),
            )
        })?;
        if !meta.is_dir() {
            return Err(Error::load(
                plugin,
                format!(
                    "grants.files: host path {} is not a directory",
                    canonical.display()
                ),
            ));
        }
        f.identity = DirIdentity::of(&meta);
        f.host = canonical;
    }
    for (i, path) in written.iter().enumerate() {
        if let Some(outer) = reached_through_read_write(path, i, files)
            && let Some(inner) = files.get(i)
        {
            return Err(Error::load(
                plugin,
                format!(
                    "grants.files: host directory {} (guest {}) is inside the read-write grant {} (guest {}), so the plugin could replace it with a symlink to any directory; grant the two side by side, or only the outer one",
                    path.display(),
                    inner.guest,
                    outer.host.display(),
                    outer.guest
                ),
            ));
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

/// The read-write grant (other than `files[me]`) that holds a directory entry
/// read while resolving `path`, if any. Every component but the last is looked up
/// in the directory its prefix resolves to now; the last one is the grant itself,
/// whose entry lives in its parent.
fn reached_through_read_write<'a>(
    path: &Path,
    me: usize,
    files: &'a [FileGrant],
) -> Option<&'a FileGrant> {
    for dir in dirs_read_on_the_way(path) {
        let holder = files
            .iter()
            .enumerate()
            .find(|(j, w)| *j != me && w.mode == FileMode::ReadWrite && dir.starts_with(&w.host));
        if let Some((_, w)) = holder {
            return Some(w);
        }
    }
    None
}

/// Across the plugins of one manifest: a file grant of one plugin that is reached
/// through a read-write grant of *another* plugin could be replaced by that
/// plugin with a symlink, redirecting the first plugin's grant at its next start.
/// Returns `(victim, victim grant, holder, holder grant)` for the first such pair.
pub(crate) fn nested_across(
    plugins: &[(&str, &[FileGrant])],
) -> Option<(String, String, String, String)> {
    let read_write: Vec<(&str, PathBuf, &FileGrant)> = plugins
        .iter()
        .flat_map(|(name, files)| files.iter().map(move |f| (*name, f)))
        .filter(|(_, f)| f.mode == FileMode::ReadWrite)
        .filter_map(|(name, f)| std::fs::canonicalize(&f.host).ok().map(|c| (name, c, f)))
        .collect();
    for (victim, files) in plugins {
        for f in files.iter() {
            let path = std::path::absolute(&f.host).unwrap_or_else(|_| f.host.clone());
            for dir in dirs_read_on_the_way(&path) {
                if let Some((holder, _, g)) = read_write
                    .iter()
                    .find(|(holder, root, _)| holder != victim && dir.starts_with(root))
                {
                    return Some((
                        victim.to_string(),
                        f.host.display().to_string(),
                        holder.to_string(),
                        g.host.display().to_string(),
                    ));
                }
            }
        }
    }
    None
}

/// Preopens one resolved grant in a new instance's context, after checking that
/// its host path still names the directory resolved at load.
pub(crate) fn preopen(b: &mut WasiCtxBuilder, plugin: &str, f: &FileGrant) -> Result<()> {
    let perms = match f.mode {
        FileMode::ReadOnly => FsPerms::ReadOnly,
        FileMode::ReadWrite => FsPerms::ReadWrite,
    };
    b.preopened_dir(&f.host, &f.guest, perms).map_err(|e| {
        Error::load(
            plugin,
            format!("grants.files: cannot open {}: {e}", f.host.display()),
        )
    })?;
    // Checked after opening: a directory swapped before the open is still
    // swapped now, and one swapped after it was opened correctly is refused
    // anyway (fail closed).
    if f.identity.is_some() && !unchanged(f) {
        return Err(Error::load(
            plugin,
            format!(
                "grants.files: host directory {} (guest {}) changed since the plugin was loaded (replaced, moved or removed); it is not opened — reload the plugin",
                f.host.display(),
                f.guest
            ),
        ));
    }
    Ok(())
}

/// Whether `f.host` still resolves, without symlinks, to the directory recorded
/// at load.
fn unchanged(f: &FileGrant) -> bool {
    let same_path = std::fs::canonicalize(&f.host).is_ok_and(|c| c == f.host);
    let same_dir = std::fs::metadata(&f.host)
        .ok()
        .and_then(|m| DirIdentity::of(&m))
        == f.identity;
    same_path && same_dir
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(host: &Path, mode: FileMode) -> FileGrant {
        FileGrant::new(host, "/g", mode)
    }

    #[test]
    fn nested_grants_inside_read_write_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let inner = dir.path().join("a/b");
        std::fs::create_dir_all(&inner).unwrap();
        let refused = |outer: FileMode, inner_mode: FileMode| {
            let mut files = [grant(dir.path(), outer), grant(&inner, inner_mode)];
            resolve("p", &mut files).is_err()
        };
        assert!(refused(FileMode::ReadWrite, FileMode::ReadOnly));
        assert!(refused(FileMode::ReadWrite, FileMode::ReadWrite));
        assert!(!refused(FileMode::ReadOnly, FileMode::ReadOnly));
        assert!(!refused(FileMode::ReadOnly, FileMode::ReadWrite));
        // The same directory twice is not nesting.
        let mut same = [
            grant(dir.path(), FileMode::ReadWrite),
            grant(dir.path(), FileMode::ReadOnly),
        ];
        assert!(resolve("p", &mut same).is_ok());
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
        let mut files = [
            grant(&data, FileMode::ReadWrite),
            grant(&data.join("config"), FileMode::ReadOnly),
        ];
        let err = resolve("p", &mut files).unwrap_err().to_string();
        assert!(err.contains("inside the read-write grant"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn a_directory_replaced_after_load_is_not_preopened() {
        let dir = tempfile::tempdir().unwrap();
        let g = dir.path().join("g");
        std::fs::create_dir(&g).unwrap();
        let mut files = [grant(&g, FileMode::ReadOnly)];
        resolve("p", &mut files).unwrap();
        let mut b = WasiCtxBuilder::new();
        preopen(&mut b, "p", &files[0]).unwrap();
        std::fs::rename(&g, dir.path().join("old")).unwrap();
        std::fs::create_dir(dir.path().join("other")).unwrap();
        std::os::unix::fs::symlink("other", &g).unwrap();
        let err = preopen(&mut WasiCtxBuilder::new(), "p", &files[0])
            .unwrap_err()
            .to_string();
        assert!(err.contains("changed since the plugin was loaded"), "{err}");
    }
}
