//! The energy traits: E(x, y) on paired rows and over candidate sets.

use crate::check::{batch_size, ensure_same_batch, ensure_shape};
use crate::error::{EbmError, Result};
use tch::Tensor;

/// An energy function E(x, y): low energy means x and y are compatible.
///
/// Rows are paired along dim 0: `x [B, ...]` and `y [B, ...]` give `[B]`. Implementations
/// work on any device and float kind, taking both from their inputs. The trait is object safe:
/// `&dyn Energy` and `Box<dyn Energy>` work wherever a generic `E: Energy` does.
pub trait Energy {
    /// E(x_b, y_b) for each row b: `x [B, ...]`, `y [B, ...]` → `[B]`.
    fn energy(&self, x: &Tensor, y: &Tensor) -> Result<Tensor>;

    /// Energies of every x against a candidate set shared by the batch:
    /// `x [B, ...]`, `ys [K, ...]` → `[B, K]`.
    ///
    /// The default repeats x K times and calls [`Energy::energy`] once on `B·K` rows.
    /// Override it where one forward pass is cheaper (e.g. every class at once).
    fn candidate_energies(&self, x: &Tensor, ys: &Tensor) -> Result<Tensor> {
        let b = batch_size(x, "x")?;
        let k = batch_size(ys, "candidates")?;
        if k == 0 {
            return Err(EbmError::EmptyCandidates(
                "the candidate set has no element".into(),
            ));
        }
        let x_rep = x.f_repeat_interleave_self_int(k, 0, Some(b * k))?;
        let mut y_shape = vec![b];
        y_shape.extend_from_slice(&ys.size());
        let y_rep = ys
            .f_unsqueeze(0)?
            .f_expand(&y_shape, false)?
            .f_flatten(0, 1)?;
        let e = self.energy(&x_rep, &y_rep)?;
        ensure_shape(&e, "energy output", &[b * k])?;
        Ok(e.f_view([b, k])?)
    }

    /// The energies `[B]` (detached) and ∇_y Σ_b E(x_b, y_b), for y alone: parameter
    /// gradients are not touched. Gradient descent, Langevin, MALA, HMC and AIS take their
    /// gradients here.
    ///
    /// The default runs autograd on [`Energy::energy`] (with `y` itself when it is already a
    /// leaf that requires grad, as in the samplers' in-place loops). Override it with an
    /// analytic backward pass where one exists (ebm-arch's MLP energies do): no graph, no
    /// autograd engine. An override must agree with the default.
    fn energy_and_grad(&self, x: &Tensor, y: &Tensor) -> Result<(Tensor, Tensor)> {
        autograd_energy_and_grad(self, x, y)
    }

    /// ∇_y Σ_b E(x_b, y_b) alone, for the loops that never read the energies (unadjusted
    /// Langevin, plain gradient descent's steps).
    ///
    /// The default is [`Energy::energy_and_grad`]'s gradient. Override it where the energies
    /// cost work the gradient does not need (ebm-arch's density energy skips its last
    /// activation and output layer: ∇ MLP needs their pre-activation only). An override must
    /// agree with [`Energy::energy_and_grad`].
    fn grad(&self, x: &Tensor, y: &Tensor) -> Result<Tensor> {
        Ok(self.energy_and_grad(x, y)?.1)
    }

    /// Energies against a candidate set of each row's own: `x [B, ...]`, `ys [B, K, ...]` → `[B, K]`.
    fn row_candidate_energies(&self, x: &Tensor, ys: &Tensor) -> Result<Tensor> {
        let b = ensure_same_batch(x, "x", ys, "candidates")?;
        let dims = ys.size();
        if dims.len() < 2 {
            return Err(EbmError::Shape {
                what: "per-row candidates".into(),
                expected: "[B, K, ...]".into(),
                got: dims,
            });
        }
        let k = dims[1];
        if k == 0 {
            return Err(EbmError::EmptyCandidates(
                "the candidate set has no element".into(),
            ));
        }
        let x_rep = x.f_repeat_interleave_self_int(k, 0, Some(b * k))?;
        let y_flat = ys.f_flatten(0, 1)?;
        let e = self.energy(&x_rep, &y_flat)?;
        ensure_shape(&e, "energy output", &[b * k])?;
        Ok(e.f_view([b, k])?)
    }
}

