//! Short content hashes: the first 64 bits of a SHA-256 as 16 hex digits. They name what is addressed by content
//! (environments, materialized probes) and identify what must not change unseen (a matrix's text, a plan).

use sha2::{Digest, Sha256};

/// The short hash of `bytes`.
pub fn short(bytes: impl AsRef<[u8]>) -> String {
    short_of(Sha256::new().chain_update(bytes))
}

/// The short hash of what `hasher` was fed.
pub fn short_of(hasher: Sha256) -> String {
    hasher
        .finalize()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The short hash of a folder's files: each relative path (sorted) with its content, a link with its target. A
/// folder that cannot be read hashes what could be read: the copy made from it will fail and say why.
pub fn of_dir(root: &std::path::Path) -> String {
    let mut files = Vec::new();
    collect(root, root, &mut files);
    files.sort();
    let mut hasher = Sha256::new();
    for (relative, bytes) in files {
        hasher.update(relative.as_bytes());
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(&bytes);
    }
    short_of(hasher)
}

fn collect(root: &std::path::Path, dir: &std::path::Path, files: &mut Vec<(String, Vec<u8>)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let relative = path
            .strip_prefix(root)
            .unwrap_or(&path)
            .display()
            .to_string();
        match entry.file_type() {
            Ok(kind) if kind.is_dir() => collect(root, &path, files),
            Ok(kind) if kind.is_symlink() => {
                let target = std::fs::read_link(&path).unwrap_or_default();
                files.push((relative, target.display().to_string().into_bytes()));
            }
            _ => files.push((relative, std::fs::read(&path).unwrap_or_default())),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_short_hash_is_the_sha256_prefix() {
        // SHA-256("abc") = ba7816bf8f01cfea 414140de…
        assert_eq!(super::short("abc"), "ba7816bf8f01cfea");
    }
}
