// SPDX-License-Identifier: GPL-2.0

//! Heterogeneous memory management: a device mirroring a process's memory.
//!
//! `hmm_range_fault()` fills an array of PFN words, one per page of a
//! range of a process's address space; [`Pfn`] reads them. [`DmaMap`]
//! owns such an array and maps its entries for a device's DMA, keeping
//! each entry's mapping state in the entry's own word (bits that
//! `hmm_range_fault()` preserves), so that the IOVA path costs no memory
//! beyond the word. A [`Mirror`] keeps such a map in step with the
//! process's address space, so that a driver maps what it faults in
//! without `unsafe`.
//!
//! C header: [`include/linux/hmm.h`](srctree/include/linux/hmm.h)

pub mod dma_map;
pub mod mirror;
mod pfn;

pub use dma_map::DmaMap;
pub use mirror::{Mirror, MirrorMap};
pub use pfn::Pfn;
