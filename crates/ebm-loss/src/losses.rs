//! The LeCun loss family: one [`Loss`] trait and one small type per loss.
//!
//! Notation: E_C = E(x_i, y_i), E_I = E(x_i, ȳ_i) with ȳ_i the most offending incorrect
//! answer, and ∫_y e^(−βE(x_i, y)) a sum over a finite Y or a weighted sum over quadrature or
//! Monte Carlo points of a continuous Y (see [`LossInput`]).

use crate::input::{LossInput, Needs, Reduction};
use ebm_core::check::check_positive;
use ebm_core::gibbs::{free_energy_unchecked, representable_beta};
use ebm_core::{EbmError, Result};
use tch::Tensor;

/// A loss L(E_C, E_I, energies over Y) for energy-based training, per sample.
///
/// Object safe: a trainer can hold a `Box<dyn Loss>` (see [`crate::LossConfig::build`]) and
/// ask [`Loss::needs`] which energies to compute.
pub trait Loss: std::fmt::Debug + Send {
    /// The loss of every sample, `[B]`, differentiable in every energy of `input`.
    fn per_sample(&self, input: &LossInput<'_>) -> Result<Tensor>;

    /// Which energies besides E_C this loss reads.
    fn needs(&self) -> Needs;

    /// The loss's name, as the `kind` of its config (`"hinge"`, `"nll"`, ...).
    fn name(&self) -> &'static str;

    /// The reduced loss: [`Loss::per_sample`], then `reduction`.
    fn loss(&self, input: &LossInput<'_>, reduction: Reduction) -> Result<Tensor> {
        reduction.apply(&self.per_sample(input)?)
    }
}

impl<L: Loss + ?Sized> Loss for Box<L> {
    fn per_sample(&self, input: &LossInput<'_>) -> Result<Tensor> {
        (**self).per_sample(input)
    }
    fn needs(&self) -> Needs {
        (**self).needs()
    }
    fn name(&self) -> &'static str {
        (**self).name()
    }
    fn loss(&self, input: &LossInput<'_>, reduction: Reduction) -> Result<Tensor> {
        (**self).loss(input, reduction)
    }
}

const ONLY_CORRECT: Needs = Needs {
    incorrect: false,
    all: false,
};
const PAIR: Needs = Needs {
    incorrect: true,
    all: false,
};
const ALL: Needs = Needs {
    incorrect: false,
    all: true,
};

/// The energy loss L = E_C: pushes the correct answer's energy down and nothing up, so it
/// collapses to a flat surface unless the architecture forbids it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct EnergyLoss;

impl Loss for EnergyLoss {
    fn per_sample(&self, input: &LossInput<'_>) -> Result<Tensor> {
        input.checked_correct(self.name())?;
        Ok(input.e_correct.shallow_clone())
    }
    fn needs(&self) -> Needs {
        ONLY_CORRECT
    }
    fn name(&self) -> &'static str {
        "energy"
    }
}

/// The generalized perceptron loss L = E_C − min_y E(x_i, y) ≥ 0. It has no margin and can
/// still go flat.
///
/// Reads `e_all` (min over it; log weights are ignored, a minimum needs none). Without
/// `e_all` it uses E_I: min_y E = min(E_C, E_I) when ȳ is the most offending answer, so
/// L = max(0, E_C − E_I). For a finite Y, `e_all` must contain E_C.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Perceptron;

impl Loss for Perceptron {
    fn per_sample(&self, input: &LossInput<'_>) -> Result<Tensor> {
        if input.e_all.is_none() && input.e_incorrect.is_some() {
            let (ec, ei) = input.checked_pair(self.name())?;
            return Ok(ec.f_sub(ei)?.f_relu()?);
        }
        let (ec, all) = input.checked_all(self.name())?;
        Ok(ec.f_sub(&all.f_amin(1, false)?)?)
    }
    fn needs(&self) -> Needs {
        ALL
    }
    fn name(&self) -> &'static str {
        "perceptron"
    }
}

/// The hinge loss L = max(0, m + E_C − E_I), margin m > 0.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hinge {
    margin: f64,
}

impl Hinge {
    /// A hinge loss with margin m: finite and > 0. This is the typed constructor;
    /// [`crate::LossConfig::build`] calls it for `kind = "hinge"`.
    pub fn new(margin: f64) -> Result<Self> {
        Ok(Hinge {
            margin: check_positive("margin", margin)?,
        })
    }
    /// The margin m.
    pub fn margin(&self) -> f64 {
        self.margin
    }
}

