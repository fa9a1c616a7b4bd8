# SPDX-License-Identifier: GPL-2.0
#
# x86_64 q35 with a virtio-iommu translating for QEMU's edu device.
#
# It boots the kernel of configs/x86_64_iommu.config, which every IOMMU
# configuration shares.
import os

from ..qemu_config import QemuArchParams

# The kernel is the same in every IOMMU configuration.
with open(os.path.join(os.path.dirname(__file__), '..', 'configs',
		       'x86_64_iommu.config')) as f:
	KCONFIG = f.read()

QEMU_ARCH = QemuArchParams(linux_arch='x86_64',
			   kconfig=KCONFIG,
			   qemu_arch='x86_64',
			   kernel_path='arch/x86/boot/bzImage',
			   kernel_command_line='console=ttyS0 iommu_edu_kunit.expect_iommu=virtio_iommu',
			   # qboot is faster than SeaBIOS, keeps the console
			   # clean and still passes QEMU's ACPI tables (VIOT).
			   extra_qemu_params=['-bios', 'qboot.rom',
					      '-machine', 'q35', '-accel', 'tcg',
					      # Two CPUs, for the concurrency tests.
					      '-smp', '2',
					      # Memory above 4 GiB gives swiotlb a
					      # pool, for the untrusted-device tests.
					      '-m', '4608',
					      '-device', 'virtio-iommu-pci',
					      '-device', 'edu',
					      # For the PCI driver-model sample.
					      '-device', 'pci-testdev'])
