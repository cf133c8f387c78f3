//! The optimisers of `ebm`, Adam and SGD with momentum, written over tensor operations so that
//! their state (the moments and step counts) can be saved beside a checkpoint and loaded to
//! resume training where it stopped. (libtorch's own optimisers, the ones `tch` wraps, keep
//! their state out of reach.)
//!
//! The updates are PyTorch's `torch.optim.Adam` and `torch.optim.SGD` (single-tensor
//! implementations, L2 weight decay added to the gradient, no dampening, no Nesterov):
//!
//! - Adam, step t: g ← ∇ + λθ; m ← m + (1 − β₁)(g − m); v ← β₂v + (1 − β₂)g²;
//!   θ ← θ − (lr / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε), with β₁ = 0.9, β₂ = 0.999,
//!   ε = 1e-8, m = v = 0 at the start;
//! - SGD: g ← ∇ + λθ; b ← μb + g (b = g at the first step); θ ← θ − lr·b (b = g when μ = 0).
//!
//! A step ([`Optimizer::backward_step`]) takes the gradients of the loss from autograd as
//! fresh tensors (no `.grad` to zero, nothing accumulated) and runs a fixed sequence of in-place
//! and `_out` kernels on buffers made once: besides autograd's gradients it allocates nothing.
//! A parameter without a gradient (unused by the loss) is skipped and its step count does not
//! advance, as in PyTorch.

use crate::checkpoint::write_atomically;
use ebm_core::check::{check_momentum, check_non_negative, check_positive};
use ebm_core::{EbmError, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
use tch::nn::VarStore;
use tch::{Kind, Tensor};

/// Adam's β₁.
pub const ADAM_BETA1: f64 = 0.9;
/// Adam's β₂.
pub const ADAM_BETA2: f64 = 0.999;
/// Adam's ε.
pub const ADAM_EPS: f64 = 1e-8;

/// The optimizer and its settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum OptimizerConfig {
    /// Adam (β₁ = 0.9, β₂ = 0.999) with L2 weight decay.
    Adam {
        /// Learning rate, > 0.
        lr: f64,
        /// Weight decay, ≥ 0.
        #[serde(default)]
        weight_decay: f64,
    },
    /// Stochastic gradient descent with momentum.
    Sgd {
        /// Learning rate, > 0.
        lr: f64,
        /// Momentum in [0, 1).
        #[serde(default)]
        momentum: f64,
        /// Weight decay, ≥ 0.
        #[serde(default)]
        weight_decay: f64,
    },
}

impl Default for OptimizerConfig {
    fn default() -> Self {
        OptimizerConfig::Adam {
            lr: 1e-2,
            weight_decay: 0.0,
        }
    }
}

impl OptimizerConfig {
    /// The learning rate.
    pub fn lr(&self) -> f64 {
        match *self {
            OptimizerConfig::Adam { lr, .. } | OptimizerConfig::Sgd { lr, .. } => lr,
        }
    }

    /// Checks the hyperparameters; errors name the key (`lr`, `momentum`, `weight_decay`).
    pub fn check(&self) -> Result<()> {
        match *self {
            OptimizerConfig::Adam { lr, weight_decay } => {
                check_positive("lr", lr)?;
                check_non_negative("weight_decay", weight_decay)?;
            }
            OptimizerConfig::Sgd {
                lr,
                momentum,
                weight_decay,
            } => {
                check_positive("lr", lr)?;
                check_non_negative("weight_decay", weight_decay)?;
                check_momentum("momentum", momentum)?;
            }
        }
        Ok(())
    }

    /// The optimizer's name, as in configs and saved states: `"adam"` or `"sgd"`.
    pub fn kind_name(&self) -> &'static str {
        match self {
            OptimizerConfig::Adam { .. } => "adam",
            OptimizerConfig::Sgd { .. } => "sgd",
        }
    }

    /// The L2 weight decay λ (the gradient becomes g + λθ).
    pub fn weight_decay(&self) -> f64 {
        match *self {
            OptimizerConfig::Adam { weight_decay, .. }
            | OptimizerConfig::Sgd { weight_decay, .. } => weight_decay,
        }
    }

    /// A fresh optimizer over every trainable variable of `vs` (checked first).
    pub fn build(&self, vs: &VarStore) -> Result<Optimizer> {
        Optimizer::new(self, vs, None)
    }
}

