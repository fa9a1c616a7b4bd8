// SPDX-License-Identifier: GPL-2.0

//! Memory-mapped I/O.
//!
//! An [`IoRaw`] describes a window of device registers mapped into the kernel's address space;
//! its owner, such as a [`pci::Bar`], maps and unmaps it. Drivers use the window as an [`Io`],
//! whose accessors are checked against it: at build time for `read32`, `write32`, ..., whose
//! offset must be a constant the compiler can prove inside the window's `SIZE` (anything else
//! fails the build when the kernel is linked), and at run time for `try_read32`,
//! `try_write32`, ..., against the size actually mapped. The `_relaxed` accessors do not order
//! the access against normal memory accesses, as `readl_relaxed()` and the like.
//! [`poll::read_poll_timeout`] waits for a register to say that the device is ready.
//!
//! C header: [`include/asm-generic/io.h`](srctree/include/asm-generic/io.h)
//!
//! [`pci::Bar`]: crate::pci::Bar

use crate::{
    bindings, build_assert,
    error::{code::EINVAL, Result},
};
use core::ffi::c_void;

pub mod poll;

/// A mapped window of at least `SIZE` bytes of device registers, at `addr`.
///
/// `SIZE` is what the driver needs and is checked at compile time; `maxsize` is what is mapped
/// and bounds the run-time checked accessors.
///
/// # Invariants
///
/// `maxsize >= SIZE`.
pub struct IoRaw<const SIZE: usize = 0> {
    addr: usize,
    maxsize: usize,
}

impl<const SIZE: usize> IoRaw<SIZE> {
    /// Describes `maxsize` bytes of registers mapped at `addr`.
    ///
    /// Returns `EINVAL` when `addr` is null or `maxsize` is less than `SIZE`.
    pub fn new(addr: usize, maxsize: usize) -> Result<Self> {
        if addr == 0 || maxsize < SIZE {
            return Err(EINVAL);
        }
        // INVARIANT: Checked above.
        Ok(Self { addr, maxsize })
    }

    /// The start of the mapping.
    #[inline]
    pub fn addr(&self) -> usize {
        self.addr
    }

    /// The size of the mapping, at least `SIZE`.
    #[inline]
    pub fn maxsize(&self) -> usize {
        self.maxsize
    }
}

/// A window of device registers, borrowed from its owner, with accessors checked against it.
///
/// # Examples
///
/// ```no_run
/// # use kernel::{bindings, io::{Io, IoRaw}};
/// fn ident(regs: &Io<0x10>) -> u32 {
///     // The offset is checked at build time, against `0x10`.
///     regs.read32(0x0)
/// }
/// ```
///
/// # Invariants
///
/// The `IoRaw` describes an MMIO mapping of `maxsize` bytes, which stays mapped for as long as
/// `self` is borrowed.
#[repr(transparent)]
pub struct Io<const SIZE: usize = 0>(IoRaw<SIZE>);

/// Whether an access of `len` bytes at `offset` is aligned and within `size` bytes.
#[inline(always)]
const fn offset_valid(offset: usize, len: usize, size: usize) -> bool {
    match offset.checked_add(len) {
        Some(end) => end <= size && offset % len == 0,
        None => false,
    }
}

