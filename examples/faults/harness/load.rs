//! Steady load: a few clients, each sending in turn a transcoded GET, a
//! transcoded POST, a pass-through GET and a pass-through POST, paced, until
//! told to stop. Every request ends as an [`Outcome`]: a success whose body
//! is checked, a failure with its cause (status and the gateway's message,
//! digits masked so that causes group), or no response at all.

use std::time::{Duration, Instant};

use tokio::sync::watch;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    TranscodedGet,
    TranscodedPost,
    ProxiedGet,
    ProxiedPost,
}

impl Kind {
    const ALL: [Kind; 4] = [Kind::TranscodedGet, Kind::TranscodedPost, Kind::ProxiedGet, Kind::ProxiedPost];

    pub fn is_post(self) -> bool {
        matches!(self, Kind::TranscodedPost | Kind::ProxiedPost)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Result {
    Success,
    /// An answer that is not a success: its cause.
    Failed(String),
    /// No answer (connection error, or nothing within the client's timeout).
    NoResponse(String),
}

#[derive(Debug, Clone)]
pub struct Outcome {
    pub kind: Kind,
    pub id: String,
    pub sent: Instant,
    pub done: Instant,
    pub result: Result,
}

/// How long a client waits for any answer: far beyond every deadline.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(15);

/// Runs `clients` clients against `gateway` (its address), each sending one
/// request every `pace`, until `stop` turns true; returns every outcome.
pub async fn run(
    gateway: String,
    clients: usize,
    pace: Duration,
    stop: watch::Receiver<bool>,
) -> Vec<Outcome> {
    let http = reqwest::Client::builder().timeout(CLIENT_TIMEOUT).build().expect("an HTTP client");
    let mut tasks = Vec::new();
    for client in 0..clients {
        let (http, gateway, mut stop) = (http.clone(), gateway.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut outcomes = Vec::new();
            let mut ticks = tokio::time::interval(pace);
            for seq in 0u64.. {
                tokio::select! {
                    _ = ticks.tick() => {}
                    _ = stop.wait_for(|stop| *stop) => break,
                }
                let kind = Kind::ALL[(seq as usize + client) % Kind::ALL.len()];
                outcomes.push(send(&http, &gateway, kind, format!("{}-{client}-{seq}", prefix(kind))).await);
            }
            outcomes
        }));
    }
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.extend(task.await.expect("a client task"));
    }
    outcomes
}

fn prefix(kind: Kind) -> &'static str {
    if kind.is_post() { "post" } else { "get" }
}

async fn send(http: &reqwest::Client, gateway: &str, kind: Kind, id: String) -> Outcome {
    let sent = Instant::now();
    let request = match kind {
        Kind::TranscodedGet => http.get(format!("http://{gateway}/v1/echo/{id}")),
        Kind::TranscodedPost => {
            http.post(format!("http://{gateway}/v1/echo")).body(format!(r#"{{"id":"{id}"}}"#))
        }
        Kind::ProxiedGet => http.get(format!("http://{gateway}/legacy/get")).header("x-call-id", &id),
        Kind::ProxiedPost => {
            http.post(format!("http://{gateway}/legacy/post")).header("x-call-id", &id).body("payload")
        }
    };
    let result = match request.send().await {
        Err(error) => Result::NoResponse(error.to_string()),
        Ok(response) => {
            let status = response.status().as_u16();
            match response.text().await {
                Err(error) => Result::NoResponse(format!("body: {error}")),
                Ok(text) if status == 200 && answers(kind, &id, &text) => Result::Success,
                Ok(text) => Result::Failed(cause(status, &text)),
            }
        }
    };
    Outcome { kind, id, sent, done: Instant::now(), result }
}

/// Whether a 200's body is the right answer.
fn answers(kind: Kind, id: &str, text: &str) -> bool {
    match kind {
        Kind::TranscodedGet | Kind::TranscodedPost => {
            serde_json::from_str::<serde_json::Value>(text).is_ok_and(|json| json["id"] == id)
        }
        Kind::ProxiedGet | Kind::ProxiedPost => text == "ok",
    }
}

/// `"<status> <message>"`, the message from the JSON error body (or the raw
/// body), digits masked and cut short.
fn cause(status: u16, text: &str) -> String {
    let message = serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|json| json["message"].as_str().map(str::to_owned))
        .unwrap_or_else(|| text.to_owned());
    let masked: String = message.chars().map(|c| if c.is_ascii_digit() { '#' } else { c }).take(90).collect();
    format!("{status} {masked}")
}
