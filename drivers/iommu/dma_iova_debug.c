// SPDX-License-Identifier: GPL-2.0
/*
 * DMA-API debugging of the two-step IOVA DMA API.
 *
 * The engine (dma_iova.rs) knows from a reservation's record what is
 * linked, so it finds overlapping links, unlinks of what is not linked and
 * teardown with links left behind by itself. What it cannot know from a
 * state is whether the record the state points to still exists: a copy of
 * a state outlives a dma_iova_destroy() of the original. So each record
 * carries an entry that is in a table while the reservation is live, and
 * the engine looks a state's record up before it uses it. The table also
 * gives the reservations a driver left behind when it unbinds.
 *
 * Reports are counted and printed with the "DMA-API: " prefix that
 * kernel/dma/debug.c uses, with a stack trace. A test that provokes one on
 * purpose says so first with dma_iova_debug_expect(); its reports are
 * printed as expected ones, and dma_iova_debug_unmet() tells whether they
 * all came.
 */

#include <kunit/visibility.h>
#include <linux/atomic.h>
#include <linux/device.h>
#include <linux/dma-iova-debug.h>
#include <linux/hashtable.h>
#include <linux/init.h>
#include <linux/pci.h>
#include <linux/platform_device.h>
#include <linux/printk.h>
#include <linux/spinlock.h>

static DEFINE_HASHTABLE(live, 8);
static DEFINE_SPINLOCK(live_lock);
static atomic_t errors = ATOMIC_INIT(0);
static atomic_t expected = ATOMIC_INIT(0);

static unsigned long key(const struct dma_iova_debug_entry *entry)
{
	return (unsigned long)entry;
}

/**
 * dma_iova_debug_add() - enter a new reservation in the table
 * @entry: the entry in its record
 * @dev: the device it was made for
 * @addr: its DMA address
 * @size: its size
 *
 * Context: any; takes a spinlock with interrupts off.
 */
void dma_iova_debug_add(struct dma_iova_debug_entry *entry, struct device *dev,
			dma_addr_t addr, size_t size)
{
	unsigned long flags;

	entry->dev = dev;
	entry->addr = addr;
	entry->size = size;
	spin_lock_irqsave(&live_lock, flags);
	hash_add(live, &entry->node, key(entry));
	spin_unlock_irqrestore(&live_lock, flags);
}

/**
 * dma_iova_debug_del() - take a reservation out of the table
 * @entry: its entry, before its record is freed
 *
 * Context: any; takes a spinlock with interrupts off.
 */
void dma_iova_debug_del(struct dma_iova_debug_entry *entry)
{
	unsigned long flags;

	spin_lock_irqsave(&live_lock, flags);
	hash_del(&entry->node);
	spin_unlock_irqrestore(&live_lock, flags);
}

/**
 * dma_iova_debug_check() - check that a state's record is live, and its device's
 * @dev: the device the caller passed
 * @entry: where the state's record has its entry; only compared, never
 *	dereferenced unless it is in the table
 * @addr: the state's DMA address
 * @size: the state's size
 * @op: the caller's name, for the report
 *
 * A stale state whose record was freed and allocated again at the same
 * address, for a reservation at the same IOVA and of the same size, looks
 * live: like the rest of DMA-API debugging, this finds most misuse, not
 * all of it. (KASAN's quarantine makes such reuse rare in a debug kernel.)
 *
 * Context: any; takes a spinlock with interrupts off.
 * Return: true when the record is live and was made for @dev; otherwise
 * false, after a report.
 */
