/* SPDX-License-Identifier: GPL-2.0 */
/*
 * DMA-API debugging of the two-step IOVA DMA API (dma_iova_*()), under
 * CONFIG_DMA_API_DEBUG: the engine (drivers/iommu/dma_iova.rs) reports
 * overlapping links, unlinks of what is not linked, teardown that finds
 * links left behind, states whose reservation is gone, and reservations
 * still live when their driver unbinds.
 */
#ifndef _LINUX_DMA_IOVA_DEBUG_H
#define _LINUX_DMA_IOVA_DEBUG_H

#include <linux/types.h>

struct device;

#ifdef CONFIG_DMA_API_DEBUG

/**
 * struct dma_iova_debug_entry - a live reservation, in the debug table
 * @node: in the table, hashed by the entry's address
 * @dev: the device the reservation was made for
 * @addr: its DMA address, as dma_iova_try_alloc() returned it
 * @size: its size
 *
 * The engine embeds one in the record of each reservation.
 */
struct dma_iova_debug_entry {
	struct hlist_node node;
	struct device *dev;
	dma_addr_t addr;
	size_t size;
};

void dma_iova_debug_add(struct dma_iova_debug_entry *entry, struct device *dev,
			dma_addr_t addr, size_t size);
void dma_iova_debug_del(struct dma_iova_debug_entry *entry);
bool dma_iova_debug_check(struct device *dev,
			  const struct dma_iova_debug_entry *entry,
			  dma_addr_t addr, size_t size, const char *op);
__printf(2, 3)
void dma_iova_debug_report(struct device *dev, const char *fmt, ...);

/* For tests that provoke reports on purpose. */
void dma_iova_debug_expect(unsigned int n);
unsigned int dma_iova_debug_unmet(void);
unsigned int dma_iova_debug_errors(void);

#else

static inline void dma_iova_debug_expect(unsigned int n)
{
}

static inline unsigned int dma_iova_debug_unmet(void)
{
	return 0;
}

static inline unsigned int dma_iova_debug_errors(void)
{
	return 0;
}

#endif /* CONFIG_DMA_API_DEBUG */

#endif /* _LINUX_DMA_IOVA_DEBUG_H */
