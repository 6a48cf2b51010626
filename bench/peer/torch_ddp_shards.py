#!/usr/bin/env python3
"""Per-process KNN under torchrun: PyTorch's side of the distributed check (bench/src/distributed).

    torchrun --nnodes=1 --nproc_per_node=2 bench/peer/torch_ddp_shards.py --inputs FILE --out FILE

(bench/src/distributed starts it as `<python> bench/peer/torchrun.py ...`, the same torchrun with a
repair for Debian 12's PyTorch 1.13 on Python 3.11; see that file.)

Two CPU processes, the gloo backend. The inputs file (written by simplex-vq, inputs.ts) holds, for
each method (knn-ce, knn-l2), the model's weights after simplex-vq's data initialization, and one
batch of B images. Each process (rank r of S = world size):

  1. builds the same model from the same weights (DistributedDataParallel broadcasts rank 0's at
     construction anyway: in a real run only rank 0 would need to read the file);
  2. takes its own part of the batch, images [r*B/S, (r+1)*B/S);
  3. computes the loss on that part ONLY: its KNN regularizer sees its own B/S * 49 rows and finds
     each code's K nearest among them, the per-GPU KNN of the paper;
  4. backward: DDP all-reduces the gradients, each becoming the MEAN over the processes.

How this equals simplex-vq's `shards: S` on the whole batch, term by term. simplex-vq's rows are
the B images' 7x7 grids one image after another, and its knnRegularizer splits the N = B*49 rows
into S equal consecutive parts: shard s is exactly rank s's images. Then, for the loss of the whole
batch in simplex-vq:
  - reconstruction mean((x^ - x)^2) over B*784 pixels and commitment mean((z - sg(q))^2) over
    B*49*C values: means over S equal parts, so each is the mean of the S per-part means;
  - KNN: simplex-vq takes the top-K of each shard, [S, K, M] values, and returns -mean of all of
    them; each shard contributes K*M of them, so this is the mean over shards of each shard's
    -mean over [K, M], which is what each rank's one-shard regularizer computes on its rows;
  - the groups' average (one group) and the weights beta, lambda are the same in every part.
So simplex-vq's loss = (1/S) sum_r loss_r, with loss_r the loss each rank computes on its own images,
and its gradient = (1/S) sum_r grad loss_r: DDP's average. The loss written here is combined the
same way: all_reduce(SUM) of each rank's [loss, recon, commitment, knn], divided by S. (Were the
parts of unequal size, neither the means nor DDP's average would match; simplex-vq refuses
unequal shards, and this script refuses a batch that does not split evenly.)

For each method, every run below is one DDP step; the `f32` run is the one compared with
simplex-vq's float32 step, `f64` with its float64 step, and the others are PyTorch's own rounding
variants, which measure how far rounding alone moves PyTorch's result (the rule: check.ts of the
trajectory check, reused in bench/src/distributed/rule.ts):

  f64, f32          the weights (float32 values) and the batch, in float64 / float32
  f64-perm, f32-perm  each rank's images in another order: the same rows in each rank, so the same
                    math (each term is a mean or a top-K over rows), other orders of the additions
  f64-ulp, f32-ulp  every weight moved by one unit in the last place (up or down at random)

and, on rank 0 alone, in one process on the whole batch without DDP (float64):

  single-s2         the twin with shards = 2 in-process: the same function as the DDP runs
  single-s1         shards = 1, the KNN over all B*49 rows: a different loss (the test checks it
                    is, so that agreeing on the sharded loss says something)

Rank 0 writes to --out (safetensors, F64): `<method>/<run>/grad.<name>` for every parameter, and in
the metadata `losses` (JSON {method: {run: {loss, recon, commitment, knn}}}) and the setting; then
prints `DDP-RESULT <out>` on stdout. Progress on stderr.

On GPUs the same script runs with the NCCL backend and one process per GPU: init_process_group
('nccl'), torch.cuda.set_device(local_rank), the model and each rank's images .cuda(local_rank),
DistributedDataParallel(model, device_ids=[local_rank]), and `torchrun --nproc_per_node=<GPUs>`
(`--nnodes`, `--rdzv_endpoint` for several machines). The KNN stays per process, so per GPU.
"""
import argparse
import json
import os
import sys
import time

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from ddp_twin import build, write_safetensors
from torch_trajectory import nudge, read_safetensors

