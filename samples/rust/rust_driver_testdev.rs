// SPDX-License-Identifier: GPL-2.0

//! Rust PCI driver sample for QEMU's `pci-testdev` (1b36:0005), written with upstream 6.18's
//! names only, so that it builds unchanged on a mainline kernel.
//!
//! The device's BAR 0 holds a table of I/O tests. Writing a test's number to `TEST` selects it
//! and sets its count to 0: `OFFSET` then says where in the BAR the test listens, `DATA` which
//! value to write there, and `COUNT` how many times that value has been written. `probe` selects
//! the first test, writes twice and checks that the device counted both writes.
//!
//! The driver keeps its BAR in an `Arc<Devres<..>>` that it lends out, as a driver sharing it
//! with a work item would: when the driver unbinds, the BAR is revoked and released all the
//! same, and any later access through the `Devres` fails.

use kernel::{c_str, device::Core, devres::Devres, pci, prelude::*, sync::Arc, types::ARef};

/// The registers of a test, at the start of BAR 0.
struct Regs;

impl Regs {
    /// The test to select (write) or selected (read).
    const TEST: usize = 0x0;
    /// Where in the BAR the selected test listens.
    const OFFSET: usize = 0x4;
    /// The value the selected test waits for.
    const DATA: usize = 0x8;
    /// How many times the selected test has seen its value.
    const COUNT: usize = 0xc;
    /// The registers the driver uses end here.
    const END: usize = 0x10;
}

type Bar0 = pci::Bar<{ Regs::END }>;

/// Which of the device's tests the driver runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TestIndex(u8);

impl TestIndex {
    /// An MMIO test without an eventfd behind it: the device counts the writes itself.
    const NO_EVENTFD: Self = Self(0);
    /// Past the device's table: selecting it stops the selected test.
    const NONE: Self = Self(0xff);
}

kernel::pci_device_table!(
    PCI_TABLE,
    MODULE_PCI_TABLE,
    <TestDevDriver as pci::Driver>::IdInfo,
    [(
        pci::DeviceId::from_id(pci::Vendor::REDHAT, 0x5),
        TestIndex::NO_EVENTFD
    )]
);

/// The driver's data for one `pci-testdev`.
pub struct TestDevDriver {
    pdev: ARef<pci::Device>,
    bar: Arc<Devres<Bar0>>,
    /// The device's count after each of the two writes of `probe`.
    counts: [u32; 2],
}

impl TestDevDriver {
    /// Selects test `index`, whose count starts from 0.
    fn select(bar: &Bar0, index: TestIndex) {
        bar.write8(index.0, Regs::TEST);
    }

    /// Writes the value the selected test waits for where it listens, and returns the device's
    /// count after the write.
    fn hit(bar: &Bar0) -> Result<u32> {
        let offset = bar.read32(Regs::OFFSET) as usize;
        let data = bar.read8(Regs::DATA);
        // The offset comes from the device: checked at run time.
        bar.try_write8(data, offset)?;
        Ok(bar.read32(Regs::COUNT))
    }
}

impl pci::Driver for TestDevDriver {
    type IdInfo = TestIndex;

    const ID_TABLE: pci::IdTable<Self::IdInfo> = &PCI_TABLE;

    fn probe(pdev: &pci::Device<Core>, info: &Self::IdInfo) -> Result<Pin<KBox<Self>>> {
        pdev.enable_device_mem()?;
        let bar = Arc::pin_init(
            pdev.iomap_region_sized::<{ Regs::END }>(0, c_str!("rust_driver_testdev")),
            GFP_KERNEL,
        )?;
        let regs = bar.access(pdev.as_ref())?;
        Self::select(regs, *info);
        let first = Self::hit(regs)?;
        let second = Self::hit(regs)?;
        if (first, second) != (1, 2) {
            dev_err!(
                pdev.as_ref(),
                "test {} counted {} then {}: a write was lost\n",
                info.0,
                first,
                second
            );
            return Err(EIO);
        }
        dev_info!(
            pdev.as_ref(),
            "pci-testdev test {}: count {} after two writes\n",
            info.0,
            second
        );
        Ok(KBox::pin(
            Self {
                pdev: pdev.into(),
                bar,
                counts: [first, second],
            },
            GFP_KERNEL,
        )?)
    }

    fn unbind(pdev: &pci::Device<Core>, this: Pin<&Self>) {
        // The BAR is still there until the unbind is over: leave no test selected.
        if let Ok(bar) = this.bar.access(pdev.as_ref()) {
            Self::select(bar, TestIndex::NONE);
        }
    }
}

