// SPDX-License-Identifier: GPL-2.0

//! Rust DMA sample: QEMU's `edu` device saves its state into host pages and
//! restores it from them, the way mlx5's vfio driver migrates a device.
//!
//! A live migration moves a device's state through host memory. mlx5 does
//! it with a *page list*: pages that need not be physically contiguous,
//! mapped with the two-step DMA API into one IOVA range, so the device sees
//! one contiguous buffer and the driver keeps no DMA address per page.
//! Without a translating IOMMU the same pages are mapped one by one and the
//! device is given an address per page. [`MappedPages`] does either; the
//! sample derives the device's address table from what it returns.
//!
//! `edu` moves at most 4 KiB between RAM and its buffer per command, so a
//! round goes chunk by chunk (3000 bytes, so chunks straddle pages):
//!
//! 1. save: the device loads a chunk of a known pattern from the *source*
//!    pages (RAM to device), standing for its internal state, and writes it
//!    into the *saved* pages (device to RAM);
//! 2. restore: once all is saved, the device reads each chunk back from the
//!    saved pages (RAM to device) and writes it into the *restored* pages
//!    (device to RAM);
//! 3. the pages are unmapped and the CPU checks every byte of the saved and
//!    restored pages against the pattern;
//! 4. isolation: the device aims one more write at the saved pages' stale
//!    DMA address. Behind an IOMMU it must not reach them.
//!
//! The driver waits for each command by polling its typed command register
//! with `read_poll_timeout()`: a device that does not finish in time gives
//! `ETIMEDOUT`, and memory it might still write is never freed.
//!
//! Each round is reported by `dev_info!` and in the device's `dma_report`
//! file; writing `<pages> [<timeout_ms>]` to its `dma_round` file runs one:
//!
//! ```text
//! echo 8 > /sys/bus/pci/devices/0000:00:03.0/dma_round
//! cat /sys/bus/pci/devices/0000:00:03.0/dma_report
//! ```

use core::{fmt, fmt::Write};
use kernel::{
    bindings, c_str, dev_err, dev_info,
    device::{self, Bound},
    devres::Devres,
    dma::{pages::MappedPages, DataDirection, Device as _, DmaAddress, DmaMask},
    driver,
    error::code::*,
    io::poll::read_poll_timeout,
    iommu::Domain,
    new_mutex,
    page::{Page, PAGE_SIZE},
    pci,
    prelude::*,
    sync::Mutex,
    time::{delay::fsleep, Delta, Ktime},
    types::ARef,
};

kernel::module_pci_driver! {
    type: EduDma,
    name: "rust_dma_edu",
    authors: ["Rust for Linux Contributors"],
    description: "Rust DMA sample: device state saved and restored through a page list",
    license: "GPL",
}

kernel::pci_device_table!(
    PCI_TABLE,
    MODULE_PCI_TABLE,
    <EduDma as pci::Driver>::IdInfo,
    [(
        pci::DeviceId::from_id(pci::Vendor::from_raw(0x1234), 0x11e8),
        ()
    )]
);

/// The registers of `edu` the driver uses, in BAR 0.
mod regs {
    /// [`Ident`](super::Ident).
    pub(crate) const IDENT: usize = 0x00;
    /// A transfer's source address.
    pub(crate) const DMA_SRC: usize = 0x80;
    /// A transfer's destination address.
    pub(crate) const DMA_DST: usize = 0x88;
    /// A transfer's length in bytes.
    pub(crate) const DMA_COUNT: usize = 0x90;
    /// [`DmaCmd`](super::DmaCmd).
    pub(crate) const DMA_CMD: usize = 0x98;
    /// The registers the driver uses end here.
    pub(crate) const SIZE: usize = 0xa0;
}

/// BAR 0, as far as the driver uses it.
type Bar0 = pci::Bar<{ regs::SIZE }>;

/// The identification register: `0xMMmm00ed` for version MM.mm.
#[derive(Clone, Copy)]
struct Ident(u32);

