//! A fault-injecting proxy between the SDK and moto. It reads the region and service from the
//! SigV4 credential scope, counts every request per (region, service, operation), and applies
//! the first matching fault rule: an HTTP error, AWS throttling, added latency, or a hang.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fault {
    /// Answer with this HTTP status and a generic error body.
    Status(u16),
    /// Answer as AWS does when a caller goes over its rate.
    Throttle,
    /// Answer 403 as for expired credentials.
    Expired,
    /// Forward after this long.
    Delay(Duration),
    /// Never answer.
    Hang,
    /// Answer with this HTTP status and this error code.
    Code(u16, &'static str),
    /// Forward at once, hold the answer this long: the request is made even when the caller
    /// gave up waiting for it.
    LateAnswer(Duration),
    /// Answer 403 as S3 does to a HeadBucket from a caller that may not list the bucket: the
    /// bucket's region named in `x-amz-bucket-region`.
    BucketDenied(&'static str),
    /// Forward it, then answer this HTTP status instead of what came: the request is carried
    /// out, the caller is told it failed.
    AnsweredWith(u16),
    /// Hold the request until the test releases this gate ([`FaultProxy::release`]), then
    /// forward it: an order made exact, not a delay that a busy emulator may outlast.
    HoldUntil(&'static str),
}

#[derive(Debug, Clone)]
pub struct Rule {
    pub region: String,
    pub service: Option<String>,
    pub operation: Option<String>,
    pub fault: Fault,
    /// How many requests it still applies to; `None` for every one. An operation ending in
    /// `*` matches by prefix.
    pub remaining: Option<u32>,
}

impl Rule {
    /// A fault on every S3 request in `region` the proxy names `operation` (its method and
    /// path, as `POST /BUCKET/?delete`; a `*` at its end matches by prefix), for good.
    pub fn s3(region: &str, operation: String, fault: Fault) -> Rule {
        Rule {
            region: region.into(),
            service: Some("s3".into()),
            operation: Some(operation),
            fault,
            remaining: None,
        }
    }

    /// A fault on one Lambda operation in `region` (`remaining` times, or for good).
    pub fn lambda(region: &str, operation: &str, fault: Fault, remaining: Option<u32>) -> Rule {
        Rule {
            region: region.into(),
            service: Some("lambda".into()),
            operation: Some(operation.into()),
            fault,
            remaining,
        }
    }
}

/// Splits one list answer of moto (which ignores MaxItems and Marker) into pages, as AWS
/// pages it: `size` items per answer, `NextMarker` the offset of the next page.
#[derive(Debug, Clone)]
struct Pages {
    region: String,
    operation: String,
    /// The JSON array to split: "Functions", "Aliases", …
    key: String,
    size: usize,
}

/// Changes an answer's body: (request path, body) → new body.
type Rewrite = Arc<dyn Fn(&str, &str) -> String + Send + Sync>;

/// Computes an answer from a request's body: `Some(body)` is given in moto's place, `None`
/// lets the request through.
type Answer = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// An answer given in place of moto's, as AWS gives it, for an operation moto does not serve.
#[derive(Debug, Clone)]
struct Reply {
    region: String,
    operation: String,
    status: u16,
    body: String,
}

#[derive(Default)]
struct Shared {
    rules: Vec<Rule>,
    /// Rules that let this many matching requests through first.
    after: Vec<(u32, Rule)>,
    pages: Vec<Pages>,
    calls: BTreeMap<(String, String, String), u64>,
    /// The access key ids requests were signed with.
    keys: std::collections::BTreeSet<String>,
    replies: Vec<Reply>,
    /// (region, operation) whose requests are recorded as they pass.
    watched: Vec<(String, String)>,
    rewrites: Vec<(String, String, Rewrite)>,
    answers: Vec<(String, String, Answer)>,
    /// (region, operation) → (path, body) of each request answered by a reply.
    recorded: BTreeMap<(String, String), Vec<(String, String)>>,
    /// (path, x-amz-copy-source, x-amz-copy-source-if-match) of each conditional S3 copy.
    copy_conditions: Vec<(String, String, String)>,
    /// (region, operation, header, value) added to moto's successful answers.
    headers: Vec<(String, String, String, String)>,
    /// Gates released for [`Fault::HoldUntil`].
    released: Vec<String>,
    /// (region, operation, text) whose requests with that text in their body get the fault.
    body_faults: Vec<(String, String, String, Fault)>,
}

#[derive(Clone)]
pub struct FaultProxy {
    pub url: String,
    shared: Arc<Mutex<Shared>>,
}

impl FaultProxy {
    /// Starts a proxy in front of `upstream` on a free loopback port, on its own thread.
    pub fn start(upstream: &str) -> FaultProxy {
        let shared = Arc::new(Mutex::new(Shared::default()));
        let listener =
            std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
        let addr: SocketAddr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("addr: {e}"));
        listener
            .set_nonblocking(true)
            .unwrap_or_else(|e| panic!("nonblocking: {e}"));
        let upstream = upstream.trim_end_matches('/').to_string();
        let state = shared.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap_or_else(|e| panic!("runtime: {e}"));
            rt.block_on(serve(listener, upstream, state));
        });
        FaultProxy {
            url: format!("http://{addr}"),
            shared,
        }
    }

    pub fn add(&self, rule: Rule) {
        self.lock().rules.push(rule);
    }

    /// Lets every request held by [`Fault::HoldUntil`]`(gate)` go on, and the next ones through.
    pub fn release(&self, gate: &str) {
        self.lock().released.push(gate.to_string());
    }

    /// Every fault rule and added header ends: requests pass untouched from now on (the outage
    /// is over).
    pub fn heal(&self) {
        let mut shared = self.lock();
        shared.rules.clear();
        shared.after.clear();
        shared.headers.clear();
        shared.body_faults.clear();
    }

    /// The rule applies once `pass` matching requests have gone through untouched.
    pub fn add_after(&self, pass: u32, rule: Rule) {
        self.lock().after.push((pass, rule));
    }

    /// Lambda's `operation` in `region` answers `size` items of its `key` array per page.
    pub fn paginate(&self, region: &str, operation: &str, key: &str, size: usize) {
        self.lock().pages.push(Pages {
            region: region.to_string(),
            operation: operation.to_string(),
            key: key.to_string(),
            size: size.max(1),
        });
    }

    /// Lambda's `operation` in `region` is answered with `status` and `body` (the newest reply
    /// for it wins), and each such request is recorded for [`FaultProxy::requests`].
    pub fn reply(&self, region: &str, operation: &str, status: u16, body: &str) {
        self.lock().replies.push(Reply {
            region: region.to_string(),
            operation: operation.to_string(),
            status,
            body: body.to_string(),
        });
    }

    /// Requests of `operation` in `region` for which `answer(body)` gives `Some` are answered
    /// with it (as AWS answers what moto cannot) and recorded for [`FaultProxy::requests`];
    /// the others go to moto.
    pub fn answer(
        &self,
        region: &str,
        operation: &str,
        answer: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) {
        self.lock()
            .answers
            .push((region.to_string(), operation.to_string(), Arc::new(answer)));
    }

    /// Every request of `operation` in `region` whose body holds `text` gets `fault` (one
    /// request of several alike: GetMetricData's asking for the aliases' versions, say).
    pub fn fail_when(&self, region: &str, operation: &str, text: &str, fault: Fault) {
        self.lock().body_faults.push((
            region.to_string(),
            operation.to_string(),
            text.to_string(),
            fault,
        ));
    }

    /// Records each request of `operation` in `region` (moto still answers it).
    pub fn watch(&self, region: &str, operation: &str) {
        self.lock()
            .watched
            .push((region.to_string(), operation.to_string()));
    }

    /// (path with query, body) of each request answered by a [`FaultProxy::reply`] or
    /// [`FaultProxy::watch`]ed.
    pub fn requests(&self, region: &str, operation: &str) -> Vec<(String, String)> {
        self.lock()
            .recorded
            .get(&(region.to_string(), operation.to_string()))
            .cloned()
            .unwrap_or_default()
    }

    /// moto's successful answers to `operation` in `region` pass through `change(path, body)`.
    pub fn rewrite(
        &self,
        region: &str,
        operation: &str,
        change: impl Fn(&str, &str) -> String + Send + Sync + 'static,
    ) {
        self.lock()
            .rewrites
            .push((region.to_string(), operation.to_string(), Arc::new(change)));
    }

    /// Every request to `region` fails with `fault` until cleared.
    pub fn fail_region(&self, region: &str, fault: Fault) {
        self.add(Rule {
            region: region.to_string(),
            service: None,
            operation: None,
            fault,
            remaining: None,
        });
    }

    /// Requests seen for (region, service, operation).
    /// Whether any request was signed with this access key id.
    pub fn signed_with(&self, key: &str) -> bool {
        self.lock().keys.contains(key)
    }

    /// moto's successful answers to `operation` in `region` carry `header: value` too (as AWS
    /// marks a function's own failure with X-Amz-Function-Error, which moto never sets).
    pub fn add_header(&self, region: &str, operation: &str, header: &str, value: &str) {
        self.lock().headers.push((
            region.to_string(),
            operation.to_string(),
            header.to_string(),
            value.to_string(),
        ));
    }

    /// (path, copy source, ETag required) of each S3 copy sent with x-amz-copy-source-if-match
    /// (moto ignores the header: what S3 would do with it is for a rule to answer).
    pub fn copy_conditions(&self) -> Vec<(String, String, String)> {
        self.lock().copy_conditions.clone()
    }

    pub fn access_keys(&self) -> Vec<String> {
        self.lock().keys.iter().cloned().collect()
    }

    /// Waits until `operation` has been sent to `service` in `region` (fails after `secs`).
    pub fn wait_for_call(&self, region: &str, service: &str, operation: &str, secs: u64) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        while self.calls(region, service, operation) == 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "no {operation} in {region} within {secs} s"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    pub fn calls(&self, region: &str, service: &str, operation: &str) -> u64 {
        let key = (
            region.to_string(),
            service.to_string(),
            operation.to_string(),
        );
        self.lock().calls.get(&key).copied().unwrap_or(0)
    }

    /// Requests seen for a service in a region, any operation.
    pub fn service_calls(&self, region: &str, service: &str) -> u64 {
        self.lock()
            .calls
            .iter()
            .filter(|((r, s, _), _)| r == region && s == service)
            .map(|(_, n)| n)
            .sum()
    }

    /// Requests seen for a service in a region whose operation satisfies `pick` (S3 requests
    /// are named "METHOD /bucket/key").
    pub fn calls_where(&self, region: &str, service: &str, pick: impl Fn(&str) -> bool) -> u64 {
        self.lock()
            .calls
            .iter()
            .filter(|((r, s, op), _)| r == region && s == service && pick(op))
            .map(|(_, n)| n)
            .sum()
    }

    /// Every count, for messages.
    pub fn all_calls(&self) -> BTreeMap<(String, String, String), u64> {
        self.lock().calls.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|p| p.into_inner())
    }
}