macro_rules! define_read {
    ($(#[$attr:meta])* $name:ident, $try_name:ident, $c:ident -> $ty:ty) => {
        $(#[$attr])*
        #[doc = concat!("Reads a `", stringify!($ty), "` at `offset`, a constant that the")]
        /// compiler can check against `SIZE`.
        #[inline(always)]
        pub fn $name(&self, offset: usize) -> $ty {
            build_assert!(offset_valid(offset, core::mem::size_of::<$ty>(), SIZE));
            // SAFETY: By the type invariant, and as checked above, `offset` is an aligned
            // register within the mapping.
            unsafe { bindings::$c(self.io_addr(offset)) }
        }

        $(#[$attr])*
        #[doc = concat!("Reads a `", stringify!($ty), "` at `offset`, checked at run time.")]
        ///
        /// Returns `EINVAL` when the access is misaligned or leaves the mapped window.
        pub fn $try_name(&self, offset: usize) -> Result<$ty> {
            if !offset_valid(offset, core::mem::size_of::<$ty>(), self.maxsize()) {
                return Err(EINVAL);
            }
            // SAFETY: As above, checked at run time.
            Ok(unsafe { bindings::$c(self.io_addr(offset)) })
        }
    };
}

macro_rules! define_write {
    ($(#[$attr:meta])* $name:ident, $try_name:ident, $c:ident <- $ty:ty) => {
        $(#[$attr])*
        #[doc = concat!("Writes `value`, a `", stringify!($ty), "`, at `offset`, a constant that")]
        /// the compiler can check against `SIZE`.
        #[inline(always)]
        pub fn $name(&self, value: $ty, offset: usize) {
            build_assert!(offset_valid(offset, core::mem::size_of::<$ty>(), SIZE));
            // SAFETY: By the type invariant, and as checked above, `offset` is an aligned
            // register within the mapping.
            unsafe { bindings::$c(value, self.io_addr(offset)) }
        }

        $(#[$attr])*
        #[doc = concat!("Writes `value`, a `", stringify!($ty), "`, at `offset`, checked at run")]
        /// time.
        ///
        /// Returns `EINVAL` when the access is misaligned or leaves the mapped window.
        pub fn $try_name(&self, value: $ty, offset: usize) -> Result {
            if !offset_valid(offset, core::mem::size_of::<$ty>(), self.maxsize()) {
                return Err(EINVAL);
            }
            // SAFETY: As above, checked at run time.
            unsafe { bindings::$c(value, self.io_addr(offset)) };
            Ok(())
        }
    };
}

impl<const SIZE: usize> Io<SIZE> {
    /// Borrows the window that `raw` describes.
    ///
    /// # Safety
    ///
    /// `raw` must describe an MMIO mapping of `raw.maxsize()` bytes that stays mapped for as
    /// long as the returned reference lives.
    pub unsafe fn from_raw(raw: &IoRaw<SIZE>) -> &Self {
        // SAFETY: `Io` is a transparent wrapper of `IoRaw`; the caller guarantees the mapping.
        unsafe { &*core::ptr::from_ref(raw).cast::<Self>() }
    }

    /// The start of the mapping.
    #[inline]
    pub fn addr(&self) -> usize {
        self.0.addr()
    }

    /// The size of the mapping, at least `SIZE`.
    #[inline]
    pub fn maxsize(&self) -> usize {
        self.0.maxsize()
    }

    #[inline(always)]
    fn io_addr(&self, offset: usize) -> *mut c_void {
        (self.addr() + offset) as *mut c_void
    }

    define_read!(read8, try_read8, readb -> u8);
    define_read!(read16, try_read16, readw -> u16);
    define_read!(read32, try_read32, readl -> u32);
    define_read!(#[cfg(CONFIG_64BIT)] read64, try_read64, readq -> u64);
    define_read!(read8_relaxed, try_read8_relaxed, readb_relaxed -> u8);
    define_read!(read16_relaxed, try_read16_relaxed, readw_relaxed -> u16);
    define_read!(read32_relaxed, try_read32_relaxed, readl_relaxed -> u32);
    define_read!(#[cfg(CONFIG_64BIT)] read64_relaxed, try_read64_relaxed, readq_relaxed -> u64);

    define_write!(write8, try_write8, writeb <- u8);
    define_write!(write16, try_write16, writew <- u16);
    define_write!(write32, try_write32, writel <- u32);
    define_write!(#[cfg(CONFIG_64BIT)] write64, try_write64, writeq <- u64);
    define_write!(write8_relaxed, try_write8_relaxed, writeb_relaxed <- u8);
    define_write!(write16_relaxed, try_write16_relaxed, writew_relaxed <- u16);
    define_write!(write32_relaxed, try_write32_relaxed, writel_relaxed <- u32);
    define_write!(#[cfg(CONFIG_64BIT)] write64_relaxed, try_write64_relaxed, writeq_relaxed <- u64);
}
