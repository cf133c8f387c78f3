//! Four of the five architectures (the latent-variable one is in `latent.rs`).

use crate::architecture::{
    check_continuous_targets, with_frozen_parameters, Answers, Architecture, ContinuousAnswers,
    Prediction, YRange,
};
use crate::mlp::{Mlp, MlpConfig};
use ebm_core::check::{class_labels, ensure_same_batch, ensure_shape, matrix, sign_labels};
use ebm_core::{
    exhaustive_argmin, EbmError, Energy, FiniteSpace, Minimizer, Minimum, Result, Search,
};
use tch::nn::{self, Module};
use tch::{Device, Kind, Tensor};

/// ½‖a_b − c_k‖² for every pair: `a [B, h]`, `c [K, h]` → `[B, K]`, without a `[B, K, h]` tensor.
fn half_squared_distances(a: &Tensor, c: &Tensor) -> Result<Tensor> {
    let a2 = a.f_square()?.f_sum_dim_intlist(1, true, a.kind())?;
    let c2 = c
        .f_square()?
        .f_sum_dim_intlist(1, true, c.kind())?
        .f_transpose(0, 1)?;
    let cross = a.f_matmul(&c.f_transpose(0, 1)?)?;
    // Rounding can make a tiny distance negative: clamp at 0.
    Ok(a2
        .f_add(&c2)?
        .f_sub(&cross.f_mul_scalar(2.0)?)?
        .f_clamp_min(0.0)?
        .f_mul_scalar(0.5)?)
}

/// ½‖a − c‖² per row.
fn half_squared_norm(a: &Tensor, c: &Tensor) -> Result<Tensor> {
    Ok(a.f_sub(c)?
        .f_square()?
        .f_sum_dim_intlist(1, false, a.kind())?
        .f_mul_scalar(0.5)?)
}

fn check_y_width(y: &Tensor, dim: i64, what: &str) -> Result<()> {
    matrix(y, what, 0, Some(dim)).map(drop)
}

/// Architecture 1, regression: E(x, y) = ½‖G_W(x) − y‖², ŷ = G_W(x) in closed form.
#[derive(Debug)]
pub struct Regression {
    vs: nn::VarStore,
    g: Mlp,
    y_dim: i64,
    answers: Answers,
}

impl Regression {
    /// G: `x_dim → y_dim`; `search` comes from `SearchConfig::check`.
    pub fn new(
        x_dim: i64,
        y_dim: i64,
        g: &MlpConfig,
        range: &YRange,
        search: impl Into<Search>,
        device: Device,
    ) -> Result<Self> {
        let vs = nn::VarStore::new(device);
        let g = Mlp::new(&(vs.root() / "g"), x_dim, y_dim, g)?;
        let answers = Answers::Continuous(Box::new(
            ContinuousAnswers::new(y_dim, range, search)?.to_device(device),
        ));
        Ok(Regression {
            vs,
            g,
            y_dim,
            answers,
        })
    }

    /// ŷ by gradient descent on E (which must agree with the closed form G(x)).
    pub fn predict_by_descent(&self, x: &Tensor) -> Result<ebm_core::Minima> {
        let x = &self.model_inputs(x)?;
        let Answers::Continuous(c) = &self.answers else {
            unreachable!("regression answers are continuous")
        };
        with_frozen_parameters(&self.vs, || c.search.minimize(self, x, &c.space))
    }
}

impl Energy for Regression {
    fn energy(&self, x: &Tensor, y: &Tensor) -> Result<Tensor> {
        ensure_same_batch(x, "x", y, "y")?;
        check_y_width(y, self.y_dim, "y")?;
        half_squared_norm(&self.g.forward(x), y)
    }
    fn candidate_energies(&self, x: &Tensor, ys: &Tensor) -> Result<Tensor> {
        check_y_width(ys, self.y_dim, "candidates")?;
        half_squared_distances(&self.g.forward(x), ys)
    }
}

