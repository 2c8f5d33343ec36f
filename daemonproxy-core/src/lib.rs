//! daemonproxy-core: the supervisor and its event loop, usable as a library.
#![deny(unsafe_code)]

mod error;
mod ids;
mod options;
pub mod process;
mod reactor;
pub mod sim;
pub mod supervisor;
#[allow(unsafe_code)]
pub(crate) mod sys;
pub mod time;

pub use daemonproxy_proto as proto;
pub use error::{Error, ErrorKind, Outcome};
pub use ids::{ConnId, FdId, RequestId, ServiceId};
pub use options::Options;
pub use reactor::{Callback, Interest, Reactor, Readiness, SourceId};
pub use supervisor::Supervisor;
pub use time::Time;