impl Loss for Hinge {
    fn per_sample(&self, input: &LossInput<'_>) -> Result<Tensor> {
        let (ec, ei) = input.checked_pair(self.name())?;
        Ok(ec.f_sub(ei)?.f_add_scalar(self.margin)?.f_relu()?)
    }
    fn needs(&self) -> Needs {
        PAIR
    }
    fn name(&self) -> &'static str {
        "hinge"
    }
}

/// The log loss L = log(1 + e^(E_C − E_I)), a soft hinge with an infinite margin.
///
/// Computed as −log σ(E_I − E_C) (libtorch's `log_sigmoid`): exact, stable for any gap, and
/// with the right gradient ½ at E_C = E_I.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Log;

impl Loss for Log {
    fn per_sample(&self, input: &LossInput<'_>) -> Result<Tensor> {
        let (ec, ei) = input.checked_pair(self.name())?;
        Ok(ei.f_sub(ec)?.f_log_sigmoid()?.f_neg()?)
    }
    fn needs(&self) -> Needs {
        PAIR
    }
    fn name(&self) -> &'static str {
        "log"
    }
}

/// The LVQ2 loss L = min(1, max(0, (E_C − E_I) / (δ E_I))), δ > 0.
///
/// It is 0 while E_C ≤ E_I, rises linearly, and saturates at 1 once E_C ≥ (1 + δ) E_I. It is
/// meant for non-negative energies (distances to prototypes): the ratio is undefined for
/// E_I ≤ 0, so an E_I ≤ 0 is an error ([`EbmError::NonFinite`]) rather than a silent 0. Make
/// the energies positive, e.g. with a softplus. A saturated sample (L = 1) has no gradient.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lvq2 {
    delta: f64,
}

impl Lvq2 {
    /// An LVQ2 loss with slope parameter δ: finite and > 0.
    pub fn new(delta: f64) -> Result<Self> {
        Ok(Lvq2 {
            delta: check_positive("delta", delta)?,
        })
    }
    /// δ.
    pub fn delta(&self) -> f64 {
        self.delta
    }
}

impl Loss for Lvq2 {
    fn per_sample(&self, input: &LossInput<'_>) -> Result<Tensor> {
        let (ec, ei) = input.checked_pair(self.name())?;
        if bool::try_from(ei.f_le(0.0)?.f_any()?)? {
            return Err(EbmError::OutOfDomain {
                what: "lvq2 loss: the ratio (E_C - E_I) / (delta * E_I)".into(),
                reason: "E_I must be > 0 (use positive energies, e.g. a softplus)".into(),
            });
        }
        let ratio = ec.f_sub(ei)?.f_div(&ei.f_mul_scalar(self.delta)?)?;
        Ok(ratio.f_clamp(0.0, 1.0)?)
    }
    fn needs(&self) -> Needs {
        PAIR
    }
    fn name(&self) -> &'static str {
        "lvq2"
    }
}

/// The minimum classification error loss L = σ(E_C − E_I), a smooth 0–1 count of errors.
///
/// libtorch's sigmoid is stable at both ends: it saturates to 0 or 1 with a zero gradient.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Mce;

impl Loss for Mce {
    fn per_sample(&self, input: &LossInput<'_>) -> Result<Tensor> {
        let (ec, ei) = input.checked_pair(self.name())?;
        Ok(ec.f_sub(ei)?.f_sigmoid()?)
    }
    fn needs(&self) -> Needs {
        PAIR
    }
    fn name(&self) -> &'static str {
        "mce"
    }
}

/// The square-square loss L = E_C² + max(0, m − E_I)², margin m > 0.
///
/// Meant for non-negative energies: it pulls E_C to 0 and pushes E_I above m. (On negative
/// energies E_C² would push a negative E_C *up*.)
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SquareSquare {
    margin: f64,
}

impl SquareSquare {
    /// A square-square loss with margin m: finite and > 0.
    pub fn new(margin: f64) -> Result<Self> {
        Ok(SquareSquare {
            margin: check_positive("margin", margin)?,
        })
    }
    /// The margin m.
    pub fn margin(&self) -> f64 {
        self.margin
    }
}

impl Loss for SquareSquare {
    fn per_sample(&self, input: &LossInput<'_>) -> Result<Tensor> {
        let (ec, ei) = input.checked_pair(self.name())?;
        let push = ei
            .f_neg()?
            .f_add_scalar(self.margin)?
            .f_relu()?
            .f_square()?;
        Ok(ec.f_square()?.f_add(&push)?)
    }
    fn needs(&self) -> Needs {
        PAIR
    }
    fn name(&self) -> &'static str {
        "square_square"
    }
}

