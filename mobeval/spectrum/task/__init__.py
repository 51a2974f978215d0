"""The spectrum-segmentation task kind: an IQ capture in, one occupancy score per FFT bin out.

`items` holds the typed capture and its true signals, `features` the model input and the bin mask,
`metrics` the per-bin and per-signal figures per SNR level.
"""
