//! Built-in HTTPS (rustls, TLS 1.2 and 1.3) with an optional client certificate.
//!
//! The handshake asks for a client certificate (hinting the configured authorities) but does not
//! judge it: it only checks that the client holds the certificate's key (the CertificateVerify
//! signature). Judging happens in [`crate::certs`], after the handshake, so that an expired or
//! revoked card gets a clear French page instead of a browser's TLS error.

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, Error, ServerConfig, SignatureScheme};
use std::sync::Arc;

use crate::certs::{TlsSettings, Trust};

#[derive(Debug)]
struct DeferredClientAuth {
    hints: Vec<DistinguishedName>,
    provider: Arc<CryptoProvider>,
}

impl ClientCertVerifier for DeferredClientAuth {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &self.hints
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

/// The distinguished names of the configured authorities, as the CertificateRequest lists them
/// (`certificate_authorities`): each a whole DER `Name`, outer SEQUENCE included. webpki's trust
/// anchor keeps only the SEQUENCE's contents; sent as such, OpenSSL clients cannot parse the
/// request ("wrong tag") and abort the handshake, though rustls and Chromium accept it.
fn authority_hints(trust: &Trust) -> Vec<DistinguishedName> {
    trust
        .anchors()
        .iter()
        .filter_map(|der| webpki::anchor_from_trusted_cert(der).ok())
        .map(|anchor| DistinguishedName::in_sequence(&anchor.subject))
        .collect()
}

/// The server configuration: our certificate and key, HTTP/1.1, and the optional client
/// certificate request when client authorities are configured.
pub fn server_config(settings: &TlsSettings, trust: &Trust) -> Result<ServerConfig, String> {
    let (Some(cert_file), Some(key_file)) = (&settings.cert_file, &settings.key_file) else {
        return Err("tls.cert_file and tls.key_file are both required for HTTPS".into());
    };
    let chain = CertificateDer::pem_file_iter(cert_file)
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .map_err(|e| format!("cannot read {}: {e}", cert_file.display()))?;
    let key = PrivateKeyDer::from_pem_file(key_file).map_err(|e| format!("cannot read {}: {e}", key_file.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| e.to_string())?;
    let builder = if trust.anchors().is_empty() {
        builder.with_no_client_auth()
    } else {
        builder.with_client_cert_verifier(Arc::new(DeferredClientAuth { hints: authority_hints(trust), provider }))
    };
    let mut config = builder
        .with_single_cert(chain, key)
        .map_err(|e| format!("the server certificate and key do not match: {e}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use x509_parser::prelude::FromDer as _;

    #[test]
    fn authority_hints_are_whole_der_names_that_openssl_can_parse() {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.distinguished_name.push(rcgen::DnType::CommonName, "IGC Santé");
        params.distinguished_name.push(rcgen::DnType::OrganizationName, "ASIP-SANTE");
        let ca = params.self_signed(&rcgen::KeyPair::generate().expect("key")).expect("ca");
        let trust = Trust::from_anchors(vec![ca.der().clone()]);
        let hints = authority_hints(&trust);
        assert_eq!(hints.len(), 1);
        let (rest, name) = x509_parser::x509::X509Name::from_der(hints[0].as_ref()).expect("a whole DER Name");
        assert!(rest.is_empty());
        assert_eq!(name.to_string(), "CN=IGC Santé, O=ASIP-SANTE");
        // The same bytes as the certificate's own subject field.
        let (_, cert) = x509_parser::parse_x509_certificate(ca.der()).expect("certificate");
        assert_eq!(hints[0].as_ref(), cert.subject().as_raw());
    }
}
