// SPDX-License-Identifier: GPL-2.0

//! The `dma_rust` suite: `kernel::dma`.
//!
//! Reservations and the page-list mapper on edu behind the IOMMU, linked,
//! torn down with holes, refused bad input, swept with injected failures
//! and kept past an unbind; the mapper's fallback on a device without
//! IOMMU; a coherent allocation beside a reservation.

use super::*;

fn reservation_links_and_moves_data(t: &Test) -> Outcome {
    let (edu, dev) = translated(t)?;
    let pages = pages(t, NPAGES)?;
    fill(t, &pages[0], 0x33)?;
    let Ok(Some(mut iova)) = Reservation::try_alloc(
        bound(&dev),
        NPAGES * PAGE_SIZE,
        0,
        DataDirection::Bidirectional,
        Attrs::empty(),
    ) else {
        return t.ensure(false, "a reservation");
    };
    t.expect_eq(iova.granule(), PAGE_SIZE, "granule");
    for (i, page) in pages.iter().enumerate() {
        // SAFETY: The pages outlive the reservation, destroyed below.
        let ret = unsafe { iova.link_page(i * PAGE_SIZE, page) };
        t.ensure(ret.is_ok(), "link")?;
    }
    t.ensure(iova.sync_all().is_ok(), "sync")?;

    let base = iova.dma_address(0).unwrap_or(0);
    for (i, page) in pages.iter().enumerate() {
        t.expect_eq(
            domain(&dev).iova_to_phys(base + (i * PAGE_SIZE) as u64),
            phys(page),
            "granule",
        );
        t.expect(iova.is_linked(i * PAGE_SIZE), "linked");
    }
    // A word of bits here and one in the engine, for a few pages.
    t.expect_eq(iova.tracking_bytes(), 16, "tracking bytes");

    device_copy(t, edu, base, base + PAGE_SIZE as u64)?;
    t.expect(
        same(t, &pages[0], &pages[1])?,
        "the device copied page 0 to page 1",
    );

    iova.destroy();
    expect_unmapped(t, domain(&dev), base, NPAGES);
    // Nor does the device reach either end of the run.
    for i in [0, NPAGES - 1] {
        expect_cut_off(t, edu, base, i, &pages[i], "after the destroy")?;
    }
    Ok(())
}

fn teardown_with_holes(t: &Test) -> Outcome {
    let (edu, dev) = translated(t)?;
    let pages = pages(t, NPAGES)?;
    load_device(t, edu, &dev, &pages[7])?;
    let base;
    {
        let Ok(Some(mut iova)) = Reservation::try_alloc(
            bound(&dev),
            NPAGES * PAGE_SIZE,
            0,
            DataDirection::FromDevice,
            Attrs::empty(),
        ) else {
            return t.ensure(false, "a reservation");
        };
        base = iova.dma_address(0).unwrap_or(0);
        // Pages 0, 2, 3, 5 and 6: holes at 1, 4 and 7.
        for i in [0, 2, 3, 5, 6] {
            // SAFETY: The pages outlive the reservation, dropped below.
            let ret = unsafe { iova.link_page(i * PAGE_SIZE, &pages[i]) };
            t.ensure(ret.is_ok(), "link")?;
        }
        t.ensure(iova.sync_all().is_ok(), "sync")?;
        // Unlink 3: a hole at the end of the run 2-3; and a range with no link.
        t.ensure(iova.unlink(3 * PAGE_SIZE, PAGE_SIZE).is_ok(), "unlink")?;
        t.ensure(
            iova.unlink(7 * PAGE_SIZE, PAGE_SIZE).is_ok(),
            "unlink of nothing",
        )?;
        for i in 0..NPAGES {
            let want = if [0, 2, 5, 6].contains(&i) {
                phys(&pages[i])
            } else {
                0
            };
            t.expect_eq(
                domain(&dev).iova_to_phys(base + (i * PAGE_SIZE) as u64),
                want,
                "granule",
            );
        }
        // The device agrees, at both edges of each hole.
        for i in [1, 3, 4, 7] {
            expect_cut_off(t, edu, base, i, &pages[i], "a hole")?;
        }
        // Dropped here, with holes.
    }
    expect_unmapped(t, domain(&dev), base, NPAGES);
    // Nor does the device reach the runs: pages 0, 2 and 5 here, 6 below.
    for i in [0, 2, 5] {
        expect_cut_off(t, edu, base, i, &pages[i], "after the drop")?;
    }
    // The device no longer reaches page 6.
    fill(t, &pages[6], 0x5a)?;
    fill(t, &pages[7], 0x5a)?;
    // SAFETY: `edu` is bound; the address is stale, which is what is tested.
    let ret = unsafe {
        edu_dma(
            edu,
            base + (6 * PAGE_SIZE) as u64,
            0,
            HALF,
            DataDirection::FromDevice.as_raw(),
        )
    };
    t.expect_eq(ret, 0, "transfer completes");
    t.expect(same(t, &pages[6], &pages[7])?, "page 6 untouched");
    Ok(())
}

