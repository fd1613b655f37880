// Every public item of the runtime has one path, at the crate root; the
// modules that define them are private.
use veo_runtime::args::Args; //~ E0603
use veo_runtime::error::Error; //~ E0603
use veo_runtime::ptr::VePtr; //~ E0603

fn main() {
    let _ = (Args::new(), Error::Closed(veo_runtime::Closable::Proc), VePtr::<u8>::null());
}