impl Ident {
    fn read(bar: &Bar0) -> Self {
        Self(bar.read32(regs::IDENT))
    }

    fn is_edu(self) -> bool {
        self.0 & 0xff == 0xed
    }

    fn major(self) -> u32 {
        self.0 >> 24
    }

    fn minor(self) -> u32 {
        (self.0 >> 16) & 0xff
    }
}

/// The DMA command register.
#[derive(Clone, Copy)]
struct DmaCmd(u64);

impl DmaCmd {
    /// Start a transfer; the device clears it when done.
    const RUN: u64 = 1 << 0;
    /// The transfer goes from the device's buffer to RAM.
    const TO_RAM: u64 = 1 << 1;

    fn read(bar: &Bar0) -> Self {
        Self(bar.read64(regs::DMA_CMD))
    }

    /// A transfer between RAM and the device's buffer, in direction `dir`
    /// as seen from RAM.
    fn start(dir: DataDirection) -> Result<Self> {
        match dir {
            DataDirection::ToDevice => Ok(Self(Self::RUN)),
            DataDirection::FromDevice => Ok(Self(Self::RUN | Self::TO_RAM)),
            _ => Err(EINVAL),
        }
    }

    /// Whether a transfer is running: the device ignores new ones then.
    fn is_running(self) -> bool {
        self.0 & Self::RUN != 0
    }

    /// Starts the transfer of `len` bytes from `src` to `dst`.
    fn write(self, bar: &Bar0, src: u64, dst: u64, len: usize) {
        bar.write64(src, regs::DMA_SRC);
        bar.write64(dst, regs::DMA_DST);
        bar.write64(len as u64, regs::DMA_COUNT);
        bar.write64(self.0, regs::DMA_CMD);
    }
}
/// Where the device's buffer is in its own address space.
const BUF_ADDR: u64 = 0x40000;
/// The device's buffer; QEMU stops the machine for a transfer that touches
/// its last byte, so a transfer ends before it.
const BUF_SIZE: usize = 4096;
/// Bytes per chunk of state.
const CHUNK: usize = 3000;
/// The device's DMA addresses are 28 bits wide.
const DMA_BITS: u32 = 28;

/// Pages per list in a round run without arguments.
const DEFAULT_PAGES: usize = 4;
/// The largest list a round may use.
const MAX_PAGES: usize = 64;
/// How long a command may take (the device takes 100 ms).
const DEFAULT_TIMEOUT_MS: u64 = 1000;
/// The longest a round may give a command.
const MAX_TIMEOUT_MS: u64 = 10_000;
/// How long a lazy IOMMU domain may keep an unmapped IOVA in its IOTLB:
/// twice its flush queue's timeout, which is 10 ms.
const LAZY_FLUSH: Delta = Delta::from_millis(20);
/// How long a device that timed out may take to stop before the driver
/// gives up on the memory it could still write.
const QUIESCE: Delta = Delta::from_millis(2000);
/// How often the driver looks whether a command has finished.
const POLL: Delta = Delta::from_millis(1);
/// What the CPU writes into the saved pages before the stale write.
const POISON: u8 = 0x5a;

/// What one round did.
#[derive(Clone, Copy, Debug)]
pub struct Report {
    /// Which round of this device.
    pub round: u64,
    /// Pages in each of the three lists.
    pub pages: usize,
    /// Whether the lists were linked by the two-step API, one IOVA range
    /// each, rather than mapped page by page.
    pub two_step: bool,
    /// Contiguous ranges the device was given, over the three lists.
    pub segments: usize,
    /// The saved pages' first DMA address.
    pub saved_at: DmaAddress,
    /// Device commands issued.
    pub transfers: usize,
    /// Bytes of the saved and restored pages that matched the pattern.
    pub verified: usize,
    /// Time spent mapping, moving data and unmapping, in nanoseconds.
    pub map_ns: u64,
    /// See `map_ns`.
    pub dma_ns: u64,
    /// See `map_ns`.
    pub unmap_ns: u64,
    /// What became of a device write to the stale address.
    pub isolation: Isolation,
}

