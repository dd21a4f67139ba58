//! A real OCI registry for tests: Debian's `docker-registry` (distribution 2.8), started on
//! 127.0.0.1 with a free port and its own storage folder, plain or with htpasswd auth + TLS (a CA
//! the harness makes with openssl and hands to both engines through their `certs.d` folders,
//! removed again on drop). Uploads are counted from the registry's own request log.
use base64::Engine as _;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running registry; stopped (and its CA removed from the engines) on drop.
pub struct OciRegistry {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub host: String,
    /// Storage, config, certificates and log.
    pub dir: tempfile::TempDir,
    log: PathBuf,
    ca_dirs: Vec<PathBuf>,
    /// `user:password` when started with auth.
    pub login: Option<(String, String)>,
}

/// Whether `docker-registry` is installed; panics under `PACTOWN_REQUIRE_ENGINES=1` when not.
pub fn registry_available() -> bool {
    let ok = Command::new("docker-registry")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok && crate::common::engines_required() {
        panic!("PACTOWN_REQUIRE_ENGINES=1 but `docker-registry` is not installed (apt-get install docker-registry)");
    }
    if !ok {
        eprintln!("skipping: no docker-registry");
    }
    ok
}

fn run(cmd: &mut Command) {
    let o = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(o.status.success(), "{cmd:?}: {}", crate::common::text(&o));
}

impl OciRegistry {
    /// A plain-HTTP registry without auth.
    pub fn plain() -> Self {
        Self::start(false)
    }

    /// A registry with TLS (certificate for 127.0.0.1 from a fresh CA, installed for Docker in
    /// `/etc/docker/certs.d/HOST/ca.crt` and for Podman in `/etc/containers/certs.d/HOST/ca.crt`)
    /// and htpasswd auth for `ci` / a random password.
    pub fn tls_auth() -> Self {
        Self::start(true)
    }

    fn start(secure: bool) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = crate::common::free_port();
        let host = format!("127.0.0.1:{port}");
        let d = dir.path();
        let mut extra = String::new();
        let mut ca_dirs = Vec::new();
        let mut login = None;
        if secure {
            run(Command::new("openssl").current_dir(d).args([
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=pactown test CA",
                "-keyout",
                "ca.key",
                "-out",
                "ca.crt",
            ]));
            run(Command::new("openssl").current_dir(d).args([
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-subj",
                "/CN=127.0.0.1",
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
            ]));
            std::fs::write(d.join("ext.cnf"), "subjectAltName=IP:127.0.0.1\n").unwrap();
            run(Command::new("openssl").current_dir(d).args([
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                "ext.cnf",
                "-out",
                "server.crt",
            ]));
            let password = format!("pw-{}", crate::common::unique("x"));
            run(Command::new("htpasswd")
                .current_dir(d)
                .args(["-Bbc", "htpasswd", "ci", &password]));
            login = Some(("ci".to_string(), password));
            extra = format!(
                "  tls: {{certificate: {0}/server.crt, key: {0}/server.key}}\nauth:\n  htpasswd: {{realm: pactown-test, path: {0}/htpasswd}}\n",
                d.display()
            );
            for root in ["/etc/docker/certs.d", "/etc/containers/certs.d"] {
                if !Path::new(root).exists() {
                    // made by this harness: removed again when empty
                    ca_dirs.push(PathBuf::from(root));
                }
                let folder = Path::new(root).join(&host);
                std::fs::create_dir_all(&folder).unwrap();
                std::fs::copy(d.join("ca.crt"), folder.join("ca.crt")).unwrap();
                ca_dirs.push(folder);
            }
        }
        let config = format!(
            "version: 0.1\nlog: {{level: info, accesslog: {{disabled: false}}}}\nstorage:\n  filesystem: {{rootdirectory: {}/data}}\n  delete: {{enabled: true}}\nhttp:\n  addr: {host}\n  secret: pactown-test\n{extra}",
            d.display()
        );
        std::fs::write(d.join("config.yml"), config).unwrap();
        let log = d.join("registry.log");
        let out = std::fs::File::create(&log).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(d.join("config.yml"))
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .stdin(Stdio::null())
            .spawn()
            .expect("start docker-registry");
        let reg = Self {
            child,
            host,
            dir,
            log,
            ca_dirs,
            login,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(&reg.host).is_err() {
            assert!(
                Instant::now() < deadline,
                "registry did not listen: {}",
                std::fs::read_to_string(&reg.log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        reg
    }

    /// A docker `config.json` with this registry's login, for `--registry-auth-file`.
    pub fn auth_file(&self) -> PathBuf {
        let (user, pass) = self.login.clone().expect("registry without auth");
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
        let path = self.dir.path().join("auth.json");
        std::fs::write(
            &path,
            format!(r#"{{"auths": {{"{}": {{"auth": "{token}"}}}}}}"#, self.host),
        )
        .unwrap();
        path
    }

    /// Bytes of the registry log so far: pass to [`OciRegistry::uploads_since`].
    pub fn mark(&self) -> usize {
        std::fs::read(&self.log).map(|b| b.len()).unwrap_or(0)
    }

    /// Digests of the blobs whose upload completed (`PUT /v2/…/blobs/uploads/…?digest=…` → 201)
    /// after `mark`, in log order.
    pub fn uploads_since(&self, mark: usize) -> Vec<String> {
        let log = std::fs::read(&self.log).unwrap();
        let text = String::from_utf8_lossy(log.get(mark..).unwrap_or_default()).to_string();
        text.lines()
            .filter(|l| l.contains("\"PUT /v2/") && l.contains("/blobs/uploads/"))
            .filter(|l| l.contains("HTTP/1.1\" 201"))
            .filter_map(|l| {
                let at = l.find("digest=sha256%3A")?;
                let hex: String = l[at + "digest=sha256%3A".len()..]
                    .chars()
                    .take_while(char::is_ascii_hexdigit)
                    .collect();
                Some(format!("sha256:{hex}"))
            })
            .collect()
    }

    /// The registry log (for assertion messages).
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// GET a manifest over plain HTTP (plain registries only): (`Docker-Content-Digest`,
    /// config digest, layer digests).
    pub fn manifest(&self, repository: &str, reference: &str) -> (String, String, Vec<String>) {
        let mut s = std::net::TcpStream::connect(&self.host).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
        write!(
            s,
            "GET /v2/{repository}/manifests/{reference} HTTP/1.0\r\nHost: {}\r\nAccept: application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json\r\n\r\n",
            self.host
        )
        .unwrap();
        let mut buf = String::new();
        s.read_to_string(&mut buf).unwrap();
        let (head, body) = buf.split_once("\r\n\r\n").unwrap();
        assert!(
            head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200"),
            "{head}\n{body}"
        );
        let digest = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("docker-content-digest")
                    .then(|| v.trim().to_string())
            })
            .unwrap();
        let m: serde_json::Value = serde_json::from_str(body).unwrap();
        let layers = m["layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["digest"].as_str().unwrap().to_string())
            .collect();
        (
            digest,
            m["config"]["digest"].as_str().unwrap().to_string(),
            layers,
        )
    }
}

impl Drop for OciRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // host folders first, then roots this harness created (only when empty)
        for d in self.ca_dirs.iter().rev() {
            if d.ends_with(&self.host) {
                let _ = std::fs::remove_dir_all(d);
            }
        }
        for d in &self.ca_dirs {
            let _ = std::fs::remove_dir(d);
        }
    }
}
