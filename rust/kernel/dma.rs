// SPDX-License-Identifier: GPL-2.0

//! Direct memory access (DMA).
//!
//! The vocabulary of DMA mappings ([`DataDirection`], [`Attrs`],
//! [`DmaAddress`], the device's DMA mask) and two ways to map memory:
//!
//! - [`iova::Reservation`], the two-step API: reserve IOVA once, link
//!   ranges into it, sync once, tear down in one call;
//! - [`pages::MappedPages`], which maps a list of pages through the two-step
//!   API when the device is behind a translating IOMMU and page by page
//!   otherwise, the same driver code either way.
//!
//! C header: [`include/linux/dma-mapping.h`](srctree/include/linux/dma-mapping.h)

use crate::{
    bindings,
    error::{code::EINVAL, to_result, Error, Result},
    ffi::c_ulong,
};
use core::ops::{BitAnd, BitOr, BitOrAssign, Not};

mod coherent;
pub mod iova;
pub mod pages;
pub(crate) mod tied;

pub use coherent::CoherentAllocation;

/// A device's DMA mask: the addresses it can use, as `DMA_BIT_MASK()` makes them.
///
/// # Examples
///
/// ```
/// use kernel::dma::DmaMask;
///
/// assert_eq!(DmaMask::new::<28>().value(), 0xfff_ffff);
/// assert_eq!(DmaMask::new::<64>().value(), u64::MAX);
/// assert!(DmaMask::try_new(65).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DmaMask(u64);

impl DmaMask {
    /// The mask of `N` address bits; `N` above 64 fails the build.
    #[inline]
    pub const fn new<const N: u32>() -> Self {
        let Ok(mask) = Self::try_new(N) else {
            crate::build_error!("a DMA mask has at most 64 bits");
        };
        mask
    }

    /// The mask of `n` address bits.
    ///
    /// Returns `EINVAL` for more than 64 bits.
    #[inline]
    pub const fn try_new(n: u32) -> Result<Self> {
        if n > 64 {
            return Err(EINVAL);
        }
        Ok(Self(bit_mask(n)))
    }

    /// The mask.
    #[inline]
    pub const fn value(&self) -> u64 {
        self.0
    }
}

/// A bus device that can do DMA, whose masks its driver sets.
///
/// The setters are `unsafe`: a mask must not change while the device has DMA mappings or
/// allocations made under the old one. The bus implements the trait for its device in the
/// `Core` context, so only `probe` and `unbind` can call them.
pub trait Device: AsRef<crate::device::Device<crate::device::Core>> {
    /// Sets the mask of the addresses the device can use for streaming mappings:
    /// `dma_set_mask()`.
    ///
    /// Returns `EIO` when the platform cannot give the device such addresses.
    ///
    /// # Safety
    ///
    /// The device must have no DMA mapping made under the old mask, and no other mask may be
    /// set concurrently.
    unsafe fn dma_set_mask(&self, mask: DmaMask) -> Result {
        // SAFETY: The device is valid; the caller guarantees the rest.
        to_result(unsafe { bindings::dma_set_mask(self.as_ref().as_raw(), mask.value()) })
    }

    /// Sets the mask of the addresses the device can use for coherent allocations:
    /// `dma_set_coherent_mask()`.
    ///
    /// # Safety
    ///
    /// As for [`Device::dma_set_mask`], for coherent allocations.
    unsafe fn dma_set_coherent_mask(&self, mask: DmaMask) -> Result {
        // SAFETY: As above.
        to_result(unsafe { bindings::dma_set_coherent_mask(self.as_ref().as_raw(), mask.value()) })
    }

    /// Sets both masks: `dma_set_mask_and_coherent()`.
    ///
    /// # Safety
    ///
    /// As for [`Device::dma_set_mask`] and [`Device::dma_set_coherent_mask`].
    unsafe fn dma_set_mask_and_coherent(&self, mask: DmaMask) -> Result {
        // SAFETY: As above.
        unsafe {
            self.dma_set_mask(mask)?;
            self.dma_set_coherent_mask(mask)
        }
    }
}

/// The DMA attributes, under their C names.
pub mod attrs {
    use super::Attrs;

