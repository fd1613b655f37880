use veo_runtime::ve_kernel;

#[ve_kernel(library = "kernels")]
extern "C" {
    fn print(s: String);
    fn print_ref(s: &str);
    fn make() -> String;
}

fn main() {}
