// SPDX-License-Identifier: GPL-2.0

//! Device resources that go when their driver unbinds.
//!
//! A [`Devres<T>`] ties a `T`, such as a mapped [`pci::Bar`], to the binding of a device to its
//! driver: when the driver unbinds, the `T` is revoked and dropped, even if the driver moved the
//! `Devres` somewhere that outlives the binding. From then on [`Devres::try_access`] fails.
//! While a [`Device<Bound>`] is at hand, the binding is known to last, and [`Devres::access`]
//! gives the `T` without a check at every use.
//!
//! How it works: the constructor adds a devres entry to the device, whose release (run by the
//! driver core at unbind, after the driver's `unbind` callback) revokes the data. Dropping the
//! `Devres` before that removes the entry and drops the data itself; dropping it after, or while
//! the release runs, waits for the release to be done with it.
//!
//! A `Devres` must not be dropped from inside the release of another devres entry of the same
//! device: the wait above would then never end. Drivers keep their `Devres` in their private
//! data, which the bus drops before the device's devres entries are released.
//!
//! C header: [`include/linux/device/devres.h`](srctree/include/linux/device/devres.h)
//!
//! [`pci::Bar`]: crate::pci::Bar

use crate::{
    alloc::Flags,
    bindings,
    device::{Bound, Device},
    error::{code::*, Error, Result},
    ffi::c_void,
    init::{self, PinInit},
    prelude::*,
    revocable::{Revocable, RevocableGuard},
    sync::rcu,
    types::{ARef, Opaque},
};
use core::ptr;

/// A `T` that is revoked and dropped when the device's driver unbinds.
///
/// # Examples
///
/// ```
/// # use kernel::{device::{Bound, Device}, devres::Devres, prelude::*};
/// fn keep(dev: &Device<Bound>) -> Result<Pin<KBox<Devres<u32>>>> {
///     let res = KBox::pin_init(Devres::new(dev, kernel::init::zeroed::<u32>()), GFP_KERNEL)?;
///     // The device is bound: the value is there.
///     assert_eq!(*res.access(dev)?, 0);
///     Ok(res)
/// }
/// ```
///
/// # Invariants
///
/// Until `drop` has removed it, or its release has completed `done`, the device has a devres
/// entry whose data is a pointer to `self`, released by [`release::<T>`].
#[pin_data(PinnedDrop)]
pub struct Devres<T: Send> {
    dev: ARef<Device>,
    /// The release the entry was made with, which `devres_remove()` matches. A generic
    /// function has an address per crate that instantiates it: the drop, which may be
    /// instantiated in the driver's crate, must not take the address again.
    release: bindings::dr_release_t,
    #[pin]
    data: Revocable<T>,
    /// Completed by the release when it is done with `self`.
    #[pin]
    done: Opaque<bindings::completion>,
}

// SAFETY: The data is only handed out as `&T` and dropped by whoever revokes it; the device
// reference and the completion may be used from any thread.
unsafe impl<T: Send> Send for Devres<T> {}

// SAFETY: As above; sharing a `Devres` lets other threads borrow the `T` and drop it.
unsafe impl<T: Send + Sync> Sync for Devres<T> {}

/// The devres entry's release: revokes the data of the `Devres<T>` it points to.
///
/// # Safety
///
/// `res` must be the data of a devres entry made by [`Devres::new`] for a `Devres<T>`.
unsafe extern "C" fn release<T: Send>(_dev: *mut bindings::device, res: *mut c_void) {
    // SAFETY: By the function's contract the entry holds a pointer to a `Devres<T>`, which by
    // its type invariant stays alive until `done` is completed below.
    let this = unsafe { &*res.cast::<*const Devres<T>>().read() };
    this.data.revoke();
    // SAFETY: The completion was initialised by `Devres::new`. `this` is not used after it.
    unsafe { bindings::complete(this.done.get()) };
}

/// Matches the devres entry whose data is `data`, for `devres_remove()`.
///
/// # Safety
///
/// `res` must be the data of a devres entry made by [`Devres::new`].
unsafe extern "C" fn matches(
    _dev: *mut bindings::device,
    res: *mut c_void,
    data: *mut c_void,
) -> crate::ffi::c_int {
    // SAFETY: By the function's contract the entry's data is a pointer.
    let this = unsafe { res.cast::<*const c_void>().read() };
    crate::ffi::c_int::from(ptr::eq(this, data))
}

