// SPDX-License-Identifier: GPL-2.0

//! PCI devices and drivers.
//!
//! Just enough of the PCI driver model to write a driver in safe Rust: a
//! [`Driver`] registered with an ID table by [`module_pci_driver!`], whose
//! `probe` returns the driver's data for the device it binds; the device
//! enabled with bus mastering; a [`Bar`] of registers; and sysfs
//! [`Attribute`]s on the bound device.
//!
//! Who owns what across a binding:
//!
//! - Only `probe` can enable the device, let it master the bus and map its
//!   bars: they are methods of the [`ProbingDevice`] it is given.
//! - The registration owns the driver's data from `probe` until the device
//!   is unbound: [`Driver::remove`] runs, then the data is dropped, then
//!   devres disables the device, which also stops its bus mastering. When
//!   `probe` fails, the device is disabled all the same; when the sysfs
//!   files cannot be made after `probe` succeeded, `remove` runs and the
//!   data is dropped as at an unbind.
//! - A [`Bar`] releases its registers when dropped, so a driver keeps its
//!   bars in its data and they go when the device is unbound, before the
//!   device itself may go away. 6.12 has no `Devres` to revoke a bar that a
//!   driver moved elsewhere (into a work item that outlives the binding,
//!   say); such a bar would outlive its device's binding and, after a
//!   hot-unplug, map address space that may be given to another device. A
//!   driver must not do that.
//! - The sysfs files of [`Driver::ATTRIBUTES`] exist only while the data
//!   does: they are created once `probe` has succeeded and removed, waiting
//!   for readers and writers to finish, before `remove`.
//!
//! C header: [`include/linux/pci.h`](srctree/include/linux/pci.h)

#[cfg(CONFIG_PCI_P2PDMA)]
pub mod p2pdma;

use crate::ffi::{c_char, c_int, c_ulong, c_void};
use crate::{
    alloc::KBox,
    bindings, device,
    error::{code::*, to_result, Error, Result},
    io::Io,
    str::{CStr, RawFormatter},
    types::{ARef, AlwaysRefCounted, Opaque},
    ThisModule,
};
use core::{
    fmt,
    marker::PhantomData,
    ops::Deref,
    pin::Pin,
    ptr::{self, NonNull},
    sync::atomic::{AtomicBool, Ordering},
};

/// A PCI vendor and device ID that a driver binds to, for any subsystem.
#[repr(transparent)]
#[derive(Clone, Copy)]
pub struct DeviceId(bindings::pci_device_id);

impl DeviceId {
    /// The entry that ends an ID table.
    pub const END: Self = Self::raw(0, 0, 0);

    /// Matches devices with this `vendor` and `device` ID.
    pub const fn new(vendor: u16, device: u16) -> Self {
        Self::raw(vendor as u32, device as u32, !0)
    }

    const fn raw(vendor: u32, device: u32, sub: u32) -> Self {
        Self(bindings::pci_device_id {
            vendor,
            device,
            subvendor: sub,
            subdevice: sub,
            class: 0,
            class_mask: 0,
            driver_data: 0,
            override_only: 0,
        })
    }

    const fn is_end(&self) -> bool {
        self.0.vendor == 0 && self.0.device == 0 && self.0.subvendor == 0
    }

    /// The vendor ID matched.
    pub fn vendor(&self) -> u16 {
        self.0.vendor as u16
    }

    /// The device ID matched.
    pub fn device(&self) -> u16 {
        self.0.device as u16
    }
}

/// A PCI device.
///
/// # Invariants
///
/// A `Device` is a valid `struct pci_dev`, kept alive by a reference count.
#[repr(transparent)]
pub struct Device(Opaque<bindings::pci_dev>);

impl Device {
    /// Borrows the PCI device at `ptr`.
    ///
    /// # Safety
    ///
    /// `ptr` must point to a valid `struct pci_dev` that stays alive for
    /// `'a`.
    pub unsafe fn from_raw<'a>(ptr: *mut bindings::pci_dev) -> &'a Self {
        // SAFETY: `Device` is a transparent wrapper of `pci_dev`, valid for
        // `'a` by the caller's contract.
        unsafe { &*ptr.cast() }
    }

    /// The raw `struct pci_dev`.
    pub fn as_raw(&self) -> *mut bindings::pci_dev {
        self.0.get()
    }