impl Architecture for Regression {
    fn name(&self) -> &'static str {
        "regression"
    }
    fn var_store(&self) -> &nn::VarStore {
        &self.vs
    }
    fn var_store_mut(&mut self) -> &mut nn::VarStore {
        &mut self.vs
    }
    fn x_dim(&self) -> i64 {
        self.g.in_dim()
    }
    fn answers(&self) -> &Answers {
        &self.answers
    }
    fn predict(&self, x: &Tensor) -> Result<Prediction> {
        let x = &self.model_inputs(x)?;
        let _guard = tch::no_grad_guard();
        let y = self.g.forward(x);
        let minima = rows_as_minima(&y)?;
        Ok(Prediction::Continuous { y, minima })
    }
    fn check_targets(&self, y: &Tensor) -> Result<()> {
        check_continuous_targets(y, self.y_dim, self.name())
    }
}

/// Each row of `[B, d]` as the single minimum of its x (energy 0).
fn rows_as_minima(y: &Tensor) -> Result<Vec<Vec<Minimum>>> {
    let d = y.size()[1] as usize;
    let flat: Vec<f64> = Vec::try_from(y.to_kind(Kind::Double).flatten(0, -1))?;
    Ok(flat
        .chunks(d.max(1))
        .map(|row| {
            vec![Minimum {
                y: row.to_vec(),
                energy: 0.0,
            }]
        })
        .collect())
}

/// Architecture 2, implicit regression: E(x, y) = ½‖G_x(x) − G_y(y)‖²; several y per x can
/// reach zero energy, so ŷ comes from gradient descent with restarts, as a set of minima.
#[derive(Debug)]
pub struct ImplicitRegression {
    vs: nn::VarStore,
    gx: Mlp,
    gy: Mlp,
    y_dim: i64,
    answers: Answers,
}

impl ImplicitRegression {
    /// G_x: `x_dim → embed`, G_y: `y_dim → embed`; `search` comes from
    /// `SearchConfig::check`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        x_dim: i64,
        y_dim: i64,
        embed: i64,
        gx: &MlpConfig,
        gy: &MlpConfig,
        range: &YRange,
        search: impl Into<Search>,
        device: Device,
    ) -> Result<Self> {
        let vs = nn::VarStore::new(device);
        let gx = Mlp::new(&(vs.root() / "gx"), x_dim, embed, gx)?;
        let gy = Mlp::new(&(vs.root() / "gy"), y_dim, embed, gy)?;
        let answers = Answers::Continuous(Box::new(
            ContinuousAnswers::new(y_dim, range, search)?.to_device(device),
        ));
        Ok(ImplicitRegression {
            vs,
            gx,
            gy,
            y_dim,
            answers,
        })
    }
}

/// The implicit-regression energy once x is embedded: E(h, y) = ½‖h − G_y(y)‖² with
/// h = G_x(x). Inference descends on it, so G_x runs once per x rather than once per step.
struct Embedded<'a> {
    gy: &'a Mlp,
    y_dim: i64,
}

impl Energy for Embedded<'_> {
    fn energy(&self, h: &Tensor, y: &Tensor) -> Result<Tensor> {
        ensure_same_batch(h, "x", y, "y")?;
        check_y_width(y, self.y_dim, "y")?;
        half_squared_norm(h, &self.gy.forward(y))
    }

    /// ∇_y ½‖h − G_y(y)‖² = J_{G_y}(y)ᵀ (G_y(y) − h), by G_y's own backward pass.
    fn energy_and_grad(&self, h: &Tensor, y: &Tensor) -> Result<(Tensor, Tensor)> {
        ensure_same_batch(h, "x", y, "y")?;
        check_y_width(y, self.y_dim, "y")?;
        let (out, pre) = self.gy.forward_kept(y)?;
        let _guard = tch::no_grad_guard();
        let diff = out.f_sub(h)?;
        let e = diff
            .f_square()?
            .f_sum_dim_intlist(1, false, diff.kind())?
            .f_mul_scalar(0.5)?;
        Ok((e, self.gy.input_vjp(pre, &diff)?))
    }
}

