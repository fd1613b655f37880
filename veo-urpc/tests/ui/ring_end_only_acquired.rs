// A ring has one producer and one consumer: they are acquired from the ring
// (once each), never made or copied.
use veo_urpc::{Consumer, Producer, Segment, SegmentConfig};

fn main() {
    let seg = Segment::create(&SegmentConfig::default(), 1).unwrap();
    let ring = seg.channel(0).cmd;
    let _p = Producer::new(ring); //~ E0624
    let _c = Consumer::new(ring); //~ E0624
    let p = ring.acquire_producer().unwrap();
    let _q = p.clone(); //~ E0599
}
