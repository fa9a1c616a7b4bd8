// SPDX-License-Identifier: GPL-2.0

//! PCI devices and drivers, in the shape of upstream's 6.18 driver model.
//!
//! A driver implements [`Driver`]: an ID table made by [`pci_device_table!`], a `probe` that
//! returns the driver's data for a device it binds and an optional `unbind`. The module is
//! declared by [`module_pci_driver!`], which registers the driver through [`Adapter`].
//!
//! What a driver may do depends on the [device context](crate::device::DeviceContext) of the
//! [`Device`] it holds:
//!
//! - `probe` and `unbind` get a `&Device<Core>`: the device is bound and locked. Only there can
//!   the device be enabled ([`Device::enable_device_mem`]) and made a bus master.
//! - a `&Device<Bound>` maps BARs ([`Device::iomap_region_sized`]). A BAR is handed out as a
//!   [`Devres<Bar>`](crate::devres::Devres), revoked when the driver unbinds, wherever it is
//!   kept.
//! - an `ARef<Device>` only reads what does not depend on a binding.
//!
//! At an unbind, in order: the sysfs files of [`Driver::ATTRIBUTES`] are removed (waiting for
//! their readers and writers), [`Driver::unbind`] runs, the driver's data is dropped, and then
//! the device's devres entries go: the BARs are unmapped and the device is disabled, which
//! also stops its bus mastering.
//!
//! Added here, not upstream: [`Driver::ATTRIBUTES`], [`with_bound`] and [`Vendor::from_raw`].
//!
//! C header: [`include/linux/pci.h`](srctree/include/linux/pci.h)

mod id;
mod io;
#[cfg(CONFIG_PCI_P2PDMA)]
pub mod p2pdma;

pub use self::id::{Class, ClassMask, Vendor};
pub use self::io::Bar;

use crate::ffi::{c_int, c_void};
use crate::{
    bindings, device,
    device_id::{RawDeviceId, RawDeviceIdIndex},
    driver,
    error::{code::*, from_result, to_result, Error, Result},
    prelude::*,
    str::CStr,
    types::{AlwaysRefCounted, ForeignOwnable, Opaque},
    ThisModule,
};
use core::{
    any::TypeId,
    marker::PhantomData,
    mem::offset_of,
    ptr::{self, NonNull},
};

/// A PCI device ID that a driver binds to.
#[repr(transparent)]
#[derive(Clone, Copy)]
pub struct DeviceId(bindings::pci_device_id);

impl DeviceId {
    const PCI_ANY_ID: u32 = !0;

    /// Matches devices of `vendor` with device ID `device`, any subsystem.
    pub const fn from_id(vendor: Vendor, device: u32) -> Self {
        Self(bindings::pci_device_id {
            vendor: vendor.as_raw() as u32,
            device,
            subvendor: DeviceId::PCI_ANY_ID,
            subdevice: DeviceId::PCI_ANY_ID,
            class: 0,
            class_mask: 0,
            driver_data: 0,
            override_only: 0,
        })
    }

    /// Matches devices whose class, masked by `class_mask`, is `class`.
    pub const fn from_class(class: u32, class_mask: u32) -> Self {
        Self(bindings::pci_device_id {
            vendor: DeviceId::PCI_ANY_ID,
            device: DeviceId::PCI_ANY_ID,
            subvendor: DeviceId::PCI_ANY_ID,
            subdevice: DeviceId::PCI_ANY_ID,
            class,
            class_mask,
            driver_data: 0,
            override_only: 0,
        })
    }

    /// Matches devices of `vendor` whose class, masked by `class_mask`, is `class`.
    pub const fn from_class_and_vendor(
        class: Class,
        class_mask: ClassMask,
        vendor: Vendor,
    ) -> Self {
        Self(bindings::pci_device_id {
            vendor: vendor.as_raw() as u32,
            device: DeviceId::PCI_ANY_ID,
            subvendor: DeviceId::PCI_ANY_ID,
            subdevice: DeviceId::PCI_ANY_ID,
            class: class.as_raw(),
            class_mask: class_mask.as_raw(),
            driver_data: 0,
            override_only: 0,
        })
    }
}

// SAFETY: `DeviceId` is a transparent wrapper of `pci_device_id`.
unsafe impl RawDeviceId for DeviceId {
    type RawType = bindings::pci_device_id;
}

