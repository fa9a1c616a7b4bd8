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
