//! Stabilisers of implicit models trained on counter-examples: implicit behavioural cloning's
//! gradient penalty and an L2 penalty on the energies' magnitudes. Both are differentiable in
//! W and are added to the loss by the trainer (`ebm-arch`) when a config asks for them.

use ebm_core::check::{batch_size, check_non_negative, ensure_shape};
use ebm_core::{EbmError, Energy, Result};
use tch::Tensor;

/// IBC's gradient penalty (google-research/ibc, `ibc/losses/gradient_loss.py`, with its
/// defaults: the ∞-norm, the margin, squared): per row b,
/// mean_k max(0, ‖∇_y E(x_b, y_bk)‖_∞ − margin)² over the row's points `ys [B, K, d]`,
/// `[B]`, differentiable in W (the gradient is taken with a graph, the points are detached).
/// Zero where every gradient is within the margin: it only flattens energies steeper than
/// that, which keeps Langevin and gradient-descent inference stable.
///
/// ```
/// use ebm_core::FnEnergy;
/// use tch::{Kind, Tensor};
/// // E = 3·Σ y: ‖∇_y E‖_∞ = 3, so each point costs (3 − 1)² = 4.
/// let e = FnEnergy::new(|_x: &Tensor, y: &Tensor| y.sum_dim_intlist(1, false, None) * 3.0);
/// let x = Tensor::zeros([2, 1], (Kind::Float, tch::Device::Cpu));
/// let ys = Tensor::ones([2, 5, 3], (Kind::Float, tch::Device::Cpu));
/// let p = ebm_loss::gradient_penalty(&e, &x, &ys, 1.0).unwrap();
/// assert_eq!(Vec::<f32>::try_from(p).unwrap(), vec![4.0, 4.0]);
/// ```
pub fn gradient_penalty<E: Energy + ?Sized>(
    energy: &E,
    x: &Tensor,
    ys: &Tensor,
    margin: f64,
) -> Result<Tensor> {
    check_non_negative("margin", margin)?;
    let b = batch_size(x, "x")?;
    let dims = ys.size();
    if dims.len() != 3 || dims[0] != b || dims[1] == 0 {
        return Err(EbmError::Shape {
            what: "gradient-penalty points".into(),
            expected: format!("[{b}, K >= 1, d]"),
            got: dims,
        });
    }
    let (k, d) = (dims[1], dims[2]);
    let x_rep = x.f_repeat_interleave_self_int(k, 0, Some(b * k))?;
    let y = ys.detach().f_reshape([b * k, d])?.f_requires_grad_(true)?;
    let e = energy.energy(&x_rep, &y)?;
    ensure_shape(&e, "energy output", &[b * k])?;
    let grad = Tensor::f_run_backward(&[e.f_sum(e.kind())?], &[&y], true, true)?
        .pop()
        .ok_or_else(|| EbmError::Shape {
            what: "gradient with respect to y".into(),
            expected: "one tensor".into(),
            got: vec![],
        })?;
    let excess = grad
        .f_abs()?
        .f_amax([1i64].as_slice(), false)?
        .f_sub_scalar(margin)?
        .f_relu()?;
    Ok(excess
        .f_square()?
        .f_view([b, k])?
        .f_mean_dim([1i64].as_slice(), false, excess.kind())?)
}

/// The L2 penalty on energy magnitudes of IGEBM (Du and Mordatch 2019, α(E₊² + E₋²)): the
/// mean over the rows of the mean square of each row's energies `[B, K]` (the correct
/// answer's and the counter-examples'), `[B]`. It keeps an InfoNCE-trained energy from
/// drifting to large magnitudes, which only differences constrain.
pub fn energy_magnitude_penalty(energies: &Tensor) -> Result<Tensor> {
    ebm_core::check::candidate_table(energies, "energies")?;
    Ok(energies
        .f_square()?
        .f_mean_dim([1i64].as_slice(), false, energies.kind())?)
}