bool dma_iova_debug_check(struct device *dev,
			  const struct dma_iova_debug_entry *entry,
			  dma_addr_t addr, size_t size, const char *op)
{
	struct dma_iova_debug_entry *e;
	struct device *owner = NULL;
	unsigned long flags;

	spin_lock_irqsave(&live_lock, flags);
	hash_for_each_possible(live, e, node, key(entry)) {
		if (e == entry && e->addr == addr && e->size == size) {
			owner = e->dev;
			break;
		}
	}
	spin_unlock_irqrestore(&live_lock, flags);

	if (!owner) {
		dma_iova_debug_report(dev, "%s: the state's reservation was destroyed or freed\n",
				      op);
		return false;
	}
	if (owner != dev) {
		dma_iova_debug_report(dev, "%s: the state's reservation is %s's\n", op,
				      dev_name(owner));
		return false;
	}
	return true;
}

/**
 * dma_iova_debug_report() - report a misuse of the two-step API
 * @dev: the device the caller passed
 * @fmt: what happened, printf-style, ending with a newline
 *
 * Context: any.
 */
void dma_iova_debug_report(struct device *dev, const char *fmt, ...)
{
	struct va_format vaf;
	va_list args;

	va_start(args, fmt);
	vaf.fmt = fmt;
	vaf.va = &args;
	atomic_inc(&errors);
	if (atomic_add_unless(&expected, -1, 0)) {
		dev_info(dev, "dma_iova: report expected by a test: %pV", &vaf);
	} else {
		dev_err(dev, "DMA-API: %pV", &vaf);
		dump_stack();
	}
	va_end(args);
}

/**
 * dma_iova_debug_expect() - say that the coming reports are expected
 * @n: how many
 *
 * For tests that misuse the API on purpose. It replaces what an earlier
 * call left unmet.
 */
void dma_iova_debug_expect(unsigned int n)
{
	atomic_set(&expected, n);
}
EXPORT_SYMBOL_IF_KUNIT(dma_iova_debug_expect);

/**
 * dma_iova_debug_unmet() - expected reports that did not come
 *
 * Return: how many, after which none are expected.
 */
unsigned int dma_iova_debug_unmet(void)
{
	return atomic_xchg(&expected, 0);
}
EXPORT_SYMBOL_IF_KUNIT(dma_iova_debug_unmet);

/**
 * dma_iova_debug_errors() - reports since boot, expected ones included
 *
 * Return: the count.
 */
unsigned int dma_iova_debug_errors(void)
{
	return atomic_read(&errors);
}
EXPORT_SYMBOL_IF_KUNIT(dma_iova_debug_errors);

/*
 * After a driver's remove and its devres actions: what is still in the
 * table for the device is a reservation the driver forgot, whose IOVA the
 * next driver's domain change could leave mapped.
 */
static int dma_iova_debug_unbound(struct notifier_block *nb,
				  unsigned long action, void *data)
{
	struct dma_iova_debug_entry *e;
	struct device *dev = data;
	dma_addr_t addr = 0;
	unsigned int bkt, n = 0;
	unsigned long flags;
	size_t size = 0;

	if (action != BUS_NOTIFY_UNBOUND_DRIVER)
		return NOTIFY_DONE;
	spin_lock_irqsave(&live_lock, flags);
	hash_for_each(live, bkt, e, node) {
		if (e->dev != dev)
			continue;
		if (!n++) {
			addr = e->addr;
			size = e->size;
		}
	}
	spin_unlock_irqrestore(&live_lock, flags);
	if (n)
		dma_iova_debug_report(dev,
				      "driver unbound with %u IOVA reservations live, one at %pad (%zu bytes)\n",
				      n, &addr, size);
	return NOTIFY_DONE;
}

static struct notifier_block pci_unbound = {
	.notifier_call = dma_iova_debug_unbound,
};

static struct notifier_block platform_unbound = {
	.notifier_call = dma_iova_debug_unbound,
};

static int __init dma_iova_debug_init(void)
{
	int ret = 0;

	if (IS_ENABLED(CONFIG_PCI))
		ret = bus_register_notifier(&pci_bus_type, &pci_unbound);
	return ret ?: bus_register_notifier(&platform_bus_type, &platform_unbound);
}
fs_initcall(dma_iova_debug_init);
