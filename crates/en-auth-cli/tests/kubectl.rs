//! `en-auth token --format exec-credential` as the credential plugin of the real `kubectl`
//! (Debian's `kubernetes-client`, installed by `cargo xtask peers install`; these tests **fail**
//! when it is missing): kubectl runs the plugin from a kubeconfig's `exec` entry and calls a
//! loopback HTTPS Kubernetes API (a self-signed certificate made with the `openssl` command)
//! that answers only with the token the testkit's OAuth2 emulator issued.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use common::{Sandbox, BIN};
use en_auth_testkit::OAuthServer;
use serde_json::{json, Value};
use tokio_rustls::rustls;

const SECRET: &str = "kube-s3cr+t with space";
const PODS: &str = "/api/v1/namespaces/default/pods";
const V1: &str = "client.authentication.k8s.io/v1";
const V1BETA1: &str = "client.authentication.k8s.io/v1beta1";

/// A Kubernetes API server on loopback, over TLS: `GET /api/v1/namespaces/default/pods`
/// answers an empty `PodList` when the bearer token is one the OAuth2 emulator issued (its
/// protected resource is asked), else `401` with a `Status`, as the API server does.
struct KubeApi {
    addr: SocketAddr,
    ca: PathBuf,
    seen: Arc<Seen>,
    _task: tokio::task::JoinHandle<()>,
}

#[derive(Default)]
struct Seen {
    authorized: AtomicU64,
    refused: AtomicU64,
}

struct ApiState {
    resource: String,
    http: reqwest::Client,
    seen: Arc<Seen>,
}

impl KubeApi {
    async fn start(oauth: &OAuthServer, dir: &Path) -> Self {
        let (cert, key) = self_signed_certificate(dir);
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert], key)
            .unwrap();
        let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = tcp.local_addr().unwrap();
        let listener = TlsListener {
            tcp,
            acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
        };
        let seen = Arc::new(Seen::default());
        let state = Arc::new(ApiState {
            resource: oauth.resource_url(),
            http: reqwest::Client::new(),
            seen: seen.clone(),
        });
        let app = Router::new().route(PODS, get(pods)).with_state(state);
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            addr,
            ca: dir.join("api.pem"),
            seen,
            _task: task,
        }
    }

    fn authorized(&self) -> u64 {
        self.seen.authorized.load(Ordering::SeqCst)
    }

    fn refused(&self) -> u64 {
        self.seen.refused.load(Ordering::SeqCst)
    }
}

async fn pods(State(state): State<Arc<ApiState>>, headers: HeaderMap) -> impl IntoResponse {
    let mut valid = false;
    if let Some(authorization) = headers.get(header::AUTHORIZATION) {
        // The emulator's resource judges the token: issued by it, unexpired, not revoked.
        let answer = state
            .http
            .get(&state.resource)
            .header(header::AUTHORIZATION, authorization)
            .send()
            .await
            .unwrap();
        valid = authorization.as_bytes().starts_with(b"Bearer ") && answer.status() == 200;
    }
    if valid {
        state.seen.authorized.fetch_add(1, Ordering::SeqCst);
        let list = json!({"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": "1"}, "items": []});
        (StatusCode::OK, axum::Json(list))
    } else {
        state.seen.refused.fetch_add(1, Ordering::SeqCst);
        let status = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": "Unauthorized", "reason": "Unauthorized", "code": 401});
        (StatusCode::UNAUTHORIZED, axum::Json(status))
    }
}

