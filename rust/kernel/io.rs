// SPDX-License-Identifier: GPL-2.0

//! Memory-mapped I/O.
//!
//! An [`Io`] is a window of device registers mapped into the kernel's
//! address space. Its owner, such as a [`pci::Bar`], maps it and unmaps it;
//! drivers only borrow it. Every access is checked against the window: at
//! build time for `read32`, `write32`, ..., whose offset must be a constant
//! (an offset outside the window, or one the compiler cannot prove inside
//! it, fails the build when the kernel is linked), at run time for
//! `try_read32`, `try_write32`, ....
//!
//! C header: [`include/asm-generic/io.h`](srctree/include/asm-generic/io.h)
//!
//! [`pci::Bar`]: crate::pci::Bar

use crate::{
    bindings, build_assert,
    error::{code::EINVAL, Result},
};
use core::ffi::c_void;

/// A mapped window of at least `SIZE` bytes of device registers.
///
/// `SIZE` is what the driver needs and is checked at compile time;
/// [`Io::maxsize`] is what is mapped and bounds the run-time checked
/// accessors.
///
/// # Invariants
///
/// `addr` is the start of an MMIO mapping of `maxsize` bytes, which stays
/// mapped for the lifetime of `self`, and `maxsize >= SIZE`.
pub struct Io<const SIZE: usize = 0> {
    addr: usize,
    maxsize: usize,
}

/// Whether an access of `len` bytes at `offset` is aligned and within
/// `size` bytes.
#[inline]
const fn access_ok(offset: usize, len: usize, size: usize) -> bool {
    match offset.checked_add(len) {
        Some(end) => end <= size && offset % len == 0,
        None => false,
    }
}

macro_rules! define_accessors {
    ($ty:ty, $read:ident, $try_read:ident, $write:ident, $try_write:ident,
     $c_read:ident, $c_write:ident) => {
        #[doc = concat!("Reads a `", stringify!($ty), "` at `offset`, which must be a")]
        /// constant the compiler can check against `SIZE`.
        #[inline(always)]
        pub fn $read(&self, offset: usize) -> $ty {
            build_assert!(access_ok(offset, core::mem::size_of::<$ty>(), SIZE));
            // SAFETY: By the type invariant, and as checked above,
            // `addr + offset` is an aligned register within the mapping.
            unsafe { bindings::$c_read(self.at(offset)) }
        }

        #[doc = concat!("Reads a `", stringify!($ty), "` at `offset`, checked at run time.")]
        ///
        /// Returns `EINVAL` when the access is misaligned or leaves the
        /// mapped window.
        #[inline]
        pub fn $try_read(&self, offset: usize) -> Result<$ty> {
            if !access_ok(offset, core::mem::size_of::<$ty>(), self.maxsize) {
                return Err(EINVAL);
            }
            // SAFETY: By the type invariant, and as checked above,
            // `addr + offset` is an aligned register within the mapping.
            Ok(unsafe { bindings::$c_read(self.at(offset)) })
        }

        #[doc = concat!("Writes a `", stringify!($ty), "` at `offset`, which must be a")]
        /// constant the compiler can check against `SIZE`.
        #[inline(always)]
        pub fn $write(&self, value: $ty, offset: usize) {
            build_assert!(access_ok(offset, core::mem::size_of::<$ty>(), SIZE));
            // SAFETY: By the type invariant, and as checked above,
            // `addr + offset` is an aligned register within the mapping.
            unsafe { bindings::$c_write(value, self.at(offset)) }
        }

        #[doc = concat!("Writes a `", stringify!($ty), "` at `offset`, checked at run time.")]
        ///
        /// Returns `EINVAL` when the access is misaligned or leaves the
        /// mapped window.
        #[inline]
        pub fn $try_write(&self, value: $ty, offset: usize) -> Result {
            if !access_ok(offset, core::mem::size_of::<$ty>(), self.maxsize) {
                return Err(EINVAL);
            }
            // SAFETY: By the type invariant, and as checked above,
            // `addr + offset` is an aligned register within the mapping.
            unsafe { bindings::$c_write(value, self.at(offset)) };
            Ok(())
        }
    };
}

impl<const SIZE: usize> Io<SIZE> {
    /// Describes the MMIO mapping of `maxsize` bytes at `addr`.
    ///
    /// Returns `EINVAL` when the mapping is smaller than `SIZE`.
    ///
    /// # Safety
    ///
    /// `addr` must be the start of an MMIO mapping of at least `maxsize`
    /// bytes that stays mapped for the lifetime of the returned object.
    pub unsafe fn new(addr: *mut c_void, maxsize: usize) -> Result<Self> {
        if addr.is_null() || maxsize < SIZE {
            return Err(EINVAL);
        }
        // INVARIANT: The caller guarantees the mapping; `maxsize >= SIZE`.
        Ok(Self {
            addr: addr as usize,
            maxsize,
        })
    }

    /// The start of the mapping.
    pub fn addr(&self) -> *mut c_void {
        self.addr as *mut c_void
    }

    /// The size of the mapping, at least `SIZE`.
    pub fn maxsize(&self) -> usize {
        self.maxsize
    }

    #[inline(always)]
    fn at(&self, offset: usize) -> *mut c_void {
        (self.addr + offset) as *mut c_void
    }

    define_accessors!(u32, read32, try_read32, write32, try_write32, readl, writel);

    #[cfg(CONFIG_64BIT)]
    define_accessors!(u64, read64, try_read64, write64, try_write64, readq, writeq);
}