    /// Writes may be reordered with other writes: `DMA_ATTR_WEAK_ORDERING`.
    pub const DMA_ATTR_WEAK_ORDERING: Attrs = Attrs::WEAK_ORDERING;
    /// The mapping is write-combined: `DMA_ATTR_WRITE_COMBINE`.
    pub const DMA_ATTR_WRITE_COMBINE: Attrs = Attrs::WRITE_COMBINE;
    /// No kernel virtual mapping of the allocation: `DMA_ATTR_NO_KERNEL_MAPPING`.
    pub const DMA_ATTR_NO_KERNEL_MAPPING: Attrs = Attrs::NO_KERNEL_MAPPING;
    /// The caller syncs the CPU caches: `DMA_ATTR_SKIP_CPU_SYNC`.
    pub const DMA_ATTR_SKIP_CPU_SYNC: Attrs = Attrs::SKIP_CPU_SYNC;
    /// The allocation is physically contiguous: `DMA_ATTR_FORCE_CONTIGUOUS`.
    pub const DMA_ATTR_FORCE_CONTIGUOUS: Attrs = Attrs::FORCE_CONTIGUOUS;
    /// The allocation may be made of single pages: `DMA_ATTR_ALLOC_SINGLE_PAGES`.
    pub const DMA_ATTR_ALLOC_SINGLE_PAGES: Attrs = Attrs::ALLOC_SINGLE_PAGES;
    /// No warning when the allocation fails: `DMA_ATTR_NO_WARN`.
    pub const DMA_ATTR_NO_WARN: Attrs = Attrs::NO_WARN;
    /// Only privileged accesses of the device reach it: `DMA_ATTR_PRIVILEGED`.
    pub const DMA_ATTR_PRIVILEGED: Attrs = Attrs::PRIVILEGED;
    /// The memory is MMIO, such as a peer's BAR: `DMA_ATTR_MMIO`.
    pub const DMA_ATTR_MMIO: Attrs = Attrs::MMIO;
    /// Fail rather than bounce or need cache maintenance: `DMA_ATTR_REQUIRE_COHERENT`.
    pub const DMA_ATTR_REQUIRE_COHERENT: Attrs = Attrs::REQUIRE_COHERENT;
}

/// An address in a device's view of memory: the C `dma_addr_t`.
///
/// The DMA mapping types hand it out only through borrows of the mapping
/// that keeps it valid.
pub type DmaAddress = bindings::dma_addr_t;

/// The mask of a device that addresses `bits` bits: the C `DMA_BIT_MASK()`.
///
/// # Examples
///
/// ```
/// use kernel::dma::bit_mask;
///
/// assert_eq!(bit_mask(28), 0xfff_ffff);
/// assert_eq!(bit_mask(64), u64::MAX);
/// assert_eq!(bit_mask(0), 0);
/// ```
pub const fn bit_mask(bits: u32) -> u64 {
    if bits >= 64 {
        u64::MAX
    } else {
        (1 << bits) - 1
    }
}

/// Sets the mask of the addresses `dev` can use for streaming mappings and
/// for coherent allocations: `dma_set_mask_and_coherent()`.
///
/// Fails with `EINVAL` for more than 64 bits and `EIO` when the platform
/// cannot give `dev` such addresses.
///
/// # Examples
///
/// ```
/// use kernel::{dma, error::code::EINVAL, kunit::Test};
///
/// # let test = Test::current().unwrap();
/// # let dev = test.device(kernel::c_str!("doc-dma-mask"))?;
/// // A device that drives 28 address bits, like QEMU's edu.
/// dma::set_mask_and_coherent(&dev, 28)?;
/// assert_eq!(dma::mask(&dev), dma::bit_mask(28));
/// assert_eq!(dma::set_mask_and_coherent(&dev, 65), Err(EINVAL));
/// # Ok::<(), Error>(())
/// ```
pub fn set_mask_and_coherent(dev: &crate::device::Device, bits: u32) -> Result {
    if bits > 64 {
        return Err(EINVAL);
    }
    // SAFETY: `dev` is a valid device.
    to_result(unsafe { bindings::dma_set_mask(dev.as_raw(), bit_mask(bits)) })?;
    // SAFETY: `dev` is a valid device.
    to_result(unsafe { bindings::dma_set_coherent_mask(dev.as_raw(), bit_mask(bits)) })
}

/// The mask of the addresses `dev` can use for streaming mappings: see
/// [`set_mask_and_coherent`].
pub fn mask(dev: &crate::device::Device) -> u64 {
    // SAFETY: `dev` is a valid device.
    unsafe { bindings::dma_get_mask(dev.as_raw()) }
}