/// What became of the device's write to the saved pages once unmapped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isolation {
    /// The IOMMU blocked it: the pages kept what the CPU wrote.
    Blocked,
    /// Not tried: no IOMMU translates for the device, so the stale address
    /// is the pages' physical address.
    NotTranslated,
}

impl Report {
    /// The report on one line, for the kernel log.
    fn summary(&self) -> Summary<'_> {
        Summary(self)
    }
}

struct Summary<'a>(&'a Report);

impl fmt::Display for Summary<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = self.0;
        write!(
            f,
            "round {}: {} pages x 3, {} ({} ranges), {} transfers, {} bytes verified, \
             map {} us, device {} ms, unmap {} us, stale write {}",
            r.round,
            r.pages,
            if r.two_step {
                "two-step IOVA"
            } else {
                "page by page"
            },
            r.segments,
            r.transfers,
            r.verified,
            r.map_ns / 1000,
            r.dma_ns / 1_000_000,
            r.unmap_ns / 1000,
            match r.isolation {
                Isolation::Blocked => "blocked",
                Isolation::NotTranslated => "not tried (no IOMMU)",
            }
        )
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bytes = self.pages * PAGE_SIZE;
        writeln!(f, "round {}: ok", self.round)?;
        writeln!(
            f,
            "lists: source, saved, restored: {} pages ({} bytes) each",
            self.pages, bytes
        )?;
        if self.two_step {
            writeln!(
                f,
                "mapping: two-step IOVA API, {} contiguous ranges",
                self.segments
            )?;
        } else {
            writeln!(
                f,
                "mapping: page by page (no translating IOMMU), {} ranges",
                self.segments
            )?;
        }
        writeln!(f, "saved pages at DMA address {:#x}", self.saved_at)?;
        writeln!(
            f,
            "device: {} transfers, {} bytes verified",
            self.transfers, self.verified
        )?;
        writeln!(
            f,
            "time: map {} us, device {} ms, unmap {} us",
            self.map_ns / 1000,
            self.dma_ns / 1_000_000,
            self.unmap_ns / 1000
        )?;
        match self.isolation {
            Isolation::Blocked => writeln!(
                f,
                "isolation: a device write to the stale address {:#x} was blocked",
                self.saved_at
            ),
            Isolation::NotTranslated => writeln!(
                f,
                "isolation: not shown, no IOMMU translates for this device"
            ),
        }
    }
}

/// The last round of a device.
enum Last {
    None,
    Done(Report),
    Failed { round: u64, err: Error },
}

struct State {
    rounds: u64,
    last: Last,
    /// The device did not stop after a timeout: its DMA cannot be trusted.
    wedged: bool,
}

/// The driver's data for one `edu` device.
#[pin_data]
pub struct EduDma {
    dev: ARef<device::Device>,
    /// The registers, until the driver unbinds.
    #[pin]
    bar: Devres<Bar0>,
    /// Serialises rounds: the device has one DMA engine.
    #[pin]
    state: Mutex<State>,
}

