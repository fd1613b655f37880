//! Misuse (docs/RELIABILITY.md, "Misuse is refused before anything reaches
//! the VE"). Calls after a context is closed (impossible by
//! the types: see veo-macros/tests/ui/compiler/) or after its proc was
//! dropped (an error), 257 arguments, a stack image larger than the call
//! frame area, files that are not shared objects, a library with unresolved
//! symbols, and names containing NUL bytes: each an error through every
//! entry point, nothing queued, and the helper still answers.

use super::util::{self, assert_answers, guard, kernel};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use veo_runtime::{Args, Closable, ContextState, Error, Proc};

/// A fresh directory for files this test makes.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("veo-fault-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn uses_after_the_proc_is_dropped_are_errors() {
    let _g = guard("use after drop", Duration::from_secs(60));
    let proc = Proc::new(0).unwrap();
    let lib = util::kernels(&proc);
    let f = lib.function("fault_inc").unwrap();
    let ctx = proc.open_context().unwrap();
    let buf = proc.alloc::<u64>(4).unwrap();
    drop(proc);

    assert_eq!(ctx.state(), ContextState::Closed);
    let closed = |r: Result<(), Error>, what: &str| match r {
        Err(Error::Closed(Closable::Proc)) => {}
        other => panic!("{what} after the proc was dropped: {other:?}"),
    };
    let mut args = Args::new();
    args.u64(1);
    closed(ctx.call::<u64>(&f, args).map(drop), "call");
    closed(
        ctx.call_by_name::<u64>("fault_inc", Args::new()).map(drop),
        "call_by_name",
    );
    closed(ctx.sync(), "sync");
    closed(ctx.write_async(&buf, &[1, 2]).map(drop), "write_async");
    closed(ctx.read_async(&mut [0u64; 2], &buf).map(drop), "read_async");
    closed(ctx.alloc_async(8).map(drop), "alloc_async");
    closed(ctx.free_async(buf.as_ptr()).map(drop), "free_async");
    closed(ctx.call_vh(|| 1).map(drop), "call_vh");
    closed(lib.function("add_i64").map(drop), "symbol look-up");
    closed(lib.unload(), "unload");
    // Dropping what outlived the proc neither blocks nor panics.
    drop(buf);
    drop(ctx);
    drop(lib);
}

#[test]
fn functions_of_another_proc_or_an_unloaded_library_are_refused() {
    let _g = guard("foreign functions", Duration::from_secs(60));
    let a = Proc::new(0).unwrap();
    let b = Proc::new(0).unwrap();
    let fa = kernel(&a, "fault_inc");
    let ctx_b = b.open_context().unwrap();
    // The same address might well exist in b: it must still be refused.
    let e = ctx_b.call::<u64>(&fa, Args::new()).unwrap_err();
    assert!(
        matches!(e, Error::WrongProc { ref function } if function == "fault_inc"),
        "{e:?}"
    );
    assert!(e.to_string().contains("another proc"), "{e}");
    let e = b.call_sync::<u64>(&fa, Args::new()).unwrap_err();
    assert!(matches!(e, Error::WrongProc { .. }), "{e:?}");

    let lib = a.load_library(veo_tests::KERNELS).unwrap();
    let f = lib.function("fault_inc").unwrap();
    lib.unload().unwrap();
    let ctx_a = a.open_context().unwrap();
    let e = ctx_a.call::<u64>(&f, Args::new()).unwrap_err();
    assert!(
        matches!(e, Error::LibraryUnloaded { ref path } if path == veo_tests::KERNELS),
        "{e:?}"
    );
    assert!(matches!(lib.unload(), Err(Error::LibraryUnloaded { .. })));
    assert_answers(&a);
    assert_answers(&b);
}

fn args_257() -> Args<'static> {
    let mut a = Args::new();
    for i in 0..257 {
        a.i64(i);
    }
    a
}