/// Whether streaming mappings of `dev` must be unmapped: when it is false,
/// a driver need not keep their DMA addresses (`dma_need_unmap()`).
///
/// [`pages::MappedPages`] follows it; see its example.
pub fn need_unmap(dev: &crate::device::Device) -> bool {
    // SAFETY: `dev` is a valid device.
    unsafe { bindings::dma_need_unmap(dev.as_raw()) }
}

/// The direction of a DMA transfer, seen from the device.
///
/// Corresponds to the C `enum dma_data_direction`. The C value `DMA_NONE`, a
/// poison value for debugging, has no counterpart: every [`DataDirection`]
/// is a direction a mapping can be made for.
///
/// # Examples
///
/// ```
/// use kernel::dma::DataDirection;
///
/// // A buffer the device fills, such as a receive ring.
/// let dir = DataDirection::FromDevice;
/// assert!(dir.device_writes());
/// assert!(!dir.device_reads());
/// assert_eq!(dir.as_raw(), kernel::bindings::dma_data_direction_DMA_FROM_DEVICE);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum DataDirection {
    /// The device may both read and write the memory.
    Bidirectional = bindings::dma_data_direction_DMA_BIDIRECTIONAL,
    /// The device reads the memory: data moves from the CPU to the device.
    ToDevice = bindings::dma_data_direction_DMA_TO_DEVICE,
    /// The device writes the memory: data moves from the device to the CPU.
    FromDevice = bindings::dma_data_direction_DMA_FROM_DEVICE,
}

// The discriminants above are the C values, so the C type must fit `repr(u32)`.
const _: () =
    assert!(core::mem::size_of::<bindings::dma_data_direction>() == core::mem::size_of::<u32>());

impl DataDirection {
    /// Returns the C `enum dma_data_direction` value.
    #[inline]
    pub const fn as_raw(self) -> bindings::dma_data_direction {
        self as bindings::dma_data_direction
    }

    /// Whether the device may read the memory (the IOMMU grants read access).
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::dma::DataDirection;
    ///
    /// assert!(DataDirection::ToDevice.device_reads());
    /// assert!(DataDirection::Bidirectional.device_reads());
    /// assert!(!DataDirection::FromDevice.device_reads());
    /// ```
    #[inline]
    pub const fn device_reads(self) -> bool {
        matches!(self, Self::ToDevice | Self::Bidirectional)
    }

    /// Whether the device may write the memory (the IOMMU grants write access).
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::dma::DataDirection;
    ///
    /// assert!(DataDirection::FromDevice.device_writes());
    /// assert!(DataDirection::Bidirectional.device_writes());
    /// assert!(!DataDirection::ToDevice.device_writes());
    /// ```
    #[inline]
    pub const fn device_writes(self) -> bool {
        matches!(self, Self::FromDevice | Self::Bidirectional)
    }
}

impl TryFrom<bindings::dma_data_direction> for DataDirection {
    type Error = Error;

    /// Converts a direction received from C.
    ///
    /// Fails with `EINVAL` for `DMA_NONE` and for values outside the enum.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{bindings, dma::DataDirection, error::code::EINVAL};
    ///
    /// assert_eq!(
    ///     DataDirection::try_from(bindings::dma_data_direction_DMA_TO_DEVICE),
    ///     Ok(DataDirection::ToDevice)
    /// );
    /// assert_eq!(
    ///     DataDirection::try_from(bindings::dma_data_direction_DMA_NONE),
    ///     Err(EINVAL)
    /// );
    /// assert_eq!(DataDirection::try_from(42), Err(EINVAL));
    /// ```
    #[inline]
    fn try_from(raw: bindings::dma_data_direction) -> Result<Self, Error> {
        match raw {
            bindings::dma_data_direction_DMA_BIDIRECTIONAL => Ok(Self::Bidirectional),
            bindings::dma_data_direction_DMA_TO_DEVICE => Ok(Self::ToDevice),
            bindings::dma_data_direction_DMA_FROM_DEVICE => Ok(Self::FromDevice),
            _ => Err(EINVAL),
        }
    }
}

