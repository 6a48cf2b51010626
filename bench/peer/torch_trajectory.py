#!/usr/bin/env python3
"""PyTorch's side of the trajectory check (bench/src/trajectory/run.ts starts it; see bench/README.md).

The discrete autoencoder of apps/autoencoder in PyTorch, for the quantizers `ste`, `knn-ce` and `fsq`,
trained with torch.optim.Adam from the start state and on the batches that simplex-vq wrote to the
inputs file. Each quantizer repeats packages/vq's forward and loss term by term, in the same order
of operations where that order is a choice (it is not for sums: those are each engine's own):

  ste (VectorQuantizer)       d = (|z|^2 - 2 z.E^T) + |E|^2;  k = argmin d (first index on ties)
                              q = z + sg(E_k - z);  loss = beta mean((z - sg(E_k))^2) + mean((sg(z) - E_k)^2)
  knn-ce (SmoothedQuantizer)  logits = (z.E^T) * (2 * (1/tau)) - |E|^2 / tau,  tau = exp(logTemperature)
                              log p = log_softmax(logits);  q = p E  (training: the soft output)
                              loss = beta mean((z - sg(q))^2) + lambda (-mean over codes of the top-K log p of the column)
  fsq (FiniteScalarQuantizer) h = z W_in + b_in;  b = tanh(h + s) a - o;  r = b + sg(floor(b + 1/2) - b)
                              q = (r / floor(L/2)) W_out + b_out;  no loss.  a, o, s are float32 constants,
                              as packages/vq stores them (Float32Array), also in the float64 runs.
  model                       x [B,1,28,28] -> conv 4x4/2 -> ReLU -> conv 4x4/2 -> ReLU -> conv 1x1 -> z [B,C,7,7]
                              rows [B*49, C] -> quantizer -> q -> conv 3x3 -> ReLU -> convT 4x4/2 -> ReLU
                              -> convT 4x4/2 -> sigmoid;  loss = mean((x^ - x)^2) + quantizer loss

The codebooks in the inputs file are already initialized from data (k-means, and for knn-ce the
temperature rescaled) by simplex-vq, so no k-means runs here: `quantizer.initialized` must be 1.

Training mode (the default), for each method, one thread (torch.set_num_threads(1)):

  f64          the start state and batches in float64: the same math as simplex-vq's float64 run
  f64-ulp<i>   the same from a start where every parameter moved by one ulp (up or down at random)
  f32          float32, as the app trains
  f32-ulp<i>   float32 from a start moved by one float32 ulp
  f32-perm<i>  float32 on batches whose images come in another (seeded) order: the same math (each
               term is a mean over the batch or per row; KNN's top-K over rows ignores their order),
               a different order of the additions in every sum over the batch

The variants are PyTorch's own rounding variants: how far rounding alone moves its run (check.ts).
Writes {"torch", "threads", "runs": {method: {run: [[loss, recon], ...]}}, "seconds"} to --out.

Resync mode (--resync FILE): FILE holds simplex-vq's float64 weights at the start of some steps and
its loss and gradients there (tensors <method>/<step>/state.<name>, grad.<name>, loss; F64). From
each, the loss and gradients in float64 on that step's batch, and two rounding variants of that
computation (see resync()); writes {"torch", "resync": {method: [{step, loss: [ours, perm, ulp],
grads: {name: [ours, perm, ulp]}}]}} to --out, as relative differences from PyTorch's result. The
same state and batch leave rounding as the only difference: this checks the math at every sampled
step, without the chaos of a free run.

Either way it prints `TRAJECTORY-RESULT <out>` on stdout; progress on stderr.

    torch_trajectory.py --inputs FILE --out FILE [--methods ste,knn-ce,fsq] [--ulps 2] [--perms 1] [--ulps64 1]
    torch_trajectory.py --inputs FILE --out FILE --resync STATES
"""
import argparse
import json
import math
import struct
import sys
import time

import torch
from torch import nn

from ae_layers import conv_decoder, conv_encoder

RESULT_PREFIX = 'TRAJECTORY-RESULT '


def progress(msg):
    sys.stderr.write(f'[trajectory/torch] {msg}\n')
    sys.stderr.flush()