#[test]
fn two_hundred_fifty_seven_arguments_through_every_entry_point() {
    let _g = guard("257 arguments", Duration::from_secs(60));
    let proc = Proc::new(0).unwrap();
    let ctx = proc.open_context().unwrap();
    let many = kernel(&proc, "macro_many");
    let too_many = |r: Result<(), Error>, what: &str| match r {
        Err(Error::TooManyArguments {
            count: 257,
            max: 256,
        }) => {}
        other => panic!("{what} with 257 arguments: {other:?}"),
    };
    too_many(ctx.call::<i64>(&many, args_257()).map(drop), "call");
    too_many(
        proc.call_sync::<i64>(&many, args_257()).map(drop),
        "call_sync",
    );
    too_many(
        ctx.call_by_name::<i64>("macro_many", args_257()).map(drop),
        "call_by_name",
    );
    too_many(
        proc.call_sync_by_name::<i64>("macro_many", args_257())
            .map(drop),
        "call_sync_by_name",
    );
    // In a batch, one bad call refuses the whole batch: nothing is queued.
    let mut ok = Args::new();
    for i in 0..256 {
        ok.i64(i);
    }
    let batch = vec![(&many, ok), (&many, args_257())];
    too_many(ctx.call_batch::<i64>(batch).map(drop), "call_batch");
    // 256 still work, and the context's queue holds nothing stray.
    let mut ok = Args::new();
    for _ in 0..256 {
        ok.i64(1);
    }
    // sum of (i + 1) for i in 0..256
    assert_eq!(ctx.call::<i64>(&many, ok).unwrap().wait().unwrap(), 32896);
    ctx.sync().unwrap();
    assert_answers(&proc);
}

#[test]
fn stack_images_larger_than_the_call_frame_area() {
    let _g = guard("stack too large", Duration::from_secs(60));
    const FRAME: u64 = 64 << 10;
    let proc = Proc::builder().stack_size(FRAME).build().unwrap();
    let ctx = proc.open_context().unwrap();
    let sum = kernel(&proc, "fault_sum_bytes");
    let reference = |b: &[u8]| {
        b.iter()
            .fold(0u64, |s, &x| s.wrapping_mul(31).wrapping_add(x as u64))
    };
    let exact = vec![3u8; FRAME as usize];
    let over = vec![3u8; FRAME as usize + 1];
    let too_large = |r: Result<(), Error>, what: &str| match r {
        Err(Error::StackTooLarge { size, max }) => {
            assert!(
                size as u64 > FRAME && max as u64 == FRAME,
                "{what}: {size} {max}"
            );
        }
        other => panic!("{what}: {other:?}"),
    };
    let one = |b: &[u8]| {
        let mut a = Args::new();
        a.stack_in(b).u64(b.len() as u64);
        a
    };
    too_large(ctx.call::<u64>(&sum, one(&over)).map(drop), "call");
    too_large(
        proc.call_sync::<u64>(&sum, one(&over)).map(drop),
        "call_sync",
    );
    too_large(
        ctx.call_batch::<u64>(vec![(&sum, one(&exact)), (&sum, one(&over))])
            .map(drop),
        "call_batch",
    );
    // Two buffers that fit alone but not together (with alignment).
    let half = vec![1u8; FRAME as usize / 2 + 8];
    let mut two = Args::new();
    two.stack_in(&half).stack_in(&half);
    too_large(ctx.call::<u64>(&sum, two).map(drop), "two buffers");
    // An OUT buffer counts too, though nothing is sent for it.
    let mut out = vec![0u8; FRAME as usize + 16];
    let mut a = Args::new();
    a.stack_out(&mut out).u64(0);
    too_large(ctx.call::<u64>(&sum, a).map(drop), "OUT buffer");

    // Exactly the frame area works, through both paths.
    let want = reference(&exact);
    assert_eq!(
        ctx.call::<u64>(&sum, one(&exact)).unwrap().wait().unwrap(),
        want
    );
    assert_eq!(proc.call_sync::<u64>(&sum, one(&exact)).unwrap(), want);
    assert_answers(&proc);
}

