// What only the generated stubs use is not part of the runtime's API: it is
// reachable as `veo_runtime::__private` only, and no public type has a
// method for it.
use veo_runtime::{Context, Proc};

fn main() {
    let _ = veo_runtime::KernelSlot::new(); //~ E0433
    let _ = veo_runtime::KernelLibrary::Static; //~ E0433
    let _ = Context::call_kernel::<u64>; //~ E0599
    let _ = Context::kernel; //~ E0599
    let _ = Proc::call_kernel_sync::<u64>; //~ E0599
    let _ = Proc::kernel; //~ E0624
}