/// One trained variable and its state.
#[derive(Debug)]
struct Slot {
    name: String,
    value: Tensor,
    /// Steps taken on this variable.
    step: i64,
    /// Adam's first moment m, or SGD's momentum buffer.
    first: Tensor,
    /// Adam's second moment v (undefined for SGD).
    second: Tensor,
    /// Work buffers of the variable's shape.
    scratch: [Tensor; 2],
}

/// An optimiser over the trainable variables of a [`VarStore`], with state that can be saved
/// ([`Optimizer::state`]) and restored ([`Optimizer::new`] with a start).
#[derive(Debug)]
pub struct Optimizer {
    config: OptimizerConfig,
    slots: Vec<Slot>,
    /// The variables again (handles sharing the slots' storage), as autograd's inputs.
    inputs: Vec<Tensor>,
}

/// The state of an [`Optimizer`]: its kind and, per variable, the step count and moments.
///
/// Saved as safetensors ([`OptimizerState::save`]) under the names `<kind>.step.<variable>`
/// (0-d Int64), `adam.exp_avg.<variable>`, `adam.exp_avg_sq.<variable>` and
/// `sgd.momentum_buffer.<variable>`: PyTorch's state-dict names.
#[derive(Debug)]
pub struct OptimizerState {
    kind: String,
    /// Per variable: slot name (`step`, `exp_avg`, ...) → tensor.
    variables: BTreeMap<String, BTreeMap<String, Tensor>>,
}

/// The slots of each optimizer kind, besides `step`.
fn moment_names(kind: &str) -> &'static [&'static str] {
    match kind {
        "adam" => &["exp_avg", "exp_avg_sq"],
        _ => &["momentum_buffer"],
    }
}

impl OptimizerState {
    /// The optimiser it belongs to: `"adam"` or `"sgd"`.
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// The most steps taken on any variable.
    pub fn steps(&self) -> Result<i64> {
        let mut most = 0;
        for slots in self.variables.values() {
            if let Some(step) = slots.get("step") {
                most = most.max(i64::try_from(step)?);
            }
        }
        Ok(most)
    }

    /// Writes the state to `path` (`.safetensors`), atomically: a crash leaves the old file.
    pub fn save(&self, path: &Path) -> Result<()> {
        let mut named: Vec<(String, &Tensor)> = Vec::new();
        for (variable, slots) in &self.variables {
            for (slot, tensor) in slots {
                named.push((format!("{}.{slot}.{variable}", self.kind), tensor));
            }
        }
        write_atomically(path, |tmp| Tensor::write_safetensors(&named, tmp))
    }

    /// Reads a state written by [`OptimizerState::save`]. A file of another format, a name
    /// that is not `<kind>.<slot>.<variable>`, two kinds in one file or a variable lacking a
    /// slot is an [`EbmError::Checkpoint`] naming it.
    pub fn load(path: &Path) -> Result<Self> {
        let stored = Tensor::read_safetensors(path).map_err(|e| {
            EbmError::Checkpoint(format!(
                "cannot read the optimiser state {}: {e}",
                path.display()
            ))
        })?;
        let bad = |what: String| {
            EbmError::Checkpoint(format!("optimiser state {}: {what}", path.display()))
        };
        let mut kind: Option<String> = None;
        let mut variables: BTreeMap<String, BTreeMap<String, Tensor>> = BTreeMap::new();
        for (name, tensor) in stored {
            let mut parts = name.splitn(3, '.');
            let (Some(k), Some(slot), Some(variable)) = (parts.next(), parts.next(), parts.next())
            else {
                return Err(bad(format!(
                    "`{name}` is not named <kind>.<slot>.<variable>"
                )));
            };
            if !matches!(k, "adam" | "sgd") || (slot != "step" && !moment_names(k).contains(&slot))
            {
                return Err(bad(format!(
                    "`{name}` is not a slot of Adam (step, exp_avg, exp_avg_sq) or SGD (step, momentum_buffer)"
                )));
            }
            match &kind {
                Some(seen) if seen != k => {
                    return Err(bad(format!("holds both `{seen}` and `{k}` state")))
                }
                _ => kind = Some(k.to_string()),
            }
            variables
                .entry(variable.to_string())
                .or_default()
                .insert(slot.to_string(), tensor);
        }
        let Some(kind) = kind else {
            return Err(bad("holds no state".into()));
        };
        for (variable, slots) in &variables {
            for slot in std::iter::once(&"step").chain(moment_names(&kind)) {
                if !slots.contains_key(*slot) {
                    return Err(bad(format!("variable `{variable}` has no `{slot}`")));
                }
            }
        }
        Ok(OptimizerState { kind, variables })
    }
}

