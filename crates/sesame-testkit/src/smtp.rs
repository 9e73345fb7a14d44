use mailin_embedded::{AuthMechanism, Handler, Response, Server, SslConfig, response};
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A message as the SMTP server received it.
#[derive(Debug, Clone)]
pub struct ReceivedMail {
    pub from: String,
    pub to: Vec<String>,
    pub raw: Vec<u8>,
}

impl ReceivedMail {
    pub fn parsed(&self) -> mail_parser::Message<'_> {
        mail_parser::MessageParser::default().parse(&self.raw).expect("a parsable message")
    }

    pub fn subject(&self) -> String {
        self.parsed().subject().unwrap_or_default().to_owned()
    }

    pub fn text(&self) -> String {
        self.parsed().body_text(0).map(|t| t.into_owned()).unwrap_or_default()
    }

    pub fn html(&self) -> String {
        self.parsed().body_html(0).map(|t| t.into_owned()).unwrap_or_default()
    }
}

#[derive(Clone)]
struct Collector {
    inbox: Arc<Mutex<Vec<ReceivedMail>>>,
    credentials: Option<(String, String)>,
    current: ReceivedMail,
}

impl Handler for Collector {
    fn data_start(&mut self, _domain: &str, from: &str, _is8bit: bool, to: &[String]) -> Response {
        self.current = ReceivedMail { from: from.to_owned(), to: to.to_vec(), raw: Vec::new() };
        response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.current.raw.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        self.inbox.lock().unwrap().push(self.current.clone());
        response::OK
    }

    fn auth_plain(&mut self, _authz: &str, user: &str, password: &str) -> Response {
        self.check(user, password)
    }

    fn auth_login(&mut self, user: &str, password: &str) -> Response {
        self.check(user, password)
    }

    fn helo(&mut self, _ip: IpAddr, _domain: &str) -> Response {
        response::OK
    }
}

impl Collector {
    fn check(&self, user: &str, password: &str) -> Response {
        match &self.credentials {
            Some((u, p)) if u == user && p == password => response::AUTH_OK,
            _ => response::INVALID_CREDENTIALS,
        }
    }
}

/// A real SMTP server (plain TCP) on a loopback port, serving on a detached thread for the
/// rest of the test process.
#[derive(Debug, Clone)]
pub struct SmtpServer {
    pub addr: SocketAddr,
    inbox: Arc<Mutex<Vec<ReceivedMail>>>,
}

impl SmtpServer {
    /// On a free port.
    pub fn start() -> Self {
        Self::start_on(TcpListener::bind("127.0.0.1:0").expect("bind"), None)
    }

    /// On a free port, offering STARTTLS with a fresh self-signed certificate for 127.0.0.1 and
    /// requiring AUTH with these credentials. Returns the server and the certificate (PEM) a
    /// client must trust.
    pub fn start_tls(credentials: (String, String)) -> (Self, String) {
        crate::install_crypto_provider();
        let cert =
            rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()]).expect("certificate");
        let dir = tempfile::tempdir().expect("temp dir").keep();
        let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
        let cert_pem = cert.cert.pem();
        std::fs::write(&cert_path, &cert_pem).expect("write cert");
        std::fs::write(&key_path, cert.signing_key.serialize_pem()).expect("write key");
        let tls = SslConfig::SelfSigned {
            cert_path: cert_path.to_string_lossy().into_owned(),
            key_path: key_path.to_string_lossy().into_owned(),
        };
        let server = Self::start_with(TcpListener::bind("127.0.0.1:0").expect("bind"), Some(credentials), Some(tls));
        (server, cert_pem)
    }

    /// On a given listener, optionally requiring AUTH with these credentials (AUTH is offered
    /// only over TLS, so use [`SmtpServer::start_tls`] for that).
    pub fn start_on(listener: TcpListener, credentials: Option<(String, String)>) -> Self {
        Self::start_with(listener, credentials, None)
    }

    fn start_with(listener: TcpListener, credentials: Option<(String, String)>, tls: Option<SslConfig>) -> Self {
        let addr = listener.local_addr().expect("local addr");
        let inbox = Arc::new(Mutex::new(Vec::new()));
        let collector = Collector {
            inbox: Arc::clone(&inbox),
            credentials: credentials.clone(),
            current: ReceivedMail { from: String::new(), to: Vec::new(), raw: Vec::new() },
        };
        let mut server = Server::new(collector);
        // One thread per connection: enough for every pooled client connection of a test.
        server.with_name("smtp.test").with_num_threads(16).with_tcp_listener(listener);
        if credentials.is_some() {
            server.with_auth(AuthMechanism::Plain).with_auth(AuthMechanism::Login);
        }
        if let Some(tls) = tls {
            server.with_ssl(tls).expect("TLS configuration");
        }
        std::thread::spawn(move || {
            let _ = server.serve();
        });
        Self { addr, inbox }
    }

    pub fn received(&self) -> Vec<ReceivedMail> {
        self.inbox.lock().unwrap().clone()
    }

    /// Waits (up to 10 s) until at least `n` messages arrived, then returns them all.
    pub fn wait_for(&self, n: usize) -> Vec<ReceivedMail> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let got = self.received();
            if got.len() >= n || Instant::now() > deadline {
                return got;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
