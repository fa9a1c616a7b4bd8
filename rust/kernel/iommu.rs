// SPDX-License-Identifier: GPL-2.0

//! IOMMU domains, as the DMA layer drives them.
//!
//! C header: [`include/linux/iommu.h`](srctree/include/linux/iommu.h)

use crate::{
    bindings,
    dma::{Attrs, DataDirection},
    ffi::c_int,
};
use core::ops::{BitOr, BitOrAssign};

pub mod domain;

pub use domain::{Domain, Gather, Visit};

/// Access rights and memory type of an IOMMU mapping: the C `IOMMU_*` prot bits.
///
/// # Examples
///
/// ```
/// use kernel::{dma::{Attrs, DataDirection}, iommu::Prot};
///
/// // What a coherent device gets for a receive buffer.
/// let prot = Prot::for_dma(DataDirection::FromDevice, true, Attrs::empty());
/// assert_eq!(prot, Prot::WRITE | Prot::CACHE);
/// assert!(!prot.contains(Prot::READ));
///
/// let prot = Prot::for_dma(DataDirection::Bidirectional, false, Attrs::PRIVILEGED);
/// assert_eq!(prot, Prot::READ | Prot::WRITE | Prot::PRIV);
///
/// // A peer's BAR, seen by a coherent device: uncached.
/// let prot = Prot::for_dma(DataDirection::ToDevice, true, Attrs::MMIO);
/// assert_eq!(prot, Prot::READ | Prot::MMIO);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Prot(c_int);

impl Prot {
    /// The device may read.
    pub const READ: Self = Self(bindings::IOMMU_READ as c_int);
    /// The device may write.
    pub const WRITE: Self = Self(bindings::IOMMU_WRITE as c_int);
    /// The mapping is cache coherent with the CPU.
    pub const CACHE: Self = Self(bindings::IOMMU_CACHE as c_int);
    /// The device may not execute from the mapping.
    pub const NOEXEC: Self = Self(bindings::IOMMU_NOEXEC as c_int);
    /// The mapping is of MMIO, such as an MSI doorbell.
    pub const MMIO: Self = Self(bindings::IOMMU_MMIO as c_int);
    /// Only privileged (supervisor) device accesses may use the mapping.
    pub const PRIV: Self = Self(bindings::IOMMU_PRIV as c_int);

    /// The rights a streaming DMA mapping needs: the direction gives read
    /// and write access, a coherent device gets a cacheable mapping unless
    /// [`Attrs::MMIO`] asks for an uncached MMIO one, and
    /// [`Attrs::PRIVILEGED`] restricts it to privileged accesses.
    #[inline]
    pub fn for_dma(dir: DataDirection, coherent: bool, attrs: Attrs) -> Self {
        // Without branches: each bit from a flag.
        let bit = |on: bool, flag: Self| flag.0 & -(on as c_int);
        let mmio = attrs.contains(Attrs::MMIO);
        Self(
            bit(coherent && !mmio, Self::CACHE)
                | bit(mmio, Self::MMIO)
                | bit(attrs.contains(Attrs::PRIVILEGED), Self::PRIV)
                | bit(dir.device_reads(), Self::READ)
                | bit(dir.device_writes(), Self::WRITE),
        )
    }

    /// Returns the C `int prot` value.
    #[inline]
    pub const fn as_raw(self) -> c_int {
        self.0
    }

    /// Whether every bit of `other` is set in `self`.
    #[inline]
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }
}

impl BitOr for Prot {
    type Output = Self;

    #[inline]
    fn bitor(self, rhs: Self) -> Self {
        Self(self.0 | rhs.0)
    }
}

impl BitOrAssign for Prot {
    #[inline]
    fn bitor_assign(&mut self, rhs: Self) {
        self.0 |= rhs.0;
    }
}
