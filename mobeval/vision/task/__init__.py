"""Image classification: items, preprocessing as data, image decoding and scoring from logits."""
