//! The `demo.v1.Stream` service: server streams for the gateway's streaming
//! tests. Each stream is produced by a task that sends into a channel of
//! one message, so a message counts as sent only once tonic took the one
//! before it: a slow reader slows the task. The [`StreamProbe`] counts the
//! messages sent and the streams the client cancelled (the channel closed
//! under the task), so a test can watch backpressure and cancellation from
//! the backend's side; it also counts the request messages its client and
//! bidirectional streams received, and the request streams that broke off
//! (reset, not ended) under them.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{Notify, mpsc};
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Code, Request, Response, Status, Streaming};

use crate::proto::demo::v1::stream_server;
use crate::proto::demo::v1::{ChunksRequest, CountReply, CountRequest, FailStreamRequest};
use crate::proto::google::api::HttpBody;

/// The longest delay between two messages honoured.
const MAX_DELAY: Duration = Duration::from_secs(60);
/// The largest padding of a message.
const MAX_PAYLOAD: usize = 1 << 20;

/// What the backend saw of its streams.
#[derive(Debug, Default)]
pub struct StreamProbe {
    sent: AtomicU64,
    cancelled: AtomicU64,
    received: AtomicU64,
    aborted: AtomicU64,
    changed: Notify,
}

impl StreamProbe {
    /// Messages handed to tonic so far, every stream's.
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::SeqCst)
    }

    /// Streams that ended because the client went away.
    pub fn cancelled(&self) -> u64 {
        self.cancelled.load(Ordering::SeqCst)
    }

    /// Request messages received by client and bidirectional streams.
    pub fn received(&self) -> u64 {
        self.received.load(Ordering::SeqCst)
    }

    /// Request streams that broke off with an error instead of ending.
    pub fn aborted(&self) -> u64 {
        self.aborted.load(Ordering::SeqCst)
    }

    /// Waits until a stream is cancelled or a message sent (check the counters again).
    pub async fn changed(&self) {
        self.changed.notified().await;
    }

    fn count_sent(&self) {
        self.sent.fetch_add(1, Ordering::SeqCst);
        self.changed.notify_waiters();
    }

    /// The next request message of `stream`, counted (and a broken-off stream counted).
    async fn receive(&self, stream: &mut Streaming<CountReply>) -> Result<Option<CountReply>, Status> {
        let next = stream.message().await;
        match &next {
            Ok(Some(_)) => self.received.fetch_add(1, Ordering::SeqCst),
            Ok(None) => 0,
            Err(_) => self.aborted.fetch_add(1, Ordering::SeqCst),
        };
        self.changed.notify_waiters();
        next
    }

    fn count_cancelled(&self) {
        self.cancelled.fetch_add(1, Ordering::SeqCst);
        self.changed.notify_waiters();
    }
}

/// The Stream service.
#[derive(Debug, Default)]
pub struct StreamService {
    probe: Arc<StreamProbe>,
}

impl StreamService {
    /// A service reporting to `probe`.
    pub fn new(probe: Arc<StreamProbe>) -> Self {
        Self { probe }
    }

    /// A stream fed by `produce`, which sends through the [`Sender`] it is given.
    fn stream<T, F, Fut>(&self, produce: F) -> ReplyStream<T>
    where
        T: Send + 'static,
        F: FnOnce(Sender<T>) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let (tx, rx) = mpsc::channel(1);
        tokio::spawn(produce(Sender { tx, probe: self.probe.clone() }));
        Box::pin(ReceiverStream::new(rx))
    }
}

/// A reply stream.
type ReplyStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

/// The sending end of one stream.
struct Sender<T> {
    tx: mpsc::Sender<Result<T, Status>>,
    probe: Arc<StreamProbe>,
}

impl<T> Sender<T> {
    /// Sends one item; false (and the cancellation counted) when the client went away.
    async fn send(&self, item: Result<T, Status>) -> bool {
        if self.tx.send(item).await.is_err() {
            self.probe.count_cancelled();
            return false;
        }
        self.probe.count_sent();
        true
    }

