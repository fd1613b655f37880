//! The C API from C: test programs in `tests/c/` are compiled against
//! `include/` and the libveo.so cargo built for these tests, with kernels
//! from `tests/kernels/`, and run; each checks exact values and return codes
//! itself and exits non-zero on the first mismatch.
//!
//! libveo.so is always current: building this package's integration tests
//! builds its library target, with both crate types (`cdylib` and `rlib`),
//! into `target/<profile>/deps/` before the tests, also under
//! `cargo test --workspace`; no nested cargo is run.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// A directory of this test run: libveo.so (and its soname), the kernels.
struct Setup {
    dir: PathBuf,
    kernels: PathBuf,
}

fn crate_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The libveo.so cargo built beside this test (`target/<profile>/deps`).
fn libveo() -> PathBuf {
    let exe = std::env::current_exe().expect("the test's own path");
    let deps = exe.parent().expect("the deps directory");
    for dir in [deps, deps.parent().unwrap_or(deps)] {
        let p = dir.join("libveo.so");
        if p.exists() {
            return p;
        }
    }
    panic!("libveo.so not found beside {}", exe.display());
}

fn run_checked(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Removes the directories of earlier runs whose process is gone.
fn remove_stale_dirs() {
    let Ok(entries) = std::fs::read_dir(env!("CARGO_TARGET_TMPDIR")) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(pid) = name.strip_prefix("veo-capi-test-") {
            if !Path::new("/proc").join(pid).exists() {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
}

fn setup() -> &'static Setup {
    static SETUP: OnceLock<Setup> = OnceLock::new();
    SETUP.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("veo-capi-test-{}", std::process::id()));
        remove_stale_dirs();
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        // A copy, so that a rebuild meanwhile cannot change it under us;
        // programs ask for the soname.
        std::fs::copy(libveo(), dir.join("libveo.so")).unwrap();
        std::os::unix::fs::symlink("libveo.so", dir.join("libveo.so.1")).unwrap();
        let kernels = dir.join("libcapi_kernels.so");
        run_checked(
            Command::new("cc")
                .args(["-shared", "-fPIC", "-O1", "-Wall", "-o"])
                .arg(&kernels)
                .arg(crate_dir().join("tests/kernels/capi_kernels.c")),
        );
        // A library that needs the kernels' symbols, next to them.
        run_checked(
            Command::new("cc")
                .args(["-shared", "-fPIC", "-O1", "-Wall", "-o"])
                .arg(dir.join("libcapi_uses_global.so"))
                .arg(crate_dir().join("tests/kernels/capi_uses_global.c")),
        );
        // Kernels using AVEO's VE-side headers, and OpenMP.
        run_checked(
            Command::new("cc")
                .args(["-shared", "-fPIC", "-O1", "-Wall", "-fopenmp", "-I"])
                .arg(crate_dir().join("include/ve"))
                .arg("-o")
                .arg(dir.join("libcapi_ve_side.so"))
                .arg(crate_dir().join("tests/kernels/capi_ve_side.c")),
        );
        Setup { dir, kernels }
    })
}

/// Compiles `tests/c/<name>` (C11 or C++) with warnings as errors, linking
/// only `-lveo` (and pthreads).
fn build(name: &str) -> PathBuf {
    build_with(name, &[])
}

/// [`build`] with more compiler flags.
fn build_with(name: &str, flags: &[&str]) -> PathBuf {
    let s = setup();
    let src = crate_dir().join("tests/c").join(name);
    let exe = s
        .dir
        .join(format!("{}{}", name.replace('.', "_"), flags.join("")));
    let cxx = name.ends_with(".cpp");
    let mut cmd = Command::new(if cxx { "c++" } else { "cc" });
    cmd.arg(if cxx { "-std=c++17" } else { "-std=c11" })
        .args(["-Wall", "-Wextra", "-Werror", "-g", "-I"])
        .arg(crate_dir().join("include"))
        .arg("-I")
        .arg(crate_dir().join("tests/c"))
        .arg("-o")
        .arg(&exe)
        .arg(&src)
        .arg("-L")
        .arg(&s.dir)
        .arg("-lveo")
        .arg(format!("-Wl,-rpath,{}", s.dir.display()))
        .arg("-lpthread")
        .args(flags);
    run_checked(&mut cmd);
    exe
}

