// SPDX-License-Identifier: GPL-2.0

//! PCI peer-to-peer DMA: how a device reaches another device's memory.
//!
//! Memory that a PCI device exposes in a BAR for peer-to-peer DMA (an NVMe
//! controller's memory buffer, say) has pages, which a process may map and
//! an HMM mirror may find. A device DMAs to such a page either at its PCI
//! bus address, without an IOMMU mapping, when the two devices share a
//! switch; or through the host bridge, mapped as usual, when the bridge is
//! known to forward it; or not at all.
//!
//! C header: [`include/linux/pci-p2pdma.h`](srctree/include/linux/pci-p2pdma.h)

use crate::{bindings, device::Device, ffi::c_ulong, page::PAGE_SHIFT};

/// How a device reaches a page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapType {
    /// Not peer-to-peer memory: map it as any page.
    None,
    /// The device cannot reach it.
    NotSupported,
    /// At this PCI bus address, without an IOMMU mapping.
    BusAddr(u64),
    /// Through the host bridge: map it as usual, without CPU cache
    /// maintenance (it is device memory).
    ThruHostBridge,
}

/// The answer for the provider of the last page looked up, for one client
/// device: consecutive pages of one provider cost one lookup.
pub struct State(bindings::pci_p2pdma_map_state);

impl Default for State {
    fn default() -> Self {
        Self::new()
    }
}

impl State {
    /// A state with no provider looked up yet.
    pub const fn new() -> Self {
        Self(bindings::pci_p2pdma_map_state {
            pgmap: core::ptr::null_mut(),
            map: 0,
            bus_off: 0,
        })
    }

    /// How `client` reaches the page of frame `pfn`.
    ///
    /// # Safety
    ///
    /// `pfn` must be the frame of a page that stays allocated during the
    /// call, and `client` the device this state is used for.
    pub unsafe fn map_type(&mut self, client: &Device, pfn: usize) -> MapType {
        // SAFETY: By the function's contract the page is valid.
        let page = unsafe { bindings::pfn_to_page(pfn as c_ulong) };
        // SAFETY: As above.
        if !unsafe { bindings::is_pci_p2pdma_page(page) } {
            return MapType::None;
        }
        // SAFETY: `self` is a state for `client`, which is valid; the page
        // is P2P memory.
        let map = unsafe { bindings::pci_p2pdma_update_state(&mut self.0, client.as_raw(), page) };
        match map {
            bindings::pci_p2pdma_map_type_PCI_P2PDMA_MAP_BUS_ADDR => {
                MapType::BusAddr(((pfn as u64) << PAGE_SHIFT).wrapping_add(self.0.bus_off))
            }
            bindings::pci_p2pdma_map_type_PCI_P2PDMA_MAP_THRU_HOST_BRIDGE => {
                MapType::ThruHostBridge
            }
            _ => MapType::NotSupported,
        }
    }
}