/// A TCP listener handing axum TLS streams (the handshake done in `accept`, one at a time:
/// enough for kubectl).
struct TlsListener {
    tcp: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((stream, addr)) = self.tcp.accept().await else {
                continue;
            };
            if let Ok(tls) = self.acceptor.accept(stream).await {
                return (tls, addr);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

/// A self-signed P-256 certificate for 127.0.0.1 (`api.pem`, also the kubeconfig's
/// certificate authority) and its key, made by the `openssl` command in `dir`.
fn self_signed_certificate(
    dir: &Path,
) -> (
    rustls::pki_types::CertificateDer<'static>,
    rustls::pki_types::PrivateKeyDer<'static>,
) {
    use rustls::pki_types::pem::PemObject;
    let output = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
        .args(["ec_paramgen_curve:P-256", "-nodes", "-days", "2"])
        .args([
            "-keyout",
            "api.key",
            "-out",
            "api.pem",
            "-subj",
            "/CN=127.0.0.1",
        ])
        .args(["-addext", "subjectAltName=IP:127.0.0.1"])
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run openssl (`cargo xtask peers install`): {e}"));
    assert!(
        output.status.success(),
        "openssl failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let cert = rustls::pki_types::CertificateDer::from_pem_file(dir.join("api.pem")).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::from_pem_file(dir.join("api.key")).unwrap();
    (cert, key)
}

/// How the kubeconfig's `exec` entry runs en-auth.
struct Plugin<'a> {
    api_version: &'a str,
    interactive_mode: &'a str,
    /// `CLIENT_SECRET` in the entry's `env`, if any.
    secret: Option<&'a str>,
}

/// The sandbox of a test: the OAuth2 emulator's environment `dev`, the API server, and a
/// kubeconfig (JSON, which is YAML) per plugin setting.
struct Cluster {
    oauth: OAuthServer,
    api: KubeApi,
    sandbox: Sandbox,
}

impl Cluster {
    async fn start(tag: &str) -> Self {
        let oauth = OAuthServer::builder().client("svc", SECRET).start().await;
        let sandbox = Sandbox::new(
            tag,
            &format!("[dev]\ntoken_url = \"{}\"\n", oauth.token_url()),
        );
        std::fs::create_dir(sandbox.root().join("home")).unwrap();
        let api = KubeApi::start(&oauth, sandbox.root()).await;
        Self {
            oauth,
            api,
            sandbox,
        }
    }

    fn kubeconfig(&self, plugin: &Plugin<'_>) -> PathBuf {
        let mut env = vec![
            json!({"name": "CLIENT_ID", "value": "svc"}),
            json!({"name": "EN_AUTH_ENVIRONMENTS", "value": self.sandbox.environments()}),
            json!({"name": "EN_AUTH_CACHE_DIR", "value": self.sandbox.cache()}),
        ];
        if let Some(secret) = plugin.secret {
            env.push(json!({"name": "CLIENT_SECRET", "value": secret}));
        }
        let config = json!({
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "test", "cluster": {
                "server": format!("https://{}", self.api.addr),
                "certificate-authority": self.api.ca,
            }}],
            "users": [{"name": "svc", "user": {"exec": {
                "apiVersion": plugin.api_version,
                "command": BIN,
                "args": ["token", "--env", "dev", "--format", "exec-credential"],
                "env": env,
                "interactiveMode": plugin.interactive_mode,
            }}}],
            "contexts": [{"name": "test", "context": {"cluster": "test", "user": "svc"}}],
            "current-context": "test",
        });
        let path = self.sandbox.root().join(format!(
            "kubeconfig-{}-{}.json",
            plugin.api_version.rsplit('/').next().unwrap(),
            plugin.interactive_mode
        ));
        std::fs::write(&path, config.to_string()).unwrap();
        path
    }

