// SPDX-License-Identifier: GPL-2.0

//! Tables of the device IDs a driver matches, each with the driver's information for it.
//!
//! A bus's ID type, such as [`pci::DeviceId`], is a transparent wrapper of the C structure its
//! bus matches against ([`RawDeviceId`]). An [`IdArray`] is a table of them that the bus can
//! read as C: the raw IDs, then a zeroed entry that ends them, then the driver's information of
//! each. Each raw ID's `driver_data` holds its index in the table, so the bus abstraction finds
//! the driver's information of the ID that matched through [`IdTable::info`].
//!
//! Tables are made by the bus's macro, such as [`pci_device_table!`](crate::pci_device_table).
//!
//! [`pci::DeviceId`]: crate::pci::DeviceId

use core::mem::MaybeUninit;

/// A device ID of a bus, the C structure its bus matches against.
///
/// # Safety
///
/// `Self` must be a transparent wrapper of `RawType`.
pub unsafe trait RawDeviceId {
    /// The C structure of an ID, for example `struct pci_device_id`.
    type RawType: Copy;
}

/// A device ID whose C structure has a `driver_data` field to hold its index in a table.
///
/// # Safety
///
/// `DRIVER_DATA_OFFSET` must be the offset of a `usize`-sized `driver_data` field of
/// `RawType`, which the bus gives back to the driver and otherwise leaves alone.
pub unsafe trait RawDeviceIdIndex: RawDeviceId {
    /// The offset of `driver_data` in `RawType`.
    const DRIVER_DATA_OFFSET: usize;

    /// The index this ID has in its table.
    fn index(&self) -> usize;
}

/// The raw IDs of an [`IdArray`], followed by the zeroed entry that ends them in C.
#[repr(C)]
pub struct RawIdArray<T: Copy, const N: usize> {
    ids: [T; N],
    sentinel: MaybeUninit<T>,
}

impl<T: Copy, const N: usize> RawIdArray<T, N> {
    /// The size of the table in bytes, the ending entry included.
    #[doc(hidden)]
    pub const fn size(&self) -> usize {
        core::mem::size_of::<Self>()
    }
}

/// A table of `N` device IDs of type `T`, each with the driver's information `U` for it.
#[repr(C)]
pub struct IdArray<T: RawDeviceId, U, const N: usize> {
    raw_ids: RawIdArray<T::RawType, N>,
    id_infos: [U; N],
}

impl<T: RawDeviceIdIndex, U, const N: usize> IdArray<T, U, N> {
    /// A table of `ids`, each raw ID given its index as its `driver_data`.
    pub const fn new(ids: [(T, U); N]) -> Self {
        let mut raw = [const { MaybeUninit::<T::RawType>::uninit() }; N];
        let mut infos = [const { MaybeUninit::<U>::uninit() }; N];
        let mut i = 0;
        while i < N {
            // SAFETY: By `RawDeviceId`'s contract `T` is a transparent `RawType`, so its bytes
            // are a valid `RawType`; by `RawDeviceIdIndex`'s, `driver_data` is a `usize` at
            // `DRIVER_DATA_OFFSET` within it. `ids` is forgotten below, so each `U` is moved
            // out once.
            unsafe {
                raw[i] = MaybeUninit::new(core::ptr::read(
                    core::ptr::from_ref(&ids[i].0).cast::<T::RawType>(),
                ));
                raw[i]
                    .as_mut_ptr()
                    .cast::<u8>()
                    .add(T::DRIVER_DATA_OFFSET)
                    .cast::<usize>()
                    .write_unaligned(i);
                infos[i] = MaybeUninit::new(core::ptr::read(&ids[i].1));
            }
            i += 1;
        }
        core::mem::forget(ids);
        Self {
            raw_ids: RawIdArray {
                // SAFETY: Every element was initialised by the loop.
                ids: unsafe { core::ptr::read(raw.as_ptr().cast::<[T::RawType; N]>()) },
                sentinel: MaybeUninit::zeroed(),
            },
            // SAFETY: As above.
            id_infos: unsafe { core::ptr::read(infos.as_ptr().cast::<[U; N]>()) },
        }
    }
}

impl<T: RawDeviceId, U, const N: usize> IdArray<T, U, N> {
    /// The raw IDs, for the bus and for `MODULE_DEVICE_TABLE`.
    pub const fn raw_ids(&self) -> &RawIdArray<T::RawType, N> {
        &self.raw_ids
    }
}

/// A table of device IDs of type `T` with the driver's information `U`, of any length.
pub trait IdTable<T: RawDeviceId, U> {
    /// The raw IDs, ended by a zeroed entry, for the bus's C code.
    fn as_ptr(&self) -> *const T::RawType;

    /// The raw ID at `index`.
    fn id(&self, index: usize) -> &T::RawType;

    /// The driver's information for the ID at `index`.
    fn info(&self, index: usize) -> &U;
}

impl<T: RawDeviceId, U, const N: usize> IdTable<T, U> for IdArray<T, U, N> {
    fn as_ptr(&self) -> *const T::RawType {
        // The array is `repr(C)`: its raw IDs, then their ending entry, come first.
        core::ptr::from_ref(self).cast()
    }

    fn id(&self, index: usize) -> &T::RawType {
        &self.raw_ids.ids[index]
    }

    fn info(&self, index: usize) -> &U {
        &self.id_infos[index]
    }
}

/// Declares the `MODULE_DEVICE_TABLE` of a module: `$table`'s raw IDs, as the symbol that
/// `modpost` reads to make the module's aliases for bus `$table_type`.
///
/// It does nothing in built-in code.
#[macro_export]
macro_rules! module_device_table {
    ($table_type: literal, $module_table_name:ident, $table_name:ident) => {
        #[cfg(MODULE)]
        $crate::macros::paste! {
            #[rustfmt::skip]
            #[no_mangle]
            #[link_section = ".modinfo.device_table"]
            static [<__mod_ $table_type __ $module_table_name _device_table>]:
                [u8; $table_name.raw_ids().size()] =
                // SAFETY: The raw IDs and their ending entry are plain data of that size.
                unsafe { ::core::mem::transmute_copy($table_name.raw_ids()) };
        }
    };
}