fn reservation_rejects_bad_input(t: &Test) -> Outcome {
    let (edu, dev) = translated(t)?;
    let pages = pages(t, 2)?;
    load_device(t, edu, &dev, &pages[1])?;
    let size = 4 * PAGE_SIZE;
    let zero = Reservation::try_alloc(bound(&dev), 0, 0, DataDirection::ToDevice, Attrs::empty());
    t.expect(matches!(zero, Err(e) if e == EINVAL), "EINVAL for size 0");
    let head = Reservation::try_alloc(
        bound(&dev),
        size,
        PAGE_SIZE,
        DataDirection::ToDevice,
        Attrs::empty(),
    );
    t.expect(
        matches!(head, Err(e) if e == EINVAL),
        "EINVAL for a head past the granule",
    );
    // Both ways, so that the device's writes can tell what is mapped.
    let Ok(Some(mut iova)) = Reservation::try_alloc(
        bound(&dev),
        size,
        0,
        DataDirection::Bidirectional,
        Attrs::empty(),
    ) else {
        return t.ensure(false, "a reservation");
    };
    let base = iova.dma_address(0).unwrap_or(0);
    let err = |r: Result| r.err();

    // SAFETY: The pages outlive the reservation, for every link below.
    let cases: [(Result, Error, &str); 9] = unsafe {
        [
            (iova.link_page(size, &pages[0]), EINVAL, "link past the end"),
            (
                iova.link_page(3 * PAGE_SIZE + 1, &pages[0]),
                EINVAL,
                "link across the end",
            ),
            (
                iova.link_page(PAGE_SIZE / 2, &pages[0]),
                EINVAL,
                "misaligned link",
            ),
            (
                iova.link_page_range(PAGE_SIZE, &pages[0], 0x100, 0x100),
                EINVAL,
                "mid-granule start",
            ),
            (
                iova.link_page_range(0, &pages[0], 0x100, 0x100),
                EINVAL,
                "offset unlike the reservation's",
            ),
            (
                iova.link_page_range(PAGE_SIZE, &pages[0], 0, 100),
                EINVAL,
                "mid-granule end, not last",
            ),
            (
                iova.link_page_range(0, &pages[0], 0, 0),
                EINVAL,
                "empty link",
            ),
            (
                iova.link_page_range(0, &pages[0], usize::MAX, 2),
                EOVERFLOW,
                "wrapping page range",
            ),
            (
                iova.link_phys(usize::MAX - 1, 0, PAGE_SIZE),
                EOVERFLOW,
                "wrapping offset",
            ),
        ]
    };
    for (ret, want, what) in cases {
        t.expect_eq(err(ret), Some(want), what);
    }
    t.expect_eq(err(iova.sync(size, 1)), Some(EINVAL), "sync past the end");
    t.expect_eq(err(iova.unlink(0, 0)), Some(EINVAL), "empty unlink");
    t.expect_eq(
        err(iova.unlink(PAGE_SIZE / 2, PAGE_SIZE)),
        Some(EINVAL),
        "unlink cutting a link",
    );
    for i in 0..4 {
        t.expect_eq(
            domain(&dev).iova_to_phys(base + (i * PAGE_SIZE) as u64),
            0,
            "nothing mapped",
        );
    }
    // Nor does the device reach the page at either end.
    for i in [0, 3] {
        expect_cut_off(t, edu, base, i, &pages[0], "after the refused links")?;
    }

    // A two-granule link unlinked by halves: the engine unmaps the link
    // and maps the half still linked again, since not every IOMMU can
    // split a mapping.
    // SAFETY: The link's second granule maps the page after `pages[1]`,
    // which is not ours, but the device runs no DMA while it is linked and
    // it is unlinked below.
    let two = unsafe { iova.link_phys(2 * PAGE_SIZE, phys(&pages[1]), 2 * PAGE_SIZE) };
    if t.expect(two.is_ok(), "a two-granule link") {
        let at = |i: usize| domain(&dev).iova_to_phys(base + (i * PAGE_SIZE) as u64);
        t.expect(
            iova.unlink(3 * PAGE_SIZE, PAGE_SIZE).is_ok(),
            "unlink half a link",
        );
        t.expect_eq(at(3), 0, "the unlinked half is unmapped");
        t.expect_eq(at(2), phys(&pages[1]), "the other half stays mapped");
        t.expect(!iova.is_linked(3 * PAGE_SIZE), "the half is unlinked");
        t.expect(iova.is_linked(2 * PAGE_SIZE), "the other half is linked");
        t.expect(
            iova.unlink(2 * PAGE_SIZE, PAGE_SIZE).is_ok(),
            "unlink the other half",
        );
        t.expect_eq(at(2), 0, "both halves unmapped");
        // The device is probed on the first half only: the second maps a
        // page that is not ours, which a stale mapping would let it write.
        expect_cut_off(t, edu, base, 2, &pages[1], "both halves unlinked")?;
    }
    // SAFETY: The pages outlive the reservation.
    let first = unsafe { iova.link_page(PAGE_SIZE, &pages[0]) };
    t.ensure(first.is_ok(), "link")?;
    // SAFETY: As above.
    let again = unsafe { iova.link_page(PAGE_SIZE, &pages[1]) };
    t.expect_eq(err(again), Some(EBUSY), "double link");
    t.expect_eq(
        domain(&dev).iova_to_phys(base + PAGE_SIZE as u64),
        phys(&pages[0]),
        "first link kept",
    );
    Ok(())
}