impl pci::Driver for EduDma {
    type IdInfo = ();
    const ID_TABLE: pci::IdTable<Self::IdInfo> = &PCI_TABLE;
    const ATTRIBUTES: &'static [&'static driver::Attribute<Self>] = &[&DMA_ROUND, &DMA_REPORT];

    fn probe(pdev: &pci::Device<device::Core>, _info: &()) -> Result<Pin<KBox<Self>>> {
        pdev.enable_device_mem()?;
        // SAFETY: The device has no DMA mapping yet, and only probe sets its masks.
        unsafe { pdev.dma_set_mask_and_coherent(DmaMask::new::<DMA_BITS>())? };
        let this = KBox::pin_init(
            try_pin_init!(Self {
                dev: pdev.as_ref().into(),
                bar <- pdev.iomap_region_sized::<{ regs::SIZE }>(0, c_str!("rust_dma_edu")),
                state <- new_mutex!(State {
                    rounds: 0,
                    last: Last::None,
                    wedged: false,
                }),
            }),
            GFP_KERNEL,
        )?;
        let ident = Ident::read(this.bar.access(pdev.as_ref())?);
        if !ident.is_edu() {
            dev_err!(
                pdev.as_ref(),
                "not an edu device: identification {:#x}\n",
                ident.0
            );
            return Err(ENODEV);
        }
        pdev.set_master();
        dev_info!(
            pdev.as_ref(),
            "edu {}.{}, {}-bit DMA: write <pages> to dma_round to run a round\n",
            ident.major(),
            ident.minor(),
            DMA_BITS
        );
        Ok(this)
    }

    fn unbind(_pdev: &pci::Device<device::Core>, this: Pin<&Self>) {
        // A round holds the lock until the device is idle (or wedged, its
        // memory leaked); disabling the device then stops its DMA.
        drop(this.state.lock());
    }
}

static DMA_ROUND: driver::Attribute<EduDma> =
    driver::Attribute::new(c_str!("dma_round"), None, Some(EduDma::store_round));
static DMA_REPORT: driver::Attribute<EduDma> =
    driver::Attribute::new(c_str!("dma_report"), Some(EduDma::show_report), None);

/// The three page lists of a round, and the device's view of them.
struct Lists {
    source: MappedPages,
    saved: MappedPages,
    restored: MappedPages,
    tables: [Table; 3],
}

impl EduDma {
    /// Runs a round with lists of `pages` pages, each device command given
    /// `timeout_ms` to finish.
    pub fn run(
        &self,
        dev: &device::Device<Bound>,
        pages: usize,
        timeout_ms: u64,
    ) -> Result<Report> {
        if pages == 0 || pages > MAX_PAGES || timeout_ms == 0 || timeout_ms > MAX_TIMEOUT_MS {
            return Err(EINVAL);
        }
        let mut state = self.state.lock();
        if state.wedged {
            return Err(EIO);
        }
        state.rounds += 1;
        let round = state.rounds;
        let result = self.round(dev, round, pages, timeout_ms, &mut state.wedged);
        match result {
            Ok(report) => {
                dev_info!(&*self.dev, "{}\n", report.summary());
                state.last = Last::Done(report);
            }
            Err(err) => {
                dev_err!(&*self.dev, "round {} failed: {:?}\n", round, err);
                state.last = Last::Failed { round, err };
            }
        }
        result
    }

    fn round(
        &self,
        dev: &device::Device<Bound>,
        round: u64,
        pages: usize,
        timeout_ms: u64,
        wedged: &mut bool,
    ) -> Result<Report> {
        let bytes = pages * PAGE_SIZE;
        let pattern = Pattern::Round(round);
        let source = alloc_pages(pages, Some(&pattern))?;
        let saved = alloc_pages(pages, None)?;
        let restored = alloc_pages(pages, None)?;

        let start = now_ns();
        let lists = self.map(dev, source, saved, restored)?;
        let mapped = now_ns();
        let transfers = match self.save_and_restore(&lists.tables, bytes, timeout_ms) {
            Ok(n) => n,
            Err(err) => return Err(self.quiesce(err, lists, wedged)),
        };
        let moved = now_ns();
        let two_step = lists.saved.uses_iova();
        let segments = lists.tables.iter().map(|t| t.0.len()).sum();
        let saved_at = lists.tables[1].0[0].addr;
        let Lists {
            source,
            saved,
            restored,
            ..
        } = lists;
        drop(source);
        let saved = saved.into_pages();
        let restored = restored.into_pages();
        let unmapped = now_ns();

        let mut verified = 0;
        for (what, list) in [("saved", &saved), ("restored", &restored)] {
            if let Some(at) = pattern.first_mismatch(list)? {
                dev_err!(&*self.dev, "{} pages differ at byte {}\n", what, at);
                return Err(EIO);
            }
            verified += bytes;
        }

        drop(restored);
        let isolation = if two_step {
            self.stale_write(saved, saved_at, timeout_ms, wedged)?
        } else {
            Isolation::NotTranslated
        };
        Ok(Report {
            round,
            pages,
            two_step,
            segments,
            saved_at,
            transfers: transfers + usize::from(two_step),
            verified,
            map_ns: mapped - start,
            dma_ns: moved - mapped,
            unmap_ns: unmapped - moved,
            isolation,
        })
    }

