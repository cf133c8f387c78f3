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

    /// `upstream ⊙ act′(z)` at the pre-activations `z`, in place: `upstream` becomes the
    /// result through libtorch's own fused backward kernels (one pass over the layer, no
    /// temporary: `softplus_backward`, `threshold_backward`, `silu_backward` write into
    /// `upstream`; tanh's first turns `z` into tanh(z), which `tanh_backward` reads). These
    /// are the kernels autograd runs, so the result is autograd's, softplus's threshold at
    /// z > 20 (derivative 1) included.
    fn backward_(self, mut z: Tensor, upstream: &mut Tensor) -> Result<()> {
        let out = upstream.shallow_clone();
        match self {
            Activation::Softplus => {
                let _ = z.f_softplus_backward_grad_input(&out, upstream, 1.0, 20.0)?;
            }
            Activation::Relu => {
                let _ = z.f_threshold_backward_grad_input(&out, upstream, 0.0)?;
            }
            Activation::Tanh => {
                let _ = z.f_tanh_()?;
                let _ = Tensor::f_tanh_backward_grad_input(&out, upstream, &z)?;
            }
            Activation::Silu => {
                let _ = z.f_silu_backward_grad_input(&out, upstream)?;
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
    /// Spectral normalisation of every layer (Miyato et al., 2018, "Spectral Normalization for
    /// Generative Adversarial Networks"; IGEBM, Du & Mordatch 2019, uses it in its energy
    /// networks): each weight
    /// is used as W / σ̂(W), σ̂ = uᵀWv the largest singular value estimated by power
    /// iteration, so every layer is 1-Lipschitz and the energy cannot grow arbitrarily steep
    /// in y. u and v are buffers (saved in checkpoints, not trained); the trainer runs one
    /// power iteration per training step ([`spectral_power_iteration`]) after 100 at
    /// creation. The gradient flows through W in σ̂, not through u, v.
    pub spectral_norm: bool,
}

impl Default for MlpConfig {
    fn default() -> Self {
        MlpConfig {
            hidden: vec![64, 64],
            activation: Activation::Softplus,
            spectral_norm: false,
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
    /// Each layer's power-iteration vectors (u over the outputs, v over the inputs) when
    /// spectrally normalised.
    spectral: Option<Vec<(Tensor, Tensor)>>,
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
        let layers: Vec<nn::Linear> = widths
            .windows(2)
            .enumerate()
            .map(|(i, w)| nn::linear(path / i.to_string(), w[0], w[1], Default::default()))
            .collect();
        let spectral = match config.spectral_norm {
            false => None,
            true => Some(
                layers
                    .iter()
                    .enumerate()
                    .map(|(i, layer)| spectral_buffers(&(path / i.to_string()), &layer.ws))
                    .collect::<Result<Vec<_>>>()?,
            ),
        };
        Ok(Mlp {
            layers,
            spectral,
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
        let pre = self.pre_activations(xs)?;
        let _guard = tch::no_grad_guard();
        let last = self.layers.len() - 1;
        let h = match pre.last() {
            Some(z) => self.activation.apply(z),
            None => xs.shallow_clone(),
        };
        let out = h.f_linear(&self.weight(last)?, self.layers[last].bs.as_ref())?;
        Ok((out, pre))
    }

    /// Only what [`Mlp::input_vjp`] needs, for a gradient whose output is not used: every
    /// hidden layer's pre-activation, without the last activation and the output layer (the
    /// gradient of a linear output is its weights, whatever the activations).
    pub fn pre_activations(&self, xs: &Tensor) -> Result<Vec<Tensor>> {
        let _guard = tch::no_grad_guard();
        let hidden = self.layers.len() - 1;
        let mut pre = Vec::with_capacity(hidden);
        let mut h = xs.shallow_clone();
        for (i, layer) in self.layers[..hidden].iter().enumerate() {
            let z = h.f_linear(&self.weight(i)?, layer.bs.as_ref())?;
            if i + 1 < hidden {
                h = self.activation.apply(&z);
            }
            pre.push(z);
        }
        Ok(pre)
    }

    /// The vector–Jacobian product `upstreamᵀ ∂MLP/∂x`, `[B, out]` → `[B, in]`, from the
    /// pre-activations of [`Mlp::forward_kept`] (consumed: the activations' derivatives are
    /// computed in their place): δ ← δ·W, then δ ← δ ⊙ act′(z), layer by layer from the last,
    /// without autograd. The parameters' gradients are not touched.
    pub fn input_vjp(&self, pre: Vec<Tensor>, upstream: &Tensor) -> Result<Tensor> {
        let _guard = tch::no_grad_guard();
        let mut pre = pre;
        let mut delta = upstream.shallow_clone();
        for i in (0..self.layers.len()).rev() {
            delta = times_weight(&delta, &self.weight(i)?)?;
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

    /// Layer `i`'s weight as the network uses it: W, or W / σ̂ (σ̂ = uᵀWv, differentiable in
    /// W) when spectrally normalised.
    pub fn weight(&self, i: usize) -> Result<Tensor> {
        let w = &self.layers[i].ws;
        match &self.spectral {
            None => Ok(w.shallow_clone()),
            Some(vectors) => {
                let (u, v) = &vectors[i];
                let sigma = u.f_dot(&w.f_mv(v)?)?;
                Ok(w.f_div(&sigma)?)
            }
        }
    }

    /// One power iteration on every layer (nothing without spectral normalisation): what the
    /// trainer does once per training step, for a program with its own training loop.
    pub fn power_iteration_(&self) -> Result<()> {
        if let Some(vectors) = &self.spectral {
            for (layer, (u, v)) in self.layers.iter().zip(vectors) {
                power_iteration_(&layer.ws, u, v, 1)?;
            }
        }
        Ok(())
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
            h = match &self.spectral {
                None => layer.forward(&h),
                Some(_) => {
                    let w = self
                        .weight(i)
                        .expect("spectral normalisation of an MLP layer");
                    h.linear(&w, layer.bs.as_ref())
                }
            };
            if i < last {
                h = self.activation.apply(&h);
            }
        }
        h
    }
}

/// `delta [B, out] · W [out, in]`, the input gradient's product through one layer.
///
/// For a narrow input (2 ≤ in < 16: the first layer of a network over a low-dimensional y)
/// MKL's kernel for W as stored is 2–3× slower than for Wᵀ copied contiguous and read
/// transposed, though both are the same product: 4,096 × 64 → 2 takes 296 against 71 µs,
/// 8,192 × 64 → 8 723 against 491 µs at one thread (for in = 1 or ≥ 16 the two are level or
/// the stored one is faster). The copy is in × out values, and the layout choice is valid on
/// every device.
fn times_weight(delta: &Tensor, w: &Tensor) -> Result<Tensor> {
    let inputs = w.size().get(1).copied().unwrap_or(0);
    if (2..16).contains(&inputs) {
        let transposed = w.f_transpose(0, 1)?.f_contiguous()?;
        Ok(delta.f_matmul(&transposed.f_transpose(0, 1)?)?)
    } else {
        Ok(delta.f_matmul(w)?)
    }
}

/// The name under which a spectrally normalised layer keeps u (v is `sn_v`), beside its
/// `weight`.
const SPECTRAL_U: &str = "sn_u";
const SPECTRAL_V: &str = "sn_v";

/// Power iterations at creation. PyTorch's `spectral_norm` runs 15; on a random 21 × 13 layer
/// that can leave σ̂ 9% below σ_max (the starting u nearly orthogonal to the top singular
/// vector), so the first training steps would not be 1-Lipschitz. 100 cost nothing once.
const INITIAL_ITERATIONS: usize = 100;

/// u and v for the layer of weight `w` `[out, in]` under `path`: unit Gaussian draws, then
/// [`INITIAL_ITERATIONS`] power iterations.
fn spectral_buffers(path: &nn::Path<'_>, w: &Tensor) -> Result<(Tensor, Tensor)> {
    let (out, inp) = w.size2()?;
    let options = (w.kind(), w.device());
    let mut u = path.zeros_no_train(SPECTRAL_U, &[out]);
    let mut v = path.zeros_no_train(SPECTRAL_V, &[inp]);
    {
        let _guard = tch::no_grad_guard();
        u.f_copy_(&normalise(&Tensor::f_randn([out], options)?)?)?;
        v.f_copy_(&normalise(&Tensor::f_randn([inp], options)?)?)?;
    }
    power_iteration_(w, &u, &v, INITIAL_ITERATIONS)?;
    Ok((u, v))
}

/// x / max(‖x‖, 1e-12), as PyTorch's `F.normalize`.
fn normalise(x: &Tensor) -> Result<Tensor> {
    Ok(x.f_div(&x.f_norm()?.f_clamp_min(1e-12)?)?)
}

/// `steps` power iterations in place: v ← Wᵀu / ‖Wᵀu‖, u ← Wv / ‖Wv‖.
fn power_iteration_(w: &Tensor, u: &Tensor, v: &Tensor, steps: usize) -> Result<()> {
    let _guard = tch::no_grad_guard();
    let (mut u, mut v) = (u.shallow_clone(), v.shallow_clone());
    for _ in 0..steps {
        v.f_copy_(&normalise(&w.f_tr()?.f_mv(&u)?)?)?;
        u.f_copy_(&normalise(&w.f_mv(&v)?)?)?;
    }
    Ok(())
}

/// One power iteration on every spectrally normalised layer of every MLP in `vs` (found by
/// their `sn_u` buffers), for a program with its own training loop over a `VarStore`.
pub fn spectral_power_iteration(vs: &nn::VarStore) -> Result<()> {
    power_iterate(&spectral_layers(vs)?)
}

/// (W, u, v) of every spectrally normalised layer in `vs`. The trainer collects them once and
/// runs one power iteration on each per training step, before the step's forward pass (as
/// PyTorch's spectral normalisation does in training mode).
pub(crate) fn spectral_layers(vs: &nn::VarStore) -> Result<Vec<(Tensor, Tensor, Tensor)>> {
    let variables = vs.variables();
    let mut layers = Vec::new();
    for (name, u) in &variables {
        let Some(prefix) = name.strip_suffix(SPECTRAL_U) else {
            continue;
        };
        let part = |suffix: &str| {
            variables
                .get(&format!("{prefix}{suffix}"))
                .map(Tensor::shallow_clone)
                .ok_or_else(|| EbmError::Checkpoint(format!(
                    "variable `{name}` is a spectral-normalisation buffer without the `{prefix}{suffix}` beside it"
                )))
        };
        layers.push((part("weight")?, u.shallow_clone(), part(SPECTRAL_V)?));
    }
    Ok(layers)
}

/// One power iteration on each of `layers` (from [`spectral_layers`]).
pub(crate) fn power_iterate(layers: &[(Tensor, Tensor, Tensor)]) -> Result<()> {
    for (w, u, v) in layers {
        power_iteration_(w, u, v, 1)?;
    }
    Ok(())
}
