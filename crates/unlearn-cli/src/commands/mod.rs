//! One module per subcommand.

pub mod forget_set;
pub mod masks;
pub mod train;
