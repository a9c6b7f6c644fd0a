//! The convex experiment (docs/algorithms.md §12): ridge regression in the over-parameterised regime,
//! where the directions that only the forget set spans are invisible to the retain loss.
//!
//! From θ_full every method runs plain gradient descent with the same step size
//! (1 / the largest curvature of all the losses), and we follow ‖θ_t − θ_oracle‖ / ‖θ_full − θ_oracle‖.
//! The closed forms use nalgebra; the iterations are burn tensor operations on any device.

use burn::tensor::{Device, Tensor, TensorData};
use nalgebra::{DMatrix, DVector};
use rand::SeedableRng;
use rand::seq::index::sample;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

/// Parameters of the experiment.
#[derive(Debug, Clone, PartialEq)]
pub struct ConvexParams {
    /// Points.
    pub n: usize,
    /// Dimensions.
    pub dim: usize,
    /// Points forgotten (drawn at random).
    pub forget: usize,
    /// Ridge penalty λ.
    pub lambda: f64,
    /// Gradient steps per method.
    pub steps: usize,
    /// Weight c of the ascent term in GD+GA (L_R − c·L_F).
    pub ascent_weight: f64,
    /// Label noise standard deviation.
    pub noise: f64,
    /// Seed of the data and the forget set.
    pub seed: u64,
}

impl Default for ConvexParams {
    fn default() -> Self {
        Self {
            n: 100,
            dim: 400,
            forget: 5,
            lambda: 1e-2,
            steps: 200,
            ascent_weight: 0.01,
            noise: 0.1,
            seed: 0,
        }
    }
}

/// Errors of the convex experiment.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConvexError {
    /// Parameters that cannot define the experiment.
    #[error("invalid convex experiment: {0}")]
    Invalid(String),
}

/// A generated instance: data, forget set, and the two closed-form solutions.
#[derive(Debug, Clone)]
pub struct Instance {
    /// Features, n × d.
    pub x: DMatrix<f64>,
    /// Targets.
    pub y: DVector<f64>,
    /// Forget indices (sorted).
    pub forget: Vec<usize>,
    /// Retain indices (sorted).
    pub retain: Vec<usize>,
    /// Minimiser of the ridge loss on every point.
    pub theta_full: DVector<f64>,
    /// Minimiser on the retain points.
    pub theta_oracle: DVector<f64>,
}

/// The methods compared, in table order.
pub const METHODS: [&str; 4] = ["GD", "GD+GA", "OM", "OM (retain only)"];

/// Relative distance to the oracle after each step (index 0 = before the first step).
#[derive(Debug, Clone)]
pub struct ConvexResult {
    /// The instance.
    pub instance: Instance,
    /// Step size used by every method.
    pub step_size: f64,
    /// One curve per entry of [`METHODS`], each of `steps + 1` values.
    pub curves: Vec<Vec<f64>>,
}

impl ConvexParams {
    /// Checks the parameters.
    pub fn validate(&self) -> Result<(), ConvexError> {
        let bad = |s: String| Err(ConvexError::Invalid(s));
        if self.n < 2 || self.dim == 0 {
            return bad(format!(
                "need n ≥ 2 and dim ≥ 1 (got n = {}, dim = {})",
                self.n, self.dim
            ));
        }
        if self.forget == 0 || self.forget >= self.n {
            return bad(format!(
                "forget must be between 1 and n − 1 = {} (got {})",
                self.n - 1,
                self.forget
            ));
        }
        if !(self.ascent_weight.is_finite() && self.noise.is_finite()) {
            return bad("ascent_weight and noise must be finite".into());
        }
        if !(self.lambda > 0.0 && self.lambda.is_finite()) {
            return bad(format!(
                "lambda must be > 0 (got {}); without it the oracle is not unique",
                self.lambda
            ));
        }
        if !(self.ascent_weight >= 0.0) || !(self.noise >= 0.0) {
            return bad("ascent_weight and noise must be ≥ 0".into());
        }
        Ok(())
    }
}

/// Minimiser of mean_{i∈rows} (x_i·θ − y_i)² + λ‖θ‖², via Cholesky of the normal equations.
pub fn ridge(x: &DMatrix<f64>, y: &DVector<f64>, rows: &[usize], lambda: f64) -> DVector<f64> {
    let xs = x.select_rows(rows);
    let ys = y.select_rows(rows);
    let m = rows.len() as f64;
    let mut a = xs.transpose() * &xs / m;
    for i in 0..a.nrows() {
        a[(i, i)] += lambda;
    }
    let b = xs.transpose() * ys / m;
    a.cholesky()
        .expect("XᵀX/m + λI is positive definite for λ > 0")
        .solve(&b)
}