    /// Maps the lists and derives the device's address table of each.
    fn map(
        &self,
        dev: &device::Device<Bound>,
        source: KVec<Page>,
        saved: KVec<Page>,
        restored: KVec<Page>,
    ) -> Result<Lists> {
        let mut addresses = KVec::from_elem(0, source.len(), GFP_KERNEL)?;
        let mut map = |pages, dir| -> Result<(MappedPages, Table)> {
            let mapped = MappedPages::map(dev, pages, dir, |i, addr| addresses[i] = addr)?;
            Ok((mapped, Table::new(&addresses)?))
        };
        let (source, t0) = map(source, DataDirection::ToDevice)?;
        // The device writes the saved state, then reads it back.
        let (saved, t1) = map(saved, DataDirection::Bidirectional)?;
        let (restored, t2) = map(restored, DataDirection::FromDevice)?;
        Ok(Lists {
            source,
            saved,
            restored,
            tables: [t0, t1, t2],
        })
    }

    /// Saves the state chunk by chunk, then restores it; returns how many
    /// commands that took.
    fn save_and_restore(
        &self,
        tables: &[Table; 3],
        bytes: usize,
        timeout_ms: u64,
    ) -> Result<usize> {
        let [source, saved, restored] = tables;
        let mut transfers = 0;
        for (from, to) in [(source, saved), (saved, restored)] {
            let mut offset = 0;
            while offset < bytes {
                let len = CHUNK.min(bytes - offset);
                transfers +=
                    self.transfer(from, offset, len, DataDirection::ToDevice, timeout_ms)?;
                transfers +=
                    self.transfer(to, offset, len, DataDirection::FromDevice, timeout_ms)?;
                offset += len;
            }
        }
        Ok(transfers)
    }

    /// Moves bytes `offset..offset + len` of a list between it and the start
    /// of the device's buffer, a command per contiguous piece; returns the
    /// number of commands.
    fn transfer(
        &self,
        table: &Table,
        offset: usize,
        len: usize,
        dir: DataDirection,
        timeout_ms: u64,
    ) -> Result<usize> {
        let mut done = 0;
        let mut commands = 0;
        while done < len {
            let (addr, piece) = table.piece(offset + done, len - done)?;
            self.command(addr, done, piece, dir, timeout_ms)?;
            done += piece;
            commands += 1;
        }
        Ok(commands)
    }

    /// One device command: `len` bytes between DMA address `addr` and the
    /// device's buffer at `buf_off`, waited for.
    fn command(
        &self,
        addr: DmaAddress,
        buf_off: usize,
        len: usize,
        dir: DataDirection,
        timeout_ms: u64,
    ) -> Result {
        if len == 0 || buf_off + len >= BUF_SIZE {
            return Err(EINVAL);
        }
        let cmd = DmaCmd::start(dir)?;
        // The device ignores a command while it runs one.
        if self.dma_cmd()?.is_running() {
            return Err(EBUSY);
        }
        let buf = BUF_ADDR + buf_off as u64;
        let (src, dst) = match dir {
            DataDirection::ToDevice => (addr, buf),
            _ => (buf, addr),
        };
        self.bar
            .try_access_with(|bar| cmd.write(bar, src, dst, len))
            .ok_or(ENODEV)?;
        self.wait_idle(Delta::from_millis(timeout_ms as i64))
    }

