#!/usr/bin/env python3
"""The PyTorch side of `cargo xtask bench`.

Each benchmark case is written the way a competent PyTorch user writes it: parameters frozen
with `requires_grad_(False)` during inference, `torch.autograd.grad` with respect to y only,
in-place updates under `torch.no_grad()`, `torch.inference_mode()` where no gradient is
needed, `torch.set_num_threads(n)`. The shapes, steps, seeds and initial weights are the ones
the Rust side uses: the weights come from the folder the Rust worker wrote (raw f32 files and
`manifest.json`), the inputs from the same seeds on the same libtorch generator.

With `--compile` the worker runs each case as a careful user of `torch.compile` writes it:
the step function that the case repeats (a training step's forward and loss and the optimiser
step; one descent, Langevin, MALA or HMC step, its gradient by `torch.func.grad` so that the
compiled graph holds it; a DFO round; NT-Xent's loss; the exhaustive forward) compiled once
by inductor with `dynamic=False`, the same algorithm around it. Inductor's random ops fall
back to the eager generator (`fallback_random`), so the compiled runs draw the same numbers
and their results agree with the other two. Compilation happens in the warm-up, which the
runner does not time. A case the compiler cannot take as it is (the active set of the descent
to a tolerance changes the batch's shape at every check) answers why instead.

Usage (the Rust runner drives it; by hand only for debugging):
  torch_bench.py worker --threads N [--compile]   one JSON request per stdin line, one reply each
  torch_bench.py memory --threads N SPEC_JSON   peak memory of one NT-Xent pass, fresh process
"""

import json
import os
import sys
import time
import warnings

# The wheel works without NumPy; its import-time warning about it is noise here.
warnings.filterwarnings("ignore", message="Failed to initialize NumPy")

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402


class NotApplicable(Exception):
    """The case has no compiled form (the runner reports the reason instead of a time)."""


def compile_step(fn):
    """`torch.compile` as the bench uses it: inductor, shapes fixed."""
    return torch.compile(fn, dynamic=False)


def func_energy_and_grad(net):
    """y -> (E(y) [C], ∇_y ΣE) by `torch.func.grad`, which a compiled graph can hold (the
    eager side's `torch.autograd.grad` would break the graph)."""

    def total(y):
        e = net(y).squeeze(1)
        return e.sum(), e

    grad = torch.func.grad(total, has_aux=True)

    def energy_and_grad_of(y):
        g, e = grad(y)
        return e, g

    return energy_and_grad_of


def load_weights(folder):
    """name -> tensor, from the folder the Rust side wrote."""
    with open(os.path.join(folder, "manifest.json")) as f:
        entries = json.load(f)
    out = {}
    for e in entries:
        with open(os.path.join(folder, e["file"]), "rb") as f:
            data = bytearray(f.read())
        out[e["name"]] = torch.frombuffer(data, dtype=torch.float32).reshape(e["shape"]).clone()
    return out


def mlp(weights, prefix, device):
    """An MLP with softplus between layers (ebm-arch's default) from `prefix.{i}.weight/bias`."""
    layers = []
    i = 0
    while f"{prefix}.{i}.weight" in weights:
        w = weights[f"{prefix}.{i}.weight"]
        b = weights[f"{prefix}.{i}.bias"]
        linear = nn.Linear(w.shape[1], w.shape[0])
        with torch.no_grad():
            linear.weight.copy_(w)
            linear.bias.copy_(b)
        if layers:
            layers.append(nn.Softplus())
        layers.append(linear)
        i += 1
    if not layers:
        raise ValueError(f"no layer {prefix}.0 in the weights")
    return nn.Sequential(*layers).to(device)


class Train:
    """Multi-class energy MLP training steps: hinge loss with the most offending class, Adam."""

    def __init__(self, spec, folder, device, compiled=False):
        self.model = mlp(load_weights(folder), "g", device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=spec["lr"])
        self.margin = spec["margin"]
        self.loss = compile_step(self.hinge) if compiled else self.hinge
        self.step = compile_step(self.optimizer.step) if compiled else self.optimizer.step
        torch.manual_seed(spec["seed"] + 1)
        self.batches = []
        for _ in range(spec["batches"]):
            x = torch.randn(spec["batch"], spec["in_dim"], device=device)
            y = torch.randint(0, spec["classes"], (spec["batch"],), device=device)
            self.batches.append((x, y))
        self.next = 0

    def hinge(self, x, y):
        energies = self.model(x)
        e_correct = energies.gather(1, y.unsqueeze(1)).squeeze(1)
        wrong = energies.masked_fill(F.one_hot(y, energies.shape[1]).bool(), float("inf"))
        e_incorrect = wrong.min(1).values
        return F.relu(self.margin + e_correct - e_incorrect).mean()

    def iterate(self):
        x, y = self.batches[self.next]
        self.next = (self.next + 1) % len(self.batches)
        loss = self.loss(x, y)
        self.optimizer.zero_grad()
        loss.backward()
        self.step()
        return loss.detach()


