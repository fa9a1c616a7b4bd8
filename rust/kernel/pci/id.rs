// SPDX-License-Identifier: GPL-2.0

//! PCI vendor IDs and device classes, as drivers match them.
//!
//! C header: [`include/linux/pci_ids.h`](srctree/include/linux/pci_ids.h)

use crate::{bindings, error::code::EINVAL, prelude::*};
use core::fmt;

/// A PCI vendor ID.
#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(transparent)]
pub struct Vendor(u16);

macro_rules! define_vendors {
    ($($name:ident = $id:ident,)*) => {
        impl Vendor {
            $(
                #[doc = concat!("`", stringify!($id), "`.")]
                pub const $name: Self = Self(bindings::$id as u16);
            )*
        }
    };
}

define_vendors! {
    AMD = PCI_VENDOR_ID_AMD,
    ATI = PCI_VENDOR_ID_ATI,
    INTEL = PCI_VENDOR_ID_INTEL,
    MELLANOX = PCI_VENDOR_ID_MELLANOX,
    NVIDIA = PCI_VENDOR_ID_NVIDIA,
    REDHAT = PCI_VENDOR_ID_REDHAT,
    REDHAT_QUMRANET = PCI_VENDOR_ID_REDHAT_QUMRANET,
}

impl Vendor {
    /// The vendor with ID `id`, for vendors `pci_ids.h` does not name, such as the `0x1234`
    /// of QEMU's emulated devices.
    ///
    /// Not in upstream 6.18, whose vendors are only the named ones.
    pub const fn from_raw(id: u16) -> Self {
        Self(id)
    }

    /// The vendor ID.
    pub const fn as_raw(self) -> u16 {
        self.0
    }
}

impl fmt::Debug for Vendor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:04x}", self.0)
    }
}

impl fmt::Display for Vendor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// A PCI device class: base class, subclass and programming interface, 24 bits.
#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(transparent)]
pub struct Class(u32);

macro_rules! define_classes {
    ($($name:ident = $id:ident,)*) => {
        impl Class {
            $(
                #[doc = concat!("`", stringify!($id), "`.")]
                pub const $name: Self = Self(bindings::$id);
            )*
        }
    };
}

define_classes! {
    STORAGE_EXPRESS = PCI_CLASS_STORAGE_EXPRESS,
    DISPLAY_VGA = PCI_CLASS_DISPLAY_VGA,
    NETWORK_ETHERNET = PCI_CLASS_NETWORK_ETHERNET,
    BRIDGE_PCI = PCI_CLASS_BRIDGE_PCI,
}

impl Class {
    /// The class, 24 bits.
    pub const fn as_raw(self) -> u32 {
        self.0
    }

    pub(super) const fn from_raw(class: u32) -> Self {
        Self(class)
    }
}

impl fmt::Debug for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:06x}", self.0)
    }
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// Which part of a [`Class`] a device ID matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum ClassMask {
    /// The base class, the subclass and the programming interface.
    Full = 0xff_ffff,
    /// The base class and the subclass.
    ClassSubclass = 0xff_ff00,
}

impl ClassMask {
    /// The mask's bits.
    pub const fn as_raw(self) -> u32 {
        self as u32
    }
}

impl TryFrom<u32> for ClassMask {
    type Error = Error;

    fn try_from(mask: u32) -> Result<Self> {
        match mask {
            0xff_ffff => Ok(Self::Full),
            0xff_ff00 => Ok(Self::ClassSubclass),
            _ => Err(EINVAL),
        }
    }
}
