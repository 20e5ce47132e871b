//! A loopback port that refuses connections: bound but not listening, and
//! kept bound while the value lives, so no other test can take it meanwhile.

use std::net::SocketAddr;

use tokio::net::TcpSocket;

/// A bound, never-listening socket on 127.0.0.1.
pub struct ClosedPort {
    _socket: TcpSocket,
    addr: SocketAddr,
}

impl ClosedPort {
    /// A fresh port; connecting to it is refused (RST).
    pub fn new() -> Self {
        let socket = TcpSocket::new_v4().expect("a TCP socket");
        socket.bind("127.0.0.1:0".parse().expect("a valid address")).expect("bind a loopback port");
        let addr = socket.local_addr().expect("its address");
        Self { _socket: socket, addr }
    }

    /// Its address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}