fn scope_tears_down(t: &Test) -> Outcome {
    let (edu, dev) = translated(t)?;
    let pages = pages(t, 2)?;
    fill(t, &pages[0], 0x4e)?;
    let base = Reservation::scope(
        bound(&dev),
        2 * PAGE_SIZE,
        0,
        DataDirection::Bidirectional,
        Attrs::empty(),
        |iova| -> core::result::Result<u64, kernel::kunit::Stop> {
            for (i, page) in pages.iter().enumerate() {
                t.ensure(iova.link_page(i * PAGE_SIZE, page).is_ok(), "link")?;
            }
            t.ensure(iova.sync_all().is_ok(), "sync")?;
            let base = iova.dma_address(0).unwrap_or(0);
            t.expect_eq(domain(&dev).iova_to_phys(base), phys(&pages[0]), "linked");
            device_copy(t, edu, base, base + PAGE_SIZE as u64)?;
            Ok(base)
        },
    );
    let Ok(Some(Ok(base))) = base else {
        return t.ensure(false, "a scope that ran");
    };
    t.expect(
        same(t, &pages[0], &pages[1])?,
        "the device copied page 0 to page 1",
    );
    // The scope tore the reservation down.
    expect_unmapped(t, domain(&dev), base, 2);
    for (i, page) in pages.iter().enumerate() {
        expect_cut_off(t, edu, base, i, page, "after the scope")?;
    }
    Ok(())
}