/// Attributes of a DMA mapping: the C `DMA_ATTR_*` bits.
///
/// Bits this type has no name for are kept as they are, so attributes that
/// came from C reach C again unchanged.
///
/// # Examples
///
/// ```
/// use kernel::dma::Attrs;
///
/// let attrs = Attrs::SKIP_CPU_SYNC | Attrs::NO_WARN;
/// assert!(attrs.contains(Attrs::SKIP_CPU_SYNC));
/// assert!(!attrs.contains(Attrs::WEAK_ORDERING));
/// assert!(!attrs.contains(Attrs::SKIP_CPU_SYNC | Attrs::PRIVILEGED));
/// assert_eq!(attrs.as_raw(), (kernel::bindings::DMA_ATTR_SKIP_CPU_SYNC
///     | kernel::bindings::DMA_ATTR_NO_WARN) as kernel::ffi::c_ulong);
/// assert!(Attrs::default().is_empty());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Attrs(c_ulong);

impl Attrs {
    /// Reads and writes to the mapping may be weakly ordered.
    pub const WEAK_ORDERING: Self = Self(bindings::DMA_ATTR_WEAK_ORDERING as c_ulong);
    /// Writes to the mapping may be buffered to improve performance.
    pub const WRITE_COMBINE: Self = Self(bindings::DMA_ATTR_WRITE_COMBINE as c_ulong);
    /// The allocation needs no kernel virtual mapping.
    pub const NO_KERNEL_MAPPING: Self = Self(bindings::DMA_ATTR_NO_KERNEL_MAPPING as c_ulong);
    /// Skip CPU cache maintenance: the caller synchronises the memory itself.
    pub const SKIP_CPU_SYNC: Self = Self(bindings::DMA_ATTR_SKIP_CPU_SYNC as c_ulong);
    /// The allocation must be physically contiguous.
    pub const FORCE_CONTIGUOUS: Self = Self(bindings::DMA_ATTR_FORCE_CONTIGUOUS as c_ulong);
    /// The allocation may be built from single pages.
    pub const ALLOC_SINGLE_PAGES: Self = Self(bindings::DMA_ATTR_ALLOC_SINGLE_PAGES as c_ulong);
    /// Do not warn when the mapping or allocation fails.
    pub const NO_WARN: Self = Self(bindings::DMA_ATTR_NO_WARN as c_ulong);
    /// The mapping is for privileged (supervisor) device accesses only.
    pub const PRIVILEGED: Self = Self(bindings::DMA_ATTR_PRIVILEGED as c_ulong);
    /// The memory is MMIO, such as a peer's BAR: mapped uncached, with no
    /// cache maintenance and never bounced.
    pub const MMIO: Self = Self(bindings::DMA_ATTR_MMIO as c_ulong);
    /// The mapping must need neither swiotlb nor cache maintenance: it fails
    /// instead.
    pub const REQUIRE_COHERENT: Self = Self(bindings::DMA_ATTR_REQUIRE_COHERENT as c_ulong);

    /// No attribute.
    #[inline]
    pub const fn empty() -> Self {
        Self(0)
    }

    /// Takes the C `unsigned long attrs` value as it is.
    #[inline]
    pub const fn from_raw(raw: c_ulong) -> Self {
        Self(raw)
    }

    /// Returns the C `unsigned long attrs` value.
    #[inline]
    pub const fn as_raw(self) -> c_ulong {
        self.0
    }

    /// Whether every attribute of `other` is set in `self`.
    #[inline]
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether any attribute of `other` is set in `self`.
    #[inline]
    pub const fn intersects(self, other: Self) -> bool {
        self.0 & other.0 != 0
    }

    /// Whether no attribute is set.
    #[inline]
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl BitOr for Attrs {
    type Output = Self;

    #[inline]
    fn bitor(self, rhs: Self) -> Self {
        Self(self.0 | rhs.0)
    }
}

impl BitOrAssign for Attrs {
    #[inline]
    fn bitor_assign(&mut self, rhs: Self) {
        self.0 |= rhs.0;
    }
}

impl Not for Attrs {
    type Output = Self;

    #[inline]
    fn not(self) -> Self {
        Self(!self.0)
    }
}

impl From<DataDirection> for bindings::dma_data_direction {
    fn from(dir: DataDirection) -> Self {
        dir.as_raw()
    }
}

impl BitAnd for Attrs {
    type Output = Self;

    #[inline]
    fn bitand(self, rhs: Self) -> Self {
        Self(self.0 & rhs.0)
    }
}
