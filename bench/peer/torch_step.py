#!/usr/bin/env python3
"""PyTorch's side of the peer benchmark (bench/src/peer/run.ts starts it; never part of npm test).

The discrete autoencoder of apps/autoencoder, method knn-ce, in PyTorch: the same layers and sizes,
the smoothed quantizer with the KNN-CE regularizer (K = 1, one shard) and the commitment term, and
torch.optim.Adam. The weights and the batch come from the inputs file that simplex-vq writes (a
safetensors file, read here by hand: no `safetensors` package needed).

    x [B,1,28,28] -> conv 4x4/2 p1 -> ReLU -> conv 4x4/2 p1 -> ReLU -> conv 1x1 -> z [B,C,7,7]
    rows z [N, C]; logits = -(|z|^2 - 2 z.E^T + |E|^2) / tau; log p = log_softmax; q = p E
    loss = mean((x^ - x)^2) + 0.25 * mean((z - sg(q))^2) + 1 * (-mean of the top-K log p of each code)
    q [B,C,7,7] -> conv 3x3 p1 -> ReLU -> convT 4x4/2 p1 -> ReLU -> convT 4x4/2 p1 -> sigmoid -> x^

Modes (one JSON line `PEER-RESULT {...}` on stdout, the same record as the Node engines print):
    torch_step.py --inputs FILE --threads N --check
        one step on the check batch, compared with simplex-vq's reference (loss, gradients, weights)
    torch_step.py --inputs FILE --threads N --batch B --warmup W --steps S [--min-seconds T] [--knn-alone]
        W warm-up steps, then at least S timed steps (more, up to 50, while under T seconds);
        --knn-alone then times the KNN-CE term alone the same way (bench:scaling)
    torch_step.py --inputs FILE --threads N --batch B --memory-steps S
        a training run of S steps, reporting its resident memory (bench:memory)
The model's sizes come from the inputs file's config (bench:scaling changes M and C there).
Peak memory is VmHWM of /proc/self/status (resource.getrusage's ru_maxrss elsewhere: on Linux a
process started by exec keeps in ru_maxrss the peak of the process it was forked from).
"""
import argparse
import json
import math
import resource
import struct
import sys
import time

import torch
from torch import nn

from ae_layers import conv_decoder, conv_encoder

RESULT_PREFIX = 'PEER-RESULT '


def proc_status_mb(key):
    """A `Vm...:  <n> kB` line of /proc/self/status in MB, or None where there is no /proc."""
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith(key + ':'):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def peak_rss_mb():
    """The process's high-water mark of resident memory (VmHWM), in MB."""
    hwm = proc_status_mb('VmHWM')
    return hwm if hwm is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mb():
    """Resident memory now, in MB (None where there is no /proc)."""
    return proc_status_mb('VmRSS')


def time_steps(step, warmup, steps, min_seconds):
    """Warm-up calls, then timed calls: at least `steps`, more (up to 50) while under `min_seconds`.
    Returns the timing record and the first value step() returned."""
    first = None
    for _ in range(warmup):
        loss = step()
        first = loss if first is None else first
    samples = []
    cpu0 = time.process_time()  # CPU time of every thread of the process
    t0 = time.perf_counter()
    while len(samples) < steps or (len(samples) < 50 and time.perf_counter() - t0 < min_seconds):
        s = time.perf_counter()
        loss = step()
        samples.append((time.perf_counter() - s) * 1000)
        first = loss if first is None else first
        if not math.isfinite(loss):
            raise RuntimeError(f'the loss became {loss}')
    cpu_ms = (time.process_time() - cpu0) * 1000 / len(samples)
    srt = sorted(samples)
    mid = len(srt) // 2
    med = srt[mid] if len(srt) % 2 else (srt[mid - 1] + srt[mid]) / 2
    return {'medianMs': med, 'minMs': srt[0], 'maxMs': srt[-1], 'runs': len(samples),
            'warmupRuns': warmup, 'samplesMs': samples, 'cpuMsPerStep': cpu_ms}, first


def curve_steps(steps):
    """Steps 1, 2, 5, 10, 20, 50, ... up to `steps`, and `steps`: where a memory run reads its RSS."""
    marks, decade = {steps}, 1
    while decade <= steps:
        marks.update(m * decade for m in (1, 2, 5) if m * decade <= steps)
        decade *= 10
    return marks


