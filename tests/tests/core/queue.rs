//! Requests kept by id (`RequestQueue`, `ContextList`), argument lists set
//! by position (`ArgList`), HMEM addresses and memory hooks: the Rust items
//! under libveo's C API.
//! Kernels: tests/kernels/basic.c, core_stack.c.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use veo_runtime::{
    hmem, remove_memory_hook, set_memory_hook, ArgList, Closable, Collected, ContextList,
    ContextState, Error, Intent, MemoryOp, Proc, RequestQueue, VePtr,
};
use veo_tests::KERNELS;

fn setup() -> (Proc, veo_runtime::Library) {
    let proc = Proc::new(0).unwrap();
    let lib = proc.load_library(KERNELS).unwrap();
    (proc, lib)
}

fn addr(lib: &veo_runtime::Library, name: &str) -> u64 {
    lib.symbol(name).unwrap().addr()
}

fn done<T>(c: Collected<T>) -> (u64, Vec<Vec<u8>>, T) {
    match c {
        Collected::Done {
            result: Ok(v),
            outs,
            tag,
        } => (v, outs, tag),
        Collected::Done { result: Err(e), .. } => panic!("request failed: {e}"),
        Collected::Unknown => panic!("unknown request"),
        Collected::Unfinished => panic!("unfinished request"),
    }
}

#[test]
fn request_ids_count_from_zero_and_each_result_is_collected_once() {
    let (proc, lib) = setup();
    let q = RequestQueue::<&str>::open(&proc).unwrap();
    let mut args = ArgList::new();
    args.set_i64(1, 2).unwrap();
    args.set_i64(0, 40).unwrap();
    let add = addr(&lib, "add_i64");
    assert_eq!(q.call(add, &args, "first").unwrap(), 0);
    args.set_i64(1, -40).unwrap();
    assert_eq!(q.call(add, &args, "second").unwrap(), 1);
    assert_eq!(done(q.wait(1)), (0, vec![], "second"));
    assert!(matches!(q.wait(1), Collected::Unknown));
    assert!(matches!(q.peek(9), Collected::Unknown));
    q.sync().unwrap();
    assert_eq!(done(q.peek(0)), (42, vec![], "first"));
    assert!(!q.has_pending());
    assert!(q.call(0, &args, "null").is_err());
}

#[test]
fn finished_results_never_collected_are_not_pending() {
    // AVEO's Test 3 leaves results uncollected: once seen finished, they
    // must not count as pending (which makes every synchronous call of
    // libveo wait for the main context first).
    let (proc, lib) = setup();
    let q = RequestQueue::<u64>::open(&proc).unwrap();
    let add = addr(&lib, "add_i64");
    let mut args = ArgList::new();
    args.set_i64(1, 1).unwrap();
    for i in 0..5 {
        args.set_i64(0, i).unwrap();
        assert_eq!(q.call(add, &args, i as u64).unwrap(), i as u64);
    }
    assert!(q.has_pending());
    q.sync().unwrap();
    assert!(!q.has_pending());
    // Still there to collect, each once, in any order.
    assert_eq!(done(q.peek(3)), (4, vec![], 3));
    assert_eq!(done(q.wait(0)), (1, vec![], 0));
    assert!(matches!(q.wait(0), Collected::Unknown));
    args.set_i64(0, 10).unwrap();
    let id = q.call(add, &args, 10).unwrap();
    // Not seen finished yet: pending, whether or not it has run.
    assert!(q.has_pending());
    assert_eq!(done(q.wait(id)), (11, vec![], 10));
    assert!(!q.has_pending());
    assert_eq!(done(q.wait(4)), (5, vec![], 4));
}