impl<T: Send> Devres<T> {
    /// A `T`, initialised by `data`, that is revoked when `dev`'s driver unbinds.
    ///
    /// Returns `ENOMEM` when the devres entry cannot be allocated, or the error of `data`.
    pub fn new<'a, E>(
        dev: &'a Device<Bound>,
        data: impl PinInit<T, E> + 'a,
    ) -> impl PinInit<Self, Error> + 'a
    where
        T: 'a,
        Error: From<E>,
    {
        let rel: bindings::dr_release_t = Some(release::<T>);
        let init = try_pin_init!(Self {
            dev: dev.into(),
            release: rel,
            data <- Revocable::new(data),
            // SAFETY: `init_completion()` initialises the completion in place.
            done <- Opaque::ffi_init(|c| unsafe { bindings::init_completion(c) }),
        }? Error);
        let raw = dev.as_raw();
        // SAFETY: The closure initialises `Self` at `slot` with `init`, then adds the devres
        // entry; on failure it leaves the slot uninitialised, having dropped what it made.
        unsafe {
            init::pin_init_from_closure(move |slot: *mut Self| {
                // SAFETY: The entry is one pointer, released by `release::<T>`.
                let res = bindings::__devres_alloc_node(
                    rel,
                    core::mem::size_of::<*const Self>(),
                    bindings::GFP_KERNEL,
                    bindings::NUMA_NO_NODE,
                    crate::c_str!("kernel::devres::Devres").as_char_ptr(),
                );
                if res.is_null() {
                    return Err(ENOMEM);
                }
                if let Err(err) = init.__pinned_init(slot) {
                    bindings::devres_free(res);
                    return Err(err);
                }
                res.cast::<*const Self>().write(slot);
                // INVARIANT: The entry points to `slot`, which is pinned, and the device is
                // bound, so its entries are released when the driver unbinds.
                bindings::devres_add(raw, res);
                Ok(())
            })
        }
    }

    /// The device the data belongs to.
    pub fn device(&self) -> &Device {
        &self.dev
    }

    /// Borrows the data, which is there for as long as `dev` stays bound.
    ///
    /// Returns `EINVAL` when `dev` is not the device the data belongs to.
    pub fn access<'a>(&'a self, dev: &'a Device<Bound>) -> Result<&'a T> {
        if !ptr::eq(dev.as_raw(), self.dev.as_raw()) {
            return Err(EINVAL);
        }
        // SAFETY: The device is bound for as long as `dev` is borrowed, so the release that
        // revokes the data cannot run meanwhile.
        Ok(unsafe { self.data.access() })
    }

    /// Borrows the data unless the driver has unbound.
    ///
    /// The guard holds an RCU read-side critical section: code holding it must not sleep.
    pub fn try_access(&self) -> Option<RevocableGuard<'_, T>> {
        self.data.try_access()
    }

    /// Calls `f` with the data unless the driver has unbound, and returns its result.
    pub fn try_access_with<R, F: FnOnce(&T) -> R>(&self, f: F) -> Option<R> {
        self.data.try_access_with(f)
    }

    /// Borrows the data unless the driver has unbound, for as long as `guard` lasts.
    pub fn try_access_with_guard<'a>(&'a self, guard: &'a rcu::Guard) -> Option<&'a T> {
        self.data.try_access_with_guard(guard)
    }
}

#[pinned_drop]
impl<T: Send> PinnedDrop for Devres<T> {
    fn drop(self: Pin<&mut Self>) {
        let this: *const Self = &*self;
        // SAFETY: The device is valid; `matches` compares the entries' pointers with `this`.
        let res = unsafe {
            bindings::devres_remove(
                self.dev.as_raw(),
                self.release,
                Some(matches),
                this.cast_mut().cast(),
            )
        };
        if res.is_null() {
            // The release has run, or is running: wait until it is done with `self`.
            // SAFETY: The completion was initialised by `new`.
            unsafe { bindings::wait_for_completion(self.done.get()) };
        } else {
            // SAFETY: The entry was removed above, so its release will not run; `self` is
            // borrowed mutably, so no one is borrowing the data.
            unsafe {
                bindings::devres_free(res);
                self.data.revoke_nosync();
            }
        }
    }
}

/// Keeps `data` until `dev`'s driver unbinds, then drops it.
///
/// Returns `ENOMEM` when it cannot be allocated with `flags`, or the error of `data`.
pub fn register<T, E>(dev: &Device<Bound>, data: impl PinInit<T, E>, flags: Flags) -> Result
where
    T: Send + 'static,
    Error: From<E>,
{
    let data = KBox::pin_init(data, flags)?;
    let raw = KBox::into_raw(
        // SAFETY: The box is given to the devres action, which drops it in place.
        unsafe { Pin::into_inner_unchecked(data) },
    );
    // SAFETY: The action drops the box it is given once, when the driver unbinds, or now if it
    // cannot be added (`devm_add_action_or_reset()` semantics).
    crate::error::to_result(unsafe {
        bindings::__devm_add_action(
            dev.as_raw(),
            Some(drop_box::<T>),
            raw.cast(),
            crate::c_str!("kernel::devres::register").as_char_ptr(),
        )
    })
    .inspect_err(|_| {
        // SAFETY: The action was not added: the box is still ours.
        unsafe { drop_box::<T>(raw.cast()) }
    })
}

/// Drops the `KBox<T>` at `ptr`.
///
/// # Safety
///
/// `ptr` must come from `KBox::into_raw()` of a `KBox<T>`, and not be used after.
unsafe extern "C" fn drop_box<T>(ptr: *mut c_void) {
    // SAFETY: By the function's contract.
    drop(unsafe { KBox::from_raw(ptr.cast::<T>()) });
}
