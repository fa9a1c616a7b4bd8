/* SPDX-License-Identifier: GPL-2.0 */
/*
 * DMA mappings of the pages of an HMM range, for C drivers: the helpers
 * upstream Linux has had since 6.16, with its names, signatures and
 * semantics. They are implemented in Rust, on the machinery of
 * kernel::hmm::DmaMap (rust/kernel/hmm/hmm_dma.rs).
 */
#ifndef _LINUX_HMM_DMA_H
#define _LINUX_HMM_DMA_H

#include <linux/dma-mapping.h>

struct device;
struct pci_p2pdma_map_state;

/**
 * struct hmm_dma_map - the DMA mappings of an HMM range's entries
 * @state: the IOVA reservation of all the entries, when the device is
 *	behind a translating IOMMU (dma_use_iova())
 * @pfn_list: the entries, one PFN word per page, as hmm_range_fault()
 *	fills them; the helpers keep each entry's DMA state in its word
 *	(HMM_PFN_DMA_MAPPED, HMM_PFN_P2PDMA, HMM_PFN_P2PDMA_BUS)
 * @dma_list: the entries' DMA addresses, only without an IOVA reservation
 *	and when unmapping needs them (dma_need_unmap()); %NULL otherwise
 * @dma_entry_size: the bytes an entry maps; %PAGE_SIZE
 *
 * hmm_dma_map_alloc() fills it in and hmm_dma_map_free() releases it; the
 * caller touches @pfn_list only, and calls the helpers of one map one at a
 * time (under the lock that also orders them against invalidations).
 */
struct hmm_dma_map {
	struct dma_iova_state state;
	unsigned long *pfn_list;
	dma_addr_t *dma_list;
	size_t dma_entry_size;
};

#if IS_ENABLED(CONFIG_HMM_MIRROR) && IS_ENABLED(CONFIG_RUST)
/**
 * hmm_dma_map_alloc - set up the DMA mappings of an HMM range's entries
 * @dev: the device that will do the DMA, bound to the caller's driver
 * @map: the map to fill in
 * @nr_entries: the number of entries, one per page
 * @dma_entry_size: the bytes an entry maps: %PAGE_SIZE (larger entries
 *	are not supported here yet)
 *
 * Reserves IOVA for all the entries behind a translating IOMMU, and
 * otherwise allocates @map->dma_list when unmapping needs the addresses.
 *
 * Return: 0; -%EINVAL for no entries or another entry size; -%EOPNOTSUPP
 * for a device that would need swiotlb or CPU cache maintenance, which a
 * range shared with a process all along cannot have; -%ENOMEM.
 */
int hmm_dma_map_alloc(struct device *dev, struct hmm_dma_map *map,
		      size_t nr_entries, size_t dma_entry_size);

/**
 * hmm_dma_map_free - tear down the DMA mappings of an HMM range's entries
 * @dev: the device of hmm_dma_map_alloc()
 * @map: the map, which is zeroed
 *
 * Unlike upstream, unmaps whatever entries are still mapped, however many
 * holes lie between them, with one IOTLB flush behind an IOMMU; nothing is
 * left that the device can reach.
 */
void hmm_dma_map_free(struct device *dev, struct hmm_dma_map *map);

/**
 * hmm_dma_map_pfn - map an entry for the device
 * @dev: the device of hmm_dma_map_alloc()
 * @map: the map
 * @idx: the entry, valid (%HMM_PFN_VALID) and not in error
 * @p2pdma_state: the P2PDMA state of the last P2P page looked up for @dev,
 *	zeroed before the first call
 *
 * An entry mapped already returns its address. Otherwise it is mapped
 * bidirectionally, at @idx * %PAGE_SIZE in the reservation (synced) or
 * with the streaming API, with %DMA_ATTR_REQUIRE_COHERENT; a peer's page
 * through the host bridge with %DMA_ATTR_MMIO too, and one under the same
 * PCI switch at its bus address, with no mapping.
 *
 * Return: the entry's DMA address, or %DMA_MAPPING_ERROR for an entry past
 * the map, not valid or in error, a peer's page the device cannot reach,
 * or a failed mapping.
 */
dma_addr_t hmm_dma_map_pfn(struct device *dev, struct hmm_dma_map *map,
			   size_t idx,
			   struct pci_p2pdma_map_state *p2pdma_state);

/**
 * hmm_dma_unmap_pfn - unmap an entry
 * @dev: the device of hmm_dma_map_alloc()
 * @map: the map
 * @idx: the entry
 *
 * The device must be done with the entry.
 *
 * Return: whether the entry was valid and mapped (and now is not).
 */
bool hmm_dma_unmap_pfn(struct device *dev, struct hmm_dma_map *map, size_t idx);
#else
static inline int hmm_dma_map_alloc(struct device *dev, struct hmm_dma_map *map,
				    size_t nr_entries, size_t dma_entry_size)
{
	return -EOPNOTSUPP;
}

static inline void hmm_dma_map_free(struct device *dev, struct hmm_dma_map *map)
{
}

static inline dma_addr_t hmm_dma_map_pfn(struct device *dev,
					 struct hmm_dma_map *map, size_t idx,
					 struct pci_p2pdma_map_state *p2pdma_state)
{
	return DMA_MAPPING_ERROR;
}

static inline bool hmm_dma_unmap_pfn(struct device *dev, struct hmm_dma_map *map,
				     size_t idx)
{
	return false;
}
#endif

#endif /* _LINUX_HMM_DMA_H */