fn mapper_moves_data(t: &Test) -> Outcome {
    let (edu, dev) = edu(t)?;
    let pages = pages(t, 2)?;
    fill(t, &pages[0], 0x7c)?;
    let mut addresses = [0u64; 2];
    let mapped = MappedPages::map(bound(&dev), pages, DataDirection::Bidirectional, |i, a| {
        addresses[i] = a
    });
    t.ensure(mapped.is_ok(), "map")?;
    let mapped = mapped.unwrap();
    // SAFETY: Reads a boot parameter.
    let identity = unsafe { edu_expect_identity() };
    t.expect_eq(
        mapped.uses_iova(),
        !identity,
        "two-step path iff translated",
    );
    if mapped.uses_iova() {
        t.expect_eq(
            addresses[1],
            addresses[0] + PAGE_SIZE as u64,
            "contiguous addresses",
        );
        t.expect_eq(
            mapped.range().map(|r| r.1),
            Some(2 * PAGE_SIZE),
            "one range",
        );
    } else {
        t.expect_eq(mapped.range(), None, "no range");
    }
    device_copy(t, edu, addresses[0], addresses[1])?;
    // Unmapped, the pages come back.
    let pages = mapped.into_pages();
    t.expect(
        same(t, &pages[0], &pages[1])?,
        "the device copied page 0 to page 1",
    );
    Ok(())
}

fn mapper_falls_back_without_iommu(t: &Test) -> Outcome {
    let dev = plain_device(t, c_str!("dma-rust-plain"))?;
    t.expect_eq(
        dma::set_mask_and_coherent(&dev, 65).err(),
        Some(EINVAL),
        "65-bit mask",
    );
    t.ensure(dma::set_mask_and_coherent(&dev, 64).is_ok(), "64-bit mask")?;
    t.expect_eq(dma::mask(&dev), u64::MAX, "mask");

    let none = Reservation::try_alloc(
        bound(&dev),
        PAGE_SIZE,
        0,
        DataDirection::ToDevice,
        Attrs::empty(),
    );
    t.expect(matches!(none, Ok(None)), "no reservation without IOMMU");

    let pages = pages(t, 4)?;
    let mut addresses = [0u64; 4];
    let mapped = MappedPages::map(bound(&dev), pages, DataDirection::ToDevice, |i, a| {
        addresses[i] = a
    });
    t.ensure(mapped.is_ok(), "map")?;
    let mapped = mapped.unwrap();
    t.expect(!mapped.uses_iova(), "per-page path");
    for (i, page) in mapped.pages().iter().enumerate() {
        // Without IOMMU or bouncing, the device sees physical addresses.
        t.expect_eq(addresses[i], phys(page), "physical address");
    }
    // A coherent device with a 64-bit mask and no IOMMU: dma-direct neither
    // bounces nor syncs for it, so nothing needs unmapping, but for DMA-API
    // debugging, which tracks every mapping.
    let need = cfg!(CONFIG_DMA_API_DEBUG);
    t.expect_eq(
        dma::need_unmap(&dev),
        need,
        "need_unmap() of a plain device",
    );
    let kept = if need { 4 * 8 } else { 0 };
    t.expect_eq(
        mapped.tracking_bytes(),
        kept,
        "addresses kept only when unmapping needs them",
    );
    Ok(())
}

