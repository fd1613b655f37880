//! The AVEO backend, which drives NEC's own `libveo.so.1` on a host with a
//! Vector Engine. The lower layers: [`sys`], the vendor's C API loaded with
//! `libloading`; [`result`], its return codes as the runtime's
//! [`Error`](crate::Error); [`args`], an [`Args`](crate::Args) as a
//! `veo_args` whose stack buffers the runtime owns. Above them, the
//! backend's objects: [`proc::AveoProc`] (a VE process, its memory,
//! libraries and synchronous calls), [`context::AveoContext`] (a queue of
//! requests) and [`request::AveoRequest`] (one pending result).
//!
//! These layers are public so that they can be tested against stand-in
//! vendor libraries (`veo-runtime/tests/aveo_sys.rs`, `aveo_backend.rs`)
//! and used directly by whoever needs the raw API.

pub mod args;
pub mod context;
pub mod proc;
mod registry;
pub mod request;
pub mod result;
pub mod select;
pub mod sys;
pub(crate) mod wired;

pub use veo_urpc::elf::Side;
