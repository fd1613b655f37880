// A ring is a view into its segment, Copy but borrowing: neither it nor a
// copy of it outlives the segment.
use veo_urpc::{Ring, Segment, SegmentConfig};

fn scope() -> u64 {
    let ring: Ring<'_> = {
        let seg = Segment::create(&SegmentConfig::default(), 1).unwrap();
        seg.channel(0).res //~ E0597
    };
    ring.tail()
}

fn returned() -> Ring<'static> {
    let seg = Segment::create(&SegmentConfig::default(), 1).unwrap();
    seg.channel(0).cmd //~ E0515
}

fn main() {
    scope();
    returned();
}