class VectorQuantizer(nn.Module):
    """packages/vq VectorQuantizer (method ste): nearest code, straight-through, codebook + commitment loss."""

    def __init__(self, q):
        super().__init__()
        self.beta = q['commitment']
        self.codebook = nn.Parameter(torch.zeros(1, q['codebookSize'], q['dim']))  # [G = 1, M, d]

    def forward(self, z):  # z [N, C] -> (q [N, C], loss)
        e_all = self.codebook[0]
        with torch.no_grad():
            d = (z.square().sum(-1, keepdim=True) - (z @ e_all.T) * 2) + e_all.square().sum(-1).unsqueeze(0)
            idx = d.argmin(-1)
        e = e_all[idx]
        commit = (z - e.detach()).square().mean()
        codebook_loss = (z.detach() - e).square().mean()
        loss = commit * self.beta + codebook_loss
        return z + (e - z).detach(), loss


class SmoothedQuantizer(nn.Module):
    """packages/vq SmoothedQuantizer with distance logits and the KNN-CE regularizer (method knn-ce)."""

    def __init__(self, q):
        super().__init__()
        self.beta = q['commitment']
        self.k = q['k']
        self.lam = q['knnWeight']
        self.codebook = nn.Parameter(torch.zeros(1, q['codebookSize'], q['dim']))
        self.register_buffer('logTemperature', torch.zeros(()))

    def forward(self, z):
        e = self.codebook[0]
        tau = self.logTemperature.exp()
        ee = e.square().sum(-1).unsqueeze(0)  # [1, M]
        # The logits up to the row constant -|z|^2/tau, as SmoothedQuantizer.shiftedLogits computes them.
        logits = (z @ e.T) * (tau.reciprocal() * 2) - ee / tau
        logp = torch.log_softmax(logits, dim=-1)  # [N, M]
        q = logp.exp() @ e
        loss = torch.zeros((), dtype=z.dtype)
        commit = (z - q.detach()).square().mean()
        loss = loss + commit * self.beta
        knn = -logp.topk(self.k, dim=0).values.mean()  # the K nearest rows of each code (one shard)
        loss = loss + knn * self.lam
        return q, loss


class GroupedLinear(nn.Module):
    """packages/vq GroupedLinear with one group: x [N, in] @ weight [1, in, out] + bias [1, 1, out]."""

    def __init__(self, n_in, n_out):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1, n_in, n_out))
        self.bias = nn.Parameter(torch.zeros(1, 1, n_out))

    def forward(self, x):
        return (x.unsqueeze(0) @ self.weight + self.bias)[0]


