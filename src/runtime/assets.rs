//! The assets the app serves (weights, tokenizers), as pinned in
//! `assets/manifest.json`, and the streaming sha256 check every download
//! passes before a model sees a byte of it.

use serde::Deserialize;
use sha2::{Digest, Sha256};

/// One file under `/assets/` with its expected size and digest.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ServedAsset {
    /// Path under `assets/`, e.g. `minilm/model.safetensors`.
    pub id: String,
    /// Key of the registry package it comes from.
    pub package: String,
    pub bytes: u64,
    pub sha256: String,
}

/// The registry package an asset comes from, for attribution on the page.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PackageInfo {
    pub registry: String,
    pub name: String,
    pub version: String,
    pub license: String,
    pub attribution: String,
}

#[derive(Debug, Deserialize)]
struct Manifest {
    packages: std::collections::BTreeMap<String, PackageInfo>,
    served: Vec<ServedAsset>,
}

/// The manifest, parsed once (it is read on every load and every render of
/// the offline page).
fn manifest() -> &'static Manifest {
    static MANIFEST: std::sync::OnceLock<Manifest> = std::sync::OnceLock::new();
    MANIFEST.get_or_init(|| {
        serde_json::from_str(MANIFEST_JSON)
            .expect("assets/manifest.json is valid (checked by a unit test)")
    })
}

/// The manifest, compiled in so the app and `scripts/fetch_assets.py` can
/// never disagree about a digest.
const MANIFEST_JSON: &str = include_str!("../../assets/manifest.json");

/// Every served asset, in manifest order.
pub fn served_assets() -> Vec<ServedAsset> {
    manifest().served.clone()
}

/// The package an asset comes from.
pub fn package_info(key: &str) -> Option<PackageInfo> {
    manifest().packages.get(key).cloned()
}

/// Looks an asset up by id.
pub fn served_asset(id: &str) -> Option<ServedAsset> {
    manifest().served.iter().find(|a| a.id == id).cloned()
}

/// A download that did not verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyError {
    WrongSize { expected: u64, got: u64 },
    WrongDigest { expected: String, got: String },
}

impl std::fmt::Display for VerifyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VerifyError::WrongSize { expected, got } => {
                write!(f, "size mismatch: expected {expected} bytes, got {got}")
            }
            VerifyError::WrongDigest { expected, got } => write!(
                f,
                "checksum mismatch: expected sha256 {}…, got {}…",
                &expected[..12.min(expected.len())],
                &got[..12.min(got.len())]
            ),
        }
    }
}

/// Hashes a download chunk by chunk as it streams in, so a 90 MB weights
/// file is verified without a second pass that would block the page.
pub struct StreamingVerifier {
    hasher: Sha256,
    seen: u64,
    expected_bytes: u64,
    expected_sha256: String,
}

impl StreamingVerifier {
    pub fn new(asset: &ServedAsset) -> Self {
        Self {
            hasher: Sha256::new(),
            seen: 0,
            expected_bytes: asset.bytes,
            expected_sha256: asset.sha256.to_ascii_lowercase(),
        }
    }

    pub fn update(&mut self, chunk: &[u8]) {
        self.hasher.update(chunk);
        self.seen += chunk.len() as u64;
    }

    pub fn bytes_seen(&self) -> u64 {
        self.seen
    }

    pub fn finish(self) -> Result<(), VerifyError> {
        if self.seen != self.expected_bytes {
            return Err(VerifyError::WrongSize {
                expected: self.expected_bytes,
                got: self.seen,
            });
        }
        let got = hex(&self.hasher.finalize());
        if got != self.expected_sha256 {
            return Err(VerifyError::WrongDigest {
                expected: self.expected_sha256,
                got,
            });
        }
        Ok(())
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `1.5 MB`-style sizes for progress text (decimal units, as browsers show).
pub fn format_bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["B", "kB", "MB", "GB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asset_for(data: &[u8]) -> ServedAsset {
        ServedAsset {
            id: "t".into(),
            package: "p".into(),
            bytes: data.len() as u64,
            sha256: hex(&Sha256::digest(data)),
        }
    }

    #[test]
    fn manifest_parses_and_ids_are_unique_paths() {
        let assets = served_assets();
        assert!(!assets.is_empty());
        let mut ids: Vec<_> = assets.iter().map(|a| a.id.as_str()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), assets.len(), "duplicate asset ids");
        for a in &assets {
            assert_eq!(a.sha256.len(), 64, "{}: sha256 must be 64 hex digits", a.id);
            assert!(a.sha256.chars().all(|c| c.is_ascii_hexdigit()));
            assert!(!a.id.starts_with('/') && !a.id.contains(".."), "{}", a.id);
            assert!(a.bytes > 0);
        }
        for a in &assets {
            let package =
                package_info(&a.package).expect("every served asset names a listed package");
            assert!(!package.license.is_empty() && !package.attribution.is_empty());
        }
        assert!(served_asset("minilm/model.safetensors").is_some());
        assert!(served_asset("nope").is_none());
    }

    #[test]
    fn sha256_of_abc_matches_fips_180_2_vector() {
        assert_eq!(
            hex(&Sha256::digest(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn streaming_verifier_accepts_chunked_good_data() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 31 % 251) as u8).collect();
        let mut v = StreamingVerifier::new(&asset_for(&data));
        for chunk in data.chunks(977) {
            v.update(chunk);
        }
        assert_eq!(v.bytes_seen(), 10_000);
        assert_eq!(v.finish(), Ok(()));
    }

    #[test]
    fn streaming_verifier_rejects_a_flipped_byte_and_a_short_file() {
        let data = b"pretend these are weights".to_vec();
        let asset = asset_for(&data);
        let mut corrupted = data.clone();
        corrupted[3] ^= 1;
        let mut v = StreamingVerifier::new(&asset);
        v.update(&corrupted);
        assert!(matches!(v.finish(), Err(VerifyError::WrongDigest { .. })));

        let mut v = StreamingVerifier::new(&asset);
        v.update(&data[..5]);
        assert_eq!(
            v.finish(),
            Err(VerifyError::WrongSize {
                expected: 25,
                got: 5
            })
        );
    }

    #[test]
    fn bytes_are_formatted_for_people() {
        assert_eq!(format_bytes(612), "612 B");
        assert_eq!(format_bytes(466_247), "466.2 kB");
        assert_eq!(format_bytes(90_868_376), "90.9 MB");
    }
}
