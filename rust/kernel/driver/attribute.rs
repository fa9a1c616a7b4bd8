// SPDX-License-Identifier: GPL-2.0

//! Sysfs files of the devices a driver binds, on any bus.
//!
//! A driver declares each file as a `static` [`Attribute`] of its data type `T` and lists them
//! in its bus's driver trait (for PCI, [`pci::Driver::ATTRIBUTES`]). The bus abstraction creates
//! the files after probe and removes them before the driver's data is dropped, so `show` and
//! `store` always run with the driver's data and the device bound.
//!
//! Not upstream: upstream 6.18 has no Rust sysfs attributes.
//!
//! C header: [`include/linux/device.h`](srctree/include/linux/device.h)
//!
//! [`pci::Driver::ATTRIBUTES`]: crate::pci::Driver::ATTRIBUTES

use crate::{
    bindings,
    device::{Bound, Device},
    error::{code::EIO, Result},
    ffi::c_char,
    str::{CStr, RawFormatter},
};
use core::fmt;

/// Shows an attribute: writes its text into the buffer. The device stays bound meanwhile.
pub type ShowFn<T> = fn(&T, &Device<Bound>, &mut AttributeText) -> Result;

/// Stores an attribute: acts on the bytes written to it. The device stays bound meanwhile.
pub type StoreFn<T> = fn(&T, &Device<Bound>, &[u8]) -> Result;

/// A sysfs file of the devices a driver with data `T` binds, read with `show` and written with
/// `store`.
///
/// # Invariants
///
/// `raw` calls `show_callback::<T>`/`store_callback::<T>` exactly when `show`/`store` is set.
#[repr(C)]
pub struct Attribute<T: ?Sized + 'static> {
    // First: the callbacks find `Self` from the `device_attribute`.
    raw: bindings::device_attribute,
    show: Option<ShowFn<T>>,
    store: Option<StoreFn<T>>,
}

// SAFETY: An attribute is not changed after it is made.
unsafe impl<T: ?Sized> Sync for Attribute<T> {}

impl<T: 'static> Attribute<T> {
    /// A file `name`, readable by all when it has `show` and writable by root when it has
    /// `store`.
    pub const fn new(
        name: &'static CStr,
        show: Option<ShowFn<T>>,
        store: Option<StoreFn<T>>,
    ) -> Self {
        // SAFETY: All-zero is a valid `device_attribute`: no name, mode or callbacks, set below.
        let mut raw: bindings::device_attribute = unsafe { core::mem::zeroed() };
        raw.attr.name = name.as_char_ptr();
        if show.is_some() {
            raw.attr.mode |= 0o444;
            raw.show = Some(show_callback::<T>);
        }
        if store.is_some() {
            raw.attr.mode |= 0o200;
            raw.store = Some(store_callback::<T>);
        }
        // INVARIANT: The callbacks are set exactly for `show` and `store`.
        Self { raw, show, store }
    }

    /// The C attribute, for the bus abstraction to create and remove.
    ///
    /// The bus must create it only on a device whose driver data is a `Pin<KBox<T>>`, and
    /// remove it before that data is dropped: its callbacks rely on both.
    pub(crate) fn as_raw(&self) -> *const bindings::device_attribute {
        &self.raw
    }
}

/// The text of a sysfs file being read: at most a page, cut beyond that (as `sysfs_emit()`
/// does).
pub struct AttributeText(RawFormatter);

impl AttributeText {
    const CAPACITY: usize = crate::page::PAGE_SIZE - 1;

    /// The bytes written, at most a page less one.
    fn len(&self) -> usize {
        self.0.bytes_written().min(Self::CAPACITY)
    }
}

impl fmt::Write for AttributeText {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.write_str(s)
    }
}

/// The attribute, the driver's data and the bound device of a callback.
///
/// # Safety
///
/// `attr` must be the `raw` field of an `Attribute<T>` that a bus abstraction created on `dev`
/// as [`Attribute::as_raw`] requires; the results must not outlive the callback.
unsafe fn parts<'a, T: 'static>(
    dev: *mut bindings::device,
    attr: *mut bindings::device_attribute,
) -> (&'a Attribute<T>, &'a T, &'a Device<Bound>) {
    // SAFETY: By the function's contract the driver data is a `Pin<KBox<T>>`, whose pointer is
    // the `T`, and the file exists only while it does; the device is bound while the file
    // exists, as the bus removes it, waiting for the callbacks running, before it unbinds.
    unsafe {
        (
            &*attr.cast::<Attribute<T>>(),
            &*bindings::dev_get_drvdata(dev).cast::<T>(),
            Device::as_ref(dev).as_bound(),
        )
    }
}

/// # Safety
///
/// As for [`parts`]; `buf` is a page.
unsafe extern "C" fn show_callback<T: 'static>(
    dev: *mut bindings::device,
    attr: *mut bindings::device_attribute,
    buf: *mut c_char,
) -> isize {
    // SAFETY: By the function's contract.
    let (attr, data, dev) = unsafe { parts::<T>(dev, attr) };
    // SAFETY: `buf` is a page that sysfs gave the show callback, which outlives `text`.
    let raw = unsafe { RawFormatter::from_buffer(buf.cast(), AttributeText::CAPACITY) };
    let mut text = AttributeText(raw);
    match attr.show.map(|show| show(data, dev, &mut text)) {
        Some(Ok(())) => text.len() as isize,
        Some(Err(err)) => err.to_errno() as isize,
        None => EIO.to_errno() as isize,
    }
}

/// # Safety
///
/// As for [`parts`], with `count` bytes at `buf`.
unsafe extern "C" fn store_callback<T: 'static>(
    dev: *mut bindings::device,
    attr: *mut bindings::device_attribute,
    buf: *const c_char,
    count: usize,
) -> isize {
    // SAFETY: By the function's contract.
    let (attr, data, dev) = unsafe { parts::<T>(dev, attr) };
    // SAFETY: Sysfs gives `count` bytes at `buf` for the call.
    let input = unsafe { core::slice::from_raw_parts(buf.cast::<u8>(), count) };
    match attr.store.map(|store| store(data, dev, input)) {
        Some(Ok(())) => count as isize,
        Some(Err(err)) => err.to_errno() as isize,
        None => EIO.to_errno() as isize,
    }
}