def memory_run(step, steps, rss_loaded):
    """A training run of `steps` steps, with its resident memory after the first step, along the
    way and at the end (the same record as bench/src/peer/engine.ts's memoryRun)."""
    marks, curve = curve_steps(steps), []
    cpu0, t0 = time.process_time(), time.perf_counter()
    first = loss = step()
    rss_first, peak_first = rss_mb(), peak_rss_mb()
    for i in range(1, steps + 1):
        if i > 1:
            loss = step()
        if not math.isfinite(loss):
            raise RuntimeError(f'the loss became {loss} at step {i}')
        if i in marks:
            curve.append([i, rss_mb()])
    return {'steps': steps, 'rssLoadedMb': rss_loaded, 'rssAfterFirstMb': rss_first, 'peakAfterFirstMb': peak_first,
            'rssEndMb': rss_mb(), 'peakRssMb': peak_rss_mb(), 'rssCurve': curve,
            'seconds': time.perf_counter() - t0, 'cpuSeconds': time.process_time() - cpu0, 'lastLoss': loss}, first


def read_safetensors(path):
    """Tensors (float32) and the metadata of a safetensors file."""
    with open(path, 'rb') as f:
        raw = f.read()
    (n,) = struct.unpack('<Q', raw[:8])
    header = json.loads(raw[8:8 + n].decode('utf-8'))
    metadata = header.pop('__metadata__', {})
    tensors = {}
    for name, e in header.items():
        if e['dtype'] != 'F32':
            raise ValueError(f'{path}: tensor {name} has dtype {e["dtype"]}, expected F32')
        begin, end = e['data_offsets']
        data = bytearray(raw[8 + n + begin:8 + n + end])
        t = torch.frombuffer(data, dtype=torch.float32) if data else torch.empty(0)
        tensors[name] = t.reshape(e['shape']).clone()
    return tensors, metadata


class Autoencoder(nn.Module):
    """apps/autoencoder's model with its default quantizer settings; parameter names match ours."""

    def __init__(self, config):
        super().__init__()
        h, c, m = config['hidden'], config['dim'], config['codebookSize']
        self.k = config['k']
        self.beta = config['commitment']
        self.lam = config['knnWeight']
        self.encoder = conv_encoder(h, c)
        self.quantizer = nn.Module()
        self.quantizer.codebook = nn.Parameter(torch.zeros(1, m, c))  # [G = 1, M, C]
        self.quantizer.register_buffer('logTemperature', torch.zeros(()))
        self.decoder = conv_decoder(c, h)

    def losses(self, x):
        """The loss and its parts (recon, commitment, knn) for a batch x [B, 1, 28, 28]."""
        b = x.shape[0]
        z = self.encoder(x)  # [B, C, 7, 7]
        c = z.shape[1]
        rows = z.permute(0, 2, 3, 1).reshape(-1, c)  # [N, C]
        e = self.quantizer.codebook[0]  # [M, C]
        d2 = rows.square().sum(-1, keepdim=True) - 2 * (rows @ e.T) + e.square().sum(-1).unsqueeze(0)
        logp = torch.log_softmax(-d2 / self.quantizer.logTemperature.exp(), dim=-1)  # [N, M]
        q = logp.exp() @ e  # [N, C]
        commitment = (rows - q.detach()).square().mean()
        knn = -logp.topk(self.k, dim=0).values.mean()  # the K nearest rows of each code (CE)
        x_hat = torch.sigmoid(self.decoder(q.reshape(b, 7, 7, c).permute(0, 3, 1, 2)))
        recon = (x_hat - x).square().mean()
        loss = recon + self.beta * commitment + self.lam * knn
        return loss, recon, commitment, knn


def rel_error(a, ref):
    """max |a - ref| / max |ref|."""
    a, ref = a.reshape(-1).double(), ref.reshape(-1).double()
    scale = ref.abs().max().item() if ref.numel() else 0.0
    err = (a - ref).abs().max().item() if ref.numel() else 0.0
    if math.isnan(err):
        return float('inf')
    return err / scale if scale > 0 else err