class FiniteScalarQuantizer(nn.Module):
    """packages/vq FiniteScalarQuantizer with the projection (C channels != number of levels)."""

    def __init__(self, q):
        super().__init__()
        levels = q['levels']
        n = len(levels)
        eps = q['fsqEps']
        scale = [(l - 1) * (1 + eps) / 2 for l in levels]
        offset = [0.5 if l % 2 == 0 else 0.0 for l in levels]
        # Rounded to float32 as packages/vq's Float32Array constants are (on the float64 backend too).
        f32 = lambda v: torch.tensor(v, dtype=torch.float32)  # noqa: E731
        self.register_buffer('scale', f32(scale), persistent=False)
        self.register_buffer('offset', f32(offset), persistent=False)
        self.register_buffer('shift', f32([math.atanh(o / a) for o, a in zip(offset, scale)]), persistent=False)
        self.register_buffer('half_width', f32([l // 2 for l in levels]), persistent=False)
        self.projectIn = GroupedLinear(q['dim'], n)
        self.projectOut = GroupedLinear(n, q['dim'])

    def forward(self, z):
        h = self.projectIn(z)
        b = (h + self.shift).tanh() * self.scale - self.offset
        with torch.no_grad():
            delta = (b + 0.5).floor() - b
        rounded = b + delta  # forward: the nearest level (halves up); backward: identity
        codes = rounded / self.half_width
        return self.projectOut(codes), torch.zeros((), dtype=z.dtype)


QUANTIZERS = {'ste': VectorQuantizer, 'knn-ce': SmoothedQuantizer, 'fsq': FiniteScalarQuantizer}


class Autoencoder(nn.Module):
    """apps/autoencoder's model; parameter names match simplex-vq's state dict."""

    def __init__(self, method, config):
        super().__init__()
        h, c = config['hidden'], config['dim']
        self.encoder = conv_encoder(h, c)
        self.quantizer = QUANTIZERS[method](config['quantizers'][method])
        self.decoder = conv_decoder(c, h)

    def losses(self, x):
        b = x.shape[0]
        z = self.encoder(x)  # [B, C, 7, 7]
        c = z.shape[1]
        rows = z.permute(0, 2, 3, 1).reshape(-1, c)
        q, q_loss = self.quantizer(rows)
        x_hat = torch.sigmoid(self.decoder(q.reshape(b, 7, 7, c).permute(0, 3, 1, 2)))
        recon = (x_hat - x).square().mean()
        return recon + q_loss, recon


def read_safetensors(path):
    """Tensors (F32, F64 or I32, as torch dtypes) and the metadata of a safetensors file."""
    dtypes = {'F32': torch.float32, 'F64': torch.float64, 'I32': torch.int32}
    with open(path, 'rb') as f:
        raw = f.read()
    (n,) = struct.unpack('<Q', raw[:8])
    header = json.loads(raw[8:8 + n].decode('utf-8'))
    metadata = header.pop('__metadata__', {})
    tensors = {}
    for name, e in header.items():
        if e['dtype'] not in dtypes:
            raise ValueError(f'{path}: tensor {name} has dtype {e["dtype"]}, expected one of {", ".join(dtypes)}')
        begin, end = e['data_offsets']
        data = bytearray(raw[8 + n + begin:8 + n + end])
        t = torch.frombuffer(data, dtype=dtypes[e['dtype']]) if data else torch.empty(0, dtype=dtypes[e['dtype']])
        tensors[name] = t.reshape(e['shape']).clone()
    return tensors, metadata


def load_state(model, prefix, tensors):
    """Copies the `<prefix><name>` tensors into the model; every parameter must be there, nothing else."""
    state = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
    init = state.pop('quantizer.initialized', None)
    if init is not None and init.item() != 1:
        raise ValueError(f'{prefix}: the codebook is not initialized (quantizer.initialized = {init.item()})')
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ValueError(f'{prefix}: state dict mismatch: missing {missing}, unexpected {unexpected}')


def nudge(model, seed):
    """Moves every parameter by one unit in the last place of its dtype, up or down at random."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            up = torch.rand(p.shape, generator=gen) < 0.5
            inf = torch.tensor(math.inf, dtype=p.dtype)
            p.copy_(torch.nextafter(p, torch.where(up, inf, -inf)))


def train(method, config, tensors, dtype, perm_seed=None, ulp_seed=None):
    """One run from the inputs file's start: the per-step [loss, recon] of `steps` Adam steps."""
    model = Autoencoder(method, config)
    load_state(model, f'{method}.', tensors)
    model.to(dtype)
    if ulp_seed is not None:
        nudge(model, ulp_seed)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=config['lr'], betas=tuple(config['betas']), eps=config['eps'])
    batches = tensors['batches'].to(dtype)  # [steps, B, 1, 28, 28]
    gen = torch.Generator().manual_seed(perm_seed) if perm_seed is not None else None
    curve = []
    for step in range(config['steps']):
        x = batches[step]
        if gen is not None:
            x = x[torch.randperm(x.shape[0], generator=gen)]
        opt.zero_grad(set_to_none=True)
        loss, recon = model.losses(x)
        loss.backward()
        opt.step()
        curve.append([loss.item(), recon.item()])
        if not math.isfinite(curve[-1][0]):
            raise RuntimeError(f'{method}: the loss became {curve[-1][0]} at step {step + 1}')
    return curve


def resync(config, tensors, states):
    """
    From each of our float64 states (the weights at the start of a step), the loss and gradients in
    float64 on that step's batch, three times: as is; with the batch's images in another order (the
    same sums in another order); and from the state moved by one ulp (nudge: how much rounding-size
    changes of the inputs move each result, which is large where a gradient is a sum that nearly
    cancels, as a k-means centre's is at step 1). Per step, for the loss and for each parameter's
    gradient, [ours vs plain, perm vs plain, ulp vs plain] as relative errors (gradients:
    max |g - ref| / max |ref|).
    """
    out = {}
    batches = tensors['batches'].double()
    steps_of = {}  # tensor names are <method>/<step>/state.<name>, <method>/<step>/grad.<name>, <method>/<step>/loss
    for name in states:
        method, step, _ = name.split('/', 2)
        steps_of.setdefault(method, set()).add(int(step))

    def rel(a, ref):
        scale = ref.abs().max().item()
        return (a - ref).abs().max().item() / (scale if scale > 0 else 1.0)

    for method, steps in steps_of.items():
        out[method] = []
        for step in sorted(steps):
            prefix = f'{method}/{step}/'
            x = batches[step - 1]
            results = {}
            for variant in ('plain', 'perm', 'ulp'):
                model = Autoencoder(method, config).double()
                load_state(model, f'{prefix}state.', states)
                if variant == 'ulp':
                    nudge(model, 6000 + step)
                model.train()
                order = torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(5000 + step))
                loss, _ = model.losses(x[order] if variant == 'perm' else x)
                loss.backward()
                results[variant] = (loss.item(), {n: p.grad for n, p in model.named_parameters()})
            loss, grads = results['plain']
            ours_loss = states[f'{prefix}loss'].item()
            out[method].append({
                'step': step,
                'loss': [abs(ours_loss - loss) / abs(loss), abs(results['perm'][0] - loss) / abs(loss), abs(results['ulp'][0] - loss) / abs(loss)],
                'grads': {n: [rel(states[f'{prefix}grad.{n}'], g), rel(results['perm'][1][n], g), rel(results['ulp'][1][n], g)] for n, g in grads.items()},
            })
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--inputs', required=True)
    ap.add_argument('--out', required=True)
    ap.add_argument('--methods', default=None, help='comma-separated; default: every method in the inputs file')
    ap.add_argument('--ulps', type=int, default=2, help='float32 runs from a start moved by one ulp')
    ap.add_argument('--perms', type=int, default=1, help='float32 runs on permuted batches')
    ap.add_argument('--ulps64', type=int, default=1, help='float64 runs from a start moved by one ulp')
    ap.add_argument('--resync', default=None, help="a file of our float64 states: compare one step from each instead of training")
    args = ap.parse_args()
    torch.set_num_threads(1)
    tensors, meta = read_safetensors(args.inputs)
    config = json.loads(meta['config'])
    out = {'torch': torch.__version__, 'threads': torch.get_num_threads()}
    if args.resync:
        states, _ = read_safetensors(args.resync)
        t0 = time.perf_counter()
        out['resync'] = resync(config, tensors, states)
        progress(f'resync: {sum(len(v) for v in out["resync"].values())} steps compared in {time.perf_counter() - t0:.1f} s')
    else:
        methods = args.methods.split(',') if args.methods else config['methods']
        plan = [('f64', torch.float64, None, None)]
        plan += [(f'f64-ulp{i + 1}', torch.float64, None, 3000 + i) for i in range(args.ulps64)]
        plan += [('f32', torch.float32, None, None)]
        plan += [(f'f32-ulp{i + 1}', torch.float32, None, 4000 + i) for i in range(args.ulps)]
        plan += [(f'f32-perm{i + 1}', torch.float32, 2000 + i, None) for i in range(args.perms)]
        out['runs'], out['seconds'] = {}, {}
        for method in methods:
            out['runs'][method] = {}
            for name, dtype, perm_seed, ulp_seed in plan:
                t0 = time.perf_counter()
                out['runs'][method][name] = train(method, config, tensors, dtype, perm_seed, ulp_seed)
                out['seconds'][f'{method}/{name}'] = time.perf_counter() - t0
                progress(f'{method} {name}: {config["steps"]} steps in {time.perf_counter() - t0:.1f} s')
    with open(args.out, 'w') as f:
        json.dump(out, f)
    sys.stdout.write(RESULT_PREFIX + args.out + '\n')


if __name__ == '__main__':
    main()
