// SPDX-License-Identifier: GPL-2.0

//! The `hmm_dma` suite: `kernel::hmm::DmaMap`, the DMA mappings of a
//! mirrored range, and `Mirror`.
//!
//! Entries are set as `hmm_range_fault()` would set them, from kernel
//! pages, or faulted from the test's own user mappings, and checked in the
//! IOMMU's page tables and by device DMA.

use super::*;
use kernel::{
    hmm::{DmaMap, Mirror, Pfn},
    kunit::Stop,
    page::PAGE_SHIFT,
    uaccess::UserSlice,
};

#[cfg(CONFIG_PCI_P2PDMA)]
#[path = "hmm_p2p.rs"]
mod hmm_p2p;

extern "C" {
    fn edu_syncs() -> core::ffi::c_uint;
    fn edu_syncs_reset();
    fn edu_expect_p2p_host_bridge() -> bool;
    fn edu_last_map_prot() -> c_int;
}

/// The entry `hmm_range_fault()` gives for a writable page.
fn entry(page: &Page) -> Pfn {
    entry_pfn((phys(page) >> PAGE_SHIFT) as usize)
}

/// The entry `hmm_range_fault()` gives for a writable page frame.
fn entry_pfn(pfn: usize) -> Pfn {
    Pfn::from_raw((1 << 63) | (1 << 62) | pfn)
}

/// Runs `f`, counting the IOTLB syncs of `domain` meanwhile.
fn counted<R>(domain: &Domain, f: impl FnOnce() -> R) -> (R, core::ffi::c_uint) {
    // SAFETY: The domain's ops are not changed meanwhile.
    unsafe {
        edu_syncs_reset();
        edu_count_syncs(domain.as_raw().cast(), true);
    }
    let ret = f();
    // SAFETY: As above.
    let syncs = unsafe {
        edu_count_syncs(domain.as_raw().cast(), false);
        edu_syncs()
    };
    (ret, syncs)
}

fn new_map(t: &Test, dev: &ARef<Device>, n: usize) -> core::result::Result<DmaMap, Stop> {
    let map = DmaMap::new(bound(dev), n, DataDirection::Bidirectional);
    t.ensure(map.is_ok(), "a map")?;
    Ok(map.unwrap())
}

