//! Multi-layer perceptrons built from a config: the networks G of every architecture.

use ebm_core::{EbmError, Result};
use serde::{Deserialize, Serialize};
use tch::nn::{self, Module};
use tch::Tensor;

/// The non-linearity between layers.
///
/// Softplus is the default: inference differentiates through G with respect to y, and a
/// smooth activation gives smooth energy landscapes and useful second-order behaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// log(1 + eˣ).
    #[default]
    Softplus,
    /// max(0, x).
    Relu,
    /// tanh(x).
    Tanh,
    /// x·σ(x).
    Silu,
}

impl Activation {
    /// Applies the activation.
    pub fn apply(self, t: &Tensor) -> Tensor {
        match self {
            Activation::Softplus => t.softplus(),
            Activation::Relu => t.relu(),
            Activation::Tanh => t.tanh(),
            Activation::Silu => t.silu(),
        }
    }

    /// `upstream ⊙ act′(z)` at the pre-activations `z`, in place: `z` is overwritten (it is
    /// not needed again) and `upstream` becomes the result, so a layer's backward allocates
    /// at most two temporaries (silu). softplus′ = σ, relu′ = [z > 0], tanh′ = 1 − tanh²,
    /// silu′ = σ(z)(1 + z(1 − σ(z))) (softplus′ at z > 20, where libtorch's softplus is z
    /// itself, is σ(z) here, within 2·10⁻⁹ of autograd's 1).
    fn backward_(self, mut z: Tensor, upstream: &mut Tensor) -> Result<()> {
        match self {
            Activation::Softplus => {
                let _ = upstream.f_mul_(&z.f_sigmoid_()?)?;
            }
            Activation::Relu => {
                let _ = upstream.f_mul_(&z.f_gt_(0.0)?)?;
            }
            Activation::Tanh => {
                let _ = z.f_tanh_()?.f_square_()?.f_neg_()?.f_add_scalar_(1.0)?;
                let _ = upstream.f_mul_(&z)?;
            }
            Activation::Silu => {
                let sig = z.f_sigmoid()?;
                // σ + z·σ·(1 − σ)
                let mut d = sig.f_neg()?;
                let _ = d
                    .f_add_scalar_(1.0)?
                    .f_mul_(&sig)?
                    .f_mul_(&z)?
                    .f_add_(&sig)?;
                let _ = upstream.f_mul_(&d)?;
            }
        }
        Ok(())
    }
}

/// Hidden layer sizes and activation of an MLP.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MlpConfig {
    /// Widths of the hidden layers, e.g. `[64, 64]`; empty means a single linear layer.
    pub hidden: Vec<i64>,
    /// Activation after each hidden layer.
    pub activation: Activation,
}

impl Default for MlpConfig {
    fn default() -> Self {
        MlpConfig {
            hidden: vec![64, 64],
            activation: Activation::Softplus,
        }
    }
}

impl MlpConfig {
    /// Checks every width is ≥ 1; the error names the key (`hidden`).
    pub fn check(&self) -> Result<()> {
        if let Some(w) = self.hidden.iter().find(|&&w| w < 1) {
            return Err(EbmError::Hyperparameter {
                name: "hidden".into(),
                reason: "layer widths must be >= 1",
                value: w.to_string(),
            });
        }
        // The hidden layers alone (without the input and output widths, which come from the
        // data) must fit in memory with their gradients and Adam's moments.
        let parameters: u128 = self
            .hidden
            .windows(2)
            .map(|w| (w[0] as u128 + 1) * w[1] as u128)
            .sum();
        ebm_core::check::check_memory(
            "hidden",
            parameters.saturating_mul(16),
            &format!(
                "hidden layers {:?} have {parameters} parameters",
                self.hidden
            ),
        )
    }
}

/// A fully connected network `in_dim → hidden… → out_dim`, activation between layers and
/// none after the last.
#[derive(Debug)]
pub struct Mlp {
    layers: Vec<nn::Linear>,
    activation: Activation,
    in_dim: i64,
    out_dim: i64,
}

