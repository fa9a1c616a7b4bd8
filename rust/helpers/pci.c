// SPDX-License-Identifier: GPL-2.0

#include <linux/device.h>
#include <linux/memremap.h>
#include <linux/pci.h>
#include <linux/pci-p2pdma.h>

void *rust_helper_dev_get_drvdata(const struct device *dev)
{
	return dev_get_drvdata(dev);
}

void rust_helper_dev_set_drvdata(struct device *dev, void *data)
{
	dev_set_drvdata(dev, data);
}

void rust_helper_device_lock(struct device *dev)
{
	device_lock(dev);
}

void rust_helper_device_unlock(struct device *dev)
{
	device_unlock(dev);
}

resource_size_t rust_helper_pci_resource_len(struct pci_dev *pdev, int bar)
{
	return pci_resource_len(pdev, bar);
}

unsigned long rust_helper_pci_resource_flags(struct pci_dev *pdev, int bar)
{
	return pci_resource_flags(pdev, bar);
}

enum pci_p2pdma_map_type
rust_helper_pci_p2pdma_state(struct pci_p2pdma_map_state *state,
			     struct device *dev, struct page *page)
{
	return pci_p2pdma_state(state, dev, page);
}

dma_addr_t rust_helper_pci_p2pdma_bus_addr_map(struct pci_p2pdma_map_state *state,
					       phys_addr_t paddr)
{
	return pci_p2pdma_bus_addr_map(state, paddr);
}

u16 rust_helper_pci_dev_id(struct pci_dev *dev)
{
	return pci_dev_id(dev);
}

resource_size_t rust_helper_pci_resource_start(struct pci_dev *pdev, int bar)
{
	return pci_resource_start(pdev, bar);
}
