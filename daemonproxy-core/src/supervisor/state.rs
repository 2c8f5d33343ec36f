//! The supervisor's whole state as bytes, for `reexec`: written by the
//! running image, read back by the new one across `execve`.
//!
//! The format is private to one build: it starts with a magic, a format
//! number and the daemon's version, and a state written by another
//! version is refused, never misread. Fields are little-endian integers
//! and length-prefixed byte strings, so no value needs escaping. Times are
//! CLOCK_MONOTONIC, which `execve` does not reset, so they are kept as they
//! are. Descriptors are kept by number: the driver keeps them open across
//! the exec.

use super::conn::{Conn, ConnKind};
use super::handle::Handle;
use super::registry::NameBuf;
use super::service::{Service, State};
use super::signals::Signals;
use super::Supervisor;
use crate::error::{Error, ErrorKind};
use crate::ids::{ConnId, FdId};
use crate::options::Options;
use crate::time::Time;
use daemonproxy_proto::{Event, FdInfo, Name};

/// The first bytes of a state.
const MAGIC: &[u8; 8] = b"DPSTATE\n";
/// The format's number: changed with any change of layout.
const FORMAT: u32 = 1;
/// Connection ids above this are a damaged state (ids are slab keys, below
/// the peak number of connections open at once).
const MAX_CONN_ID: u64 = 1 << 20;

/// Appends fields.
#[derive(Debug, Default)]
pub(crate) struct Writer {
    pub buf: Vec<u8>,
}

impl Writer {
    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }
    pub fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub fn i64(&mut self, v: i64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub fn bool(&mut self, v: bool) {
        self.u8(u8::from(v));
    }
    pub fn bytes(&mut self, v: &[u8]) {
        self.u32(v.len() as u32);
        self.buf.extend_from_slice(v);
    }
    pub fn opt_u64(&mut self, v: Option<u64>) {
        self.bool(v.is_some());
        self.u64(v.unwrap_or(0));
    }
    pub fn time(&mut self, t: Time) {
        self.u64(t.as_nanos());
    }
}

/// Reads fields; every read fails cleanly on a short or bad state.
#[derive(Debug)]
pub(crate) struct Reader<'a> {
    data: &'a [u8],
}

/// What is wrong with a state.
#[derive(Debug)]
pub(crate) struct Bad(pub &'static str);

pub(crate) type Got<T> = Result<T, Bad>;

impl<'a> Reader<'a> {
    pub fn new(data: &'a [u8]) -> Reader<'a> {
        Reader { data }
    }
    fn take(&mut self, n: usize) -> Got<&'a [u8]> {
        if self.data.len() < n {
            return Err(Bad("truncated"));
        }
        let (head, rest) = self.data.split_at(n);
        self.data = rest;
        Ok(head)
    }
    pub fn u8(&mut self) -> Got<u8> {
        Ok(self.take(1)?[0])
    }
    pub fn u32(&mut self) -> Got<u32> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    pub fn u64(&mut self) -> Got<u64> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(a))
    }
    pub fn i64(&mut self) -> Got<i64> {
        Ok(self.u64()? as i64)
    }
    pub fn bool(&mut self) -> Got<bool> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(Bad("bad flag")),
        }
    }
    pub fn bytes(&mut self) -> Got<&'a [u8]> {
        let n = self.u32()? as usize;
        self.take(n)
    }
    pub fn opt_u64(&mut self) -> Got<Option<u64>> {
        let some = self.bool()?;
        let v = self.u64()?;
        Ok(some.then_some(v))
    }
    pub fn time(&mut self) -> Got<Time> {
        Ok(Time::from_nanos(self.u64()?))
    }
    pub fn name(&mut self) -> Got<NameBuf> {
        Name::new(self.bytes()?).map(NameBuf::new).ok_or(Bad("bad name"))
    }
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
}

impl Supervisor {
    /// The whole state, for a new image of the daemon ([`Supervisor::restore`]).
    /// Connections for which `keep` says no (control-socket clients,
    /// in-process ones) are left out: they do not survive `reexec`.
    pub fn save_state(&self, keep: impl Fn(ConnId, ConnKind) -> bool, out: &mut Vec<u8>) {
        let mut w = Writer { buf: std::mem::take(out) };
        w.buf.extend_from_slice(MAGIC);
        w.u32(FORMAT);
        w.bytes(env!("CARGO_PKG_VERSION").as_bytes());
        self.log.save(&mut w);
        w.opt_u64(self.guard.map(|g| g as u64));
        w.bytes(&self.exec_args);
        w.bool(self.listener.is_some());
        if let Some((fd, path)) = &self.listener {
            w.u32(fd.get());
            w.bytes(path);
        }
        self.signals.save(&mut w);
        let mut line = Vec::new();
        w.u32(self.handles.iter().count() as u32);
        for (name, _, h) in self.handles.iter() {
            w.bytes(name.as_bytes());
            w.opt_u64(h.fd.map(|f| u64::from(f.get())));
            line.clear();
            Event::FdState { name: name.name(), info: h.info() }.encode(&mut line);
            w.bytes(line.strip_suffix(b"\n").unwrap_or(&line));
        }
        w.u32(self.services.iter().count() as u32);
        for (_, _, s) in self.services.iter() {
            s.save(&mut w);
        }
        w.u32(self.restarts.len() as u32);
        for &(key, pid) in &self.restarts {
            let name = self.services.get(key).map_or(&b""[..], |s| s.name.as_bytes());
            w.bytes(name);
            w.u32(pid as u32);
        }
        let kept: Vec<(usize, &Conn)> =
            self.conns.iter().filter(|(k, c)| !c.detached && keep(ConnId(*k), c.kind)).collect();
        w.u32(kept.len() as u32);
        for (k, c) in kept {
            w.u64(k as u64);
            c.save(&mut w);
        }
        *out = w.buf;
    }

