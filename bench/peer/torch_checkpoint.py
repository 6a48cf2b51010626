#!/usr/bin/env python3
"""A simplex-vq checkpoint in PyTorch and back: the checkpoint round trip (bench/src/distributed).

    torch_checkpoint.py --checkpoint A --batch FILE --out RESULTS --state-dict C --save B

A is a checkpoint that simplex-vq saved (packages/nn serializeCheckpoint: a safetensors file; the
model's state dict under its own names, Adam's moments as optimizer.state.<i>.expAvg/expAvgSq, and
in the metadata format, step, config, optimizer, rng; the test adds parameterNames, the names of
parameter indices 0, 1, ...). It is read by hand (torch_trajectory.read_safetensors): Debian's
PyTorch has no `safetensors` package, and none is needed. Here:

  1. the model tensors go into the twin (ddp_twin.py) with load_state_dict(strict=True): names,
     shapes and dtypes are simplex-vq's, so nothing is renamed or transposed;
  2. C: the twin's state_dict() as it is, written back at once (a plain state-dict file, as
     safetensors.torch.save_file would write it): simplex-vq must read back the same bits;
  3. Adam's state (step count, exp_avg = expAvg, exp_avg_sq = expAvgSq) goes into torch.optim.Adam
     with the checkpoint's lr, betas and eps: the run resumes in PyTorch;
  4. on the batch in FILE (tensor `batch`): the training-mode loss and its parts, the reconstruction,
     and the codes of the evaluation mode (`before`); one Adam step (`step`: the weights and
     moments after it); the same outputs from the weights after the step (`after`);
  5. B: a simplex-vq checkpoint of the resumed run, the twin's state_dict() and Adam's state under
     simplex-vq's names, step + 1, and the metadata PyTorch does not use (config, rng: the states of
     simplex-vq's generators) passed through unchanged, so loadCheckpoint restores model and Adam.

Each result of 4 also comes as PyTorch's own rounding variants, which the comparison's tolerance
is made of (bench/src/distributed/rule.ts): `f32` (the one saved in B and compared), `f64` (the
same from the float32 weights and moments in float64) and `f32-ulp` (every weight moved by one ulp
first). `after` is computed from B's float32 weights in all three variants.

RESULTS (safetensors, F64 and I32): <stage>/<variant>/<name>, stage before|step|after; metadata
`scalars`, JSON {stage: {variant: {loss, recon, commitment, knn}}}. Prints `CHECKPOINT-RESULT
RESULTS` on stdout.
"""
import argparse
import json
import sys

import torch

from ddp_twin import build, write_safetensors
from torch_trajectory import nudge, read_safetensors

RESULT_PREFIX = 'CHECKPOINT-RESULT '
FORMAT = 'simplex-vq.checkpoint/1'
OPT = 'optimizer.state.'
VARIANTS = (('f32', torch.float32, False), ('f64', torch.float64, False), ('f32-ulp', torch.float32, True))


def outputs(model, x):
    """Training-mode loss parts and reconstruction (no gradient), evaluation-mode codes."""
    with torch.no_grad():
        loss, recon, commitment, knn, x_hat = model(x)
    codes, _ = model.codes(x)
    return {'loss': loss.item(), 'recon': recon.item(), 'commitment': commitment.item(), 'knn': knn.item()}, {'reconstruction': x_hat.double(), 'codes': codes.int()}


