//! Identity tokens read from a file or standard input (`--identity-token-file`), which keeps
//! the token off the command line where other users of the machine can read it.

use zeroize::Zeroizing;

use super::OidcError;

/// Upper bound for a token read from a file or standard input (real ones are a few KiB).
pub const MAX_TOKEN_FILE_BYTES: u64 = 64 * 1024;

/// Reads an identity token from a file, or from standard input when `path` is `-`: at most
/// [`MAX_TOKEN_FILE_BYTES`], surrounding whitespace dropped. A file keeps the token off the
/// command line, which other users of the machine can read. The bytes read are wiped after use.
pub fn read_token_file(path: &std::path::Path) -> Result<Zeroizing<String>, OidcError> {
    use std::io::Read as _;
    let from = if path.as_os_str() == "-" {
        "standard input".to_owned()
    } else {
        format!("`{}`", path.display())
    };
    let io = |source| OidcError::TokenFile {
        from: from.clone(),
        source,
    };
    let reader: Box<dyn std::io::Read> = if path.as_os_str() == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        let file = std::fs::File::open(path).map_err(io)?;
        let meta = file.metadata().map_err(io)?;
        if meta.is_file() && meta.len() > MAX_TOKEN_FILE_BYTES {
            return Err(OidcError::TokenFileTooLarge {
                from,
                limit: MAX_TOKEN_FILE_BYTES,
            });
        }
        Box::new(file)
    };
    // Sized once, so growing never leaves a copy of the token behind.
    let mut buf = Zeroizing::new(Vec::with_capacity(MAX_TOKEN_FILE_BYTES as usize + 1));
    reader
        .take(MAX_TOKEN_FILE_BYTES + 1)
        .read_to_end(&mut buf)
        .map_err(io)?;
    if buf.len() as u64 > MAX_TOKEN_FILE_BYTES {
        return Err(OidcError::TokenFileTooLarge {
            from,
            limit: MAX_TOKEN_FILE_BYTES,
        });
    }
    let text = std::str::from_utf8(&buf).map_err(|_| OidcError::Malformed {
        source_name: "--identity-token-file",
        problem: super::TokenProblem::NotUtf8,
    })?;
    let token = text.trim();
    if token.is_empty() {
        return Err(OidcError::TokenFileEmpty { from });
    }
    Ok(Zeroizing::new(token.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::super::test_tokens::{good_claims, jwt};
    use super::*;

    #[test]
    fn token_files_are_trimmed_bounded_and_never_empty() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let raw = jwt(&good_claims());
        let path = dir.path().join("token");
        std::fs::write(&path, format!("  {raw}\n\n"))?;
        assert_eq!(read_token_file(&path)?.as_str(), raw);

        std::fs::write(&path, " \n")?;
        assert!(matches!(
            read_token_file(&path),
            Err(OidcError::TokenFileEmpty { .. })
        ));
        std::fs::write(&path, vec![b'a'; MAX_TOKEN_FILE_BYTES as usize + 1])?;
        assert!(matches!(
            read_token_file(&path),
            Err(OidcError::TokenFileTooLarge { .. })
        ));
        std::fs::write(&path, [0xff, 0xfe])?;
        assert!(matches!(
            read_token_file(&path),
            Err(OidcError::Malformed { .. })
        ));
        let missing = dir.path().join("missing");
        let err = read_token_file(&missing)
            .err()
            .ok_or("read a missing file")?;
        assert_eq!(err.reason_code(), "token-file-unreadable");
        assert!(err.to_string().contains("missing"), "{err}");
        Ok(())
    }
}
