//! What users reach for with VE buffers: `Proc::alloc_from`,
//! `VeBuffer::to_vec`, and bounds-checked sub-ranges (`VeBuffer::slice`)
//! in transfers and as kernel arguments, with their bad inputs.
//! Kernel: `average` of tests/kernels/basic.c.

use veo_runtime::{ve_kernel, Error, Proc, VePtr};

#[ve_kernel(library = "tests")]
extern "C" {
    fn average(a: VePtr<f64>, n: i32) -> f64;
}

#[test]
fn alloc_from_and_to_vec_round_trip() {
    let proc = Proc::new(0).unwrap();
    let data: Vec<u32> = (0..1000).collect();
    let buf = proc.alloc_from(&data).unwrap();
    assert_eq!(buf.len(), 1000);
    assert_eq!(buf.to_vec().unwrap(), data);
    let empty = proc.alloc_from::<u64>(&[]).unwrap();
    assert!(empty.is_empty());
    assert_eq!(empty.to_vec().unwrap(), Vec::<u64>::new());
}

#[test]
fn a_slice_is_a_checked_part_in_transfers_and_kernel_calls() {
    let proc = Proc::new(0).unwrap();
    let buf = proc.alloc_from(&[1.0f64, 2.0, 3.0, 4.0, 5.0]).unwrap();
    let middle = buf.slice(1..4).unwrap();
    assert_eq!(middle.len(), 3);
    assert_eq!(middle.to_vec().unwrap(), [2.0, 3.0, 4.0]);
    // A kernel sees the part through its address.
    let avg = average_sync(&proc, middle.as_ptr(), middle.len() as i32).unwrap();
    assert_eq!(avg, 3.0);

    proc.write(buf.slice(3..).unwrap(), &[40.0, 50.0]).unwrap();
    let mut head = [0.0; 2];
    proc.read(&mut head, buf.slice(..=1).unwrap()).unwrap();
    assert_eq!(head, [1.0, 2.0]);
    assert_eq!(buf.to_vec().unwrap(), [1.0, 2.0, 3.0, 40.0, 50.0]);

    // More than the part holds is refused, and nothing is written.
    let e = proc
        .write(buf.slice(3..4).unwrap(), &[0.0, 0.0])
        .unwrap_err();
    assert!(matches!(e, Error::InvalidAddress { .. }), "{e}");
    assert_eq!(buf.to_vec().unwrap()[4], 50.0);
    let mut three = [0.0; 3];
    assert!(proc.read(&mut three, buf.slice(..2).unwrap()).is_err());
}

#[test]
fn ranges_outside_the_buffer_are_errors() {
    let proc = Proc::new(0).unwrap();
    let buf = proc.alloc::<i32>(4).unwrap();
    assert_eq!(buf.slice(..).unwrap().len(), 4);
    assert!(buf.slice(4..4).unwrap().is_empty());
    #[allow(clippy::reversed_empty_ranges)]
    let backwards = buf.slice(3..1);
    for bad in [
        buf.slice(2..5),
        buf.slice(5..),
        backwards,
        buf.slice(..=usize::MAX),
        buf.slice((
            std::ops::Bound::Excluded(usize::MAX),
            std::ops::Bound::Unbounded,
        )),
    ] {
        let e = bad.unwrap_err();
        assert!(matches!(e, Error::InvalidArgument(_)), "{e}");
        assert!(e.to_string().contains("of 4 elements"), "{e}");
    }
}
