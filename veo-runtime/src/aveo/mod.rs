//! The lower layers of the AVEO backend, which drives NEC's own `libveo.so.1`
//! on a host with a Vector Engine: [`sys`], the vendor's C API loaded with
//! `libloading`; [`result`], its return codes as the runtime's
//! [`Error`](crate::Error); and [`args`], an [`Args`](crate::Args) as a
//! `veo_args` whose stack buffers the runtime owns.
//!
//! Not wired into [`Proc`](crate::Proc) yet: `Proc` runs on the emulated VE
//! only. These layers are public so that they can be tested against
//! stand-in vendor libraries (`veo-runtime/tests/aveo_sys.rs`) and used
//! directly by whoever needs the raw API.

pub mod args;
pub mod result;
pub mod sys;
