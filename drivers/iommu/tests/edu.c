// SPDX-License-Identifier: GPL-2.0
/*
 * QEMU's edu device as a DMA test target for KUnit.
 *
 * A suite binds the device in its suite_init and releases it in its
 * suite_exit, so that the device is attached to its IOMMU domain by the
 * normal probe path.  A driver that held the device before (the Rust edu
 * sample, built in) gives it up for the suite and gets it back after.
 */

#include <kunit/test.h>
#include <linux/atomic.h>
#include <linux/debugfs.h>
#include <linux/device.h>
#include <linux/dma-mapping.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/io-64-nonatomic-lo-hi.h>
#include <linux/iommu.h>
#include <linux/iopoll.h>
#include <linux/kthread.h>
#include <linux/mman.h>
#include <linux/module.h>
#include <linux/mount.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/sched.h>
#include <linux/sched/mm.h>

#include "edu.h"

#define EDU_CMD_RUN		BIT(0)
#define EDU_CMD_TO_RAM		BIT(1)

/* A transfer completes 100 ms (QEMU virtual time) after the command. */
#define EDU_DMA_POLL_US		2000
#define EDU_DMA_TIMEOUT_US	(5 * USEC_PER_SEC)

static char *expect_iommu;
module_param(expect_iommu, charp, 0444);
MODULE_PARM_DESC(expect_iommu,
		 "IOMMU the edu device must sit behind (name prefix: virtio_iommu, dmar, ivhd)");

static char *expect_domain = "dma";
module_param(expect_domain, charp, 0444);
MODULE_PARM_DESC(expect_domain,
		 "Domain type the edu device must be in: dma (translating) or identity");

static bool p2p_host_bridge;
module_param(p2p_host_bridge, bool, 0444);
MODULE_PARM_DESC(p2p_host_bridge,
		 "The host bridge forwards peer-to-peer DMA (an AMD Zen CPU): expect it across the root complex");

static DEFINE_MUTEX(edu_lock);
static struct edu_device edu;
static int edu_probe_err;
/* The device, while the suite took it from another driver. */
static struct pci_dev *edu_taken;

static int edu_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	void __iomem *mmio;
	u32 ident;
	int ret;

	ret = pcim_enable_device(pdev);
	if (ret)
		goto out;

	mmio = pcim_iomap_region(pdev, 0, KBUILD_MODNAME);
	if (IS_ERR(mmio)) {
		ret = PTR_ERR(mmio);
		goto out;
	}

	ident = ioread32(mmio + EDU_REG_IDENT);
	if ((ident & 0xff) != 0xed) {
		dev_err(&pdev->dev, "unexpected identification %#x\n", ident);
		ret = -ENODEV;
		goto out;
	}

	ret = dma_set_mask_and_coherent(&pdev->dev, DMA_BIT_MASK(EDU_DMA_BITS));
	if (ret)
		goto out;

	pci_set_master(pdev);
	edu.pdev = pdev;
	edu.dev = &pdev->dev;
	edu.mmio = mmio;
out:
	edu_probe_err = ret;
	return ret;
}

static void edu_remove(struct pci_dev *pdev)
{
	pci_clear_master(pdev);
	edu.pdev = NULL;
	edu.dev = NULL;
	edu.mmio = NULL;
}

static const struct pci_device_id edu_ids[] = {
	{ PCI_DEVICE(0x1234, 0x11e8) },
	{ }
};

static struct pci_driver edu_driver = {
	.name = "iommu_edu_kunit",
	.id_table = edu_ids,
	.probe = edu_probe,
	.remove = edu_remove,
};

/* Gives the device back to whichever driver matches it, if it was taken. */
static void edu_give_back(void)
{
	if (!edu_taken)
		return;
	if (device_attach(&edu_taken->dev) <= 0)
		dev_warn(&edu_taken->dev, "could not be given back\n");
	pci_dev_put(edu_taken);
	edu_taken = NULL;
}

/**
 * edu_suite_init() - bind the edu device for a suite
 * @suite: the suite
 *
 * A missing device is not an error here: the suite's tests skip themselves
 * in edu_get().  A device that is present but fails to probe fails the
 * suite.
 *
 * Return: 0, or the probe error.
 */
