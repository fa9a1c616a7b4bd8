// SPDX-License-Identifier: GPL-2.0

#include <linux/device.h>
#include <linux/memremap.h>
#include <linux/pci.h>

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

bool rust_helper_is_pci_p2pdma_page(const struct page *page)
{
	return is_pci_p2pdma_page(page);
}