// SAFETY: `driver_data` is a `kernel_ulong_t`, the size of a `usize`, which the PCI core only
// hands back to the driver's probe.
unsafe impl RawDeviceIdIndex for DeviceId {
    const DRIVER_DATA_OFFSET: usize = offset_of!(bindings::pci_device_id, driver_data);

    fn index(&self) -> usize {
        self.0.driver_data
    }
}

/// The ID table of a PCI driver, with the driver's information of each entry.
pub type IdTable<T> = &'static dyn crate::device_id::IdTable<DeviceId, T>;

/// Declares a PCI ID table `$table_name` with the driver's information of type `$id_info_type`
/// for each entry, and its `MODULE_DEVICE_TABLE` `$module_table_name`.
///
/// # Examples
///
/// ```ignore
/// kernel::pci_device_table!(
///     PCI_TABLE,
///     MODULE_PCI_TABLE,
///     <MyDriver as pci::Driver>::IdInfo,
///     [(pci::DeviceId::from_id(pci::Vendor::REDHAT, 0x5), ())]
/// );
/// ```
#[macro_export]
macro_rules! pci_device_table {
    ($table_name:ident, $module_table_name:ident, $id_info_type:ty, $table_data:expr) => {
        const $table_name: $crate::device_id::IdArray<
            $crate::pci::DeviceId,
            $id_info_type,
            { $table_data.len() },
        > = $crate::device_id::IdArray::new($table_data);

        $crate::module_device_table!("pci", $module_table_name, $table_name);
    };
}

/// A PCI driver.
///
/// The driver's data is `Self`: [`Driver::probe`] makes it for each device the driver binds,
/// and it is dropped when the device is unbound.
pub trait Driver: Send + 'static {
    /// The driver's information for each entry of [`Driver::ID_TABLE`].
    type IdInfo: 'static;

    /// The devices the driver binds.
    const ID_TABLE: IdTable<Self::IdInfo>;

    /// The sysfs files to create on each device the driver binds.
    ///
    /// Not upstream: see the [module documentation](self).
    const ATTRIBUTES: &'static [&'static driver::Attribute<Self>] = &[];

    /// Binds the driver to `dev`, which matched the entry of [`Driver::ID_TABLE`] whose
    /// information is `id_info`.
    fn probe(dev: &Device<device::Core>, id_info: &Self::IdInfo) -> Result<Pin<KBox<Self>>>;

    /// Quiesces the device before the driver's data `this` is dropped.
    fn unbind(dev: &Device<device::Core>, this: Pin<&Self>) {
        let _ = (dev, this);
    }
}

/// A PCI device.
///
/// # Invariants
///
/// A `Device` is a valid `struct pci_dev`, kept alive by a reference count or by the code that
/// lends it; what `Ctx` states of its binding holds for as long as it is borrowed.
#[repr(transparent)]
pub struct Device<Ctx: device::DeviceContext = device::Normal>(
    Opaque<bindings::pci_dev>,
    PhantomData<Ctx>,
);

impl<Ctx: device::DeviceContext> Device<Ctx> {
    /// Borrows the PCI device at `ptr`.
    ///
    /// # Safety
    ///
    /// `ptr` must point to a valid `struct pci_dev` that stays alive for `'a`, in the context
    /// `Ctx` for that long.
    pub unsafe fn from_raw<'a>(ptr: *mut bindings::pci_dev) -> &'a Self {
        // SAFETY: `Device` is a transparent wrapper of `pci_dev`; the rest is the caller's.
        unsafe { &*ptr.cast() }
    }

    /// The raw `struct pci_dev`.
    pub fn as_raw(&self) -> *mut bindings::pci_dev {
        self.0.get()
    }
}

impl Device {
    /// The vendor ID.
    pub fn vendor_id(&self) -> Vendor {
        // SAFETY: By the type invariant the device is valid; the ID does not change.
        Vendor::from_raw(unsafe { (*self.as_raw()).vendor })
    }

    /// The device ID.
    pub fn device_id(&self) -> u16 {
        // SAFETY: As above.
        unsafe { (*self.as_raw()).device }
    }

    /// The revision ID.
    pub fn revision_id(&self) -> u8 {
        // SAFETY: As above.
        unsafe { (*self.as_raw()).revision }
    }

    /// The bus, device and function number, as `pci_dev_id()` encodes them.
    pub fn dev_id(&self) -> u16 {
        // SAFETY: As above; the bus of a device does not change.
        unsafe { bindings::pci_dev_id(self.as_raw()) }
    }

    /// The subsystem vendor ID.
    pub fn subsystem_vendor_id(&self) -> u16 {
        // SAFETY: As above.
        unsafe { (*self.as_raw()).subsystem_vendor }
    }