    /// The vendor ID.
    pub fn vendor_id(&self) -> u16 {
        // SAFETY: By the type invariant the device is valid; the ID does not
        // change.
        unsafe { (*self.as_raw()).vendor }
    }

    /// The device ID.
    pub fn device_id(&self) -> u16 {
        // SAFETY: As above.
        unsafe { (*self.as_raw()).device }
    }
}

/// The device a driver is probing, which only `probe` is lent: what may only
/// be done while binding is done through it.
///
/// # Invariants
///
/// The device is being probed, under its device lock.
pub struct ProbingDevice<'a>(&'a Device);

impl AsRef<device::Device> for ProbingDevice<'_> {
    fn as_ref(&self) -> &device::Device {
        self.0.as_ref()
    }
}

impl Deref for ProbingDevice<'_> {
    type Target = Device;

    fn deref(&self) -> &Device {
        self.0
    }
}

impl ProbingDevice<'_> {
    /// Enables the device's memory space and wakes it up.
    ///
    /// The device is disabled again, which also stops its bus mastering,
    /// when the driver unbinds or fails to probe.
    pub fn enable_device_mem(&self) -> Result {
        // SAFETY: By the type invariant the device is valid.
        to_result(unsafe { bindings::pci_enable_device_mem(self.as_raw()) })?;
        // SAFETY: The action disables the device it is given. The device's
        // devres actions run when the driver unbinds or fails to probe, and
        // at the latest before the device is released, so it is alive then;
        // by the type invariant it is being probed, so the action belongs to
        // this binding.
        to_result(unsafe {
            bindings::__devm_add_action(
                self.as_ref().as_raw(),
                Some(disable_device),
                self.as_raw().cast(),
                crate::c_str!("pci_disable_device").as_char_ptr(),
            )
        })
        .inspect_err(|_| {
            // SAFETY: The device was enabled above.
            unsafe { bindings::pci_disable_device(self.as_raw()) }
        })
    }

    /// Lets the device master the bus, that is, do DMA.
    ///
    /// Disabling the device (see [`ProbingDevice::enable_device_mem`])
    /// stops it.
    pub fn set_master(&self) {
        // SAFETY: The device is valid; it is being probed, under its lock,
        // which serialises the changes of its flags.
        unsafe { bindings::pci_set_master(self.as_raw()) };
    }

    /// Requests the memory BAR `bar` for the driver, under `name`, and maps
    /// it.
    ///
    /// Returns `EINVAL` when `bar` is not a memory BAR of at least `SIZE`
    /// bytes, `EBUSY` when someone else holds it and `ENOMEM` when it
    /// cannot be mapped.
    pub fn iomap_region<const SIZE: usize>(
        &self,
        bar: u32,
        name: &'static CStr,
    ) -> Result<Bar<SIZE>> {
        if bar >= bindings::PCI_STD_NUM_BARS {
            return Err(EINVAL);
        }
        let num = bar as c_int;
        // SAFETY: The device is valid, and `num` is a standard BAR.
        let (flags, len) = unsafe {
            (
                bindings::pci_resource_flags(self.as_raw(), num),
                bindings::pci_resource_len(self.as_raw(), num),
            )
        };
        let len = usize::try_from(len).map_err(|_| EINVAL)?;
        if flags & (bindings::IORESOURCE_MEM as c_ulong) == 0 || len < SIZE {
            return Err(EINVAL);
        }
        // SAFETY: As above; `name` is static, as the region keeps it; the
        // device is being probed, so the region is the driver's to take.
        to_result(unsafe { bindings::pci_request_region(self.as_raw(), num, name.as_char_ptr()) })?;
        // SAFETY: As above; the region is ours.
        let addr = unsafe { bindings::pci_iomap(self.as_raw(), num, 0) };
        // SAFETY: `pci_iomap()` mapped the whole BAR, `len` bytes, or
        // returned null, which `Io::new` refuses; `Bar` unmaps it only when
        // it drops the `Io`.
        match unsafe { Io::new(addr, len) } {
            // INVARIANT: The region is requested and `io` maps it.
            Ok(io) => Ok(Bar {
                pdev: self.0.into(),
                io,
                num,
            }),
            Err(_) => {
                // SAFETY: The region was requested above.
                unsafe { bindings::pci_release_region(self.as_raw(), num) };
                Err(ENOMEM)
            }
        }
    }
}

