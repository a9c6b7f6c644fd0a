//! Shards: one of `N` deterministic, contiguous shares of a run's work (`--shard I/N`), so a
//! cluster scheduler (a Slurm job array, a Kubernetes Indexed Job) can spread a zoo over machines
//! and `unlearn merge` can put it back together.

use serde::{Deserialize, Serialize};
use std::ops::Range;
use std::str::FromStr;

/// Shard `index` of `count` (0-based, as Slurm's `SLURM_ARRAY_TASK_ID` with `--array=0-(N-1)` and
/// Kubernetes' `JOB_COMPLETION_INDEX`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// Which share, `0 ≤ index < count`.
    pub index: usize,
    /// Number of shares.
    pub count: usize,
}

impl Shard {
    /// The items of `total` this shard owns: contiguous, shard sizes differ by at most one, and
    /// the shards `0..count` cover `0..total` exactly once.
    pub fn range(&self, total: usize) -> Range<usize> {
        let start = self.index * total / self.count;
        let end = (self.index + 1) * total / self.count;
        start..end
    }

    /// What a shard's output records about itself.
    pub fn info(&self, total: usize) -> ShardInfo {
        let range = self.range(total);
        ShardInfo {
            index: self.index,
            count: self.count,
            first: range.start,
            len: range.len(),
            total,
        }
    }
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let usage = || format!("shard '{text}': expected I/N with 0 ≤ I < N, e.g. 0/4");
        let (i, n) = text.split_once('/').ok_or_else(usage)?;
        let index: usize = i.trim().parse().map_err(|_| usage())?;
        let count: usize = n.trim().parse().map_err(|_| usage())?;
        if count == 0 || index >= count {
            return Err(usage());
        }
        Ok(Shard { index, count })
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// A shard's place in the whole run, recorded in its output so that merging can check coverage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardInfo {
    /// Shard index.
    pub index: usize,
    /// Number of shards.
    pub count: usize,
    /// First item (model or point) of the whole run this shard holds.
    pub first: usize,
    /// Items it holds.
    pub len: usize,
    /// Items of the whole run.
    pub total: usize,
}

impl ShardInfo {
    /// The shard it describes.
    pub fn shard(&self) -> Shard {
        Shard {
            index: self.index,
            count: self.count,
        }
    }
}

/// Checks that `shards` (in any order, named by `names` in messages) are exactly the shards
/// `0..N` of one run: same `N` and total, no index twice (overlap), none missing (gap), and each
/// holding the range its index owns. Returns the order by index.
pub fn check_cover(shards: &[ShardInfo], names: &[String]) -> Result<Vec<usize>, String> {
    let Some(first) = shards.first() else {
        return Err("no shards given; pass every shard directory of the run".into());
    };
    for (info, name) in shards.iter().zip(names) {
        if info.count == 0 || info.index >= info.count {
            return Err(format!(
                "{name}: records shard {}/{}, which does not exist; it was not written as a shard",
                info.index, info.count
            ));
        }
        if info.count != first.count || info.total != first.total {
            return Err(format!(
                "{name} is shard {}/{} of {} items but {} is shard {}/{} of {}; these shards come from different runs",
                info.index, info.count, info.total, names[0], first.index, first.count, first.total
            ));
        }
        let owned = info.shard().range(info.total);
        if owned.start != info.first || owned.len() != info.len {
            return Err(format!(
                "{name}: shard {}/{} should hold items {}..{} but holds {}..{}; it was not written as a shard",
                info.index,
                info.count,
                owned.start,
                owned.end,
                info.first,
                info.first + info.len
            ));
        }
    }
    let mut by_index: Vec<Option<usize>> = vec![None; first.count];
    for (k, info) in shards.iter().enumerate() {
        if let Some(other) = by_index[info.index] {
            return Err(format!(
                "{} and {} are both shard {}/{} (overlap); pass each shard once",
                names[other], names[k], info.index, info.count
            ));
        }
        by_index[info.index] = Some(k);
    }
    let missing: Vec<String> = by_index
        .iter()
        .enumerate()
        .filter(|(_, k)| k.is_none())
        .map(|(i, _)| format!("{i}/{}", first.count))
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "shard(s) {} missing (gap); compute them and pass their directories too",
            missing.join(", ")
        ));
    }
    Ok(by_index.into_iter().flatten().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects() {
        assert_eq!("2/5".parse::<Shard>(), Ok(Shard { index: 2, count: 5 }));
        for bad in ["5/5", "1/0", "a/2", "3", "-1/2", "1/2/3"] {
            let e = bad.parse::<Shard>().unwrap_err();
            assert!(e.contains("expected I/N"), "{bad}: {e}");
        }
    }

    #[test]
    fn ranges_cover_every_item_once_with_sizes_within_one() {
        for total in [0usize, 1, 7, 10, 100, 1001] {
            for count in [1usize, 2, 3, 7, 16] {
                let ranges: Vec<_> = (0..count)
                    .map(|index| Shard { index, count }.range(total))
                    .collect();
                let mut next = 0;
                for r in &ranges {
                    assert_eq!(r.start, next, "contiguous");
                    next = r.end;
                }
                assert_eq!(next, total);
                let sizes: Vec<usize> = ranges.iter().map(|r| r.len()).collect();
                let (lo, hi) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
                assert!(hi - lo <= 1, "{total}/{count}: {sizes:?}");
            }
        }
        // By hand: 10 items over 3 shards.
        let r: Vec<_> = (0..3)
            .map(|i| Shard { index: i, count: 3 }.range(10))
            .collect();
        assert_eq!(r, vec![0..3, 3..6, 6..10]);
    }

    #[test]
    fn cover_finds_overlaps_gaps_and_foreign_shards() {
        let infos = |idx: &[usize], count| -> Vec<ShardInfo> {
            idx.iter()
                .map(|&index| Shard { index, count }.info(10))
                .collect()
        };
        let names = |n: usize| (0..n).map(|k| format!("d{k}")).collect::<Vec<_>>();
        assert_eq!(
            check_cover(&infos(&[2, 0, 1], 3), &names(3)),
            Ok(vec![1, 2, 0])
        );
        let e = check_cover(&infos(&[0, 1, 1], 3), &names(3)).unwrap_err();
        assert!(e.contains("d1 and d2 are both shard 1/3 (overlap)"), "{e}");
        let e = check_cover(&infos(&[0, 2], 3), &names(2)).unwrap_err();
        assert!(e.contains("shard(s) 1/3 missing (gap)"), "{e}");
        let mut mixed = infos(&[0], 2);
        mixed.extend(infos(&[1], 3));
        let e = check_cover(&mixed, &names(2)).unwrap_err();
        assert!(e.contains("different runs"), "{e}");
        let mut forged = infos(&[0, 1], 2);
        forged[1].first = 4;
        let e = check_cover(&forged, &names(2)).unwrap_err();
        assert!(e.contains("should hold items 5..10"), "{e}");
        assert!(check_cover(&[], &[]).is_err());
        // Hand-edited records: no panic, an error.
        let mut broken = infos(&[0], 2);
        broken[0].count = 0;
        assert!(
            check_cover(&broken, &names(1))
                .unwrap_err()
                .contains("does not exist")
        );
        broken[0].count = 2;
        broken[0].index = 5;
        assert!(
            check_cover(&broken, &names(1))
                .unwrap_err()
                .contains("does not exist")
        );
    }
}
