// Type aliases are checked like the types they name.
use veo_runtime::ve_kernel;

type Text = String;
type Flag = bool;
type Many = Vec<u8>;

#[ve_kernel(library = "kernels")]
extern "C" {
    fn print(s: Text, f: Flag);
    fn on_stack(m: &Many);
    fn make() -> Text;
}

fn main() {}