/// fail_nth-style sweeps of the Rust types: each allocation the operation
/// makes, and each IOMMU map call, fails in turn. Each failure returns
/// `ENOMEM` and leaves nothing mapped, for the IOMMU and the device; the
/// IOVA allocator ends where it started; each operation reaches at least
/// one injection point.
fn fail_nth_sweep(t: &Test) -> Outcome {
    let (edu, dev) = translated(t)?;
    let domain = domain(&dev);
    let held = pages(t, 4)?;
    load_device(t, edu, &dev, &held[0])?;
    injecting(t, &dev, || {
        for by_map in [false, true] {
            let what = if by_map {
                "IOMMU map calls"
            } else {
                "allocations"
            };

            // Reservation::link_pages() of 4 pages into a reservation.
            let (reached, failed) = sweep(t, |n| {
                let Ok(Some(mut iova)) = Reservation::try_alloc(
                    bound(&dev),
                    4 * PAGE_SIZE,
                    0,
                    DataDirection::Bidirectional,
                    Attrs::empty(),
                ) else {
                    return Err(t.skip("no reservation"));
                };
                let base = iova.dma_address(0).unwrap_or(0);
                let armed = Armed::new(by_map, n);
                // SAFETY: The pages outlive the reservation.
                let ret = unsafe { iova.link_pages(0, &held) };
                let hit = armed.reached();
                if ret.is_err() {
                    t.expect_eq(ret, Err(ENOMEM), "Reservation::link_pages() fails");
                    expect_unmapped(t, domain, base, 4);
                    for i in [0, 3] {
                        let at = base + (i * PAGE_SIZE) as u64;
                        t.expect(!device_reaches(t, edu, at, &held[i])?, "device cut off");
                    }
                }
                Ok((hit, ret.is_err()))
            })?;
            t.info(format_args!(
                "Reservation::link_pages: {reached} {what} ({failed} failed it)"
            ));
            // The IOMMU driver may allocate nothing: its page tables can be
            // there already.
            t.expect(reached > 0 || !by_map, "a map call reached");

            // MappedPages::map() of 4 pages it owns.
            let (reached, failed) = sweep(t, |n| {
                let mine = pages(t, 4)?;
                let armed = Armed::new(by_map, n);
                let ret =
                    MappedPages::map(bound(&dev), mine, DataDirection::Bidirectional, |_, _| ());
                let hit = armed.reached();
                if let Err(e) = &ret {
                    t.expect_eq(*e, ENOMEM, "MappedPages::map() fails");
                }
                Ok((hit, ret.is_err()))
            })?;
            t.info(format_args!(
                "MappedPages::map: {reached} {what} ({failed} failed it)"
            ));
            t.expect(reached > 0, "an injection point reached");
        }
        Ok(())
    })
}

/// Reads the `i`th `u64` of `page`.
fn word(t: &Test, page: &Page, i: usize) -> core::result::Result<u64, kernel::kunit::Stop> {
    let mut w = [0u8; 8];
    // SAFETY: `w` is valid for writes of 8 bytes.
    let ret = unsafe { page.read_raw(w.as_mut_ptr(), i * 8, 8) };
    t.ensure(ret.is_ok(), "page read")?;
    Ok(u64::from_ne_bytes(w))
}

