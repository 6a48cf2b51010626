#!/usr/bin/env python3
"""`torchrun`, started through the python that imports torch, with one repair for Debian 12.

    python3 bench/peer/torchrun.py --nnodes=1 --nproc_per_node=2 --master_port=PORT SCRIPT.py ARGS...

is `torchrun --nnodes=1 --nproc_per_node=2 --master_port=PORT SCRIPT.py ARGS...` (torchrun is
torch.distributed.run:main; this calls the same main). bench/src/distributed starts it this way,
rather than the `torchrun` on PATH, so that the launcher and its workers are the interpreter that
findTorch() found (BENCH_TORCH_PYTHON, python3 or /usr/bin/python3: on this machine `python3` is a
pyenv python without torch, and /usr/bin/torchrun belongs to /usr/bin/python3.11).

The repair: Debian 12 ships PyTorch 1.13 with Python 3.11, and there torchrun fails before it
starts a worker (AttributeError: 'NoneType' object has no attribute 'get', in to_map). Its
Std.from_str turns the --redirects and --tee values into flags by iterating over the Std flag
class, and since Python 3.11 iterating over a Flag yields only its single-bit members: the values
0 (NONE, the default of both options) and 3 (ALL) are never found and come back as None. The
replacement below builds the flag with Std(value), which finds every value on any Python. It is
installed only when the bug is there (Std.from_str('0') is None), so on a newer PyTorch this file
is plain torchrun.
"""
import re

from torch.distributed import run
from torch.distributed.elastic.multiprocessing import api


def _from_str(cls, vm):
    """'0'..'3' -> a Std flag; '0:3,1:0' -> {local rank: Std flag}; as the original, found by value."""
    if re.match(api._VALUE_REGEX, vm):
        return cls(int(vm))
    if re.match(api._MAPPING_REGEX, vm):
        return {int(rank): cls(int(v)) for rank, v in (item.split(':') for item in vm.split(','))}
    raise ValueError(f'{vm} does not match: <{api._VALUE_REGEX}> or <{api._MAPPING_REGEX}>')


if api.Std.from_str('0') is None:
    api.Std.from_str = classmethod(_from_str)

if __name__ == '__main__':
    run.main()
