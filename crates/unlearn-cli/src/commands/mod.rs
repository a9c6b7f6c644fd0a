//! One module per subcommand.

pub mod attribute;
pub mod audit;
pub mod bench;
pub mod bench_speed;
pub mod eval;
pub mod eval_published;
pub mod forget;
pub mod forget_set;
pub mod history;
pub mod import;
pub mod linear;
pub mod masks;
pub mod merge;
pub mod train;
pub mod verify;
