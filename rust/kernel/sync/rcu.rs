// SPDX-License-Identifier: GPL-2.0

//! RCU read-side critical sections.
//!
//! C header: [`include/linux/rcupdate.h`](srctree/include/linux/rcupdate.h)

use crate::bindings;
use core::marker::PhantomData;

/// An RCU read-side critical section, entered when the guard is made and left when it is
/// dropped.
///
/// The guard stays on the CPU and in the task that took it: it is neither `Send` nor `Sync`.
#[must_use = "the RCU read-side critical section ends when the guard is dropped"]
pub struct Guard(PhantomData<*mut ()>);

impl Guard {
    /// Enters an RCU read-side critical section.
    #[inline]
    pub fn new() -> Self {
        // SAFETY: `rcu_read_lock()` may be called in any context; `Drop` pairs it.
        unsafe { bindings::rcu_read_lock() };
        Self(PhantomData)
    }

    /// Leaves the critical section, as dropping the guard does.
    #[inline]
    pub fn unlock(self) {}
}

impl Default for Guard {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Guard {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: The guard was made by `rcu_read_lock()` in this task.
        unsafe { bindings::rcu_read_unlock() };
    }
}

/// Enters an RCU read-side critical section, which lasts until the guard is dropped.
#[inline]
pub fn read_lock() -> Guard {
    Guard::new()
}

/// Waits until every RCU read-side critical section that began before the call has ended.
///
/// It sleeps.
pub fn synchronize_rcu() {
    // SAFETY: Called from a context that may sleep, as the function documents.
    unsafe { bindings::synchronize_rcu() };
}