#[test]
fn results_left_uncollected_through_syncs_and_spills_keep_their_values() {
    // A program collecting three calls of four and syncing now and then:
    // the forgotten ones leave the queue's window (more than it holds go
    // by) and are seen finished by syncs that walk only what is new; each
    // is still collected once, with its own result, in any order.
    let (proc, lib) = setup();
    let q = RequestQueue::<u64>::open(&proc).unwrap();
    let add = addr(&lib, "add_i64");
    let mut args = ArgList::new();
    args.set_i64(1, 1000).unwrap();
    let mut forgotten = Vec::new();
    for i in 0..100_000u64 {
        args.set_i64(0, i as i64).unwrap();
        let id = q.call(add, &args, i).unwrap();
        if i % 4 == 0 {
            forgotten.push(id);
        } else {
            assert_eq!(done(q.wait(id)), (i + 1000, vec![], i));
        }
        if i % 25_000 == 24_999 {
            q.sync().unwrap();
            assert!(!q.has_pending());
        }
    }
    // Peeked, waited for, in reverse order; each once.
    for (k, &id) in forgotten.iter().enumerate().rev() {
        let i = 4 * k as u64;
        let got = if k % 2 == 0 { q.peek(id) } else { q.wait(id) };
        assert_eq!(done(got), (i + 1000, vec![], i));
        assert!(matches!(q.peek(id), Collected::Unknown));
    }
    assert!(!q.has_pending());
}

#[test]
fn out_and_inout_bytes_come_back_in_argument_order_and_the_list_is_reusable() {
    let (proc, lib) = setup();
    let q = RequestQueue::<()>::open(&proc).unwrap();
    let mut args = ArgList::new();
    // core_out_fill(p, n, poison): counts poisoned bytes on entry (none:
    // OUT is not copied in), then writes p[i] = i * 7 + 3.
    args.set_stack(0, Intent::Out, &[7u8; 16]).unwrap();
    args.set_u64(1, 16).unwrap();
    args.set_u8(2, 7).unwrap();
    let id = q.call(addr(&lib, "core_out_fill"), &args, ()).unwrap();
    args.clear();
    let (seen, outs, ()) = done(q.wait(id));
    assert_eq!(seen, 0, "OUT bytes are not copied in");
    let want: Vec<u8> = (0..16u8).map(|i| i * 7 + 3).collect();
    assert_eq!(outs, vec![want]);
    // Every intent at once, set out of order: OUT then INOUT come back.
    let input: Vec<u8> = (1..=8).collect();
    let inout: Vec<u8> = (100..108).collect();
    args.set_stack(6, Intent::InOut, &inout).unwrap();
    args.set_u64(7, 8).unwrap();
    args.set_stack(3, Intent::Out, &[0; 8]).unwrap();
    args.set_u64(4, 8).unwrap();
    args.set_f64(5, 0.5).unwrap();
    args.set_stack(0, Intent::In, &input).unwrap();
    args.set_u64(1, 8).unwrap();
    args.set_i32(2, -7).unwrap();
    let id = q.call(addr(&lib, "core_intents"), &args, ()).unwrap();
    let (bad, outs, ()) = done(q.wait(id));
    assert_eq!(bad as u32, 0);
    assert_eq!(outs[0], input.iter().map(|b| b * 2).collect::<Vec<u8>>());
    assert_eq!(outs[1], inout.iter().map(|b| b + 1).collect::<Vec<u8>>());
    // The same list, synchronously on the proc.
    let mut args = ArgList::new();
    args.set_stack(0, Intent::In, bytemuck_i64(&[1, 2, 3]))
        .unwrap();
    args.set_u64(1, 3).unwrap();
    let (v, outs) = proc
        .call_sync_list(addr(&lib, "core_in_sum"), &args)
        .unwrap();
    assert_eq!((v, outs.len()), (6, 0));
}

fn bytemuck_i64(v: &[i64]) -> &[u8] {
    // SAFETY: i64 has no padding and any byte is a valid u8.
    unsafe { std::slice::from_raw_parts(v.as_ptr() as *const u8, std::mem::size_of_val(v)) }
}

