// SPDX-License-Identifier: GPL-2.0

//! Coherent DMA allocations: memory that the CPU and the device share without syncs.
//!
//! C header: [`include/linux/dma-mapping.h`](srctree/include/linux/dma-mapping.h)

use super::{Attrs, DmaAddress};
use crate::{
    alloc::Flags,
    bindings,
    device::{Bound, Device},
    error::{code::*, Result},
    transmute::{AsBytes, FromBytes},
    types::ARef,
};

/// `count` elements of type `T` in memory allocated with `dma_alloc_attrs()`: the CPU reaches
/// them at [`CoherentAllocation::start_ptr`], the device at [`CoherentAllocation::dma_handle`].
///
/// The device may write the memory at any time, so the CPU reads and writes it by value,
/// through [`dma_read!`](crate::dma_read) and [`dma_write!`](crate::dma_write), or through the
/// `unsafe` slice accessors when the device is known to leave it alone.
///
/// # Examples
///
/// ```no_run
/// # use kernel::{device::{Bound, Device}, dma::CoherentAllocation, dma_read, dma_write};
/// # use kernel::prelude::*;
/// fn ring(dev: &Device<Bound>) -> Result<CoherentAllocation<u64>> {
///     let ring = CoherentAllocation::<u64>::alloc_coherent(dev, 16, GFP_KERNEL)?;
///     dma_write!(ring[0] = 0x1234)?;
///     assert_eq!(dma_read!(ring[0])?, 0x1234);
///     Ok(ring)
/// }
/// ```
///
/// # Invariants
///
/// `cpu_addr` is the kernel address of an allocation of `count * size_of::<T>()` bytes made by
/// `dma_alloc_attrs()` for `dev` with `dma_attrs`, at `dma_handle` for the device, and
/// `count > 0`.
pub struct CoherentAllocation<T: AsBytes + FromBytes> {
    dev: ARef<Device>,
    dma_handle: DmaAddress,
    count: usize,
    cpu_addr: *mut T,
    dma_attrs: Attrs,
}

impl<T: AsBytes + FromBytes> CoherentAllocation<T> {
    /// Allocates `count` elements of coherent memory for `dev`, with `gfp_flags` and the DMA
    /// attributes `dma_attrs`.
    ///
    /// Returns `EINVAL` for no element or for a type of size 0, `EOVERFLOW` when the size
    /// overflows, and `ENOMEM` when the memory cannot be allocated.
    pub fn alloc_attrs(
        dev: &Device<Bound>,
        count: usize,
        gfp_flags: Flags,
        dma_attrs: Attrs,
    ) -> Result<CoherentAllocation<T>> {
        build_assert_size::<T>();
        if count == 0 || core::mem::size_of::<T>() == 0 {
            return Err(EINVAL);
        }
        let size = count
            .checked_mul(core::mem::size_of::<T>())
            .ok_or(EOVERFLOW)?;
        let mut dma_handle = 0;
        // SAFETY: The device is valid and bound, so its DMA configuration is set up.
        let cpu_addr = unsafe {
            bindings::dma_alloc_attrs(
                dev.as_raw(),
                size,
                &mut dma_handle,
                gfp_flags.as_raw(),
                dma_attrs.as_raw(),
            )
        };
        if cpu_addr.is_null() {
            return Err(ENOMEM);
        }
        // INVARIANT: Allocated above, `count > 0`.
        Ok(Self {
            dev: dev.into(),
            dma_handle,
            count,
            cpu_addr: cpu_addr.cast(),
            dma_attrs,
        })
    }

    /// As [`CoherentAllocation::alloc_attrs`], with no DMA attribute.
    pub fn alloc_coherent(
        dev: &Device<Bound>,
        count: usize,
        gfp_flags: Flags,
    ) -> Result<CoherentAllocation<T>> {
        Self::alloc_attrs(dev, count, gfp_flags, Attrs::empty())
    }

    /// The number of elements.
    pub fn count(&self) -> usize {
        self.count
    }

    /// The size in bytes.
    pub fn size(&self) -> usize {
        // By the type invariant this did not overflow at allocation.
        self.count * core::mem::size_of::<T>()
    }

