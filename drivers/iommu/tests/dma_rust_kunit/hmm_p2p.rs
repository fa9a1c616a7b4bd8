// SPDX-License-Identifier: GPL-2.0

//! The `hmm_p2p` suite, in the P2P boots (x86_64_p2p.py and
//! x86_64_p2p_amd.py): a page of an NVMe controller's memory buffer, as
//! seen by an edu under the same switch and by an edu on the root complex.

use super::*;
use kernel::pci::p2pdma::{MapType, State};

/// QEMU's NVMe controller.
const NVME: (u32, u32) = (0x1b36, 0x0010);

/// The edu devices and whether each is on the root bus.
fn edus() -> KVec<(ARef<Device>, bool)> {
    let mut edus = KVec::new();
    let mut pdev = core::ptr::null_mut();
    loop {
        // SAFETY: `pdev` is null or the last device found, whose
        // reference the call drops.
        pdev = unsafe { bindings::pci_get_device(0x1234, 0x11e8, pdev) };
        if pdev.is_null() {
            return edus;
        }
        // SAFETY: `pdev` is a valid PCI device, referenced.
        let (dev, root) = unsafe {
            (
                Device::get_device(core::ptr::addr_of_mut!((*pdev).dev)),
                (*(*pdev).bus).number == 0,
            )
        };
        let _ = edus.push((dev, root), GFP_KERNEL);
    }
}

fn map_types_and_bus_addresses(t: &Test) -> Outcome {
    // The NVMe driver probes asynchronously.
    // SAFETY: Waiting for probes has no precondition.
    unsafe { bindings::wait_for_device_probe() };
    // SAFETY: The reference is dropped below.
    let nvme = unsafe { bindings::pci_get_device(NVME.0, NVME.1, core::ptr::null_mut()) };
    if nvme.is_null() {
        return Err(t.skip("no NVMe controller (P2P memory provider) on this machine"));
    }
    // SAFETY: `nvme` is a referenced PCI device.
    let mem = unsafe { bindings::pci_alloc_p2pmem(nvme, PAGE_SIZE) };
    let outcome = if mem.is_null() {
        t.fail(format_args!("the NVMe CMB is not P2P memory"));
        Err(Stop::Failed)
    } else {
        // SAFETY: `mem` is P2P memory of `nvme`, a page.
        let (bus, phys) = unsafe {
            (
                bindings::pci_p2pmem_virt_to_bus(nvme, mem),
                bindings::slow_virt_to_phys(mem),
            )
        };
        let outcome = check_clients(t, bus, phys);
        // SAFETY: Allocated above; the maps are gone.
        unsafe { bindings::pci_free_p2pmem(nvme, mem, PAGE_SIZE) };
        outcome
    };
    // SAFETY: Referenced above.
    unsafe { bindings::pci_dev_put(nvme) };
    outcome
}