impl<E: Energy + ?Sized> Energy for &E {
    fn energy(&self, x: &Tensor, y: &Tensor) -> Result<Tensor> {
        (**self).energy(x, y)
    }
    fn candidate_energies(&self, x: &Tensor, ys: &Tensor) -> Result<Tensor> {
        (**self).candidate_energies(x, ys)
    }
    fn row_candidate_energies(&self, x: &Tensor, ys: &Tensor) -> Result<Tensor> {
        (**self).row_candidate_energies(x, ys)
    }
    fn energy_and_grad(&self, x: &Tensor, y: &Tensor) -> Result<(Tensor, Tensor)> {
        (**self).energy_and_grad(x, y)
    }
    fn grad(&self, x: &Tensor, y: &Tensor) -> Result<Tensor> {
        (**self).grad(x, y)
    }
}

impl<E: Energy + ?Sized> Energy for Box<E> {
    fn energy(&self, x: &Tensor, y: &Tensor) -> Result<Tensor> {
        (**self).energy(x, y)
    }
    fn candidate_energies(&self, x: &Tensor, ys: &Tensor) -> Result<Tensor> {
        (**self).candidate_energies(x, ys)
    }
    fn row_candidate_energies(&self, x: &Tensor, ys: &Tensor) -> Result<Tensor> {
        (**self).row_candidate_energies(x, ys)
    }
    fn energy_and_grad(&self, x: &Tensor, y: &Tensor) -> Result<(Tensor, Tensor)> {
        (**self).energy_and_grad(x, y)
    }
    fn grad(&self, x: &Tensor, y: &Tensor) -> Result<Tensor> {
        (**self).grad(x, y)
    }
}

/// An energy written as a closure over paired rows, for hand-written energies and tests.
///
/// The closure gets `x [B, ...]`, `y [B, ...]` and must return `[B]`; the output shape is
/// checked.
///
/// ```
/// use ebm_core::{Energy, FnEnergy};
/// use tch::Tensor;
/// // E(x, y) = (y - x)², one scalar per row.
/// let e = FnEnergy::new(|x: &Tensor, y: &Tensor| (y - x).square().sum_dim_intlist(1, false, None));
/// let x = Tensor::from_slice(&[1.0f32, 2.0]).view([2, 1]);
/// let y = Tensor::from_slice(&[1.5f32, 0.0]).view([2, 1]);
/// let v: Vec<f32> = Vec::try_from(e.energy(&x, &y).unwrap()).unwrap();
/// assert_eq!(v, vec![0.25, 4.0]);
/// ```
pub struct FnEnergy<F>(F);

impl<F> FnEnergy<F>
where
    F: Fn(&Tensor, &Tensor) -> Tensor,
{
    /// Wraps a closure `(x, y) -> [B]`.
    pub fn new(f: F) -> Self {
        FnEnergy(f)
    }
}

impl<F> Energy for FnEnergy<F>
where
    F: Fn(&Tensor, &Tensor) -> Tensor,
{
    fn energy(&self, x: &Tensor, y: &Tensor) -> Result<Tensor> {
        let b = ensure_same_batch(x, "x", y, "y")?;
        let e = (self.0)(x, y);
        ensure_shape(&e, "energy output", &[b])?;
        Ok(e)
    }
}

/// [`Energy::energy_and_grad`]'s default: autograd on [`Energy::energy`], on `y` itself when
/// it is a leaf that requires grad, else on a detached copy that does.
pub(crate) fn autograd_energy_and_grad<E: Energy + ?Sized>(
    energy: &E,
    x: &Tensor,
    y: &Tensor,
) -> Result<(Tensor, Tensor)> {
    let (e, grad) = if y.requires_grad() && y.is_leaf() {
        energy_and_grad_leaf(energy, x, y)?
    } else {
        let y = y.detach().f_requires_grad_(true)?;
        energy_and_grad_leaf(energy, x, &y)?
    };
    Ok((e.f_detach()?, grad))
}

/// The energies `[B]` (still on their spent graph) and ∇_y Σ_b E(x_b, y_b) for a `y` that
/// is already a leaf requiring grad: the loops that keep one y and update it in place
/// (plain descent, Langevin) call this directly.
fn energy_and_grad_leaf<E: Energy + ?Sized>(
    energy: &E,
    x: &Tensor,
    y: &Tensor,
) -> Result<(Tensor, Tensor)> {
    tch::with_grad(|| {
        let e = energy.energy(x, y)?;
        let total = e.f_sum(e.kind())?;
        let mut grads = Tensor::f_run_backward(&[total], &[y], false, false)?;
        let grad = grads.pop().ok_or_else(|| {
            EbmError::Tch(tch::TchError::Torch("no gradient returned for y".into()))
        })?;
        Ok((e, grad))
    })
}