RESULT_PREFIX = 'DDP-RESULT '
# (name, dtype, permute each rank's images, nudge the weights by one ulp)
PLAN = [
    ('f64', torch.float64, False, False),
    ('f64-perm', torch.float64, True, False),
    ('f64-ulp', torch.float64, False, True),
    ('f32', torch.float32, False, False),
    ('f32-perm', torch.float32, True, False),
    ('f32-ulp', torch.float32, False, True),
]


def progress(rank, msg):
    sys.stderr.write(f'[distributed/torch rank {rank}] {msg}\n')
    sys.stderr.flush()


def parts_of(out):
    """(loss, recon, commitment, knn) as one tensor, for a single all_reduce."""
    return torch.stack([t.detach() for t in out[:4]])


def record(parts):
    loss, recon, commitment, knn = (float(v) for v in parts)
    return {'loss': loss, 'recon': recon, 'commitment': commitment, 'knn': knn}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--inputs', required=True)
    ap.add_argument('--out', required=True)
    args = ap.parse_args()

    # torchrun sets RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT; on GPUs: 'nccl' (see above).
    dist.init_process_group('gloo')
    rank, world = dist.get_rank(), dist.get_world_size()
    torch.set_num_threads(1)
    t0 = time.perf_counter()

    tensors, meta = read_safetensors(args.inputs)
    config = json.loads(meta['config'])
    if config['shards'] != world:
        raise SystemExit(f'the inputs are for shards = {config["shards"]}, but {world} processes run: start torchrun with --nproc_per_node={config["shards"]}')
    batch = tensors['batch']
    b = batch.shape[0]
    if b % world != 0:
        raise SystemExit(f'a batch of {b} images does not split into {world} equal parts')
    part = b // world
    mine = batch[rank * part:(rank + 1) * part]  # this process's images: shard `rank` of simplex-vq's rows

    losses, grads = {}, {}
    for method in config['methods']:
        prefix = f'{method}.'
        state = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
        losses[method] = {}
        for name, dtype, permute, ulp in PLAN:
            # One shard per process: the rows this process sees are its shard.
            model = build(config, method, 1, state, dtype)
            if ulp:
                nudge(model, 9000)  # the same seed on every rank: the same nudged weights
            ddp = DistributedDataParallel(model)
            x = mine.to(dtype)
            if permute:
                x = x[torch.randperm(part, generator=torch.Generator().manual_seed(8000 + rank))]
            out = ddp(x)
            out[0].backward()  # DDP: each gradient becomes the mean over the processes
            parts = parts_of(out)
            dist.all_reduce(parts)  # sum over the processes ...
            parts /= world  # ... divided by S: the mean, as simplex-vq's loss combines its shards
            if rank == 0:
                losses[method][name] = record(parts)
                for n, p in model.named_parameters():
                    grads[f'{method}/{name}/grad.{n}'] = p.grad.double()
        if rank == 0:
            for shards in (world, 1):
                model = build(config, method, shards, state, torch.float64)
                out = model(batch.double())
                out[0].backward()
                name = f'single-s{shards}'
                losses[method][name] = record(parts_of(out))
                for n, p in model.named_parameters():
                    grads[f'{method}/{name}/grad.{n}'] = p.grad.double()
        progress(rank, f'{method}: {len(PLAN)} DDP steps on {part} of {b} images{" and 2 single-process steps" if rank == 0 else ""}')

    if rank == 0:
        write_safetensors(args.out, grads, {
            'losses': json.dumps(losses),
            'torch': torch.__version__,
            'backend': dist.get_backend(),
            'world': str(world),
            'seconds': f'{time.perf_counter() - t0:.3f}',
            'omp_num_threads': os.environ.get('OMP_NUM_THREADS', ''),
        })
        sys.stdout.write(RESULT_PREFIX + args.out + '\n')
        sys.stdout.flush()
    dist.barrier()
    dist.destroy_process_group()


if __name__ == '__main__':
    main()
