//! Unlearning algorithms for unlearn.
//!
//! So far: the convex experiment ([`convex`]) that shows, on ridge regression, why matching a
//! target model's outputs unlearns where gradient descent on the retain set cannot.

pub mod convex;