/// Runs a test program with the kernels' path; it must exit 0. A program
/// that hangs is killed after a generous limit (a guard, not a timing).
fn run(exe: &Path, env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(exe);
    cmd.arg(&setup().kernels)
        .env_remove("VE_NODE_NUMBER")
        .env_remove("VE_OMP_NUM_THREADS")
        .env_remove("VEORUN_BIN")
        .env_remove("VEO_HELPER")
        .env_remove("_VENODELIST");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", exe.display()));
    let pid = child.id();
    let done = Arc::new(AtomicBool::new(false));
    let watchdog = {
        let done = done.clone();
        std::thread::spawn(move || {
            let until = Instant::now() + Duration::from_secs(300);
            while !done.load(Ordering::Acquire) && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(50));
            }
            if !done.load(Ordering::Acquire) {
                // SAFETY: kill has no memory effects; the child is not yet
                // reaped (wait_with_output below has not returned).
                unsafe { libc::kill(pid as i32, libc::SIGKILL) };
            }
        })
    };
    let out = child.wait_with_output().expect("the test program ran");
    done.store(true, Ordering::Release);
    let _ = watchdog.join();
    assert!(
        out.status.success(),
        "{} failed ({}):\n{}{}",
        exe.display(),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stderr_lines(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn core_procs_libraries_memory_contexts_args_and_calls() {
    let out = run(&build("t_core.c"), &[]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "t_core ok\n");
    // The failures it provokes on purpose, one line each.
    let lines = stderr_lines(&out);
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("[veo] ERROR: veo_get_sym(): ") && l.contains("no_such_symbol")),
        "{lines:?}"
    );
}

#[test]
fn hmem_identifiers_hooks_and_request_blocks() {
    let out = run(&build("t_hmem_hooks.c"), &[]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "t_hmem_hooks ok\n");
}

#[test]
fn hook_keys_match_in_a_position_dependent_program() {
    // `&veo_alloc_mem` in a non-PIE program is its PLT address, which the
    // dynamic linker makes the function's canonical address: the keys the
    // library compares with must be the same.
    let out = run(&build_with("t_hmem_hooks.c", &["-no-pie"]), &[]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "t_hmem_hooks ok\n");
}

#[test]
fn bad_input_gets_aveo_error_values_and_one_line_each() {
    let out = run(&build("t_fail.c"), &[]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "t_fail ok\n");
    let lines = stderr_lines(&out);
    // Every line names the function and the cause, in one line.
    for l in &lines {
        assert!(
            l.starts_with("[veo] ERROR: veo_") && l.contains("(): "),
            "not one of ours: {l:?}\n{lines:?}"
        );
    }
    let has = |f: &str, cause: &str| {
        lines
            .iter()
            .any(|l| l.starts_with(&format!("[veo] ERROR: {f}(): ")) && l.contains(cause))
    };
    assert!(has("veo_num_contexts", "NULL"), "{lines:?}");
    assert!(has("veo_load_library", "VEO_SYMNAME_LEN_MAX"), "{lines:?}");
    assert!(has("veo_get_sym", "VEO_SYMNAME_LEN_MAX"), "{lines:?}");
    assert!(has("veo_args_set_i64", "argument number 256"), "{lines:?}");
    assert!(has("veo_args_set_i64", "negative"), "{lines:?}");
    assert!(has("veo_call_async", "argument 0 was not set"), "{lines:?}");
    assert!(
        has("veo_call_wait_result", "collected already"),
        "{lines:?}"
    );
    assert!(has("veo_args_set_i32", "not live"), "{lines:?}");
    assert!(has("veo_proc_destroy", "not a live proc"), "{lines:?}");
    assert!(has("veo_context_open", "VE_OMP_NUM_THREADS=1"), "{lines:?}");
    assert!(has("veo_read_mem", "invalid VE address"), "{lines:?}");
    assert!(has("veo_req_block_end", "no request block"), "{lines:?}");
    // The crashed request is an exception, not an error line of its own;
    // the requests that could not run say why.
    assert!(has("veo_call_wait_result", "died"), "{lines:?}");
}

#[test]
fn threads_on_one_context_a_thread_per_context_and_memory_from_four_threads() {
    let out = run(&build("t_threads.c"), &[]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "t_threads ok\n");
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn real_ve_only_families_fail_with_enotsup_and_say_so_once() {
    let out = run(&build("t_realve.c"), &[]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "t_realve ok\n");
    let lines = stderr_lines(&out);
    let expect = [
        "veo_shared_mem_open",
        "veo_shmget",
        "veo_dma_post",
        "veo_access_pcircvsyc_register",
    ];
    assert_eq!(lines.len(), expect.len(), "one line per family: {lines:?}");
    for (l, f) in lines.iter().zip(expect) {
        assert!(
            l.starts_with(&format!("[veo] ERROR: {f}(): ")) && l.contains("real VE"),
            "{l:?}"
        );
    }
}

#[test]
fn cxx_program_and_proc_variants() {
    let out = run(&build("t_cxx.cpp"), &[]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "t_cxx ok\n");
}

/// [`run`] of `t_ve_side.c` with `VE_OMP_NUM_THREADS` set to `omp` (unset
/// for `None`): its output names the team size on both nodes.
fn run_ve_side(exe: &Path, omp: Option<&str>, threads: u32) {
    let env: Vec<(&str, &str)> = omp.map(|v| ("VE_OMP_NUM_THREADS", v)).into_iter().collect();
    let out = run(exe, &env);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("node 0 omp threads {threads}\nnode 1 omp threads {threads}\nt_ve_side ok\n")
    );
    // Node 8 is the only failure: one line naming the function and the node.
    let lines = stderr_lines(&out);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with("[veo] ERROR: veo_proc_create(): ")
            && lines[0].contains("VE node 8 does not exist"),
        "{lines:?}"
    );
}