/// Disables the device of a [`Device::enable_device_mem`] call.
///
/// # Safety
///
/// `pdev` must be a valid `struct pci_dev` that was enabled.
unsafe extern "C" fn disable_device(pdev: *mut c_void) {
    // SAFETY: By the function's contract.
    unsafe { bindings::pci_disable_device(pdev.cast()) };
}

impl AsRef<device::Device> for Device {
    fn as_ref(&self) -> &device::Device {
        // SAFETY: By the type invariant the device is valid, and so is the
        // `struct device` in it, for as long as `self` is borrowed.
        unsafe { device::Device::as_ref(ptr::addr_of_mut!((*self.as_raw()).dev)) }
    }
}

// SAFETY: A shared reference guarantees a non-zero reference count, which
// `pci_dev_get()` and `pci_dev_put()` maintain.
unsafe impl AlwaysRefCounted for Device {
    fn inc_ref(&self) {
        // SAFETY: The reference count is non-zero.
        unsafe { bindings::pci_dev_get(self.as_raw()) };
    }

    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: The caller gives up a reference it holds.
        unsafe { bindings::pci_dev_put(obj.cast().as_ptr()) }
    }
}

// SAFETY: A `struct pci_dev` may be used and released from any thread.
unsafe impl Send for Device {}

// SAFETY: The methods of a shared `Device` are safe to call concurrently: the
// PCI core serialises what needs it.
unsafe impl Sync for Device {}

/// A memory BAR of a PCI device, requested for the driver and mapped: its
/// registers are the [`Io`] it dereferences to.
///
/// Dropping it unmaps the registers and releases the region; a driver keeps
/// it in its data (see the [module documentation](self)).
///
/// # Invariants
///
/// BAR `num` of `pdev` is requested, and `io` maps all of it.
pub struct Bar<const SIZE: usize = 0> {
    pdev: ARef<Device>,
    io: Io<SIZE>,
    num: c_int,
}

impl<const SIZE: usize> Deref for Bar<SIZE> {
    type Target = Io<SIZE>;

    fn deref(&self) -> &Io<SIZE> {
        &self.io
    }
}

impl<const SIZE: usize> Drop for Bar<SIZE> {
    fn drop(&mut self) {
        // SAFETY: By the type invariant `io` is a mapping of the device's
        // BAR `num`, whose region is ours; nothing borrows `io` any more.
        unsafe {
            bindings::pci_iounmap(self.pdev.as_raw(), self.io.addr());
            bindings::pci_release_region(self.pdev.as_raw(), self.num);
        }
    }
}

/// A PCI driver.
///
/// The driver's data is `Self`: [`Driver::probe`] makes it for each device
/// the driver binds, and the [`Registration`] keeps it until the device is
/// unbound.
pub trait Driver: Send + Sync + Sized + 'static {
    /// The sysfs files to create on each device the driver binds.
    const ATTRIBUTES: &'static [&'static Attribute<Self>] = &[];

    /// Binds the driver to `pdev`, which matched `id`.
    fn probe(pdev: &ProbingDevice<'_>, id: &DeviceId) -> Result<Pin<KBox<Self>>>;

    /// Quiesces the device before its data is dropped.
    fn remove(self: Pin<&Self>, _pdev: &Device) {}
}

/// A PCI driver's entry in the PCI core, usually a `static` declared by
/// [`module_pci_driver!`].
///
/// # Invariants
///
/// `driver` probes with `Self::probe_callback` and removes with
/// `Self::remove_callback`, so the driver data of every device bound to it
/// is a `KBox<T>` made by `T::probe`.
pub struct Registration<T: Driver> {
    driver: Opaque<bindings::pci_driver>,
    /// Whether `driver` is registered, or being registered: the PCI core
    /// must not be given it twice.
    registered: AtomicBool,
    _driver: PhantomData<T>,
}

// SAFETY: `registered` lets one caller at a time give `driver` to the PCI
// core, which serialises probe and remove; otherwise it is only read.
unsafe impl<T: Driver> Sync for Registration<T> {}

// SAFETY: As above; nothing in a registration belongs to one thread.
unsafe impl<T: Driver> Send for Registration<T> {}

