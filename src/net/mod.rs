//! TCP plumbing the outputs and the network source share, kept apart from
//! them so that none has to import another: [`connect`] makes an outbound
//! connection without blocking the loop, [`accept`] takes inbound ones
//! under [`allow`] (`--allow`) and a connection limit.

pub mod accept;
pub mod allow;
pub mod connect;
