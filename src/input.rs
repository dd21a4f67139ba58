//! Reading files named by users or peers with a size cap: the file is `stat`ed first, anything
//! that is not a regular file (`/dev/zero`, a FIFO, a folder — also through a symbolic link) is
//! refused unopened, and at most `max` bytes are ever read, so no input file can exhaust memory.
use std::io::Read;
use std::path::Path;

/// Largest ecosystem file, `pactown.lock`, env file or token file (bytes).
pub const MAX_CONFIG_BYTES: u64 = 4 * 1024 * 1024;
/// Largest CA bundle (bytes; Debian's whole bundle is about 220 KB).
pub const MAX_CA_BUNDLE_BYTES: u64 = 16 * 1024 * 1024;

/// Reads a regular file of at most `max` bytes.
///
/// # Errors
/// The open/read error; `InvalidInput` "not a regular file" for devices, FIFOs, sockets and
/// folders; `InvalidData` "… bytes; the limit is …" for a larger file (including one that grows
/// while it is read).
pub fn read_capped(path: &Path, max: u64) -> std::io::Result<Vec<u8>> {
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    let too_large = |size: u64| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("the file is {size} bytes; the limit is {max}"),
        )
    };
    if meta.len() > max {
        return Err(too_large(meta.len()));
    }
    let file = std::fs::File::open(path)?;
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.take(max.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(too_large(bytes.len() as u64));
    }
    Ok(bytes)
}

/// [`read_capped`] as UTF-8 text.
///
/// # Errors
/// As [`read_capped`], and `InvalidData` for text that is not UTF-8.
pub fn read_capped_string(path: &Path, max: u64) -> std::io::Result<String> {
    String::from_utf8(read_capped(path, max)?)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_folders_and_large_files_are_refused() {
        let err = read_capped(Path::new("/dev/zero"), 10).unwrap_err();
        assert_eq!(err.to_string(), "not a regular file");
        assert!(read_capped(Path::new("/"), 10).is_err());
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f");
        std::fs::write(&f, "12345").unwrap();
        assert_eq!(read_capped(&f, 5).unwrap(), b"12345");
        let err = read_capped(&f, 4).unwrap_err();
        assert!(err.to_string().contains("limit is 4"), "{err}");
    }
}