def implicit_regression(case, spec, folder, device):
    """The descent and DFO cases' frozen G_x, G_y (from the Rust side's weights) and inputs."""
    w = load_weights(folder)
    case.gx = mlp(w, "gx", device).requires_grad_(False)
    case.gy = mlp(w, "gy", device).requires_grad_(False)
    case.spec = spec
    case.device = device
    torch.manual_seed(spec["seed"] + 1)
    lo, hi = spec["lo"], spec["hi"]
    case.x = torch.rand(spec["batch"], 1, device=device) * (hi - lo) + lo


class Descent:
    """Implicit regression E = ½‖G_x(x) − G_y(y)‖²: heavy-ball gradient descent on y from
    random starts in the box, the same steps as ebm-core's GradientDescent without
    backtracking, with G_x(x) computed once per inference (it does not depend on y), and the
    best restart per x."""

    def __init__(self, spec, folder, device, compiled=False):
        implicit_regression(self, spec, folder, device)
        self.step = None
        if compiled:
            if spec.get("tolerance", 0.0) > 0:
                raise NotApplicable(
                    "the active set changes the batch's shape at every check; with "
                    "dynamic=False each shape would compile anew"
                )
            self.step = compile_step(self.heavy_ball)

    def heavy_ball(self, y, velocity, h):
        """One step: the gradient by torch.func, then the same update as the eager loop."""
        s = self.spec

        def energy(y):
            return (0.5 * (h - self.gy(y)).square().sum(1)).sum()

        grad = torch.func.grad(energy)(y)
        velocity = velocity * s["momentum"] + grad
        return (y - velocity * s["step_size"]).clamp(s["lo"], s["hi"]), velocity

    def iterate(self):
        if self.step is not None:
            return self.iterate_compiled()
        s = self.spec
        b, r, lo, hi = s["batch"], s["restarts"], s["lo"], s["hi"]
        torch.manual_seed(s["seed"] + 2)
        y = (torch.rand(b * r, 1, device=self.device) * (hi - lo) + lo).clamp_(lo, hi)
        y.requires_grad_(True)
        with torch.no_grad():
            h = self.gx(self.x)
            if r > 1:
                h = h.repeat_interleave(r, 0)
        velocity = torch.zeros_like(y)
        tolerance, steps = s.get("tolerance", 0.0), s["steps"]
        # With a tolerance, rows that moved less than it at a check (every 10th step and the
        # last) are set aside and leave the batch, as ebm-core's descent does.
        rows, out, h_full = None, None, h
        for step in range(steps):
            energy = 0.5 * (h - self.gy(y)).square().sum(1)
            (grad,) = torch.autograd.grad(energy.sum(), y)
            with torch.no_grad():
                check = tolerance > 0 and (step % 10 == 9 or step + 1 == steps)
                before = y.detach().clone() if check else None
                velocity.mul_(s["momentum"]).add_(grad)
                y.sub_(velocity, alpha=s["step_size"]).clamp_(lo, hi)
                if not check:
                    continue
                moving = (y - before).abs().amax(1) >= tolerance
                n_moving = int(moving.sum())
                if n_moving == y.shape[0]:
                    continue
                if out is None:
                    rows = torch.arange(y.shape[0], device=self.device)
                    out = y.detach().clone()
                done = (~moving).nonzero().squeeze(1)
                out.index_copy_(0, rows[done], y[done])
                if n_moving == 0:
                    break
                keep = moving.nonzero().squeeze(1)
                rows, velocity, h = rows[keep], velocity[keep], h[keep]
                y = y[keep].detach().requires_grad_(True)
        with torch.no_grad():
            if out is not None:
                if n_moving > 0:
                    out.index_copy_(0, rows, y.detach())
                y, h = out, h_full
            e = (0.5 * (h - self.gy(y)).square().sum(1)).view(b, r)
            best_e, best_i = e.min(1)
            # The best y per x, as ebm-arch's predict returns it (not needed for the check).
            best_y = y.view(b, r, 1).gather(1, best_i.view(b, 1, 1)).squeeze(1)
        del best_y
        return best_e.double().sum()

    def iterate_compiled(self):
        s = self.spec
        b, r, lo, hi = s["batch"], s["restarts"], s["lo"], s["hi"]
        torch.manual_seed(s["seed"] + 2)
        y = (torch.rand(b * r, 1, device=self.device) * (hi - lo) + lo).clamp_(lo, hi)
        with torch.no_grad():
            h = self.gx(self.x)
            if r > 1:
                h = h.repeat_interleave(r, 0)
        velocity = torch.zeros_like(y)
        for _ in range(s["steps"]):
            y, velocity = self.step(y, velocity, h)
        with torch.no_grad():
            e = (0.5 * (h - self.gy(y)).square().sum(1)).view(b, r)
            best_e, _ = e.min(1)
        return best_e.double().sum()


