// SPDX-License-Identifier: GPL-2.0

//! Registering drivers with their bus.
//!
//! A bus abstraction, such as [`pci::Adapter`], implements [`RegistrationOps`] for its C driver
//! structure. A [`Registration`] of it holds the structure, pinned, from registration to
//! unregistration, and [`module_driver!`] declares a module whose only job is to hold one.
//!
//! [`pci::Adapter`]: crate::pci::Adapter

use crate::{
    error::Result,
    init::{self, PinInit},
    prelude::*,
    str::CStr,
    types::Opaque,
    ThisModule,
};
use core::ptr;

mod attribute;

pub use attribute::{Attribute, AttributeText, ShowFn, StoreFn};

/// How a bus registers and unregisters one of its C driver structures.
///
/// # Safety
///
/// `register` must fill in the structure it is given and hand it to the bus; `unregister` must
/// take back from the bus a structure that `register` handed it, after which the bus no longer
/// uses it.
pub unsafe trait RegistrationOps {
    /// The bus's C driver structure, for example `struct pci_driver`.
    type RegType: Default;

    /// Registers the driver `name` of `module` with the bus.
    ///
    /// # Safety
    ///
    /// `reg` must be pinned and not registered already.
    unsafe fn register(
        reg: &Opaque<Self::RegType>,
        name: &'static CStr,
        module: &'static ThisModule,
    ) -> Result;

    /// Unregisters the driver.
    ///
    /// # Safety
    ///
    /// `reg` must have been registered by [`RegistrationOps::register`].
    unsafe fn unregister(reg: &Opaque<Self::RegType>);
}

/// A driver registered with its bus; dropping it unregisters the driver, which unbinds it from
/// its devices.
///
/// # Invariants
///
/// `reg` is registered with the bus.
#[pin_data(PinnedDrop)]
pub struct Registration<T: RegistrationOps> {
    #[pin]
    reg: Opaque<T::RegType>,
}

// SAFETY: The driver structure is only handed to the bus, which may use it from any thread.
unsafe impl<T: RegistrationOps> Send for Registration<T> {}

// SAFETY: `Registration` has no method that uses `reg` through a shared reference.
unsafe impl<T: RegistrationOps> Sync for Registration<T> {}

impl<T: RegistrationOps> Registration<T> {
    /// Registers the driver `name` of `module` with its bus.
    pub fn new(name: &'static CStr, module: &'static ThisModule) -> impl PinInit<Self, Error> {
        // SAFETY: The closure initialises the slot's only field, which is pinned with it; on
        // failure the structure is not registered, and is plain data `Opaque` need not drop.
        unsafe {
            init::pin_init_from_closure(move |slot: *mut Self| {
                let reg = ptr::addr_of_mut!((*slot).reg);
                reg.cast::<T::RegType>().write(T::RegType::default());
                // INVARIANT: Registered here, unregistered only by `drop`.
                T::register(&*reg, name, module)
            })
        }
    }
}

#[pinned_drop]
impl<T: RegistrationOps> PinnedDrop for Registration<T> {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: By the type invariant `reg` is registered.
        unsafe { T::unregister(&self.reg) };
    }
}

/// Declares a module that registers the driver `type` with the bus of `$driver_ops`, whose
/// generic parameter is `$gen_type`; the rest is as for [`module!`](crate::prelude::module).
///
/// Bus abstractions wrap it in their own macro, such as
/// [`module_pci_driver!`](crate::module_pci_driver).
#[macro_export]
macro_rules! module_driver {
    (<$gen_type:ident>, $driver_ops:ty, { type: $type:ty, name: $name:tt, $($f:tt)* }) => {
        type Ops<$gen_type> = $driver_ops;

        struct DriverModule {
            _driver: ::core::pin::Pin<
                $crate::alloc::KBox<$crate::driver::Registration<Ops<$type>>>,
            >,
        }

        impl $crate::Module for DriverModule {
            fn init(module: &'static $crate::ThisModule) -> $crate::error::Result<Self> {
                Ok(Self {
                    _driver: $crate::alloc::KBox::pin_init(
                        $crate::driver::Registration::new($crate::c_str!($name), module),
                        $crate::alloc::flags::GFP_KERNEL,
                    )?,
                })
            }
        }

        $crate::prelude::module! {
            type: DriverModule,
            name: $name,
            $($f)*
        }
    };
}
