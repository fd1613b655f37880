//! Versions and the VE architecture.

use libc::{c_char, c_int};

/// The AVEO release whose behaviour libveo provides.
static VERSION: &[u8] = b"3.0.2\0";

#[no_mangle]
pub extern "C" fn veo_version_string() -> *const c_char {
    VERSION.as_ptr() as *const c_char
}

#[no_mangle]
pub extern "C" fn veo_api_version() -> c_int {
    veo_runtime::AVEO_API_VERSION
}

#[no_mangle]
pub extern "C" fn veo_get_ve_arch(ve_node_number: c_int) -> c_int {
    crate::diag::guard("veo_get_ve_arch", -1, || {
        if ve_node_number < 0 {
            return 0;
        }
        let path = format!("/sys/class/ve/ve{ve_node_number}/ve_arch_class");
        match std::fs::read_to_string(path) {
            // An emulated VE (no VE driver) is a VE1, as AVEO answers
            // without the file.
            Err(_) => 1,
            Ok(s) => match s.trim() {
                "ve1" => 1,
                "ve3" => 3,
                _ => -1,
            },
        }
    })
}