    /// `kubectl get --raw /api/v1/namespaces/default/pods` with `kubeconfig`, in a clean
    /// environment (no CLIENT_SECRET or the like inherited), stdin not a terminal, off the
    /// runtime (the API server and the emulator keep serving).
    async fn kubectl(&self, kubeconfig: &Path) -> Output {
        let mut command = Command::new("kubectl");
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.sandbox.root().join("home"))
            .env("KUBECONFIG", kubeconfig)
            .args(["get", "--raw", PODS, "--request-timeout", "20s"])
            .stdin(Stdio::null());
        tokio::task::spawn_blocking(move || command.output())
            .await
            .unwrap()
            .unwrap_or_else(|e| {
                panic!("cannot run kubectl (Debian's kubernetes-client: `cargo xtask peers install`): {e}")
            })
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Asserts kubectl listed the pods; gives its stderr.
#[track_caller]
fn listed(output: &Output) -> String {
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert!(
        output.status.success(),
        "kubectl failed ({})\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        output.status
    );
    let list: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(list["kind"], "PodList", "{stdout}");
    stderr
}

/// Asserts kubectl failed before reaching the API; gives the `en-auth:` line of its stderr.
#[track_caller]
fn failed(output: &Output, api: &KubeApi) -> String {
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert!(!output.status.success(), "kubectl succeeded:\n{stdout}");
    assert_eq!(stdout, "", "{stderr}");
    assert_eq!(api.authorized(), 0, "{stderr}");
    assert!(!stderr.contains(SECRET), "{stderr}");
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("en-auth:"))
        .collect();
    // kubectl may run the plugin twice (once more after the first failure); each says one line.
    assert!(!lines.is_empty(), "no en-auth line in:\n{stderr}");
    assert!(lines.iter().all(|l| *l == lines[0]), "{stderr}");
    lines[0].to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_v1_gets_pods_with_the_token_and_reuses_it() {
    let cluster = Cluster::start("kubectl-v1").await;
    let kubeconfig = cluster.kubeconfig(&Plugin {
        api_version: V1,
        interactive_mode: "Never",
        secret: Some(SECRET),
    });
    let stderr = listed(&cluster.kubectl(&kubeconfig).await);
    assert!(!stderr.contains(SECRET), "{stderr}");
    assert_eq!(cluster.api.authorized(), 1);
    assert_eq!(cluster.api.refused(), 0);
    assert_eq!(cluster.oauth.token_requests(), 1);

    // A second kubectl: the plugin answers from its cache, no token request.
    listed(&cluster.kubectl(&kubeconfig).await);
    assert_eq!(cluster.api.authorized(), 2);
    assert_eq!(cluster.oauth.token_requests(), 1);
    assert_eq!(cluster.sandbox.cache_files().len(), 1);
}

/// A kubeconfig naming `v1beta1` gets an answer in `v1beta1` (kubectl refuses any other).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_v1beta1_gets_pods() {
    let cluster = Cluster::start("kubectl-v1beta1").await;
    for mode in ["Never", "IfAvailable"] {
        let kubeconfig = cluster.kubeconfig(&Plugin {
            api_version: V1BETA1,
            interactive_mode: mode,
            secret: Some(SECRET),
        });
        listed(&cluster.kubectl(&kubeconfig).await);
    }
    assert_eq!(cluster.api.authorized(), 2);
    assert_eq!(cluster.api.refused(), 0);
    assert_eq!(cluster.oauth.token_requests(), 1);
}

/// A wrong client secret on a cold cache: kubectl fails, showing en-auth's one line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_secret_fails_kubectl_with_the_plugins_line() {
    let cluster = Cluster::start("kubectl-rejected").await;
    let kubeconfig = cluster.kubeconfig(&Plugin {
        api_version: V1,
        interactive_mode: "Never",
        secret: Some("wrong-secret"),
    });
    let output = cluster.kubectl(&kubeconfig).await;
    let line = failed(&output, &cluster.api);
    for part in [
        "client `svc`",
        "`dev`",
        cluster.oauth.token_url().as_str(),
        "client authentication failed",
    ] {
        assert!(line.contains(part), "{part}: {line}");
    }
    assert!(!text(&output.stderr).contains("wrong-secret"));
    // kubectl names the plugin's exit code, 4.
    assert!(
        text(&output.stderr).contains("exit status 4")
            || text(&output.stderr).contains("exit code 4"),
        "{}",
        text(&output.stderr)
    );
    assert!(cluster.sandbox.cache_files().is_empty());
}

/// No secret anywhere, and kubectl says `spec.interactive: false` (`Never`, or `IfAvailable`
/// without a terminal): en-auth asks nothing and exits 6 at once, saying why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_and_no_interaction_fails_at_once() {
    let cluster = Cluster::start("kubectl-interactive").await;
    for mode in ["Never", "IfAvailable"] {
        let kubeconfig = cluster.kubeconfig(&Plugin {
            api_version: V1,
            interactive_mode: mode,
            secret: None,
        });
        let output = cluster.kubectl(&kubeconfig).await;
        let line = failed(&output, &cluster.api);
        assert!(line.contains("the client secret is needed"), "{line}");
        assert!(line.contains("CLIENT_SECRET"), "{line}");
        assert!(line.contains("spec.interactive false"), "{line}");
        let stderr = text(&output.stderr);
        assert!(
            stderr.contains("exit status 6") || stderr.contains("exit code 6"),
            "{stderr}"
        );
    }
    assert_eq!(cluster.oauth.token_requests(), 0);
}