    /// The subsystem device ID.
    pub fn subsystem_device_id(&self) -> u16 {
        // SAFETY: As above.
        unsafe { (*self.as_raw()).subsystem_device }
    }

    /// The device's class.
    pub fn pci_class(&self) -> Class {
        // SAFETY: As above.
        Class::from_raw(unsafe { (*self.as_raw()).class })
    }

    /// The bus address where BAR `bar` starts.
    ///
    /// Returns `EINVAL` when `bar` is not a standard BAR.
    pub fn resource_start(&self, bar: u32) -> Result<bindings::resource_size_t> {
        let bar = standard_bar(bar)?;
        // SAFETY: The device is valid, and `bar` a standard BAR.
        Ok(unsafe { bindings::pci_resource_start(self.as_raw(), bar) })
    }

    /// The size of BAR `bar`, 0 when it is not implemented.
    ///
    /// Returns `EINVAL` when `bar` is not a standard BAR.
    pub fn resource_len(&self, bar: u32) -> Result<bindings::resource_size_t> {
        let bar = standard_bar(bar)?;
        // SAFETY: As above.
        Ok(unsafe { bindings::pci_resource_len(self.as_raw(), bar) })
    }
}

/// `bar` as a standard BAR number.
fn standard_bar(bar: u32) -> Result<c_int> {
    if bar < bindings::PCI_STD_NUM_BARS {
        Ok(bar as c_int)
    } else {
        Err(EINVAL)
    }
}

impl Device<device::Bound> {
    /// Requests memory BAR `bar` for the driver, under `name`, and maps it: at least `SIZE`
    /// bytes, checked at build time by the accessors.
    ///
    /// The BAR is unmapped and released when the driver unbinds, or when the `Devres` is
    /// dropped before. Fails with `EINVAL` when `bar` is not a memory BAR of at least `SIZE`
    /// bytes, `EBUSY` when someone else holds it and `ENOMEM` when it cannot be mapped.
    pub fn iomap_region_sized<'a, const SIZE: usize>(
        &'a self,
        bar: u32,
        name: &'a CStr,
    ) -> impl PinInit<crate::devres::Devres<Bar<SIZE>>, Error> + 'a {
        crate::devres::Devres::new(self.as_ref(), Bar::<SIZE>::init(self, bar, name))
    }

    /// As [`Device::iomap_region_sized`], with no size known at build time: every access is
    /// checked at run time.
    pub fn iomap_region<'a>(
        &'a self,
        bar: u32,
        name: &'a CStr,
    ) -> impl PinInit<crate::devres::Devres<Bar>, Error> + 'a {
        self.iomap_region_sized::<0>(bar, name)
    }
}