/// A driver's split: descriptors in a [`CoherentAllocation`], data through a [`Reservation`].
/// The device reads the descriptors from coherent memory and writes them into linked pages,
/// then reads the linked data back into the coherent memory, where the CPU finds it with
/// `dma_read!`.
fn coherent_descriptors_and_reservation(t: &Test) -> Outcome {
    let (edu, dev) = translated(t)?;
    let desc = CoherentAllocation::<u64>::alloc_coherent(bound(&dev), PAGE_SIZE / 8, GFP_KERNEL);
    t.ensure(desc.is_ok(), "a coherent allocation")?;
    let desc = desc.unwrap();
    t.expect_eq(desc.size(), PAGE_SIZE, "its size");
    t.expect(
        desc.dma_handle_with_offset(desc.count()).is_err(),
        "an offset past it",
    );
    t.expect(dma_read!(desc[desc.count()]).is_err(), "a read past it");

    let pages = pages(t, 2)?;
    fill(t, &pages[0], 0x6d)?;
    let Ok(Some(mut iova)) = Reservation::try_alloc(
        bound(&dev),
        2 * PAGE_SIZE,
        0,
        DataDirection::Bidirectional,
        Attrs::empty(),
    ) else {
        return t.ensure(false, "a reservation");
    };
    for (i, page) in pages.iter().enumerate() {
        t.ensure(
            // SAFETY: The pages outlive the reservation, destroyed below.
            unsafe { iova.link_page(i * PAGE_SIZE, page) }.is_ok(),
            "link",
        )?;
    }
    t.ensure(iova.sync_all().is_ok(), "sync")?;
    let base = iova.dma_address(0).unwrap_or(0);

    // Descriptors: where the data is, how long, and a mark.
    let table = [base, PAGE_SIZE as u64, 0xd15c_0000_0000_0001];
    for (i, &d) in table.iter().enumerate() {
        t.ensure(dma_write!(desc[i] = d).is_ok(), "a descriptor written")?;
    }
    device_copy(t, edu, desc.dma_handle(), base + PAGE_SIZE as u64)?;
    for (i, &d) in table.iter().enumerate() {
        t.expect_eq(word(t, &pages[1], i)?, d, "a descriptor the device read");
    }

    // Data: through the reservation, into the coherent memory.
    device_copy(t, edu, base, desc.dma_handle())?;
    for i in [0, 1, 255, 511] {
        let got = dma_read!(desc[i]);
        t.expect_eq(
            got.ok(),
            Some(word(t, &pages[0], i)?),
            "data the device wrote",
        );
    }
    iova.destroy();
    expect_unmapped(t, domain(&dev), base, 2);
    expect_cut_off(t, edu, base, 0, &pages[0], "after the destroy")?;
    Ok(())
}