async fn serve(listener: std::net::TcpListener, upstream: String, shared: Arc<Mutex<Shared>>) {
    let listener =
        tokio::net::TcpListener::from_std(listener).unwrap_or_else(|e| panic!("listener: {e}"));
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let client = client.clone();
        let upstream = upstream.clone();
        let shared = shared.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                handle(req, client.clone(), upstream.clone(), shared.clone())
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// (region, service) from `Authorization: AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/SERVICE/aws4_request, …`.
/// The access key id of a SigV4 request (`Credential=KEY/DATE/REGION/SERVICE/aws4_request`).
fn access_key_of(req: &Request<Incoming>) -> String {
    req.headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|a| a.split("Credential=").nth(1))
        .and_then(|c| c.split('/').next())
        .unwrap_or_default()
        .to_string()
}

fn scope_of(req: &Request<Incoming>) -> (String, String) {
    let auth = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let credential = auth
        .split("Credential=")
        .nth(1)
        .and_then(|c| c.split(',').next())
        .unwrap_or_default();
    let parts: Vec<&str> = credential.split('/').collect();
    match parts.as_slice() {
        [_, _, region, service, ..] => (region.to_string(), service.to_string()),
        _ => (String::new(), String::new()),
    }
}

fn operation_of(
    service: &str,
    method: &str,
    path: &str,
    target: Option<&str>,
    body: &[u8],
) -> String {
    if let Some(t) = target {
        return t.rsplit('.').next().unwrap_or(t).to_string();
    }
    let text = String::from_utf8_lossy(body);
    if let Some(action) = text.split('&').find_map(|kv| kv.strip_prefix("Action=")) {
        return action.to_string();
    }
    if service == "lambda" {
        return lambda_operation(method, path);
    }
    if service == "route53" {
        return route53_operation(method, path);
    }
    format!("{method} {path}")
}