impl Mlp {
    /// Creates the layers under `path` (named `0`, `1`, … in checkpoints).
    pub fn new(path: &nn::Path<'_>, in_dim: i64, out_dim: i64, config: &MlpConfig) -> Result<Self> {
        config.check()?;
        for (name, v) in [("in_dim", in_dim), ("out_dim", out_dim)] {
            if v < 1 {
                return Err(EbmError::Hyperparameter {
                    name: name.into(),
                    reason: "must be >= 1",
                    value: v.to_string(),
                });
            }
        }
        let mut widths = vec![in_dim];
        widths.extend_from_slice(&config.hidden);
        widths.push(out_dim);
        // Each parameter costs its value, its gradient and Adam's two moments, in f32 or f64.
        let parameters: u128 = widths
            .windows(2)
            .map(|w| (w[0] as u128 + 1) * w[1] as u128)
            .sum();
        let bytes_each = 4 * if path.kind() == tch::Kind::Double {
            8
        } else {
            4
        };
        ebm_core::check::check_memory(
            "hidden",
            parameters.saturating_mul(bytes_each),
            &format!("an MLP {widths:?} has {parameters} parameters"),
        )?;
        widths.pop();
        widths.push(out_dim);
        let layers = widths
            .windows(2)
            .enumerate()
            .map(|(i, w)| nn::linear(path / i.to_string(), w[0], w[1], Default::default()))
            .collect();
        Ok(Mlp {
            layers,
            activation: config.activation,
            in_dim,
            out_dim,
        })
    }

    /// Multiplies the last layer's weights and bias by `factor` (e.g. to start a network
    /// near zero so that the inputs it separates start close together).
    pub fn scale_output_layer(&mut self, factor: f64) {
        let _guard = tch::no_grad_guard();
        if let Some(last) = self.layers.last_mut() {
            let _ = last.ws.f_mul_scalar_(factor);
            if let Some(bs) = last.bs.as_mut() {
                let _ = bs.f_mul_scalar_(factor);
            }
        }
    }

    /// The output `[B, out]` and what [`Mlp::input_vjp`] needs: every layer's
    /// pre-activation, computed without a graph.
    pub fn forward_kept(&self, xs: &Tensor) -> Result<(Tensor, Vec<Tensor>)> {
        let _guard = tch::no_grad_guard();
        let last = self.layers.len() - 1;
        let mut pre = Vec::with_capacity(last);
        let mut h = xs.shallow_clone();
        for (i, layer) in self.layers.iter().enumerate() {
            h = layer.forward(&h);
            if i < last {
                let a = self.activation.apply(&h);
                pre.push(h);
                h = a;
            }
        }
        Ok((h, pre))
    }

    /// The vector–Jacobian product `upstreamᵀ ∂MLP/∂x`, `[B, out]` → `[B, in]`, from the
    /// pre-activations of [`Mlp::forward_kept`] (consumed: the activations' derivatives are
    /// computed in their place): δ ← δ·W, then δ ← δ ⊙ act′(z), layer by layer from the last,
    /// without autograd. The parameters' gradients are not touched.
    pub fn input_vjp(&self, pre: Vec<Tensor>, upstream: &Tensor) -> Result<Tensor> {
        let _guard = tch::no_grad_guard();
        let mut pre = pre;
        let mut delta = upstream.shallow_clone();
        for (i, layer) in self.layers.iter().enumerate().rev() {
            delta = delta.f_matmul(&layer.ws)?;
            if i > 0 {
                let z = pre.pop().ok_or_else(|| EbmError::Shape {
                    what: "pre-activations for the MLP's backward pass".into(),
                    expected: format!("{} (one per hidden layer)", self.layers.len() - 1),
                    got: vec![i as i64],
                })?;
                self.activation.backward_(z, &mut delta)?;
            }
        }
        Ok(delta)
    }

    /// Input width.
    pub fn in_dim(&self) -> i64 {
        self.in_dim
    }

    /// Output width.
    pub fn out_dim(&self) -> i64 {
        self.out_dim
    }
}

impl Module for Mlp {
    fn forward(&self, xs: &Tensor) -> Tensor {
        let last = self.layers.len() - 1;
        let mut h = xs.shallow_clone();
        for (i, layer) in self.layers.iter().enumerate() {
            h = layer.forward(&h);
            if i < last {
                h = self.activation.apply(&h);
            }
        }
        h
    }
}