# Samples per energy call of the DFO, as ebm-core's `Dfo` chunks its batch.
DFO_CHUNK_SAMPLES = 1 << 16


class Dfo:
    """IBC's iterative derivative-free optimisation (as kevinzakka/ibc's
    DerivativeFreeOptimizer writes it) on the implicit regression of the descent case:
    uniform samples in the box per x, then per round the energies, resampling by
    softmax(-E) with replacement, Gaussian noise and clamping, sigma halved; the energies of
    the last samples and the lowest per x. G_x(x) is computed once; the batch is cut into
    chunks of 2^16 samples per energy call (a careful user's memory bound)."""

    def __init__(self, spec, folder, device, compiled=False):
        implicit_regression(self, spec, folder, device)
        self.round = compile_step(self.dfo_round) if compiled else self.dfo_round

    def dfo_round(self, y, h_rep, sigma):
        """One round: energies, resampling by softmax(−E), noise of σ (a 0-d tensor, so that
        a compiled round does not specialise on its value), clamping."""
        s = self.spec
        bc, n = y.shape[0], y.shape[1]
        e = (0.5 * (h_rep - self.gy(y.view(bc * n, 1))).square().sum(1)).view(bc, n)
        probs = torch.softmax(e / -1.0, 1)
        index = torch.multinomial(probs, n, replacement=True)
        y = y.gather(1, index.unsqueeze(2).expand(bc, n, 1))
        return (y + torch.randn_like(y) * sigma).clamp(s["lo"], s["hi"])

    @torch.no_grad()
    def iterate(self):
        s = self.spec
        b, n, lo, hi = s["batch"], s["samples"], s["lo"], s["hi"]
        keep = min(n, 256)
        torch.manual_seed(s["seed"] + 2)
        h = self.gx(self.x)
        rows = max(1, DFO_CHUNK_SAMPLES // n)
        best = []
        for start in range(0, b, rows):
            hc = h[start:start + rows]
            bc = hc.shape[0]
            h_rep = hc.repeat_interleave(n, 0)
            y = (torch.rand(bc * n, 1, device=self.device) * (hi - lo) + lo).view(bc, n, 1)
            sigma = s["noise"]
            for _ in range(s["iterations"]):
                y = self.round(y, h_rep, torch.tensor(sigma, device=self.device))
                sigma *= s["shrink"]
            e = (0.5 * (h_rep - self.gy(y.view(bc * n, 1))).square().sum(1)).view(bc, n)
            lowest, _ = e.topk(keep, 1, largest=False, sorted=True)
            best.append(lowest[:, 0])
        return torch.cat(best).double().sum()


class Sampling:
    """Unadjusted Langevin on an unconditional energy MLP over R² (β = 1):
    y ← y − (ε/2)·∇E(y) + √ε·ξ."""

    def __init__(self, spec, folder, device, compiled=False):
        self.net = mlp(load_weights(folder), "energy", device).requires_grad_(False)
        self.spec = spec
        self.device = device
        self.step = compile_step(self.langevin_step) if compiled else None

    def langevin_step(self, y):
        drift, noise_std = 0.5 * self.spec["epsilon"], self.spec["epsilon"] ** 0.5
        grad = torch.func.grad(lambda y: self.net(y).sum())(y)
        return y - grad * drift + torch.randn_like(y) * noise_std

    def iterate(self):
        s = self.spec
        if self.step is not None:
            torch.manual_seed(s["seed"] + 2)
            y = torch.randn(s["chains"], 2, device=self.device)
            for _ in range(s["steps"]):
                y = self.step(y)
            return y.double().sum()
        drift, noise_std = 0.5 * s["epsilon"], s["epsilon"] ** 0.5
        torch.manual_seed(s["seed"] + 2)
        y = torch.randn(s["chains"], 2, device=self.device)
        y.requires_grad_(True)
        noise = torch.empty_like(y)
        for _ in range(s["steps"]):
            (grad,) = torch.autograd.grad(self.net(y).sum(), y)
            with torch.no_grad():
                y.sub_(grad, alpha=drift).add_(noise.normal_(0.0, noise_std))
        return y.detach().double().sum()


def energy_and_grad(net, y):
    """E(y) [C] (detached) and ∇_y ΣE, with respect to y only (the parameters are frozen)."""
    y = y.detach().requires_grad_(True)
    e = net(y).squeeze(1)
    (g,) = torch.autograd.grad(e.sum(), y)
    return e.detach(), g


class Metropolis:
    """MALA and HMC as a careful user writes them: fixed step, every chain accepted or
    rejected by its own uniform draw, acceptance summed on the device, the kept draws written
    into preallocated f64 tensors. The random draws come in ebm-core's order, so the chains
    agree with the Rust side's."""

    def __init__(self, spec, folder, device, compiled=False):
        self.net = mlp(load_weights(folder), "energy", device).requires_grad_(False)
        self.spec = spec
        self.device = device
        self.energy_and_grad = lambda y: energy_and_grad(self.net, y)
        self.transition = self.whole_transition
        if compiled:
            self.energy_and_grad = func_energy_and_grad(self.net)
            self.transition = compile_step(self.whole_transition)

    def whole_transition(self, y, e, g):
        """A proposal, its energy and gradient, and the accept/reject (no tensor here
        requires a gradient, so eagerly no graph is recorded; compiled, one graph)."""
        s = self.spec
        if s["kind"] == "mala":
            proposal, e_new, g_new, log_alpha = self.mala(y, e, g, s["step_size"])
        else:
            proposal, e_new, g_new, log_alpha = self.hmc(
                y, e, g, s["step_size"], s["leapfrog_steps"]
            )
        accept = torch.rand_like(log_alpha).log() < log_alpha
        keep = accept.unsqueeze(1)
        y = torch.where(keep, proposal, y)
        g = torch.where(keep, g_new, g)
        return y, torch.where(accept, e_new, e), g, accept

    def iterate(self):
        s = self.spec
        c, warmup, samples = s["chains"], s["warmup"], s["samples"]
        torch.manual_seed(s["seed"] + 2)
        y = torch.randn(c, 2, device=self.device)
        e, g = energy_and_grad(self.net, y)
        kept = torch.empty(samples, c, 2, dtype=torch.float64, device=self.device)
        kept_e = torch.empty(samples, c, dtype=torch.float64, device=self.device)
        accepted = torch.zeros((), dtype=torch.float64, device=self.device)
        for t in range(warmup + samples):
            y, e, g, accept = self.transition(y, e, g)
            if t >= warmup:
                with torch.no_grad():
                    accepted += accept.sum(dtype=torch.float64)
                    kept[t - warmup] = y
                    kept_e[t - warmup] = e
        return y.double().sum() + accepted.item() / (samples * c)

    def mala(self, y, e, g, h):
        """y' = y − h∇E + √(2h)ξ and log α with the two proposal densities."""
        with torch.no_grad():
            noise = torch.randn_like(y)
            proposal = y - g * h + noise * (2.0 * h) ** 0.5
            log_q_forward = noise.square().sum(1, dtype=torch.float64) * -0.5
        e_new, g_new = self.energy_and_grad(proposal)
        with torch.no_grad():
            back = y - proposal + g_new * h
            log_q_backward = back.square().sum(1, dtype=torch.float64) * (-1.0 / (4.0 * h))
            log_alpha = e.double() - e_new.double() + log_q_backward - log_q_forward
        return proposal, e_new, g_new, log_alpha

    def hmc(self, y, e, g, h, steps):
        """L leapfrog steps of H = E + ½‖p‖² from p ~ N(0, I); log α = H_old − H_new."""
        with torch.no_grad():
            p0 = torch.randn_like(y)
            h_old = e.double() + p0.square().sum(1, dtype=torch.float64) * 0.5
            p = p0 - g * (0.5 * h)
        q = y
        for step in range(steps):
            with torch.no_grad():
                q = q + p * h
            e_new, g_new = self.energy_and_grad(q)
            with torch.no_grad():
                p = p - g_new * ((0.5 if step + 1 == steps else 1.0) * h)
        with torch.no_grad():
            h_new = e_new.double() + p.square().sum(1, dtype=torch.float64) * 0.5
        return q, e_new, g_new, h_old - h_new


def nt_xent(z1, z2, temperature, eps=1e-8):
    """SimCLR's NT-Xent over 2N views: cosine similarities / τ, self-similarity masked."""
    n = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2], 0), dim=1, eps=eps)
    logits = (z / temperature) @ z.T
    # As ebm-contrastive does: the diagonal's gradient is zero anyway (softmax at -inf), so
    # the fill is kept out of autograd and backward does not copy the table to re-zero it.
    with torch.no_grad():
        logits.fill_diagonal_(float("-inf"))
    idx = torch.arange(n, device=z.device)
    targets = torch.cat([idx + n, idx])
    return F.cross_entropy(logits, targets)