/// Route 53's REST paths, named as the SDK names them.
fn route53_operation(method: &str, path: &str) -> String {
    let segments = segments_of(path);
    let name = match (method, segments.as_slice()) {
        ("POST", [_, "hostedzone", _, "rrset"]) => "ChangeResourceRecordSets",
        ("GET", [_, "hostedzone", _, "rrset"]) => "ListResourceRecordSets",
        ("GET", [_, "change", _]) => "GetChange",
        ("GET", [_, "healthcheck", _, "status"]) => "GetHealthCheckStatus",
        _ => return format!("{method} {path}"),
    };
    name.to_string()
}

/// A REST path's segments, without its query.
fn segments_of(path: &str) -> Vec<&str> {
    path.split('?')
        .next()
        .unwrap_or_default()
        .trim_matches('/')
        .split('/')
        .collect()
}

/// Lambda's REST paths, named as the SDK names the operations lops and the tests use.
fn lambda_operation(method: &str, path: &str) -> String {
    let segments = segments_of(path);
    let name = match (method, segments.as_slice()) {
        ("GET", [_, "functions"]) => "ListFunctions",
        ("POST", [_, "functions"]) => "CreateFunction",
        ("GET", [_, "functions", _]) => "GetFunction",
        ("DELETE", [_, "functions", _]) => "DeleteFunction",
        ("GET", [_, "functions", _, "aliases"]) => "ListAliases",
        ("POST", [_, "functions", _, "aliases"]) => "CreateAlias",
        ("GET", [_, "functions", _, "aliases", _]) => "GetAlias",
        ("PUT", [_, "functions", _, "aliases", _]) => "UpdateAlias",
        ("GET", [_, "functions", _, "versions"]) => "ListVersionsByFunction",
        ("POST", [_, "functions", _, "versions"]) => "PublishVersion",
        ("GET", [_, "functions", _, "concurrency"]) => "GetFunctionConcurrency",
        ("PUT", [_, "functions", _, "concurrency"]) => "PutFunctionConcurrency",
        ("GET", [_, "functions", _, "provisioned-concurrency"]) if path.contains("List=ALL") => {
            "ListProvisionedConcurrencyConfigs"
        }
        ("GET", [_, "functions", _, "provisioned-concurrency"]) => {
            "GetProvisionedConcurrencyConfig"
        }
        ("PUT", [_, "functions", _, "provisioned-concurrency"]) => {
            "PutProvisionedConcurrencyConfig"
        }
        ("DELETE", [_, "functions", _, "provisioned-concurrency"]) => {
            "DeleteProvisionedConcurrencyConfig"
        }
        ("POST", [_, "event-source-mappings"]) => "CreateEventSourceMapping",
        ("GET", [_, "event-source-mappings"]) => "ListEventSourceMappings",
        ("DELETE", [_, "event-source-mappings", _]) => "DeleteEventSourceMapping",
        ("GET", [_, "event-source-mappings", _]) => "GetEventSourceMapping",
        ("PUT", [_, "event-source-mappings", _]) => "UpdateEventSourceMapping",
        ("POST", [_, "functions", _, "url"]) => "CreateFunctionUrlConfig",
        ("PUT", [_, "functions", _, "url"]) => "UpdateFunctionUrlConfig",
        ("GET", [_, "functions", _, "url"]) => "GetFunctionUrlConfig",
        ("DELETE", [_, "functions", _, "url"]) => "DeleteFunctionUrlConfig",
        ("PUT", [_, "functions", _, "event-invoke-config"]) => "PutFunctionEventInvokeConfig",
        ("POST", [_, "functions", _, "event-invoke-config"]) => "UpdateFunctionEventInvokeConfig",
        ("GET", [_, "functions", _, "event-invoke-config"]) => "GetFunctionEventInvokeConfig",
        ("DELETE", [_, "functions", _, "event-invoke-config"]) => "DeleteFunctionEventInvokeConfig",
        ("POST", [_, "functions", _, "policy"]) => "AddPermission",
        ("GET", [_, "functions", _, "policy"]) => "GetPolicy",
        ("DELETE", [_, "functions", _, "policy", _]) => "RemovePermission",
        ("POST", [_, "layers", _, "versions"]) => "PublishLayerVersion",
        ("GET", [_, "layers", _, "versions"]) => "ListLayerVersions",
        ("GET", [_, "layers", _, "versions", _]) => "GetLayerVersion",
        ("DELETE", [_, "layers", _, "versions", _]) => "DeleteLayerVersion",
        ("POST", [_, "functions", _, "invocations"]) => "Invoke",
        ("GET", [_, "functions", _, "configuration"]) => "GetFunctionConfiguration",
        ("PUT", [_, "functions", _, "configuration"]) => "UpdateFunctionConfiguration",
        ("GET", [_, "account-settings"]) => "GetAccountSettings",
        ("DELETE", [_, "functions", _, "aliases", _]) => "DeleteAlias",
        ("PUT", [_, "functions", _, "code"]) => "UpdateFunctionCode",
        ("DELETE", [_, "functions", _, "concurrency"]) => "DeleteFunctionConcurrency",
        ("POST", [_, "tags", _]) => "TagResource",
        ("DELETE", [_, "tags", _]) => "UntagResource",
        _ => return format!("{method} {path}"),
    };
    name.to_string()
}