    /// A supervisor from a state written by [`Supervisor::save_state`] of
    /// the same version, with the connections that went on, under the
    /// same ids (for the driver to serve them again). The options give the
    /// pools; everything else comes from the state.
    pub fn restore(opts: &Options, state: &[u8]) -> Result<(Supervisor, Vec<ConnId>), Error> {
        let bad = |b: Bad| Error::new(ErrorKind::Setup, 3, format!("reexec: unusable state: {}", b.0));
        let mut r = Reader::new(state);
        if r.take(MAGIC.len()).ok() != Some(&MAGIC[..]) {
            return Err(bad(Bad("not a daemonproxy state")));
        }
        let format = r.u32().map_err(bad)?;
        let version = r.bytes().map_err(bad)?;
        if format != FORMAT || version != env!("CARGO_PKG_VERSION").as_bytes() {
            let msg = format!(
                "reexec: the state was written by daemonproxy {} (format {format}), this is {} (format {FORMAT})",
                String::from_utf8_lossy(version),
                env!("CARGO_PKG_VERSION")
            );
            return Err(Error::new(ErrorKind::Setup, 3, msg));
        }
        Supervisor::restore_fields(opts, &mut r).map_err(bad)
    }

    fn restore_fields(opts: &Options, r: &mut Reader<'_>) -> Got<(Supervisor, Vec<ConnId>)> {
        let log = super::log::Log::load(opts.log_filter, r)?;
        let guard = r.opt_u64()?.map(|g| g as i64);
        let exec_args = r.bytes()?.to_vec();
        let listener = if r.bool()? { Some((FdId::new(r.u32()?), r.bytes()?.to_vec())) } else { None };
        let signals = Signals::load(r)?;
        let opts = Options { guard, exec_args, ..opts.clone() };
        let mut sup = Supervisor::new(&opts, FdId::new(u32::MAX)).map_err(|_| Bad("handle pool too small"))?;
        sup.log = log;
        if opts.log_timestamps {
            sup.log.stamp_lines();
        }
        sup.listener = listener;
        sup.signals = signals;
        for _ in 0..r.u32()? {
            let name = r.name()?;
            let fd = r.opt_u64()?.map(|f| FdId::new(f as u32));
            let info = match Event::parse(r.bytes()?) {
                Ok(Event::FdState { info, .. }) => info,
                _ => return Err(Bad("bad handle")),
            };
            let h = Handle::from_info(fd, info).ok_or(Bad("bad handle"))?;
            // The constant handles exist already: replaced, not added.
            sup.handles.remove(name.as_bytes());
            sup.handles.insert(name, h).map_err(|_| Bad("handle pool too small"))?;
        }
        for _ in 0..r.u32()? {
            let s = Service::load(r)?;
            let name = s.name;
            if sup.services.key(name.as_bytes()).is_some() {
                return Err(Bad("a service named twice"));
            }
            let key = sup.services.insert(name, s).map_err(|_| Bad("service pool too small"))?;
            let Some(s) = sup.services.get(key) else { continue };
            match s.state {
                State::Up { pid, .. } => {
                    sup.pids.insert(pid, key);
                }
                State::Start(at) => sup.schedule.add(key, at),
                State::Down(_) => {}
            }
        }
        for _ in 0..r.u32()? {
            let name = r.bytes()?;
            let pid = r.u32()? as i32;
            if let Some(key) = sup.services.key(name) {
                sup.restarts.push((key, pid));
            }
        }
        let mut loaded = Vec::new();
        for _ in 0..r.u32()? {
            let before = r.u64()?;
            loaded.push((before, Conn::load(r)?));
        }
        // Connections keep their ids (the log and the embedding program
        // name them).
        loaded.sort_by_key(|(id, _)| *id);
        if loaded.windows(2).any(|w| w[0].0 == w[1].0) || loaded.last().is_some_and(|(id, _)| *id >= MAX_CONN_ID) {
            return Err(Bad("bad connection id"));
        }
        let ids: Vec<ConnId> = loaded.iter().map(|(id, _)| ConnId(*id as usize)).collect();
        sup.conns = loaded.into_iter().map(|(id, conn)| (id as usize, conn)).collect();
        for &id in &ids {
            sup.list(id);
        }
        if !r.is_empty() {
            return Err(Bad("trailing bytes"));
        }
        // Readable but inconsistent (two services with one pid, say).
        sup.check_invariants().map_err(|_| Bad("inconsistent state"))?;
        Ok((sup, ids))
    }

    /// Announces a completed `reexec` to the connections that went on and
    /// in the log.
    pub fn reexec_done(&mut self, now: Time) {
        super::log::log!(self.log, Info, "reexec done");
        self.emit(None, Event::Info { text: b"reexec done" }, now);
    }
}

impl Handle {
    /// A handle from its `fd.state` payload.
    fn from_info(fd: Option<FdId>, info: FdInfo<'_>) -> Option<Handle> {
        use super::handle::Kind;
        let (kind, description) = match info {
            FdInfo::File { flags, description } => (Kind::File(flags), description.to_vec()),
            FdInfo::Pipe { flags, read_end, peer } => {
                (Kind::Pipe { flags, read_end, peer: peer.map(NameBuf::new) }, Vec::new())
            }
            FdInfo::Socket { flags, description } => (Kind::Socket(flags), description.to_vec()),
            FdInfo::Special(s) => (Kind::Special(s), Vec::new()),
            _ => return None,
        };
        Some(Handle { fd, kind, description })
    }
}
