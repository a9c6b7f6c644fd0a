//! The bench's configuration as JSON (shipped in `assets/bench/`), its overrides and its grid.

use crate::error::{BenchError, Result};
use crate::sequence::SequenceSpec;
use crate::settings::{BenchSettings, ForgetDraw, MethodSpec, NamedForgetSet};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::Path;
use unlearn_data::{Dataset, Ends, ForgetSet};
use unlearn_train::{DataSource, Recipe};

/// The default experiment (digits), embedded so the bench needs no file.
pub const DEFAULT_CONFIG: &str = include_str!("../../../assets/bench/digits.json");

/// A recipe by name or spelled out.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RecipeSpec {
    /// A named recipe (`mlp`, `cnn`, …).
    Named(String),
    /// A full recipe.
    Full(Recipe),
}

impl RecipeSpec {
    /// The recipe.
    pub fn resolve(&self) -> Result<Recipe> {
        Ok(match self {
            RecipeSpec::Named(name) => Recipe::named(name)?,
            RecipeSpec::Full(r) => r.clone(),
        })
    }
}

/// One forget set of the experiment (docs/algorithms.md §11).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForgetSpec {
    /// Name in reports and paths.
    pub name: String,
    /// Number of points.
    pub size: usize,
    /// How the points are chosen (default: `random`, or `class` when `classes` is given).
    #[serde(default)]
    pub kind: Option<ForgetKind>,
    /// `class`: draw from these classes.
    #[serde(default)]
    pub classes: Option<Vec<u32>>,
    /// `pca`: the principal component, 1 (default) or 2.
    #[serde(default)]
    pub component: Option<usize>,
    /// `pca`: `top` (default) or `both` (top and bottom halves).
    #[serde(default)]
    pub ends: Option<Ends>,
    /// `neighbours`: the example whose nearest neighbours (input space) are forgotten; default
    /// one drawn with `seed`.
    #[serde(default)]
    pub anchor: Option<usize>,
    /// Seed of the draw.
    #[serde(default)]
    pub seed: u64,
}

/// How a forget set's points are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ForgetKind {
    /// Uniformly at random.
    Random,
    /// Uniformly among the points of `classes`.
    Class,
    /// The end(s) of a principal component of the train × train datamodel matrix.
    Pca,
    /// The nearest neighbours of one example in input space.
    Neighbours,
}

impl ForgetSpec {
    /// The kind, with its default.
    pub fn kind(&self) -> ForgetKind {
        self.kind.unwrap_or(if self.classes.is_some() {
            ForgetKind::Class
        } else {
            ForgetKind::Random
        })
    }

    /// Draws the set from the training split (a `pca` set is drawn later, from the datamodels).
    pub fn draw(&self, train: &Dataset) -> Result<NamedForgetSet> {
        let kind = self.kind();
        let misplaced = |field: &str, applies: ForgetKind| {
            BenchError::Config(format!(
                "'{field}' applies to kind {applies:?} only, not {kind:?}"
            ))
        };
        if self.classes.is_some() && kind != ForgetKind::Class {
            return Err(misplaced("classes", ForgetKind::Class));
        }
        if (self.component.is_some() || self.ends.is_some()) && kind != ForgetKind::Pca {
            return Err(misplaced("component/ends", ForgetKind::Pca));
        }
        if self.anchor.is_some() && kind != ForgetKind::Neighbours {
            return Err(misplaced("anchor", ForgetKind::Neighbours));
        }
        let n = train.len();
        let (draw, description) = match kind {
            ForgetKind::Random => (
                ForgetDraw::Fixed(ForgetSet::random(n, self.size, self.seed)?),
                format!("{} random points", self.size),
            ),
            ForgetKind::Class => {
                let classes = self.classes.as_ref().ok_or_else(|| {
                    BenchError::Config("kind class needs 'classes', e.g. [3]".into())
                })?;
                (
                    ForgetDraw::Fixed(ForgetSet::class_restricted(
                        &train.labels,
                        classes,
                        self.size,
                        self.seed,
                    )?),
                    format!("{} points, classes {classes:?}", self.size),
                )
            }
            ForgetKind::Pca => {
                let component = self.component.unwrap_or(1);
                let ends = self.ends.unwrap_or(Ends::Top);
                let what = match ends {
                    Ends::Top => "top",
                    Ends::Both => "top and bottom halves",
                };
                (
                    ForgetDraw::Principal {
                        size: self.size,
                        component,
                        ends,
                    },
                    format!(
                        "{} points, {what} of principal component {component} of the datamodel matrix",
                        self.size
                    ),
                )
            }
            ForgetKind::Neighbours => {
                let anchor = match self.anchor {
                    Some(a) => a,
                    None => ForgetSet::random(n, 1, self.seed)?.indices[0],
                };
                (
                    ForgetDraw::Fixed(ForgetSet::nearest_neighbours(
                        &train.features,
                        train.dim,
                        anchor,
                        self.size,
                    )?),
                    format!(
                        "{} nearest neighbours of training point {anchor} (input space)",
                        self.size
                    ),
                )
            }
        };
        Ok(NamedForgetSet {
            name: self.name.clone(),
            draw,
            description,
        })
    }
}