#[test]
fn memory_requests_read_write_alloc_free_in_queue_order() {
    let (proc, _lib) = setup();
    let q = RequestQueue::<u8>::open(&proc).unwrap();
    let a = q.alloc(64, 1).unwrap();
    let (ve, _, tag) = done(q.wait(a));
    assert_eq!(tag, 1);
    let w = q.write(ve, &[5u8; 64], 2).unwrap();
    let r = q.read(ve, 64, 3).unwrap();
    let f = q.free(ve, 4).unwrap();
    assert_eq!(done(q.wait(w)).0, 0);
    assert_eq!(done(q.wait(r)).1, vec![vec![5u8; 64]]);
    done(q.wait(f));
    let bad = q.read(0xdead_0000, 8, 5).unwrap();
    assert!(matches!(
        q.wait(bad),
        Collected::Done { result: Err(_), .. }
    ));
}

#[test]
fn bytes_reach_on_done_at_sync_before_collection_and_only_once() {
    let (proc, _lib) = setup();
    let q = RequestQueue::<u8>::open(&proc).unwrap();
    let got = Arc::new(std::sync::Mutex::new(Vec::new()));
    let g = got.clone();
    q.on_done(move |tag, outs| g.lock().unwrap().push((*tag, outs.to_vec())));
    let ve = done(q.wait(q.alloc(8, 1).unwrap())).0;
    let w = q.write(ve, &[3u8; 8], 2).unwrap();
    let r = q.read(ve, 8, 3).unwrap();
    q.sync().unwrap();
    // Only the read has bytes: the allocation and the write have nothing
    // to deliver.
    let seen = got.lock().unwrap().clone();
    assert_eq!(seen, vec![(3, vec![vec![3u8; 8]])]);
    // Collected later: the result is kept, the bytes are not delivered twice.
    assert_eq!(done(q.wait(r)).1, vec![vec![3u8; 8]]);
    done(q.peek(w));
    assert_eq!(got.lock().unwrap().len(), 1);
}

#[test]
fn the_first_context_of_a_list_is_the_main_one_and_stays() {
    let (proc, _lib) = setup();
    let list = ContextList::<()>::new();
    assert!(list.main().is_none());
    let main = list.open(&proc).unwrap();
    let other = list.open(&proc).unwrap();
    assert_eq!(list.len(), 2);
    assert!(list.is_main(&main) && !list.is_main(&other));
    assert!(Arc::ptr_eq(&list.get(1).unwrap(), &other));
    assert!(list.close(&main).unwrap());
    assert_eq!(list.len(), 2, "closing the main context does nothing");
    assert!(list.close(&other).unwrap());
    assert_eq!(list.len(), 1);
    assert_eq!(other.state(), ContextState::Closed);
    assert!(matches!(
        other.alloc(8, ()),
        Err(Error::Closed(Closable::Context))
    ));
    assert_eq!(main.state(), ContextState::Running);
}

#[test]
fn a_request_block_keeps_other_threads_out() {
    let (proc, lib) = setup();
    let q = RequestQueue::<()>::open(&proc).unwrap();
    let add = addr(&lib, "add_i64");
    let mut args = ArgList::new();
    args.set_i64(0, 1).unwrap();
    args.set_i64(1, 1).unwrap();
    q.begin_block();
    assert_eq!(q.call(add, &args, ()).unwrap(), 0);
    let other = std::thread::scope(|s| {
        let h = s.spawn(|| q.call(add, &args, ()).unwrap());
        // Whatever the other thread does meanwhile, it cannot get id 1.
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert_eq!(q.call(add, &args, ()).unwrap(), 1);
        assert!(q.end_block());
        h.join().unwrap()
    });
    assert_eq!(other, 2);
    assert!(!q.end_block(), "no block left");
    for id in 0..3 {
        assert_eq!(done(q.wait(id)).0, 2);
    }
}

