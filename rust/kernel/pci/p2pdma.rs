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
    /// Through the host bridge: map it as usual, as MMIO (uncached, without
    /// CPU cache maintenance: it is device memory).
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
            map: bindings::pci_p2pdma_map_type_PCI_P2PDMA_MAP_UNKNOWN,
            bus_off: 0,
        })
    }

    /// The state a C caller keeps.
    pub const fn from_raw(state: bindings::pci_p2pdma_map_state) -> Self {
        Self(state)
    }

    /// The state, for a C caller to keep.
    pub const fn as_raw(&self) -> bindings::pci_p2pdma_map_state {
        self.0
    }

    /// How `client` reaches the page of frame `pfn`: `pci_p2pdma_state()`,
    /// and `pci_p2pdma_bus_addr_map()` for a bus address.
    ///
    /// # Safety
    ///
    /// `pfn` must be the frame of a page that stays allocated during the
    /// call, and `client` the device this state is used for.
    pub unsafe fn map_type(&mut self, client: &Device, pfn: usize) -> MapType {
        // SAFETY: By the function's contract the page is valid.
        let page = unsafe { bindings::pfn_to_page(pfn as c_ulong) };
        // SAFETY: `self` is a state for `client`, which is valid; the page
        // is valid.
        let map = unsafe { bindings::pci_p2pdma_state(&mut self.0, client.as_raw(), page) };
        match map {
            bindings::pci_p2pdma_map_type_PCI_P2PDMA_MAP_NONE => MapType::None,
            bindings::pci_p2pdma_map_type_PCI_P2PDMA_MAP_BUS_ADDR => {
                let phys = (pfn as u64) << PAGE_SHIFT;
                // SAFETY: The state was just found to be a bus address one.
                MapType::BusAddr(unsafe { bindings::pci_p2pdma_bus_addr_map(&mut self.0, phys) })
            }
            bindings::pci_p2pdma_map_type_PCI_P2PDMA_MAP_THRU_HOST_BRIDGE => {
                MapType::ThruHostBridge
            }
            _ => MapType::NotSupported,
        }
    }
}