    /// The CPU's address of the first element.
    pub fn start_ptr(&self) -> *const T {
        self.cpu_addr
    }

    /// The CPU's address of the first element, for writes.
    pub fn start_ptr_mut(&mut self) -> *mut T {
        self.cpu_addr
    }

    /// The device's address of the first element.
    pub fn dma_handle(&self) -> DmaAddress {
        self.dma_handle
    }

    /// The device's address of element `offset`.
    ///
    /// Returns `EINVAL` when `offset` is past the allocation.
    pub fn dma_handle_with_offset(&self, offset: usize) -> Result<DmaAddress> {
        if offset >= self.count {
            return Err(EINVAL);
        }
        // By the type invariant the allocation's bytes fit a `usize`, so the offset does too.
        Ok(self.dma_handle + (offset * core::mem::size_of::<T>()) as DmaAddress)
    }

    /// Checks that `count` elements from `offset` are inside the allocation.
    fn validate_range(&self, offset: usize, count: usize) -> Result {
        match offset.checked_add(count) {
            Some(end) if end <= self.count => Ok(()),
            _ => Err(EINVAL),
        }
    }

    /// Borrows `count` elements from `offset`.
    ///
    /// Returns `EINVAL` when the range leaves the allocation.
    ///
    /// # Safety
    ///
    /// The device must not write the range while the borrow lasts, and no one may write it
    /// through [`CoherentAllocation::start_ptr_mut`] or [`dma_write!`](crate::dma_write).
    pub unsafe fn as_slice(&self, offset: usize, count: usize) -> Result<&[T]> {
        self.validate_range(offset, count)?;
        // SAFETY: The range is inside the allocation (checked above), whose elements are
        // initialised as any bit pattern is a valid `T` (`FromBytes`); the caller guarantees
        // that nothing writes it meanwhile.
        Ok(unsafe { core::slice::from_raw_parts(self.cpu_addr.add(offset), count) })
    }

    /// Borrows `count` elements from `offset` for writing.
    ///
    /// Returns `EINVAL` when the range leaves the allocation.
    ///
    /// # Safety
    ///
    /// The device must not read or write the range while the borrow lasts.
    pub unsafe fn as_slice_mut(&mut self, offset: usize, count: usize) -> Result<&mut [T]> {
        self.validate_range(offset, count)?;
        // SAFETY: As above, and `self` is borrowed mutably.
        Ok(unsafe { core::slice::from_raw_parts_mut(self.cpu_addr.add(offset), count) })
    }

    /// Copies `src` into the allocation from element `offset`.
    ///
    /// Returns `EINVAL` when the range leaves the allocation.
    ///
    /// # Safety
    ///
    /// The device must not read or write the range meanwhile.
    pub unsafe fn write(&mut self, src: &[T], offset: usize) -> Result {
        self.validate_range(offset, src.len())?;
        // SAFETY: As above; `src` is a separate borrow, so the two do not overlap.
        unsafe {
            core::ptr::copy_nonoverlapping(src.as_ptr(), self.cpu_addr.add(offset), src.len())
        };
        Ok(())
    }

    /// The CPU's address of element `offset`, for [`dma_read!`](crate::dma_read) and
    /// [`dma_write!`](crate::dma_write).
    ///
    /// Returns `EINVAL` when `offset` is past the allocation.
    #[doc(hidden)]
    pub fn item_from_index(&self, offset: usize) -> Result<*mut T> {
        if offset >= self.count {
            return Err(EINVAL);
        }
        // SAFETY: The element is inside the allocation.
        Ok(unsafe { self.cpu_addr.add(offset) })
    }

    /// Reads the field at `field` by value.
    ///
    /// # Safety
    ///
    /// `field` must point into an element of this allocation, aligned.
    #[doc(hidden)]
    pub unsafe fn field_read<F: FromBytes>(&self, field: *const F) -> F {
        // SAFETY: By the function's contract the field is in the allocation; a volatile read
        // by value does not assume the device leaves it alone, and any bytes are an `F`.
        unsafe { field.read_volatile() }
    }