impl ImplicitRegression {
    fn embedded(&self) -> Embedded<'_> {
        Embedded {
            gy: &self.gy,
            y_dim: self.y_dim,
        }
    }
}

impl Energy for ImplicitRegression {
    fn energy(&self, x: &Tensor, y: &Tensor) -> Result<Tensor> {
        self.embedded().energy(&self.gx.forward(x), y)
    }
    /// G_x(x) once (no graph), then the embedded energy's analytic gradient.
    fn energy_and_grad(&self, x: &Tensor, y: &Tensor) -> Result<(Tensor, Tensor)> {
        let h = tch::no_grad(|| self.gx.forward(x));
        self.embedded().energy_and_grad(&h, y)
    }
    fn candidate_energies(&self, x: &Tensor, ys: &Tensor) -> Result<Tensor> {
        check_y_width(ys, self.y_dim, "candidates")?;
        half_squared_distances(&self.gx.forward(x), &self.gy.forward(ys))
    }
}

impl Architecture for ImplicitRegression {
    fn name(&self) -> &'static str {
        "implicit_regression"
    }
    fn var_store(&self) -> &nn::VarStore {
        &self.vs
    }
    fn var_store_mut(&mut self) -> &mut nn::VarStore {
        &mut self.vs
    }
    fn x_dim(&self) -> i64 {
        self.gx.in_dim()
    }
    fn answers(&self) -> &Answers {
        &self.answers
    }
    fn predict(&self, x: &Tensor) -> Result<Prediction> {
        let x = &self.model_inputs(x)?;
        let Answers::Continuous(c) = &self.answers else {
            unreachable!("implicit regression answers are continuous")
        };
        let found = with_frozen_parameters(&self.vs, || {
            let h = {
                let _guard = tch::no_grad_guard();
                self.gx.forward(x)
            };
            c.search.minimize(&self.embedded(), &h, &c.space)
        })?;
        Ok(Prediction::Continuous {
            y: found.best_y,
            minima: found.distinct,
        })
    }
    fn check_targets(&self, y: &Tensor) -> Result<()> {
        check_continuous_targets(y, self.y_dim, self.name())
    }
}

/// Architecture 3, binary classification: E(x, y) = −y·G_W(x), y ∈ {−1, +1}; ŷ = sign G_W(x).
#[derive(Debug)]
pub struct Binary {
    vs: nn::VarStore,
    g: Mlp,
    answers: Answers,
}

impl Binary {
    /// G: `x_dim → 1`.
    pub fn new(x_dim: i64, g: &MlpConfig, device: Device) -> Result<Self> {
        let vs = nn::VarStore::new(device);
        let g = Mlp::new(&(vs.root() / "g"), x_dim, 1, g)?;
        Ok(Binary {
            vs,
            g,
            answers: Answers::Finite(FiniteSpace::Signs),
        })
    }

    /// The score G_W(x), `[B]`.
    pub fn score(&self, x: &Tensor) -> Tensor {
        self.g.forward(x).squeeze_dim(1)
    }
}

impl Energy for Binary {
    fn energy(&self, x: &Tensor, y: &Tensor) -> Result<Tensor> {
        ensure_same_batch(x, "x", y, "y")?;
        let score = self.score(x);
        ensure_shape(y, "binary y", &score.size())?;
        Ok(y.f_to_kind(score.kind())?.f_mul(&score)?.f_neg()?)
    }
    fn candidate_energies(&self, x: &Tensor, ys: &Tensor) -> Result<Tensor> {
        let score = self.score(x).unsqueeze(1);
        let ys = ys.f_to_kind(score.kind())?.f_view([1, -1])?;
        Ok(score.f_mul(&ys)?.f_neg()?)
    }
}

