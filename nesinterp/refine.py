"""Codes refined by the decoder: a few gradient steps on the encoder's code of a window, towards the
code from which the decoder reconstructs that window best.

An encoder is trained to give, in one pass, a code the decoder can read, and it falls short of the best
one: on NES-MDB's valid split the bundled model's decoder reconstructs 20 steps of Adam from the
encoder's code far better than the code itself (pitch accuracy on sounding frames .73 -> .81 for P1,
.66 -> .75 for the triangle; the "amortization gap" of semi-amortized inference). The model, its code
size and its latent space stay as they are: only the code of each input is searched, starting from the
encoder's, so blends start and end nearer their songs. Interpolation then runs between refined codes.

The objective is the decoder's cross-entropy of the input: every voice's note and its onset flag with
equal weight, and the volume and timbre at a sixteenth of it. Chosen on the valid split (384 windows,
20 steps): weighting the onset flags a quarter as much (0.5 : 4 over the four voices) gave onset F1 (+-1)
.581/.563/.567/.875, equal weight .604/.593/.593/.898 with sounding pitch .836/.817/.760/.657, twice
that .613/.603/.597/.910 but noise pitch .619 against .657; volume and timbre at a quarter cost .005-.01
of pitch, at 0 nothing. Adam's steps do not depend on the loss's overall scale. Its step size, on 764
valid windows at 40 steps (decoding calibrated for each): 0.02 gave onset F1 .618/.607/.634/.901 and
sounding pitch .850/.827/.797/.723; 0.05 .629/.618/.647/.902, .852/.837/.806/.741; 0.08
.633/.621/.647/.903, .860/.839/.807/.745; 0.12 about the same, 0.2 a little less; cosine decay did not
help. 20 steps at 0.08 score as 40 at 0.02.

One code cannot serve both: weighting the expression as much as the notes halves the volume error but
costs pitch (at 1/4: the triangle's pitch .797 -> .790, the noise's .757 -> .729). A model with
``expression_codes`` therefore refines a second code per window from the same start for the volume and
timbre heads alone (``objective="expression"``) and reads those heads from it, the notes and onsets
from the first: twice the refinement, and two codes (2 x latent_dim numbers) per window. On 384 valid
windows of the bundled model that took the volume error (mean |difference| of 15 where the note is
right) from 3.6 / 3.6 / 3.6 to 1.7 / 1.8 / 2.6 (P1 / P2 / NO), the correlation of a window's loudness
with its song's from 0.5 to 0.93, and the duty cycle right on sounding frames from .71 / .57 to
.97 / .95, the notes untouched.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

REFINE_STEPS = 40  # what the bundled model is calibrated for and nesinterp calibrate chooses for
REFINE_LR = 0.08  # Adam's step on the code (the codes' entries are about unit size); chosen on valid
ONSET_WEIGHT = 4.0  # the four voices' onset flags, averaged, weigh as much as the four notes, summed
EXPRESSION_WEIGHT = 1 / 16
ADAM_BETAS, ADAM_EPS = (0.9, 0.999), 1e-8


BF16_MIN_WINDOWS = 64  # fewer windows refine faster in fp32: bf16's kernels cost more to set up than they save


def bf16_refinement(device: torch.device, windows: int = BF16_MIN_WINDOWS) -> bool:
    """Refine ``windows`` windows under bf16 autocast? On CPUs with native bf16 (AVX512-BF16, AMX), for
    BF16_MIN_WINDOWS and more: it halves the time of eval's batches of 256 and, measured on 128 valid
    windows of the bundled model, moves onset F1 (+-1) and sounding pitch by under 0.001; a blend's two
    windows took longer in bf16 from a cold start (model stage 3.7-4.1 s against 2.8-3.1 s). Elsewhere
    (older CPUs, GPUs, where fp32 is fast anyway) fp32."""
    if device.type != "cpu" or windows < BF16_MIN_WINDOWS:
        return False
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def refinement_loss(rep, logits: torch.Tensor, targets: dict, objective: str = "notes") -> torch.Tensor:
    """Per item (B,): the decoder's cross-entropy of ``targets`` (``rep.targets`` of the windows) under
    ``logits`` (B, channels, T), each head averaged over frames: ``objective`` "notes" weighs the notes
    and onsets (the expression at EXPRESSION_WEIGHT), "expression" only volume and timbre."""
    heads = rep.split_logits(logits.float())
    if objective == "expression":
        return _expression_loss(heads, targets)
    loss = sum(F.cross_entropy(heads["notes"][v], targets["notes"][:, v], reduction="none").mean(dim=1)
               for v in range(4))
    if rep.onsets:
        loss = loss + ONSET_WEIGHT * F.binary_cross_entropy_with_logits(
            heads["onsets"], targets["onsets"].float(), reduction="none").mean(dim=(1, 2))
    if rep.expressive:
        loss = loss + EXPRESSION_WEIGHT * _expression_loss(heads, targets)
    return loss


def _expression_loss(heads: dict, targets: dict) -> torch.Tensor:
    volume = sum(F.cross_entropy(h, targets["velocity"][:, i], reduction="none").mean(dim=1)
                 for i, h in enumerate(heads["velocity"]))
    return volume + sum(F.cross_entropy(h, targets["timbre"][:, v], reduction="none").mean(dim=1)
                        for v, h in enumerate(heads["timbre"]))


def refine_codes(decode: Callable[[torch.Tensor], torch.Tensor], rep, codes: torch.Tensor, windows: torch.Tensor,
                 steps: int = REFINE_STEPS, lr: float = REFINE_LR, objective: str = "notes") -> torch.Tensor:
    """``codes`` after ``steps`` Adam steps of ``lr`` on ``refinement_loss`` (``objective``) of ``windows``
    (uint8 (B, T, 4, 3), on the codes' device) decoded by ``decode`` (codes -> logits (B, channels, T)).
    Items are independent: each one's loss is summed, so its step does not depend on the others in the
    batch. The decoder's weights are not changed (nor their gradients kept)."""
    if steps <= 0:
        return codes
    targets = rep.targets(windows)
    z = codes.detach().clone()
    # Adam (torch.optim.Adam's update, written out: constructing that optimizer imports torch._dynamo,
    # 1.5-3.5 s on a blend's first refinement)
    m, v = torch.zeros_like(z), torch.zeros_like(z)
    with torch.enable_grad():
        for t in range(1, steps + 1):
            z.requires_grad_(True)
            (grad,) = torch.autograd.grad(refinement_loss(rep, decode(z), targets, objective).sum(), [z])
            z = z.detach()
            m.mul_(ADAM_BETAS[0]).add_(grad, alpha=1 - ADAM_BETAS[0])
            v.mul_(ADAM_BETAS[1]).addcmul_(grad, grad, value=1 - ADAM_BETAS[1])
            step = lr / (1 - ADAM_BETAS[0] ** t)
            z.addcdiv_(m, (v / (1 - ADAM_BETAS[1] ** t)).sqrt_().add_(ADAM_EPS), value=-step)
    return z
