//! The TCP front-end example (`examples/tcp_frontend.rs`) run as a test: a
//! client on loopback defines and starts a service through the reactor,
//! sees it go up and down, and gets its `echo` answered.
//!
//! A reactor reaps every child of the process and one exists at a time,
//! so this test binary holds exactly one test.

#[allow(dead_code)]
#[path = "../examples/tcp_frontend.rs"]
mod tcp_frontend;

use daemonproxy_core::{Options, Reactor};
use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::time::{Duration, Instant};

#[test]
fn a_tcp_client_controls_the_daemon() {
    let mut reactor = Reactor::new(Options::new()).expect("reactor");
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().unwrap();
    tcp_frontend::serve(&mut reactor, listener).expect("serve");

    let client = std::thread::spawn(move || -> Result<Vec<String>, String> {
        let mut s = TcpStream::connect(addr).map_err(|e| e.to_string())?;
        s.set_read_timeout(Some(Duration::from_secs(10))).map_err(|e| e.to_string())?;
        s.write_all(b"service.args\tfive\tsh\t-c\texit 5\nservice.start\tfive\n").map_err(|e| e.to_string())?;
        let mut lines = Vec::new();
        let mut reader = BufReader::new(s.try_clone().map_err(|e| e.to_string())?);
        let mut sent_echo = false;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).map_err(|e| format!("{e} after {lines:?}"))? == 0 {
                return Err(format!("connection closed after {lines:?}"));
            }
            let line = line.trim_end_matches('\n').to_string();
            let done = line == "bye";
            if line.starts_with("service.state\tfive\tdown\t") && !sent_echo {
                s.write_all(b"echo\tbye\n").map_err(|e| e.to_string())?;
                sent_echo = true;
            }
            lines.push(line);
            if done {
                s.shutdown(Shutdown::Write).map_err(|e| e.to_string())?;
                return Ok(lines);
            }
        }
    });

    let deadline = Instant::now() + Duration::from_secs(20);
    while !client.is_finished() {
        assert!(Instant::now() < deadline, "the client did not finish");
        assert_eq!(reactor.run_once(Some(Duration::from_millis(50))), None);
    }
    let lines = client.join().expect("client thread").expect("client");
    let states: Vec<&str> = lines
        .iter()
        .filter(|l| l.starts_with("service.state\tfive\t"))
        .map(|l| l.split('\t').nth(2).unwrap())
        .collect();
    assert_eq!(lines[0], "service.args\tfive\tsh\t-c\texit 5");
    assert_eq!(states, ["start", "up", "down"], "{lines:?}");
    let down = lines.iter().find(|l| l.contains("\tdown\t")).unwrap();
    assert!(down.contains("\texit\t5\t"), "{down}");
    assert_eq!(lines.last().unwrap(), "bye");
}
