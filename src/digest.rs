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

#[cfg(test)]
mod tests {
    #[test]
    fn a_short_hash_is_the_sha256_prefix() {
        // SHA-256("abc") = ba7816bf8f01cfea 414140de…
        assert_eq!(super::short("abc"), "ba7816bf8f01cfea");
    }
}
