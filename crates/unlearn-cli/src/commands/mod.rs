//! One module per subcommand.

pub mod attribute;
pub mod bench;
pub mod eval;
pub mod forget;
pub mod forget_set;
pub mod linear;
pub mod masks;
pub mod train;
pub mod verify;
