//! Which official part of a published data set to load.

use serde::{Deserialize, Serialize};

/// The official training or test part of a published data set (CIFAR-10,
/// MNIST-style IDX). Not to be confused with [`crate::Split`], the
/// train/validation division this crate makes itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Partition {
    /// The training part.
    Train,
    /// The test part.
    Test,
}

impl Partition {
    /// Lower-case name, used in data-set names ("cifar10-train").
    pub fn as_str(self) -> &'static str {
        match self {
            Partition::Train => "train",
            Partition::Test => "test",
        }
    }
}

impl std::fmt::Display for Partition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
