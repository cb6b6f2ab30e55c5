//! IPA parameters: generated deterministically, cached per `k`, never trusted from disk.
//!
//! `Params::new(k)` derives every generator from a fixed string, so anyone can regenerate
//! the parameters, and this library pins the blake2b-256 digest of each `k`'s serialised
//! parameters ([`PINNED`], checked against fresh generation by the `params` tests). A cache
//! file is used only if its bytes hash to the pinned digest: a file with its generators
//! zeroed (which would let a proof bind nothing) or a few bytes flipped is reported and
//! regenerated. For a `k` beyond the pinned table the parameters are generated in memory on
//! every use and never read from the cache.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use blake2::{Blake2b, Digest};
use halo2_proofs::poly::commitment::Params;
use pasta_curves::EqAffine;

use super::files::write_atomic;
use crate::error::ProveError;

/// blake2b-256 (hex) of `Params::<EqAffine>::new(k)` as `Params::write` serialises it, for
/// `k = 1, 2, …` (index `k - 1`). Regenerate with `cargo run --release --example pin_params`.
pub const PINNED: &[&str] = &[
    "62290256fcaa8cfe0c2869d61ec803096ec86e546e123f480ee24f6a606c2cf3", // k = 1
    "6c93cbe647cb919807794d2edabd4456991cacbabe2a4e487dc08b8cfe9b6a8e", // k = 2
    "4a946b9cca6559df285a4599178171986314f443e7cb401250ea88351568ce23", // k = 3
    "e578a050edb789194aa31b2960d0a5a29b421e3141a9b4afe1eb6aa3b9a85e5f", // k = 4
    "1a8448e63afa4030a472d31cc01d87a34b7d6a35d0b0629a660bbbf868559a24", // k = 5
    "512676d8451d8d320d9c8f94b5a28a9a8758ddb1f6b6848c40b6290b2dc081f5", // k = 6
    "0933a610f4969ef1f4ecb63454dc8f7e91dc7e181e0c86f1814a82f767683f5a", // k = 7
    "4e2600d2146e0356001d39e1cf3f0048c75a428251afd0c03fbc6d5e3b90c2a9", // k = 8
    "e8e5479981383bf74da627a6a3fa6f77463a36d9184372c1023f1cde66f80750", // k = 9
    "7cb87405f41de2a0f0b640d702482629d77a15c469d79d864407c0494d4e75ed", // k = 10
    "773ee1d3dcc65a13e97e4d88119d1d20fb12a8db4443361f370c75bdc2c91382", // k = 11
    "8d715ccc1bbb447a03a53ef53866f060ce574c0d76e00ed7aea35f8be6fc0af5", // k = 12
    "c2ecc4e0390ee1c5ed97822aa97119721bd01a3008a127113fa84de347e994c6", // k = 13
    "7e77bf05488d7e8514ef5dcbe9326091994853a7bbb1e39272a0b8fe53c6d40c", // k = 14
    "1eef393892a47e431d6385d684efe3fc0011382011ca878b596da2ad3b89e400", // k = 15
    "96148e6086e2a9d113583a62a6bbc1e1faae9f9ab5c3fa6ec545601ea5fcd802", // k = 16
    "375331e30b21a0188a9dcc63a67a11979ac7df716c93148a09bff27cd6c743c7", // k = 17
    "663977f311205eb942bd53700d0cad4e19bd17cfa20b375933d66d8e658f8598", // k = 18
    "4870020091b7e9906e5082c97890174254998c2a0b4556fdbdd19874a4254f0e", // k = 19
    "b434b486de0a0279fca004539414a319d9fec93e59fb79c75badeb549f8696e8", // k = 20
];

/// The pinned digest of `k`'s parameters, if `k` is in the table.
pub fn pinned_digest(k: u32) -> Option<&'static str> {
    PINNED.get((k as usize).checked_sub(1)?).copied()
}

/// blake2b-256 (hex) of serialised parameters.
pub fn digest(bytes: &[u8]) -> String {
    let mut hasher = Blake2b::<blake2::digest::consts::U32>::new();
    hasher.update(bytes);
    hex::encode(hasher.finalize())
}

/// Where [`ParamsCache::get_with_status`] found the parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParamsStatus {
    /// Read from the cache; the file's digest matched the pinned one.
    Cached,
    /// Generated, and cached when `k` is pinned (no file was there).
    Generated,
    /// The cache file did not match the pinned digest (damaged or forged): it was not used,
    /// and was replaced by freshly generated parameters.
    Replaced {
        /// What was wrong with the file.
        reason: String,
    },
    /// Generated in memory: `k` is beyond the pinned table, so no file is trusted.
    Unpinned,
}

/// Where IPA parameters are cached: one file per `k`, generated on first use.
///
/// Location: `$ZKINFER_PARAMS_DIR` if set, else `$XDG_CACHE_HOME/zkinfer/params`, else
/// `$HOME/.cache/zkinfer/params`, else `./.zkinfer-params`. A cached file is only a
/// speed-up, checked against a digest pinned in the library (see the module docs), so a
/// shared or shipped cache cannot change what a proof means; deleting it is safe.
#[derive(Clone, Debug)]
pub struct ParamsCache {
    dir: PathBuf,
}