#[test]
fn files_that_are_not_shared_objects() {
    let _g = guard("not shared objects", Duration::from_secs(60));
    let proc = Proc::new(0).unwrap();
    let dir = scratch("notso");
    let text = dir.join("libtext.so");
    std::fs::write(&text, "this is not an ELF file\n").unwrap();
    let empty = dir.join("libempty.so");
    std::fs::write(&empty, "").unwrap();
    // A truncated copy of a real library: a valid ELF header, then nothing.
    let truncated = dir.join("libtruncated.so");
    let real = std::fs::read(veo_tests::KERNELS).unwrap();
    std::fs::write(&truncated, &real[..200]).unwrap();
    // A relocatable object, not a shared object.
    let src = dir.join("obj.c");
    std::fs::write(&src, "int fault_obj(void) { return 1; }\n").unwrap();
    let obj = dir.join("obj.o");
    let st = Command::new("cc")
        .args(["-c", "-fpic", "-o"])
        .arg(&obj)
        .arg(&src)
        .status()
        .unwrap();
    assert!(st.success());
    let missing = dir.join("libmissing.so");

    for path in [&text, &empty, &truncated, &obj, &dir, &missing] {
        match proc.load_library(path) {
            Err(Error::LibraryNotFound { path: p, message }) => {
                assert_eq!(Path::new(&p), path.as_path());
                // The loader's own message, which names the file.
                let file = path.file_name().unwrap().to_str().unwrap();
                assert!(message.contains(file), "{path:?}: {message}");
            }
            other => panic!("loading {path:?}: {other:?}"),
        }
    }
    assert!(
        proc.libraries().is_empty(),
        "a failed load left a library behind"
    );
    assert_answers(&proc);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_library_with_unresolved_symbols_fails_to_load() {
    let _g = guard("unresolved symbols", Duration::from_secs(60));
    let dir = scratch("unresolved");
    let src = dir.join("unresolved.c");
    std::fs::write(
        &src,
        "extern int veo_fault_nowhere(int);\n\
         int fault_uses_nowhere(int x) { return veo_fault_nowhere(x); }\n",
    )
    .unwrap();
    let so = dir.join("libunresolved.so");
    // Shared objects may leave symbols undefined at link time.
    let st = Command::new("cc")
        .args(["-shared", "-fpic", "-o"])
        .arg(&so)
        .arg(&src)
        .status()
        .unwrap();
    assert!(st.success());

    let proc = Proc::new(0).unwrap();
    match proc.load_library(&so) {
        Err(Error::LibraryNotFound { message, .. }) => {
            // Found at load time (RTLD_NOW), not in the middle of a call.
            assert!(message.contains("veo_fault_nowhere"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert_answers(&proc);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn names_with_nul_bytes_are_refused_everywhere() {
    let _g = guard("NUL names", Duration::from_secs(60));
    let proc = Proc::new(0).unwrap();
    let ctx = proc.open_context().unwrap();
    let lib = util::kernels(&proc);
    let invalid = |r: Result<(), Error>, what: &str| match r {
        Err(Error::InvalidArgument(m)) => assert!(m.contains("NUL"), "{what}: {m}"),
        other => panic!("{what}: {other:?}"),
    };
    let with_nul = format!("{}\0.so", veo_tests::KERNELS);
    invalid(proc.load_library(&with_nul).map(drop), "load_library");
    invalid(lib.function("fault_inc\0").map(drop), "function");
    invalid(lib.symbol("\0fault_inc").map(drop), "symbol");
    invalid(proc.get_function("fault\0inc").map(drop), "get_function");
    invalid(
        ctx.call_by_name::<u64>("fault_inc\0", Args::new())
            .map(drop),
        "call_by_name",
    );
    invalid(
        proc.call_sync_by_name::<u64>("fault_inc\0", Args::new())
            .map(drop),
        "call_sync_by_name",
    );
    // Without the NUL, the name is fine.
    let mut args = Args::new();
    args.u64(1);
    assert_eq!(
        ctx.call_by_name::<u64>("fault_inc", args)
            .unwrap()
            .wait()
            .unwrap(),
        2
    );
    assert_answers(&proc);
}
