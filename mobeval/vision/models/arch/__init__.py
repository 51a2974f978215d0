"""Vision architectures implemented in the project (not available from timm): MobileViG."""

from mobeval.vision.models.arch.mobilevig import (CONFIGS, MobileViG, MobileViGConfig, mobilevig_b, mobilevig_digits,
                                                  mobilevig_m, mobilevig_s, mobilevig_ti, param_count, svga_aggregate)

__all__ = ["CONFIGS", "MobileViG", "MobileViGConfig", "mobilevig_b", "mobilevig_digits", "mobilevig_m", "mobilevig_s",
           "mobilevig_ti", "param_count", "svga_aggregate"]
