//! Which way the bytes of an OnStack buffer travel.

use veo_urpc::proto;

/// Which way the bytes of a buffer on the VE stack travel (VEO's
/// `veo_args_intent`, py-veo's `OnStack(.., inout=..)`).
///
/// [`Args::stack_in`](crate::Args::stack_in),
/// [`stack_inout`](crate::Args::stack_inout) and
/// [`stack_out`](crate::Args::stack_out) push a buffer with each; in
/// `#[ve_kernel]` declarations, `&T`/`&[T]` is `In`, `&mut T`/`&mut [T]`
/// is `InOut` and `#[out] &mut ..` is `Out`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Intent {
    /// Copied to the VE before the call.
    In,
    /// Copied back into the host buffer when the request completes.
    Out,
    /// Both.
    InOut,
}

impl Intent {
    /// The intent as the transport encodes it.
    pub(crate) fn wire(self) -> proto::Intent {
        match self {
            Intent::In => proto::Intent::In,
            Intent::Out => proto::Intent::Out,
            Intent::InOut => proto::Intent::InOut,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_intent_keeps_its_direction_on_the_wire() {
        assert!(!Intent::In.wire().copies_out());
        assert!(Intent::Out.wire().copies_out());
        assert!(Intent::InOut.wire().copies_out());
        assert_ne!(Intent::Out.wire(), Intent::InOut.wire());
    }
}
