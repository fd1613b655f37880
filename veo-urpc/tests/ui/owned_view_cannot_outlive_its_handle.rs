// An owning handle keeps its segment mapped, and lends its views for no
// longer than a borrow of the handle.
use std::sync::Arc;
use veo_urpc::{OwnedChannel, Segment, SegmentConfig};

fn channel() {
    let seg = Arc::new(Segment::create(&SegmentConfig::default(), 1).unwrap());
    let ring = {
        let owned = OwnedChannel::new(seg, 0);
        owned.get().cmd //~ E0597
    };
    ring.tail();
}

fn producer() {
    let seg = Arc::new(Segment::create(&SegmentConfig::default(), 1).unwrap());
    let owned = OwnedChannel::new(seg, 0);
    let p = owned.cmd_producer().unwrap();
    let ring = *p.ring();
    drop(p); //~ E0505
    ring.tail();
}

fn main() {
    channel();
    producer();
}