/// A tensor of zeros shaped like `t` (same kind and device), outside any graph.
fn zeros_like(t: &Tensor) -> Result<Tensor> {
    Ok(t.f_zeros_like()?.f_detach()?)
}

impl Optimizer {
    /// The optimiser `config` over every trainable variable of `vs` (checked first), fresh or
    /// from a saved `start`. The start must be of the same kind and hold exactly the model's
    /// trainable variables, each with finite moments of its shape (Adam's second moment ≥ 0)
    /// and a step count ≥ 0; anything else is an [`EbmError::Checkpoint`] naming the
    /// variable.
    pub fn new(
        config: &OptimizerConfig,
        vs: &VarStore,
        start: Option<&OptimizerState>,
    ) -> Result<Self> {
        config.check()?;
        let kind = config.kind_name();
        let mut variables: Vec<(String, Tensor)> = vs
            .variables()
            .into_iter()
            .filter(|(_, t)| t.requires_grad())
            .collect();
        variables.sort_by(|a, b| a.0.cmp(&b.0));
        if let Some(start) = start {
            if start.kind != kind {
                return Err(EbmError::Checkpoint(format!(
                    "the optimiser state is {}'s but the config trains with {kind}",
                    start.kind
                )));
            }
            if let Some(extra) = start
                .variables
                .keys()
                .find(|k| !variables.iter().any(|(n, _)| n == *k))
            {
                return Err(EbmError::Checkpoint(format!(
                    "the optimiser state holds variable `{extra}`, which the model does not train"
                )));
            }
        }
        let mut slots = Vec::with_capacity(variables.len());
        for (name, value) in variables {
            let (step, first, second) = match start {
                None => (
                    0,
                    zeros_like(&value)?,
                    match kind {
                        "adam" => zeros_like(&value)?,
                        _ => Tensor::new(),
                    },
                ),
                Some(start) => {
                    let Some(saved) = start.variables.get(&name) else {
                        return Err(EbmError::Checkpoint(format!(
                            "the optimiser state has no variable `{name}`: it was saved from another model"
                        )));
                    };
                    let moment = |slot: &str| -> Result<Tensor> {
                        let t = &saved[slot];
                        if t.size() != value.size() {
                            return Err(EbmError::Checkpoint(format!(
                                "the optimiser's `{slot}` of `{name}` has shape {:?} but the variable {:?}",
                                t.size(),
                                value.size()
                            )));
                        }
                        if !bool::try_from(t.f_isfinite()?.f_all()?)?
                            || (slot == "exp_avg_sq" && bool::try_from(t.f_lt(0.0)?.f_any()?)?)
                        {
                            return Err(EbmError::Checkpoint(format!(
                                "the optimiser's `{slot}` of `{name}` holds non-finite or negative values"
                            )));
                        }
                        let mut copy = zeros_like(&value)?;
                        tch::no_grad(|| copy.f_copy_(t))?;
                        Ok(copy)
                    };
                    let step_tensor = &saved["step"];
                    let step = match step_tensor.dim() {
                        0 => i64::try_from(step_tensor.f_to_kind(Kind::Int64)?)?,
                        _ => -1,
                    };
                    if step < 0 {
                        return Err(EbmError::Checkpoint(format!(
                            "the optimiser's step count of `{name}` is not a count ≥ 0"
                        )));
                    }
                    let first = moment(moment_names(kind)[0])?;
                    let second = match kind {
                        "adam" => moment("exp_avg_sq")?,
                        _ => Tensor::new(),
                    };
                    (step, first, second)
                }
            };
            slots.push(Slot {
                scratch: [zeros_like(&value)?, zeros_like(&value)?],
                name,
                value,
                step,
                first,
                second,
            });
        }
        let inputs = slots.iter().map(|s| s.value.shallow_clone()).collect();
        Ok(Optimizer {
            config: config.clone(),
            slots,
            inputs,
        })
    }