fn entries_map_and_move_data(t: &Test) -> Outcome {
    let (edu, dev) = translated(t)?;
    let n = 8;
    let pages = pages(t, n)?;
    let mut map = new_map(t, &dev, n)?;
    t.ensure(map.uses_iova(), "one IOVA range behind the IOMMU")?;
    t.expect_eq(
        map.bytes_per_entry(),
        8,
        "bytes kept per entry: the PFN word",
    );
    let (base, size) = map.iova_range().unwrap_or((0, 0));
    t.expect_eq(size, n * PAGE_SIZE, "the range's size");
    for (i, page) in pages.iter().enumerate() {
        t.ensure(map.set_pfn(i, entry(page)).is_ok(), "an entry")?;
        fill(t, page, i as u8)?;
    }
    let domain = domain(&dev);
    for (i, page) in pages.iter().enumerate() {
        // SAFETY: The pages outlive the map.
        let addr = unsafe { map.map_pfn(i) };
        t.expect_eq(addr, Ok(base + (i * PAGE_SIZE) as u64), "entry address");
        t.expect_eq(
            domain.iova_to_phys(base + (i * PAGE_SIZE) as u64),
            phys(page),
            "IOMMU entry",
        );
        t.expect(map.pfn(i).is_some_and(Pfn::is_dma_mapped), "marked mapped");
    }
    // Mapping a mapped entry gives the same address, without a link.
    // SAFETY: As above.
    let again = unsafe { map.map_pfn(3) };
    t.expect_eq(again, Ok(base + 3 * PAGE_SIZE as u64), "map again");
    // The device moves page 2 to page 5 through the map.
    device_copy(
        t,
        edu,
        base + 2 * PAGE_SIZE as u64,
        base + 5 * PAGE_SIZE as u64,
    )?;
    t.expect(
        same(t, &pages[2], &pages[5])?,
        "the device copied page 2 to page 5",
    );
    t.expect(map.unmap_pfn(5), "unmap a mapped entry");
    t.expect(!map.unmap_pfn(5), "nothing to unmap the second time");
    t.expect_eq(
        domain.iova_to_phys(base + 5 * PAGE_SIZE as u64),
        0,
        "entry 5 unmapped",
    );
    expect_cut_off(t, edu, base, 5, &pages[5], "entry 5 unmapped")?;
    t.expect(
        map.pfn(5)
            .is_some_and(|p| !p.is_dma_mapped() && p.is_valid()),
        "entry 5 kept its page",
    );
    // Not mapped: out of range, no page, in error.
    // SAFETY: Nothing is mapped by these.
    unsafe {
        t.expect_eq(map.map_pfn(n), Err(EINVAL), "entry out of range");
        // A mapped entry keeps its page, and write access, until it is
        // unmapped.
        let read_only = Pfn::from_raw((1 << 63) | (phys(&pages[6]) >> PAGE_SHIFT) as usize);
        for (what, pfn) in [
            ("no page", Pfn::from_raw(0)),
            ("another page", entry(&pages[7])),
            ("the page, read-only", read_only),
        ] {
            t.expect_eq(map.set_pfn(6, pfn), Err(EBUSY), what);
        }
        t.expect(
            map.set_pfn(6, entry(&pages[6])).is_ok(),
            "the same entry again",
        );
        t.expect(map.pfn(6).is_some_and(Pfn::is_dma_mapped), "still mapped");
        t.expect(map.unmap_pfn(6), "unmap entry 6");
        t.ensure(map.set_pfn(6, Pfn::from_raw(0)).is_ok(), "an empty entry")?;
        t.expect_eq(map.map_pfn(6), Err(EINVAL), "an entry without a page");
        // A page the process may only read is not mapped for writes.
        t.ensure(map.set_pfn(6, read_only).is_ok(), "a read-only entry")?;
        t.expect_eq(
            map.map_pfn(6),
            Err(EPERM),
            "a read-only page, mapped both ways",
        );
        t.ensure(
            map.set_pfn(6, Pfn::from_raw(1 << 61)).is_ok(),
            "an entry in error",
        )?;
        t.expect_eq(map.map_pfn(6), Err(EFAULT), "an entry in error");
    }
    drop(map);
    expect_unmapped(t, domain, base, n);
    // Nor does the device reach the ends of the runs mapped at the drop.
    for i in [0, 4, 7] {
        expect_cut_off(t, edu, base, i, &pages[i], "after the drop")?;
    }
    Ok(())
}

