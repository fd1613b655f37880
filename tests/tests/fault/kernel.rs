//! Kernels that fault (docs/RELIABILITY.md, "A kernel that faults fails its
//! request, and only its proc"): SIGSEGV, SIGFPE, abort, exit; and
//! SIGILL, SIGBUS, a stack overflow, the rest of what the helper catches, each
//! through an asynchronous call on a context and through a synchronous call
//! on the proc. The request gets an error naming the signal (and address) or
//! the exit status; the VH lives on; a second proc running alongside keeps
//! working; every later use of the dead proc fails at once.

use super::util::{self, assert_answers, guard, kernel, mix, wait_gone};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use veo_runtime::{Args, ContextState, Error, Proc, VePtr};

#[derive(Clone, Copy, Debug)]
enum Fault {
    /// Write through a null pointer plus this byte offset.
    NullWrite(u64),
    DivideByZero,
    Abort,
    Exit(i32),
    Illegal,
    Bus,
    StackOverflow,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Via {
    Context,
    Sync,
}

/// Runs `fault` on a fresh proc while a second proc works alongside, and
/// checks everything item 1 promises.
fn fault_case(fault: Fault, via: Via) {
    let _g = guard("fault case", Duration::from_secs(120));
    let victim = Proc::new(0).unwrap();
    let bystander = Proc::new(0).unwrap();
    let helper_pid = victim.pid();

    // The bystander works on another thread for the whole test.
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        let worker = s.spawn(|| {
            let f = kernel(&bystander, "fault_mix");
            let ctx = bystander.open_context().unwrap();
            let mut n = 0u64;
            while !stop.load(Ordering::Acquire) || n < 100 {
                let mut args = Args::new();
                args.u64(n);
                let r: u64 = ctx.call(&f, args).unwrap().wait().unwrap();
                assert_eq!(r, mix(n));
                n += 1;
            }
            n
        });

        // Stops the bystander even when an assertion below fails.
        struct StopOnDrop<'a>(&'a AtomicBool);
        impl Drop for StopOnDrop<'_> {
            fn drop(&mut self) {
                self.0.store(true, Ordering::Release);
            }
        }
        let _stop = StopOnDrop(&stop);

        let lib = util::kernels(&victim);
        let ctx = victim.open_context().unwrap();
        // A request queued on another context of the victim, blocked in a
        // kernel until a flag that is never set: it must fail too.
        let other = victim.open_context().unwrap();
        let flag = victim.alloc::<i64>(1).unwrap();
        victim.write(&flag, &[0]).unwrap();
        let wait_flag = lib.function("fault_wait_flag").unwrap();
        let mut args = Args::new();
        args.ptr(flag.as_ptr());
        let blocked = other.call::<i64>(&wait_flag, args).unwrap();

        let (name, mut args) = match fault {
            Fault::NullWrite(off) => {
                let mut a = Args::new();
                a.ptr(VePtr::<i64>::new(off)).i64(1);
                ("fault_write_at", a)
            }
            Fault::DivideByZero => {
                let mut a = Args::new();
                a.i32(7).i32(0);
                ("fault_divide", a)
            }
            Fault::Abort => ("fault_abort", Args::new()),
            Fault::Illegal => ("fault_illegal", Args::new()),
            Fault::Bus => ("fault_bus", Args::new()),
            Fault::StackOverflow => {
                let mut a = Args::new();
                a.i64(0);
                ("fault_recurse", a)
            }
            Fault::Exit(code) => {
                let mut a = Args::new();
                a.i32(code);
                ("fault_exit", a)
            }
        };
        let f = lib.function(name).unwrap();
        let err = match via {
            Via::Context => ctx
                .call::<i32>(&f, std::mem::take(&mut args))
                .unwrap()
                .wait()
                .unwrap_err(),
            Via::Sync => victim
                .call_sync::<i32>(&f, std::mem::take(&mut args))
                .unwrap_err(),
        };
        let msg = err.to_string();
        match fault {
            Fault::NullWrite(off) => {
                assert!(
                    matches!(err, Error::KernelException { signal: libc::SIGSEGV, signal_name: "SIGSEGV", addr } if addr == off),
                    "{err:?}"
                );
                assert!(
                    msg.contains("SIGSEGV") && msg.contains(&format!("{off:#x}")),
                    "{msg}"
                );
            }
            Fault::DivideByZero => {
                // For SIGFPE the address is the faulting instruction: inside
                // the kernel's code.
                let Error::KernelException {
                    signal,
                    signal_name,
                    addr,
                } = err
                else {
                    panic!("{err:?}");
                };
                assert_eq!((signal, signal_name), (libc::SIGFPE, "SIGFPE"));
                assert!(
                    (f.addr()..f.addr() + 4096).contains(&addr),
                    "SIGFPE at {addr:#x}, the kernel starts at {:#x}",
                    f.addr()
                );
                assert!(msg.contains("SIGFPE"), "{msg}");
            }
            Fault::Abort => {
                assert!(
                    matches!(
                        err,
                        Error::KernelException {
                            signal: libc::SIGABRT,
                            signal_name: "SIGABRT",
                            ..
                        }
                    ),
                    "{err:?}"
                );
                assert!(msg.contains("SIGABRT"), "{msg}");
            }
            Fault::Illegal => {
                let Error::KernelException {
                    signal,
                    signal_name,
                    addr,
                } = err
                else {
                    panic!("{err:?}");
                };
                assert_eq!((signal, signal_name), (libc::SIGILL, "SIGILL"));
                assert!(
                    (f.addr()..f.addr() + 4096).contains(&addr),
                    "SIGILL at {addr:#x}"
                );
            }
            Fault::Bus => {
                let Error::KernelException {
                    signal,
                    signal_name,
                    addr,
                } = err
                else {
                    panic!("{err:?}");
                };
                assert_eq!((signal, signal_name), (libc::SIGBUS, "SIGBUS"));
                assert!(addr != 0 && addr % 4096 == 0, "SIGBUS at {addr:#x}");
            }
            Fault::StackOverflow => {
                assert!(
                    matches!(err, Error::KernelException { signal: libc::SIGSEGV, addr, .. } if addr != 0),
                    "{err:?}"
                );
            }
            Fault::Exit(code) => {
                let Error::HelperDied { pid, ref status } = err else {
                    panic!("{err:?}");
                };
                assert_eq!(pid, helper_pid);
                assert!(
                    status.contains(&format!("exited with status {code}")),
                    "{status}"
                );
                assert!(status.contains("exit()"), "{status}");
            }
        }

        // The other pending request fails too, naming how the helper died.
        let e = blocked.wait().unwrap_err();
        assert!(
            matches!(e, Error::HelperDied { pid, .. } if pid == helper_pid),
            "{e:?}"
        );

        // Every later use of the dead proc fails at once.
        assert!(!victim.is_alive());
        assert_eq!(ctx.state(), ContextState::Dead);
        let dead = |r: Result<(), Error>, what: &str| match r {
            Err(Error::HelperDied { pid, .. }) if pid == helper_pid => {}
            other => panic!("{what} on a dead proc: {other:?}"),
        };
        let add = lib.function("add_i64");
        // Symbols were cached before the fault only for what was looked up;
        // a new look-up must fail, not hang.
        assert!(add.is_err(), "symbol look-up on a dead proc: {add:?}");
        dead(ctx.call::<i32>(&f, Args::new()).map(drop), "call");
        dead(
            victim.call_sync::<i32>(&f, Args::new()).map(drop),
            "call_sync",
        );
        dead(victim.alloc::<u8>(8).map(drop), "alloc");
        dead(victim.write(&flag, &[1]), "write");
        dead(victim.read(&mut [0i64], &flag), "read");
        dead(victim.open_context().map(drop), "open_context");
        dead(ctx.sync(), "sync");
        dead(ctx.alloc_async(8).map(drop), "alloc_async");
        dead(
            victim.load_library(veo_tests::KERNELS).map(drop),
            "load_library",
        );

        // The helper process is gone (reaped by the runtime).
        assert!(
            wait_gone(helper_pid, Duration::from_secs(10)).is_some(),
            "helper {helper_pid} still running"
        );

        drop(_stop);
        let calls = worker.join().unwrap();
        assert!(calls >= 100);
    });
    // The bystander is unharmed.
    assert!(bystander.is_alive());
    assert_answers(&bystander);
}

