//! The profiler: a traced proc records every request it sends (kernel
//! calls by name, transfers with their bytes), when it was queued and when
//! it ran on the VE, and writes them as a Chrome trace-event file (the JSON
//! that Perfetto and `chrome://tracing` open) when it ends;
//! [`Proc::profile`](crate::Proc::profile) sums them up per kernel.
//!
//! Turned on by `VEO_TRACE=FILE` or [`ProcBuilder::trace`](crate::ProcBuilder::trace).
//! The helper times each request (start and end, `CLOCK_MONOTONIC`, which
//! both processes share) and sends the times before the result, only when
//! the segment's `trace` flag says so: times taken on the VH when it drains
//! an answer would say when the VH looked, not when the VE worked. Turned
//! off, the cost is a flag tested per request on each side.

use rustc_hash::FxHashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;
use veo_urpc::proto;

/// One request as the trace keeps it.
#[derive(Clone, Debug)]
struct Event {
    name: String,
    kernel: bool,
    context: usize,
    reqid: u64,
    bytes: u64,
    queued: u64,
    start: u64,
    end: u64,
}

/// A request sent and not yet timed.
#[derive(Debug)]
struct Sent {
    kind: u16,
    addr: u64,
    bytes: u64,
    queued: u64,
}

/// What one kernel (or kind of transfer) cost on the VE, from
/// [`Proc::profile`](crate::Proc::profile).
#[derive(Clone, Debug, PartialEq)]
pub struct KernelProfile {
    /// The kernel's declared name (typed stubs) or symbol, or the kind of
    /// request (`write`, `read`, `alloc`...).
    pub name: String,
    /// Whether it is a kernel call (not a transfer or another request).
    pub kernel: bool,
    /// Requests timed.
    pub count: u64,
    /// Their time running on the VE, in total...
    pub total: Duration,
    /// ...on average...
    pub mean: Duration,
    /// ...and at most.
    pub max: Duration,
    /// Their time queued (sent, not yet started), in total.
    pub queued: Duration,
    /// Bytes moved (transfers) or put on the VE stack (calls).
    pub bytes: u64,
}

/// Where a proc's trace goes.
#[derive(Clone, Debug)]
pub(crate) enum TraceTo {
    /// To this file when the proc ends.
    File(PathBuf),
    /// Nowhere: kept for `Proc::profile`.
    Memory,
}

impl TraceTo {
    /// The builder's choice, else `VEO_TRACE`'s.
    pub(crate) fn chosen(given: Option<TraceTo>) -> Option<TraceTo> {
        given.or_else(|| match std::env::var_os("VEO_TRACE") {
            Some(p) if !p.is_empty() => Some(TraceTo::File(p.into())),
            _ => None,
        })
    }
}

/// A proc's trace.
#[derive(Debug)]
pub(crate) struct Trace {
    /// Where to write it when the proc ends, if anywhere.
    path: Option<PathBuf>,
    names: Mutex<FxHashMap<u64, String>>,
    sent: Mutex<FxHashMap<(usize, u64), Sent>>,
    events: Mutex<Vec<Event>>,
}

/// `CLOCK_MONOTONIC` in ns, the clock of the helper's times.
pub(crate) fn now_ns() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

fn kind_name(kind: u16) -> &'static str {
    match kind {
        proto::KIND_CALL => "call",
        proto::KIND_WRITE => "write",
        proto::KIND_READ => "read",
        proto::KIND_ALLOC => "alloc",
        proto::KIND_FREE => "free",
        proto::KIND_MEMCPY => "memcpy",
        proto::KIND_LOAD => "load library",
        proto::KIND_UNLOAD => "unload library",
        proto::KIND_SYMBOL => "find symbol",
        proto::KIND_OPEN => "open context",
        proto::KIND_CLOSE => "close context",
        proto::KIND_JOIN => "join worker",
        proto::KIND_NOP => "sync",
        _ => "request",
    }
}

/// The event category: kernels, transfers, and the rest.
fn category(kernel: bool, name: &str) -> &'static str {
    match (kernel, name) {
        (true, _) => "kernel",
        (false, "write" | "read" | "memcpy") => "transfer",
        _ => "request",
    }
}

impl Trace {
    pub(crate) fn new(to: TraceTo) -> Trace {
        Trace {
            path: match to {
                TraceTo::File(p) => Some(p),
                TraceTo::Memory => None,
            },
            names: Mutex::default(),
            sent: Mutex::default(),
            events: Mutex::default(),
        }
    }

    /// Names the kernel at `addr` (the last name given wins).
    pub(crate) fn name(&self, addr: u64, name: &str) {
        let mut names = self.names.lock().unwrap_or_else(|e| e.into_inner());
        if names.get(&addr).is_none_or(|n| n != name) {
            names.insert(addr, name.to_string());
        }
    }

    /// Names the kernel at `addr` unless it has a name (a symbol found
    /// after the stub that declared it).
    pub(crate) fn name_if_new(&self, addr: u64, name: &str) {
        let mut names = self.names.lock().unwrap_or_else(|e| e.into_inner());
        names.entry(addr).or_insert_with(|| name.to_string());
    }

    /// Request `reqid` of channel `context` is being sent: a `kind` message
    /// (kept as it was if [`call`](Self::call) said so first).
    pub(crate) fn sent(&self, context: usize, reqid: u64, kind: u16) {
        self.insert(context, reqid, kind, 0);
    }

    /// Request `reqid` calls the kernel at `addr`: said before it is sent.
    pub(crate) fn call(&self, context: usize, reqid: u64, addr: u64) {
        self.insert(context, reqid, proto::KIND_CALL, addr);
    }

