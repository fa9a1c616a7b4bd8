// SPDX-License-Identifier: GPL-2.0

//! DMA state that goes with a device's binding to its driver.
//!
//! A mapping lives in the IOMMU domain its device had when the mapping was made, and that domain
//! may go once the driver has unbound: with no driver bound, the IOMMU core may give the device's
//! group a new default domain (an administrator's write to the group's `type` file) and free the
//! old one. IOMMU domains are not reference counted, so a mapping cannot keep its domain; it must
//! go before the driver's unbind is over. [`Tied`] keeps the device side of a mapping in a
//! [`Devres`]: its owner uses it through `&self` or `&mut self`, and if the owner still has it
//! when the driver unbinds, the unbind drops it, in its domain, and every later use fails with
//! `ENXIO`.

use crate::{
    alloc::{flags::GFP_KERNEL, KBox},
    device::{Bound, Device},
    devres::Devres,
    error::{code::ENXIO, Error, Result},
    init::InPlaceInit,
    revocable::RevocableGuard,
};
use core::{
    cell::UnsafeCell,
    ops::{Deref, DerefMut},
    pin::Pin,
};

/// A `T` that the driver's unbind takes away from its owner and drops.
///
/// Each use holds an RCU read-side critical section, which the unbind waits for before it drops
/// the `T`: a use must not sleep. Like any [`Devres`], a `Tied` must not be dropped from the
/// release of another devres entry of the same device.
pub(crate) struct Tied<T: Send>(Pin<KBox<Devres<Cell<T>>>>);

/// The `T` of a [`Tied`].
///
/// # Invariants
///
/// The `T` is changed only through a [`TiedMut`], which borrows the owning [`Tied`] mutably, or
/// dropped by the revocation, which waits for every use to end.
struct Cell<T>(UnsafeCell<T>);

// SAFETY: The `T` is sent with the cell and dropped wherever the cell is revoked.
unsafe impl<T: Send> Send for Cell<T> {}

// SAFETY: Through a shared reference the cell only lends `&T` (`Tied::get`); `&mut T` needs the
// owner's `&mut Tied` (type invariant).
unsafe impl<T: Send + Sync> Sync for Cell<T> {}

impl<T: Send> Tied<T> {
    /// Ties `data` to `dev`'s binding.
    ///
    /// Returns `ENOMEM` when the devres entry cannot be made; `data` is dropped then.
    pub(crate) fn new(dev: &Device<Bound>, data: T) -> Result<Self> {
        let cell = Cell(UnsafeCell::new(data));
        Ok(Self(KBox::pin_init(
            Devres::new::<Error>(dev, cell),
            GFP_KERNEL,
        )?))
    }

    /// Borrows the `T`; `ENXIO` once the driver has unbound.
    pub(crate) fn get(&self) -> Result<TiedRef<'_, T>> {
        self.0.try_access().map(TiedRef).ok_or(ENXIO)
    }

    /// Borrows the `T` mutably; `ENXIO` once the driver has unbound.
    pub(crate) fn get_mut(&mut self) -> Result<TiedMut<'_, T>> {
        self.0.try_access().map(TiedMut).ok_or(ENXIO)
    }

    /// Whether the driver has unbound, which dropped the `T`.
    pub(crate) fn is_revoked(&self) -> bool {
        self.0.try_access().is_none()
    }
}

/// A shared use of the `T` of a [`Tied`], in an RCU read-side critical section.
pub(crate) struct TiedRef<'a, T>(RevocableGuard<'a, Cell<T>>);

impl<T> Deref for TiedRef<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: The guard keeps the `T`; no `&mut T` exists meanwhile, as that needs the
        // owner's `&mut Tied`, which this use borrows shared (type invariant of `Cell`).
        unsafe { &*self.0 .0.get() }
    }
}

/// An exclusive use of the `T` of a [`Tied`], in an RCU read-side critical section.
pub(crate) struct TiedMut<'a, T>(RevocableGuard<'a, Cell<T>>);

impl<T> Deref for TiedMut<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: As in `TiedRef`; this use borrows the owner mutably.
        unsafe { &*self.0 .0.get() }
    }
}

impl<T> DerefMut for TiedMut<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: The guard keeps the `T`, and this use borrows the owning `Tied` mutably, so no
        // other reference to the `T` exists (type invariant of `Cell`).
        unsafe { &mut *self.0 .0.get() }
    }
}
