// A producer or consumer borrows the segment of its ring.
use veo_urpc::{Segment, SegmentConfig};

fn producer() {
    let seg = Segment::create(&SegmentConfig::default(), 1).unwrap();
    let mut p = seg.channel(0).cmd.acquire_producer().unwrap();
    drop(seg); //~ E0505
    p.publish();
}

fn consumer() {
    let seg = Segment::create(&SegmentConfig::default(), 1).unwrap();
    let mut c = seg.channel(0).res.acquire_consumer().unwrap();
    drop(seg); //~ E0505
    c.release();
}

fn main() {
    producer();
    consumer();
}
