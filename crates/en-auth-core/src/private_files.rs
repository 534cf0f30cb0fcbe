//! Private files on this machine: a directory of mode 0700 that this user owns, files of mode
//! 0600 replaced by an atomic rename. [`LocalStore`](crate::LocalStore) keeps shared tokens
//! so, and `en-auth-srp`'s file session store keeps sessions so.

use std::fs;
use std::io::{Read, Write};
use std::path::Path;

use zeroize::Zeroizing;

/// Creates `dir` (and its missing parents) with mode 0700 if missing, and checks that it is a
/// directory that no other user can open and that this user owns (on Unix).
///
/// # Errors
/// Why the directory is refused, a sentence to name in an error: it cannot be created, is not
/// a directory, is open to other users (any of the mode bits 0077; "`chmod 700` it"), or is
/// owned by another user.
pub fn ensure_private_dir(dir: &Path) -> Result<(), String> {
    create_private_dir(dir).map_err(|e| format!("cannot create it: {e}"))?;
    let meta = fs::metadata(dir).map_err(|e| e.to_string())?;
    if !meta.is_dir() {
        return Err("not a directory".into());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(format!(
                "open to other users (mode {mode:o}); `chmod 700` it"
            ));
        }
        // Another user's directory (root pointed at a user's cache) could hold secrets
        // planted for this process to adopt.
        if meta.uid() != effective_uid() {
            return Err(format!(
                "owned by another user (uid {}, not {})",
                meta.uid(),
                effective_uid()
            ));
        }
    }
    Ok(())
}

/// A private file's content, at most `max_bytes` of it: `Ok(None)` if there is no file, or
/// (on Unix) if it is open to other users or not this user's — such a file is not trusted.
///
/// # Errors
/// The I/O error of opening or reading an existing file.
pub fn read_private_file(
    path: &Path,
    max_bytes: u64,
) -> std::io::Result<Option<Zeroizing<Vec<u8>>>> {
    let file = match fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let meta = file.metadata()?;
        let mode = meta.permissions().mode();
        if mode & 0o077 != 0 || meta.uid() != effective_uid() {
            tracing::warn!(
                mode = format!("{:o}", mode & 0o777),
                uid = meta.uid(),
                "a private file is open to other users or not ours: not used"
            );
            return Ok(None);
        }
    }
    let mut bytes = Zeroizing::new(Vec::new());
    file.take(max_bytes).read_to_end(&mut bytes)?;
    Ok(Some(bytes))
}

/// This process's effective user id.
#[cfg(unix)]
pub(crate) fn effective_uid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// Creates `dir` and its missing parents, with mode 0700.
pub(crate) fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Writes `bytes` to `path` through a temporary file (mode 0600: `tempfile`'s) in `dir` and a
/// rename, so that a reader sees the old file or the new one, never a mix. Not synced to disk.
///
/// # Errors
/// The I/O error of creating, writing or renaming the temporary file.
pub fn write_private_file(dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = tempfile::Builder::new().prefix(".tmp-").tempfile_in(dir)?;
    file.write_all(bytes)?;
    file.persist(path).map(drop).map_err(|e| e.error)
}