class Contrastive:
    """NT-Xent forward and backward with respect to both views."""

    def __init__(self, spec, folder, device, compiled=False):
        torch.manual_seed(spec["seed"])
        self.z1 = torch.randn(spec["n"], spec["dim"], device=device).requires_grad_(True)
        self.z2 = torch.randn(spec["n"], spec["dim"], device=device).requires_grad_(True)
        self.temperature = spec["temperature"]
        self.loss = compile_step(nt_xent) if compiled else nt_xent

    def forward_backward(self):
        loss = self.loss(self.z1, self.z2, self.temperature)
        grads = torch.autograd.grad(loss, (self.z1, self.z2))
        return loss, grads

    def iterate(self):
        loss, _ = self.forward_backward()
        return loss.detach()


class Exhaustive:
    """Every class's energy and the argmin, without autograd."""

    def __init__(self, spec, folder, device, compiled=False):
        self.model = mlp(load_weights(folder), "g", device).requires_grad_(False)
        torch.manual_seed(spec["seed"] + 1)
        self.x = torch.randn(spec["batch"], spec["in_dim"], device=device)
        self.argmin = compile_step(self.energies_and_argmin) if compiled else self.energies_and_argmin

    def energies_and_argmin(self, x):
        energies = self.model(x)
        return energies.min(1)

    def iterate(self):
        with torch.inference_mode():
            best_e, best_i = self.argmin(self.x)
            return best_e.double().sum()