kernel::module_pci_driver! {
    type: TestDevDriver,
    name: "rust_driver_testdev",
    authors: ["Rust for Linux Contributors"],
    description: "Rust PCI driver sample for QEMU's pci-testdev",
    license: "GPL",
}

#[cfg(CONFIG_SAMPLE_RUST_DRIVER_TESTDEV_KUNIT_TEST)]
mod tests {
    //! KUnit: the sample on the `pci-testdev` it has bound, then unbound and bound again.
    //!
    //! The tests reach the driver's data with `pci::with_bound`, which upstream does not have;
    //! the driver above uses upstream names only.

    use super::*;
    use kernel::{
        bindings,
        kunit::{Outcome, Stop, Test},
    };

    /// What the tests take from the bound driver: the device, its BAR and its counts.
    type Found = (ARef<pci::Device>, Arc<Devres<Bar0>>, [u32; 2]);

    /// The bound device and the driver's BAR and counts; skips without a `pci-testdev`.
    fn bound(t: &Test) -> core::result::Result<Found, Stop> {
        if let Some(found) = pci::with_bound::<TestDevDriver, _>(|_, drv| {
            (drv.pdev.clone(), drv.bar.clone(), drv.counts)
        }) {
            return Ok(found);
        }
        // SAFETY: The lookup takes a reference, which is dropped at once.
        let present = unsafe {
            let pdev = bindings::pci_get_device(0x1b36, 0x5, core::ptr::null_mut());
            bindings::pci_dev_put(pdev);
            !pdev.is_null()
        };
        if present {
            t.fail(format_args!(
                "pci-testdev (1b36:0005) is not bound to the sample"
            ));
            return Err(Stop::Failed);
        }
        Err(t.skip("no QEMU pci-testdev (1b36:0005) in this boot"))
    }

    /// `probe` saw both its writes counted, and the test counts one more through the `Devres`.
    fn register_round_trip(t: &Test) -> Outcome {
        let (pdev, bar, counts) = bound(t)?;
        t.expect_eq(counts, [1, 2], "probe's two writes counted");
        t.expect_eq(pdev.vendor_id(), pci::Vendor::REDHAT, "the vendor");
        t.expect_eq(pdev.device_id(), 0x5, "the device");
        let count = bar.try_access().map(|bar| TestDevDriver::hit(&bar));
        match count {
            Some(Ok(count)) => {
                t.expect_eq(count, counts[1] + 1, "a third write counted");
            }
            _ => {
                t.fail(format_args!("the bound driver's BAR is not accessible"));
                return Err(Stop::Failed);
            }
        }
        // An access out of the window is refused, not made.
        let refused = bar
            .try_access()
            .map(|bar| bar.try_read32(Regs::END + 0x10000).err());
        t.expect_eq(refused, Some(Some(EINVAL)), "a read past the BAR");
        Ok(())
    }

    /// After an unbind the BAR kept by someone else is revoked and released; a rebind maps it
    /// again, and dropping the old `Devres` leaves the new binding alone.
    fn devres_revoked_at_unbind(t: &Test) -> Outcome {
        let (pdev, old_bar, _) = bound(t)?;
        let dev = pdev.as_ref().as_raw();
        // SAFETY: The device is referenced by `pdev`; unbinding takes its lock.
        unsafe { bindings::device_release_driver(dev) };
        t.expect(old_bar.try_access().is_none(), "the BAR revoked at unbind");
        // SAFETY: The device is referenced; the region is requested and released at once.
        let free = unsafe {
            let err = bindings::pci_request_region(pdev.as_raw(), 0, c_str!("kunit").as_char_ptr());
            if err == 0 {
                bindings::pci_release_region(pdev.as_raw(), 0);
            }
            err == 0
        };
        t.expect(free, "the BAR's region released at unbind");
        // SAFETY: As above; binding takes the device's lock.
        let attached = unsafe { bindings::device_attach(dev) };
        t.expect_eq(attached, 1, "the sample bound again");
        let (_, new_bar, counts) = bound(t)?;
        t.expect_eq(counts, [1, 2], "the new binding's writes counted");
        drop(old_bar);
        t.expect(
            new_bar.try_access().is_some(),
            "the new binding's BAR kept when the old Devres goes",
        );
        Ok(())
    }

    kernel::kunit_suite! {
        name: "rust_driver_testdev",
        cases: [register_round_trip, devres_revoked_at_unbind],
    }
}
