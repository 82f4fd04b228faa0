"""The tiny DinoSR configuration of the performance-path tests (CPU-fast, every code path;
dropout off unless a test turns it on, so that reference comparisons are deterministic)."""

TINY = dict(
    conv_layers=[(32, 10, 5), (32, 3, 2), (32, 2, 2)],
    embed_dim=32, ffn_dim=64, num_heads=4, num_layers=3,
    pos_conv_depth=2, pos_conv_kernel=5, pos_conv_groups=4,
    num_codebooks=2, codebook_size=8, mask_length=3,
    dropout=0.0, attention_dropout=0.0, layerdrop=0.0,
)
