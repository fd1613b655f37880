//! Builds for a real VE, driven through the stand-in NEC tools of
//! `tests/fixtures/nec/bin` (`ncc`, `nc++`, `nfort`, `mk_veorun_static`):
//! they log their exact command lines and do the work with the host
//! compilers, so the products are real and can be loaded or run. These
//! tests change environment variables, so each one holds `ENV` for its
//! whole run (this file is its own test binary).

mod common;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use common::{scratch, write};
use veo_build::{Build, Error, Target, VeArch};

static ENV: Mutex<()> = Mutex::new(());

/// Every variable veo-build reads that could change the commands.
const VARS: &[&str] = &[
    "NCC",
    "NCXX",
    "NFORT",
    "VEO_NEC_ROOT",
    "VEO_BUILD_TARGET",
    "VEO_VE_ARCH",
    "VEO_VE_SYSFS",
    "VE_NODE_NUMBER",
    "OPT_LEVEL",
    "PROFILE",
    "DEBUG",
    "CC",
    "CXX",
    "FC",
    "VEO_TEST_NEC_LOG",
];

fn stand_ins() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/nec")
}

/// Holds the lock, with the variables unset, `VEO_NEC_ROOT` at the
/// stand-ins, an empty sysfs (no VE card) and a fresh command log.
struct Env {
    _guard: std::sync::MutexGuard<'static, ()>,
    dir: PathBuf,
    log: PathBuf,
}

impl Env {
    fn new(name: &str) -> Env {
        let guard = ENV.lock().unwrap_or_else(|e| e.into_inner());
        for v in VARS {
            std::env::remove_var(v);
        }
        let dir = scratch(name);
        let log = dir.join("commands.log");
        std::env::set_var("VEO_TEST_NEC_LOG", &log);
        std::env::set_var("VEO_NEC_ROOT", stand_ins());
        std::fs::create_dir_all(dir.join("sysfs")).unwrap();
        std::env::set_var("VEO_VE_SYSFS", dir.join("sysfs"));
        Env {
            _guard: guard,
            dir,
            log,
        }
    }

    fn set(&self, k: &str, v: impl AsRef<std::ffi::OsStr>) {
        std::env::set_var(k, v);
    }

    /// A VE card `ve<node>` of architecture `arch` in the fake sysfs.
    fn card(&self, node: u32, arch: &str) {
        write(
            &self.dir,
            &format!("sysfs/ve{node}/ve_arch_class"),
            &format!("{arch}\n"),
        );
    }

    /// The commands run so far, with the scratch directory written `$D`,
    /// the stand-ins' prefix `$NEC`, object hashes `H` and the temporary
    /// name of a library being linked `$TMP`.
    fn commands(&self) -> Vec<String> {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        text.lines().map(|l| self.normalise(l)).collect()
    }