int edu_suite_init(struct kunit_suite *suite)
{
	struct pci_dev *pdev;
	int ret;

	mutex_lock(&edu_lock);
	edu_probe_err = 0;
	pdev = pci_get_device(0x1234, 0x11e8, NULL);
	if (pdev) {
		device_lock(&pdev->dev);
		if (pdev->dev.driver) {
			dev_info(&pdev->dev, "taken from %s for the suite\n",
				 pdev->dev.driver->name);
			edu_taken = pdev;
		}
		device_unlock(&pdev->dev);
	}
	if (edu_taken)
		device_release_driver(&edu_taken->dev);
	else
		pci_dev_put(pdev);
	ret = pci_register_driver(&edu_driver);
	if (!ret && !edu.pdev) {
		pdev = pci_get_device(0x1234, 0x11e8, NULL);
		if (pdev) {
			ret = edu_probe_err ?: -EBUSY;
			pci_dev_put(pdev);
			pci_unregister_driver(&edu_driver);
		}
	}
	if (ret)
		edu_give_back();
	mutex_unlock(&edu_lock);
	return ret;
}

/**
 * edu_suite_exit() - release the edu device after a suite
 * @suite: the suite
 */
void edu_suite_exit(struct kunit_suite *suite)
{
	mutex_lock(&edu_lock);
	pci_unregister_driver(&edu_driver);
	edu_give_back();
	mutex_unlock(&edu_lock);
}

/**
 * edu_unbind() - unbind the suite's driver from the edu device, for a test
 * @test: the test
 *
 * Return: the device, with a reference that edu_rebind() drops.
 */
struct device *edu_unbind(struct kunit *test)
{
	struct device *dev = get_device(edu_get(test)->dev);

	device_release_driver(dev);
	return dev;
}

/**
 * edu_rebind() - bind the suite's driver to the edu device again
 * @dev: what edu_unbind() returned
 *
 * Return: 0, or the error of the probe.
 */
int edu_rebind(struct device *dev)
{
	int ret = device_driver_attach(&edu_driver.driver, dev);

	put_device(dev);
	return ret;
}

/* Writes @type to the "type" file of @group in a private mount of sysfs. */
static int edu_write_group_type(struct iommu_group *group, const char *type)
{
	struct file_system_type *fs = get_fs_type("sysfs");
	struct vfsmount *mnt;
	struct file *file;
	char path[48];
	loff_t pos = 0;
	ssize_t ret;

	if (!fs)
		return -ENODEV;
	mnt = vfs_kern_mount(fs, 0, "sysfs", NULL);
	put_filesystem(fs);
	if (IS_ERR(mnt))
		return PTR_ERR(mnt);
	snprintf(path, sizeof(path), "kernel/iommu_groups/%d/type",
		 iommu_group_id(group));
	file = file_open_root_mnt(mnt, path, O_WRONLY, 0);
	if (IS_ERR(file)) {
		ret = PTR_ERR(file);
	} else {
		ret = kernel_write(file, type, strlen(type), &pos);
		fput(file);
	}
	mntput(mnt);
	return ret < 0 ? ret : 0;
}

/**
 * edu_swap_domain() - rebind edu with another default domain
 * @type: what the IOMMU group's sysfs "type" file is to take: "DMA",
 *	"DMA-FQ", "identity" or "auto"
 *
 * Unbinds the suite's driver, writes @type as an administrator would, and
 * binds the driver again.  With no driver bound, the IOMMU core replaces
 * the group's default domain by a new one and frees the old (but for
 * "DMA-FQ" on a "DMA" domain, which it turns lazy in place).
 *
 * Return: 0, the error of the write (the driver is bound again all the
 * same), or the error of the probe.
 */
int edu_swap_domain(const char *type)
{
	struct device *dev;
	struct iommu_group *group;
	int ret, bound;

	if (!edu.dev)
		return -ENODEV;
	dev = get_device(edu.dev);
	group = iommu_group_get(dev);
	if (!group) {
		put_device(dev);
		return -ENODEV;
	}
	device_release_driver(dev);
	ret = edu_write_group_type(group, type);
	iommu_group_put(group);
	bound = device_driver_attach(&edu_driver.driver, dev);
	put_device(dev);
	return ret ?: bound;
}