    /// Writes `val` into the field at `field`.
    ///
    /// # Safety
    ///
    /// As for [`CoherentAllocation::field_read`].
    #[doc(hidden)]
    pub unsafe fn field_write<F: AsBytes>(&self, field: *mut F, val: F) {
        // SAFETY: As above; the memory is shared with the device, which reads it by value.
        unsafe { field.write_volatile(val) }
    }
}

/// Fails the build for a `T` whose alignment the DMA API cannot honour (more than a page).
#[inline(always)]
fn build_assert_size<T>() {
    crate::build_assert!(core::mem::align_of::<T>() <= crate::page::PAGE_SIZE);
}

impl<T: AsBytes + FromBytes> Drop for CoherentAllocation<T> {
    fn drop(&mut self) {
        // SAFETY: By the type invariant the memory was allocated for `dev` with these
        // arguments; nothing borrows it any more.
        unsafe {
            bindings::dma_free_attrs(
                self.dev.as_raw(),
                self.size(),
                self.cpu_addr.cast(),
                self.dma_handle,
                self.dma_attrs.as_raw(),
            )
        };
    }
}

// SAFETY: The allocation may be used and freed from any thread; its elements move with it.
unsafe impl<T: AsBytes + FromBytes + Send> Send for CoherentAllocation<T> {}

/// Reads an element, or a field of one, of a [`CoherentAllocation`] by value: `Result<F>`.
///
/// `dma_read!(alloc[i])` reads element `i`; `dma_read!(alloc[i].field)` one of its fields.
/// An index past the allocation is `EINVAL`.
#[macro_export]
macro_rules! dma_read {
    ($dma:expr, $idx:expr, $($field:tt)*) => {{
        (|| -> $crate::error::Result<_> {
            let item = $crate::dma::CoherentAllocation::item_from_index(&$dma, $idx)?;
            // SAFETY: `item_from_index` checked the index; the field is in the element.
            unsafe {
                let ptr_field = ::core::ptr::addr_of!((*item) $($field)*);
                ::core::result::Result::Ok(
                    $crate::dma::CoherentAllocation::field_read(&$dma, ptr_field),
                )
            }
        })()
    }};
    ($dma:ident [ $idx:expr ] $($field:tt)* ) => {
        $crate::dma_read!($dma, $idx, $($field)*)
    };
    ($($dma:ident).* [ $idx:expr ] $($field:tt)* ) => {
        $crate::dma_read!($($dma).*, $idx, $($field)*)
    };
}

/// Writes an element, or a field of one, of a [`CoherentAllocation`]: `Result`.
///
/// `dma_write!(alloc[i] = v)` writes element `i`; `dma_write!(alloc[i].field = v)` one of its
/// fields. An index past the allocation is `EINVAL`.
#[macro_export]
macro_rules! dma_write {
    ($dma:ident [ $idx:expr ] $($field:tt)*) => {{
        $crate::dma_write!($dma, $idx, $($field)*)
    }};
    ($($dma:ident).* [ $idx:expr ] $($field:tt)* ) => {{
        $crate::dma_write!($($dma).*, $idx, $($field)*)
    }};
    ($dma:expr, $idx:expr, = $val:expr) => {
        (|| -> $crate::error::Result {
            let item = $crate::dma::CoherentAllocation::item_from_index(&$dma, $idx)?;
            // SAFETY: `item_from_index` checked the index.
            unsafe { $crate::dma::CoherentAllocation::field_write(&$dma, item, $val) }
            ::core::result::Result::Ok(())
        })()
    };
    ($dma:expr, $idx:expr, $(.$field:ident)* = $val:expr) => {
        (|| -> $crate::error::Result {
            let item = $crate::dma::CoherentAllocation::item_from_index(&$dma, $idx)?;
            // SAFETY: `item_from_index` checked the index; the field is in the element.
            unsafe {
                let ptr_field = ::core::ptr::addr_of_mut!((*item) $(.$field)*);
                $crate::dma::CoherentAllocation::field_write(&$dma, ptr_field, $val)
            }
            ::core::result::Result::Ok(())
        })()
    };
}
