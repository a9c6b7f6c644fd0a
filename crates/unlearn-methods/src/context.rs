//! What every method is given: the originals, the data, the forget set and optional inputs.

use crate::MethodError;
use burn::tensor::{Device, Tensor, TensorData};
use unlearn_data::{ForgetSet, Prepared};
use unlearn_models::{Architecture, stacking};
use unlearn_train::Zoo;

/// Inputs of one unlearning request.
pub struct Context<'a, A: Architecture> {
    /// The originals' architecture.
    pub arch: &'a A,
    /// Zoo of original models (trained on the full training set).
    pub originals: &'a Zoo,
    /// The data the originals were trained on, split and standardised the same way.
    pub data: &'a Prepared,
    /// The forget set (indices into the training split).
    pub forget: &'a ForgetSet,
    /// Oracles whose outputs are Oracle Matching's targets (never the evaluation oracles).
    pub target_oracles: Option<&'a Zoo>,
    /// Σ_{i∈F} β[i, x, c] on every evaluated point (`points × classes`), for DM-Direct and DMM.
    pub beta_forget: Option<&'a [f32]>,
    /// When `originals` are themselves unlearned (a chain of requests, [`crate::chain`]): the
    /// trained originals the chain began from. `forget` is then every point forgotten so far,
    /// and DM-Direct and DMM predict from these models' logits (`beta_forget` is their
    /// attribution).
    pub root: Option<&'a Zoo>,
    /// Device (without autodiff) the methods run on.
    pub device: Device,
}

impl<A: Architecture> Context<'_, A> {
    /// Training points.
    pub fn n_train(&self) -> usize {
        self.data.train.len()
    }

    /// Evaluated points (train then validation).
    pub fn points(&self) -> usize {
        self.originals.points
    }

    /// Classes.
    pub fn classes(&self) -> usize {
        self.originals.classes
    }

    /// Retain set R = S \ F.
    pub fn retain(&self) -> Vec<usize> {
        self.forget.retain_indices(self.n_train())
    }

    /// Examples one retraining passes forward and backward: the originals' recipe on R.
    pub fn retrain_examples(&self) -> u64 {
        (self.originals.manifest.recipe.epochs * self.retain().len()) as u64
    }

    /// Originals `indices` as one stack on `device`.
    pub fn load_stack(&self, indices: &[usize], device: &Device) -> Result<A::Model, MethodError> {
        let singles = indices
            .iter()
            .map(|&i| self.originals.load_model(self.arch, i, device))
            .collect::<Result<Vec<_>, _>>()?;
        if let [_] = indices {
            return Ok(singles.into_iter().next().expect("one model"));
        }
        let seeds: Vec<u64> = indices
            .iter()
            .map(|&i| self.originals.manifest.seeds[i])
            .collect();
        let template = self
            .arch
            .init(&self.input(), &seeds, device)
            .map_err(unlearn_train::TrainError::from)?;
        Ok(stacking::concat(template, &singles))
    }

    /// What the models are built for.
    pub fn input(&self) -> unlearn_models::InputSpec {
        self.originals.input()
    }

    /// Training features `[n, d]` on `device`.
    pub fn train_features(&self, device: &Device) -> Tensor<2> {
        let t = &self.data.train;
        Tensor::from_data(
            TensorData::new(t.features.clone(), [t.len(), t.dim]),
            device,
        )
    }

    /// Features of every evaluated point `[P, d]` on `device`.
    pub fn eval_features(&self, device: &Device) -> Tensor<2> {
        let (t, v) = (&self.data.train, &self.data.val);
        let mut values = t.features.clone();
        values.extend_from_slice(&v.features);
        Tensor::from_data(TensorData::new(values, [t.len() + v.len(), t.dim]), device)
    }

    /// Training labels `[n]` on `device`.
    pub fn train_labels(&self, device: &Device) -> Tensor<1, burn::tensor::Int> {
        let labels: Vec<i64> = self.data.train.labels.iter().map(|&l| l as i64).collect();
        Tensor::from_data(TensorData::new(labels, [self.n_train()]), device)
    }

    /// Logits the datamodels' prediction starts from, `K × P × C`: the chain's trained
    /// originals (the models the attribution describes), else the originals.
    pub fn prediction_base(&self, indices: &[usize]) -> Vec<f32> {
        let zoo = self.root.unwrap_or(self.originals);
        indices
            .iter()
            .flat_map(|&i| zoo.model_logits(i).iter().copied())
            .collect()
    }

    /// Logits of the originals `indices`, `K × P × C`.
    pub fn original_logits(&self, indices: &[usize]) -> Vec<f32> {
        indices
            .iter()
            .flat_map(|&i| self.originals.model_logits(i).iter().copied())
            .collect()
    }

    /// Checks that the originals were trained on these data.
    pub fn check(&self) -> Result<(), MethodError> {
        let d = &self.originals.manifest.dataset;
        if d.n_train != self.data.train.len() || d.n_val != self.data.val.len() {
            return Err(MethodError::SplitMismatch {
                trained_train: d.n_train,
                trained_val: d.n_val,
                train: self.data.train.len(),
                val: self.data.val.len(),
            });
        }
        if let Some(z) = self.target_oracles
            && (z.points != self.points() || z.classes != self.classes())
        {
            return Err(MethodError::Mismatch(
                "the target oracles' logits do not match the originals' points or classes".into(),
            ));
        }
        if let Some(root) = self.root
            && (root.points != self.points()
                || root.classes != self.classes()
                || root.models != self.originals.models)
        {
            return Err(MethodError::Mismatch(
                "the chain's trained originals do not match the unlearned zoo's models, points or classes".into(),
            ));
        }
        if let Some(b) = self.beta_forget
            && b.len() != self.points() * self.classes()
        {
            return Err(MethodError::Mismatch(format!(
                "attribution rows cover {} values but the originals have {} points × {} classes",
                b.len(),
                self.points(),
                self.classes()
            )));
        }
        Ok(())
    }
}
