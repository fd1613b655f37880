// A channel borrows its segment: it cannot be used once the segment is
// gone (the memory is unmapped when the segment drops).
use veo_urpc::{Segment, SegmentConfig};

fn temporary() {
    let chan = Segment::create(&SegmentConfig::default(), 1).unwrap().channel(0); //~ E0716
    chan.header();
}

fn scope() {
    let chan = {
        let seg = Segment::create(&SegmentConfig::default(), 1).unwrap();
        seg.channel(0) //~ E0597
    };
    chan.header();
}

fn dropped() {
    let seg = Segment::create(&SegmentConfig::default(), 1).unwrap();
    let chan = seg.channel(0);
    drop(seg); //~ E0505
    chan.header();
}

fn main() {
    temporary();
    scope();
    dropped();
}
