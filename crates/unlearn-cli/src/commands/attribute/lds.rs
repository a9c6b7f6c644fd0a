//! `unlearn attribute lds`: every estimator's LDS side by side, TRAK included.

use super::{AttributeCommon, TrakArgs, load, trak_scores};
use anyhow::Result;
use unlearn_attribution::EstimatorRegistry;
use unlearn_bench::datamodels;

pub fn run_lds(common: &AttributeCommon, trak: &TrakArgs) -> Result<()> {
    let sz = load(common)?;
    println!(
        "LDS on {} held-out of {} subset models (Spearman over models of each point's true-class logit, mean over points)",
        ((sz.zoo.models as f64) * common.held_out).round(),
        sz.zoo.models
    );
    println!("{:<26} {:>8} {:>10}", "estimator", "LDS", "fit (s)");
    let registry = EstimatorRegistry::builtin();
    for name in registry.names() {
        let estimator = registry.build(name, &serde_json::Map::new(), common.options())?;
        let (_, lds, seconds) = datamodels::fit_and_score(
            &sz,
            estimator.as_ref(),
            common.options(),
            0..sz.zoo.points,
            false,
        )?;
        let lds = lds.mean;
        println!("{name:<26} {lds:>8.4} {seconds:>10.2}");
    }
    if trak.trak_models == 0 {
        println!(
            "{:<26} {:>8} {:>10}",
            "trak", "n/a", "skipped (--trak-models 0)"
        );
        return Ok(());
    }
    let outcome = trak_scores(&sz.zoo, Some(&sz), common, trak, None)?;
    let lds = outcome.lds.unwrap_or(f64::NAN);
    println!("{:<26} {lds:>8.4} {:>10.2}", "trak", outcome.seconds);
    println!("{}", outcome.summary());
    Ok(())
}
