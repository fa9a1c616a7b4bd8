# SPDX-License-Identifier: GPL-2.0
#
# x86_64 q35 behind Intel VT-d with a peer-to-peer DMA topology: an NVMe
# controller whose memory buffer (CMB) Linux registers as P2P memory, and
# two edu devices as clients, one under the same PCIe switch as the NVMe
# controller and one on the root complex.  Only the P2P suite runs here.
# Here the CPU is an AMD Zen (EPYC), whose host bridges Linux trusts to
# forward P2P DMA, so the edu on the root complex reaches the NVMe memory
# through the host bridge, mapped by the IOMMU.
#
# Not virtio-iommu: at reboot, Linux 6.12 shuts the virtio-iommu down
# before the NVMe controller, whose shutdown then waits for ever for its
# DMA.
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
			   kernel_command_line='console=ttyS0 intel_iommu=on kunit.filter_glob=hmm_p2p* iommu_edu_kunit.p2p_host_bridge=1',
			   extra_qemu_params=['-bios', 'qboot.rom',
					      '-machine', 'q35', '-accel', 'tcg',
					      '-m', '1024', '-cpu', 'EPYC',
					      # The IOMMU comes before the devices it
					      # translates for.
					      '-device', 'intel-iommu',
					      # edu on the root complex.
					      '-device', 'edu',
					      # A switch with the NVMe controller and
					      # another edu below it.
					      '-device', 'pcie-root-port,id=rp1,chassis=1,bus=pcie.0',
					      '-device', 'x3130-upstream,id=up1,bus=rp1',
					      '-device', 'xio3130-downstream,id=dn1,bus=up1,chassis=2,slot=0',
					      '-device', 'xio3130-downstream,id=dn2,bus=up1,chassis=3,slot=0',
					      '-device', 'nvme,serial=p2p0,cmb_size_mb=4,bus=dn1',
					      '-device', 'edu,bus=dn2'])
