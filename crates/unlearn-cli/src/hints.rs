//! The flags that fix an error: the libraries name the cause and the fix in their own terms
//! (they know no flags); the command line adds which of its flags that fix is, by the error's
//! variant (never by its text).

use unlearn_bench::BenchError;
use unlearn_methods::MethodError;
use unlearn_train::TrainError;

/// A hint naming the flag behind `error`, if one is known.
pub fn flag_hint(error: &anyhow::Error) -> Option<&'static str> {
    for cause in error.chain() {
        let method = cause.downcast_ref::<MethodError>().or_else(|| {
            match cause.downcast_ref::<BenchError>() {
                Some(BenchError::Method(m)) => Some(m),
                _ => None,
            }
        });
        let train = cause
            .downcast_ref::<TrainError>()
            .or_else(|| match cause.downcast_ref::<BenchError>() {
                Some(BenchError::Train(t)) => Some(t),
                _ => None,
            })
            .or(match method {
                Some(MethodError::Train(t)) => Some(t),
                _ => None,
            });
        if let Some(t) = train {
            return match t {
                TrainError::NonFiniteLoss { .. } => Some("--lr"),
                TrainError::DifferentZoo { .. }
                | TrainError::LockHeld { .. }
                | TrainError::OtherShard { .. } => Some("--out"),
                TrainError::UnequalStack { .. } => Some("--stack 1"),
                TrainError::Model(unlearn_models::ModelError::NeedsImages { .. }) => {
                    Some("--model mlp")
                }
                _ => None,
            };
        }
        if let Some(BenchError::UnknownKey { .. } | BenchError::OutOfRange { .. }) =
            cause.downcast_ref::<BenchError>()
        {
            return Some("--config, --set KEY=VALUE");
        }
        match method {
            Some(MethodError::UnknownMethod { .. } | MethodError::Params { .. }) => {
                return Some("unlearn forget --list");
            }
            Some(MethodError::OutOfRange { .. }) => {
                return Some("--set KEY=VALUE (unlearn forget --list shows the defaults)");
            }
            Some(MethodError::SplitMismatch { .. }) => {
                return Some("--dataset, --val-fraction, --split-seed");
            }
            _ => {}
        }
    }
    None
}