/// A reservation and a page mapping kept past their driver's unbind are
/// torn down by the unbind, in the domain they were made in, and never touch
/// the domain of the next binding: the group's default domain is replaced
/// while no driver is bound, as an administrator may do through sysfs.
fn bound_types_go_with_the_binding(t: &Test) -> Outcome {
    let (edu, dev) = translated(t)?;
    // Only compared with the next domain, never used.
    let old_domain = domain(&dev).as_raw();
    t.ensure(
        domain(&dev).kind() == bindings::IOMMU_DOMAIN_DMA_FQ,
        "edu starts in a lazy (DMA-FQ) domain",
    )?;
    let baseline = reservations(t, &dev)?;
    let pages = pages(t, 6)?;
    let Ok(Some(mut old)) = Reservation::try_alloc(
        bound(&dev),
        2 * PAGE_SIZE,
        0,
        DataDirection::Bidirectional,
        Attrs::empty(),
    ) else {
        return t.ensure(false, "a reservation");
    };
    for i in 0..2 {
        t.ensure(
            // SAFETY: The pages outlive the reservation, dropped below.
            unsafe { old.link_page(i * PAGE_SIZE, &pages[i]) }.is_ok(),
            "link",
        )?;
    }
    t.ensure(old.sync_all().is_ok(), "sync")?;
    let old_base = old.dma_address(0).unwrap_or(0);
    let mapped = MappedPages::map(
        bound(&dev),
        self::pages(t, 2)?,
        DataDirection::Bidirectional,
        |_, _| (),
    );
    t.ensure(mapped.is_ok(), "a page mapping")?;
    let mapped = mapped.unwrap();
    let (mapped_base, _) = mapped.range().unwrap_or((0, 0));
    t.expect(
        !old.is_revoked() && !mapped.is_revoked(),
        "live while bound",
    );

    // Unbind, replace the domain (strict now), bind again.
    swap_domain(t, c_str!("DMA"))?;
    let result = (|| -> Outcome {
        let domain = domain(&dev);
        t.ensure(domain.as_raw() != old_domain, "a new domain")?;
        t.expect(old.is_revoked(), "the reservation revoked at unbind");
        t.expect(mapped.is_revoked(), "the page mapping revoked at unbind");
        t.expect_eq(old.dma_address(0), Err(ENXIO), "no address once revoked");
        // SAFETY: The page outlives the reservation.
        let relink = unsafe { old.link_page(0, &pages[4]) };
        t.expect_eq(relink, Err(ENXIO), "no link once revoked");
        t.expect_eq(
            old.unlink(0, PAGE_SIZE),
            Err(ENXIO),
            "no unlink once revoked",
        );
        t.expect_eq(old.sync_all(), Err(ENXIO), "no sync once revoked");
        t.expect(!old.is_linked(0), "nothing linked once revoked");
        load_device(t, edu, &dev, &pages[5])?;

        // The new binding maps at the IOVA the old one had, most likely:
        // the new domain's allocator starts afresh.
        let Ok(Some(mut new)) = Reservation::try_alloc(
            bound(&dev),
            2 * PAGE_SIZE,
            0,
            DataDirection::Bidirectional,
            Attrs::empty(),
        ) else {
            return t.ensure(false, "a reservation in the new domain");
        };
        for i in 0..2 {
            t.ensure(
                // SAFETY: The pages outlive the reservation, dropped below.
                unsafe { new.link_page(i * PAGE_SIZE, &pages[2 + i]) }.is_ok(),
                "link in the new domain",
            )?;
        }
        t.ensure(new.sync_all().is_ok(), "sync")?;
        let new_base = new.dma_address(0).unwrap_or(0);
        t.info(format_args!(
            "old reservation at {old_base:#x}, page mapping at {mapped_base:#x}, new one at {new_base:#x}"
        ));
        // The new domain's allocator hands out what the old one had: the
        // drops below would hit the new links if they unmapped anything.
        t.expect(
            new_base == old_base || new_base == mapped_base,
            "the new reservation at an IOVA of the old binding",
        );

        // The old objects go: nothing of the new binding's may go with them.
        drop(old);
        let back = mapped.into_pages();
        t.expect_eq(back.len(), 2, "the pages given back");
        for i in 0..2 {
            let at = new_base + (i * PAGE_SIZE) as u64;
            t.expect_eq(
                domain.iova_to_phys(at),
                phys(&pages[2 + i]),
                "the new binding's link kept",
            );
            t.expect(
                device_reaches(t, edu, at, &pages[2 + i])?,
                "the device reaches the new binding's link",
            );
        }
        // The old addresses reach nothing but the new links.
        for (base, old_pages) in [(old_base, &pages[..2]), (mapped_base, &back[..])] {
            for (i, page) in old_pages.iter().enumerate() {
                let at = base + (i * PAGE_SIZE) as u64;
                let new_page = (new_base..new_base + 2 * PAGE_SIZE as u64).contains(&at);
                if !new_page {
                    t.expect_eq(domain.iova_to_phys(at), 0, "an old address unmapped");
                }
                t.expect(!device_reaches(t, edu, at, page)?, "the old pages cut off");
            }
        }
        drop(new);
        expect_unmapped(t, domain, new_base, 2);
        for i in 0..2 {
            expect_cut_off(t, edu, new_base, i, &pages[2 + i], "after the destroy")?;
        }
        Ok(())
    })();
    // Lazy again, in place, for the tests after this one.
    swap_domain(t, c_str!("DMA-FQ"))?;
    result?;
    t.expect_eq(
        domain(&dev).kind(),
        bindings::IOMMU_DOMAIN_DMA_FQ,
        "lazy again",
    );
    t.expect_eq(
        reservations(t, &dev)?,
        baseline,
        "IOVA allocator at its baseline",
    );
    Ok(())
}

kernel::kunit_suite! {
    name: "dma_rust",
    init: Some(suite_init),
    exit: Some(suite_exit),
    cases: [
        reservation_links_and_moves_data,
        teardown_with_holes,
        reservation_rejects_bad_input,
        scope_tears_down,
        mapper_moves_data,
        mapper_falls_back_without_iommu,
        fail_nth_sweep,
        coherent_descriptors_and_reservation,
        bound_types_go_with_the_binding,
    ],
}