#[test]
fn hmem_addresses_carry_the_proc_and_copy_in_every_direction() {
    let (p0, _) = setup();
    let (p1, _) = setup();
    let (i0, i1) = (p0.identifier().unwrap(), p1.identifier().unwrap());
    assert_ne!(i0, i1);
    let h0 = p0.alloc_hmem(32).unwrap();
    assert!(hmem::is_ve_addr(h0));
    assert_eq!(hmem::identifier_of(h0), Some(i0));
    assert_eq!(hmem::proc_of(h0).unwrap().pid(), p0.pid());
    let src = [9u8; 32];
    let mut back = [0u8; 32];
    // SAFETY: host buffers of 32 bytes.
    unsafe {
        hmem::hmemcpy(h0, src.as_ptr() as u64, 32).unwrap();
        hmem::hmemcpy(back.as_mut_ptr() as u64, h0, 32).unwrap();
    }
    assert_eq!(back, src);
    let mut plain = [0u8; 32];
    p0.read(&mut plain[..], VePtr::<u8>::new(hmem::strip(h0)))
        .unwrap();
    assert_eq!(plain, src);
    let h1 = p1.alloc_hmem(32).unwrap();
    // SAFETY: both are VE addresses.
    assert!(unsafe { hmem::hmemcpy(h1, h0, 32) }.is_err());
    hmem::free_hmem(h0).unwrap();
    hmem::free_hmem(h1).unwrap();
    let pid1 = p1.pid();
    drop(p1);
    // The slot is free (a proc of a test running alongside may take it).
    assert!(hmem::proc_by_identifier(i1).is_none_or(|p| p.pid() != pid1));
}

#[test]
fn memory_hooks_run_after_alloc_and_free() {
    let (proc, _) = setup();
    let pid = proc.pid();
    let seen = Arc::new(AtomicU64::new(0));
    let s = seen.clone();
    set_memory_hook(MemoryOp::Alloc, move |e| {
        // Hooks are global: count only this test's proc.
        if e.proc.pid() == pid && e.context.is_none() {
            s.fetch_add(e.size, Ordering::SeqCst);
        }
    });
    let p = proc.alloc_mem(100).unwrap();
    let q = proc.alloc_mem(23).unwrap();
    assert!(remove_memory_hook(MemoryOp::Alloc));
    let _r = proc.alloc_mem(1000).unwrap();
    assert_eq!(seen.load(Ordering::SeqCst), 123);
    proc.free_mem(p).unwrap();
    proc.free_mem(q).unwrap();
}

#[test]
fn a_vh_function_collects_while_another_thread_waits_for_ring_room() {
    // The helper stops at a VH function until it returns; the function
    // collects a request of its own queue while the main thread has filled
    // the command ring (64 KiB) behind it and waits for room. The collect
    // must not wait for the submit: the room comes only once the function
    // returns.
    let proc = Proc::builder().ring_bytes(64 << 10).build().unwrap();
    let lib = proc.load_library(KERNELS).unwrap();
    let add = addr(&lib, "add_i64");
    let q = Arc::new(RequestQueue::<u64>::open(&proc).unwrap());
    let mut args = ArgList::new();
    args.set_i64(0, 1).unwrap();
    args.set_i64(1, 2).unwrap();
    let first = q.call(add, &args, 0).unwrap();
    let q2 = q.clone();
    let gate = q
        .call_vh(
            move || {
                std::thread::sleep(std::time::Duration::from_millis(200));
                match q2.wait(first) {
                    Collected::Done { result: Ok(v), .. } => v,
                    _ => u64::MAX,
                }
            },
            1,
        )
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let q3 = q.clone();
    std::thread::spawn(move || {
        // Well past what a 64 KiB ring holds.
        let ids: Vec<u64> = (0..4000u64)
            .map(|i| {
                let mut a = ArgList::new();
                a.set_i64(0, i as i64).unwrap();
                a.set_i64(1, 1).unwrap();
                q3.call(add, &a, i).unwrap()
            })
            .collect();
        let sum: u64 = ids.into_iter().map(|id| done(q3.wait(id)).0).sum();
        let _ = tx.send(sum);
    });
    let sum = rx
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("the submits and the VH function's collect waited for each other");
    assert_eq!(sum, (1..=4000u64).sum::<u64>());
    assert_eq!(done(q.wait(gate)).0, 3);
}