impl Device<device::Core> {
    /// Enables the device's memory space and wakes it up.
    ///
    /// The device is disabled again, which also stops its bus mastering, when the driver
    /// unbinds or fails to probe.
    pub fn enable_device_mem(&self) -> Result {
        // SAFETY: By the type invariant the device is valid.
        to_result(unsafe { bindings::pci_enable_device_mem(self.as_raw()) })?;
        // SAFETY: The action disables the device it is given. The device's devres actions run
        // when the driver unbinds or fails to probe, and at the latest before the device is
        // released, so it is alive then; the device is bound (`Core`), so the action belongs
        // to this binding.
        to_result(unsafe {
            bindings::__devm_add_action(
                device::Device::<device::Core>::as_raw(self.as_ref()),
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
    /// Disabling the device (see [`Device::enable_device_mem`]) stops it.
    #[inline]
    pub fn set_master(&self) {
        // SAFETY: The device is valid; it is locked (`Core`), which serialises the changes of
        // its flags.
        unsafe { bindings::pci_set_master(self.as_raw()) };
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

// SAFETY: `Device` is a transparent wrapper of `pci_dev` in every context.
kernel::impl_device_context_deref!(unsafe { Device });
kernel::impl_device_context_into_aref!(Device);

impl crate::dma::Device for Device<device::Core> {}

impl<Ctx: device::DeviceContext> AsRef<device::Device<Ctx>> for Device<Ctx> {
    fn as_ref(&self) -> &device::Device<Ctx> {
        // SAFETY: By the type invariant the device is valid, and so is the `struct device` in
        // it, in the same context, for as long as `self` is borrowed.
        unsafe { device::Device::from_raw(ptr::addr_of_mut!((*self.as_raw()).dev)) }
    }
}

impl<'a, Ctx: device::DeviceContext> TryFrom<&'a device::Device<Ctx>> for &'a Device<Ctx> {
    type Error = Error;

    /// The PCI device `dev` is, or `EINVAL` when it is not on the PCI bus.
    fn try_from(dev: &'a device::Device<Ctx>) -> Result<Self> {
        // SAFETY: `dev` is valid; its bus does not change.
        let bus = unsafe { (*dev.as_raw()).bus };
        if !ptr::eq(bus, ptr::addr_of!(bindings::pci_bus_type)) {
            return Err(EINVAL);
        }
        // SAFETY: A device on the PCI bus is the `dev` of a `struct pci_dev`, which lives as
        // long as it, in the same context.
        Ok(unsafe {
            Device::from_raw(crate::container_of!(dev.as_raw(), bindings::pci_dev, dev).cast_mut())
        })
    }
}

// SAFETY: A shared reference guarantees a non-zero reference count, which `pci_dev_get()` and
// `pci_dev_put()` maintain.
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

// SAFETY: The methods of a shared `Device` are safe to call concurrently: the PCI core
// serialises what needs it.
unsafe impl Sync for Device {}

/// The `struct pci_driver` of a Rust driver, with what its callbacks need to find the driver's
/// type.
///
/// # Invariants
///
/// When `raw.probe` is [`probe_callback`], `ops` is the [`AdapterOps`] of the driver `T` whose
/// [`Adapter<T>`] registered `raw`, and the driver data of every device bound to `raw` is a
/// `Pin<KBox<T>>` made by `T::probe`.
#[repr(C)]
#[derive(Default)]
pub struct RawDriver {
    raw: bindings::pci_driver,
    ops: Option<&'static AdapterOps>,
}

/// The driver-type-specific half of the callbacks of a [`RawDriver`].
#[doc(hidden)]
pub struct AdapterOps {
    type_id: fn() -> TypeId,
    probe: unsafe fn(&Device<device::CoreInternal>, &bindings::pci_device_id) -> Result,
    remove: unsafe fn(&Device<device::CoreInternal>),
}

/// The PCI bus's side of the driver `T`: registers it, and probes and unbinds it.
pub struct Adapter<T: Driver>(T);

impl<T: Driver> Adapter<T> {
    const OPS: AdapterOps = AdapterOps {
        type_id: TypeId::of::<T>,
        probe: Self::probe,
        remove: Self::remove,
    };

    /// # Safety
    ///
    /// `pdev` is being probed by the driver `Self::OPS` belongs to, `id` an entry of its table.
    unsafe fn probe(pdev: &Device<device::CoreInternal>, id: &bindings::pci_device_id) -> Result {
        // The table's entries hold their index. The PCI core accepts a dynamic ID (`new_id`)
        // only with the `driver_data` of an entry of the table.
        let index = id.driver_data;
        let table = T::ID_TABLE;
        let info = table.info(index);
        let data = T::probe(pdev, info)?;
        let dev: &device::Device<device::CoreInternal> = pdev.as_ref();
        dev.set_drvdata(data);
        for (made, attr) in T::ATTRIBUTES.iter().enumerate() {
            // SAFETY: `attr` is static; its file shows and stores through the driver data just
            // set, a `Pin<KBox<T>>`, and is removed before the data is dropped.
            let err = unsafe { bindings::device_create_file(dev.as_raw(), attr.as_raw()) };
            if err != 0 {
                // SAFETY: The files made so far are removed; the data was set above and
                // nothing else refers to it any more.
                unsafe {
                    Self::remove_files(dev, made);
                    Self::release(pdev);
                }
                return Err(Error::from_errno(err));
            }
        }
        Ok(())
    }

    /// # Safety
    ///
    /// `pdev` is being unbound from the driver `Self::OPS` belongs to.
    unsafe fn remove(pdev: &Device<device::CoreInternal>) {
        // SAFETY: The device's files and data were made by `probe`; once the files are gone
        // (their users done), nothing refers to the data.
        unsafe {
            Self::remove_files(pdev.as_ref(), T::ATTRIBUTES.len());
            Self::release(pdev);
        }
    }

    /// Removes the first `made` files of `T::ATTRIBUTES` from `dev`.
    ///
    /// # Safety
    ///
    /// They must have been created on `dev`.
    unsafe fn remove_files(dev: &device::Device<device::CoreInternal>, made: usize) {
        for attr in T::ATTRIBUTES[..made].iter().rev() {
            // SAFETY: By the function's contract; this waits for the file's readers and
            // writers to finish.
            unsafe { bindings::device_remove_file(dev.as_raw(), attr.as_raw()) };
        }
    }

    /// Runs `T::unbind` and drops the driver data of `pdev`.
    ///
    /// # Safety
    ///
    /// The data must have been set by `probe`, and no longer be used by anything else.
    unsafe fn release(pdev: &Device<device::CoreInternal>) {
        let dev: &device::Device<device::CoreInternal> = pdev.as_ref();
        // SAFETY: By the function's contract the data is a `Pin<KBox<T>>` set by `probe`.
        let data = unsafe { dev.drvdata_obtain::<Pin<KBox<T>>>() };
        T::unbind(pdev, data.as_ref());
        drop(data);
    }
}

/// The `probe` of every Rust PCI driver: calls the driver type's.
extern "C" fn probe_callback(
    pdev: *mut bindings::pci_dev,
    id: *const bindings::pci_device_id,
) -> c_int {
    // SAFETY: The PCI core passes a valid device, which it keeps alive and locked during
    // probe, with `driver` set to the driver probing, and the entry of its table (ours, or a
    // dynamic one) that matched.
    let (pdev, id, driver) = unsafe {
        (
            Device::<device::CoreInternal>::from_raw(pdev),
            &*id,
            &*(*pdev).driver.cast::<RawDriver>(),
        )
    };
    from_result(|| {
        let ops = driver.ops.ok_or(EINVAL)?;
        // SAFETY: By the type invariant of `RawDriver`, `ops` is the driver's.
        unsafe { (ops.probe)(pdev, id) }?;
        Ok(0)
    })
}

/// The `remove` of every Rust PCI driver: calls the driver type's.
extern "C" fn remove_callback(pdev: *mut bindings::pci_dev) {
    // SAFETY: The PCI core passes a valid device bound to a driver of ours (its probe
    // succeeded), which it keeps alive and locked during remove.
    let (pdev, driver) = unsafe {
        (
            Device::<device::CoreInternal>::from_raw(pdev),
            &*(*pdev).driver.cast::<RawDriver>(),
        )
    };
    if let Some(ops) = driver.ops {
        // SAFETY: By the type invariant of `RawDriver`, `ops` is the driver's.
        unsafe { (ops.remove)(pdev) };
    }
}

// SAFETY: `register` fills in the driver and hands it to the PCI core, `unregister` takes it
// back; the callbacks are `probe_callback`/`remove_callback` with `T`'s ops, which keeps the
// invariant of `RawDriver`.
unsafe impl<T: Driver> driver::RegistrationOps for Adapter<T> {
    type RegType = RawDriver;

    unsafe fn register(
        reg: &Opaque<Self::RegType>,
        name: &'static CStr,
        module: &'static ThisModule,
    ) -> Result {
        let drv = reg.get();
        // SAFETY: By the function's contract the driver is pinned and not registered yet, so
        // it is ours to fill in.
        unsafe {
            (*drv).raw.name = name.as_char_ptr();
            (*drv).raw.probe = Some(probe_callback);
            (*drv).raw.remove = Some(remove_callback);
            (*drv).raw.id_table = T::ID_TABLE.as_ptr();
            (*drv).ops = Some(&Self::OPS);
        }
        // SAFETY: As above; the PCI core keeps the driver until `unregister`.
        to_result(unsafe {
            bindings::__pci_register_driver(
                ptr::addr_of_mut!((*drv).raw),
                module.as_ptr(),
                name.as_char_ptr(),
            )
        })
    }

    unsafe fn unregister(reg: &Opaque<Self::RegType>) {
        // SAFETY: By the function's contract the driver was registered.
        unsafe { bindings::pci_unregister_driver(ptr::addr_of_mut!((*reg.get()).raw)) };
    }
}

/// Calls `f` with a device bound to the Rust driver `T` and `T`'s data for it, under the
/// device's lock, so that it cannot be unbound meanwhile; returns `None` when no device is
/// bound to `T`.
///
/// For tests and diagnostics; not upstream. It deadlocks when called with the device's lock
/// held: from the driver's `probe` or `unbind`, from one of its sysfs files (whose removal waits
/// for them), or when `f` unbinds the device.
pub fn with_bound<T: Driver, R>(f: impl FnOnce(&Device<device::Bound>, Pin<&T>) -> R) -> Option<R> {
    let mut f = Some(f);
    let mut from: *mut bindings::device = ptr::null_mut();
    loop {
        // SAFETY: The PCI bus type is static; `bound_to_rust` reads the driver pointer only.
        let dev = unsafe {
            bindings::bus_find_device(
                ptr::addr_of!(bindings::pci_bus_type),
                from,
                ptr::null(),
                Some(bound_to_rust),
            )
        };
        if !from.is_null() {
            // SAFETY: The previous device's reference is given up.
            unsafe { bindings::put_device(from) };
        }
        if dev.is_null() {
            return None;
        }
        // SAFETY: `bus_find_device()` returned a referenced device; under its lock, the driver
        // it is bound to cannot change.
        let ret = unsafe {
            bindings::device_lock(dev);
            let ret = bound_data::<T>(dev).and_then(|(pdev, data)| f.take().map(|f| f(pdev, data)));
            bindings::device_unlock(dev);
            ret
        };
        if ret.is_some() {
            // SAFETY: Referenced by `bus_find_device()`.
            unsafe { bindings::put_device(dev) };
            return ret;
        }
        from = dev;
    }
}

/// The PCI device `dev` and `T`'s data for it, when `dev` is bound to the Rust driver `T`.
///
/// # Safety
///
/// `dev` must be a locked PCI device; the results must not be used once it is unlocked.
unsafe fn bound_data<'a, T: Driver>(
    dev: *mut bindings::device,
) -> Option<(&'a Device<device::Bound>, Pin<&'a T>)> {
    // SAFETY: `dev` is a PCI device by the function's contract.
    let pdev = unsafe { crate::container_of!(dev, bindings::pci_dev, dev).cast_mut() };
    // SAFETY: The device is locked: its driver is stable.
    let drv = unsafe { (*pdev).driver };
    // SAFETY: A driver whose probe is `probe_callback` is a `RawDriver`.
    let ops = unsafe {
        if drv.is_null() || !is_rust_probe((*drv).probe) {
            return None;
        }
        (*drv.cast::<RawDriver>()).ops?
    };
    if (ops.type_id)() != TypeId::of::<T>() {
        return None;
    }
    // SAFETY: The device is bound to `T` (its driver's ops are `T`'s), so by the type
    // invariant of `RawDriver` its data is a `Pin<KBox<T>>`; the lock keeps it bound.
    unsafe {
        let pdev = Device::<device::Bound>::from_raw(pdev);
        let data = <Pin<KBox<T>> as ForeignOwnable>::borrow(bindings::dev_get_drvdata(dev));
        Some((pdev, data))
    }
}

/// Whether `probe` is [`probe_callback`], which only [`RawDriver`]s have.
///
/// The kernel crate is one codegen unit, so `probe_callback` has one address, and no C
/// driver's probe can share it.
fn is_rust_probe(probe: Option<ProbeFn>) -> bool {
    probe.is_some_and(|probe| core::ptr::fn_addr_eq(probe, probe_callback as ProbeFn))
}

type ProbeFn =
    unsafe extern "C" fn(*mut bindings::pci_dev, *const bindings::pci_device_id) -> c_int;

/// Matches a PCI device bound to a Rust driver, for `bus_find_device()`.
///
/// # Safety
///
/// `dev` must be a valid PCI device.
unsafe extern "C" fn bound_to_rust(dev: *mut bindings::device, _data: *const c_void) -> c_int {
    // SAFETY: `dev` is a valid PCI device; its driver may change meanwhile (the caller checks
    // again under the device lock), so the pointer is read once, and only compared.
    let drv = unsafe {
        let pdev = crate::container_of!(dev, bindings::pci_dev, dev);
        ptr::read_volatile(ptr::addr_of!((*pdev).driver))
    };
    // SAFETY: A non-null driver of a device is a registered, valid `pci_driver`.
    c_int::from(!drv.is_null() && is_rust_probe(unsafe { (*drv).probe }))
}

/// Declares a module that registers the PCI [`Driver`] `type`.
///
/// The fields after `type` are those of [`module!`](crate::prelude::module).
///
/// # Examples
///
/// ```ignore
/// kernel::module_pci_driver! {
///     type: MyDriver,
///     name: "my_driver",
///     authors: ["Rust for Linux Contributors"],
///     description: "An example PCI driver",
///     license: "GPL",
/// }
/// ```
#[macro_export]
macro_rules! module_pci_driver {
    ($($f:tt)*) => {
        $crate::module_driver!(<T>, $crate::pci::Adapter<T>, { $($f)* });
    };
}