impl ParamsCache {
    /// A cache in `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The documented default location.
    pub fn from_env() -> Self {
        let var = |name| {
            std::env::var_os(name)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        let dir = var("ZKINFER_PARAMS_DIR")
            .or_else(|| var("XDG_CACHE_HOME").map(|d| d.join("zkinfer/params")))
            .or_else(|| var("HOME").map(|d| d.join(".cache/zkinfer/params")))
            .unwrap_or_else(|| PathBuf::from(".zkinfer-params"));
        Self { dir }
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file holding parameters for `k`.
    pub fn path(&self, k: u32) -> PathBuf {
        self.dir.join(format!("ipa-pasta-k{k}.params"))
    }

    /// Parameters for `k`: read from the cache if the file matches the pinned digest, else
    /// generated (and cached when `k` is pinned).
    pub fn get(&self, k: u32) -> Result<Params<EqAffine>, ProveError> {
        self.get_with_status(k).map(|(params, _)| params)
    }

    /// [`ParamsCache::get`], also saying where the parameters came from, so that a front end
    /// can report a replaced (damaged or forged) cache file.
    pub fn get_with_status(&self, k: u32) -> Result<(Params<EqAffine>, ParamsStatus), ProveError> {
        let path = self.path(k);
        let err = |reason: String| ProveError::Params {
            path: path.display().to_string(),
            reason,
        };
        if !(1..=MAX_K).contains(&k) {
            return Err(err(format!("k = {k} is outside 1..={MAX_K}")));
        }
        let Some(pinned) = pinned_digest(k) else {
            return Ok((Params::new(k), ParamsStatus::Unpinned));
        };
        let status = match read_bounded(&path, file_len(k)) {
            Ok(bytes) => match check(&bytes, k, pinned) {
                Ok(params) => return Ok((params, ParamsStatus::Cached)),
                Err(fault) => ParamsStatus::Replaced {
                    reason: fault.to_string(),
                },
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => ParamsStatus::Generated,
            Err(e) => ParamsStatus::Replaced {
                reason: format!("unreadable: {e}"),
            },
        };
        let params = Params::<EqAffine>::new(k);
        // Fresh parameters are checked too: every `k` a run generates proves the pinned
        // table right for this build (CI's tests check the ones they use this way; the
        // whole table is an `--ignored` test, minutes long).
        let mut bytes = Vec::with_capacity(usize::try_from(file_len(k)).unwrap_or(0));
        params.write(&mut bytes).map_err(|e| err(e.to_string()))?;
        let found = digest(&bytes);
        if found != pinned {
            return Err(err(format!(
                "freshly generated parameters of k = {k} hash to {found}, not to the pinned \
                 {pinned}: this build generates other parameters than the ones pinned"
            )));
        }
        fs::create_dir_all(&self.dir).map_err(|e| err(e.to_string()))?;
        write_atomic(&path, |w| w.write_all(&bytes)).map_err(|e| err(e.to_string()))?;
        Ok((params, status))
    }
}

/// The largest `k` this library builds parameters for (the largest circuit it lays out).
pub const MAX_K: u32 = crate::circuit::layout::MAX_K;

/// The length of `k`'s parameter file: `k`, `g` and `g_lagrange` (`2^k` points each), `w`
/// and `u`.
fn file_len(k: u32) -> u64 {
    4 + 64 * (1u64 << k) + 64
}

/// Reads a regular file of exactly `len` bytes (a symlink to `/dev/zero` or a huge file is
/// refused before reading).
fn read_bounded(path: &Path, len: u64) -> std::io::Result<Vec<u8>> {
    let meta = fs::metadata(path)?;
    if !meta.is_file() || meta.len() != len {
        return Err(std::io::Error::other(format!(
            "not a regular file of {len} bytes ({} bytes)",
            meta.len()
        )));
    }
    fs::read(path)
}

/// Why a cache file was not used ([`ParamsStatus::Replaced`] says it).
#[derive(Debug, thiserror::Error)]
enum CacheFault {
    /// Its bytes are not the pinned ones.
    #[error("digest {found} is not the pinned digest {pinned} of k = {k}'s parameters")]
    Digest {
        found: String,
        pinned: String,
        k: u32,
    },
    /// The pinned bytes, yet they do not decode (a library bug, not a file's fault).
    #[error("does not decode: {0}")]
    Decode(std::io::Error),
}

/// Parses `bytes` as `k`'s parameters if they hash to `pinned`.
fn check(bytes: &[u8], k: u32, pinned: &str) -> Result<Params<EqAffine>, CacheFault> {
    let found = digest(bytes);
    if found != pinned {
        return Err(CacheFault::Digest {
            found,
            pinned: pinned.into(),
            k,
        });
    }
    Params::<EqAffine>::read(&mut &bytes[..]).map_err(CacheFault::Decode)
}