/// Draws the data and solves both problems in closed form.
pub fn generate(params: &ConvexParams) -> Result<Instance, ConvexError> {
    params.validate()?;
    let mut rng = ChaCha8Rng::seed_from_u64(params.seed);
    let (n, d) = (params.n, params.dim);
    let x = DMatrix::from_fn(n, d, |_, _| StandardNormal.sample(&mut rng));
    // w* has unit expected norm, so targets are O(1) whatever the dimension.
    let w = DVector::from_fn(d, |_, _| {
        let z: f64 = StandardNormal.sample(&mut rng);
        z / (d as f64).sqrt()
    });
    let noise = DVector::from_fn(n, |_, _| {
        let z: f64 = StandardNormal.sample(&mut rng);
        params.noise * z
    });
    let y = &x * w + noise;
    let mut forget: Vec<usize> = sample(&mut rng, n, params.forget).into_vec();
    forget.sort_unstable();
    let retain: Vec<usize> = (0..n)
        .filter(|i| forget.binary_search(i).is_err())
        .collect();
    let all: Vec<usize> = (0..n).collect();
    let theta_full = ridge(&x, &y, &all, params.lambda);
    let theta_oracle = ridge(&x, &y, &retain, params.lambda);
    Ok(Instance {
        x,
        y,
        forget,
        retain,
        theta_full,
        theta_oracle,
    })
}

/// Largest eigenvalue of the Hessian 2·(XᵀX/m) (+ 2λ) of a mean-squared loss on `rows`.
fn curvature(x: &DMatrix<f64>, rows: &[usize], lambda: f64) -> f64 {
    let xs = x.select_rows(rows);
    // The non-zero spectrum of XᵀX equals that of XXᵀ, which is the smaller matrix here.
    let gram = &xs * xs.transpose() / rows.len() as f64;
    let top = gram.symmetric_eigenvalues().max();
    2.0 * (top + lambda)
}

fn to_tensor(m: &DMatrix<f64>, device: &Device) -> Tensor<2> {
    // nalgebra is column-major; burn wants rows.
    let rows: Vec<f32> = (0..m.nrows())
        .flat_map(|i| (0..m.ncols()).map(move |j| m[(i, j)] as f32))
        .collect();
    Tensor::from_data(TensorData::new(rows, [m.nrows(), m.ncols()]), device)
}

fn column(v: &DVector<f64>, device: &Device) -> Tensor<2> {
    let values: Vec<f32> = v.iter().map(|&a| a as f32).collect();
    Tensor::from_data(TensorData::new(values, [v.len(), 1]), device)
}

/// Gradient of mean_{i} (x_i·θ − t_i)² over the rows of `x`: 2·Xᵀ(Xθ − t)/m.
fn mse_grad(x: &Tensor<2>, theta: &Tensor<2>, target: &Tensor<2>) -> Tensor<2> {
    let m = x.dims()[0] as f64;
    x.clone()
        .transpose()
        .matmul(x.clone().matmul(theta.clone()) - target.clone())
        .mul_scalar(2.0 / m)
}