impl<T: Driver> Registration<T> {
    /// A registration of the driver `name` for the devices of `ids`, which
    /// must end with [`DeviceId::END`].
    pub const fn new(name: &'static CStr, ids: &'static [DeviceId]) -> Self {
        assert!(
            !ids.is_empty() && ids[ids.len() - 1].is_end(),
            "a PCI ID table must end with DeviceId::END"
        );
        // SAFETY: All-zero is a valid `pci_driver`: null pointers and no
        // callbacks; the PCI core initialises the rest when registering.
        let mut driver: bindings::pci_driver = unsafe { core::mem::zeroed() };
        driver.name = name.as_char_ptr();
        driver.id_table = ids.as_ptr().cast();
        driver.probe = Some(Self::probe_callback);
        driver.remove = Some(Self::remove_callback);
        // INVARIANT: The callbacks are this type's.
        Self {
            driver: Opaque::new(driver),
            registered: AtomicBool::new(false),
            _driver: PhantomData,
        }
    }

    /// Registers the driver with the PCI core, for the module `module`
    /// called `module_name`, which binds it to the devices it matches;
    /// dropping the result unregisters it.
    ///
    /// Returns `EBUSY` when the driver is registered already.
    pub fn register(
        &'static self,
        module: &'static ThisModule,
        module_name: &'static CStr,
    ) -> Result<Registered<T>> {
        if self
            .registered
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            return Err(EBUSY);
        }
        // SAFETY: The driver is static, and no one else has given it to the
        // PCI core (`registered` was false).
        to_result(unsafe {
            bindings::__pci_register_driver(
                self.driver.get(),
                module.as_ptr(),
                module_name.as_char_ptr(),
            )
        })
        .inspect_err(|_| self.registered.store(false, Ordering::Release))?;
        Ok(Registered(self))
    }

    /// Calls `f` with a device bound to this driver and the driver's data
    /// for it, under the device's lock, so that it cannot be unbound
    /// meanwhile; returns `None` when no device is bound.
    ///
    /// This deadlocks when called with the device's lock held: from the
    /// driver's `probe` or `remove`, from one of its sysfs files (whose
    /// removal waits for them), or when `f` unbinds the device.
    pub fn with_bound<R>(&'static self, f: impl FnOnce(&Device, Pin<&T>) -> R) -> Option<R> {
        // The PCI bus, not the driver, is searched: the driver's list of
        // devices is freed when it is unregistered. The match only compares
        // pointers; the device lock below makes it exact.
        // SAFETY: The PCI bus type is static; `bound_to` takes the driver.
        let dev = unsafe {
            bindings::bus_find_device(
                ptr::addr_of!(bindings::pci_bus_type),
                ptr::null_mut(),
                ptr::addr_of!((*self.driver.get()).driver).cast(),
                Some(bound_to),
            )
        };
        if dev.is_null() {
            return None;
        }
        // SAFETY: `driver_find_device()` returned a reference to a device,
        // which it holds until `put_device()` below.
        unsafe { bindings::device_lock(dev) };
        // SAFETY: The device is valid and locked: the driver it is bound to
        // cannot change.
        let bound = unsafe { ptr::eq((*dev).driver, ptr::addr_of!((*self.driver.get()).driver)) };
        let ret = bound.then(|| {
            // SAFETY: A device bound to a PCI driver is a PCI device.
            let pdev = unsafe {
                Device::from_raw(crate::container_of!(dev, bindings::pci_dev, dev).cast_mut())
            };
            // SAFETY: By the type invariant the driver data of a device bound
            // to this registration is a `T`, pinned in a box that lives until
            // the device is unbound, which the lock prevents.
            let data = unsafe { Pin::new_unchecked(&*bindings::dev_get_drvdata(dev).cast::<T>()) };
            f(pdev, data)
        });
        // SAFETY: Locked and referenced above.
        unsafe {
            bindings::device_unlock(dev);
            bindings::put_device(dev);
        }
        ret
    }

    extern "C" fn probe_callback(
        pdev: *mut bindings::pci_dev,
        id: *const bindings::pci_device_id,
    ) -> c_int {
        // SAFETY: The PCI core passes a valid device, which it keeps alive
        // during probe, and the entry of the ID table (ours, or a dynamic
        // one) that it matched.
        let (pdev, id) = unsafe { (Device::from_raw(pdev), &*id.cast::<DeviceId>()) };
        // INVARIANT: The PCI core probes under the device lock.
        match Self::probe(&ProbingDevice(pdev), id) {
            Ok(()) => 0,
            Err(err) => err.to_errno(),
        }
    }

    fn probe(pdev: &ProbingDevice<'_>, id: &DeviceId) -> Result {
        let data = T::probe(pdev, id)?;
        let dev = pdev.as_ref().as_raw();
        // SAFETY: The data is given to the device, and taken back and dropped
        // in place, never moved, by `remove_callback` or below.
        let data = KBox::into_raw(unsafe { Pin::into_inner_unchecked(data) });
        // SAFETY: The device is being probed: its driver data is ours.
        unsafe { bindings::dev_set_drvdata(dev, data.cast()) };
        for (made, attr) in T::ATTRIBUTES.iter().enumerate() {
            // SAFETY: `attr` is static and shows and stores through the driver
            // data just set.
            let err = unsafe { bindings::device_create_file(dev, &attr.raw) };
            if err != 0 {
                // SAFETY: The files made so far are removed, the data was
                // set above and nothing else refers to it any more.
                unsafe {
                    Self::remove_files(dev, made);
                    Self::release(pdev, data);
                }
                return Err(Error::from_errno(err));
            }
        }
        Ok(())
    }

    extern "C" fn remove_callback(pdev: *mut bindings::pci_dev) {
        // SAFETY: The PCI core passes a valid device bound to this driver,
        // which it keeps alive during remove.
        let pdev = unsafe { Device::from_raw(pdev) };
        let dev = pdev.as_ref().as_raw();
        // SAFETY: The device's files and data were made by `probe`; once the
        // files are gone (their users done), nothing refers to the data.
        unsafe {
            Self::remove_files(dev, T::ATTRIBUTES.len());
            Self::release(pdev, bindings::dev_get_drvdata(dev).cast());
        }
    }

    /// Removes the first `made` files of `T::ATTRIBUTES` from `dev`.
    ///
    /// # Safety
    ///
    /// They must have been created on `dev`.
    unsafe fn remove_files(dev: *mut bindings::device, made: usize) {
        for attr in T::ATTRIBUTES[..made].iter().rev() {
            // SAFETY: By the function's contract; this waits for the file's
            // readers and writers to finish.
            unsafe { bindings::device_remove_file(dev, &attr.raw) };
        }
    }

    /// Runs `T::remove` and drops the driver data `data` of `pdev`.
    ///
    /// # Safety
    ///
    /// `data` must be the driver data `probe` gave `pdev`, no longer used by
    /// anything else.
    unsafe fn release(pdev: &Device, data: *mut T) {
        // SAFETY: By the function's contract the box is ours, pinned.
        let data = unsafe { Pin::new_unchecked(KBox::from_raw(data)) };
        data.as_ref().remove(pdev);
        // SAFETY: The device's driver data is ours.
        unsafe { bindings::dev_set_drvdata(pdev.as_ref().as_raw(), ptr::null_mut()) };
        drop(data);
    }
}

