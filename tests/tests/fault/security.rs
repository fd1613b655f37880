//! Security of the transport (docs/RELIABILITY.md): the shared segment is
//! an anonymous memfd (no name in /dev/shm), mode 0600, held only by the VH
//! and its own helper; a helper refuses to serve unless it was started by
//! the VH named in its environment, with that VH's segment and token.

use super::util::guard;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::Duration;
use veo_runtime::Proc;
use veo_urpc::segment::state;
use veo_urpc::{Segment, SegmentConfig};

/// (fd number, link target, inode, mode) of every memfd a process holds.
fn memfds(pid: &str) -> Vec<(String, String, u64, u32)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .flatten()
    {
        let Ok(target) = std::fs::read_link(e.path()) else {
            continue;
        };
        let target = target.to_string_lossy().into_owned();
        assert!(
            !target.starts_with("/dev/shm"),
            "process {pid} holds a named shared memory file {target}"
        );
        if target.starts_with("/memfd:") {
            // stat follows the link to the memfd's own inode.
            let md = std::fs::metadata(e.path()).unwrap();
            out.push((
                e.file_name().to_string_lossy().into_owned(),
                target,
                md.ino(),
                md.mode() & 0o7777,
            ));
        }
    }
    out
}

#[test]
fn the_segment_is_a_private_memfd_of_mode_0600() {
    let _g = guard("segment checks", Duration::from_secs(60));
    let procs: Vec<Proc> = (0..3).map(|_| Proc::new(0).unwrap()).collect();
    let mine: Vec<_> = memfds("self")
        .into_iter()
        .filter(|m| m.1.starts_with("/memfd:veo-urpc"))
        .collect();
    assert!(
        mine.len() >= 3,
        "the VH holds its segments as memfds: {mine:?}"
    );
    let mut seen = Vec::new();
    for p in &procs {
        let theirs = memfds(&p.pid().to_string());
        // Exactly one memfd: its own segment, none of the other procs'
        // (they are close-on-exec in the VH).
        assert_eq!(theirs.len(), 1, "helper {} holds {theirs:?}", p.pid());
        let (_, target, ino, mode) = &theirs[0];
        assert!(target.starts_with("/memfd:veo-urpc"), "{target}");
        assert_eq!(*mode, 0o600, "segment mode {mode:o}");
        assert!(
            mine.iter().any(|m| m.2 == *ino),
            "not one of the VH's segments"
        );
        assert!(!seen.contains(ino), "two helpers share a segment");
        seen.push(*ino);
        // And it is not mapped from any named file either.
        let maps = std::fs::read_to_string(format!("/proc/{}/maps", p.pid())).unwrap();
        assert!(!maps.contains("/dev/shm/") && !maps.contains("SYSV"));
        assert!(maps.contains("/memfd:veo-urpc"), "the segment is mapped");
    }
    for m in &mine {
        assert_eq!(m.3, 0o600, "VH side segment mode {:o}", m.3);
    }
}

/// Runs this test program as a helper with `env` as its helper variable and
/// `stdin` as its descriptor 0; returns its exit code.
fn run_helper(env: &str, stdin: Stdio) -> i32 {
    let out = Command::new(std::env::current_exe().unwrap())
        .env(ve_helper::ENV, env)
        .stdin(stdin)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(out.status.signal(), None, "{:?}", out.status);
    out.status.code().unwrap()
}

#[test]
fn a_helper_not_started_by_its_parent_refuses_to_serve() {
    let _g = guard("helper start checks", Duration::from_secs(60));
    // Someone else's pid (init's) as the parent.
    let env = ve_helper::HelperConfig {
        fd: 0,
        ppid: 1,
        token: 1,
    }
    .to_env();
    assert_eq!(
        run_helper(&env, Stdio::null()),
        ve_helper::exit_code::NOT_PARENT
    );
    // A pid that does not exist.
    let env = ve_helper::HelperConfig {
        fd: 0,
        ppid: u32::MAX >> 2,
        token: 1,
    }
    .to_env();
    assert_eq!(
        run_helper(&env, Stdio::null()),
        ve_helper::exit_code::NOT_PARENT
    );
    // Garbage in the variable.
    assert_eq!(
        run_helper("fd=0,ppid=x", Stdio::null()),
        ve_helper::exit_code::BAD_ENV
    );
}

#[test]
fn a_helper_needs_its_parents_segment_and_token() {
    let _g = guard("helper segment checks", Duration::from_secs(60));
    let me = std::process::id();
    let cfg = |token| {
        ve_helper::HelperConfig {
            fd: 0,
            ppid: me,
            token,
        }
        .to_env()
    };
    // The right parent, but descriptor 0 is not a segment.
    assert_eq!(
        run_helper(&cfg(1), Stdio::null()),
        ve_helper::exit_code::BAD_SEGMENT
    );
    let file = std::env::temp_dir().join(format!("veo-fault-{me}-notseg"));
    std::fs::write(&file, vec![0u8; 64 << 10]).unwrap();
    assert_eq!(
        run_helper(&cfg(1), std::fs::File::open(&file).unwrap().into()),
        ve_helper::exit_code::BAD_SEGMENT
    );
    std::fs::remove_file(&file).unwrap();

    // A real segment made by this process, with the wrong token.
    let seg = Segment::create(
        &SegmentConfig {
            channels: 2,
            ring_bytes: 64 << 10,
            stack_size: 1 << 20,
            core: None,
        },
        0x5eed,
    )
    .unwrap();
    let fd = || seg.fd().try_clone_to_owned().unwrap();
    assert_eq!(
        run_helper(&cfg(0x5eee), fd().into()),
        ve_helper::exit_code::BAD_SEGMENT
    );
    assert_eq!(
        seg.header().helper_state.load(Ordering::Acquire),
        state::STARTING
    );

    // The control: everything right, and the helper serves (then exits when
    // told to shut down).
    let mut child = Command::new(std::env::current_exe().unwrap())
        .env(ve_helper::ENV, cfg(0x5eed))
        .stdin(fd())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let h = seg.header();
    veo_tests::poll_for(Duration::from_secs(30), || {
        (h.helper_state.load(Ordering::Acquire) != state::STARTING).then_some(())
    });
    assert_eq!(h.helper_state.load(Ordering::Acquire), state::READY);
    assert_eq!(h.helper_pid.load(Ordering::Acquire), child.id());
    h.shutdown.store(1, Ordering::Release);
    seg.channel(0).cmd.wake_all();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{status:?}");
}
