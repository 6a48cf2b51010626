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
    torch_step.py --inputs FILE --threads N --batch B --warmup W --steps S [--min-seconds T]
        W warm-up steps, then at least S timed steps (more, up to 50, while under T seconds)
Peak memory is resource.getrusage(RUSAGE_SELF).ru_maxrss (KiB on Linux).
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
        else:
            model, opt = build()
            x = tensors[f'x.{args.batch}']
            first = None
            for _ in range(args.warmup):
                loss = step(model, opt, x)[0]
                first = loss if first is None else first
            samples = []
            cpu0 = time.process_time()  # CPU time of every thread of the process
            t0 = time.perf_counter()
            while len(samples) < args.steps or (len(samples) < 50 and time.perf_counter() - t0 < args.min_seconds):
                s = time.perf_counter()
                loss = step(model, opt, x)[0]
                samples.append((time.perf_counter() - s) * 1000)
                first = loss if first is None else first
                if not math.isfinite(loss):
                    raise RuntimeError(f'the loss became {loss}')
            cpu_ms = (time.process_time() - cpu0) * 1000 / len(samples)
            srt = sorted(samples)
            mid = len(srt) // 2
            med = srt[mid] if len(srt) % 2 else (srt[mid - 1] + srt[mid]) / 2
            report['timing'] = {'medianMs': med, 'minMs': srt[0], 'maxMs': srt[-1], 'runs': len(samples),
                                'warmupRuns': args.warmup, 'samplesMs': samples, 'cpuMsPerStep': cpu_ms}
            report['firstLoss'] = first
    except Exception as e:  # reported in the table, like the Node engines' errors
        report['error'] = f'{type(e).__name__}: {e}'.split('\n')[0]
    report['peakRssMb'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    sys.stdout.write(RESULT_PREFIX + json.dumps(report) + '\n')


if __name__ == '__main__':
    main()
