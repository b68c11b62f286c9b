//! The bytes' way to the broker: a non-blocking TCP stream, plain or with
//! TLS (rustls, whose connection object only ever touches the socket when
//! told to, so it never blocks the loop).

use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::path::Path;
use std::sync::Arc;

use mio::net::TcpStream;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore};

/// Plaintext handed to rustls at a time: it buffers until written.
const TLS_CHUNK: usize = 16 * 1024;

/// The TLS client settings: which CAs to trust.
pub fn tls_config(ca: Option<&Path>) -> Result<Arc<ClientConfig>, String> {
    let mut roots = RootCertStore::empty();
    match ca {
        Some(path) => {
            let shown = path.display();
            let file = File::open(path).map_err(|e| format!("reading the CA file {shown}: {e}"))?;
            let certs: Vec<CertificateDer> = CertificateDer::pem_reader_iter(BufReader::new(file))
                .collect::<Result<_, _>>()
                .map_err(|e| format!("reading the CA file {shown}: {e}"))?;
            let (added, _) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(format!(
                    "the CA file {shown} holds no usable certificate: give the CA's certificate \
                     in PEM (-----BEGIN CERTIFICATE-----)"
                ));
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            for e in &found.errors {
                log::debug!("mqtt: reading the system's CA certificates: {e}");
            }
            let (added, _) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                return Err(
                    "mqtts:// needs CA certificates to check the broker, and the system has \
                     none: install ca-certificates, or give --mqtt-ca FILE"
                        .into(),
                );
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("setting up TLS: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// What a read found.
#[derive(Debug, PartialEq, Eq)]
pub enum Received {
    /// Bytes were appended, or none were there; the connection is open.
    Open,
    /// The budget was spent and the socket may hold more: read again on
    /// the next turn (readiness will not say so again).
    More,
    /// The broker closed the connection.
    Closed,
}

/// A connected stream to the broker.
pub enum Transport {
    Plain(TcpStream),
    Tls {
        stream: TcpStream,
        tls: Box<ClientConnection>,
    },
}

impl Transport {
    /// Wraps a connected stream; TLS starts its handshake with the first write.
    pub fn new(
        stream: TcpStream,
        tls: Option<(&Arc<ClientConfig>, &str)>,
    ) -> Result<Transport, String> {
        let Some((config, host)) = tls else {
            return Ok(Transport::Plain(stream));
        };
        let name = ServerName::try_from(host.to_string())
            .map_err(|e| format!("{host} is no name to check a certificate against: {e}"))?;
        let tls = ClientConnection::new(Arc::clone(config), name)
            .map_err(|e| format!("starting TLS: {e}"))?;
        Ok(Transport::Tls {
            stream,
            tls: Box::new(tls),
        })
    }

    pub fn stream(&mut self) -> &mut TcpStream {
        match self {
            Transport::Plain(stream) | Transport::Tls { stream, .. } => stream,
        }
    }

    /// Reads what the socket has, appending plaintext to `into`, until
    /// `into` holds `budget` bytes (a TLS record more at most).
    pub fn read(&mut self, into: &mut Vec<u8>, budget: usize) -> io::Result<Received> {
        let mut buf = [0u8; 4096];
        match self {
            Transport::Plain(stream) => loop {
                if into.len() >= budget {
                    return Ok(Received::More);
                }
                match stream.read(&mut buf) {
                    Ok(0) => return Ok(Received::Closed),
                    Ok(n) => into.extend_from_slice(&buf[..n]),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Received::Open),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            },
            Transport::Tls { stream, tls } => loop {
                if into.len() >= budget {
                    return Ok(Received::More);
                }
                let eof = match tls.read_tls(stream) {
                    Ok(0) => true,
                    Ok(_) => false,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Received::Open),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                };
                tls.process_new_packets()
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("TLS: {e}")))?;
                loop {
                    match tls.reader().read(&mut buf) {
                        Ok(0) => return Ok(Received::Closed),
                        Ok(n) => into.extend_from_slice(&buf[..n]),
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        // Closed without TLS's goodbye: closed all the same.
                        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                            return Ok(Received::Closed);
                        }
                        Err(e) => return Err(e),
                    }
                }
                if eof {
                    return Ok(Received::Closed);
                }
            },
        }
    }

    /// Writes as much of `data` as the socket takes now; returns how much
    /// of it was taken (TLS: handed to rustls, which writes it out first).
    pub fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(stream) => {
                let mut taken = 0;
                while taken < data.len() {
                    match stream.write(&data[taken..]) {
                        Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                        Ok(n) => taken += n,
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(e),
                    }
                }
                Ok(taken)
            }
            Transport::Tls { stream, tls } => {
                let mut taken = 0;
                loop {
                    while tls.wants_write() {
                        match tls.write_tls(stream) {
                            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                            Ok(_) => {}
                            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(taken),
                            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                            Err(e) => return Err(e),
                        }
                    }
                    if taken == data.len() {
                        return Ok(taken);
                    }
                    let end = data.len().min(taken + TLS_CHUNK);
                    match tls.writer().write(&data[taken..end])? {
                        0 => return Ok(taken),
                        n => taken += n,
                    }
                }
            }
        }
    }

    /// TLS that has not finished its handshake: a failure now may mean
    /// the broker does not speak TLS on this port.
    pub fn is_handshaking(&self) -> bool {
        match self {
            Transport::Plain(_) => false,
            Transport::Tls { tls, .. } => tls.is_handshaking(),
        }
    }

    /// TLS records wait for the socket (the handshake, or data).
    pub fn wants_write(&self) -> bool {
        match self {
            Transport::Plain(_) => false,
            Transport::Tls { tls, .. } => tls.wants_write(),
        }
    }

    /// A last, best-effort write and a clean close.
    pub fn close(&mut self, last: &[u8]) {
        let _ = self.write(last);
        if let Transport::Tls { stream, tls } = self {
            tls.send_close_notify();
            let _ = tls.write_tls(stream);
        }
        let _ = self.stream().shutdown(std::net::Shutdown::Both);
    }
}