def worst(named, refs):
    err, name = 0.0, None
    for n, r in refs.items():
        e = rel_error(named[n], r)
        if name is None or e > err:
            err, name = e, n
    return err, name


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--inputs', required=True)
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--batch', type=int, default=16)
    ap.add_argument('--warmup', type=int, default=2)
    ap.add_argument('--steps', type=int, default=5)
    ap.add_argument('--min-seconds', type=float, default=0.0)
    ap.add_argument('--check', action='store_true')
    ap.add_argument('--knn-alone', action='store_true')
    ap.add_argument('--memory-steps', type=int)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    engine = f'torch-{args.threads}'
    report = {'engine': engine, 'describe': f'PyTorch {torch.__version__} (CPU), {torch.get_num_threads()} thread{"s" if torch.get_num_threads() > 1 else ""}',
              'batch': args.batch, 'error': None, 'timing': None, 'peakRssMb': None, 'firstLoss': None, 'check': None}
    try:
        tensors, meta = read_safetensors(args.inputs)
        config = json.loads(meta['config'])
        params = {k[len('param.'):]: v for k, v in tensors.items() if k.startswith('param.')}

        def build():
            model = Autoencoder(config)
            model.load_state_dict(params, strict=True)
            model.train()
            return model, torch.optim.Adam(model.parameters(), lr=config['lr'], betas=(0.9, 0.999), eps=1e-8)

        def step(model, opt, x):
            opt.zero_grad(set_to_none=True)
            loss, recon, commitment, knn = model.losses(x)
            loss.backward()
            opt.step()
            return loss.item(), recon.item(), commitment.item(), knn.item()

        if args.check:
            batch = int(meta['checkBatch'])
            report['batch'] = batch
            model, opt = build()
            loss, recon, commitment, knn = step(model, opt, tensors[f'x.{batch}'])
            named = dict(model.named_parameters())
            grad_err, grad_worst = worst({n: p.grad for n, p in named.items()},
                                         {n: tensors[f'ref.grad.{n}'] for n in named})
            after_err, after_worst = worst({n: p.detach() for n, p in named.items()},
                                           {n: tensors[f'ref.after.{n}'] for n in named})
            got = {'loss': loss, 'recon': recon, 'commitment': commitment, 'knn': knn}
            rel = {k: abs(v - float(meta[f'ref.{k}'])) / abs(float(meta[f'ref.{k}'])) for k, v in got.items()}
            report['check'] = {'loss': loss, 'recon': recon, 'commitment': commitment, 'knn': knn,
                               'lossRelErr': rel['loss'],
                               'partsRelErr': max(rel['recon'], rel['commitment'], rel['knn']),
                               'gradRelErr': grad_err, 'gradWorst': grad_worst,
                               'afterRelErr': after_err, 'afterWorst': after_worst, 'backwardError': None}
        elif args.memory_steps is not None:
            rss_loaded = rss_mb()  # torch imported and the inputs file read; no model yet
            model, opt = build()
            x = tensors[f'x.{args.batch}']
            report['memory'], report['firstLoss'] = memory_run(lambda: step(model, opt, x)[0], args.memory_steps, rss_loaded)
        else:
            model, opt = build()
            x = tensors[f'x.{args.batch}']
            report['timing'], report['firstLoss'] = time_steps(lambda: step(model, opt, x)[0], args.warmup, args.steps, args.min_seconds)
            if args.knn_alone:
                # The twin's KNN-CE term alone (Autoencoder.losses) on a random [N, M] matrix of
                # log-probabilities of the step's size: forward and backward.
                rows, codes = args.batch * 49, config['codebookSize']
                gen = torch.Generator().manual_seed(1)
                logp = torch.randn(rows, codes, generator=gen).log_softmax(-1).requires_grad_()

                def knn_step():
                    logp.grad = None
                    term = -logp.topk(model.k, dim=0).values.mean()
                    term.backward()
                    return term.item()

                timing, _ = time_steps(knn_step, args.warmup, args.steps, args.min_seconds)
                report['knn'] = {'rows': rows, 'codes': codes, 'timing': timing}
    except Exception as e:  # reported in the table, like the Node engines' errors
        report['error'] = f'{type(e).__name__}: {e}'.split('\n')[0]
    report['peakRssMb'] = peak_rss_mb()
    sys.stdout.write(RESULT_PREFIX + json.dumps(report) + '\n')


if __name__ == '__main__':
    main()