/// The square-exponential loss L = E_C² + γ e^(−E_I), γ > 0.
///
/// Meant for non-negative energies. e^(−E_I) is not representable for very negative E_I
/// (below about −88 in `f32`, −709 in `f64`): there the loss is `+inf`, never NaN.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SquareExponential {
    gamma: f64,
}

impl SquareExponential {
    /// A square-exponential loss with weight γ: finite and > 0.
    pub fn new(gamma: f64) -> Result<Self> {
        Ok(SquareExponential {
            gamma: check_positive("gamma", gamma)?,
        })
    }
    /// γ.
    pub fn gamma(&self) -> f64 {
        self.gamma
    }
}

impl Loss for SquareExponential {
    fn per_sample(&self, input: &LossInput<'_>) -> Result<Tensor> {
        let (ec, ei) = input.checked_pair(self.name())?;
        let push = ei.f_neg()?.f_exp()?.f_mul_scalar(self.gamma)?;
        Ok(ec.f_square()?.f_add(&push)?)
    }
    fn needs(&self) -> Needs {
        PAIR
    }
    fn name(&self) -> &'static str {
        "square_exponential"
    }
}

/// The negative log-likelihood loss L = E_C + (1/β) log ∫_y e^(−β E(x_i, y)) = E_C − F_β,
/// β > 0 finite.
///
/// - Finite Y (no log weights): the sum runs over `e_all`, which must contain E_C, so
///   L = −(1/β) log P(y_i | x_i) ≥ 0.
/// - Continuous Y (log weights): the integral is a quadrature or Monte Carlo sum, so
///   L = −(1/β) log p(y_i | x_i) with p a **density**; it can be negative (p > 1), and E_C
///   need not be one of the points.
///
/// Computed as −F_β(e_all − E_C) with `ebm_core`'s log-sum-exp free energy, so the
/// subtraction happens before the exponentials (exact for |E| up to 1e4 and beyond). As
/// β → ∞ it tends to the perceptron loss (within log K / β on a finite Y).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NegativeLogLikelihood {
    beta: f64,
}

impl NegativeLogLikelihood {
    /// An NLL loss at inverse temperature β: finite and > 0 (β = ∞ is [`Perceptron`]).
    pub fn new(beta: f64) -> Result<Self> {
        Ok(NegativeLogLikelihood {
            beta: check_positive("beta", beta)?,
        })
    }
    /// β.
    pub fn beta(&self) -> f64 {
        self.beta
    }
}

/// −(1/β) log P(y_i | x_i) (or of the density), shared by NLL and MEE. Inputs are checked.
fn neg_log_likelihood(input: &LossInput<'_>, beta: f64, loss: &str) -> Result<Tensor> {
    let (ec, all) = input.checked_all(loss)?;
    let shifted = all.f_sub(&ec.f_unsqueeze(1)?)?;
    Ok(free_energy_unchecked(&shifted, input.log_weights, beta, 1)?.f_neg()?)
}

impl Loss for NegativeLogLikelihood {
    fn per_sample(&self, input: &LossInput<'_>) -> Result<Tensor> {
        neg_log_likelihood(input, self.beta, self.name())
    }
    fn needs(&self) -> Needs {
        ALL
    }
    fn name(&self) -> &'static str {
        "nll"
    }
}

/// The minimum empirical error loss L = 1 − e^(−β E_C) / ∫_y e^(−β E(x_i, y)), β > 0 finite.
///
/// - Finite Y (no log weights; `e_all` contains E_C): L = 1 − P(y_i | x_i), in [0, 1].
/// - Continuous Y (log weights): L = 1 − p(y_i | x_i) with p a density, which can exceed 1,
///   so L can be negative.
///
/// Computed from the log-probability as −expm1(−β · NLL): no raw exponentials of energies.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MinimumEmpiricalError {
    beta: f64,
}

impl MinimumEmpiricalError {
    /// An MEE loss at inverse temperature β: finite and > 0.
    pub fn new(beta: f64) -> Result<Self> {
        Ok(MinimumEmpiricalError {
            beta: check_positive("beta", beta)?,
        })
    }
    /// β.
    pub fn beta(&self) -> f64 {
        self.beta
    }
}

impl Loss for MinimumEmpiricalError {
    fn per_sample(&self, input: &LossInput<'_>) -> Result<Tensor> {
        let nll = neg_log_likelihood(input, self.beta, self.name())?;
        // β at most the kind's largest value: β·NLL must not be 0 · ∞ at the correct answer.
        let beta = representable_beta(self.beta, nll.kind());
        Ok(nll.f_mul_scalar(-beta)?.f_expm1()?.f_neg()?)
    }
    fn needs(&self) -> Needs {
        ALL
    }
    fn name(&self) -> &'static str {
        "mee"
    }
}
