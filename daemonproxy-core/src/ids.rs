//! Typed identifiers.
//!
//! The supervisor names its records with small integers (slab keys), and
//! the reactor names the descriptors it holds. Wrapping each kind in its
//! own type keeps a connection id from ever being used as a descriptor or
//! a service key.

use std::fmt;

macro_rules! id {
    ($(#[$doc:meta])* $name:ident($inner:ty)) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
        pub struct $name(pub(crate) $inner);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }
    };
}

id! {
    /// A connection (controller): anything that sends commands and may
    /// receive events. Logged as `client[N]` / `controller[N]`; reused after
    /// the connection ends.
    ConnId(usize)
}

id! {
    /// A service record, while it exists (reused after `service.delete`).
    ServiceId(usize)
}

id! {
    /// A named handle's record, while it exists (reused after `fd.delete`).
    HandleId(usize)
}

id! {
    /// A descriptor held by the driver (the reactor). The supervisor only
    /// passes these around; the driver chooses them (the reactor uses the
    /// descriptor number, so that log lines can show it, as the original's
    /// do).
    FdId(u32)
}

id! {
    /// An action the supervisor is waiting for the result of.
    RequestId(u64)
}

impl ConnId {
    /// The connection's index (small, dense: usable as a table index).
    pub fn index(self) -> usize {
        self.0
    }
}

impl FdId {
    /// Names a descriptor (a driver's choice; the reactor uses its number).
    pub const fn new(n: u32) -> FdId {
        FdId(n)
    }

    /// The number given to [`FdId::new`].
    pub const fn get(self) -> u32 {
        self.0
    }
}
