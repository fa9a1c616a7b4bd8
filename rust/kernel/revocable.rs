// SPDX-License-Identifier: GPL-2.0

//! Data that its owner can take away from those who only borrow it.
//!
//! A [`Revocable<T>`] holds a `T` that users reach through [`Revocable::try_access`]. Once it
//! is revoked, the `T` is dropped and every later access fails. An access holds an RCU
//! read-side critical section, so it is cheap and never sleeps. [`Revocable::revoke`] waits for
//! the accesses in progress before it drops the data.
//!
//! It is the building block of [`Devres`](crate::devres::Devres): device resources that go
//! when the driver unbinds, whoever still refers to them.

use crate::{
    init::{self, PinInit},
    prelude::*,
    sync::rcu,
    types::Opaque,
};
use core::{
    marker::PhantomData,
    ops::Deref,
    ptr::drop_in_place,
    sync::atomic::{AtomicBool, Ordering},
};

/// A `T` that can be revoked: dropped, while others may still try to use it.
///
/// # Examples
///
/// ```
/// # use kernel::{prelude::*, revocable::Revocable};
/// let r = KBox::pin_init(Revocable::new(kernel::init::zeroed::<u32>()), GFP_KERNEL)?;
/// assert_eq!(r.try_access().map(|v| *v), Some(0));
/// assert!(r.revoke());
/// assert!(r.try_access().is_none());
/// # Ok::<(), Error>(())
/// ```
///
/// # Invariants
///
/// `data` is initialised while `is_available` is true. Once it is false it stays false, and
/// `data` has been dropped, or is being dropped by the one who made it false.
#[pin_data(PinnedDrop)]
pub struct Revocable<T> {
    is_available: AtomicBool,
    #[pin]
    data: Opaque<T>,
}

// SAFETY: A `Revocable<T>` only hands out `&T` and drops `T` from whichever thread revokes it
// or drops it: it may be sent where `T` may be sent, and shared where `T` may be both shared
// and sent.
unsafe impl<T: Send> Send for Revocable<T> {}

// SAFETY: See above: `revoke` through `&Self` drops `T` on the revoking thread.
unsafe impl<T: Send + Sync> Sync for Revocable<T> {}

impl<T> Revocable<T> {
    /// A revocable `T`, initialised by `data`.
    pub fn new<E>(data: impl PinInit<T, E>) -> impl PinInit<Self, E> {
        // SAFETY: `Opaque<T>` is a transparent wrapper of `T`, so initialising the `T` at the
        // slot initialises it; on failure `data` leaves the slot uninitialised, as `Opaque`
        // allows.
        let data = unsafe {
            init::pin_init_from_closure(move |slot: *mut Opaque<T>| {
                data.__pinned_init(slot.cast::<T>())
            })
        };
        // INVARIANT: `data` is initialised before `is_available` can be read as true.
        try_pin_init!(Self {
            is_available: AtomicBool::new(true),
            data <- data,
        }? E)
    }

    /// Borrows the data unless it has been revoked; the data stays until the guard is
    /// dropped.
    ///
    /// The guard holds an RCU read-side critical section: code holding it must not sleep.
    pub fn try_access(&self) -> Option<RevocableGuard<'_, T>> {
        let guard = rcu::Guard::new();
        if self.is_available.load(Ordering::Relaxed) {
            // INVARIANT: The data is available, and a revoker waits for the critical section
            // the guard holds before it drops the data.
            Some(RevocableGuard {
                data: self.data.get(),
                _rcu: guard,
                _p: PhantomData,
            })
        } else {
            None
        }
    }

    /// Borrows the data unless it has been revoked, for as long as the RCU read-side critical
    /// section `guard` lasts.
    pub fn try_access_with_guard<'a>(&'a self, _guard: &'a rcu::Guard) -> Option<&'a T> {
        if self.is_available.load(Ordering::Relaxed) {
            // SAFETY: By the type invariant the data is initialised; a revoker waits for the
            // critical section, which outlives the borrow, before it drops the data.
            Some(unsafe { &*self.data.get() })
        } else {
            None
        }
    }

    /// Calls `f` with the data unless it has been revoked, and returns its result.
    ///
    /// `f` runs in an RCU read-side critical section: it must not sleep.
    pub fn try_access_with<R, F: FnOnce(&T) -> R>(&self, f: F) -> Option<R> {
        let guard = rcu::Guard::new();
        self.try_access_with_guard(&guard).map(f)
    }

    /// Borrows the data without checking that it is still there.
    ///
    /// # Safety
    ///
    /// The data must not be revoked for as long as the borrow lasts: the caller knows the
    /// revoker cannot run meanwhile.
    pub unsafe fn access(&self) -> &T {
        // SAFETY: By the function's contract the data is not revoked, so by the type invariant
        // it is initialised and stays so for the borrow.
        unsafe { &*self.data.get() }
    }

    /// Revokes the data without waiting for those who borrow it.
    ///
    /// Returns whether this call revoked it, and so dropped it.
    ///
    /// # Safety
    ///
    /// No one may be borrowing the data, through [`Revocable::try_access`] or otherwise.
    pub unsafe fn revoke_nosync(&self) -> bool {
        // SAFETY: By the function's contract.
        unsafe { self.revoke_internal::<false>() }
    }

    /// Revokes the data: waits for every access in progress to end, then drops the data.
    ///
    /// Returns whether this call revoked it; false when it was revoked already. It may sleep.
    pub fn revoke(&self) -> bool {
        // SAFETY: The accesses in progress are waited for.
        unsafe { self.revoke_internal::<true>() }
    }

    /// # Safety
    ///
    /// Without `SYNC`, no one may be borrowing the data.
    unsafe fn revoke_internal<const SYNC: bool>(&self) -> bool {
        if !self.is_available.swap(false, Ordering::Relaxed) {
            return false;
        }
        if SYNC {
            // Accesses that saw the data available have ended after this.
            rcu::synchronize_rcu();
        }
        // SAFETY: This call made `is_available` false, so by the type invariant the data is
        // initialised and no one else drops it; no access to it is left (see above, or by the
        // function's contract), and new ones see it unavailable.
        unsafe { drop_in_place(self.data.get()) };
        true
    }
}

#[pinned_drop]
impl<T> PinnedDrop for Revocable<T> {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: `self` is borrowed mutably, so no one else is borrowing the data.
        unsafe { self.revoke_nosync() };
    }
}

/// A borrow of the data of a [`Revocable`], made by [`Revocable::try_access`].
///
/// # Invariants
///
/// `data` points to the initialised data of a `Revocable` whose revoker waits for the RCU
/// read-side critical section that `_rcu` holds.
#[must_use = "the data stays borrowed until the guard is dropped"]
pub struct RevocableGuard<'a, T> {
    data: *const T,
    _rcu: rcu::Guard,
    _p: PhantomData<&'a ()>,
}

impl<T> Deref for RevocableGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: By the type invariant the data stays initialised while the guard lives.
        unsafe { &*self.data }
    }
}