#[test]
fn null_write_async() {
    fault_case(Fault::NullWrite(0), Via::Context);
}

#[test]
fn null_write_sync() {
    // A null struct pointer's member: the address tells them apart.
    fault_case(Fault::NullWrite(0x28), Via::Sync);
}

#[test]
fn divide_by_zero_async() {
    fault_case(Fault::DivideByZero, Via::Context);
}

#[test]
fn divide_by_zero_sync() {
    fault_case(Fault::DivideByZero, Via::Sync);
}

#[test]
fn abort_async() {
    fault_case(Fault::Abort, Via::Context);
}

#[test]
fn abort_sync() {
    fault_case(Fault::Abort, Via::Sync);
}

#[test]
fn exit_async() {
    fault_case(Fault::Exit(3), Via::Context);
}

#[test]
fn exit_sync() {
    fault_case(Fault::Exit(3), Via::Sync);
}

#[test]
fn illegal_instruction_async() {
    fault_case(Fault::Illegal, Via::Context);
}

#[test]
fn illegal_instruction_sync() {
    fault_case(Fault::Illegal, Via::Sync);
}

#[test]
fn bus_error_async() {
    fault_case(Fault::Bus, Via::Context);
}

#[test]
fn bus_error_sync() {
    fault_case(Fault::Bus, Via::Sync);
}

#[test]
fn stack_overflow_async() {
    fault_case(Fault::StackOverflow, Via::Context);
}

#[test]
fn stack_overflow_sync() {
    fault_case(Fault::StackOverflow, Via::Sync);
}