/// Runs the four methods from θ_full on `device`.
pub fn run(params: &ConvexParams, device: &Device) -> Result<ConvexResult, ConvexError> {
    let instance = generate(params)?;
    let lambda = params.lambda;
    let all: Vec<usize> = (0..params.n).collect();
    let (f, r) = (&instance.forget, &instance.retain);
    // One step size for every method: the inverse of the largest curvature among their losses.
    let top = curvature(&instance.x, r, lambda)
        .max(curvature(&instance.x, &all, 0.0))
        .max(curvature(&instance.x, r, 0.0));
    let step_size = 1.0 / top;

    let x_all = to_tensor(&instance.x, device);
    let x_r = to_tensor(&instance.x.select_rows(r), device);
    let x_f = to_tensor(&instance.x.select_rows(f), device);
    let y_r = column(&instance.y.select_rows(r), device);
    let y_f = column(&instance.y.select_rows(f), device);
    let oracle = column(&instance.theta_oracle, device);
    let start = column(&instance.theta_full, device);
    // Matching targets: the oracle's outputs on the points each variant matches.
    let t_all = x_all.clone().matmul(oracle.clone());
    let t_r = x_r.clone().matmul(oracle.clone());
    let initial = (instance.theta_full.clone() - &instance.theta_oracle).norm();
    let c = params.ascent_weight;

    let gradient = |method: usize, theta: &Tensor<2>| -> Tensor<2> {
        match method {
            0 => mse_grad(&x_r, theta, &y_r) + theta.clone().mul_scalar(2.0 * lambda),
            1 => {
                // L_R − c·L_F: the ridge term belongs to the retain loss only.
                mse_grad(&x_r, theta, &y_r) + theta.clone().mul_scalar(2.0 * lambda)
                    - mse_grad(&x_f, theta, &y_f).mul_scalar(c)
            }
            2 => mse_grad(&x_all, theta, &t_all),
            _ => mse_grad(&x_r, theta, &t_r),
        }
    };
    let distance = |theta: &Tensor<2>| -> f64 {
        let diff = theta.clone() - oracle.clone();
        let squared: f32 = diff.clone().mul(diff).sum().into_scalar::<f32>();
        (squared as f64).sqrt() / initial
    };
    let curves = (0..METHODS.len())
        .map(|method| {
            let mut theta = start.clone();
            let mut curve = vec![distance(&theta)];
            for _ in 0..params.steps {
                theta = theta.clone() - gradient(method, &theta).mul_scalar(step_size);
                curve.push(distance(&theta));
            }
            curve
        })
        .collect();
    Ok(ConvexResult {
        instance,
        step_size,
        curves,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> ConvexParams {
        ConvexParams {
            n: 30,
            dim: 90,
            forget: 3,
            lambda: 1e-2,
            steps: 100,
            ascent_weight: 0.01,
            noise: 0.1,
            seed: 7,
        }
    }

    #[test]
    fn closed_form_matches_an_independent_least_squares_solve() {
        // Ridge as ordinary least squares on an augmented system [X/√m; √λ I] θ = [y/√m; 0],
        // solved by SVD instead of the normal equations' Cholesky.
        let p = small();
        let inst = generate(&p).unwrap();
        for rows in [(0..p.n).collect::<Vec<_>>(), inst.retain.clone()] {
            let m = rows.len() as f64;
            let xs = inst.x.select_rows(&rows) / m.sqrt();
            let ys = inst.y.select_rows(&rows) / m.sqrt();
            let mut a = DMatrix::zeros(rows.len() + p.dim, p.dim);
            a.view_mut((0, 0), (rows.len(), p.dim)).copy_from(&xs);
            for i in 0..p.dim {
                a[(rows.len() + i, i)] = p.lambda.sqrt();
            }
            let mut b = DVector::zeros(rows.len() + p.dim);
            b.rows_mut(0, rows.len()).copy_from(&ys);
            let direct = a.svd(true, true).solve(&b, 1e-12).unwrap();
            let normal = ridge(&inst.x, &inst.y, &rows, p.lambda);
            let err = (&direct - &normal).norm() / direct.norm();
            assert!(err < 1e-8, "relative error {err}");
        }
        // The oracle differs from the full solution: forgetting changes the model.
        assert!((&inst.theta_full - &inst.theta_oracle).norm() > 1e-3);
    }

    #[test]
    fn matching_beats_descent_on_a_small_instance() {
        let p = small();
        let result = run(&p, &Device::flex()).unwrap();
        let [gd, gd_ga, om, om_r] = [
            &result.curves[0],
            &result.curves[1],
            &result.curves[2],
            &result.curves[3],
        ];
        for curve in &result.curves {
            assert!(
                (curve[0] - 1.0).abs() < 1e-4,
                "every method starts at θ_full"
            );
        }
        assert!(om[100] < 1e-3, "OM converges: {}", om[100]);
        assert!(gd[100] > 0.5, "GD crawls: {}", gd[100]);
        assert!(om_r.iter().all(|&v| v > 0.5), "OM on the retain set stalls");
        assert!(
            gd_ga.iter().all(|&v| v > 1e-2),
            "GD+GA does not reach the oracle"
        );
        // OM decreases monotonically (convex quadratic, step ≤ 1/L).
        assert!(om.windows(2).all(|w| w[1] <= w[0] + 1e-5));
    }
}
