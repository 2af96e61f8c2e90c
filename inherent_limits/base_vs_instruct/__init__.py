"""Second study: base vs instruction-tuned models on math and domain-shifted benchmarks (arXiv 2601.13244)."""
