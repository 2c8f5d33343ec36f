//! A front-end of your own: controllers over TCP, plugged into the reactor.
//!
//! The reactor serves the daemon's built-in front-ends (stdin/stdout, the
//! config file, the control socket, services' control connections). This
//! program adds one it does not have: every TCP client of a listening
//! socket becomes a controller. The listener and each client are
//! registered with [`Reactor::register`], so the reactor's loop calls back
//! when they are ready; each client is attached with
//! [`Reactor::attach_writer`], so its events go straight to its socket as
//! they are produced.
//!
//! ```text
//! cargo run -p daemonproxy-core --example tcp_frontend -- 127.0.0.1:7070
//! printf 'service.args\tx\tsleep\t1\nservice.start\tx\n' | nc -q 3 127.0.0.1 7070
//! ```
//!
//! Anyone who can connect controls the daemon: bind to loopback, or put
//! an authentication step in front in a real program.

use daemonproxy_core::{ConnId, Interest, Options, Reactor, Readiness, SourceId, Written};
use std::error::Error;
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::rc::Rc;

fn main() {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:7070".into());
    if let Err(e) = run(&addr) {
        eprintln!("tcp_frontend: {e}");
        std::process::exit(1);
    }
}

fn run(addr: &str) -> Result<(), Box<dyn Error>> {
    let mut reactor = Reactor::new(Options::new())?;
    let listener = TcpListener::bind(addr)?;
    eprintln!("controllers welcome on {}", listener.local_addr()?);
    serve(&mut reactor, listener)?;
    let outcome = reactor.run();
    eprintln!("daemon stopped: {outcome}");
    Ok(())
}

/// Makes every client of `listener` a controller of `reactor`.
pub fn serve(reactor: &mut Reactor, listener: TcpListener) -> Result<SourceId, Box<dyn Error>> {
    listener.set_nonblocking(true)?;
    let fd = listener.as_raw_fd();
    // The callback owns the listener: it lives as long as the registration.
    let id = reactor.register(fd, Interest::READABLE, move |reactor, _, _| accept_all(reactor, &listener))?;
    Ok(id)
}

/// Accepts every pending client (readiness is edge-triggered: drain it).
fn accept_all(reactor: &mut Reactor, listener: &TcpListener) {
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                if let Err(e) = attach_client(reactor, stream) {
                    eprintln!("tcp_frontend: client dropped: {e}");
                }
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

/// One client: a controller whose events are written to its socket and
/// whose bytes are its commands.
fn attach_client(reactor: &mut Reactor, stream: TcpStream) -> std::io::Result<()> {
    stream.set_nonblocking(true)?;
    let stream = Rc::new(stream);
    let out = Rc::clone(&stream);
    let conn = reactor.attach_writer(move |bytes| match (&*out).write(bytes) {
        Ok(0) => Written::WouldBlock,
        Ok(n) => Written::Bytes(n),
        Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::Interrupted => Written::WouldBlock,
        Err(_) => Written::Closed,
    });
    let fd = stream.as_raw_fd();
    let mut client = Client { stream, conn, unsent: Vec::new() };
    reactor
        .register(fd, Interest::BOTH, move |reactor, me, ready| client.ready(reactor, me, ready))
        .map(drop)
        .map_err(std::io::Error::other)
}

/// A client's side of the conversation.
struct Client {
    stream: Rc<TcpStream>,
    conn: ConnId,
    /// Bytes received that the controller's input buffer could not take
    /// yet (it takes more once its commands ran).
    unsent: Vec<u8>,
}

impl Client {
    fn ready(&mut self, reactor: &mut Reactor, me: SourceId, ready: Readiness) {
        if ready.writable {
            reactor.writable(self.conn);
        }
        let mut ended = false;
        let mut buf = [0u8; 4096];
        loop {
            match (&*self.stream).read(&mut buf) {
                Ok(0) => {
                    ended = true;
                    break;
                }
                Ok(n) => self.unsent.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(_) => {
                    ended = true;
                    break;
                }
            }
        }
        let taken = reactor.send(self.conn, &self.unsent);
        self.unsent.drain(..taken);
        if ended {
            // The controller's last lines run and its output is written
            // before the connection closes.
            reactor.detach(self.conn);
            let _ = reactor.deregister(me);
        }
    }
}
