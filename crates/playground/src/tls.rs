//! TLS for the playground: a fresh certificate authority and a serving certificate for
//! 127.0.0.1/localhost per playground, so kubectl sends bearer tokens (client-go sends
//! credentials only over TLS) and clients verify the server as they would a real one.

use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose, SanType};

/// A CA (its PEM goes into the kubeconfig) and a rustls server configuration.
pub struct ServingCert {
    pub ca_pem: String,
    pub server_config: Arc<tokio_rustls::rustls::ServerConfig>,
}

/// A certificate that cannot be made; the cause is kept.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot generate the playground's TLS certificate: {0}")]
    Certificate(#[from] rcgen::Error),
    #[error("cannot generate the playground's TLS certificate: {0}")]
    ServerConfig(#[from] tokio_rustls::rustls::Error),
}

/// Generate a CA and a serving certificate for 127.0.0.1 and localhost.
///
/// # Errors
/// [`TlsError`] when key generation, signing or the server configuration fails.
pub fn generate() -> Result<ServingCert, TlsError> {
    let ca_key = KeyPair::generate()?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(DnType::CommonName, "modelroll-playground-ca");
    ca_params.key_usages =
        vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    let ca_cert = ca_params.self_signed(&ca_key)?;
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let server_key = KeyPair::generate()?;
    let mut params = CertificateParams::new(vec!["localhost".to_string()])?;
    params.subject_alt_names.push(SanType::IpAddress(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST)));
    params.distinguished_name.push(DnType::CommonName, "kube-apiserver");
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let server_cert = params.signed_by(&server_key, &issuer)?;
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let key = tokio_rustls::rustls::pki_types::PrivateKeyDer::Pkcs8(server_key.serialize_der().into());
    let mut config = tokio_rustls::rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(vec![server_cert.der().clone(), ca_cert.der().clone()], key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(ServingCert { ca_pem: ca_cert.pem(), server_config: Arc::new(config) })
}
