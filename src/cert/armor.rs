//! The PEM-like armor Tor's directory documents wrap binary objects in (dir-spec §1.2,
//! "Object"): `-----BEGIN <LABEL>-----`, base64 lines, `-----END <LABEL>-----`.
//!
//! Used for `ED25519 CERT` (descriptor certificates), `RSA PUBLIC KEY` (descriptor keys),
//! `RSA PRIVATE KEY` (C tor's `secret_id_key` file) and `CROSSCERT`.
//!
//! Encoding writes 64-character lines with `=` padding, as C tor does. Decoding is as
//! lenient as C tor's `base64_decode`: any line width, padding optional, surrounding
//! whitespace ignored. Deliberately not here: splitting a document into items.

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use zeroize::Zeroizing;

/// Why an armored object could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArmorError {
    /// The `-----BEGIN <LABEL>-----` line is missing or has another label.
    #[error("missing or wrong BEGIN line (wanted {0:?})")]
    BadBegin(&'static str),
    /// The `-----END <LABEL>-----` line is missing or has another label.
    #[error("missing or wrong END line (wanted {0:?})")]
    BadEnd(&'static str),
    /// The body is not valid base64.
    #[error("object body is not valid base64")]
    BadBase64,
    /// Something other than whitespace follows the END line.
    #[error("trailing data after END line")]
    TrailingData,
}

/// Base64 with padding accepted but not required (C tor's decoder accepts both).
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Wraps `der` in `-----BEGIN <label>-----` armor with 64-character base64 lines and a
/// trailing newline.
pub fn encode(label: &str, bytes: &[u8]) -> String {
    let b64 = Zeroizing::new(STANDARD.encode(bytes));
    let mut out = String::with_capacity(b64.len() + b64.len() / 64 + 2 * label.len() + 40);
    out.push_str("-----BEGIN ");
    out.push_str(label);
    out.push_str("-----\n");
    // base64 output is ASCII, so splitting at any byte offset is at a char boundary.
    for chunk in b64.as_bytes().chunks(64) {
        for &c in chunk {
            out.push(char::from(c));
        }
        out.push('\n');
    }
    out.push_str("-----END ");
    out.push_str(label);
    out.push_str("-----\n");
    out
}

/// Reads one armored object with the given label from `text` (leading and trailing
/// whitespace allowed, nothing else) and returns its decoded bytes.
pub fn decode(label: &'static str, text: &str) -> Result<Vec<u8>, ArmorError> {
    let text = text.trim();
    let rest = text
        .strip_prefix("-----BEGIN ")
        .and_then(|r| r.strip_prefix(label))
        .and_then(|r| r.strip_prefix("-----"))
        .ok_or(ArmorError::BadBegin(label))?;
    let end_marker = "-----END ";
    let end_at = rest.find(end_marker).ok_or(ArmorError::BadEnd(label))?;
    let (body, tail) = rest.split_at(end_at);
    let tail = tail
        .strip_prefix(end_marker)
        .and_then(|r| r.strip_prefix(label))
        .and_then(|r| r.strip_prefix("-----"))
        .ok_or(ArmorError::BadEnd(label))?;
    if !tail.trim().is_empty() {
        return Err(ArmorError::TrailingData);
    }
    // The BEGIN line must end right after its dashes.
    if !body.starts_with(['\n', '\r']) {
        return Err(ArmorError::BadBegin(label));
    }
    let compact: Zeroizing<String> =
        Zeroizing::new(body.chars().filter(|c| !c.is_whitespace()).collect());
    LENIENT
        .decode(compact.as_bytes())
        .map_err(|_| ArmorError::BadBase64)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn round_trip_and_wrapping() {
        let data: Vec<u8> = (0..=200u8).collect();
        let s = encode("ED25519 CERT", &data);
        assert!(s.starts_with("-----BEGIN ED25519 CERT-----\n"));
        assert!(s.ends_with("-----END ED25519 CERT-----\n"));
        assert!(s.lines().all(|l| l.len() <= 64));
        assert_eq!(decode("ED25519 CERT", &s).unwrap(), data);
    }

    #[test]
    fn rejects_wrong_labels_and_garbage() {
        let s = encode("CROSSCERT", b"abc");
        assert_eq!(
            decode("ED25519 CERT", &s),
            Err(ArmorError::BadBegin("ED25519 CERT"))
        );
        let bad_end = s.replace("END CROSSCERT", "END OTHER");
        assert_eq!(
            decode("CROSSCERT", &bad_end),
            Err(ArmorError::BadEnd("CROSSCERT"))
        );
        let trailing = format!("{s}x");
        assert_eq!(
            decode("CROSSCERT", &trailing),
            Err(ArmorError::TrailingData)
        );
        let bad = "-----BEGIN CROSSCERT-----\n!!!!\n-----END CROSSCERT-----\n";
        assert_eq!(decode("CROSSCERT", bad), Err(ArmorError::BadBase64));
        // Padding is optional on input.
        let nopad = "-----BEGIN CROSSCERT-----\nYWJj\nZA\n-----END CROSSCERT-----";
        assert_eq!(decode("CROSSCERT", nopad).unwrap(), b"abcd");
    }
}