    /// The DMA command register; `ENODEV` once the driver is unbinding.
    fn dma_cmd(&self) -> Result<DmaCmd> {
        self.bar.try_access_with(DmaCmd::read).ok_or(ENODEV)
    }

    /// Waits until the device has no command running, for at most
    /// `timeout`.
    fn wait_idle(&self, timeout: Delta) -> Result {
        read_poll_timeout(|| self.dma_cmd(), |cmd| !cmd.is_running(), POLL, timeout).map(|_| ())
    }

    /// After a failed command: waits for the device to stop before `keep`,
    /// the memory it may write, is released; if it does not stop, leaks
    /// `keep` and marks the device wedged. Returns `err`.
    fn quiesce<K>(&self, err: Error, keep: K, wedged: &mut bool) -> Error {
        if self.wait_idle(QUIESCE).is_err() {
            dev_err!(
                &*self.dev,
                "the device does not stop: leaking the memory it may write\n"
            );
            *wedged = true;
            core::mem::forget(keep);
        }
        err
    }

    /// Poisons the unmapped saved pages and has the device write to their
    /// stale address: the IOMMU must block it.
    fn stale_write(
        &self,
        saved: KVec<Page>,
        at: DmaAddress,
        timeout_ms: u64,
        wedged: &mut bool,
    ) -> Result<Isolation> {
        let poison = [POISON; 256];
        for page in saved.iter() {
            for offset in (0..PAGE_SIZE).step_by(poison.len()) {
                // SAFETY: The source is a local array of the given length.
                unsafe { page.write_raw(poison.as_ptr(), offset, poison.len()) }?;
            }
        }
        // SAFETY: The device is bound, so it keeps its domain during the
        // round.
        let lazy = unsafe { Domain::of_device(&self.dev) }
            .is_some_and(|d| d.kind() == bindings::IOMMU_DOMAIN_DMA_FQ);
        if lazy {
            // A lazy domain flushes unmapped IOVAs from the IOTLB from its
            // flush queue, within 10 ms: until then the device may still
            // reach the pages (which are still the driver's).
            fsleep(LAZY_FLUSH);
        }
        if let Err(err) = self.command(at, 0, CHUNK, DataDirection::FromDevice, timeout_ms) {
            return Err(self.quiesce(err, saved, wedged));
        }
        if Pattern::Constant(POISON).first_mismatch(&saved)?.is_some() {
            dev_err!(&*self.dev, "a device write reached unmapped pages\n");
            return Err(EIO);
        }
        Ok(Isolation::Blocked)
    }

    fn store_round(&self, dev: &device::Device<Bound>, input: &[u8]) -> Result {
        let (pages, timeout_ms) = parse_round(input)?;
        self.run(dev, pages, timeout_ms).map(|_| ())
    }

    fn show_report(&self, _dev: &device::Device<Bound>, out: &mut driver::AttributeText) -> Result {
        let state = self.state.lock();
        let written = match &state.last {
            Last::None => writeln!(
                out,
                "no round yet: write <pages> [<timeout_ms>] to dma_round"
            ),
            Last::Done(report) => write!(out, "{}", report),
            Last::Failed { round, err } => writeln!(out, "round {}: failed, {:?}", round, err),
        };
        written.map_err(|_| EINVAL)
    }
}

/// Parses what is written to `dma_round`: `[<pages> [<timeout_ms>]]`.
fn parse_round(input: &[u8]) -> Result<(usize, u64)> {
    let text = core::str::from_utf8(input).map_err(|_| EINVAL)?;
    let mut words = text.split_ascii_whitespace();
    let pages = match words.next() {
        Some(word) => word.parse().map_err(|_| EINVAL)?,
        None => DEFAULT_PAGES,
    };
    let timeout_ms = match words.next() {
        Some(word) => word.parse().map_err(|_| EINVAL)?,
        None => DEFAULT_TIMEOUT_MS,
    };
    if words.next().is_some() {
        return Err(EINVAL);
    }
    Ok((pages, timeout_ms))
}

