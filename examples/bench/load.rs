//! Load generators, both measuring latency per request into an HDR
//! histogram:
//!
//! - **closed loop**: C connections, each sending its next request as soon
//!   as the last is answered, for the throughput and CPU rows;
//! - **open loop**: requests at a fixed rate whatever the answers do, each
//!   timed from when it was *due*, so a stall shows up in the tail instead
//!   of quietly slowing the load (no coordinated omission).
//!
//! A run has a warm-up: requests sent before [`Window::measure_from`] are
//! not counted.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use http::{HeaderName, HeaderValue, Method, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use protogate::proto::bench::v1::GetItemRequest;
use protogate::proto::bench::v1::bench_client::BenchClient;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tonic::transport::Channel;

use crate::tls::TlsDialer;

/// When a run counts: from `measure_from` (after the warm-up) to `until`.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub measure_from: Instant,
    pub until: Instant,
}

impl Window {
    /// A warm-up then `seconds` of measurement, starting now.
    pub fn new(warm_up: Duration, seconds: Duration) -> Self {
        let measure_from = Instant::now() + warm_up;
        Self { measure_from, until: measure_from + seconds }
    }
}

/// What a run saw.
#[derive(Debug)]
pub struct Tally {
    /// Latency in nanoseconds.
    pub latency: Histogram<u64>,
    pub non_2xx: u64,
    pub errors: u64,
    /// The first error, to show.
    pub first_error: Option<String>,
}

impl Default for Tally {
    fn default() -> Self {
        Self {
            latency: Histogram::new_with_bounds(1_000, 120_000_000_000, 3).expect("valid histogram bounds"),
            non_2xx: 0,
            errors: 0,
            first_error: None,
        }
    }
}

impl Tally {
    fn record(&mut self, latency: Duration, outcome: Result<bool, String>) {
        self.latency.saturating_record(u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX));
        match outcome {
            Ok(true) => {}
            Ok(false) => self.non_2xx += 1,
            Err(error) => {
                self.errors += 1;
                self.first_error.get_or_insert(error);
            }
        }
    }

    fn absorb(&mut self, other: Tally) {
        let _ = self.latency.add(&other.latency);
        self.non_2xx += other.non_2xx;
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }
}

/// Something that sends one request and says whether the answer was a 2xx.
pub trait Caller: Send + 'static {
    fn call(&mut self) -> impl Future<Output = Result<bool, String>> + Send;
}

/// Runs one caller per connection in a closed loop through `window`.
pub async fn closed_loop<C: Caller>(callers: Vec<C>, window: Window) -> Tally {
    let workers: Vec<_> = callers
        .into_iter()
        .map(|mut caller| {
            tokio::spawn(async move {
                let mut tally = Tally::default();
                loop {
                    let sent = Instant::now();
                    if sent >= window.until {
                        break tally;
                    }
                    let outcome = caller.call().await;
                    if sent >= window.measure_from {
                        tally.record(sent.elapsed(), outcome);
                    }
                }
            })
        })
        .collect();
    let mut total = Tally::default();
    for worker in workers {
        if let Ok(tally) = worker.await {
            total.absorb(tally);
        }
    }
    total
}

/// Sends `rate` requests a second through `window`, each on a clone of `caller`.
pub async fn open_loop<C: Caller + Clone>(caller: C, rate: u32, window: Window) -> Tally {
    let tally = Arc::new(Mutex::new(Tally::default()));
    let mut ticks = tokio::time::interval(Duration::from_secs(1) / rate.max(1));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut in_flight = tokio::task::JoinSet::new();
    loop {
        let due = ticks.tick().await.into_std();
        if due >= window.until {
            break;
        }
        let mut caller = caller.clone();
        let tally = tally.clone();
        in_flight.spawn(async move {
            let outcome = caller.call().await;
            if due >= window.measure_from {
                tally.lock().unwrap_or_else(PoisonError::into_inner).record(due.elapsed(), outcome);
            }
        });
        while in_flight.try_join_next().is_some() {}
    }
    while in_flight.join_next().await.is_some() {}
    Arc::try_unwrap(tally)
        .map_or_else(|_| Tally::default(), |tally| tally.into_inner().unwrap_or_else(PoisonError::into_inner))
}

/// The HTTP request a run repeats.
#[derive(Debug, Clone)]
pub struct HttpCall {
    pub method: Method,
    pub path_and_query: String,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: Bytes,
}

impl HttpCall {
    /// `GET path_and_query`.
    pub fn get(path_and_query: &str) -> Self {
        Self {
            method: Method::GET,
            path_and_query: path_and_query.to_owned(),
            headers: Vec::new(),
            body: Bytes::new(),
        }
    }