    /// Waits `delay`, or returns false (the cancellation counted) if the client goes away first.
    async fn pause(&self, delay: Duration) -> bool {
        tokio::select! {
            () = tokio::time::sleep(delay) => true,
            () = self.tx.closed() => {
                self.probe.count_cancelled();
                false
            }
        }
    }
}

fn reply(index: i32, last_event_id: &str, payload: &str) -> CountReply {
    CountReply {
        index,
        cursor: format!("cursor-{index}"),
        last_event_id: last_event_id.to_owned(),
        payload: payload.to_owned(),
    }
}

fn last_event_id<T>(request: &Request<T>) -> String {
    request.metadata().get("last-event-id").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
}

#[tonic::async_trait]
impl stream_server::Stream for StreamService {
    type CountStream = ReplyStream<CountReply>;
    type FailAfterTwoStream = ReplyStream<CountReply>;
    type DownloadChunksStream = ReplyStream<HttpBody>;
    type ChatStream = ReplyStream<CountReply>;

    async fn count(&self, request: Request<CountRequest>) -> Result<Response<Self::CountStream>, Status> {
        let resumed = last_event_id(&request);
        let request = request.into_inner();
        let delay = Duration::from_millis(request.delay_millis.max(0) as u64).min(MAX_DELAY);
        let payload = "x".repeat((request.payload_bytes.max(0) as usize).min(MAX_PAYLOAD));
        Ok(Response::new(self.stream(move |tx| async move {
            for index in 0..request.count {
                if index > 0 && !delay.is_zero() && !tx.pause(delay).await {
                    return;
                }
                if !tx.send(Ok(reply(index, &resumed, &payload))).await {
                    return;
                }
            }
        })))
    }

    async fn fail_after_two(
        &self,
        request: Request<FailStreamRequest>,
    ) -> Result<Response<Self::FailAfterTwoStream>, Status> {
        let request = request.into_inner();
        let code = match request.code {
            1..=16 => Code::from(request.code),
            _ => Code::Internal,
        };
        if request.before_first {
            return Err(Status::new(code, "failed before the first message"));
        }
        Ok(Response::new(self.stream(move |tx| async move {
            for index in 0..2 {
                if !tx.send(Ok(reply(index, "", ""))).await {
                    return;
                }
            }
            tx.send(Err(Status::new(code, "failed after two messages"))).await;
        })))
    }

    async fn download_chunks(
        &self,
        request: Request<ChunksRequest>,
    ) -> Result<Response<Self::DownloadChunksStream>, Status> {
        let request = request.into_inner();
        Ok(Response::new(self.stream(move |tx| async move {
            for index in 0..request.chunks.max(1) {
                let content_type = if index == 0 { "text/plain" } else { "" };
                let chunk = HttpBody {
                    content_type: content_type.into(),
                    data: format!("{} part {index}\n", request.name).into_bytes(),
                    extensions: Vec::new(),
                };
                if !tx.send(Ok(chunk)).await {
                    return;
                }
            }
        })))
    }

    async fn sum(&self, request: Request<Streaming<CountReply>>) -> Result<Response<CountReply>, Status> {
        let mut stream = request.into_inner();
        let mut total = 0i32;
        while let Some(message) = self.probe.receive(&mut stream).await? {
            total = total.saturating_add(message.index);
        }
        Ok(Response::new(reply(total, "", "")))
    }

    async fn chat(
        &self,
        request: Request<Streaming<CountReply>>,
    ) -> Result<Response<Self::ChatStream>, Status> {
        let mut stream = request.into_inner();
        let probe = self.probe.clone();
        Ok(Response::new(self.stream(move |tx| async move {
            loop {
                let item = match probe.receive(&mut stream).await {
                    Ok(Some(message)) => Ok(message),
                    Ok(None) => return,
                    Err(status) => Err(status),
                };
                if !tx.send(item).await {
                    return;
                }
            }
        })))
    }
}
