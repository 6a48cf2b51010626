"""The autoencoder's convolutional encoder and decoder (apps/autoencoder/src/model.ts) in PyTorch,
shared by the peer benchmark (torch_step.py) and the trajectory check (torch_trajectory.py). The
module names match simplex-vq's state dict (encoder.0, encoder.2, encoder.4, decoder.0, ...)."""
from torch import nn


def conv_encoder(h, c):
    """28×28 digit → conv 4×4/2 → ReLU → conv 4×4/2 → ReLU → conv 1×1 → [B, c, 7, 7]."""
    return nn.Sequential(
        nn.Conv2d(1, h, 4, stride=2, padding=1), nn.ReLU(),
        nn.Conv2d(h, h, 4, stride=2, padding=1), nn.ReLU(),
        nn.Conv2d(h, c, 1),
    )


def conv_decoder(c, h):
    """[B, c, 7, 7] → conv 3×3 → ReLU → convT 4×4/2 → ReLU → convT 4×4/2 → logits [B, 1, 28, 28]."""
    return nn.Sequential(
        nn.Conv2d(c, h, 3, padding=1), nn.ReLU(),
        nn.ConvTranspose2d(h, h, 4, stride=2, padding=1), nn.ReLU(),
        nn.ConvTranspose2d(h, 1, 4, stride=2, padding=1),
    )
