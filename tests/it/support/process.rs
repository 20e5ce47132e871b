//! The `protogate` binary as a user runs it: a long-running command (`demo`,
//! `run`) whose output lines are read as they come, stopped when dropped;
//! and the `curl` lines the README and the demo print, parsed and sent with
//! reqwest (so that the test needs no curl).

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

/// How long a started command may take to print what a test waits for.
const STARTUP: Duration = Duration::from_secs(30);

/// A running `protogate` command; killed when dropped.
pub struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Running {
    /// Starts `protogate demo` with every listener on a port of its choosing.
    pub fn demo() -> Self {
        let loopback = "127.0.0.1:0";
        Self::start(&["demo", "--listen", loopback, "--backend-listen", loopback, "--admin-listen", loopback])
    }

    /// Starts `protogate <args>`, reading stdout and stderr line by line.
    pub fn start(args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_protogate"))
            .args(args)
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (sender, lines) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        for output in [Box::new(stdout) as Box<dyn std::io::Read + Send>, Box::new(stderr)] {
            let sender = sender.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(output).lines().map_while(Result::ok) {
                    if sender.send(strip_ansi(&line)).is_err() {
                        break;
                    }
                }
            });
        }
        Self { child, lines }
    }

    /// The next line for which `wanted` is true (earlier ones are skipped);
    /// panics, with what came, if none comes within the startup time.
    pub fn line_where(&self, wanted: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + STARTUP;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if wanted(&line) => return line,
                Ok(line) => seen.push(line),
                Err(_) => panic!("no such line within {STARTUP:?}; got:\n{}", seen.join("\n")),
            }
        }
    }

    /// The process id (for signals).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process has ended.
    pub fn has_exited(&mut self) -> bool {
        !matches!(self.child.try_wait(), Ok(None))
    }

    /// The lines after the one `wanted` accepts, up to the one `last` accepts
    /// (excluded).
    pub fn lines_between(&self, first: impl Fn(&str) -> bool, last: impl Fn(&str) -> bool) -> Vec<String> {
        self.line_where(first);
        let mut lines = Vec::new();
        loop {
            let line = self.line_where(|_| true);
            if last(&line) {
                return lines;
            }
            lines.push(line);
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The address after `key=` in a log line (`addr=127.0.0.1:8080`).
pub fn logged_addr(line: &str, key: &str) -> String {
    let start =
        line.find(&format!("{key}=")).map(|at| at + key.len() + 1).unwrap_or_else(|| panic!("{line}"));
    line[start..].split_whitespace().next().unwrap().to_owned()
}

fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ ... a final letter.
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// One `curl` command line as the README writes them: `curl -s [-i] [-X
/// METHOD] [-H 'k: v'] URL [--json BODY | -d BODY] [# comment]`.
#[derive(Debug)]
pub struct CurlLine {
    pub text: String,
    pub method: Option<String>,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
    pub json: bool,
    pub comment: String,
}

impl CurlLine {
    /// Parses one line (single quotes as the shell reads them).
    pub fn parse(text: &str) -> Self {
        let (words, comment) = shell_words(text);
        assert_eq!(words.first().map(String::as_str), Some("curl"), "{text}");
        let mut line = CurlLine {
            text: text.to_owned(),
            method: None,
            url: String::new(),
            headers: Vec::new(),
            body: None,
            json: false,
            comment,
        };
        let mut words = words.into_iter().skip(1);
        while let Some(word) = words.next() {
            match word.as_str() {
                "-s" | "-i" | "-si" | "-N" | "-sN" => {}
                "-X" => line.method = words.next(),
                "-H" => {
                    let header = words.next().unwrap();
                    let (name, value) = header.split_once(':').unwrap();
                    line.headers.push((name.trim().to_owned(), value.trim().to_owned()));
                }
                "-d" => line.body = words.next(),
                "--json" => (line.body, line.json) = (words.next(), true),
                flag if flag.starts_with('-') => panic!("unknown curl flag {flag} in {text}"),
                url => line.url = url.to_owned(),
            }
        }
        if !line.url.starts_with("http") {
            line.url = format!("http://{}", line.url);
        }
        line
    }

    /// Sends it as curl would; the status and the body.
    pub async fn send(&self, client: &reqwest::Client) -> (u16, String) {
        let method = match (&self.method, &self.body) {
            (Some(method), _) => method.clone(),
            (None, Some(_)) => "POST".into(),
            (None, None) => "GET".into(),
        };
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = client.request(method, &self.url);
        if let Some(body) = &self.body {
            let content_type =
                if self.json { "application/json" } else { "application/x-www-form-urlencoded" };
            request = request.header("content-type", content_type).body(body.clone());
        }
        for (name, value) in &self.headers {
            request = request.header(name, value);
        }
        let response = request.send().await.unwrap_or_else(|e| panic!("{}: {e}", self.text));
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    }
}

/// The words of a shell line (single and double quotes, no escapes) and
/// its comment.
fn shell_words(text: &str) -> (Vec<String>, String) {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' => {
                let quoted: String = chars.by_ref().take_while(|&q| q != c).collect();
                word.get_or_insert_with(String::new).push_str(&quoted);
            }
            '#' if word.is_none() => return (words, chars.collect::<String>().trim().to_owned()),
            c if c.is_whitespace() => words.extend(word.take()),
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    (words, String::new())
}
