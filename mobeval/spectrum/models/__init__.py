"""Spectrum segmentation nets (architectures only; no weights ship until they are trained).

`complex_layers`: complex convolution, complex batch norm, CReLU on torch's native complex tensors.
`resnet`: the CMuSeNet-style complex ResNet-18 segmenter and its real-valued counterpart.
"""