def adam_for(model, names, group, moments, dtype):
    """torch.optim.Adam over the parameters in simplex-vq's order, resumed from its moments."""
    params = dict(model.named_parameters())
    if sorted(params) != sorted(names):
        raise ValueError(f'the checkpoint names parameters {names}, the twin has {list(params)}')
    if group.get('weightDecay', 0) != 0 or group.get('amsgrad', False):
        raise ValueError('the round trip covers Adam without weight decay or amsgrad')
    opt = torch.optim.Adam([params[n] for n in names], lr=group['lr'], betas=tuple(group['betas']), eps=group['eps'])
    # Optimizer state is keyed by the parameter's index in the group, as in simplex-vq's stateDict;
    # PyTorch 1.13 keeps the step count as a float tensor. The hyperparameters are those set above.
    state = {}
    for i in range(len(names)):
        if i in moments:
            step, m, v = moments[i]
            state[i] = {'step': torch.tensor(float(step)), 'exp_avg': m.to(dtype).clone(), 'exp_avg_sq': v.to(dtype).clone()}
    opt.load_state_dict({'state': state, 'param_groups': opt.state_dict()['param_groups']})
    return opt


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--checkpoint', required=True)
    ap.add_argument('--batch', required=True)
    ap.add_argument('--out', required=True)
    ap.add_argument('--state-dict', required=True)
    ap.add_argument('--save', required=True)
    args = ap.parse_args()
    torch.set_num_threads(1)

    tensors, meta = read_safetensors(args.checkpoint)
    if meta.get('format') != FORMAT:
        raise SystemExit(f'{args.checkpoint}: not a simplex-vq checkpoint (format {meta.get("format")!r})')
    config = json.loads(meta['config'])
    method = config['methods'][0]
    state = {k: v for k, v in tensors.items() if not k.startswith(OPT)}
    names = json.loads(meta['parameterNames'])
    optimizer = json.loads(meta['optimizer'])
    if optimizer['type'] != 'Adam' or len(optimizer['paramGroups']) != 1:
        raise SystemExit(f'the round trip covers one Adam parameter group, got {optimizer["type"]} with {len(optimizer["paramGroups"])}')
    group = optimizer['paramGroups'][0]
    steps = {int(i): s['step'] for i, s in optimizer['scalars'].items()}
    moments = {i: (steps[i], tensors[f'{OPT}{i}.expAvg'], tensors[f'{OPT}{i}.expAvgSq']) for i in steps}
    x = read_safetensors(args.batch)[0]['batch']

    # 2. The state dict straight back: what PyTorch holds after loading is what simplex-vq saved.
    model = build(config, method, config['shards'], state)
    write_safetensors(args.state_dict, model.state_dict(), {'writtenBy': f'PyTorch {torch.__version__} state_dict()'})

    results, scalars = {}, {'before': {}, 'after': {}}

    def keep(stage, variant, named):
        for k, v in named.items():
            results[f'{stage}/{variant}/{k}'] = v

    # 3-4. Resume: outputs, one Adam step, in each variant.
    stepped = None
    for variant, dtype, ulp in VARIANTS:
        model = build(config, method, config['shards'], state, dtype)
        if ulp:
            nudge(model, 9100)
        opt = adam_for(model, names, group, moments, dtype)
        s, t = outputs(model, x.to(dtype))
        scalars['before'][variant] = s
        keep('before', variant, t)
        opt.zero_grad(set_to_none=True)
        model(x.to(dtype))[0].backward()
        opt.step()
        params = dict(model.named_parameters())
        for n in names:
            st = opt.state[params[n]]
            keep('step', variant, {f'param.{n}': params[n].detach().double(), f'expAvg.{n}': st['exp_avg'].double(), f'expAvgSq.{n}': st['exp_avg_sq'].double()})
        if variant == 'f32':
            stepped = (model, opt)

    # B: the resumed run's checkpoint, in simplex-vq's format.
    model, opt = stepped
    params = dict(model.named_parameters())
    out_tensors = dict(model.state_dict())
    scalars_b = {}
    for i, n in enumerate(names):
        st = opt.state[params[n]]
        out_tensors[f'{OPT}{i}.expAvg'] = st['exp_avg']
        out_tensors[f'{OPT}{i}.expAvgSq'] = st['exp_avg_sq']
        scalars_b[str(i)] = {'step': int(st['step'].item())}
    write_safetensors(args.save, out_tensors, {
        'format': FORMAT,
        'step': str(int(meta.get('step', '0')) + 1),
        'config': meta['config'],
        'rng': meta['rng'],  # simplex-vq's generators: unused by PyTorch, passed through
        'parameterNames': meta['parameterNames'],
        'optimizer': json.dumps({'type': 'Adam', 'paramGroups': optimizer['paramGroups'], 'scalars': scalars_b}),
        'writtenBy': f'PyTorch {torch.__version__} (bench/peer/torch_checkpoint.py)',
    })

    # The outputs of B's float32 weights, and their variants.
    b_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    for variant, dtype, ulp in VARIANTS:
        m = build(config, method, config['shards'], b_state, dtype)
        if ulp:
            nudge(m, 9200)
        s, t = outputs(m, x.to(dtype))
        scalars['after'][variant] = s
        keep('after', variant, t)

    write_safetensors(args.out, results, {'scalars': json.dumps(scalars), 'torch': torch.__version__})
    sys.stdout.write(RESULT_PREFIX + args.out + '\n')


if __name__ == '__main__':
    main()