    fn normalise(&self, line: &str) -> String {
        let nec = stand_ins().display().to_string();
        let dir = self.dir.display().to_string();
        line.split(' ')
            .map(|w| {
                let w = w.replace(&nec, "$NEC").replace(&dir, "$D");
                if w.contains("/.lib") && w.ends_with(".tmp") {
                    let (head, _) = w.split_once("/.lib").unwrap();
                    return format!("{head}/$TMP");
                }
                // obj/avg-1234abcd.o -> obj/avg-H.o
                for ext in [".o", ".d"] {
                    if let Some(stem) = w.strip_suffix(ext) {
                        if let Some((name, hash)) = stem.rsplit_once('-') {
                            if hash.len() == 8 && hash.chars().all(|c| c.is_ascii_hexdigit()) {
                                return format!("{name}-H{ext}");
                            }
                        }
                    }
                }
                w
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        for v in VARS {
            std::env::remove_var(v);
        }
    }
}

const AVERAGE: &str = "double average(const double *a, int n) {\n    double s = 0;\n    for (int i = 0; i < n; i++) s += a[i];\n    return s / n;\n}\n";

/// Loads the built library and calls `average`: the stand-ins really
/// compiled and linked it.
fn call_average(lib: &Path) -> f64 {
    // SAFETY: the library was just built from `AVERAGE`, whose `average`
    // has exactly this C type; its initialisers are the compiler's own.
    unsafe {
        let l = libloading::Library::new(lib).unwrap();
        let f: libloading::Symbol<unsafe extern "C" fn(*const f64, i32) -> f64> =
            l.get(b"average").unwrap();
        let a = [1.0, 2.0, 3.0, 6.0];
        f(a.as_ptr(), 4)
    }
}

#[test]
fn ncc_compiles_fpic_at_least_o2_and_links_shared() {
    let env = Env::new("nec-ncc");
    // A debug profile asks for -O0; a VE kernel gets -O2 anyway.
    env.set("OPT_LEVEL", "0");
    let src = write(&env.dir, "k/avg.c", AVERAGE);
    let a = Build::new()
        .out_dir(env.dir.join("out"))
        .file(&src)
        .try_compile("kernels")
        .unwrap();
    assert_eq!(a.target(), Target::Ve);
    assert_eq!(
        env.commands(),
        [
            "ncc -O2 -fpic -MMD -MF $D/out/veo-build/kernels/obj/avg-H.d -c $D/k/avg.c -o $D/out/veo-build/kernels/obj/avg-H.o",
            "ncc -shared -fpic -pthread -o $D/out/$TMP $D/out/veo-build/kernels/obj/avg-H.o",
        ]
    );
    assert_eq!(a.path(), env.dir.join("out/libkernels.so"));
    assert_eq!(call_average(a.path()), 3.0);
    let d = a.cargo_directives();
    for v in [
        "NCC",
        "VEO_NEC_ROOT",
        "VEO_VE_ARCH",
        "VE_NODE_NUMBER",
        "VEO_VE_SYSFS",
    ] {
        assert!(
            d.contains(&format!("rerun-if-env-changed={v}")),
            "{v}: {d:#?}"
        );
    }

    // A level the user sets is kept, even a low one, and -O3 stays -O3.
    for (level, flag) in [(0, "-O0"), (3, "-O3")] {
        std::fs::remove_file(&env.log).unwrap();
        Build::new()
            .out_dir(env.dir.join("out"))
            .file(&src)
            .opt_level(level)
            .try_compile("kernels")
            .unwrap();
        let c = env.commands();
        assert!(c[0].starts_with(&format!("ncc {flag} -fpic ")), "{c:?}");
    }
}

#[test]
fn a_ve3_card_adds_march_and_mabi_to_compile_and_link() {
    let env = Env::new("nec-ve3");
    env.card(0, "ve1");
    env.card(1, "ve3");
    env.set("VE_NODE_NUMBER", "1");
    let a = Build::new()
        .out_dir(env.dir.join("out"))
        .c_source("avg", AVERAGE)
        .try_compile("k3")
        .unwrap();
    assert_eq!(
        env.commands(),
        [
            "ncc -O2 -fpic -march=ve3 -mabi=2 -MMD -MF $D/out/veo-build/k3/obj/avg-H.d -c $D/out/veo-build/k3/src/avg.c -o $D/out/veo-build/k3/obj/avg-H.o",
            "ncc -shared -fpic -pthread -march=ve3 -mabi=2 -o $D/out/$TMP $D/out/veo-build/k3/obj/avg-H.o",
        ]
    );
    assert_eq!(call_average(a.path()), 3.0);

    // Node 0 is a VE1: no flag.
    env.set("VE_NODE_NUMBER", "0");
    std::fs::remove_file(&env.log).unwrap();
    Build::new()
        .out_dir(env.dir.join("out"))
        .c_source("avg", AVERAGE)
        .try_compile("k3")
        .unwrap();
    assert!(
        !env.commands()[0].contains("-march"),
        "{:?}",
        env.commands()
    );

    // VEO_VE_ARCH wins over the card, the builder over both.
    env.set("VEO_VE_ARCH", "ve3");
    std::fs::remove_file(&env.log).unwrap();
    Build::new()
        .out_dir(env.dir.join("out"))
        .c_source("avg", AVERAGE)
        .try_compile("k3")
        .unwrap();
    assert!(env.commands()[1].contains(" -march=ve3 -mabi=2 "));
    std::fs::remove_file(&env.log).unwrap();
    Build::new()
        .out_dir(env.dir.join("out"))
        .c_source("avg", AVERAGE)
        .ve_arch(VeArch::Ve1)
        .try_compile("k3")
        .unwrap();
    assert!(!env.commands().concat().contains("-march"));

    env.set("VEO_VE_ARCH", "ve9");
    let e = Build::new()
        .out_dir(env.dir.join("out"))
        .c_source("avg", AVERAGE)
        .try_compile("k3")
        .unwrap_err();
    assert!(matches!(e, Error::InvalidEnv { .. }), "{e}");
    assert!(e.to_string().contains("VEO_VE_ARCH"), "{e}");
}

#[test]
fn openmp_and_aveo_libraries_with_their_directories() {
    let env = Env::new("nec-aveo");
    let a = Build::new()
        .out_dir(env.dir.join("out"))
        .cpp_source(
            "avg",
            &format!("#include <omp.h>\nextern \"C\" {{\n{AVERAGE}}}\nint threads() {{ return omp_get_max_threads(); }}\n"),
        )
        .openmp(true)
        .veo_hmem(true)
        .aveo_ve(true)
        .try_compile("omp")
        .unwrap();
    assert_eq!(
        env.commands(),
        [
            "nc++ -O2 -fpic -fopenmp -I$NEC/include -MMD -MF $D/out/veo-build/omp/obj/avg-H.d -c $D/out/veo-build/omp/src/avg.cpp -o $D/out/veo-build/omp/obj/avg-H.o",
            "nc++ -shared -fpic -pthread -fopenmp -o $D/out/$TMP $D/out/veo-build/omp/obj/avg-H.o -L$NEC/lib -Wl,-rpath,$NEC/lib -lveohmem -laveoVE",
        ]
    );
    assert_eq!(call_average(a.path()), 3.0);

    // With the default prefix, a VE3's AVEO tree is /opt/nec/ve3.
    std::env::remove_var("VEO_NEC_ROOT");
    env.set("NCC", stand_ins().join("bin/ncc"));
    env.set("VEO_VE_ARCH", "ve3");
    std::fs::remove_file(&env.log).unwrap();
    Build::new()
        .out_dir(env.dir.join("out"))
        .c_source("avg", AVERAGE)
        .veo_hmem(true)
        .try_compile("hmem3")
        .unwrap();
    assert_eq!(
        env.commands(),
        [
            "ncc -O2 -fpic -march=ve3 -mabi=2 -I/opt/nec/ve3/include -MMD -MF $D/out/veo-build/hmem3/obj/avg-H.d -c $D/out/veo-build/hmem3/src/avg.c -o $D/out/veo-build/hmem3/obj/avg-H.o",
            "ncc -shared -fpic -pthread -march=ve3 -mabi=2 -o $D/out/$TMP $D/out/veo-build/hmem3/obj/avg-H.o -L/opt/nec/ve3/lib -Wl,-rpath,/opt/nec/ve3/lib -lveohmem",
        ]
    );
}

#[test]
fn nfort_links_fortran_and_cxx_with_cxxlib() {
    // The stand-in nfort compiles with gfortran.
    if !common::fortran() {
        return;
    }
    let env = Env::new("nec-nfort");
    let a = Build::new()
        .out_dir(env.dir.join("out"))
        .fortran_source(
            "twice",
            "function twice(x) bind(C, name=\"twice\")\n  use iso_c_binding\n  real(c_double), value :: x\n  real(c_double) :: twice\n  twice = 2 * x\nend function\n",
        )
        .cpp_source("one", "extern \"C\" int one() { return 1; }\n")
        .try_compile("mixed")
        .unwrap();
    let c = env.commands();
    assert_eq!(c.len(), 3, "{c:#?}");
    assert!(c.contains(&"nc++ -O2 -fpic -MMD -MF $D/out/veo-build/mixed/obj/one-H.d -c $D/out/veo-build/mixed/src/one.cpp -o $D/out/veo-build/mixed/obj/one-H.o".to_string()), "{c:#?}");
    assert!(c.contains(&"nfort -O2 -fpic -c $D/out/veo-build/mixed/src/twice.f90 -o $D/out/veo-build/mixed/obj/twice-H.o".to_string()), "{c:#?}");
    assert_eq!(
        c[2],
        "nfort -shared -fpic -pthread -o $D/out/$TMP $D/out/veo-build/mixed/obj/twice-H.o $D/out/veo-build/mixed/obj/one-H.o -cxxlib"
    );
    // SAFETY: `twice` is the bind(C) function above, `double (double)`.
    let got = unsafe {
        let l = libloading::Library::new(a.path()).unwrap();
        let f: libloading::Symbol<unsafe extern "C" fn(f64) -> f64> = l.get(b"twice").unwrap();
        f(21.0)
    };
    assert_eq!(got, 42.0);
}

#[test]
fn static_mode_links_a_ve_helper_with_mk_veorun_static() {
    let env = Env::new("nec-static");
    // NCC points at the stand-ins and VEO_NEC_ROOT elsewhere: the tool is
    // found beside ncc.
    env.set("NCC", stand_ins().join("bin/ncc"));
    env.set("VEO_NEC_ROOT", env.dir.join("no-nec"));
    let a = Build::new()
        .out_dir(env.dir.join("out"))
        .c_source("avg", AVERAGE)
        .openmp(true)
        .static_link(true)
        .try_compile("kernels")
        .unwrap();
    assert_eq!(
        env.commands(),
        [
            "ncc -O2 -fpic -fopenmp -MMD -MF $D/out/veo-build/kernels/obj/avg-H.d -c $D/out/veo-build/kernels/src/avg.c -o $D/out/veo-build/kernels/obj/avg-H.o",
            "mk_veorun_static -o $D/out/veorun_kernels $D/out/veo-build/kernels/obj/avg-H.o -fopenmp",
        ]
    );
    let helper = env.dir.join("out/veorun_kernels");
    assert!(a.is_static());
    assert_eq!(a.path(), helper);
    let out = std::process::Command::new(&helper).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "veorun stand-in\n");
    let d = a.cargo_directives();
    assert!(
        d.contains(&"rustc-env=VEO_LIB_kernels=static".to_string()),
        "{d:#?}"
    );
    assert!(
        d.contains(&format!(
            "rustc-env=VEO_VEORUN_kernels={}",
            helper.display()
        )),
        "{d:#?}"
    );
    assert_eq!(veo_build::veorun_env_var("kernels"), "VEO_VEORUN_kernels");
    // Nothing is linked into the Rust program.
    assert!(!d.iter().any(|x| x.starts_with("rustc-link")), "{d:#?}");

    // NCC elsewhere: the tool is found in $VEO_NEC_ROOT/bin.
    let lonely = env.dir.join("lonely/ncc");
    write(&env.dir, "lonely/ncc", "");
    std::fs::copy(stand_ins().join("bin/ncc"), &lonely).unwrap();
    std::fs::copy(
        stand_ins().join("bin/stand-in.sh"),
        env.dir.join("lonely/stand-in.sh"),
    )
    .unwrap();
    env.set("NCC", &lonely);
    env.set("VEO_NEC_ROOT", stand_ins());
    std::fs::remove_file(&env.log).unwrap();
    Build::new()
        .out_dir(env.dir.join("out"))
        .c_source("avg", AVERAGE)
        .static_link(true)
        .try_compile("kernels")
        .unwrap();
    assert_eq!(
        env.commands()[1],
        "mk_veorun_static -o $D/out/veorun_kernels $D/out/veo-build/kernels/obj/avg-H.o"
    );

    // Neither: the error names the tool and what to do, before anything
    // is compiled.
    env.set("VEO_NEC_ROOT", env.dir.join("no-nec"));
    std::fs::remove_file(&env.log).unwrap();
    let e = Build::new()
        .out_dir(env.dir.join("out"))
        .c_source("avg", AVERAGE)
        .static_link(true)
        .try_compile("kernels")
        .unwrap_err();
    let text = e.to_string();
    assert!(matches!(e, Error::ToolNotFound { .. }), "{text}");
    assert!(
        text.contains("no-nec/bin/mk_veorun_static") && text.contains("install AVEO"),
        "{text}"
    );
    assert!(env.commands().is_empty(), "{:?}", env.commands());
}

#[test]
fn mk_veorun_static_is_found_beside_a_compiler_named_in_path() {
    let env = Env::new("nec-path");
    env.set("VEO_NEC_ROOT", env.dir.join("no-nec"));
    env.set("NCC", "ncc");
    let old = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs = vec![stand_ins().join("bin")];
    dirs.extend(std::env::split_paths(&old));
    env.set("PATH", std::env::join_paths(dirs).unwrap());
    let r = Build::new()
        .out_dir(env.dir.join("out"))
        .c_source("avg", AVERAGE)
        .static_link(true)
        .try_compile("kernels");
    env.set("PATH", &old);
    let a = r.unwrap();
    assert_eq!(
        env.commands()[1],
        "mk_veorun_static -o $D/out/veorun_kernels $D/out/veo-build/kernels/obj/avg-H.o"
    );
    assert!(a
        .cargo_directives()
        .contains(&"rerun-if-env-changed=PATH".to_string()));
}

#[test]
fn the_emulated_ve_gets_no_ve_flags() {
    let env = Env::new("nec-emulated");
    env.card(0, "ve3");
    env.set("VEO_BUILD_TARGET", "emulated");
    env.set("OPT_LEVEL", "0");
    env.set("CC", stand_ins().join("bin/ncc"));
    let a = Build::new()
        .out_dir(env.dir.join("out"))
        .c_source("avg", AVERAGE)
        .veo_hmem(true)
        .try_compile("emu")
        .unwrap();
    assert_eq!(a.target(), Target::Emulated);
    // The stand-in ncc serves as the host CC here: no floor, no
    // architecture, no AVEO library.
    assert_eq!(
        env.commands(),
        [
            "ncc -O0 -fpic -MMD -MF $D/out/veo-build/emu/obj/avg-H.d -c $D/out/veo-build/emu/src/avg.c -o $D/out/veo-build/emu/obj/avg-H.o",
            "ncc -shared -fpic -pthread -o $D/out/$TMP $D/out/veo-build/emu/obj/avg-H.o",
        ]
    );
    let d = a.cargo_directives();
    assert!(
        !d.iter()
            .any(|w| w.starts_with("warning=") && w.contains("libveohmem")),
        "the helper provides the AVEO libraries: nothing to warn about: {d:#?}"
    );
    assert!(!d.contains(&"rerun-if-env-changed=VEO_VE_SYSFS".to_string()));
}
