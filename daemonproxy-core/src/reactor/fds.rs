//! The descriptors the reactor holds for the supervisor, by [`FdId`].
//!
//! An id is the descriptor's number, so log lines can show it as the
//! original's do. Descriptors 0..2 found open at start-up are held by
//! number only: closed when their handle is deleted or replaced (as in the
//! original), but never when the reactor is dropped, so a program embedding
//! the library keeps its standard descriptors.

use crate::ids::FdId;
use crate::sys;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};

/// How a descriptor is held.
#[derive(Debug)]
enum Held {
    Owned(OwnedFd),
    Std,
}

/// Descriptors by number.
#[derive(Debug, Default)]
pub(crate) struct FdTable {
    slots: Vec<Option<Held>>,
}

impl FdTable {
    fn slot(&mut self, raw: RawFd) -> &mut Option<Held> {
        let i = raw as usize;
        if self.slots.len() <= i {
            self.slots.resize_with(i + 1, || None);
        }
        &mut self.slots[i]
    }

    /// Takes ownership of a descriptor.
    pub(crate) fn insert(&mut self, fd: OwnedFd) -> FdId {
        let raw = fd.as_raw_fd();
        *self.slot(raw) = Some(Held::Owned(fd));
        FdId::new(raw as u32)
    }

    /// Holds one of 0..2 by number.
    pub(crate) fn insert_std(&mut self, raw: RawFd) -> FdId {
        *self.slot(raw) = Some(Held::Std);
        FdId::new(raw as u32)
    }

    /// The descriptor number of a held id.
    pub(crate) fn raw(&self, id: FdId) -> Option<RawFd> {
        let i = id.get() as usize;
        self.slots.get(i).and_then(Option::as_ref).map(|_| i as RawFd)
    }

    /// Whether standard descriptor `raw` is held by number only.
    pub(crate) fn is_std(&self, raw: RawFd) -> bool {
        matches!(self.slots.get(raw as usize), Some(Some(Held::Std)))
    }

    /// Borrows a held descriptor.
    pub(crate) fn get(&self, id: FdId) -> Option<BorrowedFd<'_>> {
        self.raw(id).map(sys::raw::borrow)
    }

    /// Closes a held descriptor (standard ones too).
    pub(crate) fn close(&mut self, id: FdId) {
        match self.slots.get_mut(id.get() as usize).and_then(Option::take) {
            Some(Held::Owned(fd)) => drop(fd),
            Some(Held::Std) => sys::raw::close_std(id.get() as RawFd),
            None => {}
        }
    }

    /// Stops holding a standard descriptor without closing it (a
    /// front-end now uses it directly). Owned descriptors are closed.
    pub(crate) fn release(&mut self, id: FdId) {
        if let Some(Held::Owned(fd)) = self.slots.get_mut(id.get() as usize).and_then(Option::take) {
            drop(fd);
        }
    }
}