/// The whole experiment: the data, the recipe, the sizes, the forget sets and the methods. The
/// data's and the sizes' fields sit at the top level of the JSON, beside `recipe`,
/// `forget_sets` and `methods`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BenchConfig {
    /// Dataset and split (`dataset`, `label_column`, `val_fraction`, `split_seed`, `limit`).
    #[serde(flatten)]
    pub data: DataSource,
    /// Recipe of every trained model.
    pub recipe: RecipeSpec,
    /// Zoo sizes, subsets and estimator (`models`, `subset_models`, `alpha`, …).
    #[serde(flatten)]
    pub settings: BenchSettings,
    /// Forget sets.
    pub forget_sets: Vec<ForgetSpec>,
    /// Methods and their grids.
    pub methods: Vec<MethodSpec>,
    /// Sequences of deletion requests, each chained and scored after every request
    /// (docs/algorithms.md §14); none by default.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sequences: Vec<SequenceSpec>,
}

/// The keys of [`BenchConfig`] beside its flattened parts' (serde's `deny_unknown_fields` does
/// not combine with `flatten`, so [`BenchConfig::load`] checks keys itself).
const OWN_KEYS: [&str; 4] = ["recipe", "forget_sets", "methods", "sequences"];

/// The field names a derived `Deserialize` struct asks its deserializer for.
fn field_names<T: for<'de> Deserialize<'de>>() -> &'static [&'static str] {
    use serde::de::{Error, Visitor, value};
    struct Fields<'a>(&'a mut &'static [&'static str]);
    impl<'de> serde::Deserializer<'de> for Fields<'_> {
        type Error = value::Error;
        fn deserialize_any<V: Visitor<'de>>(
            self,
            _: V,
        ) -> std::result::Result<V::Value, value::Error> {
            Err(value::Error::custom("not a struct"))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> std::result::Result<V::Value, value::Error> {
            *self.0 = fields;
            Err(value::Error::custom("field names only"))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
            option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
            ignored_any
        }
    }
    let mut fields: &'static [&'static str] = &[];
    let _ = T::deserialize(Fields(&mut fields));
    fields
}

impl BenchConfig {
    /// Every key a bench config may have.
    pub fn keys() -> Vec<&'static str> {
        let mut keys = field_names::<DataSource>().to_vec();
        keys.extend(OWN_KEYS);
        keys.extend(field_names::<BenchSettings>());
        keys
    }
}

impl BenchConfig {
    /// The shipped default (`file` = None) or a file, with `key=value` overrides of top-level
    /// fields applied in order.
    pub fn load(file: Option<&Path>, sets: &[String]) -> Result<Self> {
        let text = match file {
            Some(path) => std::fs::read_to_string(path).map_err(BenchError::io(path))?,
            None => DEFAULT_CONFIG.to_string(),
        };
        let what = file
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "the default bench config".into());
        let mut value: Value = serde_json::from_str(&text)
            .map_err(|e| BenchError::Config(format!("{what}: not valid JSON: {e}")))?;
        for set in sets {
            let (key, raw) = set
                .split_once('=')
                .ok_or_else(|| BenchError::Config(format!("override '{set}' is not key=value")))?;
            let v = serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_string()));
            value
                .as_object_mut()
                .ok_or_else(|| BenchError::Config(format!("{what}: must be a JSON object")))?
                .insert(key.trim().to_string(), v);
        }
        let keys = Self::keys();
        let object = value
            .as_object()
            .ok_or_else(|| BenchError::Config(format!("{what}: must be a JSON object")))?;
        if let Some(unknown) = object.keys().find(|k| !keys.contains(&k.as_str())) {
            return Err(BenchError::UnknownKey {
                config: what,
                key: unknown.clone(),
                expected: keys.join(", "),
            });
        }
        let config: BenchConfig = serde_json::from_value(value)
            .map_err(|e| BenchError::Config(format!("{what}: invalid bench config: {e}")))?;
        if config.forget_sets.is_empty() || config.methods.is_empty() {
            return Err(BenchError::Config(format!(
                "{what}: needs at least one forget set and one method"
            )));
        }
        Ok(config)
    }

    /// The reduced experiment: 30 models, 100 subset models, the first forget set, one grid
    /// point per method.
    pub fn quick(mut self) -> Self {
        self.settings.models = self.settings.models.min(30);
        self.settings.subset_models = self.settings.subset_models.min(100);
        self.forget_sets.truncate(1);
        for m in &mut self.methods {
            for values in m.grid.values_mut() {
                values.truncate(1);
            }
        }
        self
    }

    /// Every forget set, drawn from the training split before anything trains (a `pca` set
    /// is checked now and drawn once the datamodels exist).
    pub fn draw_forget_sets(&self, train: &Dataset) -> Result<Vec<NamedForgetSet>> {
        self.forget_sets
            .iter()
            .map(|spec| {
                spec.draw(train)
                    .map_err(|e| BenchError::Config(format!("forget set '{}': {e}", spec.name)))
            })
            .collect()
    }
}
