// SPDX-License-Identifier: GPL-2.0

#include <linux/dma-map-ops.h>
#include <linux/dma-mapping.h>
#include <linux/iommu-dma.h>
#include <linux/swiotlb.h>

bool rust_helper_dev_is_dma_coherent(struct device *dev)
{
	return dev_is_dma_coherent(dev);
}

void rust_helper_arch_sync_dma_for_device(phys_addr_t paddr, size_t size,
					  enum dma_data_direction dir)
{
	arch_sync_dma_for_device(paddr, size, dir);
}

void rust_helper_arch_sync_dma_for_cpu(phys_addr_t paddr, size_t size,
				       enum dma_data_direction dir)
{
	arch_sync_dma_for_cpu(paddr, size, dir);
}

struct io_tlb_pool *rust_helper_swiotlb_find_pool(struct device *dev,
						  phys_addr_t paddr)
{
	return swiotlb_find_pool(dev, paddr);
}

const struct dma_map_ops *rust_helper_get_dma_ops(struct device *dev)
{
	return get_dma_ops(dev);
}

bool rust_helper_use_dma_iommu(struct device *dev)
{
	return use_dma_iommu(dev);
}

u64 rust_helper_dma_get_mask(struct device *dev)
{
	return dma_get_mask(dev);
}

void *rust_helper_phys_to_virt(phys_addr_t paddr)
{
	return phys_to_virt(paddr);
}

void rust_helper_swiotlb_tbl_unmap_single(struct device *dev, phys_addr_t addr,
					  size_t size,
					  enum dma_data_direction dir,
					  unsigned long attrs)
{
	swiotlb_tbl_unmap_single(dev, addr, size, dir, attrs);
}

void rust_helper_swiotlb_sync_single_for_cpu(struct device *dev,
					     phys_addr_t addr, size_t size,
					     enum dma_data_direction dir)
{
	swiotlb_sync_single_for_cpu(dev, addr, size, dir);
}

phys_addr_t rust_helper_page_to_phys(struct page *page)
{
	return page_to_phys(page);
}

int rust_helper_dma_mapping_error(struct device *dev, dma_addr_t dma_addr)
{
	return dma_mapping_error(dev, dma_addr);
}

/*
 * The two-step API is made of inline stubs when CONFIG_IOMMU_DMA_IOVA is
 * off; where the functions exist, Rust calls them directly.
 */
#ifndef CONFIG_IOMMU_DMA_IOVA
bool rust_helper_dma_iova_try_alloc(struct device *dev,
				    struct dma_iova_state *state,
				    phys_addr_t phys, size_t size)
{
	return dma_iova_try_alloc(dev, state, phys, size);
}

void rust_helper_dma_iova_free(struct device *dev,
			       struct dma_iova_state *state)
{
	dma_iova_free(dev, state);
}

int rust_helper_dma_iova_link(struct device *dev, struct dma_iova_state *state,
			      phys_addr_t phys, size_t offset, size_t size,
			      enum dma_data_direction dir, unsigned long attrs)
{
	return dma_iova_link(dev, state, phys, offset, size, dir, attrs);
}

int rust_helper_dma_iova_sync(struct device *dev, struct dma_iova_state *state,
			      size_t offset, size_t size)
{
	return dma_iova_sync(dev, state, offset, size);
}

void rust_helper_dma_iova_unlink(struct device *dev,
				 struct dma_iova_state *state, size_t offset,
				 size_t size, enum dma_data_direction dir,
				 unsigned long attrs)
{
	dma_iova_unlink(dev, state, offset, size, dir, attrs);
}

void rust_helper_dma_iova_destroy(struct device *dev,
				  struct dma_iova_state *state,
				  size_t mapped_len, enum dma_data_direction dir,
				  unsigned long attrs)
{
	dma_iova_destroy(dev, state, mapped_len, dir, attrs);
}

bool rust_helper_dma_need_unmap(struct device *dev)
{
	return dma_need_unmap(dev);
}
#endif
