//! Reading the config file's text: a regular file, at most [`MAX_CONFIG`] bytes, UTF-8.

use std::io::Read;
use std::path::Path;

/// A lops config is a few kB; anything near this is not one.
pub const MAX_CONFIG: u64 = 1024 * 1024;

pub enum ReadError {
    /// The file could not be opened or read.
    Io(std::io::Error),
    /// It is there, but not something lops reads as a config: what it is, and what to do.
    Refused(String),
}

/// The text of the config file at `path`. A FIFO would block the read forever and a device
/// (`/dev/zero`) never end it, so only a regular file is opened, and only its first
/// [`MAX_CONFIG`] bytes are read. `explicit`: the path was given (`--config`), else it is the
/// default file's, which the remedy names instead.
pub fn read_text(path: &Path, explicit: bool) -> Result<String, ReadError> {
    let meta = std::fs::metadata(path).map_err(ReadError::Io)?;
    if !meta.is_file() {
        let remedy = match explicit {
            true => "give --config the path of a TOML file",
            false => {
                "this is where lops reads its config by default: move it away and put the TOML \
                 file there, or give --config the path of one"
            }
        };
        return Err(ReadError::Refused(format!(
            "it is {}, not a file: {remedy}",
            kind_of(&meta)
        )));
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_CONFIG + 1).read_to_end(&mut bytes))
        .map_err(ReadError::Io)?;
    if bytes.len() as u64 > MAX_CONFIG {
        return Err(ReadError::Refused(
            "it is larger than 1 MiB, which no lops config is: give --config the path of the \
             TOML file (a few kB)"
                .to_string(),
        ));
    }
    String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = valid.iter().filter(|b| **b == b'\n').count() + 1;
        let start = valid.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        let column = String::from_utf8_lossy(&valid[start..]).chars().count() + 1;
        ReadError::Refused(format!(
            "line {line}, column {column}: not UTF-8 text; save the file as UTF-8"
        ))
    })
}

fn kind_of(meta: &std::fs::Metadata) -> &'static str {
    let kind = meta.file_type();
    if kind.is_dir() {
        return "a directory";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return "a named pipe (FIFO)";
        }
        if kind.is_char_device() {
            return "a character device";
        }
        if kind.is_block_device() {
            return "a block device";
        }
        if kind.is_socket() {
            return "a socket";
        }
    }
    "not a regular file"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(path: &Path) -> String {
        match read_text(path, true) {
            Err(ReadError::Refused(m)) => m,
            Err(ReadError::Io(e)) => format!("io: {e}"),
            Ok(text) => format!("read {} bytes", text.len()),
        }
    }

    #[test]
    fn a_directory_or_a_device_is_refused_without_reading_it() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        assert!(refused(dir.path()).starts_with("it is a directory, not a file"));
        #[cfg(unix)]
        assert!(refused(Path::new("/dev/zero")).starts_with("it is a character device"));
    }

    #[test]
    fn a_file_over_the_cap_is_refused_and_bad_utf8_is_placed() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let big = dir.path().join("big.toml");
        let _ = std::fs::write(&big, vec![b'#'; MAX_CONFIG as usize + 1]);
        assert!(refused(&big).contains("larger than 1 MiB"));
        let bad = dir.path().join("bad.toml");
        let _ = std::fs::write(&bad, b"regions = []\nmode = \"r\xffead\"\n");
        assert_eq!(
            refused(&bad),
            "line 2, column 10: not UTF-8 text; save the file as UTF-8"
        );
    }
}