/// One test runs the program both ways: two tests building the same
/// program at once would race on its file.
#[test]
fn ve_side_prev_req_result_openmp_threads_and_two_nodes() {
    let exe = build("t_ve_side.c");
    run_ve_side(&exe, Some("3"), 3);
    // Unset: a VE core group's 8 threads.
    run_ve_side(&exe, None, 8);
}

#[test]
fn stack_arguments_of_each_intent_byte_for_byte() {
    let out = run(&build("t_intents.c"), &[]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "t_intents ok\n");
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A file with the 64-byte ELF header of a VE executable (`e_machine` 251,
/// what ncc writes for AVEO's `aveorun`), padded to 4 KiB, executable.
fn ve_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mut h = vec![0u8; 4096];
    h[..4].copy_from_slice(b"\x7fELF");
    h[4] = 2; // ELFCLASS64
    h[5] = 1; // ELFDATA2LSB
    h[6] = 1; // EV_CURRENT
    h[16..18].copy_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    h[18..20].copy_from_slice(&251u16.to_le_bytes()); // EM_VE
    h[20..24].copy_from_slice(&1u32.to_le_bytes());
    h[52..54].copy_from_slice(&64u16.to_le_bytes()); // e_ehsize
    std::fs::write(path, h).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn veorun_bin_naming_a_ve_program_fails_at_once_with_one_line() {
    let aveorun = setup().dir.join("aveorun");
    ve_executable(&aveorun);
    let exe = build("t_veorun_ve.c");
    let out = run(&exe, &[("VEORUN_BIN", aveorun.to_str().unwrap())]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "t_veorun_ve ok\n");
    let lines = stderr_lines(&out);
    assert_eq!(lines.len(), 2, "one line per call: {lines:?}");
    for l in &lines {
        assert!(
            l.starts_with("[veo] ERROR: veo_proc_create(): ")
                && l.contains(aveorun.to_str().unwrap())
                && l.contains("built for a real VE"),
            "{lines:?}"
        );
    }
}

/// Builds `tests/kernels/<src>` into `<dir>/<lib>` with `compiler` and
/// `flags`.
fn kernel_library(compiler: &str, src: &str, lib: &str, flags: &[&str]) -> PathBuf {
    let out = setup().dir.join(lib);
    run_checked(
        Command::new(compiler)
            .args(["-shared", "-fPIC"])
            .args(flags)
            .arg("-o")
            .arg(&out)
            .arg(crate_dir().join("tests/kernels").join(src)),
    );
    out
}

#[test]
fn float_and_double_results_read_as_on_a_ve_from_debug_information() {
    let g = kernel_library("cc", "capi_float.c", "libcapi_float_g.so", &["-O2", "-g"]);
    let nog = kernel_library("cc", "capi_float.c", "libcapi_float.so", &["-O2"]);
    let cxx = kernel_library(
        "c++",
        "capi_float_cxx.cpp",
        "libcapi_float_cxx.so",
        &["-O2", "-g"],
    );
    // Fortran where gfortran is installed (CI may lack it).
    let have_gfortran = Command::new("gfortran")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let fortran = have_gfortran.then(|| {
        kernel_library(
            "gfortran",
            "capi_float_f.f90",
            "libcapi_float_f.so",
            &["-O2", "-g"],
        )
    });
    let fortran = fortran
        .as_deref()
        .map_or(String::new(), |p| p.display().to_string());
    let out = run(
        &build("t_float.c"),
        &[
            ("T_FLOAT_G", g.to_str().unwrap()),
            ("T_FLOAT_NOG", nog.to_str().unwrap()),
            ("T_FLOAT_CXX", cxx.to_str().unwrap()),
            ("T_FLOAT_F", &fortran),
            ("VEO_RESULT_TYPES", "warn"),
        ],
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "t_float ok\n");
    // Only the library without debug information is reported: once for
    // its one function looked up (twice).
    let lines = stderr_lines(&out);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with("[veo] WARNING: veo_get_sym(): ")
            && lines[0].contains("\"i64_sum\"")
            && lines[0].contains(nog.to_str().unwrap())
            && lines[0].contains("-g"),
        "{lines:?}"
    );
}