/**
 * edu_get() - the bound edu device, or skip the test
 * @test: the test
 *
 * Return: the device; does not return when the machine has none.
 */
struct edu_device *edu_get(struct kunit *test)
{
	if (!edu.pdev)
		kunit_skip(test, "no QEMU edu device (1234:11e8) on this machine");
	return &edu;
}

/**
 * edu_bound() - the bound edu device, if there is one
 *
 * For callers that skip by other means than kunit_skip(), which ends the
 * test's thread: Rust tests.
 *
 * Return: the device, or %NULL when the machine has none.
 */
struct edu_device *edu_bound(void)
{
	return edu.pdev ? &edu : NULL;
}

/**
 * edu_dma() - one device DMA transfer, waited for
 * @edu: the device
 * @addr: DMA address of the RAM side
 * @buf_off: offset in the device's buffer
 * @len: bytes to move
 * @dir: %DMA_TO_DEVICE reads RAM into the buffer, %DMA_FROM_DEVICE writes
 *	the buffer to RAM
 *
 * The device reports no error for a transfer the IOMMU blocked: the bytes
 * just do not arrive, which is what callers check.
 *
 * Return: 0 when the device has finished, -EINVAL for a transfer the device
 * cannot do, -ETIMEDOUT when it never finishes.
 */
int edu_dma(struct edu_device *edu, dma_addr_t addr, size_t buf_off,
	    size_t len, enum dma_data_direction dir)
{
	u64 src, dst, cmd = EDU_CMD_RUN;

	if (!len || buf_off >= EDU_XFER_MAX || len > EDU_XFER_MAX - buf_off)
		return -EINVAL;

	switch (dir) {
	case DMA_TO_DEVICE:
		src = addr;
		dst = EDU_BUF_ADDR + buf_off;
		break;
	case DMA_FROM_DEVICE:
		src = EDU_BUF_ADDR + buf_off;
		dst = addr;
		cmd |= EDU_CMD_TO_RAM;
		break;
	default:
		return -EINVAL;
	}

	writeq(src, edu->mmio + EDU_REG_DMA_SRC);
	writeq(dst, edu->mmio + EDU_REG_DMA_DST);
	writeq(len, edu->mmio + EDU_REG_DMA_COUNT);
	writeq(cmd, edu->mmio + EDU_REG_DMA_CMD);

	return readq_poll_timeout(edu->mmio + EDU_REG_DMA_CMD, cmd,
				  !(cmd & EDU_CMD_RUN), EDU_DMA_POLL_US,
				  EDU_DMA_TIMEOUT_US);
}

/* Counting IOTLB syncs: a copy of the domain's ops that counts them. */
static const struct iommu_domain_ops *real_ops;
static struct iommu_domain_ops counting_ops;
static atomic_t syncs;

static int count_sync_map(struct iommu_domain *domain, unsigned long iova,
			  size_t size)
{
	atomic_inc(&syncs);
	return real_ops->iotlb_sync_map(domain, iova, size);
}

static void count_sync(struct iommu_domain *domain,
		       struct iommu_iotlb_gather *gather)
{
	atomic_inc(&syncs);
	real_ops->iotlb_sync(domain, gather);
}

static void count_flush_all(struct iommu_domain *domain)
{
	atomic_inc(&syncs);
	real_ops->flush_iotlb_all(domain);
}

static atomic_t lookups, map_fail_in, map_failures, last_prot;

static phys_addr_t count_iova_to_phys(struct iommu_domain *domain,
				      dma_addr_t iova)
{
	atomic_inc(&lookups);
	return real_ops->iova_to_phys(domain, iova);
}