fn check_clients(t: &Test, bus: u64, phys: u64) -> Outcome {
    let pfn = (phys >> PAGE_SHIFT) as usize;
    let p2p_entry = entry_pfn(pfn);
    let edus = edus();
    t.expect_eq(
        edus.len(),
        2,
        "an edu on the root bus and one under the switch",
    );
    let (mut switch_seen, mut root_seen) = (false, false);
    for (dev, root) in edus.iter() {
        let mut state = State::new();
        // SAFETY: The P2P page is allocated until the end.
        let ty = unsafe { state.map_type(dev, pfn) };
        let mut map = new_map(t, dev, 2)?;
        t.ensure(map.set_pfn(0, p2p_entry).is_ok(), "a P2P entry")?;
        // SAFETY: As above.
        let addr = unsafe { map.map_pfn(0) };
        let got = map.pfn(0).unwrap_or(Pfn::from_raw(0));
        // SAFETY: Reads a module parameter.
        let host_bridge = unsafe { edu_expect_p2p_host_bridge() };
        if *root && host_bridge {
            root_seen = true;
            // An AMD Zen CPU's host bridge forwards P2P: mapped as
            // usual, through the IOMMU.
            t.expect_eq(ty, MapType::ThruHostBridge, "across the root complex");
            t.expect(
                got.is_dma_mapped() && got.is_p2pdma(),
                "mapped through the host bridge",
            );
            t.expect(!got.is_p2pdma_bus(), "not by bus address");
            // SAFETY: The device is bound (to the sample), in its
            // domain.
            let domain = unsafe { Domain::of_device(dev) };
            let iova = addr.unwrap_or(0);
            t.expect_eq(
                domain.map(|d| d.iova_to_phys(iova)),
                Some(phys),
                "the IOMMU maps the P2P page",
            );
            t.expect(map.unmap_pfn(0), "unmapped");
            // The IOMMU only: no edu handle here, and the page is the CMB's.
            t.expect_eq(
                domain.map(|d| d.iova_to_phys(iova)),
                Some(0),
                "and gone from the IOMMU",
            );
            // Mapped again, as the IOMMU driver sees it: MMIO,
            // uncached (DMA_ATTR_MMIO).
            let Some(d) = domain else {
                return t.ensure(false, "a DMA domain");
            };
            let raw = d.as_raw().cast::<c_void>();
            // SAFETY: Nothing else changes the domain's ops meanwhile.
            unsafe { edu_count_syncs(raw, true) };
            // SAFETY: As above for `map_pfn()`; reads a counter.
            let (again, prot) = unsafe { (map.map_pfn(0), edu_last_map_prot()) };
            // SAFETY: As above.
            unsafe { edu_count_syncs(raw, false) };
            t.expect(again.is_ok(), "mapped again");
            t.expect_eq(
                prot & (bindings::IOMMU_MMIO | bindings::IOMMU_CACHE) as c_int,
                bindings::IOMMU_MMIO as c_int,
                "as MMIO, uncached",
            );
            t.expect(map.unmap_pfn(0), "unmapped again");
        } else if *root {
            root_seen = true;
            // q35's host bridge is not on the P2PDMA whitelist.
            t.expect_eq(ty, MapType::NotSupported, "across the root complex");
            t.expect_eq(addr, Err(EREMOTEIO), "no mapping across the root complex");
            t.expect(!got.is_dma_mapped(), "the entry is not mapped");
        } else {
            switch_seen = true;
            t.expect_eq(ty, MapType::BusAddr(bus), "under a common switch");
            t.expect_eq(addr, Ok(bus), "the entry's address is the bus address");
            t.expect(
                got.is_dma_mapped() && got.is_p2pdma_bus(),
                "mapped by bus address",
            );
            if let Some((base, _)) = map.iova_range() {
                // SAFETY: The device is bound (to the sample), in
                // its domain.
                let domain = unsafe { Domain::of_device(dev) };
                let iova = domain.map(|d| d.iova_to_phys(base));
                t.expect_eq(iova, Some(0), "nothing in the IOMMU for a bus address");
            }
            t.expect(map.unmap_pfn(0), "unmapped");
            // SAFETY: As above.
            t.expect_eq(unsafe { map.map_pfn(0) }, Ok(bus), "mapped again");
        }
        // A page of RAM in the same map is mapped as usual.
        let page = pages(t, 1)?;
        t.ensure(map.set_pfn(1, entry(&page[0])).is_ok(), "a RAM entry")?;
        // SAFETY: `page` outlives the map, dropped first.
        let ram = unsafe { map.map_pfn(1) };
        t.expect(ram.is_ok() && ram != Ok(bus), "RAM mapped as usual");
        drop(map);
    }
    t.expect(switch_seen && root_seen, "both clients");
    Ok(())
}

kernel::kunit_suite! {
    name: "hmm_p2p",
    cases: [map_types_and_bus_addresses],
}
