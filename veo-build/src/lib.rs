//! Compile VE kernels (C, C++, Fortran) at `cargo build` time and hand
//! their path to the crate; check them against their Rust declarations.
//! Modelled on the `cc` and `cxx-build` crates.
//!
//! # Usage
//!
//! ```toml
//! [build-dependencies]
//! veo-build = "0.1"
//! ```
//!
//! ```no_run
//! // build.rs
//! veo_build::Build::new()
//!     .files_in("kernels")         // every .c .cpp .f90 ... of the folder
//!     .compile("kernels");         // $OUT_DIR/libkernels.so
//! ```
//!
//! The build also checks every `#[ve_kernel(library = "kernels")]`
//! declaration of the package's own sources against the kernels' C, C++ and
//! Fortran definitions (see [The signature cross-check](#the-signature-cross-check)):
//! a Rust `f32` where C has a `double` fails the build, naming both lines.
//!
//! `#[ve_kernel(library = "kernels")]` then finds the library on its own:
//! its stubs embed the library in the program and load it from the path of
//! the build while that file still holds the same bytes, else from the copy
//! in the program, so the program keeps working after `cargo install`,
//! `cargo clean` or a copy to another machine; `VEO_LIB_kernels_PATH` at
//! run time overrides the location (see `veo_runtime::BuiltLibrary`). The
//! absolute path of the build is also `env!("VEO_LIB_kernels")`.
//!
//! On failure (no compiler, a compile error, a missing source, a bad flag,
//! a signature mismatch) [`Build::compile`] prints the error, with the exact
//! command line and the compiler's output, and exits with status 1: no panic
//! backtrace. [`Build::try_compile`] returns the [`Error`] instead.
//!
//! # What is built
//!
//! Every source is compiled to an object (in parallel, up to Cargo's
//! `NUM_JOBS`, each compile beyond the first holding a token of Cargo's
//! jobserver as with `cc`) with `-O<n> -fpic`, `-g` when Cargo's `DEBUG`
//! asks for it, `-fopenmp` with [`Build::openmp`], the include directories,
//! defines, the environment's flags (below) and the build script's flags; then
//! linked with `-shared -fpic -pthread` into `lib<name>.so` by the driver
//! of the "largest" language present (Fortran, else C++, else C; a Fortran
//! link with C++ objects adds `-lstdc++`, or `-cxxlib` with nfort).
//! The optimisation level follows Cargo's `OPT_LEVEL` (`s`/`z` become
//! `-Os`, `-O2` with ncc), or `PROFILE` (`debug` → `-O0`, else `-O2`) when
//! `OPT_LEVEL` is unset, or [`Build::opt_level`].
//!
//! # For a real VE
//!
//! With the NEC compilers, as NEC documents kernels for VEO/AVEO:
//!
//! - `-fpic` objects linked `-shared`, as above;
//! - at least `-O2` whatever Cargo's profile (`-O0` turns off the
//!   vectorisation that is the reason to use a VE), unless
//!   [`Build::opt_level`] sets a level;
//! - the architecture on every compile and on the link: `-march=ve3
//!   -mabi=2` for a VE3, nothing (the compilers' default) for a VE1. It is
//!   [`Build::ve_arch`], else `$VEO_VE_ARCH` (`ve1`/`ve3`), else what
//!   `$VEO_VE_SYSFS/ve<N>/ve_arch_class` says (`/sys/class/ve` by default,
//!   `N` = `$VE_NODE_NUMBER`, else 0), else nothing (a host without a VE);
//! - AVEO's VE-side libraries on request: [`Build::veo_hmem`] (`-lveohmem`)
//!   and [`Build::aveo_ve`] (`-laveoVE`), with `-I<root>/include` on the
//!   compiles and `-L<root>/lib -Wl,-rpath,<root>/lib` on the link, where
//!   `<root>` is `$VEO_NEC_ROOT`, else `/opt/nec/ve3` for a VE3 and
//!   `/opt/nec/ve` otherwise. On the emulated VE nothing is added: the
//!   helper provides both to every kernel (`docs/VE-SIDE.md`);
//! - static mode links the objects into a VE helper program with
//!   `mk_veorun_static -o $OUT_DIR/veorun_<name> OBJECTS [-fopenmp]
//!   [-lLIB...]`, the tool found beside the compiler (`$NCC`'s directory,
//!   or the directory in `PATH` that holds it) or in `$VEO_NEC_ROOT/bin`.
//!
//! Languages follow the extension: C `.c`; C++ `.cpp .cc .cxx .c++ .C`;
//! Fortran `.f .for .f77 .f90 .f95 .f03 .f08` and their upper-case
//! (preprocessed) forms `.F .F90 ...`.
//!
//! # Compilers and target
//!
//! For each language, the first of:
//!
//! | C | C++ | Fortran | target |
//! |---|---|---|---|
//! | `$NCC` | `$NCXX` | `$NFORT` | the NEC VE |
//! | `$VEO_NEC_ROOT/bin/ncc` | `…/nc++` | `…/nfort` | the NEC VE (`VEO_NEC_ROOT` defaults to `/opt/nec/ve`) |
//! | `$CC`, else `cc` | `$CXX`, else `c++` | `$FC`, else `gfortran` | the emulated VE (the helper on this host) |
//!
//! `VEO_BUILD_TARGET=ve` or `=emulated` (or [`Build::target`]) pins the
//! target. A variable may hold arguments after the program
//! (`NCC="ncc -mno-vector"`). All languages of one library must end up on
//! the same target, or the build stops ([`Error::MixedTargets`]). The
//! build log (`cargo build -vv`) has one line naming the target and the
//! compilers ([`Artifact::summary`]).
//!
//! veo-build prints a `cargo:warning` only when something needs your
//! attention: a [`Build::bindings`] file without a block of the library.
//!
//! # Environment variables
//!
//! Read, and declared with `cargo:rerun-if-env-changed`: `VEO_BUILD_TARGET`,
//! `NCC`, `NCXX`, `NFORT`, `VEO_NEC_ROOT`, `CC`, `CXX`, `FC` (only those
//! the selection reaches), `AR` (static mode); for a real VE `VEO_VE_ARCH`,
//! `VE_NODE_NUMBER`, `VEO_VE_SYSFS`, and `PATH` when `mk_veorun_static`
//! is looked for beside a compiler named without a directory; `VEO_REQUIRE_C`,
//! `VEO_REQUIRE_CXX`, `VEO_REQUIRE_FORTRAN` (for an [optional](Build::optional)
//! language: `1` makes its missing compiler an error).
//!
//! Compile flags, split on whitespace, as the `cc` crate reads them:
//! `CFLAGS` (C), `CXXFLAGS` (C++), `FFLAGS` (Fortran) for the host
//! compilers of the emulated VE, `VE_CFLAGS`, `VE_CXXFLAGS`, `VE_FFLAGS`
//! for the NEC compilers; for each, the first set of `<VAR>_<target>`,
//! `<VAR>_<target_with_underscores>`, `HOST_<VAR>` (or `TARGET_<VAR>` when
//! cross-compiling) and `<VAR>`, with Cargo's `TARGET`. They come before
//! the build script's own flags, which win where they disagree. Set by Cargo and read
//! without a declaration: `OUT_DIR`, `OPT_LEVEL`, `PROFILE`, `DEBUG`,
//! `NUM_JOBS`; `OUT_DIR`, `TARGET` and `HOST` together tell a build script
//! from a program.
//!
//! `cargo:rerun-if-changed` is printed for every source, every header a
//! C/C++ source includes (from the compiler's `-MMD -MF` depfile; system
//! headers excluded), every directory given to [`Build::files_in`] (so a new
//! file reruns the build), every [`Build::bindings`] file, and the
//! package's `src/`, `tests/`, `examples/` and `benches/` folders while the
//! signature check is on. Fortran
//! `include` files and modules are not tracked.
//!
//! # What the crate is handed
//!
//! | directive | when |
//! |---|---|
//! | `cargo:rustc-env=VEO_LIB_<name>=<absolute path of lib<name>.so>` | shared library (default) |
//! | `cargo:rustc-env=VEO_LIB_<name>=static` ([`STATIC_LIB`]) | static mode |
//! | `cargo:rustc-env=VEO_BUILT_<name>=<$OUT_DIR/veo-build/<name>/built.rs>`: a Rust expression `(name, path, include_bytes!(path))` that `#[ve_kernel]` includes, to embed the library | always (no bytes in static mode) |
//! | `cargo:rustc-link-search=native=$OUT_DIR`, `cargo:rustc-link-lib=static:+whole-archive=<name>`, `cargo:rustc-link-arg=$OUT_DIR/lib<name>.a`, `cargo:rustc-link-arg=-Wl,--export-dynamic` | static mode, emulated VE |
//! | `cargo:rustc-link-lib=stdc++` / `gfortran` / `gomp`, and each [`Build::link_lib`] | static mode, emulated VE, when C++ / Fortran / OpenMP is used |
//! | `cargo:rustc-env=VEO_VEORUN_<name>=<absolute path of veorun_<name>>` ([`veorun_env_var`]) | static mode, real VE: the VE helper program that holds the kernels, for the runtime to start (not read by the runtime yet) |
//!
//! # Static mode
//!
//! [`Build::static_link`] (or [`Build::compile_static`]) builds
//! `lib<name>.a` from `-fpic` objects and links it whole into the crate's
//! programs, exporting its symbols in the dynamic symbol table, so the
//! helper (the same executable re-run in helper mode) finds the kernels
//! with `dlopen(NULL)`/`dlsym`: the "static" library of py-veo
//! (`static_library()`) and AVEO (`mk_veorun_static`). The archive is
//! also handed to the package's binaries, tests and examples as a plain
//! link argument, so that one that does not use the library crate still
//! links the kernels its own blocks declare. `#[ve_kernel(static)]` blocks
//! register their kernels' addresses for the helper, so neither the
//! package's programs nor a downstream crate's need linker flags; the
//! exported symbol table serves lookups by name alone
//! (`Proc::get_function`), which in a downstream crate's programs need
//! `-rdynamic`. On a real VE, where Rust cannot build the VE program,
//! static mode links the kernels into AVEO's VE helper instead (see "For a
//! real VE" above).
//!
//! # At run time
//!
//! The same builder builds a library from a program (py-veo's `VeBuild`):
//!
//! ```no_run
//! let lib = veo_build::Build::new()
//!     .out_dir("/tmp/my-kernels")
//!     .c_source("avg", "double average(double *a, int n) { double s = 0; for (int i = 0; i < n; i++) s += a[i]; return s / n; }")
//!     .try_compile("avg")?;
//! println!("{}", lib.path().display()); // /tmp/my-kernels/libavg.so
//! # Ok::<(), veo_build::Error>(())
//! ```
//!
//! Outside a build script no `cargo:` directive is printed
//! ([`Build::cargo_metadata`] overrides the detection);
//! [`Artifact::cargo_directives`] lists them anyway.
//!
//! # Example
//!
//! From a clone of the repository, `cargo run -p veo-build --example
//! build_kernels` builds the kernels of `veo-build/examples/kernels/stats.c`
//! into a library and prints where it went and what built it, checks the
//! declarations of `stats.rs` beside it (the kernels that agree, the one
//! that cannot be checked and why), calls a kernel of the library, and
//! shows the error that stops a build when a declaration says `f32` where
//! the C kernel reads `double`.
//!
//! # The signature cross-check
//!
//! On by default: in a build script, veo-build reads every `.rs` file of
//! the package's `src/`, `tests/`, `examples/` and `benches/` folders that
//! mentions `ve_kernel` (those folders are watched, so editing a
//! declaration reruns the check), and the files given to
//! [`Build::bindings`] (declarations kept outside the package).
//! [`Build::check_signatures`]`(false)` turns it off. It parses them with
//! the parser of `#[ve_kernel]` (`veo-syntax`), keeps the blocks of this
//! library (`library = "<name>"`, or `static` without a library in a
//! static build), and has the compilers judge every kernel:
//!
//! 1. The symbol of each kernel must be defined by one of the library's
//!    objects (read from their ELF symbol tables); if not, the error says
//!    so, with a hint when the cause is visible (a C++ definition without
//!    `extern "C"`, a Fortran procedure in a block without `fortran`).
//! 2. For each C or C++ source that defines it, a generated unit
//!    `#include`s the source and asserts (C11 `_Static_assert` with
//!    `_Generic`, C++11 `static_assert` with `decltype`) that the kernel's
//!    type is one the Rust declaration allows, with `#line` set to the Rust
//!    declaration. The C prototype of a declaration is the one of
//!    `veo_syntax::Kernel::c_prototype` (`VePtr<f64>` → `double *`,
//!    `&[f64]` → `const double *`, `i64` → `int64_t`, ...). ABI-identical
//!    spellings are accepted: `const` or not on a pointer the kernel only
//!    reads (`VePtr<T>`, `&T`, `&[T]`; not on `&mut`/`#[out]` buffers,
//!    which must be writable), `long` or `long long` for 64-bit integers,
//!    `char` or `signed char` for `i8`, `char *` for a pointer to bytes
//!    (`u8`/`i8`: strings), and `void *` for any pointer (C then commits to
//!    no type). A kernel with more than 256 such combinations is checked
//!    with `const` varying alone, beyond that with exact spellings.
//! 3. On a mismatch, a second unit redeclares the kernel with its exact
//!    prototype so that the compiler's note names the definition; the
//!    error then names the kernel, the Rust declaration (file:line, as
//!    written), the C prototype it needs, the C definition (file:line and
//!    type), the command line and the compiler's output.
//!
//! A Rust `f32` against a C `double`, a wrong number of parameters and a
//! wrong return type all fail the build.
//!
//! Limits:
//! - **Fortran** is checked with gfortran only: `gfortran -fc-prototypes
//!   -fc-prototypes-external` writes C prototypes of the source (both
//!   `bind(C)` procedures and plain external ones, e.g.
//!   `double average_ (double *a, int *n);`) and the host C compiler checks
//!   those. Module procedures without `bind(C)` have no C prototype and are
//!   not checked; with `nfort` nothing Fortran is checked
//!   ([`Artifact::unchecked`] lists what was skipped). The Fortran definition's line
//!   is found by searching the source for `function <name>` /
//!   `subroutine <name>` / `bind(C, name="<symbol>")`.
//! - **Structs and untyped memory**: a kernel with a `Pod` struct behind a
//!   reference or a `VePtr`, or an untyped `VePtr`, is `void *` in Rust's
//!   prototype while C names the struct; such kernels are skipped and
//!   listed in [`Artifact::unchecked`] (their symbol is still required to
//!   exist). So are
//!   kernels with types known only by name (aliases).
//! - The sources must compile as a unit that `#include`s them (they
//!   always do when they compile on their own; a source that defines one
//!   of the prototype's parameter names as a macro may not).
//! - Integer spellings assume LP64 (x86_64 and the VE).
//!
//! # Limits of the build
//!
//! - Objects are rebuilt whenever the build script runs (as with `cc`);
//!   Cargo runs it only when a watched file or variable changes.
//! - Static mode links `stdc++`, `gfortran` and `gomp`: GNU runtimes.

#![warn(missing_docs)]

mod artifact;
mod builder;
mod check;
mod command;
mod depfile;
mod discover;
mod elf;
mod env;
mod error;
mod files;
mod flags_env;
mod jobs;
mod lang;
mod link;
mod optional;
mod toolchain;
mod ve;

pub use artifact::{lib_env_var, Artifact, STATIC_LIB};
pub use builder::Build;
pub use check::{Mismatch, Problem};
pub use error::{Error, Result};
pub use lang::Language;
pub use optional::require_env_var;
pub use toolchain::{Target, DEFAULT_NEC_ROOT};
pub use ve::{veorun_env_var, VeArch, DEFAULT_VE_SYSFS};
