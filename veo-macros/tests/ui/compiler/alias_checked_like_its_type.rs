// Type aliases are checked like the types they name.
use veo_runtime::ve_kernel;

type Text = String;
type Flag = bool;
type Many = Vec<u8>;

#[ve_kernel(library = "kernels")]
extern "C" {
    fn print(s: Text, f: Flag); //~ `String` cannot be passed to a VE kernel //~ `bool` cannot be passed to a VE kernel
    fn on_stack(m: &Many); //~ `&Vec<u8>` cannot be passed to a VE kernel
    fn make() -> Text; //~ `String` cannot be returned from a VE kernel
}

fn main() {}