    fn insert(&self, context: usize, reqid: u64, kind: u16, addr: u64) {
        let queued = now_ns();
        let mut sent = self.sent.lock().unwrap_or_else(|e| e.into_inner());
        sent.entry((context, reqid)).or_insert(Sent {
            kind,
            addr,
            bytes: 0,
            queued,
        });
    }

    /// More bytes for request `reqid` (the stack image of a call, the data
    /// of a write).
    pub(crate) fn bytes(&self, context: usize, reqid: u64, bytes: u64) {
        let mut sent = self.sent.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = sent.get_mut(&(context, reqid)) {
            s.bytes += bytes;
        }
    }

    /// Request `reqid` of channel `context`, a `kind` of `bytes`, was
    /// carried out by the VH itself (a transfer through memory both sides
    /// map) from `start` until now.
    pub(crate) fn here(&self, context: usize, reqid: u64, kind: u16, bytes: u64, start: u64) {
        self.insert(context, reqid, kind, 0);
        self.bytes(context, reqid, bytes);
        if let Some(s) = self
            .sent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_mut(&(context, reqid))
        {
            s.queued = start;
        }
        self.ran(context, reqid, start, now_ns());
    }

    /// The helper ran request `reqid` of channel `context` from `start` to
    /// `end`.
    pub(crate) fn ran(&self, context: usize, reqid: u64, start: u64, end: u64) {
        let Some(s) = self
            .sent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&(context, reqid))
        else {
            return;
        };
        let kernel = s.kind == proto::KIND_CALL;
        let name = if kernel {
            let names = self.names.lock().unwrap_or_else(|e| e.into_inner());
            names
                .get(&s.addr)
                .cloned()
                .unwrap_or_else(|| format!("kernel at {:#x}", s.addr))
        } else {
            kind_name(s.kind).to_string()
        };
        let event = Event {
            name,
            kernel,
            context,
            reqid,
            bytes: s.bytes,
            queued: s.queued,
            start: start.max(s.queued),
            end: end.max(start),
        };
        self.events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(event);
    }

    /// The cost per name, the most expensive first.
    pub(crate) fn profile(&self) -> Vec<KernelProfile> {
        let events = self.events.lock().unwrap_or_else(|e| e.into_inner());
        let mut by_name: FxHashMap<&str, KernelProfile> = FxHashMap::default();
        for e in events.iter() {
            let p = by_name.entry(&e.name).or_insert_with(|| KernelProfile {
                name: e.name.clone(),
                kernel: e.kernel,
                count: 0,
                total: Duration::ZERO,
                mean: Duration::ZERO,
                max: Duration::ZERO,
                queued: Duration::ZERO,
                bytes: 0,
            });
            let ran = Duration::from_nanos(e.end - e.start);
            p.count += 1;
            p.total += ran;
            p.max = p.max.max(ran);
            p.queued += Duration::from_nanos(e.start - e.queued);
            p.bytes += e.bytes;
        }
        let mut v: Vec<KernelProfile> = by_name.into_values().collect();
        for p in &mut v {
            p.mean = p.total / p.count.max(1) as u32;
        }
        v.sort_by(|a, b| b.total.cmp(&a.total).then_with(|| a.name.cmp(&b.name)));
        v
    }

    /// The trace as Chrome trace-event JSON: one complete event (`"X"`) per
    /// request, on a track per context, its time on the VE as the event and
    /// its time queued, bytes and id as arguments.
    pub(crate) fn to_json(&self, helper_pid: u32) -> serde_json::Value {
        use serde_json::json;
        let events = self.events.lock().unwrap_or_else(|e| e.into_inner());
        let t0 = events.iter().map(|e| e.queued).min().unwrap_or(0);
        let us = |ns: u64| (ns - t0) as f64 / 1000.0;
        let mut out = vec![json!({
            "name": "process_name", "ph": "M", "pid": helper_pid,
            "args": {"name": format!("VE (helper {helper_pid})")}
        })];
        let mut tracks: Vec<usize> = events.iter().map(|e| e.context).collect();
        tracks.sort_unstable();
        tracks.dedup();
        for c in tracks {
            let name = if c == 0 {
                "proc (synchronous)".to_string()
            } else {
                format!("context {c}")
            };
            out.push(json!({
                "name": "thread_name", "ph": "M", "pid": helper_pid, "tid": c,
                "args": {"name": name}
            }));
            out.push(json!({
                "name": "thread_sort_index", "ph": "M", "pid": helper_pid, "tid": c,
                "args": {"sort_index": c}
            }));
        }
        for e in events.iter() {
            out.push(json!({
                "name": e.name,
                "cat": category(e.kernel, &e.name),
                "ph": "X",
                "pid": helper_pid,
                "tid": e.context,
                "ts": us(e.start),
                "dur": (e.end - e.start) as f64 / 1000.0,
                "args": {
                    "request": e.reqid,
                    "queued_us": (e.start - e.queued) as f64 / 1000.0,
                    "bytes": e.bytes,
                },
            }));
        }
        json!({ "traceEvents": out, "displayTimeUnit": "ns" })
    }

    /// Writes the trace file, if the proc has one.
    pub(crate) fn finish(&self, helper_pid: u32) {
        let Some(path) = &self.path else { return };
        let text = self.to_json(helper_pid).to_string();
        if let Err(e) = std::fs::write(path, text) {
            // The proc is ending: there is no caller left to tell.
            eprintln!(
                "veo-runtime: cannot write the trace {}: {e}",
                path.display()
            );
        }
    }
}