/// A list's DMA addresses as the device sees them: contiguous ranges, in
/// the list's order.
struct Table(KVec<Segment>);

#[derive(Clone, Copy)]
struct Segment {
    addr: DmaAddress,
    len: usize,
}

impl Table {
    /// The ranges of pages at `addresses`, merging neighbours.
    fn new(addresses: &[DmaAddress]) -> Result<Self> {
        let mut segments: KVec<Segment> = KVec::new();
        for &addr in addresses {
            match segments.last_mut() {
                Some(last) if last.addr + last.len as u64 == addr => last.len += PAGE_SIZE,
                _ => segments.push(
                    Segment {
                        addr,
                        len: PAGE_SIZE,
                    },
                    GFP_KERNEL,
                )?,
            }
        }
        Ok(Self(segments))
    }

    /// The DMA address of byte `offset` of the list, and how many of the
    /// next `len` bytes follow it contiguously.
    fn piece(&self, mut offset: usize, len: usize) -> Result<(DmaAddress, usize)> {
        for seg in self.0.iter() {
            if offset < seg.len {
                return Ok((seg.addr + offset as u64, len.min(seg.len - offset)));
            }
            offset -= seg.len;
        }
        Err(EINVAL)
    }
}

/// The bytes a buffer is expected to hold.
enum Pattern {
    /// A round's: a function of the round and the offset, which differs
    /// from chunk to chunk and from round to round.
    Round(u64),
    /// Every byte the same.
    Constant(u8),
}

impl Pattern {
    fn byte(&self, offset: usize) -> u8 {
        match *self {
            Pattern::Round(round) => {
                let word = (offset / 4) as u64;
                let x = word
                    .wrapping_add(round << 32)
                    .wrapping_mul(0x9e37_79b9_7f4a_7c15);
                (x >> (32 + 8 * (offset % 4))) as u8
            }
            Pattern::Constant(value) => value,
        }
    }

    fn fill(&self, page: &Page, base: usize) -> Result {
        let mut buf = [0u8; 256];
        for chunk in (0..PAGE_SIZE).step_by(buf.len()) {
            for (i, b) in buf.iter_mut().enumerate() {
                *b = self.byte(base + chunk + i);
            }
            // SAFETY: The source is a local array of the given length.
            unsafe { page.write_raw(buf.as_ptr(), chunk, buf.len()) }?;
        }
        Ok(())
    }

    /// The first byte of `pages`, taken as one buffer, that differs.
    fn first_mismatch(&self, pages: &[Page]) -> Result<Option<usize>> {
        let mut buf = [0u8; 256];
        for (i, page) in pages.iter().enumerate() {
            for chunk in (0..PAGE_SIZE).step_by(buf.len()) {
                // SAFETY: The destination is a local array of the given
                // length.
                unsafe { page.read_raw(buf.as_mut_ptr(), chunk, buf.len()) }?;
                let base = i * PAGE_SIZE + chunk;
                if let Some(j) = (0..buf.len()).find(|&j| buf[j] != self.byte(base + j)) {
                    return Ok(Some(base + j));
                }
            }
        }
        Ok(None)
    }
}

/// `n` pages, filled with `pattern` or zeroed.
fn alloc_pages(n: usize, pattern: Option<&Pattern>) -> Result<KVec<Page>> {
    let mut pages = KVec::with_capacity(n, GFP_KERNEL)?;
    for i in 0..n {
        let page = Page::alloc_page(GFP_KERNEL | __GFP_ZERO)?;
        if let Some(pattern) = pattern {
            pattern.fill(&page, i * PAGE_SIZE)?;
        }
        pages.push(page, GFP_KERNEL)?;
    }
    Ok(pages)
}

fn now_ns() -> u64 {
    Ktime::ktime_get().to_ns() as u64
}

#[cfg(CONFIG_SAMPLE_RUST_DMA_EDU_KUNIT_TEST)]
#[path = "rust_dma_edu_kunit.rs"]
mod tests;
