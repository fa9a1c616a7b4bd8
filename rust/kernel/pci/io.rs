// SPDX-License-Identifier: GPL-2.0

//! The memory BARs of a PCI device, mapped for a driver.

use super::Device;
use crate::{
    bindings, device,
    error::{code::*, to_result, Error, Result},
    init::{self, PinInit},
    io::{Io, IoRaw},
    str::{CStr, CString},
    types::ARef,
};
use core::ops::Deref;

/// A memory BAR of a PCI device, requested for the driver and mapped: its registers are the
/// [`Io`] it dereferences to.
///
/// It is made by [`Device::iomap_region_sized`], inside a `Devres`: dropping it, or the
/// driver's unbind, unmaps the registers and releases the region.
///
/// # Invariants
///
/// BAR `num` of `pdev` is requested under `name`, and `io` describes a mapping of all of it.
pub struct Bar<const SIZE: usize = 0> {
    pdev: ARef<Device>,
    io: IoRaw<SIZE>,
    num: i32,
    /// The region's name, which the resource tree points to until the region is released.
    _name: CString,
}

impl<const SIZE: usize> Bar<SIZE> {
    /// Requests and maps BAR `bar` of `pdev`, under `name`.
    pub(super) fn new(pdev: &Device<device::Bound>, bar: u32, name: &CStr) -> Result<Self> {
        let len = pdev.resource_len(bar)?;
        let num = bar as i32;
        // SAFETY: The device is valid, and `num` is a standard BAR (`resource_len` checked it).
        let flags = unsafe { bindings::pci_resource_flags(pdev.as_raw(), num) };
        let len = usize::try_from(len).map_err(|_| EINVAL)?;
        if flags & (bindings::IORESOURCE_MEM as crate::ffi::c_ulong) == 0 || len < SIZE {
            return Err(EINVAL);
        }
        // The resource tree keeps a pointer to the name, not a copy: the `Bar` owns one.
        let name = CString::try_from_fmt(format_args!("{}", name))?;
        // SAFETY: As above; `name` is released with the region, by `drop`.
        to_result(unsafe { bindings::pci_request_region(pdev.as_raw(), num, name.as_char_ptr()) })?;
        // SAFETY: As above; the region is ours.
        let addr = unsafe { bindings::pci_iomap(pdev.as_raw(), num, 0) };
        match IoRaw::new(addr as usize, len) {
            // INVARIANT: The region is requested, and `pci_iomap()` mapped all of it.
            Ok(io) => Ok(Bar {
                pdev: pdev.into(),
                io,
                num,
                _name: name,
            }),
            Err(_) => {
                // SAFETY: The region was requested above; a failed map is null.
                unsafe { bindings::pci_release_region(pdev.as_raw(), num) };
                Err(ENOMEM)
            }
        }
    }
}

impl<const SIZE: usize> Bar<SIZE> {
    /// [`Bar::new`] as an initialiser.
    pub(super) fn init<'a>(
        pdev: &'a Device<device::Bound>,
        bar: u32,
        name: &'a CStr,
    ) -> impl PinInit<Self, Error> + 'a {
        // SAFETY: The closure writes an initialised `Bar` into the slot, or fails leaving it
        // uninitialised.
        unsafe {
            init::pin_init_from_closure(move |slot: *mut Self| {
                slot.write(Self::new(pdev, bar, name)?);
                Ok(())
            })
        }
    }
}

impl<const SIZE: usize> Deref for Bar<SIZE> {
    type Target = Io<SIZE>;

    fn deref(&self) -> &Io<SIZE> {
        // SAFETY: By the type invariant the BAR is mapped for as long as `self` lives.
        unsafe { Io::from_raw(&self.io) }
    }
}

impl<const SIZE: usize> Drop for Bar<SIZE> {
    fn drop(&mut self) {
        // SAFETY: By the type invariant `io` maps the device's BAR `num`, whose region is ours;
        // nothing borrows it any more.
        unsafe {
            bindings::pci_iounmap(self.pdev.as_raw(), self.io.addr() as *mut core::ffi::c_void);
            bindings::pci_release_region(self.pdev.as_raw(), self.num);
        }
    }
}
