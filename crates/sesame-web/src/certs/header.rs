//! The certificate a trusted reverse proxy passes on in a header.

use base64::Engine as _;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;

/// `Client-Cert: :base64-DER:` (RFC 9440), or nginx's URL-escaped PEM.
pub fn parse_header(value: &str) -> Option<Vec<u8>> {
    let value = value.trim();
    if let Some(b64) = value.strip_prefix(':').and_then(|v| v.strip_suffix(':')) {
        return base64::engine::general_purpose::STANDARD.decode(b64).ok();
    }
    let pem = percent_decode(value);
    CertificateDer::from_pem_slice(pem.as_bytes()).ok().map(|c| c.to_vec())
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&text[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