/// The page of `body`'s list that the request's `Marker` (an offset) asks for.
fn page_of(body: &Bytes, pages: &Pages, path: &str) -> Bytes {
    let Ok(mut doc) = serde_json::from_slice::<serde_json::Value>(body) else {
        return body.clone();
    };
    let offset: usize = path
        .split_once('?')
        .map(|(_, q)| q)
        .unwrap_or_default()
        .split('&')
        .find_map(|kv| kv.strip_prefix("Marker="))
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    let Some(items) = doc.get(&pages.key).and_then(|v| v.as_array()).cloned() else {
        return body.clone();
    };
    let end = (offset + pages.size).min(items.len());
    let page: Vec<serde_json::Value> = items
        .get(offset.min(items.len())..end)
        .map(<[serde_json::Value]>::to_vec)
        .unwrap_or_default();
    doc[&pages.key] = serde_json::Value::Array(page);
    if end < items.len() {
        doc["NextMarker"] = serde_json::Value::String(end.to_string());
    } else if let Some(map) = doc.as_object_mut() {
        map.remove("NextMarker");
    }
    Bytes::from(serde_json::to_vec(&doc).unwrap_or_default())
}

fn error_response(service: &str, fault: Fault) -> Response<Full<Bytes>> {
    let (status, code, message) = match fault {
        Fault::Status(s) => (s, "ServiceUnavailable", "injected failure"),
        Fault::Throttle => (
            if service == "lambda" { 429 } else { 400 },
            if service == "lambda" {
                "TooManyRequestsException"
            } else {
                "Throttling"
            },
            "Rate exceeded",
        ),
        Fault::Expired => (
            403,
            "ExpiredTokenException",
            "The security token included in the request is expired",
        ),
        Fault::Delay(_) | Fault::Hang | Fault::LateAnswer(_) | Fault::HoldUntil(_) => {
            (500, "InternalFailure", "unreachable")
        }
        Fault::Code(status, code) => (status, code, "injected failure"),
        Fault::AnsweredWith(status) => (status, "InternalFailure", "injected after it was done"),
        Fault::BucketDenied(_) => (403, "AccessDenied", "Access Denied"),
    };
    let body = if service == "route53" {
        format!(
            "<ErrorResponse xmlns=\"https://route53.amazonaws.com/doc/2013-04-01/\"><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>x</RequestId></ErrorResponse>"
        )
    } else if service == "s3" {
        format!("<Error><Code>{code}</Code><Message>{message}</Message></Error>")
    } else if service == "monitoring" || service == "sts" {
        format!(
            "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>x</RequestId></ErrorResponse>"
        )
    } else {
        format!(r#"{{"__type":"{code}","message":"{message}"}}"#)
    };
    let mut response = Response::builder();
    if let Fault::BucketDenied(region) = fault {
        response = response.header("x-amz-bucket-region", region);
    }
    response
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header("x-amzn-errortype", code)
        .header(
            "content-type",
            if body.starts_with('<') {
                "text/xml"
            } else {
                "application/json"
            },
        )
        .body(Full::new(Bytes::from(body)))
        .unwrap_or_default()
}

async fn handle(
    req: Request<Incoming>,
    client: Client<HttpConnector, Full<Bytes>>,
    upstream: String,
    shared: Arc<Mutex<Shared>>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (region, service) = scope_of(&req);
    let key = access_key_of(&req);
    shared
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .keys
        .insert(key);
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/")
        .to_string();
    let target = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok());
    let operation = operation_of(&service, parts.method.as_str(), &path, target, &body);
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    if let Some(etag) = header("x-amz-copy-source-if-match") {
        shared
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .copy_conditions
            .push((
                path.clone(),
                header("x-amz-copy-source").unwrap_or_default(),
                etag,
            ));
    }
    let fault = {
        let mut s = shared.lock().unwrap_or_else(|p| p.into_inner());
        *s.calls
            .entry((region.clone(), service.clone(), operation.clone()))
            .or_default() += 1;
        let matches = |r: &Rule| {
            r.region == region
                && r.service.as_ref().is_none_or(|x| *x == service)
                && r.operation
                    .as_ref()
                    .is_none_or(|x| match x.strip_suffix('*') {
                        Some(prefix) => operation.starts_with(prefix),
                        None => *x == operation,
                    })
                && r.remaining.is_none_or(|n| n > 0)
        };
        let mut fault = None;
        for (pass, rule) in s.after.iter_mut() {
            if matches(rule) {
                if *pass > 0 {
                    *pass -= 1;
                } else {
                    if let Some(n) = rule.remaining.as_mut() {
                        *n -= 1;
                    }
                    fault = Some(rule.fault);
                }
                break;
            }
        }
        if fault.is_none() {
            let rule = s.rules.iter_mut().find(|r| matches(r));
            fault = rule.map(|r| {
                if let Some(n) = r.remaining.as_mut() {
                    *n -= 1;
                }
                r.fault
            });
        }
        if fault.is_none() {
            let text = String::from_utf8_lossy(&body);
            fault = s
                .body_faults
                .iter()
                .find(|(r, o, t, _)| *r == region && *o == operation && text.contains(t.as_str()))
                .map(|(_, _, _, f)| *f);
        }
        fault
    };
    let (reply, rewrite) = {
        let mut s = shared.lock().unwrap_or_else(|p| p.into_inner());
        let reply = s
            .replies
            .iter()
            .rev()
            .find(|r| r.region == region && r.operation == operation)
            .cloned();
        let watched = s
            .watched
            .iter()
            .any(|(r, o)| *r == region && *o == operation);
        if (reply.is_some() || watched) && fault.is_none() {
            s.recorded
                .entry((region.clone(), operation.clone()))
                .or_default()
                .push((path.clone(), String::from_utf8_lossy(&body).into_owned()));
        }
        let rewrite = s
            .rewrites
            .iter()
            .rev()
            .find(|(r, o, _)| *r == region && *o == operation)
            .map(|(_, _, f)| f.clone());
        (reply, rewrite)
    };
    let pages = {
        let s = shared.lock().unwrap_or_else(|p| p.into_inner());
        s.pages
            .iter()
            .find(|p| p.region == region && service == "lambda" && p.operation == operation)
            .cloned()
    };
    match fault {
        Some(Fault::Hang) => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            return Ok(error_response(&service, Fault::Hang));
        }
        Some(Fault::Delay(d)) => tokio::time::sleep(d).await,
        Some(Fault::HoldUntil(gate)) => {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
            while !(shared.lock().unwrap_or_else(|p| p.into_inner()))
                .released
                .iter()
                .any(|g| g == gate)
                && tokio::time::Instant::now() < deadline
            {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        Some(Fault::LateAnswer(_) | Fault::AnsweredWith(_)) => {}
        Some(f) => return Ok(error_response(&service, f)),
        None => {}
    }
    let answer = {
        let s = shared.lock().unwrap_or_else(|p| p.into_inner());
        s.answers
            .iter()
            .find(|(r, o, _)| *r == region && *o == operation)
            .map(|(_, _, f)| f.clone())
    };
    let text = String::from_utf8_lossy(&body).into_owned();
    if let Some(answer) = answer.and_then(|f| f(&text)) {
        shared
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .recorded
            .entry((region.clone(), operation.clone()))
            .or_default()
            .push((path.clone(), text));
        let xml = answer.starts_with('<');
        return Ok(Response::builder()
            .header(
                "content-type",
                if xml { "text/xml" } else { "application/json" },
            )
            .header("x-amzn-requestid", "lops-test")
            .body(Full::new(Bytes::from(answer)))
            .unwrap_or_default());
    }
    if let Some(r) = reply {
        return Ok(Response::builder()
            .status(StatusCode::from_u16(r.status).unwrap_or(StatusCode::OK))
            .header("content-type", "application/json")
            .header("x-amzn-requestid", "lops-test")
            .body(Full::new(Bytes::from(r.body)))
            .unwrap_or_default());
    }
    let method = parts.method.clone();
    let mut forward = Request::builder()
        .method(parts.method)
        .uri(format!("{upstream}{path}"));
    if !parts.headers.contains_key("authorization") {
        // An unsigned GET, as of a pre-signed code URL: moto routes requests by the credential
        // scope, so name S3 for it (moto does not check signatures).
        forward = forward.header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0",
        );
    }
    for (name, value) in &parts.headers {
        if name != "host" && name != "transfer-encoding" {
            forward = forward.header(name, value);
        }
    }
    let Ok(forward) = forward.body(Full::new(body)) else {
        return Ok(error_response(&service, Fault::Status(502)));
    };
    match client.request(forward).await {
        Ok(resp) => {
            let (mut parts, body) = resp.into_parts();
            let body = body
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            parts.headers.remove("transfer-encoding");
            // The body may be changed below, so its length is set again from it; an answer to
            // HEAD has no body and keeps the object's length, as S3 gives it.
            if method != hyper::Method::HEAD {
                parts.headers.remove("content-length");
            }
            let body = match &pages {
                Some(p) if parts.status.is_success() => page_of(&body, p, &path),
                _ => body,
            };
            let body = match &rewrite {
                Some(change) if parts.status.is_success() => {
                    Bytes::from(change(&path, &String::from_utf8_lossy(&body)))
                }
                _ => body,
            };
            if let Some(Fault::LateAnswer(d)) = fault {
                tokio::time::sleep(d).await;
            }
            if let Some(f @ Fault::AnsweredWith(_)) = fault {
                return Ok(error_response(&service, f));
            }
            if parts.status.is_success() {
                let s = shared.lock().unwrap_or_else(|p| p.into_inner());
                for (r, o, name, value) in &s.headers {
                    if *r == region
                        && *o == operation
                        && let (Ok(name), Ok(value)) = (
                            hyper::header::HeaderName::from_bytes(name.as_bytes()),
                            hyper::header::HeaderValue::from_str(value),
                        )
                    {
                        parts.headers.insert(name, value);
                    }
                }
            }
            Ok(Response::from_parts(parts, Full::new(body)))
        }
        Err(_) => Ok(error_response(&service, Fault::Status(502))),
    }
}