    fn request(&self, authority: &str) -> Result<Request<Full<Bytes>>, String> {
        let mut request = Request::builder()
            .method(self.method.clone())
            .uri(format!("http://{authority}{}", self.path_and_query))
            .header(http::header::HOST, authority);
        if !self.body.is_empty() {
            request = request.header(http::header::CONTENT_TYPE, "application/json");
        }
        for (name, value) in &self.headers {
            request = request.header(name, value);
        }
        request.body(Full::new(self.body.clone())).map_err(|error| error.to_string())
    }
}

/// One HTTP/1.1 keep-alive connection of its own, in cleartext or over
/// TLS; reconnects after an error.
pub struct Http1Connection {
    addr: SocketAddr,
    authority: String,
    call: Arc<HttpCall>,
    tls: Option<TlsDialer>,
    sender: Option<hyper::client::conn::http1::SendRequest<Full<Bytes>>>,
}

impl Http1Connection {
    pub fn new(addr: SocketAddr, call: Arc<HttpCall>) -> Self {
        Self { addr, authority: addr.to_string(), call, tls: None, sender: None }
    }

    /// The same over TLS sessions that `tls` opens.
    pub fn over_tls(addr: SocketAddr, call: Arc<HttpCall>, tls: TlsDialer) -> Self {
        Self { tls: Some(tls), ..Self::new(addr, call) }
    }

    async fn connect(&self) -> Result<hyper::client::conn::http1::SendRequest<Full<Bytes>>, String> {
        let stream = TcpStream::connect(self.addr).await.map_err(|error| error.to_string())?;
        let _ = stream.set_nodelay(true);
        match &self.tls {
            None => http1_handshake(stream).await,
            Some(tls) => http1_handshake(tls.connect(stream).await.map_err(|error| error.to_string())?).await,
        }
    }
}

/// An HTTP/1.1 client connection over `io`, driven by a task of its own.
async fn http1_handshake<Io>(io: Io) -> Result<hyper::client::conn::http1::SendRequest<Full<Bytes>>, String>
where
    Io: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(io)).await.map_err(|error| error.to_string())?;
    tokio::spawn(connection);
    Ok(sender)
}

impl Caller for Http1Connection {
    async fn call(&mut self) -> Result<bool, String> {
        let mut sender = match self.sender.take() {
            Some(sender) => sender,
            None => self.connect().await?,
        };
        let request = self.call.request(&self.authority)?;
        let response = sender.send_request(request).await.map_err(|error| error.to_string())?;
        let ok = response.status().is_success();
        response.into_body().collect().await.map_err(|error| error.to_string())?;
        self.sender = Some(sender);
        Ok(ok)
    }
}

/// HTTP/1.1 through a connection pool, for the open loop.
#[derive(Clone)]
pub struct PooledHttp {
    client: Client<HttpConnector, Full<Bytes>>,
    authority: Arc<str>,
    call: Arc<HttpCall>,
}

impl PooledHttp {
    pub fn new(addr: SocketAddr, call: Arc<HttpCall>) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new()).pool_max_idle_per_host(1024).build(connector);
        Self { client, authority: addr.to_string().into(), call }
    }
}

impl PooledHttp {
    /// The answer's status and body.
    async fn send(&self) -> Result<(http::StatusCode, Bytes), String> {
        let request = self.call.request(&self.authority)?;
        let response = self.client.request(request).await.map_err(|error| error.to_string())?;
        let status = response.status();
        let body = response.into_body().collect().await.map_err(|error| error.to_string())?;
        Ok((status, body.to_bytes()))
    }

    /// The body of a 2xx answer; anything else is an error that shows it.
    pub async fn fetch(&self) -> Result<Bytes, String> {
        match self.send().await? {
            (status, body) if status.is_success() => Ok(body),
            (status, body) => Err(format!("{status}: {}", String::from_utf8_lossy(&body))),
        }
    }
}

impl Caller for PooledHttp {
    async fn call(&mut self) -> Result<bool, String> {
        self.send().await.map(|(status, _)| status.is_success())
    }
}

/// `bench.v1.Bench/GetItem` straight to the backend.
#[derive(Clone)]
pub struct GrpcGetItem {
    client: BenchClient<Channel>,
}

impl GrpcGetItem {
    /// A caller on a channel (one HTTP/2 connection) of its own.
    pub async fn connect(addr: SocketAddr) -> anyhow::Result<Self> {
        let channel = Channel::from_shared(format!("http://{addr}"))?.tcp_nodelay(true).connect().await?;
        Ok(Self { client: BenchClient::new(channel) })
    }
}

impl Caller for GrpcGetItem {
    async fn call(&mut self) -> Result<bool, String> {
        let request = GetItemRequest { id: "item-1".into(), view: "full".into() };
        self.client.get_item(request).await.map(|_| true).map_err(|status| status.to_string())
    }
}