impl Architecture for Binary {
    fn name(&self) -> &'static str {
        "binary"
    }
    fn var_store(&self) -> &nn::VarStore {
        &self.vs
    }
    fn var_store_mut(&mut self) -> &mut nn::VarStore {
        &mut self.vs
    }
    fn x_dim(&self) -> i64 {
        self.g.in_dim()
    }
    fn answers(&self) -> &Answers {
        &self.answers
    }
    fn predict(&self, x: &Tensor) -> Result<Prediction> {
        let x = &self.model_inputs(x)?;
        let found = exhaustive_argmin(self, x, &FiniteSpace::Signs)?;
        Ok(Prediction::Finite {
            index: found.index,
            y: found.y,
        })
    }
    fn check_targets(&self, y: &Tensor) -> Result<()> {
        sign_labels(y, "binary labels").map(drop)
    }
    fn label_index(&self, y: &Tensor) -> Result<Tensor> {
        sign_labels(y, "binary labels")?;
        // Candidates are [−1, +1]: −1 is index 0, +1 index 1.
        Ok(y.f_gt(0.0)?.f_to_kind(Kind::Int64)?)
    }
}

/// Architecture 4, multi-class: E(x, y = k) = G_W(x)[k], all classes in one forward pass.
#[derive(Debug)]
pub struct MultiClass {
    vs: nn::VarStore,
    g: Mlp,
    answers: Answers,
}

impl MultiClass {
    /// G: `x_dim → classes`.
    pub fn new(x_dim: i64, classes: i64, g: &MlpConfig, device: Device) -> Result<Self> {
        if classes < 2 {
            return Err(EbmError::Hyperparameter {
                name: "classes".into(),
                reason: "must be >= 2",
                value: classes.to_string(),
            });
        }
        let vs = nn::VarStore::new(device);
        let g = Mlp::new(&(vs.root() / "g"), x_dim, classes, g)?;
        Ok(MultiClass {
            vs,
            g,
            answers: Answers::Finite(FiniteSpace::Classes(classes)),
        })
    }

    /// Number of classes K.
    pub fn classes(&self) -> i64 {
        self.g.out_dim()
    }
}

impl Energy for MultiClass {
    fn energy(&self, x: &Tensor, y: &Tensor) -> Result<Tensor> {
        ensure_same_batch(x, "x", y, "y")?;
        class_labels(y, "class labels", Some(self.classes()))?;
        let index = y.f_unsqueeze(1)?;
        Ok(self
            .g
            .forward(x)
            .f_gather(1, &index, false)?
            .f_squeeze_dim(1)?)
    }
    fn candidate_energies(&self, x: &Tensor, ys: &Tensor) -> Result<Tensor> {
        let k = self.classes();
        if ys.kind() == Kind::Int64 && ys.size() == [k] {
            // The whole label set in order (the common case): every class from one forward
            // pass, no gather, and no label check (0, …, K−1 are valid labels).
            let in_order = bool::try_from(
                ys.f_eq_tensor(&Tensor::f_arange(k, (Kind::Int64, ys.device()))?)?
                    .f_all()?,
            )?;
            if in_order {
                return Ok(self.g.forward(x));
            }
        }
        class_labels(ys, "candidate classes", Some(k))?;
        Ok(self.g.forward(x).f_index_select(1, ys)?)
    }
}

impl Architecture for MultiClass {
    fn name(&self) -> &'static str {
        "multi_class"
    }
    fn var_store(&self) -> &nn::VarStore {
        &self.vs
    }
    fn var_store_mut(&mut self) -> &mut nn::VarStore {
        &mut self.vs
    }
    fn x_dim(&self) -> i64 {
        self.g.in_dim()
    }
    fn answers(&self) -> &Answers {
        &self.answers
    }
    fn predict(&self, x: &Tensor) -> Result<Prediction> {
        let x = &self.model_inputs(x)?;
        let found = exhaustive_argmin(self, x, &FiniteSpace::Classes(self.classes()))?;
        Ok(Prediction::Finite {
            index: found.index,
            y: found.y,
        })
    }
    fn check_targets(&self, y: &Tensor) -> Result<()> {
        class_labels(y, "class labels", Some(self.classes())).map(drop)
    }
    fn label_index(&self, y: &Tensor) -> Result<Tensor> {
        class_labels(y, "class labels", Some(self.classes()))?;
        Ok(y.shallow_clone())
    }
}
