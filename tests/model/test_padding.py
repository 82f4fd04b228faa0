"""Padding invariance: a padded batch equals each utterance alone on its valid frames."""
import torch

LENGTHS = [1600, 1130, 700]


def padded_batch(seed=0):
    g = torch.Generator().manual_seed(seed)
    utts = [torch.randn(n, generator=g) for n in LENGTHS]
    source = torch.randn(len(utts), max(LENGTHS), generator=g)  # noise in the padding
    pad = torch.ones(len(utts), max(LENGTHS), dtype=torch.bool)
    for i, u in enumerate(utts):
        source[i, : len(u)] = u
        pad[i, : len(u)] = False
    return utts, source, pad


def test_extract_padded_batch_matches_single_utterances(tiny_model):
    model = tiny_model().eval()
    utts, source, pad = padded_batch()
    batch = model.extract(source, pad)
    frames = [model.cfg.num_frames(n) for n in LENGTHS]
    assert (~batch.frame_padding_mask).sum(1).tolist() == frames
    for i, (u, t) in enumerate(zip(utts, frames)):
        alone = model.extract(u.unsqueeze(0))
        assert alone.hidden_states[0].shape[1] == t
        for hb, ha in zip(batch.hidden_states, alone.hidden_states):
            assert torch.allclose(hb[i, :t], ha[0], atol=1e-5)
        assert torch.equal(batch.codeword_indices[:, i, :t], alone.codeword_indices[:, 0])
        assert (batch.codeword_indices[:, i, t:] == -1).all()
        assert torch.allclose(batch.head_probs[:, i, :t], alone.head_probs[:, 0], atol=1e-5)


def test_padded_loss_sum_is_sum_of_single_losses(tiny_model):
    model = tiny_model().eval()
    utts, source, pad = padded_batch(seed=1)
    t_max = model.cfg.num_frames(max(LENGTHS))
    mask = torch.zeros(len(utts), t_max, dtype=torch.bool)
    mask[:, ::3] = True
    out = model(source, pad, mask_indices=mask)
    frames = [model.cfg.num_frames(n) for n in LENGTHS]
    assert int(out.num_masked) == sum(int(mask[i, :t].sum()) for i, t in enumerate(frames))
    singles = [model(u.unsqueeze(0), mask_indices=mask[i : i + 1, :t]).loss_sum
               for i, (u, t) in enumerate(zip(utts, frames))]
    assert torch.allclose(out.loss_sum, torch.stack(singles).sum(), atol=1e-4)


def test_padded_frames_are_never_masked(tiny_model):
    model = tiny_model().train()
    _, source, pad = padded_batch(seed=2)
    frames = [model.cfg.num_frames(n) for n in LENGTHS]
    everything = torch.ones(len(LENGTHS), max(frames), dtype=torch.bool)
    assert int(model(source, pad, mask_indices=everything).num_masked) == sum(frames)
    out = model(source, pad)  # random spans drawn from each row's own length
    assert 0 < int(out.num_masked) < sum(frames) and torch.isfinite(out.loss)