/// Matches a device bound to the `struct device_driver` at `driver`, for
/// `bus_find_device()`.
///
/// # Safety
///
/// `dev` must be a valid device.
unsafe extern "C" fn bound_to(dev: *mut bindings::device, driver: *const c_void) -> c_int {
    // SAFETY: `dev` is valid; the driver may change meanwhile (the caller
    // checks again under the device lock), so the pointer is read once and
    // only compared.
    let bound = unsafe { ptr::read_volatile(ptr::addr_of!((*dev).driver)) };
    c_int::from(ptr::eq(bound.cast::<c_void>(), driver))
}

/// A registered PCI driver; dropping it unregisters the driver, unbinding
/// it from its devices.
pub struct Registered<T: Driver>(&'static Registration<T>);

impl<T: Driver> Drop for Registered<T> {
    fn drop(&mut self) {
        // SAFETY: The driver was registered by `Registration::register`.
        unsafe { bindings::pci_unregister_driver(self.0.driver.get()) };
        self.0.registered.store(false, Ordering::Release);
    }
}

/// Shows an attribute: writes its text into the buffer.
pub type ShowFn<T> = fn(&T, &mut AttributeText) -> Result;

/// Stores an attribute: acts on the bytes written to it.
pub type StoreFn<T> = fn(&T, &[u8]) -> Result;

/// A sysfs file of the devices a [`Driver`] binds, read with `show` and
/// written with `store`; declared as a `static` and listed in
/// [`Driver::ATTRIBUTES`].
///
/// # Invariants
///
/// `raw` calls `show_callback::<T>`/`store_callback::<T>` exactly when
/// `show`/`store` is set.
#[repr(C)]
pub struct Attribute<T: Driver> {
    // First: the callbacks find `Self` from the `device_attribute`.
    raw: bindings::device_attribute,
    show: Option<ShowFn<T>>,
    store: Option<StoreFn<T>>,
}

// SAFETY: An attribute is not changed after it is made.
unsafe impl<T: Driver> Sync for Attribute<T> {}

impl<T: Driver> Attribute<T> {
    /// A file `name`, readable by all when it has `show` and writable by
    /// root when it has `store`.
    pub const fn new(
        name: &'static CStr,
        show: Option<ShowFn<T>>,
        store: Option<StoreFn<T>>,
    ) -> Self {
        // SAFETY: All-zero is a valid `device_attribute`: no name, mode or
        // callbacks, set below.
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
}

/// The text of a sysfs file being read: at most a page, cut beyond that
/// (as `sysfs_emit()` does).
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

/// # Safety
///
/// `attr` must be the `raw` field of an `Attribute<T>`, on a device bound to
/// `T`'s [`Registration`]; `buf` a page.
unsafe extern "C" fn show_callback<T: Driver>(
    dev: *mut bindings::device,
    attr: *mut bindings::device_attribute,
    buf: *mut c_char,
) -> isize {
    // SAFETY: By the function's contract, and by the type invariant of
    // `Registration`, the file exists only while the driver data is a `T`.
    let (attr, data) = unsafe {
        (
            &*attr.cast::<Attribute<T>>(),
            &*bindings::dev_get_drvdata(dev).cast::<T>(),
        )
    };
    // SAFETY: `buf` is a page that sysfs gave the show callback, which
    // outlives `text`.
    let raw = unsafe { RawFormatter::from_buffer(buf.cast(), AttributeText::CAPACITY) };
    let mut text = AttributeText(raw);
    match attr.show.map(|show| show(data, &mut text)) {
        Some(Ok(())) => text.len() as isize,
        Some(Err(err)) => err.to_errno() as isize,
        None => EIO.to_errno() as isize,
    }
}

/// # Safety
///
/// As for `show_callback`, with `count` bytes at `buf`.
unsafe extern "C" fn store_callback<T: Driver>(
    dev: *mut bindings::device,
    attr: *mut bindings::device_attribute,
    buf: *const c_char,
    count: usize,
) -> isize {
    // SAFETY: As in `show_callback`; sysfs gives `count` bytes at `buf`.
    let (attr, data, input) = unsafe {
        (
            &*attr.cast::<Attribute<T>>(),
            &*bindings::dev_get_drvdata(dev).cast::<T>(),
            core::slice::from_raw_parts(buf.cast::<u8>(), count),
        )
    };
    match attr.store.map(|store| store(data, input)) {
        Some(Ok(())) => count as isize,
        Some(Err(err)) => err.to_errno() as isize,
        None => EIO.to_errno() as isize,
    }
}

/// Declares a module that registers a PCI [`Driver`].
///
/// The module has no device table yet, so when built as a loadable module
/// it is not loaded automatically for its devices.
///
/// `registration` names the `static` [`Registration`], for
/// [`Registration::with_bound`]; `ids` lists the vendor and device IDs the
/// driver binds; the rest is as for [`module!`](crate::prelude::module).
///
/// # Examples
///
/// ```ignore
/// kernel::module_pci_driver! {
///     type: MyDriver,
///     registration: MY_DRIVER,
///     ids: [(0x1234, 0x11e8)],
///     name: "my_driver",
///     author: "Rust for Linux Contributors",
///     description: "An example PCI driver",
///     license: "GPL",
/// }
/// ```
#[macro_export]
macro_rules! module_pci_driver {
    (
        type: $driver:ty,
        registration: $registration:ident,
        ids: [$(($vendor:expr, $device:expr)),+ $(,)?],
        name: $name:tt,
        $($rest:tt)*
    ) => {
        static $registration: $crate::pci::Registration<$driver> = $crate::pci::Registration::new(
            $crate::c_str!($name),
            &[$($crate::pci::DeviceId::new($vendor, $device),)+ $crate::pci::DeviceId::END],
        );

        struct __PciDriverModule {
            _registered: $crate::pci::Registered<$driver>,
        }

        impl $crate::Module for __PciDriverModule {
            fn init(module: &'static $crate::ThisModule) -> $crate::error::Result<Self> {
                Ok(Self {
                    _registered: $registration.register(module, $crate::c_str!($name))?,
                })
            }
        }

        $crate::prelude::module! {
            type: __PciDriverModule,
            name: $name,
            $($rest)*
        }
    };
}