static int failing_map_pages(struct iommu_domain *domain, unsigned long iova,
			     phys_addr_t paddr, size_t pgsize, size_t pgcount,
			     int prot, gfp_t gfp, size_t *mapped)
{
	atomic_set(&last_prot, prot);
	if (atomic_add_unless(&map_fail_in, -1, 0) &&
	    !atomic_read(&map_fail_in)) {
		atomic_inc(&map_failures);
		*mapped = 0;
		return -ENOMEM;
	}
	return real_ops->map_pages(domain, iova, paddr, pgsize, pgcount, prot,
				   gfp, mapped);
}

/**
 * edu_count_syncs() - count a domain's IOTLB syncs, or stop counting
 * @domain: the domain, which nothing else changes the ops of meanwhile
 * @on: start or stop
 *
 * iotlb_sync_map, iotlb_sync and flush_iotlb_all (the flush queue's flush)
 * are counted, in edu_syncs(), by a copy of the domain's ops, as are
 * iova_to_phys lookups, in edu_lookups(); the copy's map_pages fails when
 * edu_fail_map_nth() says so.
 */
void edu_count_syncs(struct iommu_domain *domain, bool on)
{
	if (on) {
		real_ops = domain->ops;
		counting_ops = *real_ops;
		if (real_ops->iotlb_sync_map)
			counting_ops.iotlb_sync_map = count_sync_map;
		if (real_ops->iotlb_sync)
			counting_ops.iotlb_sync = count_sync;
		if (real_ops->flush_iotlb_all)
			counting_ops.flush_iotlb_all = count_flush_all;
		if (real_ops->iova_to_phys)
			counting_ops.iova_to_phys = count_iova_to_phys;
		if (real_ops->map_pages)
			counting_ops.map_pages = failing_map_pages;
		WRITE_ONCE(domain->ops, &counting_ops);
	} else {
		WRITE_ONCE(domain->ops, real_ops);
	}
}

/**
 * edu_syncs() - the IOTLB syncs counted since the last reset
 *
 * Return: the count.
 */
unsigned int edu_syncs(void)
{
	return atomic_read(&syncs);
}

/**
 * edu_syncs_reset() - start counting IOTLB syncs from zero
 */
void edu_syncs_reset(void)
{
	atomic_set(&syncs, 0);
}

/**
 * edu_lookups() - iova_to_phys lookups counted since the last reset
 *
 * Return: the count.
 */
unsigned int edu_lookups(void)
{
	return atomic_read(&lookups);
}

/**
 * edu_lookups_reset() - start counting iova_to_phys lookups from zero
 */
void edu_lookups_reset(void)
{
	atomic_set(&lookups, 0);
}

/**
 * edu_fail_map_nth() - fail a coming map_pages call of the counted domain
 * @n: fail the n-th call from now with -ENOMEM, mapping nothing; 0 for none
 */
void edu_fail_map_nth(unsigned int n)
{
	atomic_set(&map_fail_in, n);
}

/**
 * edu_map_failures() - map_pages calls failed by edu_fail_map_nth()
 *
 * Return: the count since boot.
 */
unsigned int edu_map_failures(void)
{
	return atomic_read(&map_failures);
}

/**
 * edu_last_map_prot() - the prot of the last map_pages call of the counted
 * domain
 *
 * Return: its IOMMU_* bits.
 */
int edu_last_map_prot(void)
{
	return atomic_read(&last_prot);
}

/**
 * edu_iommu_name() - name the IOMMU a device sits behind
 * @dev: the device
 *
 * virtio-iommu is named by its driver ("virtio_iommu"), the others by their
 * sysfs name ("dmar0", "ivhd0").
 *
 * Return: the name, or NULL when no IOMMU translates for @dev.
 */
const char *edu_iommu_name(struct device *dev)
{
	struct device *idev;

	if (!dev->iommu || !dev->iommu->iommu_dev)
		return NULL;
	idev = dev->iommu->iommu_dev->dev;
	if (!idev)
		return "(unnamed)";
	if (idev->parent && idev->parent->driver)
		return idev->parent->driver->name;
	return dev_name(idev);
}

/**
 * edu_expected_iommu() - the IOMMU this boot must put the device behind
 *
 * Return: a name prefix, or NULL when the boot does not say.
 */
const char *edu_expected_iommu(void)
{
	return expect_iommu && *expect_iommu ? expect_iommu : NULL;
}