/// Which entries of a map to map, by name.
type Pattern = (&'static str, fn(usize) -> bool);

fn holes_destroy_with_one_flush(t: &Test) -> Outcome {
    let (edu, dev) = translated(t)?;
    let n = 16;
    let pages = pages(t, n)?;
    let domain = domain(&dev);
    load_device(t, edu, &dev, &pages[0])?;
    // Its flush, in a lazy domain, must not fall in a count below.
    // SAFETY: Tests may sleep.
    unsafe { bindings::msleep(50) };
    let patterns: [Pattern; 5] = [
        ("all", |_| true),
        ("every other", |i| i % 2 == 0),
        ("one", |i| i == 7),
        ("all but one", |i| i != 0),
        ("none", |_| false),
    ];
    for (name, mapped) in patterns {
        let mut map = new_map(t, &dev, n)?;
        let (base, _) = map.iova_range().unwrap_or((0, 0));
        let mut runs = 0;
        for (i, page) in pages.iter().enumerate() {
            t.ensure(map.set_pfn(i, entry(page)).is_ok(), "an entry")?;
            if mapped(i) {
                // SAFETY: The pages outlive the map.
                t.ensure(unsafe { map.map_range(i, 1) } == Ok(1), "entry mapped")?;
                runs += usize::from(i == 0 || !mapped(i - 1));
            }
        }
        let ((), syncs) = counted(domain, || {
            drop(map);
            // A lazy domain flushes from its flush queue, within 10 ms.
            // SAFETY: Tests may sleep.
            unsafe { bindings::msleep(50) };
        });
        t.info(format_args!(
            "{}: {} runs, {} IOTLB flushes",
            name, runs, syncs
        ));
        if runs > 0 {
            t.expect_eq(syncs, 1, "one IOTLB flush for all the runs");
        } else {
            t.expect(syncs <= 1, "at most the flush of the freed IOVA");
        }
        for i in 0..n {
            t.expect_eq(
                domain.iova_to_phys(base + (i * PAGE_SIZE) as u64),
                0,
                "nothing left mapped",
            );
        }
        // Nor does the device reach the ends of the first two and the
        // last two runs: both sides of the holes between them.
        let end =
            |i: usize| mapped(i) && (i == 0 || !mapped(i - 1) || i + 1 == n || !mapped(i + 1));
        let ends = (0..n).filter(|&i| end(i)).count();
        for (k, i) in (0..n).filter(|&i| end(i)).enumerate() {
            if k < 2 || k + 2 >= ends {
                expect_cut_off(t, edu, base, i, &pages[i], name)?;
            }
        }
    }
    Ok(())
}

fn direct_without_iommu(t: &Test) -> Outcome {
    let dev = plain_device(t, c_str!("hmm-dma-direct"))?;
    t.ensure(dma::set_mask_and_coherent(&dev, 64).is_ok(), "a DMA mask")?;
    let pages = pages(t, 2)?;
    let mut map = new_map(t, &dev, 2)?;
    t.expect(!map.uses_iova(), "page by page without IOMMU");
    // As for the mapper: only DMA-API debugging needs the addresses.
    let need = cfg!(CONFIG_DMA_API_DEBUG);
    t.expect_eq(
        dma::need_unmap(&dev),
        need,
        "need_unmap() of a plain device",
    );
    let kept = if need { 16 } else { 8 };
    t.expect_eq(map.bytes_per_entry(), kept, "bytes kept per entry");
    t.ensure(map.set_pfn(1, entry(&pages[1])).is_ok(), "an entry")?;
    // SAFETY: The pages outlive the map.
    let addr = unsafe { map.map_pfn(1) };
    t.expect_eq(addr, Ok(phys(&pages[1])), "the physical address");
    t.expect(map.unmap_pfn(1), "unmapped");
    Ok(())
}

/// A user mapping of `len` bytes for the test's own address space.
fn user_memory(t: &Test, len: usize) -> core::result::Result<usize, Stop> {
    const PROT_READ: usize = 1;
    const PROT_WRITE: usize = 2;
    const MAP_PRIVATE: usize = 2;
    const MAP_ANONYMOUS: usize = 0x20;
    // SAFETY: The test is running; KUnit gives it an address space.
    let addr = unsafe {
        bindings::kunit_vm_mmap(
            t.as_raw(),
            core::ptr::null_mut(),
            0,
            len,
            PROT_READ | PROT_WRITE,
            MAP_ANONYMOUS | MAP_PRIVATE,
            0,
        )
    };
    t.ensure(addr != 0, "a user mapping")?;
    Ok(addr)
}

fn mirror_faults_and_invalidates(t: &Test) -> Outcome {
    let (edu, dev) = translated(t)?;
    let n = 8;
    let addr = user_memory(t, n * PAGE_SIZE)?;
    // The process's data, written as the process would.
    let mut data = KVec::from_elem(0u8, n * PAGE_SIZE, GFP_KERNEL).map_err(|_| Stop::Failed)?;
    for (i, b) in data.iter_mut().enumerate() {
        *b = (i / PAGE_SIZE * 31 + i * 7) as u8;
    }
    let wrote = UserSlice::new(addr, n * PAGE_SIZE)
        .writer()
        .write_slice(&data);
    t.ensure(wrote.is_ok(), "user data written")?;

    let mirror = KBox::pin_init(
        Mirror::of_current(bound(&dev), addr, n, DataDirection::Bidirectional),
        GFP_KERNEL,
    );
    t.ensure(mirror.is_ok(), "a mirror")?;
    let mirror = mirror.unwrap();
    let domain = domain(&dev);
    let mapped = mirror.fault(0, n, true, |m| m.map_range(0, n));
    t.expect_eq(mapped, Ok(Ok(n)), "every page faulted and mapped");
    let checked = mirror.with(|m| {
        let (base, _) = m.iova_range().unwrap_or((0, 0));
        for i in 0..n {
            let pfn = m.pfn(i).unwrap_or(Pfn::from_raw(0));
            t.expect(pfn.is_valid() && pfn.is_writable(), "a writable page");
            t.expect_eq(
                domain.iova_to_phys(base + (i * PAGE_SIZE) as u64),
                pfn.phys(),
                "the IOMMU maps the process's page",
            );
        }
        base
    });
    let Ok(base) = checked else {
        return t.ensure(false, "the map");
    };

    // The device copies page 1 of the process to its page 6.
    device_copy(t, edu, base + PAGE_SIZE as u64, base + 6 * PAGE_SIZE as u64)?;
    let mut back = KVec::from_elem(0u8, PAGE_SIZE, GFP_KERNEL).map_err(|_| Stop::Failed)?;
    let read = UserSlice::new(addr + 6 * PAGE_SIZE, PAGE_SIZE)
        .reader()
        .read_slice(&mut back);
    t.ensure(read.is_ok(), "user data read")?;
    t.expect(
        back[..] == data[PAGE_SIZE..2 * PAGE_SIZE],
        "the process sees the device's copy",
    );

    // munmap invalidates pages 2 and 3: unmapped and forgotten, with one
    // IOTLB flush for the two. (It frees them too: no device probe there.)
    // SAFETY: The range is the test's own mapping.
    let (ret, syncs) = counted(domain, || unsafe {
        bindings::vm_munmap(addr + 2 * PAGE_SIZE, 2 * PAGE_SIZE)
    });
    t.expect_eq(ret, 0, "munmap");
    t.expect_eq(syncs, 1, "one IOTLB flush for the invalidated run");
    let checked = mirror.with(|m| {
        for i in 0..n {
            let gone = i == 2 || i == 3;
            let pfn = m.pfn(i).unwrap_or(Pfn::from_raw(0));
            t.expect_eq(pfn.is_valid(), !gone, "entry valid unless unmapped");
            t.expect_eq(pfn.is_dma_mapped(), !gone, "entry mapped unless unmapped");
            let phys = domain.iova_to_phys(base + (i * PAGE_SIZE) as u64);
            t.expect_eq(phys == 0, gone, "IOMMU mapping unless unmapped");
        }
        // A hole cannot be faulted again.
        t.expect_eq(
            m.map_pfn(2),
            Err(EINVAL),
            "an invalidated entry is not mapped",
        );
    });
    t.ensure(checked.is_ok(), "the map after munmap")?;
    t.expect(
        mirror.fault(2, 1, false, |_| ()).is_err(),
        "no page at an unmapped address",
    );
    drop(mirror);
    expect_unmapped(t, domain, base, n);
    // Nor does the device reach the ends of the runs mapped at the drop.
    for i in [0, 1, 4, 7] {
        let at = base + (i * PAGE_SIZE) as u64;
        if device_reaches_user(t, edu, at, addr + i * PAGE_SIZE)? {
            t.fail(format_args!("after the drop: the device reaches page {i}"));
        }
    }
    Ok(())
}

/// The fail_nth-style sweep of `DmaMap::map_range()` (see
/// `fail_nth_sweep`): each failure returns `ENOMEM` and leaves exactly
/// the entries it marks mapped reachable, which the map's teardown
/// removes; the IOVA allocator ends where it started.
fn map_range_sweep(t: &Test) -> Outcome {
    let (edu, dev) = translated(t)?;
    let domain = domain(&dev);
    let held = pages(t, 4)?;
    injecting(t, &dev, || {
        for by_map in [false, true] {
            let what = if by_map {
                "IOMMU map calls"
            } else {
                "allocations"
            };
            let (reached, failed) = sweep(t, |n| {
                let mut map = new_map(t, &dev, held.len())?;
                let (base, _) = map.iova_range().unwrap_or((0, 0));
                for (i, page) in held.iter().enumerate() {
                    t.ensure(map.set_pfn(i, entry(page)).is_ok(), "an entry")?;
                }
                let armed = Armed::new(by_map, n);
                // SAFETY: The pages outlive the map.
                let ret = unsafe { map.map_range(0, held.len()) };
                let hit = armed.reached();
                if let Err(e) = ret {
                    t.expect_eq(e, ENOMEM, "DmaMap::map_range() fails");
                    for (i, page) in held.iter().enumerate() {
                        let marked = map.pfn(i).is_some_and(Pfn::is_dma_mapped);
                        let at = base + (i * PAGE_SIZE) as u64;
                        t.expect_eq(
                            domain.iova_to_phys(at) != 0,
                            marked,
                            "an entry is mapped exactly when it is marked",
                        );
                        if !marked {
                            t.expect(!device_reaches(t, edu, at, page)?, "device cut off");
                        }
                    }
                }
                Ok((hit, ret.is_err()))
            })?;
            t.info(format_args!(
                "DmaMap::map_range: {reached} {what} ({failed} failed it)"
            ));
            // The IOMMU driver may allocate nothing: its page tables
            // can be there already.
            t.expect(reached > 0 || !by_map, "a map call reached");
        }
        Ok(())
    })
}

/// Whether a device write to `addr` lands in the first bytes of the
/// user page at `uaddr`.
fn device_reaches_user(
    t: &Test,
    edu: *mut EduDevice,
    addr: u64,
    uaddr: usize,
) -> core::result::Result<bool, Stop> {
    let mut buf = [0x3cu8; 64];
    let wrote = UserSlice::new(uaddr, 64).writer().write_slice(&buf);
    t.ensure(wrote.is_ok(), "user page written")?;
    // SAFETY: `edu` is the bound device; a write the IOMMU blocks is lost.
    let ret = unsafe { edu_dma(edu, addr, 0, 64, DataDirection::FromDevice.as_raw()) };
    t.ensure(ret == 0, "device transfer completes")?;
    let read = UserSlice::new(uaddr, 64).reader().read_slice(&mut buf);
    t.ensure(read.is_ok(), "user page read")?;
    Ok(buf.iter().any(|&b| b != 0x3c))
}

/// The fail_nth-style sweep of `Mirror::fault()` with `map_range()` of
/// fresh user memory, whose pages and page tables the fault allocates:
/// each failure returns an error (`ENOMEM`, or `EFAULT` when the page
/// fault itself failed) and leaves exactly the entries the map marks
/// mapped reachable; the IOVA allocator ends where it started.
fn mirror_fault_sweep(t: &Test) -> Outcome {
    let (edu, dev) = translated(t)?;
    let domain = domain(&dev);
    let n = 4;
    injecting(t, &dev, || {
        for by_map in [false, true] {
            let what = if by_map {
                "IOMMU map calls"
            } else {
                "allocations"
            };
            let (reached, failed) = sweep(t, |k| {
                let addr = user_memory(t, n * PAGE_SIZE)?;
                let mirror = KBox::pin_init(
                    Mirror::of_current(bound(&dev), addr, n, DataDirection::Bidirectional),
                    GFP_KERNEL,
                );
                t.ensure(mirror.is_ok(), "a mirror")?;
                let mirror = mirror.unwrap();
                let armed = Armed::new(by_map, k);
                let ret = mirror.fault(0, n, true, |m| m.map_range(0, n));
                let hit = armed.reached();
                let err = match ret {
                    Ok(Ok(_)) => return Ok((hit, false)),
                    Ok(Err(e)) | Err(e) => e,
                };
                t.expect(
                    err == ENOMEM || err == EFAULT,
                    "Mirror::fault() fails with ENOMEM or EFAULT",
                );
                // The entries not marked mapped, to probe.
                let mut unmarked = [None; 4];
                let checked = mirror.with(|m| {
                    let (base, _) = m.iova_range().unwrap_or((0, 0));
                    for (i, slot) in unmarked.iter_mut().enumerate() {
                        let marked = m.pfn(i).is_some_and(Pfn::is_dma_mapped);
                        let at = base + (i * PAGE_SIZE) as u64;
                        t.expect_eq(
                            domain.iova_to_phys(at) != 0,
                            marked,
                            "an entry is mapped exactly when it is marked",
                        );
                        if !marked {
                            *slot = Some(at);
                        }
                    }
                });
                t.ensure(checked.is_ok(), "the map")?;
                for (i, at) in unmarked.iter().enumerate() {
                    if let Some(at) = *at {
                        let uaddr = addr + i * PAGE_SIZE;
                        t.expect(!device_reaches_user(t, edu, at, uaddr)?, "device cut off");
                    }
                }
                Ok((hit, true))
            })?;
            t.info(format_args!(
                "Mirror::fault: {reached} {what} ({failed} failed it)"
            ));
            t.expect(reached > 0, "an injection point reached");
        }
        Ok(())
    })
}

/// Invalidations from another thread, from edu.c.
#[repr(C)]
struct EduStorm {
    _private: [u8; 0],
}

extern "C" {
    fn edu_storm_start(start: usize, pages: core::ffi::c_ulong) -> *mut EduStorm;
    fn edu_storm_stop(
        s: *mut EduStorm,
        unmaps: *mut core::ffi::c_ulong,
        discards: *mut core::ffi::c_ulong,
    ) -> c_int;
}

/// Stress: `Mirror::fault()` with `DmaMap::map_range()` of a user range
/// for 3 s, while another thread unmaps its pages and maps new ones in
/// their place, or discards them (`MADV_DONTNEED`): an unmap or a clear
/// invalidation at any point of a fault or a map. (`mprotect()` and a
/// fork's COW have no kernel-thread equivalent: they are not among
/// them.) A fault may fail (`EFAULT` in the gap of a munmap, `EBUSY`
/// when invalidations keep racing it), never otherwise. At the end every entry the map marks
/// mapped reaches the process's page now at its address (a device
/// write the process reads back), so no entry kept a page the process
/// lost; the drop leaves nothing reachable.
fn map_range_races_invalidations(t: &Test) -> Outcome {
    let (edu, dev) = translated(t)?;
    let n = 16;
    let addr = user_memory(t, n * PAGE_SIZE)?;
    let mirror = KBox::pin_init(
        Mirror::of_current(bound(&dev), addr, n, DataDirection::Bidirectional),
        GFP_KERNEL,
    );
    t.ensure(mirror.is_ok(), "a mirror")?;
    let mirror = mirror.unwrap();
    let domain = domain(&dev);
    let held = pages(t, 1)?;
    load_device(t, edu, &dev, &held[0])?;

    // SAFETY: `addr` is the test's own anonymous mapping of `n` pages.
    let storm = unsafe { edu_storm_start(addr, n as core::ffi::c_ulong) };
    // An `ERR_PTR()` is one of the last 4095 addresses.
    t.ensure((storm as usize) < 4095usize.wrapping_neg(), "a storm")?;
    let deadline = kernel::time::Ktime::ktime_get().to_ns() + 3_000_000_000;
    let (mut rounds, mut mapped, mut refused) = (0u64, 0u64, 0u64);
    while kernel::time::Ktime::ktime_get().to_ns() < deadline {
        match mirror.fault(0, n, true, |m| m.map_range(0, n)) {
            Ok(Ok(k)) => mapped += k as u64,
            // The map itself has no reason to fail.
            Ok(Err(e)) => {
                t.fail(format_args!("map_range() failed: {e:?}"));
                break;
            }
            Err(e) => {
                refused += 1;
                t.expect(e == EFAULT || e == EBUSY, "a fault fails only for the race");
            }
        }
        // Unmapped again, so that each round maps.
        let _ = mirror.with(|m| m.unmap_range(0, n));
        rounds += 1;
        // Let the storm run, on this CPU too.
        // SAFETY: Tests may sleep; the task is running.
        unsafe { bindings::schedule() };
    }
    let (mut unmaps, mut discards) = (0, 0);
    // SAFETY: `storm` came from `edu_storm_start()`.
    let err = unsafe { edu_storm_stop(storm, &mut unmaps, &mut discards) };
    t.expect_eq(err, 0, "the storm's munmap, mmap and madvise");
    t.info(format_args!(
        "{rounds} rounds ({} per second), {mapped} entries mapped, {refused} faults refused, \
         against {unmaps} unmaps and {discards} discards",
        rounds / 3
    ));
    t.expect(unmaps > 0 && discards > 0, "the storm invalidated");

    // Quiet now: one more round maps every entry, current.
    let last = mirror.fault(0, n, true, |m| m.map_range(0, n));
    t.expect(matches!(last, Ok(Ok(_))), "the last fault and map");
    let Ok(Some(base)) = mirror.with(|m| {
        (0..n)
            .all(|i| m.pfn(i).is_some_and(Pfn::is_dma_mapped))
            .then(|| m.iova_range().map_or(0, |r| r.0))
    }) else {
        return t.ensure(false, "every entry mapped");
    };
    for i in 0..n {
        let at = base + (i * PAGE_SIZE) as u64;
        t.expect(
            device_reaches_user(t, edu, at, addr + i * PAGE_SIZE)?,
            "the entry reaches the process's page",
        );
    }
    drop(mirror);
    for i in [0, n - 1] {
        let at = base + (i * PAGE_SIZE) as u64;
        t.expect_eq(domain.iova_to_phys(at), 0, "unmapped by the drop");
        t.expect(
            !device_reaches_user(t, edu, at, addr + i * PAGE_SIZE)?,
            "the device is cut off after the drop",
        );
    }
    Ok(())
}

/// A map kept past its driver's unbind: the unbind unmaps its entries,
/// which the device proves in the domain of the next binding; after it,
/// mapping fails with `ENXIO` and unmapping only clears the entries.
fn map_goes_with_the_binding(t: &Test) -> Outcome {
    let (edu, dev) = translated(t)?;
    let pages = pages(t, 3)?;
    let mut map = new_map(t, &dev, 2)?;
    for i in 0..2 {
        t.ensure(map.set_pfn(i, entry(&pages[i])).is_ok(), "an entry")?;
    }
    // SAFETY: The pages outlive the map.
    let mapped = unsafe { map.map_range(0, 2) };
    t.ensure(mapped == Ok(2), "both entries mapped")?;
    let Some((base, _)) = map.iova_range() else {
        return t.ensure(false, "an IOVA range");
    };
    t.expect(!map.is_revoked(), "live while bound");

    // A new lazy domain: with no driver bound, even "DMA-FQ" replaces it.
    swap_domain(t, c_str!("DMA-FQ"))?;
    t.expect(map.is_revoked(), "the map revoked at unbind");
    t.expect_eq(map.iova_range(), None, "no range once revoked");
    // SAFETY: As above.
    let again = unsafe { map.map_pfn(0) };
    t.expect_eq(again, Err(ENXIO), "no mapping once revoked");
    // SAFETY: As above.
    let range = unsafe { map.map_range(0, 2) };
    t.expect_eq(range, Err(ENXIO), "no mapping of a range once revoked");
    t.expect(map.unmap_pfn(1), "entry 1 was mapped");
    t.expect(
        map.pfn(1).is_some_and(|pfn| !pfn.is_dma_mapped()),
        "entry 1 cleared",
    );
    load_device(t, edu, &dev, &pages[2])?;
    expect_unmapped(t, domain(&dev), base, 2);
    for i in 0..2 {
        expect_cut_off(t, edu, base, i, &pages[i], "after the unbind")?;
    }
    drop(map);
    expect_unmapped(t, domain(&dev), base, 2);
    Ok(())
}

kernel::kunit_suite! {
    name: "hmm_dma",
    init: Some(suite_init),
    exit: Some(suite_exit),
    cases: [
        entries_map_and_move_data,
        holes_destroy_with_one_flush,
        direct_without_iommu,
        mirror_faults_and_invalidates,
        map_range_sweep,
        mirror_fault_sweep,
        map_range_races_invalidations,
        map_goes_with_the_binding,
    ],
}
