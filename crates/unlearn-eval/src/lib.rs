//! Evaluation library of `unlearn`: margins, KLoM, membership inference, accuracy gaps,
//! report tables and plots. Pure Rust over plain slices (no tensor dependency).
//!
//! Conventions: per-model quantities are row-major `models × points` buffers (model-major:
//! model `m`, point `j` at `m * points + j`); logits are `models × points × classes`.
//! The exact metric definitions are those of `docs/algorithms.md` (§1 margins,
//! §2 KLoM, §9 Δ and ToW, §10 membership inference).
//!
//! Section marks (§N) refer to `docs/algorithms.md`, the project's account of the methods.

mod accuracy;
mod audit;
mod chain_rule;
mod challenge;
mod error;
mod evaluate;
mod io;
mod klom;
mod margins;
mod mia;
mod plot;
mod published;
mod report;
mod summary;
mod ulira;

pub use accuracy::{SplitAccuracy, accuracy_delta, split_accuracy, split_accuracy_per_model, tow};
pub use audit::{Audit, audit};
pub use chain_rule::{ChainRule, ChainVerdict, coupling};
pub use challenge::{
    AttackRates, AttackSplits, CHALLENGE_BIN_WIDTH, CHALLENGE_BINS, CHALLENGE_C, CHALLENGE_DELTA,
    CHALLENGE_SEED, CHALLENGE_SPLITS, CHALLENGE_TEST_FRACTION, ChallengeScore, challenge_bin_score,
    challenge_epsilon, challenge_score, complements, epsilon_of, logistic_attack,
    threshold_attacks,
};
pub use error::{EvalError, Result};
pub use evaluate::{EvalPoints, Evaluation, LogitsView, evaluate};
pub use io::atomic_write;
pub use klom::{
    Direction, KLOM_BINS, KLOM_CLIP, KLOM_EPS, KLOM_STABLE_MODELS, KlomVariant, klom, klom_point,
    klom_with, retrain_noise_floor,
};
pub use margins::{confidences, margins, predictions};
pub use mia::{Logistic1d, MIA_RIDGE, MiaResult, mia_efficacy};
pub use plot::{PlotFiles, plot_curves, plot_klom_histograms, plot_scatter};
pub use published::{MarginSource, MarginTree, PublishedScore, SplitName, score_published};
pub use report::{EvalRow, EvalTable};
pub use summary::{SplitSummary, Splits, Summary, percentile, select, summarize_splits};
pub use ulira::{ULIRA_VAR_FLOOR, UliraResult, auc, ulira};
