//! A raw HTTP/1.x client over one TCP connection, for tests that need to
//! see the wire: several requests on one keep-alive connection, broken
//! bytes, and whether (and how) the server closed the connection.

use std::{io, net::SocketAddr, time::Duration};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

/// How long any one read may wait: far longer than a loopback answer takes.
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest response head or body the client accepts.
const MAX_RESPONSE: usize = 16 << 20;

/// One parsed response.
#[derive(Debug, Clone)]
pub struct RawResponse {
    /// The version on the status line (`HTTP/1.1`).
    pub version: String,
    /// The status code.
    pub status: u16,
    /// The headers, names lowercased, in order.
    pub headers: Vec<(String, String)>,
    /// The body (chunked framing removed).
    pub body: Vec<u8>,
}

impl RawResponse {
    /// The first value of header `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// Whether the response says the connection closes after it.
    pub fn closes(&self) -> bool {
        let close = self.header("connection").is_some_and(|v| v.to_ascii_lowercase().contains("close"));
        close
            || (self.version == "HTTP/1.0"
                && !self.header("connection").is_some_and(|v| v.eq_ignore_ascii_case("keep-alive")))
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// How reading a response failed (shown by `Debug` in test failures).
#[derive(Debug)]
#[allow(dead_code, reason = "the fields are read by Debug, in failure messages")]
pub enum ReadFailure {
    /// The connection ended cleanly before any byte of a response.
    Closed,
    /// The connection was reset, or ended inside a response.
    Broken(io::Error),
    /// No answer in [`READ_TIMEOUT`].
    TimedOut,
    /// Bytes that are not an HTTP response.
    Garbled(String),
}

/// One client connection.
pub struct RawConnection {
    stream: TcpStream,
    buffer: Vec<u8>,
}

impl RawConnection {
    /// Connects to `addr`.
    pub async fn connect(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).await.unwrap();
        stream.set_nodelay(true).unwrap();
        Self { stream, buffer: Vec::new() }
    }

    /// Writes `bytes` (a write error is returned: the server may have closed).
    pub async fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes).await
    }

    /// Closes the sending side (the server reads an end of stream).
    pub async fn finish_sending(&mut self) -> io::Result<()> {
        self.stream.shutdown().await
    }

    /// Sends `request` and reads one response.
    pub async fn exchange(&mut self, request: &[u8]) -> Result<RawResponse, ReadFailure> {
        self.send(request).await.map_err(ReadFailure::Broken)?;
        self.read_response().await
    }

    /// Reads one response (skipping `100 Continue` interim ones).
    pub async fn read_response(&mut self) -> Result<RawResponse, ReadFailure> {
        loop {
            let response = self.read_one().await?;
            if response.status != 100 {
                return Ok(response);
            }
        }
    }

    /// Waits for the server to end the connection; `Ok(())` on a clean
    /// close, the error on a reset, and a failure if bytes or nothing come.
    pub async fn expect_end(&mut self) -> Result<(), ReadFailure> {
        if !self.buffer.is_empty() {
            return Err(ReadFailure::Garbled(format!("{} bytes after the response", self.buffer.len())));
        }
        let mut byte = [0u8; 1];
        match tokio::time::timeout(READ_TIMEOUT, self.stream.read(&mut byte)).await {
            Err(_) => Err(ReadFailure::TimedOut),
            Ok(Ok(0)) => Ok(()),
            Ok(Ok(_)) => Err(ReadFailure::Garbled("bytes after a closing response".into())),
            Ok(Err(error)) => Err(ReadFailure::Broken(error)),
        }
    }

    async fn fill(&mut self) -> Result<usize, ReadFailure> {
        if self.buffer.len() > MAX_RESPONSE {
            return Err(ReadFailure::Garbled("response too large".into()));
        }
        let mut chunk = [0u8; 16 * 1024];
        match tokio::time::timeout(READ_TIMEOUT, self.stream.read(&mut chunk)).await {
            Err(_) => Err(ReadFailure::TimedOut),
            Ok(Ok(read)) => {
                self.buffer.extend_from_slice(&chunk[..read]);
                Ok(read)
            }
            Ok(Err(error)) => Err(ReadFailure::Broken(error)),
        }
    }

    /// Reads one response, an interim `100 Continue` included.
    pub async fn read_one(&mut self) -> Result<RawResponse, ReadFailure> {
        let head_end = loop {
            if let Some(at) = find(&self.buffer, b"\r\n\r\n") {
                break at;
            }
            if self.fill().await? == 0 {
                return Err(if self.buffer.is_empty() {
                    ReadFailure::Closed
                } else {
                    ReadFailure::Broken(io::ErrorKind::UnexpectedEof.into())
                });
            }
        };
        let head = String::from_utf8_lossy(&self.buffer[..head_end]).into_owned();
        self.buffer.drain(..head_end + 4);
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let mut words = status_line.splitn(3, ' ');
        let version = words.next().unwrap_or_default().to_owned();
        let status = words
            .next()
            .and_then(|code| code.parse().ok())
            .filter(|_| version.starts_with("HTTP/1."))
            .ok_or_else(|| ReadFailure::Garbled(format!("status line {status_line:?}")))?;
        let headers: Vec<(String, String)> = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
            .collect();
        let mut response = RawResponse { version, status, headers, body: Vec::new() };
        let bodiless = status == 100 || status == 204 || status == 304 || status == 101;
        if bodiless {
            return Ok(response);
        }
        if response.header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
            response.body = self.read_chunked().await?;
        } else if let Some(length) = response.header("content-length") {
            let length: usize =
                length.parse().map_err(|_| ReadFailure::Garbled(format!("content-length {length:?}")))?;
            response.body = self.read_exact(length).await?;
        } else {
            // Delimited by the end of the connection.
            while self.fill().await? > 0 {}
            response.body = std::mem::take(&mut self.buffer);
        }
        Ok(response)
    }

    async fn read_exact(&mut self, length: usize) -> Result<Vec<u8>, ReadFailure> {
        while self.buffer.len() < length {
            if self.fill().await? == 0 {
                return Err(ReadFailure::Broken(io::ErrorKind::UnexpectedEof.into()));
            }
        }
        Ok(self.buffer.drain(..length).collect())
    }

    async fn read_line(&mut self) -> Result<String, ReadFailure> {
        loop {
            if let Some(at) = find(&self.buffer, b"\r\n") {
                let line = String::from_utf8_lossy(&self.buffer[..at]).into_owned();
                self.buffer.drain(..at + 2);
                return Ok(line);
            }
            if self.fill().await? == 0 {
                return Err(ReadFailure::Broken(io::ErrorKind::UnexpectedEof.into()));
            }
        }
    }

    async fn read_chunked(&mut self) -> Result<Vec<u8>, ReadFailure> {
        let mut body = Vec::new();
        loop {
            let line = self.read_line().await?;
            let size = line.split(';').next().unwrap_or_default().trim();
            let size = usize::from_str_radix(size, 16)
                .map_err(|_| ReadFailure::Garbled(format!("chunk size {line:?}")))?;
            if size == 0 {
                // Trailers, up to the empty line.
                while !self.read_line().await?.is_empty() {}
                return Ok(body);
            }
            body.extend(self.read_exact(size).await?);
            self.read_line().await?;
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|window| window == needle)
}

/// A request with a `Content-Length` body.
pub fn with_length(method: &str, path: &str, extra_headers: &str, body: &[u8]) -> Vec<u8> {
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nhost: gateway\r\n{extra_headers}content-length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    request
}

/// A request with a chunked body sent as one chunk (none when empty).
pub fn chunked(method: &str, path: &str, extra_headers: &str, body: &[u8]) -> Vec<u8> {
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nhost: gateway\r\n{extra_headers}transfer-encoding: chunked\r\n\r\n"
    )
    .into_bytes();
    if !body.is_empty() {
        request.extend_from_slice(format!("{:x}\r\n", body.len()).as_bytes());
        request.extend_from_slice(body);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    request
}

/// A plain GET.
pub fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nhost: gateway\r\n\r\n").into_bytes()
}