    /// The settings.
    pub fn config(&self) -> &OptimizerConfig {
        &self.config
    }

    /// One update: the gradients of `loss` (a scalar) with respect to every variable, by
    /// autograd into fresh tensors (the variables' `.grad` fields are neither read nor
    /// written, so nothing needs zeroing and nothing accumulates), then the step. A variable
    /// the loss does not use is skipped and its step count does not advance, as in PyTorch.
    pub fn backward_step(&mut self, loss: &Tensor) -> Result<()> {
        let grads = Tensor::f_run_backward(&[loss], &self.inputs, false, false)?;
        let _guard = tch::no_grad_guard();
        for (slot, grad) in self.slots.iter_mut().zip(grads) {
            if !grad.defined() {
                continue;
            }
            slot.step += 1;
            let [a, b] = &mut slot.scratch;
            // L2 weight decay, g + λθ, into b (PyTorch's order of operands, so the same bits):
            // Adam reads g only before it next writes b, SGD never writes b.
            let grad = match self.config.weight_decay() {
                0.0 => grad,
                wd => {
                    let _ = slot.value.f_mul_scalar_out(b, wd)?.f_add_(&grad)?;
                    b.shallow_clone()
                }
            };
            match self.config {
                OptimizerConfig::Adam { lr, .. } => {
                    let t = slot.step as f64;
                    let bias1 = 1.0 - ADAM_BETA1.powf(t);
                    let bias2 = 1.0 - ADAM_BETA2.powf(t);
                    let _ = slot.first.f_lerp_(&grad, 1.0 - ADAM_BETA1)?;
                    let _ = grad.f_mul_scalar_out(a, 1.0 - ADAM_BETA2)?;
                    let _ = slot.second.f_mul_scalar_(ADAM_BETA2)?;
                    let _ = slot.second.f_addcmul_(a, &grad)?;
                    let _ = slot.second.f_sqrt_out(a)?;
                    let _ = a.f_div_scalar_(bias2.sqrt())?.f_add_scalar_(ADAM_EPS)?;
                    let _ = slot.first.f_mul_scalar_out(b, -lr / bias1)?;
                    let _ = slot.value.f_addcdiv_(b, a)?;
                }
                OptimizerConfig::Sgd { lr, momentum, .. } => {
                    let direction = if momentum != 0.0 {
                        // b starts at 0, so the first step gives b = g exactly.
                        let _ = slot.first.f_mul_scalar_(momentum)?.f_add_(&grad)?;
                        &slot.first
                    } else {
                        &grad
                    };
                    let _ = direction.f_mul_scalar_out(a, lr)?;
                    let _ = slot.value.f_sub_(a)?;
                }
            }
        }
        Ok(())
    }

    /// A copy of the state, to save beside the checkpoint and start a later optimiser from.
    pub fn state(&self) -> Result<OptimizerState> {
        let kind = self.config.kind_name();
        let mut variables = BTreeMap::new();
        for slot in &self.slots {
            let mut saved = BTreeMap::new();
            saved.insert("step".to_string(), Tensor::from(slot.step));
            let names = moment_names(kind);
            saved.insert(
                names[0].to_string(),
                slot.first.f_detach_copy()?.f_to_device(tch::Device::Cpu)?,
            );
            if kind == "adam" {
                saved.insert(
                    names[1].to_string(),
                    slot.second.f_detach_copy()?.f_to_device(tch::Device::Cpu)?,
                );
            }
            variables.insert(slot.name.clone(), saved);
        }
        Ok(OptimizerState {
            kind: kind.to_string(),
            variables,
        })
    }
}