/**
 * edu_expect_p2p_host_bridge() - whether P2P DMA crosses the host bridge
 *
 * Return: %true when this boot's host bridge forwards peer-to-peer DMA.
 */
bool edu_expect_p2p_host_bridge(void)
{
	return p2p_host_bridge;
}

/**
 * edu_expect_identity() - the domain type this boot puts the device in
 *
 * Return: %true for an identity (passthrough) domain, %false for a
 * translating DMA domain.
 */
bool edu_expect_identity(void)
{
	return !strcmp(expect_domain, "identity");
}

/**
 * edu_fail_nth() - fail the n-th injection point the current task reaches
 * @n: counted from now; 0 for none
 *
 * What writing @n to /proc/self/fail-nth does, for Rust tests.
 *
 * Return: what was left of the previous setting: 0 when its point was
 * reached, or when there was none; UINT_MAX without fault injection.
 */
unsigned int edu_fail_nth(unsigned int n)
{
#ifdef CONFIG_FAULT_INJECTION
	unsigned int left = current->fail_nth;

	current->fail_nth = n;
	return left;
#else
	return UINT_MAX;
#endif
}

#ifdef CONFIG_FAULT_INJECTION_DEBUG_FS
/*
 * The fault injection attributes a sweep changes: fail_page_alloc skips
 * order-0 pages by default (min-order 1), and both it and failslab skip
 * allocations that may sleep (ignore-gfp-wait), so that neither an IOMMU
 * driver's page tables nor a GFP_KERNEL allocation would ever fail; and
 * verbose, since a sweep fails many allocations on purpose.
 */
enum fail_knob_type { KNOB_U32, KNOB_BOOL, KNOB_ULONG };

static const struct fail_knob {
	const char *dir, *name;
	enum fail_knob_type type;
	unsigned long val;
} fail_knobs[] = {
	{ "fail_page_alloc", "min-order", KNOB_U32, 0 },
	{ "fail_page_alloc", "ignore-gfp-wait", KNOB_BOOL, 0 },
	{ "failslab", "ignore-gfp-wait", KNOB_BOOL, 0 },
	{ "fail_page_alloc", "verbose", KNOB_ULONG, 0 },
	{ "failslab", "verbose", KNOB_ULONG, 0 },
};

struct fail_setting {
	void *knob[ARRAY_SIZE(fail_knobs)];
	unsigned long old[ARRAY_SIZE(fail_knobs)];
};

/*
 * The variable behind a debugfs attribute: debugfs_create_u32(), _bool()
 * and _ul() keep a pointer to it in the inode's i_private. Writing it is
 * what a write to the file under /sys/kernel/debug does, without a user
 * buffer, which a kernel thread does not have.
 */
static void *knob_of(const struct fail_knob *k)
{
	struct dentry *dir, *d = NULL;
	void *var = NULL;

	dir = debugfs_lookup(k->dir, NULL);
	if (dir)
		d = debugfs_lookup(k->name, dir);
	if (d && d_inode(d))
		var = d_inode(d)->i_private;
	dput(d);
	dput(dir);
	return var;
}

static unsigned long knob_swap(const struct fail_knob *k, void *var, unsigned long val)
{
	unsigned long old;

	switch (k->type) {
	case KNOB_U32:
		old = xchg((u32 *)var, (u32)val);
		break;
	case KNOB_BOOL:
		old = READ_ONCE(*(bool *)var);
		WRITE_ONCE(*(bool *)var, val);
		break;
	default:
		old = xchg((unsigned long *)var, val);
		break;
	}
	return old;
}

static void fail_setting_restore(void *data)
{
	struct fail_setting *fs = data;
	int i;

	for (i = 0; i < ARRAY_SIZE(fail_knobs); i++)
		if (fs->knob[i])
			knob_swap(&fail_knobs[i], fs->knob[i], fs->old[i]);
}

