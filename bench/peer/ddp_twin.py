"""The twin of the distributed check and of the checkpoint round trip (bench/src/distributed).

apps/autoencoder's model with packages/vq's SmoothedQuantizer (distance logits, one group) and the
KNN regularizer, CE or L2, K neighbours per vertex in each of S shards:

    x [B,1,28,28] -> conv encoder -> z [B,C,7,7] -> rows [B*49, C]   (image by image, row-major 7x7)
    logits = (z.E^T) * (2 * (1/tau)) - |E|^2 / tau                    (SmoothedQuantizer.shiftedLogits)
    log p = log_softmax(logits);  training: q = p E;  eval: q = E[argmax logits]
    commitment = mean((z - sg(q))^2)
    knn: score = log p (CE) or 2p - |p|^2 - 1 (L2, in that order); reshape [S, N/S, M];
         the top-K rows of each column within each shard; knn = -mean over [S, K, M]
    loss = mean((x^ - x)^2) + (commitment * beta + knn * lambda)

State-dict names, shapes and dtypes are simplex-vq's, buffers included (quantizer.initialized, a
float32 flag, and quantizer.logTemperature), so load_state_dict(strict=True) takes the model
tensors of a simplex-vq checkpoint as they are and state_dict() gives the same set back.

Also here: write_safetensors, the writer to go with torch_trajectory.read_safetensors (F32, F64, I32;
no `safetensors` package needed).
"""
import json
import struct

import torch
from torch import nn

from ae_layers import conv_decoder, conv_encoder

DTYPE_NAMES = {torch.float32: 'F32', torch.float64: 'F64', torch.int32: 'I32'}


class KnnQuantizer(nn.Module):
    """packages/vq SmoothedQuantizer with the KNN regularizer (methods knn-ce and knn-l2)."""

    def __init__(self, q, shards):
        super().__init__()
        if q['distance'] not in ('ce', 'l2'):
            raise ValueError(f'distance must be ce or l2, got {q["distance"]}')
        self.beta = q['commitment']
        self.k = q['k']
        self.lam = q['knnWeight']
        self.distance = q['distance']
        self.shards = shards
        self.codebook = nn.Parameter(torch.zeros(1, q['codebookSize'], q['dim']))  # [G = 1, M, C]
        # 1 once the codebook was set from data (simplex-vq's k-means init); kept so the state dict is simplex-vq's.
        self.register_buffer('initialized', torch.zeros(()))
        self.register_buffer('logTemperature', torch.zeros(()))

    def logits(self, z):
        e = self.codebook[0]
        tau = self.logTemperature.exp()
        return (z @ e.T) * (tau.reciprocal() * 2) - e.square().sum(-1).unsqueeze(0) / tau

    def knn(self, logp):
        """L_KNN of the rows' log-probabilities [N, M], top-K within each of the S shards."""
        if self.distance == 'ce':
            score = logp
        else:
            p = logp.exp()
            score = p * 2 - p.square().sum(1, keepdim=True) - 1
        n, m = score.shape
        if n % self.shards != 0:
            raise ValueError(f'{n} rows cannot be split into {self.shards} equal shards')
        return -score.reshape(self.shards, n // self.shards, m).topk(self.k, dim=1).values.mean()

    def forward(self, z):
        """Training: (q, commitment, knn). Evaluation: (the nearest codes E[argmax], indices)."""
        logits = self.logits(z)
        if not self.training:
            idx = logits.argmax(-1)
            return self.codebook[0][idx], idx
        logp = torch.log_softmax(logits, dim=-1)
        q = logp.exp() @ self.codebook[0]
        commitment = (z - q.detach()).square().mean()
        return q, commitment, self.knn(logp)


class Autoencoder(nn.Module):
    """apps/autoencoder's Autoencoder; `config` holds the sizes and the quantizer's constants."""

    def __init__(self, config, method, shards):
        super().__init__()
        h, c = config['hidden'], config['dim']
        self.encoder = conv_encoder(h, c)
        self.quantizer = KnnQuantizer(config['quantizers'][method], shards)
        self.decoder = conv_decoder(c, h)

    def _rows(self, x):
        z = self.encoder(x)  # [B, C, 7, 7]
        return z.permute(0, 2, 3, 1).reshape(-1, z.shape[1]), z.shape

    def _decode(self, q, shape):
        b, c, hh, ww = shape
        return torch.sigmoid(self.decoder(q.reshape(b, hh, ww, c).permute(0, 3, 1, 2)))

    def forward(self, x):
        """Training: (loss, recon, commitment, knn, reconstruction)."""
        rows, shape = self._rows(x)
        q, commitment, knn = self.quantizer(rows)
        x_hat = self._decode(q, shape)
        recon = (x_hat - x).square().mean()
        q_loss = commitment * self.quantizer.beta + knn * self.quantizer.lam
        return recon + q_loss, recon, commitment, knn, x_hat

    @torch.no_grad()
    def codes(self, x):
        """Evaluation: the code of each row [B*49] and the hard reconstruction."""
        was = self.training
        self.eval()
        rows, shape = self._rows(x)
        q, idx = self.quantizer(rows)
        x_hat = self._decode(q, shape)
        self.train(was)
        return idx, x_hat


def build(config, method, shards, state, dtype=torch.float32):
    """The twin with simplex-vq's weights: every tensor of `state` must be one of the model's, and all there."""
    model = Autoencoder(config, method, shards)
    model.load_state_dict(state, strict=True)
    return model.to(dtype).train()


def write_safetensors(path, tensors, metadata=None):
    """Writes a safetensors file: tensors in name order, header padded with spaces to 8 bytes (as packages/nn writes)."""
    names = sorted(tensors)
    header = {}
    if metadata:
        header['__metadata__'] = {k: str(v) for k, v in metadata.items()}
    chunks, offset = [], 0
    for name in names:
        t = tensors[name].detach().contiguous().cpu()
        if t.dtype not in DTYPE_NAMES:
            raise ValueError(f'{name}: dtype {t.dtype} cannot be written (F32, F64, I32)')
        raw = t.numpy().astype(t.numpy().dtype.newbyteorder('<'), copy=False).tobytes()
        header[name] = {'dtype': DTYPE_NAMES[t.dtype], 'shape': list(t.shape), 'data_offsets': [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(',', ':')).encode('utf-8')
    text += b' ' * (-len(text) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(text)))
        f.write(text)
        for raw in chunks:
            f.write(raw)
