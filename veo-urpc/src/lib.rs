//! The URPC transport.