/**
 * edu_fail_every_allocation() - let fail_nth reach every allocation
 * @test: the test; the attributes are restored when it ends
 *
 * Sets fail_page_alloc's min-order to 0, the ignore-gfp-wait of
 * fail_page_alloc and failslab to N, and their verbose to 0, as a user
 * would in /sys/kernel/debug. A sweep then fails each allocation it
 * reaches with current->fail_nth.
 *
 * Return: 0, or -ENOENT when an attribute is missing.
 */
int edu_fail_every_allocation(struct kunit *test)
{
	struct fail_setting *fs;
	int i;

	fs = kunit_kzalloc(test, sizeof(*fs), GFP_KERNEL);
	if (!fs)
		return -ENOMEM;
	for (i = 0; i < ARRAY_SIZE(fail_knobs); i++) {
		fs->knob[i] = knob_of(&fail_knobs[i]);
		if (!fs->knob[i])
			return -ENOENT;
	}
	for (i = 0; i < ARRAY_SIZE(fail_knobs); i++)
		fs->old[i] = knob_swap(&fail_knobs[i], fs->knob[i], fail_knobs[i].val);
	return kunit_add_action_or_reset(test, fail_setting_restore, fs);
}
#else
int edu_fail_every_allocation(struct kunit *test)
{
	return -EOPNOTSUPP;
}
#endif

/*
 * Invalidations of a user range from another thread: a kthread in the
 * test's address space that, page after page, unmaps a page and maps a new
 * one in its place (an unmap invalidation), or discards it with
 * MADV_DONTNEED (a clear), until it is stopped.
 */
struct edu_storm {
	struct task_struct *task;
	struct mm_struct *mm;
	unsigned long start;
	unsigned long pages;
	unsigned long unmaps, discards;
	int err;
};

static int edu_storm_fn(void *data)
{
	struct edu_storm *s = data;
	unsigned long i;

	kthread_use_mm(s->mm);
	for (i = 0; !kthread_should_stop() && !s->err; i++) {
		unsigned long addr = s->start + (i % s->pages) * PAGE_SIZE;

		if (i & 1) {
			s->err = do_madvise(s->mm, addr, PAGE_SIZE, MADV_DONTNEED);
			s->discards++;
		} else {
			s->err = vm_munmap(addr, PAGE_SIZE);
			if (!s->err &&
			    vm_mmap(NULL, addr, PAGE_SIZE, PROT_READ | PROT_WRITE,
				    MAP_ANONYMOUS | MAP_PRIVATE | MAP_FIXED, 0) != addr)
				s->err = -ENOMEM;
			s->unmaps++;
		}
		cond_resched();
	}
	kthread_unuse_mm(s->mm);
	while (!kthread_should_stop())
		schedule_timeout_interruptible(1);
	return 0;
}

/**
 * edu_storm_start() - start invalidating a user range of the current task
 * @start: the range's start, page-aligned, an anonymous private mapping
 * @pages: its length in pages
 *
 * Return: the storm, for edu_storm_stop(), or an ERR_PTR().
 */
struct edu_storm *edu_storm_start(unsigned long start, unsigned long pages)
{
	struct edu_storm *s;

	if (!current->mm || !pages)
		return ERR_PTR(-EINVAL);
	s = kzalloc(sizeof(*s), GFP_KERNEL);
	if (!s)
		return ERR_PTR(-ENOMEM);
	s->mm = current->mm;
	mmget(s->mm);
	s->start = start;
	s->pages = pages;
	s->task = kthread_run(edu_storm_fn, s, "edu_storm");
	if (IS_ERR(s->task)) {
		struct task_struct *task = s->task;

		mmput(s->mm);
		kfree(s);
		return ERR_CAST(task);
	}
	return s;
}

/**
 * edu_storm_stop() - stop a storm and free it
 * @s: what edu_storm_start() returned
 * @unmaps: where to store how many pages it unmapped and mapped again
 * @discards: where to store how many it discarded
 *
 * Return: 0, or the first error of its munmap, mmap or madvise.
 */
int edu_storm_stop(struct edu_storm *s, unsigned long *unmaps, unsigned long *discards)
{
	int err;

	kthread_stop(s->task);
	*unmaps = s->unmaps;
	*discards = s->discards;
	err = s->err;
	mmput(s->mm);
	kfree(s);
	return err;
}