WORKLOADS = {
    "train": Train,
    "descent": Descent,
    "dfo": Dfo,
    "langevin": Sampling,
    "mala": Metropolis,
    "hmc": Metropolis,
    "nt_xent": Contrastive,
    "exhaustive": Exhaustive,
}


def loaded_libtorch():
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 6 and "libtorch_cpu" in parts[5]:
                    return parts[5]
    except OSError:
        pass
    return "unknown"


def memory_kib():
    """(VmHWM, VmRSS) in KiB."""
    fields = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmHWM", "VmRSS"):
                fields[key] = int(value.split()[0])
    return fields["VmHWM"], fields["VmRSS"]


def set_threads(argv):
    threads = int(argv[argv.index("--threads") + 1]) if "--threads" in argv else 1
    torch.set_num_threads(threads)
    return threads


def worker(argv):
    set_threads(argv)
    compiled = "--compile" in argv
    if compiled:
        import torch._inductor.config as inductor_config

        inductor_config.fallback_random = True
    case = None
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        try:
            cmd = request["cmd"]
            if cmd == "info":
                reply = {
                    "language": "python-compiled" if compiled else "python",
                    "libtorch": loaded_libtorch(),
                    "threads": torch.get_num_threads(),
                    "version": torch.__version__,
                }
            elif cmd == "setup":
                spec = request["spec"]
                case = None
                device = torch.device(request["device"])
                case = WORKLOADS[spec["kind"]](spec, request["dir"], device, compiled=compiled)
                reply = {}
            elif cmd == "run":
                iters = request["iters"]
                start = time.perf_counter()
                for _ in range(iters):
                    check = case.iterate()
                check = float(check)  # the read back ends the timed block (and syncs a GPU)
                reply = {"seconds": time.perf_counter() - start, "check": check}
            elif cmd == "quit":
                return
            else:
                raise ValueError(f"unknown command {cmd}")
            reply = {"ok": True, "reply": reply}
        except NotApplicable as e:  # the runner reports the reason in the compiled column
            reply = {"ok": False, "error": f"not applicable: {e}"}
        except Exception as e:  # reported to the runner, which stops with the message
            reply = {"ok": False, "error": f"{type(e).__name__}: {e}"}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


def memory(argv):
    set_threads(argv)
    spec = json.loads(argv[0])
    case = Contrastive(spec, None, torch.device("cpu"))
    _, before = memory_kib()
    loss, _ = case.forward_backward()
    check = float(loss)
    peak, _ = memory_kib()
    print(json.dumps({"before_kib": before, "peak_kib": peak, "check": check}))


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "worker":
        worker(sys.argv[2:])
    elif len(sys.argv) >= 3 and sys.argv[1] == "memory" and not sys.argv[2].startswith("--"):
        memory(sys.argv[2:])
    else:
        sys.exit(__doc__)