/// `KUBERNETES_EXEC_INFO` naming a version en-auth does not speak: exit 3 before any token
/// request, one line naming the versions it answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_exec_credential_version_is_a_configuration_error() {
    let cluster = Cluster::start("kubectl-version").await;
    let line = cluster
        .sandbox
        .cmd(["token", "--env", "dev", "--format", "exec-credential"])
        .env("CLIENT_ID", "svc")
        .env("CLIENT_SECRET", SECRET)
        .env(
            "KUBERNETES_EXEC_INFO",
            r#"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1alpha1","spec":{"interactive":false}}"#,
        )
        .run()
        .await
        .fails_with(3);
    assert!(
        line.contains("client.authentication.k8s.io/v1alpha1"),
        "{line}"
    );
    assert!(line.contains(V1) && line.contains(V1BETA1), "{line}");
    assert_eq!(cluster.oauth.token_requests(), 0);
}

/// `--client-secret-file -` under kubectl's `spec.interactive: false`: its stdin is not passed
/// on, so reading it would send an empty secret; exit 3, saying so, before any token request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_from_stdin_is_refused_when_kubectl_passes_none() {
    let cluster = Cluster::start("kubectl-stdin").await;
    let line = cluster
        .sandbox
        .cmd([
            "token",
            "--env",
            "dev",
            "--client-secret-file",
            "-",
            "--format",
            "exec-credential",
        ])
        .env("CLIENT_ID", "svc")
        .env(
            "KUBERNETES_EXEC_INFO",
            format!(
                r#"{{"kind":"ExecCredential","apiVersion":"{V1}","spec":{{"interactive":false}}}}"#
            ),
        )
        .run()
        .await
        .fails_with(3);
    assert!(line.contains("--client-secret-file -"), "{line}");
    assert!(line.contains("spec.interactive false"), "{line}");
    assert_eq!(cluster.oauth.token_requests(), 0);
}

/// `spec.interactive: false` forbids prompts even when stdin is a terminal (a pseudo-terminal
/// from util-linux's `script`): exit 6 with the reason — where, allowed to, en-auth asks for the
/// secret on that terminal (the control, killed once the prompt shows).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_interactive_means_no_prompt_even_on_a_terminal() {
    let cluster = Cluster::start("kubectl-tty").await;
    let on_a_terminal = |interactive: bool| {
        cluster
            .sandbox
            .sh(r#"exec script -qec "$EN_AUTH token --env dev --format exec-credential" /dev/null"#)
            .env("CLIENT_ID", "svc")
            .env(
                "KUBERNETES_EXEC_INFO",
                format!(
                    r#"{{"kind":"ExecCredential","apiVersion":"{V1}","spec":{{"interactive":{interactive}}}}}"#
                ),
            )
    };
    // The control: allowed to, it asks on the terminal (and would wait for an answer).
    let (asked, _) = until_prompt_or_end(on_a_terminal(true).into_command()).await;
    assert!(asked.contains(PROMPT), "{asked}");

    let (out, code) = until_prompt_or_end(on_a_terminal(false).into_command()).await;
    // The terminal carries stdout and stderr both: the one line, and no prompt.
    assert!(!out.contains(PROMPT), "{out}");
    assert_eq!(code, Some(6), "{out}");
    assert_eq!(out.trim_end().lines().count(), 1, "{out}");
    assert!(out.contains("spec.interactive false"), "{out}");
    assert_eq!(cluster.oauth.token_requests(), 0);
}

const PROMPT: &str = "Client secret of `svc`";

/// Runs `command` (off the runtime), reading its stdout until it ends or shows [`PROMPT`]
/// (then it is killed: it would wait for an answer); what it printed, and its exit code if it
/// ended by itself.
async fn until_prompt_or_end(mut command: Command) -> (String, Option<i32>) {
    command.stdout(Stdio::piped());
    tokio::task::spawn_blocking(move || {
        use std::io::Read;
        let mut child = command.spawn().expect("run script (util-linux)");
        let mut stdout = child.stdout.take().unwrap();
        let mut seen = Vec::new();
        let mut chunk = [0_u8; 256];
        loop {
            if text(&seen).contains(PROMPT) {
                let _ = child.kill();
                let _ = child.wait();
                return (text(&seen), None);
            }
            match stdout.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => seen.extend_from_slice(&chunk[..n]),
            }
        }
        (text(&seen), child.wait().unwrap().code())
    })
    .await
    .unwrap()
}
