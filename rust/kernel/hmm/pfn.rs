// SPDX-License-Identifier: GPL-2.0

//! The PFN words of `hmm_range_fault()`.
//!
//! C header: [`include/linux/hmm.h`](srctree/include/linux/hmm.h)

use crate::{bindings, ffi::c_ulong, page::PAGE_SHIFT};

// The flags of `enum hmm_pfn_flags`.
pub(crate) const VALID: c_ulong = bindings::hmm_pfn_flags_HMM_PFN_VALID as c_ulong;
pub(crate) const WRITE: c_ulong = bindings::hmm_pfn_flags_HMM_PFN_WRITE as c_ulong;
pub(crate) const ERROR: c_ulong = bindings::hmm_pfn_flags_HMM_PFN_ERROR as c_ulong;
pub(crate) const DMA_MAPPED: c_ulong = bindings::hmm_pfn_flags_HMM_PFN_DMA_MAPPED as c_ulong;
pub(crate) const P2PDMA: c_ulong = bindings::hmm_pfn_flags_HMM_PFN_P2PDMA as c_ulong;
pub(crate) const P2PDMA_BUS: c_ulong = bindings::hmm_pfn_flags_HMM_PFN_P2PDMA_BUS as c_ulong;
pub(crate) const INOUT_FLAGS: c_ulong = bindings::hmm_pfn_flags_HMM_PFN_INOUT_FLAGS as c_ulong;
const ORDER_SHIFT: c_ulong = bindings::hmm_pfn_flags_HMM_PFN_ORDER_SHIFT as c_ulong;
const FLAGS: c_ulong = bindings::hmm_pfn_flags_HMM_PFN_FLAGS as c_ulong;

/// One entry of a range that `hmm_range_fault()` filled: a page frame and
/// what the CPU may do with it, plus the caller's DMA state of the entry.
///
/// # Examples
///
/// ```
/// use kernel::hmm::Pfn;
///
/// let pfn = Pfn::from_raw(1 << 63 | 1 << 62 | (9 << 53) | 0x1234);
/// assert!(pfn.is_valid() && pfn.is_writable() && !pfn.is_error());
/// assert_eq!(pfn.map_order(), 9);
/// assert_eq!(pfn.pfn(), 0x1234);
/// assert!(!pfn.is_dma_mapped());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(transparent)]
pub struct Pfn(c_ulong);

impl Pfn {
    /// The entry whose word is `word`.
    pub const fn from_raw(word: c_ulong) -> Self {
        Self(word)
    }

    /// The word.
    pub const fn as_raw(self) -> c_ulong {
        self.0
    }

    /// Whether the entry holds a page the device may read.
    pub const fn is_valid(self) -> bool {
        self.0 & VALID != 0
    }

    /// Whether the device may also write the page.
    pub const fn is_writable(self) -> bool {
        self.0 & WRITE != 0
    }

    /// Whether the device must not access the address at all.
    pub const fn is_error(self) -> bool {
        self.0 & ERROR != 0
    }

    /// The order of the CPU mapping the page is part of (0 for a base page,
    /// 9 for a 2 MiB one on x86-64), meaningful when valid.
    pub const fn map_order(self) -> u32 {
        ((self.0 >> ORDER_SHIFT) & 0x1f) as u32
    }

    /// The page frame number, meaningful when valid.
    pub const fn pfn(self) -> usize {
        self.0 & !FLAGS
    }

    /// The physical address of the page, meaningful when valid.
    pub const fn phys(self) -> u64 {
        (self.pfn() as u64) << PAGE_SHIFT
    }

    /// Whether the entry is mapped for DMA (by a [`super::DmaMap`]).
    pub const fn is_dma_mapped(self) -> bool {
        self.0 & DMA_MAPPED != 0
    }

    /// Whether it is mapped for peer-to-peer DMA through the host bridge.
    pub const fn is_p2pdma(self) -> bool {
        self.0 & P2PDMA != 0
    }

    /// Whether the device reaches it peer to peer by its PCI bus address.
    pub const fn is_p2pdma_bus(self) -> bool {
        self.0 & P2PDMA_BUS != 0
    }
}
